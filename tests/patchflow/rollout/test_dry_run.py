"""A dry run through real Airflow task execution against fleetsim: it scans, installs nothing, never ends as a
promotion, and its report lists what each stage would install, exactly as the fleet reports it missing."""
from __future__ import annotations

import json

import pytest

from fleetsim.testing import fleetsim_fixture
from patchflow.aws.ledger import RunLedger, open_store
from tests.patchflow.rollout.conftest import LEDGER_BUCKET
from tests.patchflow.rollout.fleet_reads import commands_by_group, group_instances, patches

pytestmark = pytest.mark.airflow

FLEET = {
    "compliance_lag_seconds": 0,
    "defaults": {"execution_seconds": [30, 60], "reboot_share": 0.0, "missing_share": 0.5},
    "groups": [
        {"name": "dev-al", "count": 2, "platform": "AMAZON_LINUX_2023", "tags": {"Patch Group": "dev"}},
        {"name": "dev-win", "count": 1, "platform": "WINDOWS", "tags": {"Patch Group": "dev"}},
        {"name": "test-ubuntu", "count": 1, "platform": "UBUNTU", "tags": {"Patch Group": "test"}},
    ],
}
dry_fleet = fleetsim_fixture(FLEET, seed=11, time_scale=600, scope="function")


# FLEET's operating systems by patch group and platform type.
OPERATING_SYSTEMS = {("dev", "Linux"): "AMAZON_LINUX_2023", ("dev", "Windows"): "WINDOWS", ("test", "Linux"): "UBUNTU"}


def missing_by_os(sim, group: str) -> dict[str, list[dict]]:
    """What the fleet reports Missing or Failed on the group's nodes, per operating system, each patch once: the oracle."""
    ssm = sim.client("ssm")
    platform_types = {i["InstanceId"]: i["PlatformType"] for i in ssm.describe_instance_information()["InstanceInformationList"]}
    found: dict[str, dict[str, dict]] = {}
    for instance_id in group_instances(ssm, group):
        os_name = OPERATING_SYSTEMS[group, platform_types[instance_id]]
        found.setdefault(os_name, {})
        for patch in patches(ssm, instance_id, "Missing", "Failed"):
            found.setdefault(os_name, {})[patch["KBId"]] = {
                "id": patch["KBId"], "title": patch["Title"], "severity": patch.get("Severity", ""),
                "cve_ids": [cve for cve in patch.get("CVEIds", "").split(",") if cve],
            }
    return {os_name: [by_id[i] for i in sorted(by_id)] for os_name, by_id in sorted(found.items())}


def test_a_dry_run_scans_installs_nothing_fails_its_run_and_lists_what_it_would_install(dry_fleet, run_rollout, demo_plan):
    plan = demo_plan(stages=[{"name": "dev", "patch_group": "dev", "expected_min_targets": 1},
                             {"name": "test", "patch_group": "test", "pin_to": "dev", "expected_min_targets": 1}])
    run = run_rollout(dry_fleet, plan, conf={"dry_run": True, "change_ticket": "CHG-5"})

    # Nothing was installed, so nothing was promoted: the finish task fails the run with the dry run's headline.
    assert {c["Parameters"]["Operation"][0] for commands in commands_by_group(dry_fleet).values() for c in commands} == {"Scan"}
    assert (run.state, [(r["outcome"], r["blocking_stage"]) for r in run.kinds("run_finished")]) == ("failed", [("dry_run", None)])
    assert (run.report.outcome, [(s.name, s.state) for s in run.report.stages]) == ("dry_run", [("dev", "scanned"), ("test", "scanned")])

    ledger = RunLedger(open_store(f"s3://{LEDGER_BUCKET}/runs"), run.report.dag_id, run.run_id)
    stored = json.loads(ledger.read_artifact("report.json"))
    expected = {"dev": missing_by_os(dry_fleet, "dev"), "test": missing_by_os(dry_fleet, "test")}
    assert sorted(expected["dev"]) == ["AMAZON_LINUX_2023", "WINDOWS"] and all(expected["dev"].values())
    assert (stored["outcome"], {stage["name"]: stage["would_install"] for stage in stored["stages"]}) == ("dry_run", expected)
    assert "**DRY RUN: nothing was installed; every gate of demo passed as a scan. Change ticket: CHG-5.**" in ledger.read_artifact("report.md").decode()
