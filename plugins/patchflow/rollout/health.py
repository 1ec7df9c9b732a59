"""A stage's health gate in the rollout: its alarms at the run's start and at preflight, the check after each
wave (verification command and alarms), and the alarm watch through the soak.

What a state, an invocation or a set of rows means is decided in patchflow.core.health and
patchflow.core.gates; the calls are in patchflow.aws.alarms and patchflow.aws.verification.
These tasks move data between them, the ledger and Airflow.
"""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Sequence

from airflow.sdk.exceptions import AirflowFailException

from patchflow.aws import commands as ssm_commands
from patchflow.aws.alarms import alarm_states, resolve_selectors
from patchflow.aws.verification import VerificationRequest, verification_invocations, verification_requests
from patchflow.core.gates import InstanceResult, evaluate_gate
from patchflow.core.health import (
    AlarmState,
    HealthCheck,
    HealthPhase,
    HealthSpec,
    VerificationRun,
    VerifiedNode,
    judge_health,
    unmatched_selector_reason,
    with_verification,
)
from patchflow.core.plan import Stage
from patchflow.core.records import RecordKind, WaveRow, patched_instances
from patchflow.core.releases import ReleaseEvent, ReleaseEventKind
from patchflow.rollout.base import CommandSendingOperator, Rollout, RolloutOperator, block, pinned_release, returned_rows, run_start
from patchflow.rollout.links import SsmCommandConsoleLink
from patchflow.rollout.triggers import AlarmWatchTrigger


def cloudwatch_for(rollout: Rollout):
    return rollout.client("cloudwatch")


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat()


# --------------------------------------------------------------------------- start and preflight


def first_unmatched_selector(rollout: Rollout, stages: Sequence[Stage]) -> tuple[Stage, str] | None:
    """The first stage (in plan order) with a selector that matches no alarm, and why: checked before anything is sent."""
    watching = [stage for stage in stages if stage.health is not None and stage.health.alarms]
    for stage in watching:
        # Alarms are regional: each account and Region the stage patches must have the alarms its selectors name.
        for scope in stage.scopes:
            cloudwatch = cloudwatch_for(rollout.in_scope(scope))
            for index, (selector, names) in enumerate(zip(stage.health.alarms, resolve_selectors(cloudwatch, stage.health.alarms))):
                if not names:
                    reason = unmatched_selector_reason(index, selector)
                    return stage, reason if scope.is_default else f"{scope.name}: {reason}"
    return None


def check_alarms_at_preflight(rollout: Rollout, stage: Stage) -> list[str]:
    """Resolves the stage's selectors again and reads their alarms; one already firing blocks the stage before it sends.

    Returns the alarm names the stage watches from here on (health_N and the soak read them from preflight's XCom).
    """
    health = stage.health
    if health is None or not health.alarms:
        return []
    cloudwatch = cloudwatch_for(rollout)
    resolved = resolve_selectors(cloudwatch, health.alarms)
    for index, (selector, names) in enumerate(zip(health.alarms, resolved)):
        if not names:  # deleted since the run started
            reason = unmatched_selector_reason(index, selector)
            rollout.ledger.append(RecordKind.STAGE_FAILED, stage=stage.name, reason=reason)
            block(rollout, stage, f"preflight: {reason}")
    names = sorted({name for found in resolved for name in found})
    check = judge_health(stage.name, HealthPhase.PREFLIGHT, now_iso(), alarms=alarm_states(cloudwatch, names),
                         insufficient_data_allowed=health.insufficient_data_allowed)
    record_health_check(rollout, check)
    if not check.passed:
        rollout.ledger.append(RecordKind.STAGE_FAILED, stage=stage.name, reason="; ".join(check.reasons))
        block(rollout, stage, "preflight: " + "; ".join(check.reasons))
    return names


def record_health_check(rollout: Rollout, check: HealthCheck) -> str:
    """Records the check; returns the record's reference, by which a wave's check passes its verified nodes on."""
    return rollout.ledger.append_referenced(RecordKind.HEALTH_CHECK, **check.to_json())


def void_release_passed_here(context, rollout: Rollout, stage: Stage) -> None:
    """A stage whose release passed here in this run, then found unhealthy: the pass is voided by a BLOCKED event.

    Passed here in this run means: a pin source's manifest (its release), or a pinned stage's gate.
    """
    ti = context["ti"]
    release_ids = set()
    if any(later.pin_to == stage.name for later in rollout.plan.stages):
        release_ids.add((ti.xcom_pull(task_ids=f"{stage.name}.manifest") or {}).get("release_id", ""))
    if stage.pin_to and (ti.xcom_pull(task_ids=f"{stage.name}.gate") or {}).get("passed"):
        release_ids.add(pinned_release(context, rollout, stage).release_id)
    for release_id in sorted(release_ids - {""}):
        rollout.releases.add_event(ReleaseEvent(release_id, ReleaseEventKind.BLOCKED, datetime.now(timezone.utc), stage=stage.name, run_id=rollout.run_id))


