"""A pinned stage lists a node's patches (DescribeInstancePatches, one node per call) only when the node's patch state
counts something not yet installed, through real Airflow task execution against fleetsim. Its rows are those the
full listing of every node gives: a node counting nothing missing, failed, rejected or awaiting a reboot has nothing
to list."""
from __future__ import annotations

import json
import math
from dataclasses import replace

import pytest

from fleetsim.testing import fleetsim_fixture
from patchflow.core.manifest import Manifest, ReportedPatch, judge_against_manifest
from patchflow.core.patch_states import FAILED, canonical_state
from patchflow.core.records import WaveRow
from tests.patchflow.rollout.fleet_reads import group_instances, patches

pytestmark = pytest.mark.airflow

AL = "AMAZON_LINUX_2023"
# The DescribeInstancePatchStates counts of the states a pinned stage judges, and those states.
NOT_YET_INSTALLED = {"FailedCount": "Failed", "InstalledPendingRebootCount": "InstalledPendingReboot",
                     "InstalledRejectedCount": "InstalledRejected", "MissingCount": "Missing"}
PAGE = 100  # MaxResults of each DescribeInstancePatches call


def _group(name: str, stage: str, count: int, missing_share: float, **extra) -> dict:
    return {"name": name, "count": count, "platform": AL, "tags": {"Patch Group": stage}, "missing_share": missing_share, **extra}


# test's up-to-date nodes end the pinned install with nothing to list; its nodes far behind keep patches dev never
# installed (drift, Missing); one node fails its install (a Failed patch, named in its row).
FLEET = {
    "defaults": {"execution_seconds": [60, 120], "reboot_share": 0.0},
    "groups": [
        _group("dev-al", "dev", 2, 0.5),
        _group("test-current", "test", 3, 0.0),
        _group("test-behind", "test", 3, 0.9),
        _group("test-failing", "test", 1, 0.9, install_failure_probability=1.0),
    ],
}
fleet = fleetsim_fixture(FLEET, seed=5, time_scale=600, scope="function")


def _plan(demo_plan) -> dict:
    return demo_plan(stages=[
        {"name": "dev", "patch_group": "dev", "expected_min_targets": 1},
        {"name": "test", "patch_group": "test", "pin_to": "dev", "expected_min_targets": 1, "max_concurrency": "100%",
         "max_errors": "100%", "gate": {"max_failed": "1"}},
    ])


def _manifest(sim, location: str) -> Manifest:
    bucket, key = location.removeprefix("s3://").split("/", 1)
    return Manifest.from_json(json.loads(sim.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()))


def _judged_from_every_listing(ssm, manifest: Manifest, recorded: dict) -> dict:
    """The row as judging the node's full listing makes it, whatever its counts say."""
    listing = [ReportedPatch(p["KBId"], p.get("Title", ""), canonical_state(p["State"]))
               for p in patches(ssm, recorded["instance_id"], *NOT_YET_INSTALLED.values())]
    row = replace(WaveRow.from_json(recorded), not_installed=None, drift=None, moved_on=None, failed_patch_ids=None)
    row = row.judged(judge_against_manifest(manifest, row.operating_system or "", listing))
    if row.lists_failed_patches:
        row = row.with_failed_patch_ids(p.id for p in listing if p.state == FAILED)
    return row.to_json()


def test_a_pinned_stage_lists_only_the_nodes_whose_counts_say_something_is_not_yet_installed(fleet, run_rollout, demo_plan):
    plan = _plan(demo_plan)
    dev_run = run_rollout(fleet, plan, conf={"stages": ["dev"]})
    assert (dev_run.state, str(dev_run.report.outcome)) == ("success", "promoted")
    (manifest_record,) = dev_run.kinds("manifest")

    fleet.reset_stats()
    test_run = run_rollout(fleet, plan, conf={"stages": ["test"]}, prepare_ledger=False)
    listed = fleet.stats().get("DescribeInstancePatches", 0)

    assert (test_run.state, str(test_run.report.outcome)) == ("success", "promoted")
    ssm = fleet.client("ssm")
    nodes = group_instances(ssm, "test")
    states = ssm.describe_instance_patch_states(InstanceIds=nodes)["InstancePatchStates"]
    not_yet_installed = {s["InstanceId"]: sum(s[key] for key in NOT_YET_INSTALLED) for s in states}
    assert sorted(not_yet_installed) == sorted(nodes)
    # Both kinds of node, or the test proves nothing: some count nothing to list, some count patches.
    assert 0 < sum(1 for n in not_yet_installed.values() if n) < len(nodes)
    assert listed == sum(math.ceil(n / PAGE) for n in not_yet_installed.values())

    (test_stage,) = [s for s in test_run.report.stages if s.name == "test"]
    rows = [row.recorded for wave in test_stage.waves if wave.operation == "Install" for row in wave.instances]
    manifest = _manifest(fleet, manifest_record["location"])
    assert sorted(row["instance_id"] for row in rows) == sorted(nodes)
    assert rows == [_judged_from_every_listing(ssm, manifest, row) for row in rows]
    assert any(row.get("failed_patch_ids") for row in rows), "no node failed its install: the failed patches were never named"
    assert any(row["drift"] for row in rows), "no node kept patches outside the manifest: nothing was listed for drift"
