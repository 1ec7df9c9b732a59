"""A plan's AWS cron() becomes the rollout DAG's Airflow timetable, and it fires when the AWS schedule does."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from patchflow.core.plan import parse_plan

START = datetime(2026, 1, 1, tzinfo=timezone.utc)
RUNS = 30


def plan_on(cron: str, zone: str):
    data = {
        "name": "scheduled",
        "owner": "release-engineering",
        "schedule": {"cron": cron, "timezone": zone},
        "stages": [{"name": "dev", "patch_group": "dev", "approval": True}],
    }
    return parse_plan(data, "include/rollouts/scheduled.yaml")


def airflow_runs(timetable, count: int) -> list[str]:
    from airflow.timetables.base import TimeRestriction

    restriction = TimeRestriction(earliest=START, latest=None, catchup=True)
    runs, last = [], None
    for _ in range(count):
        info = timetable.next_dagrun_info(last_automated_data_interval=last, restriction=restriction)
        runs.append(info.run_after.isoformat())
        last = info.data_interval
    return runs


@pytest.mark.parametrize(
    ("cron", "zone"),
    [
        pytest.param("cron(0 2 15W * ? *)", "Europe/Berlin", id="nearest-weekday-across-dst"),
        pytest.param("cron(0 2 1W * ? *)", "UTC", id="nearest-weekday-saturday-first-moves-to-monday"),
        pytest.param("cron(30 23 ? * TUE#3 *)", "America/New_York", id="third-tuesday"),
        pytest.param("cron(0 2 L * ? *)", "Asia/Tokyo", id="last-day"),
    ],
)
def test_the_dag_timetable_fires_when_the_aws_schedule_does(cron, zone):
    from patchflow.rollout.factory import dag_schedule

    plan = plan_on(cron, zone)
    timetable = dag_schedule(plan)
    timetable.validate()
    aws = [fire.astimezone(timezone.utc).isoformat() for fire in plan.schedule.schedule.next_fires(START, RUNS)]
    assert airflow_runs(timetable, RUNS) == aws


# --------------------------------------------------------------------------- stages on their own calendar


def monthly_plan():
    from patchflow.core.plan import load_plan
    from patchflow.core.yamlfile import PROJECT_ROOT

    return load_plan(PROJECT_ROOT / "include/rollouts/monthly.yaml")


def test_a_plan_with_stage_schedules_gets_one_timetable_firing_at_every_stages_cron():
    from airflow.timetables.trigger import MultipleCronTriggerTimetable

    from patchflow.rollout.factory import dag_schedule

    timetable = dag_schedule(monthly_plan())
    timetable.validate()
    serialized = timetable.serialize()
    assert (type(timetable), serialized["expressions"], serialized["timezone"]) == (
        MultipleCronTriggerTimetable, ["0 22 * * 2#2", "0 22 * * 2#3", "0 9 * * 2#4"], "Europe/Berlin")


def test_stages_sharing_a_cron_share_one_of_the_timetables_crons():
    from patchflow.rollout.factory import dag_schedule

    data = {
        "name": "shared", "owner": "release-engineering", "ledger": "s3://patchflow-ledger/runs", "schedule": {"timezone": "America/New_York"},
        "stages": [
            {"name": "dev", "patch_group": "dev", "schedule": {"cron": "cron(30 23 ? * TUE#2 *)"}},
            {"name": "test", "patch_group": "test", "pin_to": "dev", "schedule": {"cron": "cron(30 23 ? * TUE#2 *)"}},
            {"name": "prod", "patch_group": "prod", "pin_to": "dev", "approval": True, "schedule": {"cron": "cron(0 9 ? * TUE#4 *)"}},
        ],
    }
    serialized = dag_schedule(parse_plan(data, "include/rollouts/shared.yaml")).serialize()
    assert (serialized["expressions"], serialized["timezone"]) == (["30 23 * * 2#2", "0 9 * * 2#4"], "America/New_York")


def test_the_stage_calendar_timetable_fires_when_the_stages_aws_schedules_do():
    from patchflow.rollout.factory import dag_schedule

    plan = monthly_plan()
    fires = sorted({fire for stage in plan.stages for fire in stage.schedule.next_fires(START, RUNS)})[:RUNS]
    assert airflow_runs(dag_schedule(plan), RUNS) == [fire.astimezone(timezone.utc).isoformat() for fire in fires]


@pytest.mark.parametrize(
    "plan",
    [
        pytest.param(lambda: plan_on("cron(0 1 ? * SUN *)", "Europe/Berlin"), id="plan-cron"),
        pytest.param(monthly_plan, id="stage-calendar"),
    ],
)
def test_with_catchup_off_airflow_still_proposes_the_time_just_past_on_a_first_start(plan):
    """Why StartRunOperator refuses a late scheduled run: Airflow's own first proposal is a time that already passed."""
    from airflow.timetables.base import TimeRestriction

    from patchflow.rollout.factory import dag_schedule

    plan = plan()
    schedules = [plan.schedule.schedule] if plan.schedule.schedule else [stage.schedule for stage in plan.stages]
    before = datetime.now(timezone.utc)
    info = dag_schedule(plan).next_dagrun_info(last_automated_data_interval=None, restriction=TimeRestriction(earliest=START, latest=None, catchup=False))
    after = datetime.now(timezone.utc)
    just_past = {max(s.previous_fire(moment) for s in schedules) for moment in (before, after)}
    assert (info.run_after in just_past, info.run_after < after) == (True, True)
