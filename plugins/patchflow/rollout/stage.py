"""The rollout's other operators: the run's start and finish, and each stage's window, preflight, gate,
manifest, drift report and soak. Decisions live in the pure core; these only move data.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone

from airflow.providers.standard.triggers.temporal import DateTimeTrigger
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from patchflow.rollout import health, notify
from patchflow.core.drift_sample import DRIFT_NODES_PER_OS, drift_samples
from patchflow.core.gates import InstanceResult, Outcome, evaluate_gate
from patchflow.core.adoption_tasks import double_patching_warning
from patchflow.core.approval_answers import Answer, recorded_answer
from patchflow.core.maintenance_windows import SsmWindowRef
from patchflow.core.manifest import (
    InstanceEvidence,
    Manifest,
    drift,
    install_override_document,
    manifest_from_evidence,
    missing_before_artifact,
    read_missing_before,
    select_evidence,
)
from patchflow.core.patch_states import INSTALLED_STATES, MISSING
from patchflow.core.plan import Stage
from patchflow.core.plan_check import START_CHECK, GroupFound, check_lines, group_problems, start_block
from patchflow.core.preflight import baselines_in_force, ledger_baselines
from patchflow.core.records import RecordKind, WaveRow, patched_instances
from patchflow.core.report import build_report, headline, summary_table
from patchflow.core.report_records import RunOutcome
from patchflow.core.promotion import ReleaseFrom, release_sources
from patchflow.core.releases import Release, ReleaseEvent, ReleaseEventKind, choose_release, release_id_for
from patchflow.core.scheduled_runs import refused_start, scheduled_selection
from patchflow.core.scope_gates import ScopeResults, evaluate_scopes
from patchflow.core.scopes import Scope
from patchflow.core.stage_windows import answer_json, stage_window, start_refusal, window_decision, window_label
from patchflow.core.waits import Wait, Waiting
from patchflow.rollout.base import RolloutOperator, artifact_json, block, manifest_artifact, pinned_release, preflight_targets, task_rows, write_finish_artifacts
from patchflow.rollout.links import RolloutReportLink
from patchflow.aws import inventory
from patchflow.aws.ledger import RunLedger
from patchflow.aws.plan_check import check_stages
from patchflow.aws.compliance import reported_patches
from patchflow.aws.side_by_side import read_each
from patchflow.aws import maintenance_windows as ssm_windows
from patchflow.aws import wave_tags


class StartRunOperator(RolloutOperator):
    """Validates the trigger form, opens the ledger and checks that every selected stage can run
    (patchflow.core.plan_check). Nothing is sent if the params are bad or any stage cannot run.

    A scheduled run that starts too late after its time (or finds no stage due) ends here as
    skipped: it records why, and every later task of the run is skipped with it.
    """

    def execute(self, context):
        rollout = self.rollout(context)
        selected = [s for s in self.plan.stages if rollout.selected(s)]
        found = self._read_ssm_windows(rollout, selected)
        answers = {key: answer_json(read) for key, read in found.items() if not isinstance(read, str)}
        rollout.ledger.append(
            RecordKind.RUN_STARTED,
            plan=self.plan.name,
            stages=list(rollout.params.stages),
            all_stages=[s.name for s in self.plan.stages],
            patch_groups={s.name: s.patch_group for s in self.plan.stages},
            dry_run=rollout.params.dry_run,
            change_ticket=rollout.params.change_ticket,
            params=dict(context["params"]),
            **({"ssm_windows": answers} if found else {}),
        )
        if rollout.scheduled_at is not None:
            self._refuse_a_surprise_run(rollout)
        self._check_every_stage(rollout, selected)
        # Fail closed before anything is sent: a health gate whose selector matches no alarm would watch nothing.
        unmatched = health.first_unmatched_selector(rollout, selected)
        if unmatched is not None:
            block(rollout, unmatched[0], unmatched[1])
        # Likewise a stage whose SSM window is missing, disabled or over: it could never start.
        now = datetime.now(timezone.utc)
        for stage in selected:
            refusal = start_refusal(stage.window, found, now)
            if refusal is not None:
                block(rollout, stage, refusal)
        releases = self._choose_releases(rollout)
        return {"stages": list(rollout.params.stages), "dry_run": rollout.params.dry_run, "releases": releases, "ssm_windows": answers}

    def _check_every_stage(self, rollout, selected) -> None:
        """Before anything is sent anywhere: each selected stage can run in each account and Region it patches
        (the account reached, its patch group there, enough targets, registered baselines where required);
        every problem of every stage blocks the run in one reason."""
        checks = check_stages(selected, lambda scope, service: rollout.in_scope(scope).client(service))
        for line in check_lines(self.plan.name, checks):
            self.log.info("%s", line)
        blocked = start_block(checks)
        if blocked is None:
            return
        for check in checks:
            if check.problems:
                rollout.in_scope(check.scope).ledger.append(RecordKind.STAGE_FAILED, stage=check.stage, reason=f"{START_CHECK}: {'; '.join(check.problems)}")
        stage_name, reason = blocked
        block(rollout, self.plan.stage(stage_name), reason)

    def _read_ssm_windows(self, rollout, selected) -> dict[str, dict | str]:
        """Every SSM window the selected stages name, read once now: the reference -> SSM's answer, or why there is none."""
        # A window lives in an account and Region: the stage's first scope's.
        refs = {stage.window.name_or_id: (stage.window, stage.scopes[0]) for stage in selected if isinstance(stage.window, SsmWindowRef)}
        if not refs:
            return {}
        found = {key: ssm_windows.find_window(rollout.in_scope(scope).ssm(), ref) for key, (ref, scope) in refs.items()}
        for key, read in found.items():
            if not isinstance(read, str):
                self.log.info("SSM window %s: %s (%s), schedule %s in %s, %s h, cutoff %s h, next execution %s", key, read.get("WindowId"),
                              "enabled" if read.get("Enabled") else "disabled", read.get("Schedule"), read.get("ScheduleTimezone") or "UTC",
                              read.get("Duration"), read.get("Cutoff"), read.get("NextExecutionTime") or "none")
        return found

    def _refuse_a_surprise_run(self, rollout) -> None:
        """A scheduled run patches only on time: too late after its time, or with no stage due, it records why and is skipped."""
        for reason in scheduled_selection(self.plan, rollout.scheduled_at).left_out:
            self.log.warning("scheduled run for %s: %s; it waits for a run of its own", rollout.scheduled_at.isoformat(), reason)
        refused = refused_start(self.plan, rollout.scheduled_at, datetime.now(timezone.utc))
        if refused is None:
            return
        rollout.ledger.append(RecordKind.RUN_FINISHED, outcome=RunOutcome.SKIPPED.value, blocking_stage=None, reason=refused)
        raise AirflowSkipException(refused)

    def _choose_releases(self, rollout) -> dict[str, dict]:
        """For each pinned stage whose source is not in this run: the release it installs, chosen now; none stops the run here."""
        chosen: dict[str, dict] = {}
        sources = release_sources(self.plan, rollout.params.stages)
        if not any(source.kind != ReleaseFrom.THIS_RUN for source in sources):
            return chosen
        now = datetime.now(timezone.utc)
        standings = rollout.releases.standings()
        requested = rollout.params.release
        for source in sources:
            stage = self.plan.stage(source.stage)
            if source.kind == ReleaseFrom.SAME_AS:
                chosen[stage.name] = chosen[source.from_stage]
                continue
            if source.kind != ReleaseFrom.LEDGER:
                continue
            choice = choose_release(standings, source.rule, now, requested)
            requested = ""  # a named release is installed by the first stage that takes one from the ledger; later ones follow it
            if choice.standing is None:
                block(rollout, stage, f"no release to install: {choice.reason}")
            release = choice.standing.release
            self.log.info("stage %s installs %s", stage.name, choice.standing.summary(self.plan.stage_names, now))
            rollout.ledger.append(
                RecordKind.RELEASE_CHOSEN,
                stage=stage.name,
                release=release.to_json(),
                reason=choice.reason,
                age_seconds=int(choice.standing.age(now).total_seconds()),
                standing=choice.standing.summary(self.plan.stage_names, now),
            )
            chosen[stage.name] = release.to_json()
        return chosen


