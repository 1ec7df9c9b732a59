"""The rollout report, built from ledger records alone (no AWS, no Airflow).

`build_report` returns a typed `Report` (patchflow.core.report_records);
report.json (`Report.to_json()`) is the machine-readable truth; report.md and
report.html say the same for people, the nodes that need attention first and
every time as ISO 8601 UTC with a Z. The summary table is what `make demo` prints.
People read a summary and the nodes that need attention, each list capped; every
instance's row is in instances.csv (patchflow.core.report_instances), which both link.

A dry run installs nothing, so it promotes nothing: its outcome is `dry_run` (or where
it stopped), its passing stages are `scanned`, and each lists what it would install.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import timedelta
from typing import Iterable, Mapping, Sequence

from patchflow.core.approval_answers import recorded_answer
from patchflow.core.html_templates import render_template
from patchflow.core.ledger_records import CommandSentRecord, LedgerRecord, PinnedTo, ReleaseChosenRecord, RunFinishedRecord, WaveResultRecord
from patchflow.core.records import RecordKind
from patchflow.core.releases import format_duration
from patchflow.core.report_attention import ATTENTION_COLUMNS, attention_heading, attention_rows
from patchflow.core.report_fields import shown_time
from patchflow.core.report_health import check_line, health_checks, health_verdict, latest_alarms, latest_verifications
from patchflow.core.report_instances import (
    ATTENTION_SHOWN, INSTANCES_CSV, capped, command_cell, command_line, id_list, more_line, outcome_summary, output_tails_markdown, wave_table,
    wave_verified,
)
from patchflow.core.report_patches import PATCH_COLUMNS, installed_patches, list_heading, patch_rows, scans_found_missing
from patchflow.core.report_records import (
    ChosenRelease,
    InstanceRow,
    MovedOn,
    Pin,
    Report,
    RunOutcome,
    SCOPE_KEYS,
    ScopeSummary,
    Stage,
    StageManifest,
    StageState,
    Verdict,
    Wave,
)


def build_report(records: Iterable[LedgerRecord]) -> Report:
    records = sorted(records, key=lambda r: r["at"])
    started = next((r for r in records if r["kind"] == RecordKind.RUN_STARTED), {})
    finished: RunFinishedRecord | None = next((r for r in reversed(records) if r["kind"] == RecordKind.RUN_FINISHED), None)
    # command_sent records carry pinned_to (None when not pinned) since it was introduced; older runs' do not.
    pins_recorded = any("pinned_to" in r for r in records if r["kind"] == RecordKind.COMMAND_SENT)
    # The run's selected stages in its order, then any other stage a record names, in order of appearance.
    names = dict.fromkeys([*started.get("stages", []), *(r["stage"] for r in records if r.get("stage") is not None)])
    dry_run, planned_groups = started.get("dry_run", False), started.get("patch_groups", {})
    stages = [_stage(name, [r for r in records if r.get("stage") == name], dry_run, planned_groups.get(name, "")) for name in names]
    if not pins_recorded:
        # Runs recorded before pinned_to existed: their override lists live under the source's manifest folder.
        manifests = {stage.name: stage.manifest for stage in stages if stage.manifest}
        stages = [replace(stage, pinned_to=_pin_from_override_lists(stage, manifests)) for stage in stages]
    return Report(
        plan=started.get("plan", ""),
        dag_id=started.get("dag_id", records[0]["dag_id"] if records else ""),
        run_id=started.get("run_id", records[0]["run_id"] if records else ""),
        dry_run=dry_run,
        change_ticket=started.get("change_ticket") or "",
        started_at=started.get("at"),
        finished_at=finished.get("at") if finished else None,
        outcome=_outcome(finished, dry_run),
        blocking_stage=finished.get("blocking_stage") if finished else None,
        reason=finished.get("reason", "") if finished else "",
        pins_recorded=pins_recorded,
        stages=tuple(stages),
    )


def _outcome(finished: RunFinishedRecord | None, dry_run: bool) -> RunOutcome:
    if finished is None:
        return RunOutcome.RUNNING
    outcome = RunOutcome(finished.get("outcome"))
    # Runs that finished before dry runs had an outcome of their own recorded a passing dry run as promoted.
    return RunOutcome.DRY_RUN if dry_run and outcome is RunOutcome.PROMOTED else outcome


STATE_AFTER = {
    RecordKind.PREFLIGHT: lambda record: StageState.RUNNING,
    RecordKind.STAGE_VERDICT: lambda record: StageState.PROMOTED if record.get("verdict", {}).get("passed") else StageState.BLOCKED,
    RecordKind.STAGE_FAILED: lambda record: StageState.FAILED,
}


def _stage(name: str, records: Sequence[LedgerRecord], dry_run: bool = False, planned_group: str = "") -> Stage:
    """One stage from its own records, in time order: the latest preflight, verdict, manifest and drift count.

    `planned_group` is the plan's patch group for the stage, as the run's start recorded it: a stage that
    never reached its preflight still names the group it would have patched.
    """

    def latest(kind: RecordKind) -> LedgerRecord | None:
        return next((r for r in reversed(records) if r["kind"] == kind), None)

    sent: list[CommandSentRecord] = [r for r in records if r["kind"] == RecordKind.COMMAND_SENT]
    wave_records: list[WaveResultRecord] = [r for r in records if r["kind"] == RecordKind.WAVE_RESULT]
    preflight, verdict, manifest, drift, failure, chosen = (
        latest(kind) for kind in (RecordKind.PREFLIGHT, RecordKind.STAGE_VERDICT, RecordKind.MANIFEST, RecordKind.DRIFT, RecordKind.STAGE_FAILED,
                                  RecordKind.RELEASE_CHOSEN)
    )
    state = next((STATE_AFTER[r["kind"]](r) for r in reversed(records) if r["kind"] in STATE_AFTER), StageState.NOT_STARTED)
    if dry_run and state is StageState.PROMOTED:
        state = StageState.SCANNED  # its gate passed over scans: nothing was installed
    health = health_checks(records)
    if state in (StageState.RUNNING, StageState.PROMOTED, StageState.SCANNED) and any(not check.passed for check in health):
        # A failed health check ends the run, yet it may come before the stage's preflight record (an alarm
        # already firing) or after its passing verdict (an alarm firing during the soak).
        state = StageState.BLOCKED
    verifications = latest_verifications(records)
    waves = tuple(latest_tries([_wave(r, verifications) for r in wave_records]))
    scopes = _scopes(records)
    gate = verdict.get("verdict", {}) if verdict else None
    counts = dict(gate.get("counts", {})) if gate is not None else {}
    if waves and not counts:
        counts = dict(sum((Counter(wave.counts) for wave in waves), Counter()))
    pins: list[PinnedTo] = [r["pinned_to"] for r in sent if r.get("pinned_to")]
    return Stage(
        name=name,
        patch_group=preflight.get("patch_group", "") if preflight else planned_group,
        state=state,
        targets=sum(scope.targets for scope in scopes) if scopes else len(preflight.get("targets", [])) if preflight else 0,
        offline=_unique(r.get("offline", []) for r in _latest_per_scope(records, RecordKind.PREFLIGHT)),
        baselines=dict(preflight.get("baselines", {})) if preflight else {},
        default_baselines=dict(preflight.get("default_baselines", {})) if preflight else {},
        command_ids=_unique(r.get("command_ids", []) for r in sent),
        waves=waves,
        counts=counts,
        verdict=Verdict(gate.get("passed"), _reasons(gate.get("reasons", []))) if gate is not None else None,
        manifest=StageManifest(manifest.get("content_hash"), manifest.get("size", 0), manifest.get("location")) if manifest else None,
        drift={os_name: tuple(ids) for os_name, ids in drift.get("drift", {}).items()} if drift else {},
        drift_read={os_name: tuple(counts) for os_name, counts in drift.get("drift_read", {}).items()} if drift else {},
        install_override_lists=_unique(r.get("install_override_lists", []) for r in sent),
        pinned_to=Pin(pins[-1]["stage"], pins[-1]["hash"], pins[-1].get("release", "")) if pins else None,
        nothing_new_for=_unique(r.get("nothing_new_for", []) for r in sent),
        not_sent=_unique(r.get("not_sent", []) for r in sent),
        moved_on=_moved_on(wave_records),
        error=failure.get("reason", "") if failure else None,
        release=_chosen_release(chosen) if chosen else None,
        health=health,
        warnings=_unique(r.get("warnings", []) for r in _latest_per_scope(records, RecordKind.PREFLIGHT)),
        scopes=scopes,
        would_install=scans_found_missing(wave_records) if dry_run else None,
        installed=installed_patches(manifest, wave_records),
        approval=answer.sentence() if (answer := recorded_answer(records, name)) is not None else "",
    )


def _where(record: LedgerRecord) -> tuple:
    return tuple(record.get(key) for key in SCOPE_KEYS)


def _latest_per_scope(records: Sequence[LedgerRecord], kind: RecordKind) -> list[LedgerRecord]:
    """The latest record of `kind` in each account and Region, in the order the scopes first wrote one."""
    latest: dict[tuple, LedgerRecord] = {}
    for record in records:
        if record["kind"] == kind:
            latest[_where(record)] = record
    return list(latest.values())


def _scopes(records: Sequence[LedgerRecord]) -> tuple[ScopeSummary, ...]:
    """A stage with targets: each account and Region its preflight reached, with its targets and its own gate's verdict."""
    preflights = [r for r in _latest_per_scope(records, RecordKind.PREFLIGHT) if any(r.get(key) for key in SCOPE_KEYS)]
    verdicts = {_where(r): r.get("verdict", {}) for r in records if r["kind"] == RecordKind.STAGE_VERDICT}
    summaries = []
    for preflight in preflights:
        where = _where(preflight)
        verdict = verdicts.get(where)
        summaries.append(ScopeSummary(*where, targets=len(preflight.get("targets", [])),
                                      verdict=Verdict(verdict.get("passed"), _reasons(verdict.get("reasons", []))) if verdict is not None else None))
    return tuple(summaries)


