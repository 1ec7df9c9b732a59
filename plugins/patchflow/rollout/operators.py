"""Operators for one rollout stage. Decisions live in the pure core; these only move data.

Every task records what it did in the run ledger before it reports, so a
crash never loses a send or a verdict, and a retry can find what was sent.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import Any

from airflow.sdk.exceptions import AirflowFailException
from airflow.providers.standard.triggers.temporal import DateTimeTrigger
from airflow.sdk import BaseOperator

from patchflow import notify
from patchflow.gates import GateThresholds, InstanceResult, Outcome, classify_invocation, evaluate_gate, tighten
from patchflow.ledger import RunLedger, open_store
from patchflow.maintenance_windows import window_state
from patchflow.manifest import (
    NOT_YET_INSTALLED_STATES,
    InstanceEvidence,
    Manifest,
    drift,
    install_override_document,
    judge_against_manifest,
    manifest_from_evidence,
)
from patchflow.patch_states import INSTALLED_STATES, MISSING, NOT_INSTALLED_STATES
from patchflow.plan import RolloutPlan, Stage, validate_run_params
from patchflow.preflight import baselines_in_force, ledger_baselines, unregistered_baseline_problem
from patchflow.ratecontrol import wave_batches
from patchflow.report import build_report, headline, render_html, render_markdown, summary_table
from patchflow.ssm import commands as ssm_commands
from patchflow.ssm import inventory
from patchflow.ssm.compliance import fresh_patch_states, reported_patches
from patchflow.rollout.triggers import CommandCompletionTrigger, aws_client_for, ssm_client_for, ssm_send_client_for
from patchflow.rollout.links import RolloutReportLink, SsmCommandConsoleLink


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
        if self.params.max_failed:
            return tighten(stage.gate, {"max_failed": self.params.max_failed})
        return stage.gate

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


def block(rollout: Rollout, stage: Stage, reason: str, *, kind: str = "run_finished") -> None:
    """Record the block, tell people, and fail the task so the run is visibly failed."""
    rollout.ledger.append(kind, outcome="blocked", blocking_stage=stage.name, reason=reason)
    notify.send(rollout.plan, "block", f"Rollout {rollout.plan.name} blocked at {stage.name}", reason, run_id=rollout.run_id, stage=stage,
                aws_conn_id=rollout.aws_conn_id)
    raise AirflowFailException(f"stage {stage.name} blocked: {reason}")


class StartRunOperator(RolloutOperator):
    """Validates the trigger form and opens the ledger. Nothing is sent if the params are bad."""

    def execute(self, context):
        rollout = self.rollout(context)
        rollout.ledger.append(
            "run_started",
            plan=self.plan.name,
            stages=list(rollout.params.stages),
            all_stages=[s.name for s in self.plan.stages],
            dry_run=rollout.params.dry_run,
            change_ticket=rollout.params.change_ticket,
            params=dict(context["params"]),
        )
        return {"stages": list(rollout.params.stages), "dry_run": rollout.params.dry_run}


class MaintenanceWindowOperator(RolloutOperator):
    """Waits, deferred, until the stage's window is open with time left to start work."""

    def execute(self, context, event=None):
        rollout = self.rollout(context)
        if not rollout.selected(self.stage) or self.stage.window is None:
            return {"open": True, "window": None}
        now = datetime.now(timezone.utc)
        state = window_state(self.stage.window, now)
        if state.can_start_work:
            return {"open": True, "last_start_at": state.last_start_at.isoformat()}
        self.log.info("window for %s not open for new work; waiting until %s", self.stage.name, state.next_open_at)
        self.defer(trigger=DateTimeTrigger(moment=state.next_open_at), method_name="execute")


