"""Faults during a rollout, through real Airflow task execution: loud, safe, never falsely green."""
from __future__ import annotations

import threading
import time

import pytest

from fleetsim import running
from fleetsim.testing import fleetsim_fixture

pytestmark = pytest.mark.airflow

AL2023 = {"platform": "AMAZON_LINUX_2023", "tags": {"Patch Group": "dev"}, "execution_seconds": [60, 180]}


def one_stage(demo_plan, **stage):
    return demo_plan(stages=[{"name": "dev", "patch_group": "dev", "expected_min_targets": 1, **stage}])


# One call a second per API while the wait polls twice a second: every other poll is refused.
throttled_fleet = fleetsim_fixture({"throttling": {"*": 1}, "groups": [{**AL2023, "count": 6}]}, time_scale=600, scope="function")


def test_a_throttling_storm_slows_the_rollout_down_but_it_completes(throttled_fleet, run_rollout, demo_plan):
    run = run_rollout(throttled_fleet, one_stage(demo_plan))

    assert run.state == "success"
    assert run.report.outcome == "promoted"
    throttled = throttled_fleet._call("GET", "/_fleetsim/stats")["throttled"]
    assert sum(throttled.values()) > 0, "the storm never hit: the test proves nothing"


lossy_fleet = fleetsim_fixture(
    {"groups": [{**AL2023, "name": "steady", "count": 4}, {**AL2023, "name": "dropping", "count": 2, "offline_mid_run_share": 1.0}]},
    time_scale=600,
    scope="function",
)


def test_agents_lost_mid_stage_count_as_unreachable_and_the_gate_sees_them(lossy_fleet, run_rollout, demo_plan):
    run = run_rollout(lossy_fleet, one_stage(demo_plan, scan_first=True))

    dev = run.report.stages[0]
    assert run.state == "failed"
    assert dev.counts["unreachable"] == 2
    # The agents drop during the scan, their first command: that wave's gate stops the stage.
    assert run.report.reason == "scan wave 1: 2 of 6 instances failed (33.3%), above the limit of 10%; 2 instances unreachable counted as failures"
    listed = [i.instance_id for wave in dev.waves for i in wave.instances if i.outcome == "unreachable"]
    assert len(listed) == 2
    assert "Install" not in {c["Parameters"]["Operation"][0] for c in lossy_fleet.client("ssm").list_commands()["Commands"]}


stuck_fleet = fleetsim_fixture({"groups": [{**AL2023, "count": 3, "execution_seconds": [900000, 900000]}]}, time_scale=600, scope="function")


def test_invocations_that_never_finish_time_out_and_the_stage_blocks_instead_of_hanging(stuck_fleet, run_rollout, demo_plan):
    run = run_rollout(stuck_fleet, one_stage(demo_plan, scan_first=False, max_concurrency="100%", execution_timeout_seconds=1200))

    assert run.state == "failed"
    dev = run.report.stages[0]
    assert dev.counts["timed_out"] == 3
    assert run.report.outcome == "blocked"


def test_a_restarted_ssm_endpoint_fails_the_wait_with_a_reason_and_sends_no_second_command(run_rollout, demo_plan, tmp_path):
    fleet = {"groups": [{**AL2023, "count": 3, "execution_seconds": [6000, 6000]}]}
    first = running(fleet, time_scale=600)
    sim = first.__enter__()
    restarted: dict = {}

    def restart_once_the_install_is_sent():
        while sim.stats().get("SendCommand", 0) < 1:
            time.sleep(0.1)
        time.sleep(1)
        first.__exit__(None, None, None)
        second = running(fleet, time_scale=600, port=sim.port)
        restarted["sim"], restarted["context"] = second.__enter__(), second

    restarter = threading.Thread(target=restart_once_the_install_is_sent, daemon=True)
    restarter.start()
    try:
        # The ledger lives outside the endpoint that restarts, so nothing recorded is lost.
        run = run_rollout(sim, one_stage(demo_plan, scan_first=False) | {"ledger": f"file://{tmp_path}/ledger"}, prepare_ledger=False)
    finally:
        restarter.join(timeout=60)
        if "context" in restarted:
            sends_after_restart = restarted["sim"].stats().get("SendCommand", 0)
            restarted["context"].__exit__(None, None, None)
    assert run.state == "failed"
    assert sends_after_restart == 0
    assert run.report.stages[0].error.startswith("SSM stopped answering while waiting on ")


# Real time (time scale 1): a command aimed at a tag resolves its targets 2 s after SendCommand,
# and until then SSM lists it with no targets and no invocations. The patch states arrive as the
# invocations end (no compliance lag): what this shows is the wait for the command, not for its report.
resolving_fleet = fleetsim_fixture(
    {"compliance_lag_seconds": 0, "groups": [{**AL2023, "count": 60, "execution_seconds": [1, 2], "reboot_seconds": 1}]}, time_scale=1, scope="function",
)


def test_a_command_with_no_invocations_yet_is_waited_for_not_read_as_success(resolving_fleet, run_rollout, demo_plan):
    run = run_rollout(resolving_fleet, one_stage(demo_plan, scan_first=False, max_concurrency="100%"))

    assert run.state == "success"
    (wave,) = run.kinds("wave_result")
    assert wave["verdict"]["counts"]["succeeded"] == 60
    # Polled every 0.5 s through the 2 s in which SSM knew no targets, and went on waiting.
    assert wave["polls"] >= 4