class MaintenanceWindowOperator(RolloutOperator):
    """Waits, deferred, until the stage's window is open with time left to start work."""

    def execute(self, context, event=None):
        rollout = self.rollout(context)
        if not rollout.selected(self.stage) or self.stage.window is None:
            return {"open": True, "window": None}
        answers, now = ssm_window_answers(context), datetime.now(timezone.utc)
        decision = window_decision(self.stage.name, self.stage.window, answers, now)
        if decision.refusal is not None:
            block(rollout, self.stage, decision.refusal)
        self.log.info("%s", decision.message)
        if decision.can_start_work:
            return {"open": True, "last_start_at": decision.last_start_at.isoformat()}
        followed = stage_window(self.stage.window, answers, now)  # a window: it has a next opening
        begin_wait(self, rollout, Wait(self.stage.name, Waiting.WINDOW, decision.wait_until, followed.schedule.timezone,
                                       window_label(self.stage.window, answers)))
        self.defer(trigger=DateTimeTrigger(moment=decision.wait_until), method_name="execute")


def begin_wait(operator: RolloutOperator, rollout, wait: Wait) -> None:
    """Records what the stage waits for before its task defers, so the page and `patchflow runs status` can say it,
    and says it in the task log."""
    rollout.ledger.append(RecordKind.WAITING, **wait.to_fields())
    operator.log.info("stage %s: %s", wait.stage, wait.line(datetime.now(timezone.utc)))


