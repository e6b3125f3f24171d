"""The web frameworks are extras: the package and its entry point import none of them."""

from __future__ import annotations

import json
import subprocess
import sys

FRAMEWORKS = ("flask", "flask_sqlalchemy", "flask_wtf", "starlette", "fastapi", "django")


def test_the_package_and_its_plugin_import_no_web_framework() -> None:
    code = (
        "import json, sys\n"
        "import skypanel_hubspot_plugin\n"
        "skypanel_hubspot_plugin.plugin_manager()\n"  # loads the hooks through the entry point
        "import skypanel_hubspot_plugin.cli, skypanel_hubspot_plugin.worker\n"
        f"print(json.dumps(sorted(m for m in {FRAMEWORKS!r} if m in sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert json.loads(done.stdout) == []


def test_the_flask_adapter_imports_no_starlette() -> None:
    code = (
        "import json, sys\n"
        "import skypanel_hubspot_plugin.flask\n"
        "print(json.dumps(sorted(m for m in ('starlette', 'fastapi', 'django') if m in sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert json.loads(done.stdout) == []
