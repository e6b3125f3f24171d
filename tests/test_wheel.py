"""The built wheel, installed in a fresh venv, is a working plugin on its own."""

from __future__ import annotations

import configparser
import subprocess
import sys
import sysconfig
import textwrap
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow
#: The one place the version is written.
VERSION = configparser.ConfigParser()
VERSION.read(ROOT / "setup.cfg")
RELEASE = VERSION["metadata"]["version"]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "build",
            "--wheel",
            "--no-isolation",
            "--outdir",
            str(out),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (built,) = out.glob("*.whl")
    return built


def test_the_wheel_holds_one_top_level_package_with_hooks_and_templates(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names}
    assert tops == {"skypanel_hubspot_plugin", f"skypanel_hubspot_plugin-{RELEASE}.dist-info"}
    for needed in (
        "skypanel_hubspot_plugin/hooks/__init__.py",
        "skypanel_hubspot_plugin/hooks/page_head.py",
        "skypanel_hubspot_plugin/templates/chat_loader.html",
        "skypanel_hubspot_plugin/testing/fake_hubspot.py",
        "skypanel_hubspot_plugin/py.typed",
        "skypanel_hubspot_plugin/migrations/env.py",
        "skypanel_hubspot_plugin/migrations/script.py.mako",
        "skypanel_hubspot_plugin/migrations/versions/v0_1_0_baseline.py",
    ):
        assert needed in names


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A fresh venv with the wheel installed by pip, offline: the wheel alone, and the
    dependencies this test run already has (a .pth after the venv's own site-packages)."""
    env_dir = tmp_path_factory.mktemp("venv")
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--no-index", "--no-deps", str(wheel)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    purelib = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    (purelib / "zz_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return env_dir, purelib


def test_the_installed_wheel_says_its_version_and_creates_its_tables(
    installed: tuple[Path, Path], tmp_path: Path
) -> None:
    env_dir, _ = installed
    version = subprocess.run(
        [
            str(env_dir / "bin" / "python"),
            "-I",
            "-c",
            "import skypanel_hubspot_plugin; print(skypanel_hubspot_plugin.__version__)",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert version.stdout.strip() == RELEASE, version.stderr
    command = env_dir / "bin" / "skypanel-hubspot"
    help_text = subprocess.run(
        [str(command), "--help"], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert help_text.returncode == 0 and "init-db" in help_text.stdout, help_text.stderr
    url = f"sqlite:///{tmp_path / 'panel.sqlite3'}"
    init = subprocess.run(
        [str(command), "init-db", "--database-url", url],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert init.returncode == 0, init.stderr
    assert "schema version" in init.stdout  # the migrations ship in the wheel


def test_the_installed_wheel_loads_through_its_entry_point_and_renders(
    installed: tuple[Path, Path], tmp_path: Path
) -> None:
    env_dir, purelib = installed
    python = env_dir / "bin" / "python"
    script = textwrap.dedent(f"""
        import pluggy, skypanel_hubspot_plugin
        assert skypanel_hubspot_plugin.__file__.startswith({str(purelib)!r}), skypanel_hubspot_plugin.__file__
        from skypanel_hubspot_plugin import hookspecs
        pm = pluggy.PluginManager("skypanel")
        pm.add_hookspecs(hookspecs)
        pm.load_setuptools_entrypoints("skypanel")
        pm.check_pending()
        plugin = pm.get_plugin("hubspot")
        assert plugin.__file__.startswith({str(purelib)!r}), plugin.__file__
        from skypanel_hubspot_plugin.page.rendering import chat_loader
        from skypanel_hubspot_plugin.settings.model import HubSpotSettings
        print(chat_loader(HubSpotSettings(enabled=True, chat_enabled=True, portal_id="42",
                                          region="eu1")))
    """)
    out = subprocess.run(
        [str(python), "-I", "-c", script], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == (
        '<script type="text/javascript" id="hs-script-loader" async '
        'defer src="https://js-eu1.hs-scripts.com/42.js"></script>'
    )