class PreflightOperator(RolloutOperator):
    """Resolves the stage's targets through SSM and fails loudly on anything that would mislead the gate."""

    def execute(self, context):
        rollout = self.rollout(context)
        if not rollout.selected(self.stage):
            return {"selected": False, "target_count": 0}
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
        warnings = self._window_warnings(context, ssm)
        # The targets stay in the ledger; the stage's later tasks read them by this reference (rollout.base.preflight_targets).
        targets_record = rollout.ledger.append_referenced(
            RecordKind.PREFLIGHT,
            stage=self.stage.name,
            patch_group=self.stage.patch_group,
            targets=[m.to_json() for m in members],
            offline=offline,
            warnings=warnings,
            **baseline_fields,
        )
        for warning in warnings:
            self.log.warning("stage %s: %s", self.stage.name, warning)
        # The run's start checked this already; the fleet may have changed while the run waited for a window.
        problems = group_problems(self.stage, GroupFound({m.instance_id: m.operating_system for m in members}, in_force))
        if offline:
            self.log.warning("offline agents in %s: %s", self.stage.patch_group, ", ".join(offline))
        if problems:
            reason = "; ".join(problems)
            rollout.ledger.append(RecordKind.STAGE_FAILED, stage=self.stage.name, reason=reason)
            block(rollout, self.stage, f"preflight: {reason}")
        alarm_names = health.check_alarms_at_preflight(rollout, self.stage)
        return {"selected": True, "targets_record": targets_record, "target_count": len(members), "offline_count": len(offline),
                "baselines": baselines, "alarm_names": alarm_names}

    def _window_warnings(self, context, ssm) -> list[str]:
        """A warning, not a block: the stage's SSM window still runs its own patch task on the same nodes."""
        if not isinstance(self.stage.window, SsmWindowRef):
            return []
        answer = ssm_window_answers(context).get(self.stage.window.name_or_id)
        if not answer:
            return []
        warning = double_patching_warning(answer, ssm_windows.window_tasks(ssm, answer["WindowId"]))
        return [warning] if warning else []


@dataclass(frozen=True)
class ScopePart:
    """One account and Region of a stage that has several: where its preflight and its waves' rows are."""

    scope: Scope
    preflight_task_id: str
    wave_task_ids: list[str]


