"""The functional core imports with airflow and boto3 unavailable, so it can never come to need them.

Every module of patchflow.core is probed (found by walking the package, so a new one cannot be left out),
and so are the pure parts of the other layers: the page's model and rendering, and the commands that need
no AWS (lint, preview and the entry point that picks a command).
"""
from __future__ import annotations

import subprocess
import sys

from patchflow.core.yamlfile import PROJECT_ROOT

PURE_OUTSIDE_CORE = ("patchflow.ui.model", "patchflow.ui.render", "patchflow.cli.main", "patchflow.cli.lint", "patchflow.cli.preview")
BLOCKED = ("airflow", "boto3", "botocore", "aiobotocore")

PROBE = f"""
import sys
for name in {BLOCKED!r}:
    sys.modules[name] = None  # any import of these now raises ImportError
import importlib, pkgutil
import patchflow.core
probed = ["patchflow.core." + info.name for info in pkgutil.iter_modules(patchflow.core.__path__)]
for module in probed + list({PURE_OUTSIDE_CORE!r}):
    importlib.import_module(module)
from patchflow.core.plan import load_plans
plans, broken = load_plans({str(PROJECT_ROOT / "include" / "rollouts")!r})
assert plans and not broken, broken
leaked = sorted(m for m in sys.modules if m.split(".")[0] in {BLOCKED!r} and sys.modules[m] is not None)
assert not leaked, leaked
print(" ".join(sorted(probed)))
"""


def test_core_imports_without_airflow_or_boto3():
    finished = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=PROJECT_ROOT,
        env={"PYTHONPATH": f"{PROJECT_ROOT / 'plugins'}:{PROJECT_ROOT}", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    core_files = sorted(f"patchflow.core.{path.stem}" for path in (PROJECT_ROOT / "plugins" / "patchflow" / "core").glob("*.py") if path.stem != "__init__")
    assert (finished.returncode, finished.stdout.split(), finished.stderr) == (0, core_files, "")
