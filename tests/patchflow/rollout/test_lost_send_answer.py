"""A SendCommand that SSM accepted but whose answer was lost is never sent a second time."""
from __future__ import annotations

import pytest

from fleetsim.testing import fleetsim_fixture

pytestmark = pytest.mark.airflow

AL2023 = {"platform": "AMAZON_LINUX_2023", "tags": {"Patch Group": "dev"}, "execution_seconds": [60, 180]}

dev_fleet = fleetsim_fixture({"groups": [{**AL2023, "count": 3}]}, time_scale=600, scope="function")


def test_a_send_accepted_then_answered_with_a_5xx_makes_one_command_and_the_rollout_proceeds(dev_fleet, run_rollout, demo_plan):
    dev_fleet.inject_fault(after_action="SendCommand", after_count=0, fail_action="SendCommand", status=503, code="ServiceUnavailable",
                           message="answer lost after the command was created", accept_first=True)
    plan = demo_plan(stages=[{"name": "dev", "patch_group": "dev", "expected_min_targets": 1, "scan_first": False}])

    run = run_rollout(dev_fleet, plan)

    assert [f["failed"] for f in dev_fleet.faults()] == [1], "the send never failed: the test proves nothing"
    assert run.state == "success"
    assert run.report.outcome == "promoted"
    commands = dev_fleet.client("ssm").list_commands()["Commands"]
    assert len(commands) == 1
    assert dev_fleet.stats()["SendCommand"] == 1
    (sent,) = run.kinds("command_sent")
    assert sent["command_ids"] == [commands[0]["CommandId"]]
    (wave,) = run.kinds("wave_result")
    assert wave["verdict"]["counts"]["succeeded"] == 3