class PreflightOperator(RolloutOperator):
    """Resolves the stage's targets through SSM and fails loudly on anything that would mislead the gate."""

    def execute(self, context):
        rollout = self.rollout(context)
        if not rollout.selected(self.stage):
            return {"selected": False, "targets": []}
        ssm = rollout.ssm()
        members = inventory.patch_group_members(ssm, self.stage.patch_group)
        operating_systems = sorted({m.operating_system for m in members if m.operating_system})
        in_force = baselines_in_force(
            operating_systems,
            inventory.registered_baselines(ssm, self.stage.patch_group),
            inventory.baselines_for_group(ssm, self.stage.patch_group, operating_systems),
        )
        baseline_fields = ledger_baselines(in_force)
        baselines = baseline_fields["baselines"]
        offline = [m.instance_id for m in members if not m.online]
        rollout.ledger.append(
            "preflight",
            stage=self.stage.name,
            patch_group=self.stage.patch_group,
            targets=[m.to_json() for m in members],
            offline=offline,
            **baseline_fields,
        )
        problems = []
        if not members:
            problems.append(f"patch group '{self.stage.patch_group}' has no managed instances (tag 'Patch Group' or 'PatchGroup')")
        elif len(members) < self.stage.expected_min_targets:
            problems.append(
                f"patch group '{self.stage.patch_group}' has {len(members)} managed instances, fewer than the {self.stage.expected_min_targets} the plan expects"
            )
        unknown = [m.instance_id for m in members if not m.operating_system]
        if unknown:
            problems.append(f"cannot tell the operating system of {', '.join(unknown)}")
        unregistered = unregistered_baseline_problem(self.stage.patch_group, in_force, self.stage.require_registered_baseline)
        if unregistered:
            problems.append(unregistered)
        if offline:
            self.log.warning("offline agents in %s: %s", self.stage.patch_group, ", ".join(offline))
        if problems:
            reason = "; ".join(problems)
            rollout.ledger.append("stage_failed", stage=self.stage.name, reason=reason)
            block(rollout, self.stage, f"preflight: {reason}")
        return {"selected": True, "targets": [m.to_json() for m in members], "offline": offline, "baselines": baselines}