def _chosen_release(record: ReleaseChosenRecord) -> ChosenRelease:
    release = record["release"]
    return ChosenRelease(
        release["id"], release["source_stage"], release["source_run_id"], release["created_at"], int(record.get("age_seconds", 0)), record.get("reason", ""),
    )


def latest_tries(waves: Sequence[Wave]) -> list[Wave]:
    """Each wave once, where it was first listed, with its last try's result: a retried wave task re-attaches to its
    command and records that command's result again."""
    latest: dict[tuple, Wave] = {}
    for wave in waves:
        latest[(wave.operation, wave.wave, *(wave.where.get(key) for key in SCOPE_KEYS))] = wave
    return list(latest.values())


def _wave(record: WaveResultRecord, verifications: Mapping[str, dict]) -> Wave:
    """One wave_result record; an install wave's rows carry their node's latest verification from the stage's health checks."""
    verdict = record.get("verdict", {})
    # A scan is no install: the health check after the install wave verified what that install did.
    checked = {} if record.get("operation") == "Scan" else verifications
    where = {key: record[key] for key in SCOPE_KEYS if record.get(key) is not None}
    return Wave(
        wave=record.get("wave"),
        operation=record.get("operation", "Install"),
        command_ids=tuple(record.get("command_ids", [])),
        targets=len(record.get("instances", [])),
        counts=dict(verdict.get("counts", {})),
        verdict=Verdict(verdict.get("passed"), _reasons(verdict.get("reasons"))),
        instances=tuple(
            InstanceRow({**row, **where, "verification": checked[row.get("instance_id")]} if row.get("instance_id") in checked else {**row, **where})
            for row in record.get("instances", [])
        ),
        started_at=record.get("started_at"),
        finished_at=record.get("finished_at"),
        where={key: record.get(key) for key in SCOPE_KEYS} if where else {},
    )


