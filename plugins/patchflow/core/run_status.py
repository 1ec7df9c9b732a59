"""Where a rollout's DAG run stands, as `patchflow runs status` and `runs follow` say it, and the exit code it ends with.

Airflow is the authority on whether the run is queued, running, failed or succeeded; the ledger says
what each stage did (its waves and verdict), what it waits for and until when (patchflow.core.waits),
and how the run ended. A stage the ledger has not reached yet is read from its task instances: an
approval Airflow awaits, a window task deferred, a task that failed before the stage wrote anything.
Pure: the REST API's JSON and the ledger's records in; lines, JSON and exit codes out.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum
from typing import Any, Iterable, Mapping, Sequence

from patchflow.core.report import build_report, headline
from patchflow.core.report_records import Report, RunOutcome, StageState, Wave
from patchflow.core.waits import PHRASES, Wait, Waiting, current_waits, scope_name

FINISHED_RUN_STATES = ("success", "failed")
ACTIVE_TASK_STATES = ("scheduled", "queued", "running", "deferred", "awaiting_input", "up_for_retry", "up_for_reschedule", "restarting")
STOPPED_TASK_STATES = ("failed", "upstream_failed")


class ExitCode(IntEnum):
    """How `runs follow` ends; `patchflow demo` likewise exits 0 only for a promotion."""

    PROMOTED = 0  # every selected stage installed and passed its gate
    NOT_PROMOTED = 1  # blocked, failed, rejected, or stopped in Airflow
    NOTHING_INSTALLED = 3  # a dry run whose gates passed as scans, or a scheduled run skipped for starting late


@dataclass(frozen=True)
class RunVerdict:
    outcome: str  # a RunOutcome value, or "stopped" (failed in Airflow before the ledger recorded an end) or "unconfirmed"
    line: str
    exit_code: ExitCode

    def to_json(self) -> dict[str, Any]:
        return {"outcome": self.outcome, "line": self.line, "exit_code": int(self.exit_code)}


@dataclass(frozen=True)
class StageStatus:
    name: str
    state: str  # a StageState value, "waiting", "stopped" or "not in this run"
    detail: str = ""  # why it was blocked or stopped, or which tasks are active
    waits: tuple[Wait, ...] = ()
    asked_in_airflow: tuple[Waiting, ...] = ()  # waits Airflow shows that no ledger record names yet
    waves: tuple[Wave, ...] = ()

    def wait_lines(self, now: datetime) -> list[str]:
        lines = [wait.line(now) + (f" [{wait.where}]" if wait.where else "") for wait in self.waits]
        return lines + [airflow_wait_line(what) for what in self.asked_in_airflow]

    def to_json(self, now: datetime) -> dict[str, Any]:
        return {
            "name": self.name,
            "state": self.state,
            "detail": self.detail,
            "waits": [{**wait.to_fields(), "where": wait.where, "line": wait.line(now)} for wait in self.waits]
            + [{"stage": self.name, "what": what.value, "until": None, "line": airflow_wait_line(what)} for what in self.asked_in_airflow],
            "waves": [{"label": wave_label(wave), "line": wave_line(wave), **wave.to_json()} for wave in self.waves],
        }


# What Airflow shows of a wait the ledger has no record of: the approval task awaiting input, the window task deferred.
AIRFLOW_SAYS = {Waiting.APPROVAL: "awaits an answer", Waiting.WINDOW: "defers the window task", Waiting.SOAK: "defers the soak task"}
WAITING_TASKS = {"approval": (Waiting.APPROVAL, "awaiting_input"), "window": (Waiting.WINDOW, "deferred"), "soak": (Waiting.SOAK, "deferred")}


def airflow_wait_line(what: Waiting) -> str:
    return f"{PHRASES[what][0]} (Airflow {AIRFLOW_SAYS[what]})"


@dataclass(frozen=True)
class RunStatus:
    dag_id: str
    run_id: str
    airflow_state: str
    started_at: str | None
    report: Report
    stages: tuple[StageStatus, ...]
    verdict: RunVerdict | None

    def lines(self, now: datetime) -> list[str]:
        since = f" since {self.started_at}" if self.started_at else ""
        out = [f"run {self.run_id} of {self.dag_id}: {self.airflow_state} in Airflow{since}"]
        facts = [f"change ticket {self.report.change_ticket}"] if self.report.change_ticket else []
        facts += ["dry run (scan only)"] if self.report.dry_run else []
        if facts:
            out.append("  " + ", ".join(facts))
        width = max((len(stage.name) for stage in self.stages), default=0)
        for stage in self.stages:
            said = stage.wait_lines(now) if stage.state == "waiting" else [stage.state + (f": {stage.detail}" if stage.detail else "")]
            out.append(f"  {stage.name:<{width}}  {said[0]}")
            out += [f"  {'':<{width}}  {line}" for line in said[1:]]
            out += [f"  {'':<{width}}    {wave_line(wave)}" for wave in stage.waves]
        if self.verdict is not None:
            out.append(self.verdict.line)
        return out

    def to_json(self, now: datetime) -> dict[str, Any]:
        return {
            "dag_id": self.dag_id,
            "run_id": self.run_id,
            "state": self.airflow_state,
            "started_at": self.started_at,
            "change_ticket": self.report.change_ticket,
            "dry_run": self.report.dry_run,
            "stages": [stage.to_json(now) for stage in self.stages],
            "verdict": None if self.verdict is None else self.verdict.to_json(),
        }


def run_status(dag_run: Mapping[str, Any], task_instances: Iterable[Mapping[str, Any]], records: Sequence[Mapping[str, Any]],
               plan_stages: Sequence[str]) -> RunStatus:
    """The run from Airflow's dag run and task instances (the REST API's JSON) and the run's ledger records."""
    report = build_report(records)
    tasks = {ti["task_id"]: ti.get("state") or "none" for ti in task_instances}
    selected = selected_stages(dag_run, report, plan_stages)
    reported = {stage.name: stage for stage in report.stages}
    waits = current_waits(records)
    stages = tuple(
        stage_status(name, name in selected, reported.get(name), [w for w in waits if w.stage == name], tasks, dag_run.get("state", ""))
        for name in [*plan_stages, *(name for name in reported if name not in plan_stages)]
    )
    return RunStatus(
        dag_id=dag_run.get("dag_id", ""),
        run_id=dag_run.get("dag_run_id", ""),
        airflow_state=dag_run.get("state", ""),
        started_at=dag_run.get("start_date"),
        report=report,
        stages=stages,
        verdict=run_verdict(dag_run.get("state", ""), report, tasks),
    )


