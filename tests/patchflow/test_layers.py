"""The layers import only downwards: the tree's sub-packages are the architecture, so an upward import is a defect.

core imports no other layer; aws imports core only; cli imports core and aws; rollout (Airflow) imports core and
aws; ui imports core, aws and rollout; harness is the development harness and may import anything. Imports are
read from the source (inside functions too), so a lazy import cannot hide a dependency.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "plugins" / "patchflow"
MAY_IMPORT = {
    "core": {"core"},
    "aws": {"core", "aws"},
    "cli": {"core", "aws", "cli"},
    "rollout": {"core", "aws", "rollout"},
    "ui": {"core", "aws", "rollout", "ui"},
}


def patchflow_imports(path: Path) -> set[str]:
    """The sub-package of patchflow every import in `path` reaches ("" for patchflow itself)."""
    reached = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module + "." + alias.name for alias in node.names] if node.module == "patchflow" else [node.module]
        for name in names:
            parts = name.split(".")
            if parts[0] == "patchflow":
                reached.add(parts[1] if len(parts) > 1 else "")
    return reached


@pytest.mark.parametrize("layer", sorted(MAY_IMPORT), ids=sorted(MAY_IMPORT))
def test_a_layer_imports_only_the_layers_below_it(layer):
    upward = {
        str(path.relative_to(PACKAGE)): sorted(patchflow_imports(path) - MAY_IMPORT[layer])
        for path in sorted((PACKAGE / layer).rglob("*.py"))
    }
    assert {module: reached for module, reached in upward.items() if reached} == {}


def test_every_module_sits_in_a_layer():
    top_level = sorted(path.name for path in PACKAGE.glob("*.py"))
    layers = sorted(path.name for path in PACKAGE.iterdir() if (path / "__init__.py").exists())
    assert (top_level, layers) == (["__init__.py", "__main__.py"], ["aws", "cli", "core", "harness", "rollout", "ui"])
