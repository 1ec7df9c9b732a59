"""The functional core imports with airflow and boto3 unavailable, so it can never come to need them."""
from __future__ import annotations

import subprocess
import sys

from patchflow.yamlfile import PROJECT_ROOT

CORE_MODULES = ("aws_schedules", "durations", "maintenance_windows", "schedule", "ratecontrol", "gates", "manifest", "plan", "errors", "catalog", "yamlfile", "approval", "baselines", "lint", "preview", "cli", "groups", "preflight",
                "patch_states", "report", "html_templates", "records", "ui.model", "ui.render")
BLOCKED = ("airflow", "boto3", "botocore", "aiobotocore")

PROBE = f"""
import sys
for name in {BLOCKED!r}:
    sys.modules[name] = None  # any import of these now raises ImportError
import importlib
for module in {CORE_MODULES!r}:
    importlib.import_module("patchflow." + module)
from patchflow.plan import load_plans
plans, broken = load_plans({str(PROJECT_ROOT / "include" / "rollouts")!r})
assert plans and not broken, broken
leaked = sorted(m for m in sys.modules if m.split(".")[0] in {BLOCKED!r} and sys.modules[m] is not None)
assert not leaked, leaked
print("ok")
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
    assert (finished.returncode, finished.stdout.strip(), finished.stderr) == (0, "ok", "")