# --------------------------------------------------------------------------- after each wave


class HealthCheckOperator(CommandSendingOperator):
    """health_N: the verification command on the nodes wave N patched, then the stage's alarms; a failure blocks the stage.

    Its rows are wave N's with each verified node's result (a failed check makes the node FAILED),
    judged by the wave's gate like the wave itself, so the stage gate counts them too. It passes them on as the
    wave does, by reference: the wave's record and, when it verified nodes, its own health_check record.
    """

    template_fields = ()
    operator_extra_links = (SsmCommandConsoleLink(),)

    def __init__(self, *, wave_index: int, poll_interval: float = 5.0, **kwargs):
        super().__init__(**kwargs)
        self.wave_index = wave_index
        self.poll_interval = poll_interval

    @property
    def health(self) -> HealthSpec:
        return self.stage.health

    def _wave_returned(self, context) -> dict:
        return context["ti"].xcom_pull(task_ids=self.group_task(f"wave_{self.wave_index}")) or {}

    def _rows(self, context, rollout: Rollout) -> list[WaveRow]:
        return returned_rows(rollout.ledger, self._wave_returned(context))

    def _passed_on(self, context, rows: list[WaveRow], verification_record: str | None, command_ids: list[str]) -> dict:
        """What this task returns: wave N's rows by reference, with this check's record when it verified nodes."""
        return {"selected": True, "rows_record": self._wave_returned(context).get("rows_record"), "verification_record": verification_record,
                "instance_count": len(rows), "command_ids": command_ids}

    def _comment_prefix(self, rollout: Rollout) -> str:
        return f"patchflow {rollout.run_token} {self.stage.name} V{self.wave_index}"

    def _requests(self, rollout: Rollout, rows: list[WaveRow]) -> list[VerificationRequest]:
        """The check of every node whose install succeeded (none without `verify`)."""
        if self.health.verify is None:
            return []
        return verification_requests(self.health.verify, patched_instances(rows), comment=self._comment_prefix(rollout), timeout_seconds=self.stage.timeout_seconds)

    def execute(self, context):
        rollout = self.rollout(context)
        if not rollout.selected(self.stage):
            return {"selected": False, "instance_count": 0}
        rows = self._rows(context, rollout)
        if rollout.params.dry_run:
            self.log.info("dry run: no health check after wave %d of %s", self.wave_index, self.stage.name)
            return self._passed_on(context, rows, None, [])
        requests = self._requests(rollout, rows)
        if not requests:
            return self._judge(context, rollout, rows, None, polls=None)
        documents = sorted({request.document_name for request in requests})
        ssm = rollout.ssm()
        started = datetime.now(timezone.utc)
        already: dict[str, ssm_commands.CommandProgress] = {}
        for document in documents:
            already.update(ssm_commands.find_commands_by_comment(ssm, self._comment_prefix(rollout), run_start(context), document))
        command_ids = self.send_or_reattach(context, rollout, requests, already)
        started = ssm_commands.first_sent_at(started, already)
        echo = {"started_at": started.isoformat(), "documents": documents}
        deadline = started + timedelta(seconds=self.stage.timeout_seconds + self.health.verify.timeout_seconds)
        self.wait_for(context, command_ids, started, deadline, echo, document_names=documents)

    def resume_execution(self, next_method: str, next_kwargs, context):
        # Airflow's own execution_timeout ends a deferred task without calling execute_complete: cancel the check.
        if next_method == "__fail__":
            sent = context["ti"].xcom_pull(task_ids=self.task_id, key="command_ids") or []
            if sent:
                ssm_commands.cancel_commands(self.scoped_ssm(context["dag_run"].run_id), sent)
                self.log.warning("wait ended by Airflow (%s); cancelled %s", (next_kwargs or {}).get("error", "unknown"), ", ".join(sent))
        return super().resume_execution(next_method, next_kwargs, context)

    def execute_complete(self, context, event: dict):
        rollout = self.rollout(context)
        command_ids = list(event["command_ids"])
        documents = list(event["echo"].get("documents", []))
        status = event.get("status")
        if status == "error":
            rollout.ledger.append(RecordKind.STAGE_FAILED, stage=self.stage.name, wave=self.wave_index, reason=event["message"], command_ids=command_ids)
            raise AirflowFailException(event["message"])
        ssm = rollout.ssm()
        if status == "deadline":
            settled = ssm_commands.cancel_and_settle(ssm, event.get("unfinished", []), document_names=documents, poll_seconds=self.poll_interval)
            self.log.warning("deadline passed; cancelled %s", ", ".join(f"{c} ({p.status_details})" for c, p in settled.items()))
        rows = self._rows(context, rollout)
        invocations = verification_invocations(ssm, command_ids)
        checked = {instance_id for request in self._requests(rollout, rows) for instance_id in request.instance_ids}
        verified = [
            VerifiedNode.from_invocation(invocations[instance_id]) if instance_id in invocations
            # Sent to, but SSM holds no invocation for it: not verified is not healthy.
            else VerifiedNode(instance_id, False, "NoInvocation", -1, "")
            for instance_id in sorted(checked)
        ]
        return self._judge(context, rollout, rows, VerificationRun(tuple(documents), tuple(command_ids), tuple(verified)), polls=event.get("polls"))

    def _judge(self, context, rollout: Rollout, rows: list[WaveRow], verification: VerificationRun | None, polls: int | None):
        """Gates the wave's rows with the verification applied (like the wave), checks the alarms, records, and blocks on failure."""
        if verification is not None:
            rows = with_verification(rows, verification.nodes)
        thresholds = replace(rollout.thresholds(self.stage), min_targets=0)
        verdict = evaluate_gate([InstanceResult.from_row(row) for row in rows], thresholds)
        alarm_names = (context["ti"].xcom_pull(task_ids=self.group_task("preflight")) or {}).get("alarm_names", [])
        alarms = alarm_states(cloudwatch_for(rollout), alarm_names) if self.health.alarms else None
        check = judge_health(
            self.stage.name, HealthPhase.WAVE, now_iso(), wave=self.wave_index, alarms=alarms,
            insufficient_data_allowed=self.health.insufficient_data_allowed, verification=verification, gate=verdict, polls=polls,
        )
        check_record = record_health_check(rollout, check)
        if not check.passed:
            rollout.ledger.append(RecordKind.STAGE_VERDICT, stage=self.stage.name, verdict={**verdict.to_json(), "passed": False, "reasons": list(check.reasons)})
            void_release_passed_here(context, rollout, self.stage)
            block(rollout, self.stage, f"health wave {self.wave_index}: " + "; ".join(check.reasons))
        if verification is None:
            return self._passed_on(context, rows, None, [])
        return self._passed_on(context, rows, check_record, list(verification.command_ids))


