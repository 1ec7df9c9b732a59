"""What every rollout operator shares: the run's plan, params, ledger and SSM clients, and how a stage blocks.

Every task records what it did in the run ledger before it reports, so a
crash never loses a send or a verdict, and a retry can find what was sent.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Any, Mapping

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException

from patchflow.rollout import notify
from patchflow.core.gates import GateThresholds
from patchflow.core.health import VerificationRun, with_verification
from patchflow.aws.ledger import RunLedger, open_store
from patchflow.aws.release_store import ReleaseStore
from patchflow.core.manifest import Manifest
from patchflow.core.plan import RolloutPlan, Stage
from patchflow.core.records import RecordKind, WaveRow
from patchflow.core.report import render_html, render_markdown
from patchflow.core.report_instances import INSTANCES_CSV, instances_csv
from patchflow.core.report_page import PAGE_JSON, page_json
from patchflow.core.report_records import Report
from patchflow.core.releases import Release
from patchflow.core.errors import InvalidInput
from patchflow.core.run_params import RunParams, refused_params_reason, validate_run_params
from patchflow.core.scheduled_runs import scheduled_selection
from patchflow.core.scopes import DEFAULT_SCOPE, Scope
from patchflow.aws.scope_access import access_for
from patchflow.aws import commands as ssm_commands
from patchflow.rollout.triggers import CommandCompletionTrigger, aws_client_for, ssm_client_for, ssm_send_client_for


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
    scheduled_at: datetime | None = None  # the time Airflow scheduled this run for; None for a run somebody triggered
    scope: Scope = DEFAULT_SCOPE  # the account and Region this task works in

    @property
    def access(self) -> dict | None:
        """How this task reaches its scope (patchflow.aws.scope_access.Access as JSON); None: the connection's own."""
        return scope_access_json(self.scope, self.run_id)

    def ssm(self):
        return ssm_client_for(self.aws_conn_id, self.region_name, self.access)

    def ssm_for_send(self):
        return ssm_send_client_for(self.aws_conn_id, self.region_name, self.access)

    def client(self, service: str):
        """A client of `service` in this task's scope."""
        return aws_client_for(service, self.aws_conn_id, self.region_name, access=self.access)

    def in_scope(self, scope: Scope) -> "Rollout":
        """The same run seen from another scope: its clients work there and its records say so."""
        return replace(self, scope=scope, ledger=replace(self.ledger, where=scope.to_json() if not scope.is_default else {}))

    def selected(self, stage: Stage) -> bool:
        return stage.name in self.params.stages

    def thresholds(self, stage: Stage) -> GateThresholds:
        return self.params.gate_for(stage)

    @property
    def releases(self) -> ReleaseStore:
        return ReleaseStore(self.ledger.store, self.plan.name)

    @property
    def run_token(self) -> str:
        # Scoped to this DAG run: a retried task finds its own commands by it, never another run's.
        return hashlib.sha256(f"{self.dag_id}/{self.run_id}".encode()).hexdigest()[:12]


class RolloutOperator(BaseOperator):
    ui_color = "#e8f1fb"

    def __init__(self, *, plan: RolloutPlan, stage: Stage | None = None, aws_conn_id: str | None = "aws_default", region_name: str | None = None,
                 scope: Scope = DEFAULT_SCOPE, scope_group: str | None = None, **kwargs):
        super().__init__(**kwargs)
        self.plan = plan
        self.stage = stage
        self.aws_conn_id = aws_conn_id
        self.region_name = region_name
        # The account and Region this task works in, and the task group of that scope inside the stage's
        # (None when the stage has one scope: its tasks sit in the stage's group, as a single-account stage's do).
        self.scope = scope
        self.scope_group = scope_group

    def rollout(self, context) -> Rollout:
        dag_run = context["dag_run"]
        try:
            params, scheduled_at = run_params(self.plan, context)
        except InvalidInput as refused:
            # What the form's schema cannot know (a limit looser than a selected stage's gate): one line in every
            # task of the run (start, and finish, which runs whatever happened), not our stack.
            raise AirflowFailException(refused_params_reason(refused)) from None
        s3_factory = (lambda: aws_client_for("s3", self.aws_conn_id, self.region_name))
        store = open_store(self.plan.ledger_uri, s3_client_factory=s3_factory)
        ledger = RunLedger(store, dag_run.dag_id, dag_run.run_id)
        rollout = Rollout(self.plan, params, ledger, dag_run.dag_id, dag_run.run_id, self.aws_conn_id, self.region_name, scheduled_at)
        return rollout.in_scope(self.scope)

    def group_task(self, name: str) -> str:
        """The id of the task `name` of this task's stage, in this task's scope group when it has one."""
        if self.scope_group:
            return f"{self.stage.name}.{self.scope_group}.{name}"
        return f"{self.stage.name}.{name}"


