"""Rollouts through real Airflow task execution against fleetsim.

One Airflow metadata database per test session; each test builds the DAG
from a plan written to tmp_path and runs it with `dag.test()`, which runs
every task through Airflow's task runner and every deferral through its
trigger, in this process (the main thread, as Airflow requires).
"""
from __future__ import annotations

import copy
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from patchflow.core.report_records import Report
from patchflow.core.yamlfile import PROJECT_ROOT

RETRY_DELAY_IN_TESTS = timedelta(seconds=1)

LEDGER_BUCKET = "rollout-tests"
TOPIC_NAME = "patch-rollouts"


def _demo_plan(**changes) -> dict:
    plan = yaml.safe_load((PROJECT_ROOT / "include/rollouts/demo.yaml").read_text())
    plan["ledger"] = f"s3://{LEDGER_BUCKET}/runs"
    # Half the demo's soak: each stage still defers to the clock (and watches its alarms) before it promotes.
    plan["defaults"]["soak"] = "1s"
    plan.update(copy.deepcopy(changes))
    return plan


@pytest.fixture
def demo_plan():
    """demo_plan(**changes): the demo plan as a dict, top-level keys replaced, ledger in fleetsim's S3, soaking 1 s."""
    return _demo_plan


@dataclass
class RolloutRun:
    state: str
    run_id: str
    records: list[dict]
    report: Report | None  # None when the run left no ledger records

    def kinds(self, kind: str) -> list[dict]:
        return [r for r in self.records if r["kind"] == kind]


@pytest.fixture(scope="session")
def airflow_db():
    from airflow.utils.db import initdb

    initdb()


_real_sleep = time.sleep
DAG_TEST_SOURCE = os.path.join("sdk", "definitions", "dag.py")


def _dag_test_polls_quickly(seconds: float) -> None:
    """time.sleep, except that dag.test()'s own loop pauses 0.05 s instead of a second.

    dag.test() sleeps a whole second whenever a pass finds nothing to run: while it marks the
    tasks after a block upstream_failed (one level per pass), waits out a retry delay, or waits
    for a person's answer. What the run does and how it ends do not depend on that pause, only
    how long a test takes; every other caller sleeps as asked.
    """
    caller = sys._getframe(1).f_code
    if caller.co_name == "test" and caller.co_filename.endswith(DAG_TEST_SOURCE):
        seconds = min(seconds, 0.05)
    _real_sleep(seconds)


@pytest.fixture
def run_rollout(airflow_db, monkeypatch, tmp_path):
    """run_rollout(sim, plan_dict, conf=None, answer=None) -> RolloutRun; answer approves/rejects HITL tasks.

    sync_baselines=True first runs `patchflow sync`, as `make demo` does; without it every
    instance gets its OS's default baseline, which is all a single-stage scenario needs.
    """

    def run(sim, plan: dict, conf: dict | None = None, answer: str | None = None, prepare_ledger: bool = True,
            sync_baselines: bool = False) -> RolloutRun:
        for name, value in sim.env().items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("PATCHFLOW_POLL_INTERVAL", "0.5")
        monkeypatch.setattr(time, "sleep", _dag_test_polls_quickly)
        monkeypatch.setenv("PATCHFLOW_AWS_CONN_ID", "")
        if prepare_ledger:
            sim.client("s3").create_bucket(Bucket=LEDGER_BUCKET)
        sim.client("sns").create_topic(Name=TOPIC_NAME)
        plan_path = tmp_path / f"{plan['name']}.yaml"
        plan_path.write_text(yaml.safe_dump(plan, sort_keys=False))
        if sync_baselines:
            # Into every account and Region the plan patches, as `make demo` syncs for its plan.
            sync = subprocess.run([sys.executable, "-m", "patchflow", "sync", "--plans", str(plan_path)], env={**os.environ, **sim.env()},
                                  capture_output=True, text=True, cwd=PROJECT_ROOT)
            assert sync.returncode == 0, sync.stdout + sync.stderr

        from patchflow.aws.ledger import RunLedger, open_store
        from patchflow.core.plan import load_plan
        from patchflow.core.report import build_report
        from patchflow.rollout.factory import build_dag

        dag = build_dag(load_plan(plan_path))
        for task in dag.tasks:
            # That a failed task is retried, and what its retry does, is what these tests look at; the
            # factory's 10 s between tries is for real SSM, and here it is only time spent waiting.
            task.retry_delay = RETRY_DELAY_IN_TESTS
        responder = HumanResponder(dag.dag_id, answer) if answer else None
        if responder:
            responder.start()
        try:
            dag_run = dag.test(run_conf=conf or {})
        finally:
            if responder:
                responder.stop()
        store = open_store(load_plan(plan_path).ledger_uri)
        records = RunLedger(store, dag.dag_id, dag_run.run_id).records()
        return RolloutRun(str(dag_run.state), dag_run.run_id, records, build_report(records) if records else None)

    return run