class StageGateOperator(RolloutOperator):
    """The stage's gate over every wave's results: promotion happens only through here.

    In a stage with several accounts or Regions, each scope's group ends in a gate of its own (a block
    there leaves the scopes after it untouched), and the stage's gate judges them all together and each
    on its own (patchflow.core.scope_gates).
    """

    operator_extra_links = (RolloutReportLink(),)

    def __init__(self, *, wave_task_ids: list[str], scope_parts: list[ScopePart] | None = None, **kwargs):
        super().__init__(**kwargs)
        self.wave_task_ids = wave_task_ids
        self.scope_parts = list(scope_parts or [])

    def execute(self, context):
        rollout = self.rollout(context)
        if not rollout.selected(self.stage):
            return {"selected": False}
        thresholds = rollout.thresholds(self.stage)
        if rollout.params.dry_run:
            thresholds = replace(thresholds, min_compliant_percent=None, max_pending_reboot=None)
        if self.scope_parts:
            by_scope = [ScopeResults(part.scope.name, part.scope.to_json(),
                                     tuple(stage_results(context, rollout.ledger, part.preflight_task_id, part.wave_task_ids)))
                        for part in self.scope_parts]
            verdict_json = evaluate_scopes(by_scope, thresholds, expected_targets=self.stage.expected_min_targets)
        else:
            results = stage_results(context, rollout.ledger, self.group_task("preflight"), self.wave_task_ids)
            verdict_json = evaluate_gate(results, thresholds, expected_targets=self.stage.expected_min_targets).to_json()
        passed = bool(verdict_json["passed"])
        rollout.ledger.append(RecordKind.STAGE_VERDICT, stage=self.stage.name, verdict=verdict_json)
        # A scope's own gate passing is not the stage passing: only the stage's gate records that its release passed.
        whole_stage = self.scope_group is None
        if self.stage.pin_to and not rollout.params.dry_run and (whole_stage or not passed):
            # The release this stage installed passed it, or was blocked here: later runs choose by this.
            release_id = pinned_release(context, rollout, self.stage).release_id
            if release_id:
                kind = ReleaseEventKind.PASSED if passed else ReleaseEventKind.BLOCKED
                rollout.releases.add_event(ReleaseEvent(release_id, kind, datetime.now(timezone.utc), stage=self.stage.name, run_id=rollout.run_id))
        if not passed:
            block(rollout, self.stage, "gate: " + "; ".join(verdict_json["reasons"]))
        return verdict_json


def stage_results(context, ledger: RunLedger, preflight_task_id: str, wave_task_ids: list[str]) -> list[InstanceResult]:
    """Every target's latest row from the waves; a target preflight found that no wave reached counts as not dispatched."""
    rows = {row.instance_id: row for row in wave_rows(context, ledger, wave_task_ids)}
    for target in preflight_targets(context, ledger, preflight_task_id):
        rows.setdefault(target["instance_id"], WaveRow(target["instance_id"], None, Outcome.NOT_DISPATCHED))
    return [InstanceResult.from_row(row) for row in rows.values()]


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
        evidence_file = missing_before_artifact(self.stage.name)
        missing_before = read_missing_before(rollout.ledger.read_artifact(evidence_file), rollout.ledger.artifact_location(evidence_file))
        selection = select_evidence(patched_instances(wave_rows(context, rollout.ledger, self.wave_task_ids)), missing_before)
        scanned = list(selection.with_scan.items())
        listings = read_each(lambda node: reported_patches(ssm, node[0], INSTALLED_STATES), scanned)
        evidence = [
            InstanceEvidence(operating_system, missing_before[instance_id], {p.id: p.title for p in listed})
            for (instance_id, operating_system), listed in zip(scanned, listings)
        ]
        manifest = manifest_from_evidence(self.stage.name, evidence)
        override_lists = {}
        for operating_system in sorted(manifest.patches):
            location = rollout.ledger.put_artifact(
                f"manifest/{self.stage.name}/{operating_system}.yaml", install_override_document(manifest, operating_system), "application/x-yaml"
            )
            override_lists[operating_system] = location
        # Per source stage: two stages can each be the pin source of later ones.
        rollout.ledger.put_artifact(manifest_artifact(self.stage.name), artifact_json(manifest.to_json()), "application/json")
        rollout.ledger.append(
            RecordKind.MANIFEST,
            stage=self.stage.name,
            content_hash=manifest.content_hash,
            size=manifest.size,
            location=rollout.ledger.artifact_location(manifest_artifact(self.stage.name)),
            override_lists=override_lists,
            nothing_new_for=sorted(os_name for os_name, items in manifest.patches.items() if not items),
            without_scan_evidence=list(selection.without_scan),
            release_id=release_id_for(manifest.content_hash),
            patches=manifest.to_json()["patches"],
        )
        release = self._record_release(context, rollout, manifest, override_lists)
        # Not the manifest itself: its patches grow with what the fleet was missing; pinned_release reads them from the ledger.
        return {"content_hash": manifest.content_hash, "override_lists": override_lists, "size": manifest.size, "release_id": release.id}

    def _record_release(self, context, rollout, manifest: Manifest, override_lists: dict[str, str]) -> Release:
        """The manifest this stage proved becomes a release later runs can install (the gate before this task passed)."""
        now = datetime.now(timezone.utc)
        gate = context["ti"].xcom_pull(task_ids=self.group_task("gate")) or {}
        release = Release(
            id=release_id_for(manifest.content_hash),
            plan=self.plan.name,
            source_stage=self.stage.name,
            source_dag_id=rollout.dag_id,
            source_run_id=rollout.run_id,
            created_at=now,
            content_hash=manifest.content_hash,
            size=manifest.size,
            manifest_location=rollout.ledger.artifact_location(manifest_artifact(self.stage.name)),
            override_lists=override_lists,
            gate_summary="; ".join(gate.get("reasons", [])),
        )
        passed = ReleaseEvent(release.id, ReleaseEventKind.PASSED, now, stage=self.stage.name, run_id=rollout.run_id)
        return rollout.releases.record(release, passed)


