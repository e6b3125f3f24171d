"""``make demo`` from a shell: a busy port is said at once, before any password is printed;
"Press Ctrl-C" once the panel answers."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from pathlib import Path

from sqlalchemy import create_engine

from skypanel_hubspot_plugin import migrations


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


def test_press_ctrl_c_is_said_once_the_panel_and_the_plugin_are_ready(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a free port for the demo
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    options = ["--port", str(port), "--data-dir", str(tmp_path), "--sample-customers", "0"]
    demo = subprocess.Popen(
        [sys.executable, "-m", "skypanel_hubspot_plugin.demo", *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert demo.stdout is not None
        said = []
        for line in demo.stdout:  # ends when the demo does
            said.append(line)
            if line.startswith("Press Ctrl-C"):
                break
        else:
            raise AssertionError("".join(said))
        # At that moment, not a moment later: the plugin's tables are made and the panel
        # answers at once.
        engine = create_engine(f"sqlite:///{tmp_path / 'panel.sqlite3'}")
        with engine.connect() as conn:
            assert migrations.current_revision(conn) == migrations.head_revision()
        engine.dispose()
        with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
            conn.sendall(b"GET /api/hubspot/chat-config HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
            conn.settimeout(0.5)  # served now, not queued for a server still starting
            assert conn.recv(12).startswith(b"HTTP/1.1 200")
    finally:
        demo.send_signal(signal.SIGINT)
        demo.communicate(timeout=30)