def _moved_on(wave_records: Sequence[WaveResultRecord]) -> dict[str, MovedOn]:
    """Patch id -> the version that moved on, with every instance (in wave order) that reported it."""
    moved_on: dict[str, MovedOn] = {}
    for record in wave_records:
        for row in record.get("instances", []):
            for moved in row.get("moved_on", []):
                known = moved_on.get(moved["id"]) or MovedOn(moved["id"], moved["pinned_title"], moved["offered_title"])
                moved_on[moved["id"]] = replace(known, instances=(*known.instances, row["instance_id"]))
    return moved_on


def _pin_from_override_lists(stage: Stage, manifests: Mapping[str, StageManifest]) -> Pin | None:
    return next(
        (Pin(source, manifest.hash) for source, manifest in manifests.items()
         if any(f"/manifest/{source}/" in location for location in stage.install_override_lists)),
        None,
    )


def _unique(lists: Iterable[Iterable[str]]) -> tuple[str, ...]:
    """Every item once, in the order first seen: a retried wave records the same command ids again."""
    return tuple(dict.fromkeys(item for items in lists for item in items))


def _reasons(reasons: Sequence[str] | None) -> tuple[str, ...] | None:
    return None if reasons is None else tuple(reasons)


SUMMARY_HEADER = ("stage", "group", "targets", "succeeded", "failed", "unreachable", "gate", "commands")
# The health column stands right after the gate; a run without health checks keeps the table it always had.
SUMMARY_HEADER_WITH_HEALTH = (*SUMMARY_HEADER[:7], "health", SUMMARY_HEADER[7])