class CommandSendingOperator(RolloutOperator):
    """A task that sends SSM commands, then waits on them deferred (the patch waves, the health checks).

    Each request goes out at most once per run: a retry re-attaches to the command SSM already lists
    under the request's run-scoped comment. A kill between sending and deferring cancels what was sent.
    """

    poll_interval: float = 5.0

    def scoped_ssm(self, run_id: str):
        """An SSM client in this task's scope where no Rollout is at hand (on_kill, Airflow's own time-out)."""
        return ssm_client_for(self.aws_conn_id, self.region_name, scope_access_json(self.scope, run_id))

    def send_or_reattach(self, context, rollout: Rollout, requests, already) -> list[str]:
        """The command id of every request, in order: found in `already` (comment -> progress) or sent now."""
        ssm, sender, since_run_start = rollout.ssm(), rollout.ssm_for_send(), run_start(context)
        self._run_id = rollout.run_id
        # What an earlier call of this try sent (a wave's follow-up commands come after its first ones): a kill cancels all.
        in_flight_before = list(getattr(self, "_in_flight", []))
        command_ids: list[str] = []
        for request in requests:
            if request.comment in already:
                command_ids.append(already[request.comment].command_id)
                self.log.info("re-attached to %s sent earlier for %r", already[request.comment].command_id, request.comment)
                continue
            command_id, found = ssm_commands.send_command_at_most_once(sender, ssm, request, since_run_start)
            if found:
                self.log.warning("SendCommand for %r failed, but SSM had accepted it as %s; not sent again", request.comment, command_id)
            command_ids.append(command_id)
            self._in_flight = in_flight_before + command_ids
        return command_ids

    def wait_for(self, context, command_ids: list[str], started: datetime, deadline: datetime, echo: dict, document_names: list[str] | None = None) -> None:
        """Defers until every command is terminal or the deadline passes; resumes in execute_complete."""
        context["ti"].xcom_push(key="command_ids", value=command_ids)
        self.defer(
            trigger=CommandCompletionTrigger(
                command_ids=command_ids,
                invoked_after=started.isoformat(),
                deadline=deadline.isoformat(),
                poll_interval=self.poll_interval,
                aws_conn_id=self.aws_conn_id,
                region_name=self.region_name,
                echo=echo,
                document_names=document_names,
                access=scope_access_json(self.scope, context["dag_run"].run_id),
            ),
            method_name="execute_complete",
        )

    def on_kill(self) -> None:
        # Killed on a worker between sending and deferring: what was sent must not keep running on the nodes.
        sent = getattr(self, "_in_flight", [])
        if sent:
            ssm_commands.cancel_commands(self.scoped_ssm(getattr(self, "_run_id", "")), sent)
            self.log.warning("task killed; cancelled %s", ", ".join(sent))


def scope_access_json(scope: Scope, run_id: str) -> dict | None:
    """How a task reaches `scope` (patchflow.aws.scope_access.Access), as a trigger carries it; None: the connection's own."""
    found = access_for(scope, run_id)
    return found.to_json() if found is not None else None


def block(rollout: Rollout, stage: Stage, reason: str, *, kind: RecordKind = RecordKind.RUN_FINISHED) -> None:
    """Record the block, tell people, and fail the task so the run is visibly failed; the reason names the scope."""
    if not rollout.scope.is_default:
        reason = f"{rollout.scope.name}: {reason}"
    rollout.ledger.append(kind, outcome="blocked", blocking_stage=stage.name, reason=reason)
    notify.send(rollout.plan, "block", f"Rollout {rollout.plan.name} blocked at {stage.name}", reason, run_id=rollout.run_id, stage=stage,
                aws_conn_id=rollout.aws_conn_id)
    raise AirflowFailException(f"stage {stage.name} blocked: {reason}")


@dataclass(frozen=True)
class PinnedRelease:
    """What a pinned stage installs: the manifest, its install override list per OS, and the release's id."""

    manifest: Manifest
    override_lists: dict[str, str]
    release_id: str


def manifest_artifact(stage_name: str) -> str:
    """Where in its run's ledger a pin-source stage's manifest is (patchflow.core.manifest.Manifest.to_json())."""
    return f"manifest/{stage_name}/manifest.json"


