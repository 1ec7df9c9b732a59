"""What every rollout operator shares: the run's plan, params, ledger and SSM clients, and how a stage blocks.

Every task records what it did in the run ledger before it reports, so a
crash never loses a send or a verdict, and a retry can find what was sent.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException

from patchflow.rollout import notify
from patchflow.core.gates import GateThresholds
from patchflow.aws.ledger import RunLedger, open_store
from patchflow.core.plan import RolloutPlan, Stage
from patchflow.core.records import RecordKind
from patchflow.core.run_params import validate_run_params
from patchflow.rollout.triggers import aws_client_for, ssm_client_for, ssm_send_client_for


@dataclass(frozen=True)
class Rollout:
    """What every task of one run needs: the plan, the validated trigger params, the ledger, SSM."""

    plan: RolloutPlan
    params: Any
    ledger: RunLedger
    dag_id: str
    run_id: str
    aws_conn_id: str | None
    region_name: str | None

    def ssm(self):
        return ssm_client_for(self.aws_conn_id, self.region_name)

    def ssm_for_send(self):
        return ssm_send_client_for(self.aws_conn_id, self.region_name)

    def selected(self, stage: Stage) -> bool:
        return stage.name in self.params.stages

    def thresholds(self, stage: Stage) -> GateThresholds:
        return self.params.gate_for(stage)

    @property
    def run_token(self) -> str:
        # Scoped to this DAG run: a retried task finds its own commands by it, never another run's.
        return hashlib.sha256(f"{self.dag_id}/{self.run_id}".encode()).hexdigest()[:12]


class RolloutOperator(BaseOperator):
    ui_color = "#e8f1fb"

    def __init__(self, *, plan: RolloutPlan, stage: Stage | None = None, aws_conn_id: str | None = "aws_default", region_name: str | None = None, **kwargs):
        super().__init__(**kwargs)
        self.plan = plan
        self.stage = stage
        self.aws_conn_id = aws_conn_id
        self.region_name = region_name

    def rollout(self, context) -> Rollout:
        dag_run = context["dag_run"]
        params = validate_run_params(self.plan, dict(context["params"]))
        s3_factory = (lambda: aws_client_for("s3", self.aws_conn_id, self.region_name))
        store = open_store(self.plan.ledger_uri, s3_client_factory=s3_factory)
        ledger = RunLedger(store, dag_run.dag_id, dag_run.run_id)
        return Rollout(self.plan, params, ledger, dag_run.dag_id, dag_run.run_id, self.aws_conn_id, self.region_name)

    def group_task(self, name: str) -> str:
        return f"{self.stage.name}.{name}"


def block(rollout: Rollout, stage: Stage, reason: str, *, kind: RecordKind = RecordKind.RUN_FINISHED) -> None:
    """Record the block, tell people, and fail the task so the run is visibly failed."""
    rollout.ledger.append(kind, outcome="blocked", blocking_stage=stage.name, reason=reason)
    notify.send(rollout.plan, "block", f"Rollout {rollout.plan.name} blocked at {stage.name}", reason, run_id=rollout.run_id, stage=stage,
                aws_conn_id=rollout.aws_conn_id)
    raise AirflowFailException(f"stage {stage.name} blocked: {reason}")


def run_start(context) -> datetime:
    dag_run = context["dag_run"]
    return _aware(getattr(dag_run, "start_date", None) or getattr(dag_run, "run_after", None) or datetime.now(timezone.utc))


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def artifact_json(data) -> str:
    return json.dumps(data, indent=2, sort_keys=True, default=str)