def has_health_checks(report: Report) -> bool:
    return any(stage.health for stage in report.stages)


def has_scopes(report: Report) -> bool:
    return any(stage.scopes for stage in report.stages)


def summary_header(report: Report) -> tuple[str, ...]:
    header = SUMMARY_HEADER_WITH_HEALTH if has_health_checks(report) else SUMMARY_HEADER
    # Where each stage ran stands after its group; a run in the connection's own account keeps the table it always had.
    return (*header[:2], "where", *header[2:]) if has_scopes(report) else header


def where_cell(stage: Stage) -> str:
    """`prod eu-west-1, prod eu-central-1`: each account (alias, else id) and Region the stage reached; `-` for none."""
    return ", ".join(f"{scope.account_alias or scope.account or '-'} {scope.region or '-'}" for scope in stage.scopes) or "-"


def summary_rows(report: Report) -> list[tuple[str, ...]]:
    rows = []
    with_health, with_scopes = has_health_checks(report), has_scopes(report)
    for stage in report.stages:
        counts = stage.counts
        gate = "-" if stage.verdict is None else ("PASS" if stage.verdict.passed else "BLOCK")
        if stage.state is StageState.FAILED:
            gate = "ERROR"
        rows.append(
            (
                stage.name,
                stage.patch_group or "-",
                *([where_cell(stage)] if with_scopes else []),
                str(counts.get("targets", stage.targets)),
                str(counts.get("succeeded", 0)),
                str(counts.get("failed", 0) + counts.get("timed_out", 0)),
                str(counts.get("unreachable", 0) + counts.get("not_dispatched", 0)),
                gate,
                *([_health_cell(stage)] if with_health else []),
                # The per-wave sections carry the full ids.
                command_cell(stage.command_ids),
            )
        )
    return rows


def _health_cell(stage: Stage) -> str:
    verdict = health_verdict(stage.health)
    return "-" if verdict is None else ("PASS" if verdict.passed else "BLOCK")


