"""A pinned stage's drift report lists at most DRIFT_NODES_PER_OS nodes of each operating system (DescribeInstancePatches
takes one instance id per call), through real Airflow task execution against fleetsim, and its record and the report
say how many nodes it read of how many. The cap is lowered to 3 so that 8 nodes are more than it."""
from __future__ import annotations

import pytest

from fleetsim.testing import fleetsim_fixture
from patchflow.core.report import stage_facts
from patchflow.rollout import stage as stage_operators

pytestmark = pytest.mark.airflow

AL = "AMAZON_LINUX_2023"
CAP = 3
# fleetsim's Amazon Linux 2023 catalog has fewer than 100 patches, so each node's listing is one page, one call.
FLEET = {
    "defaults": {"execution_seconds": [60, 120], "reboot_share": 0.0},
    "groups": [
        {"name": "dev-al", "count": 2, "platform": AL, "tags": {"Patch Group": "dev"}, "missing_share": 0.5},
        {"name": "test-al", "count": 8, "platform": AL, "tags": {"Patch Group": "test"}, "missing_share": 0.9},
    ],
}
fleet = fleetsim_fixture(FLEET, seed=5, time_scale=600, scope="function")


def test_a_pinned_stage_lists_only_a_capped_sample_of_its_nodes_for_drift_and_says_so(fleet, run_rollout, demo_plan, monkeypatch):
    monkeypatch.setattr(stage_operators, "DRIFT_NODES_PER_OS", CAP)
    calls_in_drift_tasks = []
    execute = stage_operators.DriftReportOperator.execute

    def counted(operator, context):
        before = fleet.stats().get("DescribeInstancePatches", 0)
        found = execute(operator, context)
        calls_in_drift_tasks.append((operator.task_id, fleet.stats().get("DescribeInstancePatches", 0) - before))
        return found

    monkeypatch.setattr(stage_operators.DriftReportOperator, "execute", counted)
    plan = demo_plan(stages=[
        {"name": "dev", "patch_group": "dev", "expected_min_targets": 1},
        {"name": "test", "patch_group": "test", "pin_to": "dev", "expected_min_targets": 1, "max_concurrency": "100%",
         "max_errors": "100%", "gate": {"max_failed": "100%"}},
    ])
    run = run_rollout(fleet, plan)

    assert (run.state, str(run.report.outcome)) == ("success", "promoted")
    assert calls_in_drift_tasks == [("test.drift", CAP)]
    (record,) = run.kinds("drift")
    assert (record["stage"], record["drift_read"]) == ("test", {AL: [CAP, 8]})
    # test's nodes miss far more than dev installed: drift to report, or the sentence below proves nothing.
    assert record["drift"][AL]
    (test_stage,) = [s for s in run.report.stages if s.name == "test"]
    assert [fact for fact in stage_facts(test_stage) if fact.startswith("Drift")] == [
        f"Drift on {AL} (approved here, not in the manifest, not installed): {', '.join(record['drift'][AL])} (read from 3 of 8 {AL} nodes)"
    ]
