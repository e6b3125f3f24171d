"""``make demo`` from a shell: a busy port is said at once, before any password is printed."""

from __future__ import annotations

import socket
import subprocess
import sys


def test_a_busy_port_is_one_line_and_exit_2_before_any_password() -> None:
    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "skypanel_hubspot_plugin.demo", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 2
    assert done.stdout == ""  # no address, no password, no fake token
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1
    assert f"port {port} on 127.0.0.1 is already in use" in lines[0] and "--port" in lines[0]