def selected_stages(dag_run: Mapping[str, Any], report: Report, plan_stages: Sequence[str]) -> set[str]:
    """The stages the run patches: as its start recorded them, else as it was triggered, else all."""
    if report.started_at:
        return {stage.name for stage in report.stages}
    asked = (dag_run.get("conf") or {}).get("stages")
    return set(asked) if isinstance(asked, list) and asked else set(plan_stages)


def stage_status(name: str, selected: bool, reported, waits: list[Wait], tasks: Mapping[str, str], run_state: str) -> StageStatus:
    if not selected:
        return StageStatus(name, "not in this run")
    state = reported.state if reported is not None else StageState.NOT_STARTED
    waves = reported.waves if reported is not None else ()
    if state in (StageState.PROMOTED, StageState.SCANNED):
        return StageStatus(name, state.value, waves=waves)
    if state is StageState.BLOCKED:
        reasons = (reported.verdict.reasons if reported.verdict else None) or ()
        return StageStatus(name, state.value, "; ".join(reasons) or (reported.error or ""), waves=waves)
    if state is StageState.FAILED:
        return StageStatus(name, state.value, reported.error or "", waves=waves)
    own = {task_id: task_state for task_id, task_state in tasks.items() if task_id.startswith(f"{name}.")}
    if run_state not in FINISHED_RUN_STATES:
        recorded = {wait.what for wait in waits}
        asked = tuple(
            what for task, (what, task_state) in WAITING_TASKS.items() if own.get(f"{name}.{task}") == task_state and what not in recorded
        )
        if waits or asked:
            return StageStatus(name, "waiting", waits=tuple(waits), asked_in_airflow=asked, waves=waves)
    stopped = sorted(task_id for task_id, task_state in own.items() if task_state in STOPPED_TASK_STATES)
    if stopped:
        return StageStatus(name, "stopped", ", ".join(f"{task_id} {own[task_id]}" for task_id in stopped), waves=waves)
    active = sorted(task_id for task_id, task_state in own.items() if task_state in ACTIVE_TASK_STATES)
    if state is StageState.RUNNING or active:
        return StageStatus(name, StageState.RUNNING.value, ", ".join(f"{task_id} {own[task_id]}" for task_id in active), waves=waves)
    return StageStatus(name, state.value, waves=waves)


