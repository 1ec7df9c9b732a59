"""What a deployment ships never needs the development harness: no module outside it, and no DAG, imports it."""
from __future__ import annotations

import ast
from pathlib import Path

from patchflow.core.yamlfile import PROJECT_ROOT

HARNESS = "patchflow.harness"


def imported_modules(source: str, package: str) -> set[str]:
    """Every module a file imports, relative imports resolved against the file's own package."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1]) if node.level else ""
            module = ".".join(part for part in (base, node.module) if part)
            found |= {module} | {f"{module}.{alias.name}" for alias in node.names}
    return found


def imports_of_the_harness(root: Path, package: str | None) -> dict[str, list[str]]:
    problems = {}
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root)
        if package == "patchflow" and relative.parts[0] == "harness":
            continue
        own_package = ".".join((package, *relative.parent.parts)) if package else ""
        harness = sorted(m for m in imported_modules(path.read_text(encoding="utf-8"), own_package) if m == HARNESS or m.startswith(HARNESS + "."))
        if harness:
            problems[str(path.relative_to(PROJECT_ROOT))] = harness
    return problems


def test_neither_the_product_nor_the_dags_import_the_harness():
    found = {**imports_of_the_harness(PROJECT_ROOT / "plugins" / "patchflow", "patchflow"), **imports_of_the_harness(PROJECT_ROOT / "dags", None)}
    assert found == {}


def test_the_boundary_check_sees_absolute_and_relative_imports_of_the_harness():
    assert imported_modules("from patchflow.harness.demo import prepare_aws", "patchflow.rollout") >= {"patchflow.harness.demo"}
    assert imported_modules("from ..harness import demo", "patchflow.rollout") >= {"patchflow.harness.demo"}
    assert imported_modules("import patchflow.harness.checks", "patchflow") == {"patchflow.harness.checks"}
    assert imported_modules("from . import plan", "patchflow.core") == {"patchflow.core", "patchflow.core.plan"}