class DriftReportOperator(RolloutOperator):
    """For a pinned stage: what its baseline approves that the manifest does not hold (reported, never installed), from a bounded sample of nodes."""

    def execute(self, context):
        rollout = self.rollout(context)
        if not rollout.selected(self.stage) or not self.stage.pin_to:
            return None
        if not context["ti"].xcom_pull(task_ids=f"{self.stage.pin_to}.manifest"):
            return None
        manifest = pinned_release(context, rollout, self.stage).manifest
        ssm = rollout.ssm()
        samples = drift_samples(preflight_targets(context, rollout.ledger, self.group_task("preflight")), DRIFT_NODES_PER_OS)
        approved = {
            os_name: {patch["KBId"] for instance_id in sample.listed for patch in inventory.instance_patches(ssm, instance_id, states=(MISSING,))}
            for os_name, sample in samples.items()
        }
        found = {os_name: drift(manifest, os_name, sorted(ids)) for os_name, ids in approved.items()}
        found = {k: v for k, v in found.items() if v}
        rollout.ledger.append(RecordKind.DRIFT, stage=self.stage.name, drift=found, drift_read={os_name: s.to_json() for os_name, s in samples.items()})
        return found


class SoakOperator(RolloutOperator):
    """Holds promotion for the stage's soak time without holding a worker; with a health gate, watching its alarms."""

    def __init__(self, *, poll_interval: float = 15.0, **kwargs):
        super().__init__(**kwargs)
        self.poll_interval = poll_interval

    def execute(self, context, event=None):
        rollout = self.rollout(context)
        if not rollout.selected(self.stage) or self.stage.soak_seconds <= 0 or rollout.params.dry_run:
            return None
        if event is not None:  # the soak without alarms is over
            return None
        until = datetime.now(timezone.utc) + timedelta(seconds=self.stage.soak_seconds)
        watched = self.stage.health is not None and bool(self.stage.health.alarms)
        begin_wait(self, rollout, Wait(self.stage.name, Waiting.SOAK, until, "UTC", "watching its alarms" if watched else ""))
        if watched:
            health.watch_alarms(self, context, rollout, self.poll_interval, until)  # resumes in soak_watched
        else:
            self.defer(trigger=DateTimeTrigger(moment=until), method_name="execute", kwargs={"event": {"soaked_until": until.isoformat()}})

    def soak_watched(self, context, event=None):
        health.soak_watched(self, context, self.rollout(context), event or {})