def wave_label(wave: Wave) -> str:
    label = "scan" if wave.operation == "Scan" else f"wave {wave.wave}"
    where = scope_name(wave.where)
    return f"{label} in {where}" if where else label


def wave_line(wave: Wave) -> str:
    """'wave 2: 5 instances, 4 succeeded, 1 failed; gate passed'."""
    counts = ", ".join(f"{wave.counts[key]} {key.replace('_', ' ')}" for key in ("succeeded", "failed", "timed_out", "unreachable", "not_dispatched", "cancelled")
                       if wave.counts.get(key))
    gate = {True: "gate passed", False: "gate blocked", None: "no verdict"}[wave.verdict.passed]
    reasons = f" ({'; '.join(wave.verdict.reasons)})" if wave.verdict.passed is False and wave.verdict.reasons else ""
    size = f"{wave.targets} instance{'' if wave.targets == 1 else 's'}"
    return f"{wave_label(wave)}: {size}{', ' + counts if counts else ''}; {gate}{reasons}"


def run_verdict(airflow_state: str, report: Report, tasks: Mapping[str, str]) -> RunVerdict | None:
    """None while Airflow runs it; Airflow says whether it failed, the ledger says how."""
    if airflow_state not in FINISHED_RUN_STATES:
        return None
    outcome = report.outcome
    if airflow_state == "success":
        if outcome is RunOutcome.PROMOTED:
            return RunVerdict(outcome.value, headline(report), ExitCode.PROMOTED)
        if outcome is RunOutcome.SKIPPED:
            return RunVerdict(outcome.value, headline(report), ExitCode.NOTHING_INSTALLED)
        return RunVerdict("unconfirmed", f"UNCONFIRMED: the run succeeded in Airflow, but its ledger records no promotion (outcome {outcome.value})",
                          ExitCode.NOT_PROMOTED)
    if outcome is RunOutcome.DRY_RUN:
        return RunVerdict(outcome.value, headline(report), ExitCode.NOTHING_INSTALLED)
    if outcome in (RunOutcome.BLOCKED, RunOutcome.FAILED):
        return RunVerdict(outcome.value, headline(report), ExitCode.NOT_PROMOTED)
    stopped = sorted(task_id for task_id, state in tasks.items() if state == "failed")
    why = f": {', '.join(stopped)} failed" if stopped else ": it was marked failed"
    if outcome is RunOutcome.RUNNING:
        return RunVerdict("stopped", f"STOPPED in Airflow before the run finished{why}", ExitCode.NOT_PROMOTED)
    return RunVerdict("stopped", f"STOPPED: the run failed in Airflow after its ledger recorded {outcome.value}{why}", ExitCode.NOT_PROMOTED)


@dataclass(frozen=True)
class Change:
    """One thing `runs follow` prints once: the key says whether it was printed already."""

    key: tuple
    event: str  # run | stage | wait | wave | verdict
    stage: str | None
    line: str

    def to_json(self) -> dict[str, Any]:
        return {"event": self.event, "stage": self.stage, "line": self.line}


def changes(status: RunStatus, now: datetime) -> list[Change]:
    """Everything worth a line as the run stands now; `follow` prints those whose key it has not printed before."""
    found = [Change(("run", status.airflow_state), "run", None, f"run {status.run_id}: {status.airflow_state} in Airflow")]
    for stage in status.stages:
        if stage.state in ("not started", "not in this run"):
            continue
        if stage.state == "waiting":
            for wait in stage.waits:
                found.append(Change(("wait", stage.name, wait.what.value, wait.where, wait.until.isoformat()), "wait", stage.name,
                                    f"{stage.name}: {wait.line(now)}" + (f" [{wait.where}]" if wait.where else "")))
            for what in stage.asked_in_airflow:
                found.append(Change(("wait", stage.name, what.value, "", None), "wait", stage.name, f"{stage.name}: {airflow_wait_line(what)}"))
        else:
            said = stage.state + (f": {stage.detail}" if stage.detail and stage.state != StageState.RUNNING.value else "")
            found.append(Change(("stage", stage.name, stage.state), "stage", stage.name, f"{stage.name}: {said}"))
        for wave in stage.waves:
            found.append(Change(("wave", stage.name, wave_label(wave)), "wave", stage.name, f"{stage.name} {wave_line(wave)}"))
    if status.verdict is not None:
        found.append(Change(("verdict",), "verdict", None, status.verdict.line))
    return found