class PatchWaveOperator(RolloutOperator):
    """Sends AWS-RunPatchBaseline to one wave, waits deferred, then reads every invocation and gates the wave."""

    template_fields = ()
    operator_extra_links = (SsmCommandConsoleLink(),)

    def __init__(self, *, wave_index: int, operation: str = "Install", poll_interval: float = 5.0, record_evidence: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.wave_index = wave_index
        self.operation = operation
        self.poll_interval = poll_interval
        # A scan of a stage that later stages pin to records what each node was missing before the install.
        self.record_evidence = record_evidence

    def _targets(self, context) -> list[dict]:
        preflight = context["ti"].xcom_pull(task_ids=self.group_task("preflight")) or {}
        return preflight.get("targets", [])

    def _batch(self, context) -> list[dict]:
        targets = self._targets(context)
        if self.operation == "Scan":
            return targets if self.wave_index == 1 else []
        by_id = {t["instance_id"]: t for t in targets}
        batches = wave_batches(sorted(by_id), self.stage.waves)
        if self.wave_index > len(batches):
            return []
        return [by_id[i] for i in batches[self.wave_index - 1]]

    def _comment_prefix(self, rollout: Rollout) -> str:
        return f"patchflow {rollout.run_token} {self.stage.name} {self.operation[0]}{self.wave_index}"

    def execute(self, context):
        rollout = self.rollout(context)
        if not rollout.selected(self.stage):
            return {"selected": False, "results": []}
        operation = "Scan" if rollout.params.dry_run else self.operation
        batch = self._batch(context)
        if not batch:
            self.log.info("wave %d of %s has no instances left to patch", self.wave_index, self.stage.name)
            return {"selected": True, "results": []}
        if self.stage.window is not None and operation == "Install":
            state = window_state(self.stage.window, datetime.now(timezone.utc))
            if not state.can_start_work:
                block(rollout, self.stage, f"the maintenance window allows no new work after {state.last_start_at}; wave {self.wave_index} was not started")

        ssm = rollout.ssm()
        started = datetime.now(timezone.utc)
        prefix = self._comment_prefix(rollout)
        # Nodes whose agent was not online at preflight are not sent to: SSM would hold their
        # invocation until the delivery time-out, or end it Undeliverable. Either way they are unreachable.
        reachable = [t for t in batch if _online(t)]
        not_sent = [t["instance_id"] for t in batch if not _online(t)]
        pinned = operation == "Install" and bool(self.stage.pin_to)
        manifest, override_lists = self._pin_source(context, rollout) if pinned else (None, {})
        overrides: dict[str, str] = {}
        nothing_new: list[str] = []
        if manifest is not None:
            uncovered = sorted({t.get("operating_system") or "unknown" for t in reachable} - set(manifest.patches))
            if uncovered:
                block(
                    rollout,
                    self.stage,
                    f"stage is pinned to {self.stage.pin_to}, which patched no {', '.join(uncovered)} instances, so there is no tried patch set to install on them",
                )
            overrides = {os_name: location for os_name, location in override_lists.items() if manifest.ids(os_name)}
            nothing_new = sorted({t.get("operating_system") for t in reachable if not manifest.ids(t.get("operating_system") or "")})
        requests = self._requests(context, reachable, operation, prefix, overrides, split_by_os=pinned, scan_only=nothing_new) if reachable else []
        already = ssm_commands.find_commands_by_comment(ssm, prefix, _run_start(context)) if requests else {}
        command_ids = []
        for request in requests:
            if request.comment in already:
                command_ids.append(already[request.comment].command_id)
                self.log.info("re-attached to %s sent earlier for %r", already[request.comment].command_id, request.comment)
                continue
            command_id, found = ssm_commands.send_patch_command_at_most_once(rollout.ssm_for_send(), ssm, request, _run_start(context))
            if found:
                self.log.warning("SendCommand for %r failed, but SSM had accepted it as %s; not sent again", request.comment, command_id)
            command_ids.append(command_id)
            self._in_flight = list(command_ids)
        rollout.ledger.append(
            "command_sent",
            stage=self.stage.name,
            wave=self.wave_index,
            operation=operation,
            command_ids=command_ids,
            instance_count=len(batch),
            not_sent=not_sent,
            reattached=sorted(c.command_id for c in already.values()),
            comments=[r.comment for r in requests],
            install_override_lists=sorted(set(overrides.values())),
            pinned_to={"stage": self.stage.pin_to, "hash": manifest.content_hash} if manifest is not None else None,
            nothing_new_for=nothing_new,
        )
        echo = {"started_at": started.isoformat(), "operation": operation}
        if not command_ids:
            self.log.warning("wave %d of %s: no node is reachable (%s); nothing was sent", self.wave_index, self.stage.name, ", ".join(not_sent))
            return self.execute_complete(context, {"status": "finished", "command_ids": [], "echo": echo, "polls": 0})
        context["ti"].xcom_push(key="command_ids", value=command_ids)
        deadline = started + timedelta(seconds=self.stage.timeout_seconds + self.stage.execution_timeout_seconds)
        self.defer(
            trigger=CommandCompletionTrigger(
                command_ids=command_ids,
                invoked_after=started.isoformat(),
                deadline=deadline.isoformat(),
                poll_interval=self.poll_interval,
                aws_conn_id=self.aws_conn_id,
                region_name=self.region_name,
                echo=echo,
            ),
            method_name="execute_complete",
        )

    def on_kill(self) -> None:
        # Killed on a worker between sending and deferring: what was sent must not keep patching.
        sent = getattr(self, "_in_flight", [])
        if sent:
            ssm_commands.cancel_commands(ssm_client_for(self.aws_conn_id, self.region_name), sent)
            self.log.warning("task killed; cancelled %s", ", ".join(sent))

    def resume_execution(self, next_method: str, next_kwargs, context):
        # Airflow's own execution_timeout ends a deferred task without calling execute_complete;
        # the commands it was waiting on are cancelled, and once they settle what really
        # happened on each node is recorded, before the timeout is reported.
        if next_method == "__fail__":
            sent = context["ti"].xcom_pull(task_ids=self.task_id, key="command_ids") or []
            if sent:
                ssm = ssm_client_for(self.aws_conn_id, self.region_name)
                progress = ssm_commands.cancel_and_settle(ssm, sent, poll_seconds=self.poll_interval)
                self.log.warning("wait ended by Airflow (%s); cancelled %s", (next_kwargs or {}).get("error", "unknown"), ", ".join(sent))
                batch = {t["instance_id"]: t for t in self._batch(context)}
                rows = [
                    self._row(batch.get(i, {"instance_id": i, "operating_system": None}), invocation, None)
                    for i, invocation in sorted(self._invocations(ssm, sent).items())
                ]
                self.rollout(context).ledger.append(
                    "wave_cancelled",
                    stage=self.stage.name,
                    wave=self.wave_index,
                    command_ids=sent,
                    reason=f"Airflow ended the wait: {(next_kwargs or {}).get('error', 'unknown')}",
                    settled={c: p.status_details for c, p in progress.items()},
                    instances=rows,
                )
        return super().resume_execution(next_method, next_kwargs, context)

    def _requests(self, context, batch: list[dict], operation: str, prefix: str, overrides: dict[str, str], split_by_os: bool,
                  scan_only: list[str]) -> list[ssm_commands.PatchCommandRequest]:
        template = ssm_commands.PatchCommandRequest(
            operation=operation,
            reboot_option="NoReboot" if operation == "Scan" else self.stage.reboot_option,
            max_concurrency=self.stage.max_concurrency,
            max_errors=self.stage.max_errors,
            timeout_seconds=self.stage.timeout_seconds,
            comment=prefix,
        )
        whole_group = {t["instance_id"] for t in batch} == {t["instance_id"] for t in self._targets(context)}
        return ssm_commands.wave_requests(
            template, batch, patch_group=self.stage.patch_group, whole_group=whole_group, overrides=overrides, split_by_os=split_by_os,
            scan_only=scan_only,
        )

    def _pin_source(self, context, rollout: Rollout) -> tuple[Manifest, dict[str, str]]:
        """The manifest of the stage this one is pinned to, and its install override list per OS."""
        found = context["ti"].xcom_pull(task_ids=f"{self.stage.pin_to}.manifest")
        if not found:
            block(rollout, self.stage, f"stage is pinned to {self.stage.pin_to}, whose manifest is missing (did {self.stage.pin_to} run in this DAG run?)")
        return Manifest.from_json(found["manifest"]), dict(found["override_lists"])

    @staticmethod
    def _invocations(ssm, command_ids: list[str]) -> dict[str, dict]:
        found = {}
        for command_id in command_ids:
            for invocation in ssm_commands.list_invocations(ssm, command_id):
                found[invocation["InstanceId"]] = invocation
        return found

    @staticmethod
    def _row(target: dict, invocation: dict | None, not_sent_reason: str | None) -> dict:
        if not_sent_reason:
            outcome, details, command_id = Outcome.UNREACHABLE, not_sent_reason, ""
        elif invocation is None:
            outcome, details, command_id = Outcome.NOT_DISPATCHED, "NoInvocation", ""
        else:
            outcome = classify_invocation(invocation.get("Status", ""), invocation.get("StatusDetails", ""))
            details, command_id = invocation.get("StatusDetails", ""), invocation["CommandId"]
        return {
            "instance_id": target["instance_id"],
            "operating_system": target.get("operating_system"),
            "outcome": outcome.value,
            "status_details": details,
            "compliant": None,
            "pending_reboot": False,
            "missing": 0,
            "failed_patches": 0,
            "command_id": command_id,
        }

    def execute_complete(self, context, event: dict):
        rollout = self.rollout(context)
        command_ids = list(event["command_ids"])
        started_at, operation = event["echo"]["started_at"], event["echo"]["operation"]
        ssm = rollout.ssm()
        status = event.get("status")
        if status == "error":
            rollout.ledger.append("stage_failed", stage=self.stage.name, wave=self.wave_index, reason=event["message"], command_ids=command_ids)
            raise AirflowFailException(event["message"])
        if status == "deadline":
            # Recorded only once the cancel has settled: an install already running may still finish.
            settled = ssm_commands.cancel_and_settle(ssm, event.get("unfinished", []), poll_seconds=self.poll_interval)
            self.log.warning("deadline passed; cancelled %s", ", ".join(f"{c} ({p.status_details})" for c, p in settled.items()))
        batch = {t["instance_id"]: t for t in self._batch(context)}
        invocations = self._invocations(ssm, command_ids)
        # A command aimed at the group's tag also reaches instances tagged in since
        # preflight: they were patched, so they are reported and gated too.
        for instance_id in invocations:
            batch.setdefault(instance_id, {"instance_id": instance_id, "operating_system": None})
        since = datetime.fromisoformat(started_at)
        ran = [i for i, invocation in invocations.items() if invocation.get("StatusDetails") == "Success"]
        states = fresh_patch_states(ssm, sorted(batch), since, wait_for=ran, poll_seconds=self.poll_interval)
        manifest = self._pin_source(context, rollout)[0] if operation == "Install" and self.stage.pin_to else None
        rows, results, evidence = [], [], {}
        for instance_id in sorted(batch):
            target = batch[instance_id]
            invocation = invocations.get(instance_id)
            not_sent = None if invocation is not None or _online(target) else f"NotSent: agent {target.get('ping_status')} at preflight"
            row = self._row(target, invocation, not_sent)
            state = states.get(instance_id)
            if state:
                row["compliant"] = inventory.is_compliant(state)
                row["pending_reboot"] = int(state.get("InstalledPendingRebootCount", 0) or 0) > 0
                row["missing"] = int(state.get("MissingCount", 0) or 0)
                row["failed_patches"] = int(state.get("FailedCount", 0) or 0)
                if manifest is not None:
                    judged = judge_against_manifest(manifest, target.get("operating_system") or "", reported_patches(ssm, instance_id, NOT_YET_INSTALLED_STATES))
                    row.update(compliant=judged.compliant, not_installed=list(judged.not_installed), drift=len(judged.drift),
                               moved_on=[m.to_json() for m in judged.moved_on])
                if self.record_evidence and operation == "Scan":
                    evidence[instance_id] = sorted(p.id for p in reported_patches(ssm, instance_id, NOT_INSTALLED_STATES))
            rows.append(row)
            results.append(InstanceResult.from_row(row))
        if self.record_evidence and operation == "Scan":
            rollout.ledger.put_artifact(f"evidence/{self.stage.name}/missing-before.json", _json(evidence), "application/json")
        thresholds = replace(rollout.thresholds(self.stage), min_targets=0)
        if operation == "Scan":
            # A scan patches nothing: only reachability and command failures gate it.
            thresholds = replace(thresholds, min_compliant_percent=None, max_pending_reboot=None)
        verdict = evaluate_gate(results, thresholds)
        rollout.ledger.append(
            "wave_result",
            stage=self.stage.name,
            wave=self.wave_index,
            operation=operation,
            command_ids=command_ids,
            instances=rows,
            verdict=verdict.to_json(),
            started_at=started_at,
            finished_at=datetime.now(timezone.utc).isoformat(),
            polls=event.get("polls"),
        )
        if not verdict.passed:
            reason = f"{operation.lower()} wave {self.wave_index}: " + "; ".join(verdict.reasons)
            rollout.ledger.append("stage_verdict", stage=self.stage.name, verdict=verdict.to_json())
            block(rollout, self.stage, reason)
        return {"selected": True, "operation": operation, "results": rows, "command_ids": command_ids}


class StageGateOperator(RolloutOperator):
    """The stage's gate over every wave's results: promotion happens only through here."""

    operator_extra_links = (RolloutReportLink(),)

    def __init__(self, *, wave_task_ids: list[str], **kwargs):
        super().__init__(**kwargs)
        self.wave_task_ids = wave_task_ids

    def execute(self, context):
        rollout = self.rollout(context)
        if not rollout.selected(self.stage):
            return {"selected": False}
        rows: dict[str, dict] = {}
        for task_id in self.wave_task_ids:
            result = context["ti"].xcom_pull(task_ids=task_id) or {}
            for row in result.get("results", []):
                rows[row["instance_id"]] = row
        preflight = context["ti"].xcom_pull(task_ids=self.group_task("preflight")) or {}
        for target in preflight.get("targets", []):
            rows.setdefault(
                target["instance_id"],
                {"instance_id": target["instance_id"], "outcome": Outcome.NOT_DISPATCHED.value, "compliant": None, "pending_reboot": False},
            )
        results = [InstanceResult.from_row(row) for row in rows.values()]
        thresholds = rollout.thresholds(self.stage)
        if rollout.params.dry_run:
            thresholds = replace(thresholds, min_compliant_percent=None, max_pending_reboot=None)
        verdict = evaluate_gate(results, thresholds, expected_targets=self.stage.expected_min_targets)
        rollout.ledger.append("stage_verdict", stage=self.stage.name, verdict=verdict.to_json())
        if not verdict.passed:
            block(rollout, self.stage, "gate: " + "; ".join(verdict.reasons))
        return verdict.to_json()


class ManifestOperator(RolloutOperator):
    """What the pin-source stage actually installed becomes the set later stages install, exactly.

    Evidence, not timestamps: a patch is in the manifest when the stage's scan saw it missing on
    an instance and that instance reports it installed after the stage's waves.
    """

    def __init__(self, *, wave_task_ids: list[str], **kwargs):
        super().__init__(**kwargs)
        self.wave_task_ids = wave_task_ids

    def execute(self, context):
        rollout = self.rollout(context)
        if not rollout.selected(self.stage) or rollout.params.dry_run:
            return None
        ssm = rollout.ssm()
        missing_before = json.loads(rollout.ledger.read_artifact(f"evidence/{self.stage.name}/missing-before.json"))
        patched: dict[str, str] = {}
        for task_id in self.wave_task_ids:
            for row in (context["ti"].xcom_pull(task_ids=task_id) or {}).get("results", []):
                if row["outcome"] == Outcome.SUCCEEDED.value and row.get("operating_system"):
                    patched[row["instance_id"]] = row["operating_system"]
        evidence = []
        without_scan = sorted(i for i in patched if i not in missing_before)
        for instance_id in sorted(set(patched) - set(without_scan)):
            installed_after = {p.id: p.title for p in reported_patches(ssm, instance_id, INSTALLED_STATES)}
            evidence.append(InstanceEvidence(patched[instance_id], frozenset(missing_before[instance_id]), installed_after))
        manifest = manifest_from_evidence(self.stage.name, evidence)
        override_lists = {}
        for operating_system in sorted(manifest.patches):
            location = rollout.ledger.put_artifact(
                f"manifest/{self.stage.name}/{operating_system}.yaml", install_override_document(manifest, operating_system), "application/x-yaml"
            )
            override_lists[operating_system] = location
        # Per source stage: two stages can each be the pin source of later ones.
        rollout.ledger.put_artifact(f"manifest/{self.stage.name}/manifest.json", _json(manifest.to_json()), "application/json")
        rollout.ledger.append(
            "manifest",
            stage=self.stage.name,
            content_hash=manifest.content_hash,
            size=manifest.size,
            location=rollout.ledger.artifact_location(f"manifest/{self.stage.name}/manifest.json"),
            override_lists=override_lists,
            nothing_new_for=sorted(os_name for os_name, items in manifest.patches.items() if not items),
            without_scan_evidence=without_scan,
        )
        return {"content_hash": manifest.content_hash, "override_lists": override_lists, "manifest": manifest.to_json()}


class DriftReportOperator(RolloutOperator):
    """For a pinned stage: what its baseline approves that the manifest does not hold (reported, never installed)."""

    def execute(self, context):
        rollout = self.rollout(context)
        if not rollout.selected(self.stage) or not self.stage.pin_to:
            return None
        manifest_json = context["ti"].xcom_pull(task_ids=f"{self.stage.pin_to}.manifest")
        if not manifest_json:
            return None
        manifest = Manifest.from_json(manifest_json["manifest"])
        ssm = rollout.ssm()
        preflight = context["ti"].xcom_pull(task_ids=self.group_task("preflight")) or {}
        approved: dict[str, set[str]] = {}
        for target in preflight.get("targets", []):
            for patch in inventory.instance_patches(ssm, target["instance_id"], states=(MISSING,)):
                approved.setdefault(target.get("operating_system") or "", set()).add(patch["KBId"])
        found = {os_name: drift(manifest, os_name, sorted(ids)) for os_name, ids in sorted(approved.items())}
        found = {k: v for k, v in found.items() if v}
        rollout.ledger.append("drift", stage=self.stage.name, drift=found)
        return found


class SoakOperator(RolloutOperator):
    """Holds promotion for the stage's soak time without holding a worker."""

    def execute(self, context, event=None):
        rollout = self.rollout(context)
        if not rollout.selected(self.stage) or self.stage.soak_seconds <= 0 or rollout.params.dry_run:
            return None
        if event is None:
            until = datetime.now(timezone.utc) + timedelta(seconds=self.stage.soak_seconds)
            self.defer(trigger=DateTimeTrigger(moment=until), method_name="execute", kwargs={"event": {"soaked_until": until.isoformat()}})
        return None


class FinishRunOperator(RolloutOperator):
    """Writes the report whatever happened, and fails unless every selected stage was promoted."""

    def execute(self, context):
        rollout = self.rollout(context)
        records = rollout.ledger.records()
        if not any(r["kind"] == "run_finished" for r in records):
            verdicts = {r["stage"]: r["verdict"]["passed"] for r in records if r["kind"] == "stage_verdict"}
            failures = [r for r in records if r["kind"] == "stage_failed"]
            missing = [s for s in rollout.params.stages if not verdicts.get(s)]
            if failures:
                outcome, stage, reason = "failed", failures[0]["stage"], failures[0]["reason"]
            elif missing:
                outcome, stage, reason = "failed", missing[0], _why_no_verdict(context, missing[0], self.plan.stage(missing[0]).approval is not None)
            else:
                outcome, stage, reason = "promoted", None, ""
            records.append(rollout.ledger.append("run_finished", outcome=outcome, blocking_stage=stage, reason=reason))
        report = build_report(records)
        locations = {
            "json": rollout.ledger.put_artifact("report.json", _json(report), "application/json"),
            "markdown": rollout.ledger.put_artifact("report.md", render_markdown(report), "text/markdown"),
            "html": rollout.ledger.put_artifact("report.html", render_html(report), "text/html"),
        }
        self.log.info("\n%s\n%s", summary_table(report), headline(report))
        notify.send(self.plan, "complete", f"Rollout {self.plan.name}: {report['outcome']}", headline(report) + "\n\n" + summary_table(report), run_id=rollout.run_id,
                    aws_conn_id=self.aws_conn_id)
        if report["outcome"] != "promoted":
            raise AirflowFailException(headline(report))
        return {"outcome": report["outcome"], "report": locations}


def _why_no_verdict(context, stage_name: str, has_approval: bool) -> str:
    """Names the first task of the stage that did not succeed, e.g. a rejected approval."""
    generic = f"stage {stage_name} has no passing gate verdict (a task failed or was rejected before it)"
    try:
        states = context["ti"].get_task_states(dag_id=context["dag_run"].dag_id, task_group_id=stage_name, run_ids=[context["dag_run"].run_id])
    except Exception:  # the wording is a courtesy; the outcome does not depend on it
        return generic
    by_task = next(iter(states.values()), {}) if states else {}
    stopped = [task for task, state in by_task.items() if state in ("failed", "upstream_failed", "skipped", "removed")]
    if not stopped:
        return generic
    # The window task's only upstream is the approval, so its upstream_failed means no approval
    # (the approval task itself is not always among the states returned).
    if by_task.get(f"{stage_name}.approval") == "failed" or (has_approval and by_task.get(f"{stage_name}.window") == "upstream_failed"):
        return f"stage {stage_name} was not approved (rejected, or no answer before the approval timed out)"
    first = sorted(stopped, key=lambda task: (by_task[task] != "failed", task))[0]
    return f"stage {stage_name} stopped at task {first} ({by_task[first]}) before its gate"


def _run_start(context) -> datetime:
    dag_run = context["dag_run"]
    return _aware(getattr(dag_run, "start_date", None) or getattr(dag_run, "run_after", None) or datetime.now(timezone.utc))


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _online(target: dict) -> bool:
    """Whether preflight saw the node's agent online (rows from before ping status was recorded count as online)."""
    return target.get("ping_status", "Online") == "Online"


def _json(data) -> str:
    return json.dumps(data, indent=2, sort_keys=True, default=str)