def summary_table(report: Report) -> str:
    header = summary_header(report)
    rows = [header, *summary_rows(report)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def headline(report: Report) -> str:
    """The run in one line, as the summary, report.md, report.html, the notification and Airflow's task log give it; with its change ticket."""
    said = _outcome_line(report)
    if not report.change_ticket:
        return said
    return f"{said if said.endswith(('.', '!', '?')) else said + '.'} Change ticket: {report.change_ticket}."


def _outcome_line(report: Report) -> str:
    dry = "DRY RUN " if report.dry_run else ""
    if report.outcome is RunOutcome.PROMOTED:
        return f"PROMOTED: every stage of {report.plan} passed its gate."
    if report.outcome is RunOutcome.DRY_RUN:
        return f"DRY RUN: nothing was installed; every gate of {report.plan} passed as a scan."
    if report.outcome is RunOutcome.BLOCKED:
        return f"{dry}BLOCKED at stage {report.blocking_stage}: {report.reason}"
    return f"{dry}{report.outcome.value.upper()}: {report.reason or 'the run did not finish'}"


def render_markdown(report: Report) -> str:
    out = [f"# Patch rollout report: {report.plan}", "", f"**{headline(report)}**", ""]
    out += [
        f"- DAG run: `{report.dag_id}` / `{report.run_id}`",
        f"- Started: {shown_time(report.started_at)}  Finished: {shown_time(report.finished_at)}",
        f"- Dry run (scan only): {'yes' if report.dry_run else 'no'}",
        f"- Change ticket: {report.change_ticket or 'none'}",
        f"- Every instance, one row per wave: [{INSTANCES_CSV}]({INSTANCES_CSV})",
    ]
    attention = attention_rows(report)
    if attention:
        listed = capped(attention, ATTENTION_SHOWN)
        out += ["", f"## {attention_heading(attention)}", "", *_markdown_table(ATTENTION_COLUMNS, [entry.cells() for entry in listed.shown])]
        out += _more_markdown(listed.more)
    out += ["", "## Summary", "", *_markdown_table(summary_header(report), summary_rows(report))]
    for stage in report.stages:
        out += ["", f"## Stage {stage.name} (patch group `{stage.patch_group or '-'}`): {stage.state.value}", ""]
        if stage.error:
            out.append(f"Error: {stage.error}")
        if stage.verdict:
            out.append("Gate: " + ("PASS" if stage.verdict.passed else "BLOCK"))
            out += [f"- {reason}" for reason in stage.verdict.reasons or ()]
        out += _health_markdown(stage)
        out += stage_facts(stage)
        for title, lists in patch_lists(stage):
            out += ["", f"### {list_heading(title, lists)}"]
            out += ["", *_markdown_table(PATCH_COLUMNS, patch_rows(lists))] if patch_rows(lists) else []
        for wave in stage.waves:
            verdict = "PASS" if wave.verdict.passed else "BLOCK"
            out += ["", f"### {wave.operation} wave {wave.wave}: {wave.targets:,} instances, {verdict}", ""]
            out += [f"- {reason}" for reason in wave.verdict.reasons or ()]
            out.append(f"- Outcomes: {outcome_summary(wave)}")
            out.append(f"- Commands: {command_line(wave.command_ids)}; {shown_time(wave.started_at)} to {shown_time(wave.finished_at)}")
            table = wave_table(wave)
            verified = wave_verified(table.shown)
            out += ["", "| instance | os | outcome | status | compliant | pending reboot | command |" + (" health check |" if verified else ""),
                    "|---|---|---|---|---|---|---|" + ("---|" if verified else "")]
            for row in table.shown:
                out.append(
                    f"| {row.instance_id} | {row.operating_system or '-'} | {row.outcome} | {row.status_details} "
                    f"| {_yes_no(row.compliant)} | {_yes_no(row.pending_reboot)} | {row.command_id} |"
                    + (f" {row.verification.shown() if row.verification else '-'} |" if verified else "")
                )
            out += _more_markdown(table.more)
            out += output_tails_markdown(table.shown)
    return "\n".join(out) + "\n"


def _more_markdown(more: int) -> list[str]:
    return ["", more_line(more).replace(INSTANCES_CSV, f"[{INSTANCES_CSV}]({INSTANCES_CSV})")] if more else []


def _markdown_table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header), *("| " + " | ".join(row) + " |" for row in rows)]


def patch_lists(stage: Stage) -> list[tuple[str, Mapping]]:
    """The stage's patch lists with their titles: what a dry run would install, what a pin-source stage installed."""
    lists = [("Would install (the scans found these missing)", stage.would_install)] if stage.would_install is not None else []
    return lists + ([("Installed (the stage's manifest)", stage.installed)] if stage.installed else [])


