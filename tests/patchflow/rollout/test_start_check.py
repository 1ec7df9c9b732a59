"""The run's start checks every selected stage before anything is sent, through real Airflow task execution against fleetsim.

A plan whose later stages cannot run (a group with too few instances, a group no instance carries)
used to patch dev and block when it reached them; now the run blocks at its start, naming every
stage and problem, and SSM lists no command at all.
"""
from __future__ import annotations

import pytest

from fleetsim.testing import fleetsim_fixture

pytestmark = pytest.mark.airflow

AL = {"platform": "AMAZON_LINUX_2023", "execution_seconds": [30, 60]}
# dev and test have one node each; no node carries the patch group prod.
dev_and_test = fleetsim_fixture({"groups": [{**AL, "name": f"{group}-al", "count": 1, "tags": {"Patch Group": group}} for group in ("dev", "test")]},
                                time_scale=600, scope="function")


def test_stages_that_cannot_run_block_the_run_at_its_start_and_nothing_is_sent(dev_and_test, run_rollout, demo_plan):
    plan = demo_plan(stages=[
        {"name": "dev", "patch_group": "dev", "scan_first": False},
        {"name": "test", "patch_group": "test", "expected_min_targets": 2},
        {"name": "prod", "patch_group": "prod"},
    ])

    run = run_rollout(dev_and_test, plan)

    too_few = "patch group 'test' has 1 managed instance, fewer than the 2 the plan expects"
    none_there = "patch group 'prod' has no managed instances (tag 'Patch Group' or 'PatchGroup')"
    assert (run.state, str(run.report.outcome), run.report.blocking_stage, run.report.reason) == (
        "failed", "blocked", "test", f"run start: stage test: {too_few}; stage prod: {none_there}")
    assert [(r["stage"], r["reason"]) for r in run.kinds("stage_failed")] == [("test", f"run start: {too_few}"), ("prod", f"run start: {none_there}")]
    assert (run.kinds("preflight"), dev_and_test.client("ssm").list_commands()["Commands"]) == ([], [])
