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