def _health_markdown(stage: Stage) -> list[str]:
    """The stage's health verdict beside its gate's, then each check and each alarm's latest state."""
    verdict = health_verdict(stage.health)
    if verdict is None:
        return []
    return [
        f"Health: {verdict.text}",
        *(f"- {check_line(check)}" for check in stage.health),
        *(f"- alarm {alarm.describe()}" for alarm in latest_alarms(stage.health)),
    ]


def stage_facts(stage: Stage) -> list[str]:
    """The stage's approval, baselines, offline agents, preflight warnings, manifest, pinning and drift, one sentence each, for every rendering."""
    facts = [f"Approval: {stage.approval}"] if stage.approval else []
    if stage.baselines:
        defaults = stage.default_baselines
        facts.append(
            "Baselines in force: "
            + ", ".join(f"{os}={b or ('OS default ' + defaults[os] if defaults.get(os) else 'OS default')}" for os, b in stage.baselines.items())
        )
    if stage.offline:
        facts.append("Offline agents at preflight: " + id_list(stage.offline))
    facts.extend(f"Warning at preflight: {warning}" for warning in stage.warnings)
    if stage.manifest:
        facts.append(f"Pinned manifest: {stage.manifest.hash} ({stage.manifest.size} patches)")
    if stage.not_sent:
        facts.append("Not sent to (agent not online at preflight), counted unreachable: " + id_list(stage.not_sent))
    if stage.release:
        chosen = stage.release
        facts.append(
            f"Release {chosen.id} from stage {chosen.source_stage} of run {chosen.source_run_id}, "
            f"{format_duration(timedelta(seconds=chosen.age_seconds))} old when this run started: {chosen.reason}"
        )
    if stage.pinned_to:
        source = stage.pinned_to.stage
        release = f" (release {stage.pinned_to.release})" if stage.pinned_to.release else ""
        facts.append(f"Installed only the manifest of stage {source}{release}: {stage.pinned_to.hash}")
        for os_name in stage.nothing_new_for:
            facts.append(f"{source} installed nothing new for {os_name}: its instances here were scanned, nothing was installed")
    for patch_id, moved in stage.moved_on.items():
        facts.append(
            f"Version moved on for {patch_id}: the manifest pins {moved.pinned_title}, the repositories now offer "
            f"{moved.offered_title} (on {id_list(moved.instances)}); run {stage.pinned_to.stage if stage.pinned_to else 'the source stage'} "
            "again to try the new version, rather than looking for a broken node"
        )
    for os_name, ids in stage.drift.items():
        if ids:
            # A drift report lists a bounded sample of a large OS's nodes (patchflow.core.drift_sample); older records do not say.
            listed, of = stage.drift_read.get(os_name, (0, 0))
            sampled = f" (read from {listed:,} of {of:,} {os_name} nodes)" if listed < of else ""
            facts.append(f"Drift on {os_name} (approved here, not in the manifest, not installed): {', '.join(ids)}{sampled}")
    return facts


def _yes_no(value) -> str:
    return "-" if value is None else ("yes" if value else "no")


def render_html(report: Report) -> str:
    """report.html, from templates/report.html (which escapes every value)."""
    return render_template(
        "report.html",
        report=report,
        headline=headline(report),
        summary_header=summary_header(report),
        summary_rows=summary_rows(report),
        stage_facts=stage_facts,
        yes_no=_yes_no,
        health_verdict=health_verdict,
        check_line=check_line,
        latest_alarms=latest_alarms,
        wave_verified=wave_verified,
        wave_table=wave_table,
        outcome_summary=outcome_summary,
        command_line=command_line,
        instances_csv=INSTANCES_CSV,
        shown_time=shown_time,
        attention=attention_rows(report),
        attention_shown=ATTENTION_SHOWN,
        attention_heading=attention_heading,
        attention_columns=ATTENTION_COLUMNS,
        patch_lists=patch_lists,
        list_heading=list_heading,
        patch_rows=patch_rows,
        patch_columns=PATCH_COLUMNS,
    )
