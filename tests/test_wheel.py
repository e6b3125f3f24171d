"""The built wheel, installed in a fresh venv, is a working plugin on its own."""

from __future__ import annotations

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
    assert tops == {"skypanel_hubspot_plugin", wheel.name.split("-")[0] + "-0.1.0.dist-info"}
    for needed in (
        "skypanel_hubspot_plugin/hooks/__init__.py",
        "skypanel_hubspot_plugin/hooks/page_head.py",
        "skypanel_hubspot_plugin/templates/chat_loader.html",
        "skypanel_hubspot_plugin/testing/fake_hubspot.py",
        "skypanel_hubspot_plugin/py.typed",
    ):
        assert needed in names


def test_the_installed_wheel_loads_through_its_entry_point_and_renders(
    wheel: Path, tmp_path: Path
) -> None:
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    purelib = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    with zipfile.ZipFile(wheel) as archive:  # what pip does for a pure-Python wheel
        archive.extractall(purelib)
    # Dependencies come from this test run's environment, after the fresh site-packages.
    (purelib / "zz_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
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
