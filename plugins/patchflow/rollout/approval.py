"""A stage's approval, asked only when the run patches the stage, and only when the stage could go ahead.

Every stage's tasks run in every run, and those of a stage the run leaves out return at once.
An approval would still ask people to approve a stage that is not patched (on a calendar,
each of dev's runs would ask prod's approvers); this one lets such a stage through unasked.

Before asking, it reads the run's ledger and the stage's patch group: a stage that would stop
anyway (the stage before it did not pass, its release is missing or has nothing for an operating
system its group has, its group has a problem preflight would stop at) blocks with that reason
instead of asking somebody to approve a rollout that cannot happen. The request it writes carries
what an approver needs (patchflow.core.approval_request), and its notifier sends the same text.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from airflow.providers.standard.operators.hitl import ApprovalOperator

from patchflow.aws import inventory
from patchflow.aws.plan_check import check_stages
from patchflow.core.approval_request import ApprovalLinks, GroupRead, approval_request, why_not_ready
from patchflow.core.plan import RolloutPlan, Stage
from patchflow.core.records import RecordKind
from patchflow.core.scopes import DEFAULT_SCOPE
from patchflow.core.waits import Wait, Waiting
from patchflow.rollout.base import Rollout, RolloutOperator, block, run_params


class StageApprovalOperator(ApprovalOperator):
    def __init__(self, *, plan: RolloutPlan, stage: Stage, aws_conn_id: str | None = None, **kwargs):
        super().__init__(**kwargs)
        self.plan = plan
        self.stage = stage
        self.aws_conn_id = aws_conn_id
        # What RolloutOperator.rollout reads: the approval speaks for the whole stage, from the connection's own account and Region.
        self.region_name = None
        self.scope = DEFAULT_SCOPE

    def execute(self, context):
        params, _ = run_params(self.plan, context)
        if self.stage.name not in params.stages:
            self.log.info("stage %s is not patched in this run: nothing to approve", self.stage.name)
            return None
        rollout = RolloutOperator.rollout(self, context)
        records = rollout.ledger.records()
        pinned_install = bool(self.stage.pin_to) and not params.dry_run
        not_ready = why_not_ready(self.plan, self.stage, records, self._read_group(rollout, with_systems=pinned_install))
        if not_ready is not None:
            block(rollout, self.stage, not_ready)
        now = datetime.now(timezone.utc)
        deadline = now + timedelta(seconds=self.stage.approval.timeout_seconds)
        links = ApprovalLinks.for_task(base_url(), rollout.dag_id, rollout.run_id, self.task_id)
        request = approval_request(self.plan, self.stage, records, now=now, deadline=deadline, links=links)
        # Airflow writes the request, and the notifiers read it, from these two attributes (rendered before execute).
        self.subject, self.body = request.subject, request.body
        ticket = rollout.params.change_ticket
        wait = Wait(self.stage.name, Waiting.APPROVAL, deadline, detail=f"change ticket {ticket}" if ticket else "")
        rollout.ledger.append(RecordKind.WAITING, **wait.to_fields())
        self.log.info("stage %s: %s", self.stage.name, wait.line(now))
        return super().execute(context)

    def _read_group(self, rollout: Rollout, *, with_systems: bool) -> GroupRead:
        """The stage's group in each of its accounts and Regions now: what its preflight would stop at and, for a
        pinned install, the operating systems of the nodes its waves would send to (agent online)."""
        checks = check_stages([self.stage], lambda scope, service: rollout.in_scope(scope).client(service))
        problems = tuple(f"{check.where}: {problem}" for check in checks for problem in check.problems)
        operating_systems: set[str] = set()
        for check in checks:
            if with_systems and check.found is not None:
                members = inventory.patch_group_members(rollout.in_scope(check.scope).ssm(), self.stage.patch_group)
                operating_systems |= {m.operating_system for m in members if m.online and m.operating_system}
        return GroupRead(problems, frozenset(operating_systems))


def base_url() -> str:
    from airflow.sdk.configuration import conf

    return conf.get("api", "base_url", fallback="") or ""
