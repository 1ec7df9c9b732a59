"""Airflow notifiers that speak through patchflow.rollout.notify, so every message goes the same way."""
from __future__ import annotations

from airflow.sdk import BaseNotifier

from patchflow.rollout import notify


class ApprovalRequestNotifier(BaseNotifier):
    """Tells the plan's targets that a stage waits for a human: the approval's own subject and body
    (patchflow.core.approval_request), so the message and the Required Actions page say the same."""

    template_fields = ()

    def __init__(self, *, plan, stage, aws_conn_id: str | None = None):
        super().__init__()
        self.plan = plan
        self.stage = stage
        self.aws_conn_id = aws_conn_id

    def notify(self, context) -> None:
        approval = context["task"]
        notify.send(
            self.plan,
            "approval",
            approval.subject,
            approval.body,
            run_id=context["dag_run"].run_id,
            stage=self.stage,
            aws_conn_id=self.aws_conn_id,
        )
