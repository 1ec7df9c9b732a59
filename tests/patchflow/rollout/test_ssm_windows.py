"""A stage whose window stays in SSM (window: {ssm_window: NAME}), through real Airflow task execution against fleetsim.

The windows are made through boto3 as a release manager makes them; when a window opens is checked
against fleetsim's own NextExecutionTime and against the window's wall clock, never patchflow's code.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from fleetsim import running
from patchflow.core.stage_windows import answer_json
from tests.patchflow.rollout.fleet_reads import group_instances
from tests.patchflow.rollout.test_health_gates import subscribed_inbox

pytestmark = pytest.mark.airflow

BERLIN = ZoneInfo("Europe/Berlin")
AWS_DAY_NAMES = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")  # by Python's weekday()
FLEET = {
    "compliance_lag_seconds": 0,
    "defaults": {"execution_seconds": [30, 60], "reboot_share": 0.0, "missing_share": 0.5},
    "groups": [{"name": f"{group}-al", "count": 1, "platform": "AMAZON_LINUX_2023", "tags": {"Patch Group": group}} for group in ("dev", "test")],
}


@pytest.fixture(scope="module")
def sim():
    """One fleet for the module: each test names windows of its own and looks only at the commands its run sent."""
    with running(FLEET, seed=3, time_scale=600) as server:
        yield server


def plan_with_window(demo_plan, window: dict) -> dict:
    plan = demo_plan(stages=[{"name": "dev", "patch_group": "dev", "scan_first": False, "window": window}])
    plan["defaults"]["soak"] = "1s"
    return plan


def create_window(ssm, name: str, schedule: str, timezone: str, duration: int = 4, cutoff: int = 1) -> str:
    return ssm.create_maintenance_window(Name=name, Schedule=schedule, ScheduleTimezone=timezone, Duration=duration, Cutoff=cutoff,
                                         AllowUnassociatedTargets=True)["WindowId"]


def window_answer(ssm, window_id: str) -> dict:
    answer = ssm.get_maintenance_window(WindowId=window_id)
    answer.pop("ResponseMetadata")
    return answer


def command_ids(sim) -> set[str]:
    return {command["CommandId"] for command in sim.client("ssm").list_commands()["Commands"]}


def test_a_closed_ssm_window_defers_the_stage_until_its_next_opening_in_its_own_time_zone(sim, run_rollout, demo_plan, monkeypatch):
    # The window opens at 09:30 Berlin time on the weekday three days from now: it is closed now (its last
    # opening was four days ago) and opens again in two to three days. 09:30 is never skipped by a clock change.
    opening_day = (datetime.now(BERLIN) + timedelta(days=3)).date()
    schedule = f"cron(30 9 ? * {AWS_DAY_NAMES[opening_day.weekday()]} *)"
    ssm = sim.client("ssm")
    window_id = create_window(ssm, "Weekly-Patch-Window", schedule, "Europe/Berlin")
    waits = stop_at_the_window_wait(monkeypatch)
    before = command_ids(sim)

    run = run_rollout(sim, plan_with_window(demo_plan, {"ssm_window": "Weekly-Patch-Window"}))

    answer = window_answer(ssm, window_id)
    expected = datetime(opening_day.year, opening_day.month, opening_day.day, 9, 30, tzinfo=BERLIN)
    # fleetsim, the oracle, names the same opening as the window's own wall clock.
    assert datetime.fromisoformat(answer["NextExecutionTime"]) == expected
    assert waits == [("dev.window", "DateTimeTrigger", expected)]
    # The run read the window once, at its start, and recorded what SSM answered.
    (started,) = run.kinds("run_started")
    assert started["ssm_windows"] == {"Weekly-Patch-Window": answer_json(answer)}
    assert (run.kinds("preflight"), command_ids(sim) - before) == ([], set())


def stop_at_the_window_wait(monkeypatch) -> list[tuple]:
    """Records where each window task defers to, and ends its wait there: under dag.test() the trigger would
    otherwise sleep in this process until the window opens, days away. Other triggers run as usual."""
    import airflow.sdk.definitions.dag as dag_module

    run_trigger, waits = dag_module._run_inline_trigger, []

    def recording(trigger, ti):
        if not ti.task_id.endswith(".window"):
            return run_trigger(trigger, ti)
        waits.append((ti.task_id, type(trigger).__name__, trigger.moment))
        raise RuntimeError("the test ends the wait for the window here")

    monkeypatch.setattr(dag_module, "_run_inline_trigger", recording)
    return waits


@pytest.mark.parametrize(
    "problem",
    [
        # The window of test, the second stage, is disabled: dev, always open, is not patched either.
        pytest.param("disabled", id="disabled"),
        # The only stage's window is missing: the start says so (the window task would only find no answer).
        pytest.param("missing", id="missing"),
    ],
)
def test_a_disabled_or_missing_ssm_window_stops_the_run_at_its_start_before_anything_is_sent(sim, run_rollout, demo_plan, problem):
    if problem == "disabled":
        ssm = sim.client("ssm")
        window_id = create_window(ssm, "Disabled-Patch-Window", "cron(0 2 ? * SUN *)", "Europe/Berlin")
        ssm.update_maintenance_window(WindowId=window_id, Enabled=False)
        stages = [{"name": "dev", "patch_group": "dev", "scan_first": False},
                  {"name": "test", "patch_group": "test", "scan_first": False, "window": {"ssm_window": "Disabled-Patch-Window"}}]
        blocked, reason = "test", f"maintenance window Disabled-Patch-Window ({window_id}) is disabled in SSM"
    else:
        stages = [{"name": "dev", "patch_group": "dev", "scan_first": False, "window": {"ssm_window": "Nightly-Patch-Window"}}]
        blocked, reason = "dev", "no maintenance window named Nightly-Patch-Window in us-east-1"
    plan = demo_plan(stages=stages)
    inbox = subscribed_inbox(sim, plan["notifications"]["sns_topic_arn"])
    before = command_ids(sim)

    run = run_rollout(sim, plan)

    assert (run.state, str(run.report.outcome), run.report.blocking_stage, run.report.reason) == ("failed", "blocked", blocked, reason)
    assert (f"Rollout demo blocked at {blocked}", reason) in inbox("block")
    assert (run.kinds("preflight"), command_ids(sim) - before) == ([], set())


def test_an_open_ssm_window_promotes_and_preflight_warns_that_the_window_patches_too(sim, run_rollout, demo_plan):
    # Opens every hour for two hours, no cutoff: open at any moment.
    ssm = sim.client("ssm")
    window_id = create_window(ssm, "Hourly-Patch-Window", "cron(0 * ? * * *)", "Asia/Tokyo", duration=2, cutoff=0)
    target = ssm.register_target_with_maintenance_window(WindowId=window_id, ResourceType="INSTANCE",
                                                         Targets=[{"Key": "tag:Patch Group", "Values": ["dev"]}])["WindowTargetId"]
    task = ssm.register_task_with_maintenance_window(
        WindowId=window_id, Name="Patch-dev", TaskArn="AWS-RunPatchBaseline", TaskType="RUN_COMMAND", Priority=1, MaxConcurrency="50%",
        MaxErrors="1", Targets=[{"Key": "WindowTargetIds", "Values": [target]}],
        TaskInvocationParameters={"RunCommand": {"Parameters": {"Operation": ["Install"], "RebootOption": ["RebootIfNeeded"]}}},
    )["WindowTaskId"]
    warning = (f"maintenance window Hourly-Patch-Window ({window_id}) still runs its own AWS-RunPatchBaseline Install (task Patch-dev ({task})); "
               "it and this stage would both patch the same nodes (deregister the task, or keep patching in SSM only)")

    before = command_ids(sim)

    run = run_rollout(sim, plan_with_window(demo_plan, {"ssm_window": window_id}))

    assert (run.state, str(run.report.outcome)) == ("success", "promoted")
    (preflight,) = run.kinds("preflight")
    assert preflight["warnings"] == [warning]
    (dev,) = run.report.stages
    assert dev.warnings == (warning,)
    (sent,) = command_ids(sim) - before
    (command,) = sim.client("ssm").list_commands(CommandId=sent)["Commands"]
    assert (command["DocumentName"], command["Parameters"]["Operation"], command["InstanceIds"]) == (
        "AWS-RunPatchBaseline", ["Install"], group_instances(sim.client("ssm"), "dev"))


def test_a_plan_with_ssm_windows_lints_clean_and_becomes_a_dag_whose_doc_names_them(tmp_path, demo_plan):
    import yaml

    from patchflow.cli.lint import lint
    from patchflow.core.plan import load_plan
    from patchflow.rollout.factory import build_dag

    plan = demo_plan(stages=[{"name": "dev", "patch_group": "dev", "window": {"ssm_window": "Weekly-Patch-Window"}},
                             {"name": "test", "patch_group": "test", "pin_to": "dev", "window": {"ssm_window": "mw-0c50858d01e3a1b2c"}}])
    path = tmp_path / "rollouts" / "adopted.yaml"
    path.parent.mkdir()
    path.write_text(yaml.safe_dump(plan, sort_keys=False))

    linted = lint([path])
    assert (linted.problems, len(linted.plans)) == ([], 1)
    rows = [line for line in build_dag(load_plan(path)).doc_md.splitlines() if line.startswith("| dev ") or line.startswith("| test ")]
    assert rows == ["| dev | dev | 100% | 10% | no | SSM window Weekly-Patch-Window | - |",
                    "| test | test | 100% | 10% | no | SSM window mw-0c50858d01e3a1b2c | dev |"]