# --------------------------------------------------------------------------- through the soak


def watch_alarms(operator: RolloutOperator, context, rollout: Rollout, poll_interval: float, until: datetime) -> None:
    """Defers the soak until `until` on AlarmWatchTrigger: one DescribeAlarms per 100 alarms a poll, no worker held."""
    stage = operator.stage
    names = (context["ti"].xcom_pull(task_ids=operator.group_task("preflight")) or {}).get("alarm_names", [])
    operator.defer(
        trigger=AlarmWatchTrigger(
            alarm_names=names,
            until=until.isoformat(),
            poll_interval=poll_interval,
            insufficient_data_allowed=stage.health.insufficient_data_allowed,
            aws_conn_id=operator.aws_conn_id,
            region_name=operator.region_name,
            echo={"soaked_until": until.isoformat()},
            access=rollout.access,
        ),
        method_name="soak_watched",
    )


def soak_watched(operator: RolloutOperator, context, rollout: Rollout, event: dict) -> None:
    """The watch's end: quiet records a passing check; an alarm, or CloudWatch not answering, blocks the stage."""
    stage = operator.stage
    alarms = [AlarmState.from_json(alarm) for alarm in event.get("alarms", [])]
    check = judge_health(stage.name, HealthPhase.SOAK, now_iso(), alarms=alarms, insufficient_data_allowed=stage.health.insufficient_data_allowed,
                         polls=event.get("polls"))
    if event.get("status") not in ("quiet", "alarm"):  # CloudWatch stopped answering: a soak nobody saw is not a quiet one
        reason = event.get("message") or f"the alarm watch ended with {event.get('status')!r}"
        check = replace(check, passed=False, reasons=(reason,))
    record_health_check(rollout, check)
    if check.passed:
        return
    gate = context["ti"].xcom_pull(task_ids=operator.group_task("gate")) or {}
    rollout.ledger.append(RecordKind.STAGE_VERDICT, stage=stage.name, verdict={**gate, "passed": False, "reasons": list(check.reasons)})
    void_release_passed_here(context, rollout, stage)
    block(rollout, stage, "soak: " + "; ".join(check.reasons))
