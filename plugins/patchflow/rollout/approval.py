"""A stage's approval, asked only when the run patches the stage, and only when the stage could go ahead.

Every stage's tasks run in every run, and those of a stage the run leaves out return at once.
An approval would still ask people to approve a stage that is not patched (on a calendar,
each of dev's runs would ask prod's approvers); this one lets such a stage through unasked.

Before asking, it reads the run's ledger and the stage's patch group: a stage that would stop
anyway (the stage before it did not pass, its release is missing or has nothing for an operating
system its group has, its group has a problem preflight would stop at) blocks with that reason
instead of asking somebody to approve a rollout that cannot happen. The request it writes carries
what an approver needs (patchflow.core.approval_request), and its notifier sends the same text.

The answer is recorded in the ledger by the try that receives it, and a later try of the task acts on
that record instead of asking again (patchflow.core.approval_answers says why Airflow can lose that
try). A rejection or a timeout fails the task without a retry; anything else is retried.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from airflow.providers.standard.operators.hitl import ApprovalOperator
from airflow.sdk.exceptions import AirflowFailException

from patchflow.aws import inventory
from patchflow.aws.plan_check import check_stages
from patchflow.core.approval_answers import ASKED_AGAIN, Answer, ApprovalAnswer, GoOn, first_request, on_entry
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
        now = datetime.now(timezone.utc)
        entry = on_entry(records, self.stage.name, now, timedelta(seconds=self.stage.approval.timeout_seconds))
        if isinstance(entry, GoOn):
            self.log.info("stage %s: an earlier try of this task recorded the answer, not asking again: %s", self.stage.name, entry.answer.sentence())
            return self._act_on(entry.answer)
        if isinstance(entry, ApprovalAnswer):
            return self._act_on(self._record(rollout, entry))
        if not entry.again:
            pinned_install = bool(self.stage.pin_to) and not params.dry_run
            not_ready = why_not_ready(self.plan, self.stage, records, self._read_group(rollout, with_systems=pinned_install))
            if not_ready is not None:
                block(rollout, self.stage, not_ready)
        links = ApprovalLinks.for_task(base_url(), rollout.dag_id, rollout.run_id, self.task_id)
        request = approval_request(self.plan, self.stage, records, now=now, deadline=entry.deadline, links=links)
        # Airflow writes the request, and the notifiers read it, from these two attributes (rendered before execute).
        self.subject, self.body = request.subject, (ASKED_AGAIN + "\n\n" + request.body if entry.again else request.body)
        self.response_timeout = entry.deadline - now
        ticket = rollout.params.change_ticket
        details = (["asked again"] if entry.again else []) + ([f"change ticket {ticket}"] if ticket else [])
        wait = Wait(self.stage.name, Waiting.APPROVAL, entry.deadline, detail=", ".join(details))
        rollout.ledger.append(RecordKind.WAITING, **wait.to_fields())
        self.log.info("stage %s: %s", self.stage.name, wait.line(now))
        return super().execute(context)

    def execute_complete(self, context, event):
        """Records the answer (or the timeout) before anything else can end this try, then acts on it."""
        rollout = RolloutOperator.rollout(self, context)
        if "error" in event:
            if event.get("error_type") != "timeout":
                return super().execute_complete(context, event)  # raises; a retry asks again
            asked = first_request(rollout.ledger.records(), self.stage.name)
            answer = ApprovalAnswer(self.stage.name, Answer.TIMED_OUT, asked.until if asked else datetime.now(timezone.utc))
        else:
            chosen, responder = event["chosen_options"], event.get("responded_by_user") or {}
            self.validate_chosen_options(chosen)
            answer = ApprovalAnswer(self.stage.name, Answer.APPROVED if chosen == [self.APPROVE] else Answer.REJECTED,
                                    answered_at(event.get("responded_at")), by=responder.get("name") or responder.get("id") or "")
        self.hitl_summary_extra["approved"] = answer.answer is Answer.APPROVED
        return self._act_on(self._record(rollout, answer))

    def _record(self, rollout: Rollout, answer: ApprovalAnswer) -> ApprovalAnswer:
        rollout.ledger.append(RecordKind.APPROVAL_ANSWERED, **answer.to_fields())
        return answer

    def _act_on(self, answer: ApprovalAnswer) -> dict:
        """Approved goes ahead; rejected or timed out fails the task for good, so the stage's tasks after it never run."""
        if answer.answer is not Answer.APPROVED:
            raise AirflowFailException(answer.sentence())
        self.log.info("%s; the stage goes ahead", answer.sentence())
        return answer.to_fields()

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


def answered_at(value) -> datetime:
    """The answer's moment as the resume event carries it (a datetime, naive meaning UTC), now when it carries none."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    return datetime.now(timezone.utc)


def base_url() -> str:
    from airflow.sdk.configuration import conf

    return conf.get("api", "base_url", fallback="") or ""
