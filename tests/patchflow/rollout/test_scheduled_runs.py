"""Scheduled runs of a plan whose stages have their own calendar, through real Airflow task execution against fleetsim.

`dag.test()` only makes manual runs, so these tests have it make the run Airflow's scheduler would
have made: run type "scheduled", logical date and run_after at the timetable's tick. Everything
after that (the tasks, their context, the ledger, the commands) is the real thing.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from fleetsim.testing import fleetsim_fixture
from patchflow.core.aws_schedules import parse_schedule
from patchflow.core.plan import parse_plan
from patchflow.core.scheduled_runs import refused_start
from tests.patchflow.rollout.fleet_reads import commands_by_group
from tests.patchflow.rollout.fleet_specs import THREE_STAGES_OF_AL2023

pytestmark = pytest.mark.airflow

BERLIN = ZoneInfo("Europe/Berlin")
fleet = fleetsim_fixture(THREE_STAGES_OF_AL2023, seed=11, time_scale=600, scope="function")


@pytest.fixture
def scheduled_for(monkeypatch):
    """scheduled_for(moment): the next dag.test() makes the run the scheduler makes at `moment` instead of a manual one."""
    from airflow.models import dagrun
    from airflow.models.dagrun import DagRun
    from airflow.timetables.base import DataInterval
    from airflow.utils.state import DagRunState
    from airflow.utils.types import DagRunTriggeredByType, DagRunType
    from sqlalchemy import select

    def schedule(moment: datetime) -> None:
        moment = moment.astimezone(timezone.utc)  # as the scheduler names its runs

        def create(*, dag, conf, session, **ignored):
            earlier = session.scalar(select(DagRun).where(DagRun.dag_id == dag.dag_id, DagRun.logical_date == moment))
            if earlier:
                session.delete(earlier)
                session.commit()
            return dag.create_dagrun(
                run_id=DagRun.generate_run_id(run_type=DagRunType.SCHEDULED, logical_date=moment, run_after=moment),
                logical_date=moment,
                data_interval=DataInterval(moment, moment),
                run_after=moment,
                conf=conf,
                run_type=DagRunType.SCHEDULED,
                state=DagRunState.RUNNING,
                triggered_by=DagRunTriggeredByType.TIMETABLE,
                triggering_user_name=None,
                start_date=datetime.now(timezone.utc),
                session=session,
            )

        monkeypatch.setattr(dagrun, "get_or_create_dagrun", create)

    return schedule


def task_states(dag_id: str, run_id: str) -> dict[str, str]:
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        tis = session.query(TaskInstance).filter(TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id).all()
        return {ti.task_id: str(ti.state) for ti in tis}


def calendar_plan(demo_plan, dev_and_test: str, prod: str = "cron(0 9 ? * TUE#4 *)") -> dict:
    """dev and test share `dev_and_test` (test pinned to dev), prod has its own day and an approval; Berlin time."""
    return demo_plan(
        schedule={"timezone": "Europe/Berlin"},
        stages=[
            {"name": "dev", "patch_group": "dev", "schedule": {"cron": dev_and_test}},
            {"name": "test", "patch_group": "test", "pin_to": "dev", "schedule": {"cron": dev_and_test}},
            {"name": "prod", "patch_group": "prod", "pin_to": "dev", "schedule": {"cron": prod}, "approval": {"required": True, "timeout": "10m"}},
        ],
    )


def yearly_cron_at(moment: datetime) -> str:
    local = moment.astimezone(BERLIN)
    return f"cron({local.minute} {local.hour} {local.day} {local.month} ? *)"


def test_a_scheduled_run_that_starts_too_late_patches_nothing_and_records_why(fleet, run_rollout, demo_plan, scheduled_for):
    plan = calendar_plan(demo_plan, "cron(0 22 ? * TUE#2 *)")
    dev = parse_schedule("cron(0 22 ? * TUE#2 *)", "Europe/Berlin")
    missed = dev.previous_fire(datetime.now(timezone.utc) - timedelta(hours=2))  # the tick Airflow proposes on a first start
    scheduled_for(missed)

    run = run_rollout(fleet, plan)

    started, finished = run.kinds("run_started")[0], run.kinds("run_finished")[0]
    model = parse_plan(plan, "plan.yaml")
    at = [datetime.fromisoformat(record["at"].replace("Z", "+00:00")) for record in (started, finished)]
    assert (run.state, str(run.report.outcome), started["stages"], finished["blocking_stage"]) == ("success", "skipped", ["dev", "test"], None)
    assert finished["reason"] in {refused_start(model, missed, moment) for moment in at}
    assert finished["reason"].startswith(f"scheduled for {missed.astimezone(BERLIN):%a %d %b} 22:00 Europe/Berlin, started ")
    assert [r["kind"] for r in run.records] == ["run_started", "run_finished"]
    assert commands_by_group(fleet) == {}
    states = task_states("rollout_demo", run.run_id)
    assert (states.pop("start"), states.pop("finish"), set(states.values())) == ("skipped", "success", {"skipped"})


def test_an_on_time_scheduled_run_patches_only_the_stages_due_and_asks_nobody_about_the_others(fleet, run_rollout, demo_plan, scheduled_for):
    tick = datetime.now(timezone.utc).replace(second=0, microsecond=0) - timedelta(minutes=1)
    if tick.astimezone(BERLIN).minute == 0:  # never prod's 09:00
        tick -= timedelta(minutes=1)
    plan = calendar_plan(demo_plan, yearly_cron_at(tick))
    scheduled_for(tick)

    # Were prod's approval asked, it would be rejected, and its task failed.
    run = run_rollout(fleet, plan, answer="Reject")

    assert (run.state, str(run.report.outcome), run.kinds("run_started")[0]["stages"]) == ("success", "promoted", ["dev", "test"])
    assert [(stage.name, str(stage.state)) for stage in run.report.stages] == [("dev", "promoted"), ("test", "promoted")]
    assert sorted(commands_by_group(fleet)) == ["dev", "test"]
    (test_stage,) = [stage for stage in run.report.stages if stage.name == "test"]
    (dev_manifest,) = run.kinds("manifest")
    assert (test_stage.pinned_to.stage, test_stage.pinned_to.hash) == ("dev", dev_manifest["content_hash"])
    assert task_states("rollout_demo", run.run_id)["prod.approval"] == "success"
