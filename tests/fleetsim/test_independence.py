"""fleetsim decides on its own: with every `patchflow` import made impossible, each fleetsim module
imports, fleet specs and catalogs load, and a served fleet runs AWS-RunPatchBaseline Install to the end.

An oracle that shared code with the project it tests would agree with it by construction. The block
is an import hook in a fresh interpreter that refuses `patchflow` and its submodules and says so on
stderr, so even an import inside a function, or one whose ImportError is caught, is seen.
"""
from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest
import yaml

PROJECT_ROOT = Path(__file__).resolve().parents[2]

BLOCK_PATCHFLOW = """
import sys

class RefusePatchflow:
    def find_spec(self, name, path=None, target=None):
        if name == "patchflow" or name.startswith("patchflow."):
            print(f"blocked import of {name}", file=sys.stderr, flush=True)
            raise ImportError(f"fleetsim must not import {name}")
        return None

sys.meta_path.insert(0, RefusePatchflow())
"""

IMPORT_AND_LOAD = BLOCK_PATCHFLOW + """
import importlib, json, pkgutil
from datetime import timedelta

import fleetsim
modules = sorted(info.name for info in pkgutil.iter_modules(fleetsim.__path__) if info.name != "__main__")
for name in modules:
    importlib.import_module(f"fleetsim.{name}")

from fleetsim.approval import approval
from fleetsim.baselines import predefined_baselines
from fleetsim.build_catalog import CATALOG_REFERENCE_DATE
from fleetsim.catalog import load_catalog
from fleetsim.errors import InvalidInput
from fleetsim.spec import load_fleet

instances = load_fleet("include/fleets/demo.yaml").instance_count
try:
    load_fleet({"groups": [{"count": 0, "platform": "WINDOWS"}]})
except InvalidInput as exc:
    refusal = str(exc)
approved = {}
for baseline in predefined_baselines("us-east-1").values():
    if baseline["OperatingSystem"] in ("AMAZON_LINUX_2023", "UBUNTU", "WINDOWS"):
        on = CATALOG_REFERENCE_DATE + timedelta(days=30)
        approved[baseline["Name"]] = sum(approval(baseline, p, on).approved for p in load_catalog(baseline["OperatingSystem"]))
leaked = sorted(name for name in sys.modules if name.split(".")[0] == "patchflow")
print(json.dumps({"modules": modules, "instances": instances, "refusal": refusal, "approved": approved, "leaked": leaked}))
"""

SERVE = BLOCK_PATCHFLOW + """
import runpy
runpy.run_module("fleetsim", run_name="__main__", alter_sys=True)
"""

ONE_OF_EACH = {
    "defaults": {"missing_share": 1.0, "not_applicable_share": 0.0, "execution_seconds": [30, 60]},
    "groups": [
        {"name": "al2023", "count": 1, "platform": "AMAZON_LINUX_2023", "tags": {"Patch Group": "oracle"}},
        {"name": "ubuntu", "count": 1, "platform": "UBUNTU", "tags": {"Patch Group": "oracle"}},
        {"name": "windows", "count": 1, "platform": "WINDOWS", "tags": {"Patch Group": "oracle"}},
    ],
}


def test_every_module_imports_and_decides_without_patchflow():
    finished = subprocess.run([sys.executable, "-c", IMPORT_AND_LOAD], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120)
    assert (finished.returncode, finished.stderr) == (0, "")
    result = json.loads(finished.stdout)
    assert {"approval", "catalog", "errors", "faults", "fleet", "models", "patching", "runcommand", "server", "spec"} <= set(result["modules"])
    assert result == {
        "modules": result["modules"],
        "instances": 30,
        "refusal": "fleet: groups[0].count: expected an integer >= 1, got 0",
        # Catalog patches the predefined baselines approve 30 days after the catalog's reference date.
        "approved": {"AWS-DefaultPatchBaseline": 9, "AWS-AmazonLinux2023DefaultPatchBaseline": 24, "AWS-UbuntuDefaultPatchBaseline": 27},
        "leaked": [],
    }


def test_the_block_is_real():
    finished = subprocess.run([sys.executable, "-c", BLOCK_PATCHFLOW + "import patchflow.core.approval\n"], cwd=PROJECT_ROOT,
                              capture_output=True, text=True, timeout=60)
    assert finished.returncode == 1
    assert finished.stderr.splitlines()[0] == "blocked import of patchflow"
    assert finished.stderr.splitlines()[-1] == "ImportError: fleetsim must not import patchflow"


@pytest.mark.fleetsim
def test_a_served_fleet_patches_without_patchflow(tmp_path):
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(yaml.safe_dump(ONE_OF_EACH), encoding="utf-8")
    log, errors = tmp_path / "server.log", tmp_path / "server.err"
    with log.open("w") as out, errors.open("w") as err:
        server = subprocess.Popen([sys.executable, "-c", SERVE, "serve", "--fleet", str(fleet), "--port", "0", "--time-scale", "600"],
                                  cwd=PROJECT_ROOT, stdout=out, stderr=err, text=True)
    try:
        deadline = time.monotonic() + 60
        while not (port := re.search(r"^fleetsim: serving .* on http://127\.0\.0\.1:(\d+) ", log.read_text(), re.MULTILINE)):
            assert server.poll() is None and time.monotonic() < deadline, log.read_text() + errors.read_text()
            time.sleep(0.1)
        ssm = boto3.session.Session(aws_access_key_id="x", aws_secret_access_key="x", region_name="us-east-1").client(
            "ssm", endpoint_url=f"http://127.0.0.1:{port.group(1)}")
        ids = sorted(i["InstanceId"] for i in ssm.describe_instance_information()["InstanceInformationList"])
        command_id = ssm.send_command(DocumentName="AWS-RunPatchBaseline", InstanceIds=ids, Parameters={"Operation": ["Install"]},
                                      MaxConcurrency="3")["Command"]["CommandId"]
        while (status := ssm.list_commands(CommandId=command_id)["Commands"][0]["Status"]) in ("Pending", "InProgress") and time.monotonic() < deadline:
            time.sleep(0.2)
        states = []
        while len(states) < len(ids) and time.monotonic() < deadline:
            states = ssm.describe_instance_patch_states(InstanceIds=ids)["InstancePatchStates"]
            time.sleep(0.2)
        installed = sorted((state["InstalledCount"] > 0, state["MissingCount"], state["FailedCount"]) for state in states)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    assert (status, installed, "blocked import" in errors.read_text()) == ("Success", [(True, 0, 0)] * 3, False)