class HumanResponder(threading.Thread):
    """Answers every approval of one DAG as a person would, through the API's own handler;
    answer "no answer" lets the deadline pass and runs the scheduler's timeout sweep instead.

    Everything it needs is imported here, on the main thread: importing Airflow modules from
    two threads at once can deadlock on the import lock. If no approval shows up within
    `give_up_after` seconds it times out whatever is waiting, so a test fails instead of hanging.
    """

    def __init__(self, dag_id: str, answer: str, give_up_after: float = 180):
        super().__init__(daemon=True)
        import logging
        from datetime import timedelta

        import airflow.models.serialized_dag  # noqa: F401
        from airflow.jobs.scheduler_job_runner import SchedulerJobRunner
        from airflow.models import import_all_models
        from airflow.models.hitl import HITLDetail
        from airflow.models.taskinstance import TaskInstance
        from airflow.models.trigger import handle_event_submit
        from airflow.triggers.base import TriggerEvent
        from airflow.sdk import timezone
        from airflow.utils.session import create_session
        from airflow.utils.state import TaskInstanceState

        import_all_models()
        self.airflow = dict(
            timedelta=timedelta, SchedulerJobRunner=SchedulerJobRunner, HITLDetail=HITLDetail, TaskInstance=TaskInstance,
            handle_event_submit=handle_event_submit, TriggerEvent=TriggerEvent, timezone=timezone,
            create_session=create_session, AWAITING_INPUT=TaskInstanceState.AWAITING_INPUT,
            sweep_log=logging.getLogger("scheduler-sweep"),
        )
        self.dag_id = dag_id
        self.answer = answer
        self.answered: set[str] = set()
        self.give_up_at = time.monotonic() + give_up_after
        self._stop_event = threading.Event()

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=10)

    def run(self) -> None:
        a = self.airflow
        while not self._stop_event.is_set():
            with a["create_session"]() as session:
                waiting = (
                    session.query(a["TaskInstance"])
                    .filter(a["TaskInstance"].dag_id == self.dag_id, a["TaskInstance"].state == a["AWAITING_INPUT"])
                    .all()
                )
                for ti in waiting:
                    detail = session.query(a["HITLDetail"]).filter(a["HITLDetail"].ti_id == ti.id).one_or_none()
                    if detail is None and time.monotonic() < self.give_up_at:
                        continue
                    if self.answer == "no answer" or detail is None or time.monotonic() >= self.give_up_at:
                        # Swept again while the task still awaits input: a sweep that raced the
                        # run's own session and changed nothing must not leave the run waiting forever.
                        self._time_out(session, ti)
                    elif ti.id not in self.answered:
                        self._answer(session, ti, detail)
                    self.answered.add(ti.id)
            time.sleep(0.2)

    def _time_out(self, session, ti) -> None:
        """Lets the response deadline pass, then runs the scheduler's own timeout sweep."""
        a = self.airflow
        ti.trigger_timeout = a["timezone"].utcnow() - a["timedelta"](seconds=1)
        session.merge(ti)
        session.commit()
        sweeper = type("Sweeper", (), {"log": a["sweep_log"]})()
        a["SchedulerJobRunner"].check_awaiting_input_timeouts(sweeper, session=session)

    def _answer(self, session, ti, detail) -> None:
        a = self.airflow
        detail.responded_by = {"id": "release-manager", "name": "release-manager"}
        detail.responded_at = a["timezone"].utcnow()
        detail.chosen_options = [self.answer]
        detail.params_input = {}
        session.add(detail)
        session.flush()
        a["handle_event_submit"](a["TriggerEvent"](detail.as_resume_event_payload()), task_instance=ti, session=session)