def pinned_release(context, rollout: Rollout, stage: Stage) -> PinnedRelease:
    """The source stage's manifest made in this run, or the release chosen from the ledger when the run started."""
    if stage.pin_to in rollout.params.stages:
        found = context["ti"].xcom_pull(task_ids=f"{stage.pin_to}.manifest")
        if not found:
            block(rollout, stage, f"stage is pinned to {stage.pin_to}, whose manifest is missing (did {stage.pin_to} pass its gate in this run?)")
        # The manifest task passes on only the manifest's hash; the patches are in the manifest.json it wrote.
        manifest = Manifest.from_json(json.loads(rollout.ledger.read_artifact(manifest_artifact(stage.pin_to))))
        if manifest.content_hash != found["content_hash"]:
            block(rollout, stage, f"the manifest {stage.pin_to} made in this run has content {manifest.content_hash[:12]}, expected {found['content_hash'][:12]}")
        return PinnedRelease(manifest, dict(found["override_lists"]), found.get("release_id", ""))
    chosen = (context["ti"].xcom_pull(task_ids="start") or {}).get("releases", {}).get(stage.name)
    if not chosen:
        block(rollout, stage, f"stage is pinned to {stage.pin_to}, which is not in this run, and the run's start chose no release for it")
    release = Release.from_json(chosen)
    source = RunLedger(rollout.ledger.store, release.source_dag_id, release.source_run_id)
    manifest = Manifest.from_json(json.loads(source.read_artifact(manifest_artifact(release.source_stage))))
    if manifest.content_hash != release.content_hash:
        block(rollout, stage, f"release {release.id}: the manifest in run {release.source_run_id} has content {manifest.content_hash[:12]}, expected {release.content_hash[:12]}")
    return PinnedRelease(manifest, dict(release.override_lists), release.id)


# What a stage's tasks pass each other through XCom holds no per-instance rows, which would grow Airflow's database
# with the fleet on every run: only counts and the reference of the ledger record the rows are in (RunLedger.read_record).


def preflight_targets(context, ledger: RunLedger, preflight_task_id: str) -> list[dict]:
    """Every target the stage's preflight found (its ledger record's), in one read; none where the stage was not selected."""
    reference = (context["ti"].xcom_pull(task_ids=preflight_task_id) or {}).get("targets_record")
    return list(ledger.read_record(reference)["targets"]) if reference else []


def task_rows(context, ledger: RunLedger, task_id: str) -> list[WaveRow]:
    """The rows a wave or health task passed on; none where it had none to pass."""
    return returned_rows(ledger, context["ti"].xcom_pull(task_ids=task_id) or {})


def returned_rows(ledger: RunLedger, returned: Mapping[str, Any]) -> list[WaveRow]:
    """The rows behind a wave's or health task's XCom: the wave's rows, with its health check's results on them
    when the task was a health check that verified nodes (as HealthCheckOperator judged them)."""
    reference = returned.get("rows_record")
    if not reference:
        return []
    rows = [WaveRow.from_json(row) for row in ledger.read_record(reference)["instances"]]
    checked = returned.get("verification_record")
    if checked:
        rows = with_verification(rows, VerificationRun.from_json(ledger.read_record(checked)["verification"]).nodes)
    return rows


def run_params(plan: RolloutPlan, context) -> tuple[RunParams, datetime | None]:
    """The run's validated params, and the time it was scheduled for (None for a triggered run)."""
    params = validate_run_params(plan, dict(context["params"]))
    scheduled_at = scheduled_time(context["dag_run"])
    if scheduled_at is not None:
        # A scheduled run has no trigger form, only its defaults: it patches the stages due at its time,
        # worked out from the run itself so every task of the run sees the same ones.
        params = replace(params, stages=scheduled_selection(plan, scheduled_at).stages)
    return params, scheduled_at


def scheduled_time(dag_run) -> datetime | None:
    """The time Airflow's timetable scheduled the run for; None for manual, API, backfill and other runs people ask for."""
    if getattr(dag_run, "run_type", None) != "scheduled":
        return None
    return _aware(getattr(dag_run, "logical_date", None) or dag_run.run_after)


def run_start(context) -> datetime:
    dag_run = context["dag_run"]
    return _aware(getattr(dag_run, "start_date", None) or getattr(dag_run, "run_after", None) or datetime.now(timezone.utc))


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def artifact_json(data) -> str:
    return json.dumps(data, indent=2, sort_keys=True, default=str)


def write_finish_artifacts(ledger: RunLedger, report: Report) -> dict[str, str]:
    """The finished run's report in every format, beside its records; where each was stored."""
    return {
        "json": ledger.put_artifact("report.json", artifact_json(report.to_json()), "application/json"),
        "markdown": ledger.put_artifact("report.md", render_markdown(report), "text/markdown"),
        "html": ledger.put_artifact("report.html", render_html(report), "text/html"),
        # Every instance's row for a spreadsheet: report.md and report.html list only the ones that need attention.
        "instances": ledger.put_artifact(INSTANCES_CSV, instances_csv(report), "text/csv"),
        # What the Patch rollouts page reads of the run instead of report.json, whose every row it does not show.
        "page": ledger.put_artifact(PAGE_JSON, artifact_json(page_json(report)), "application/json"),
    }
