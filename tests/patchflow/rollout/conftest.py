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
from pathlib import Path

import pytest
import yaml

from patchflow.yamlfile import PROJECT_ROOT

LEDGER_BUCKET = "rollout-tests"
TOPIC_NAME = "patch-rollouts"


def _demo_plan(**changes) -> dict:
    plan = yaml.safe_load((PROJECT_ROOT / "include/rollouts/demo.yaml").read_text())
    plan["ledger"] = f"s3://{LEDGER_BUCKET}/runs"
    plan.update(copy.deepcopy(changes))
    return plan


@pytest.fixture
def demo_plan():
    """demo_plan(**changes): the demo plan as a dict, top-level keys replaced, ledger in fleetsim's S3."""
    return _demo_plan


@dataclass
class RolloutRun:
    state: str
    run_id: str
    records: list[dict]
    report: dict

    def kinds(self, kind: str) -> list[dict]:
        return [r for r in self.records if r["kind"] == kind]


@pytest.fixture(scope="session")
def airflow_db():
    from airflow.utils.db import initdb

    initdb()


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
        monkeypatch.setenv("PATCHFLOW_AWS_CONN_ID", "")
        if prepare_ledger:
            sim.client("s3").create_bucket(Bucket=LEDGER_BUCKET)
        sim.client("sns").create_topic(Name=TOPIC_NAME)
        if sync_baselines:
            sync = subprocess.run([sys.executable, "-m", "patchflow", "sync"], env={**os.environ, **sim.env()}, capture_output=True, text=True, cwd=PROJECT_ROOT)
            assert sync.returncode == 0, sync.stdout + sync.stderr

        from patchflow.ledger import RunLedger, open_store
        from patchflow.plan import load_plan
        from patchflow.report import build_report
        from patchflow.rollout.factory import build_dag

        plan_path = tmp_path / f"{plan['name']}.yaml"
        plan_path.write_text(yaml.safe_dump(plan, sort_keys=False))
        dag = build_dag(load_plan(plan_path))
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
        return RolloutRun(str(dag_run.state), dag_run.run_id, records, build_report(records) if records else {})

    return run


class HumanResponder(threading.Thread):
    """Answers every approval of one DAG as a person would, through the API's own handler."""

    def __init__(self, dag_id: str, answer: str):
        super().__init__(daemon=True)
        self.dag_id = dag_id
        self.answer = answer
        self.answered: list[str] = []
        self._stop_event = threading.Event()
        # Imported here, on the main thread: importing models from two threads at once deadlocks.
        from airflow.models import import_all_models

        import_all_models()
        import airflow.models.serialized_dag  # noqa: F401

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=10)

    def run(self) -> None:
        from airflow.models.hitl import HITLDetail
        from airflow.models.taskinstance import TaskInstance
        from airflow.utils.session import create_session
        from airflow.utils.state import TaskInstanceState

        while not self._stop_event.is_set():
            with create_session() as session:
                waiting = (
                    session.query(TaskInstance)
                    .filter(TaskInstance.dag_id == self.dag_id, TaskInstance.state == TaskInstanceState.AWAITING_INPUT)
                    .all()
                )
                for ti in waiting:
                    if ti.id in self.answered:
                        continue
                    detail = session.query(HITLDetail).filter(HITLDetail.ti_id == ti.id).one_or_none()
                    if detail is None:
                        continue
                    self._respond(session, ti, detail)
                    self.answered.append(ti.id)
            time.sleep(0.2)

    def _respond(self, session, ti, detail) -> None:
        from airflow.triggers.base import TriggerEvent
        from airflow.utils import timezone

        detail.responded_by = {"id": "release-manager", "name": "release-manager"}
        detail.responded_at = timezone.utcnow()
        detail.chosen_options = [self.answer]
        detail.params_input = {}
        session.add(detail)
        session.flush()
        from airflow.models.trigger import handle_event_submit

        handle_event_submit(TriggerEvent(detail.as_resume_event_payload()), task_instance=ti, session=session)
