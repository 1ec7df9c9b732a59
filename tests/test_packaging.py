"""The project installs as packages: every package folder is shipped, the commands and the UI plugin's entry point exist."""
from __future__ import annotations

import shutil
import sys
import tomllib
from importlib.metadata import entry_points
from pathlib import Path

from patchflow.core.yamlfile import PROJECT_ROOT

PYPROJECT = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())


def _package_folders(root: Path, name: str) -> set[str]:
    return {".".join((name, *p.parent.relative_to(root).parts)) for p in root.rglob("__init__.py") if "__pycache__" not in p.parts}


def test_every_package_folder_is_listed_so_a_non_editable_install_ships_it():
    listed = set(PYPROJECT["tool"]["setuptools"]["packages"])
    found = _package_folders(PROJECT_ROOT / "plugins/patchflow", "patchflow") | _package_folders(PROJECT_ROOT / "fleetsim", "fleetsim")
    assert listed == found


def test_the_ui_plugin_is_found_through_its_entry_point_and_nowhere_else():
    from airflow.plugins_manager import AirflowPlugin

    (entry_point,) = [e for e in entry_points(group="airflow.plugins") if e.name == "patch_rollouts"]
    plugin = entry_point.load()
    assert issubclass(plugin, AirflowPlugin) and plugin.name == "patch_rollouts"
    # A second copy in the plugins folder would be loaded as well and refused as a duplicate.
    assert sorted(p.name for p in (PROJECT_ROOT / "plugins").glob("*.py")) == []


def test_the_commands_are_installed_beside_the_interpreter():
    bin_dir = Path(sys.executable).parent
    assert {name: bool(shutil.which(name, path=str(bin_dir))) for name in PYPROJECT["project"]["scripts"]} == {"patchflow": True, "fleetsim": True}
