"""A ``python -m skypanel_hubspot_plugin.worker`` process against the fake HubSpot, to kill."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from skypanel_hubspot_plugin.testing import FakeHubSpot

TESTS = Path(__file__).parent


def spawn_worker(
    url: str, fake: FakeHubSpot, secret_key: str, log: Path, *options: str
) -> subprocess.Popen[bytes]:
    """A worker process on ``url``, sending to ``fake``, its output appended to ``log``;
    ``options`` are more of its command-line options. Modules of tests/ are importable."""
    env = {
        **os.environ,
        "SKYPANEL_HUBSPOT_SECRET_KEYS": secret_key,
        "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]),
    }
    command = [sys.executable, "-m", "skypanel_hubspot_plugin.worker"]
    command += ["--database-url", url, "--base-url", fake.base_url, *options]
    return subprocess.Popen(command, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT)