class FinishRunOperator(RolloutOperator):
    """Writes the report whatever happened, and fails unless every selected stage was promoted.

    A dry run installs nothing, so it promotes nothing: one whose every gate passed as a scan ends
    `dry_run`, and this task fails with its headline (DRY RUN: nothing was installed ...), so Airflow's
    run state never shows a dry run as a promotion. Only a promotion, or a scheduled run skipped for
    starting too late, ends this task successfully.
    """

    def execute(self, context):
        rollout = self.rollout(context)
        # Wave tags a wave task left on its nodes (patchflow.aws.wave_tags), wherever the run's stages patched.
        scopes = dict.fromkeys(scope for name in rollout.params.stages for scope in self.plan.stage(name).scopes)
        wave_tags.sweep_run({scope.name: (lambda scope=scope: rollout.in_scope(scope).client("ec2")) for scope in scopes}, rollout.run_token,
                            self.log.warning)
        records = rollout.ledger.records()
        if not any(r["kind"] == RecordKind.RUN_FINISHED for r in records):
            verdicts = {r["stage"]: r["verdict"]["passed"] for r in records if r["kind"] == RecordKind.STAGE_VERDICT}
            failures = [r for r in records if r["kind"] == RecordKind.STAGE_FAILED]
            missing = [s for s in rollout.params.stages if not verdicts.get(s)]
            if failures:
                outcome, stage, reason = "failed", failures[0]["stage"], failures[0]["reason"]
            elif missing:
                outcome, stage, reason = "failed", missing[0], _why_no_verdict(context, self.plan.stage(missing[0]), records)
            else:
                outcome, stage, reason = (RunOutcome.DRY_RUN if rollout.params.dry_run else RunOutcome.PROMOTED).value, None, ""
            records.append(rollout.ledger.append(RecordKind.RUN_FINISHED, outcome=outcome, blocking_stage=stage, reason=reason))
        report = build_report(records)
        locations = write_finish_artifacts(rollout.ledger, report)
        self.log.info("\n%s\n%s", summary_table(report), headline(report))
        notify.send(self.plan, "complete", f"Rollout {self.plan.name}: {report.outcome.value}", headline(report) + "\n\n" + summary_table(report), run_id=rollout.run_id,
                    aws_conn_id=self.aws_conn_id)
        if report.outcome not in (RunOutcome.PROMOTED, RunOutcome.SKIPPED):  # a skipped run patched nothing: it did not fail
            raise AirflowFailException(headline(report))
        return {"outcome": report.outcome.value, "report": locations}


def _why_no_verdict(context, stage: Stage, records) -> str:
    """Names the first task of the stage that did not succeed: a rejected or unanswered approval as recorded, or the
    task that failed."""
    stage_name = stage.name
    answer = recorded_answer(records, stage_name)
    if answer is not None and answer.answer is not Answer.APPROVED:
        return answer.sentence()
    generic = f"stage {stage_name} has no passing gate verdict (a task failed or was rejected before it)"
    try:
        states = context["ti"].get_task_states(dag_id=context["dag_run"].dag_id, task_group_id=stage_name, run_ids=[context["dag_run"].run_id])
    except Exception:  # the wording is a courtesy; the outcome does not depend on it
        return generic
    by_task = next(iter(states.values()), {}) if states else {}
    stopped = [task for task, state in by_task.items() if state in ("failed", "upstream_failed", "skipped", "removed")]
    if not stopped:
        return generic
    # The window task's only upstream is the approval, so its upstream_failed means the approval failed
    # (the approval task itself is not always among the states returned).
    approval_failed = by_task.get(f"{stage_name}.approval") == "failed" or by_task.get(f"{stage_name}.window") == "upstream_failed"
    if stage.approval is not None and answer is None and approval_failed:
        return f"stage {stage_name}'s approval task failed before an answer was recorded: its log in Airflow says why"
    first = sorted(stopped, key=lambda task: (by_task[task] != "failed", task))[0]
    return f"stage {stage_name} stopped at task {first} ({by_task[first]}) before its gate"


def ssm_window_answers(context) -> dict[str, dict]:
    """SSM's answers for the run's SSM windows, as the run's start read them (the reference -> GetMaintenanceWindow)."""
    return (context["ti"].xcom_pull(task_ids="start") or {}).get("ssm_windows", {})


def wave_rows(context, ledger: RunLedger, wave_task_ids: list[str]) -> list[WaveRow]:
    """Every row the stage's waves passed on, in wave order (a later wave's row for an instance comes later)."""
    return [row for task_id in wave_task_ids for row in task_rows(context, ledger, task_id)]
