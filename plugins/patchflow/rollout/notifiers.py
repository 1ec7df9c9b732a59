"""Airflow notifiers that speak through patchflow.rollout.notify, so every message goes the same way."""
from __future__ import annotations

from airflow.sdk import BaseNotifier

from patchflow.rollout import notify


class ApprovalRequestNotifier(BaseNotifier):
    """Tells the plan's targets that a stage waits for a human, and where to answer."""

    template_fields = ()

    def __init__(self, *, plan, stage, aws_conn_id: str | None = None):
        super().__init__()
        self.plan = plan
        self.stage = stage
        self.aws_conn_id = aws_conn_id

    def notify(self, context) -> None:
        dag_run = context["dag_run"]
        notify.send(
            self.plan,
            "approval",
            f"Rollout {self.plan.name}: approve stage {self.stage.name}?",
            (
                f"Stage {self.stage.name} (patch group {self.stage.patch_group}) waits for approval in run {dag_run.run_id}.\n"
                f"Answer under Browse > Required Actions in Airflow within {self.stage.approval.timeout_seconds // 60} minutes; "
                "no answer stops the rollout."
            ),
            run_id=dag_run.run_id,
            stage=self.stage,
            aws_conn_id=self.aws_conn_id,
        )
