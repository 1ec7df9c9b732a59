"""The page reads each run's state and failed tasks from Airflow's own metadata database (gather.read_airflow_runs)."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest

from patchflow.ui import gather

pytestmark = pytest.mark.airflow

T0 = datetime(2026, 12, 2, 1, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def airflow_runs():
    """Three runs of rollout_demo as Airflow keeps them: one whose start failed, one blocked at test's gate, one running;
    and one of a DAG the page does not show."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.models.dag import DagModel
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.db import initdb
    from airflow.utils.session import create_session
    from sqlalchemy import delete

    initdb()
    DagBundlesManager().sync_bundles_to_db()
    runs = [
        ("rollout_demo", "manual__start_failed", "failed", {"start": "failed", "finish": "success"}),
        ("rollout_demo", "manual__blocked", "failed", {"start": "success", "dev.gate": "success", "test.gate": "failed", "prod.window": "upstream_failed"}),
        ("rollout_demo", "manual__running", "running", {"start": "success", "dev.window": "deferred"}),
        ("other_dag", "manual__other", "failed", {"start": "failed"}),
    ]
    with create_session() as session:
        for dag_id in ("rollout_demo", "other_dag"):
            session.execute(delete(TaskInstance).where(TaskInstance.dag_id == dag_id))
            session.execute(delete(DagRun).where(DagRun.dag_id == dag_id))
            if session.get(DagModel, dag_id) is None:
                session.add(DagModel(dag_id=dag_id, bundle_name="dags-folder"))
        session.flush()
        for index, (dag_id, run_id, state, tasks) in enumerate(runs):
            started = T0 + timedelta(hours=index)
            run = DagRun(dag_id=dag_id, run_id=run_id, run_type="manual", state=state, start_date=started, run_after=started, conf={"dry_run": False})
            session.add(run)
            session.flush()
            for offset, (task_id, task_state) in enumerate(tasks.items()):
                session.execute(TaskInstance.__table__.insert().values(
                    id=uuid.uuid4(), dag_id=dag_id, run_id=run_id, task_id=task_id, map_index=-1, state=task_state, pool="default_pool",
                    start_date=started + timedelta(minutes=offset),
                ))
    return runs


def test_each_run_comes_with_airflow_s_state_and_its_failed_tasks_newest_first(airflow_runs):
    read = gather.read_airflow_runs(["rollout_demo"])
    assert read["ok"] is True
    assert [(run["run_id"], run["state"], run["failed_tasks"], run["start_date"]) for run in read["runs"]] == [
        ("manual__running", "running", [], "2026-12-02T03:00:00+00:00"),
        ("manual__blocked", "failed", ["test.gate"], "2026-12-02T02:00:00+00:00"),
        ("manual__start_failed", "failed", ["start"], "2026-12-02T01:00:00+00:00"),
    ]


def test_the_newest_runs_up_to_the_limit(airflow_runs):
    assert [run["run_id"] for run in gather.read_airflow_runs(["rollout_demo", "other_dag"], limit=2)["runs"]] == ["manual__other", "manual__running"]


def test_no_dags_no_query():
    assert gather.read_airflow_runs([]) == {"ok": True, "runs": []}
