"""Where a run stands on the Patch rollouts page, with Airflow's DagRun state as the authority.

The ledger says what each stage did; Airflow says whether the run is still going. A run Airflow
marks failed is failed here whatever its ledger says, a finished run shows no stage running, a run
whose start failed before it wrote a ledger record is still listed, a retried wave is listed once
with its last try's result, and a stage that waits (for its window, its soak, its approval) says so
with patchflow.core.waits' line. Pure, like patchflow.ui.model.
"""
from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Mapping, Sequence

from patchflow.core.report_records import SCOPE_KEYS, Wave
from patchflow.core.waits import PHRASES, Wait

# Airflow's DagRun states in which the run has ended (the others: queued, running).
FINISHED_IN_AIRFLOW = ("success", "failed")
# A run's outcome on the page -> whether it is over; "running" and "queued" are not.
ONGOING_OUTCOMES = ("running", "queued")
# Ledger outcomes that agree with a run Airflow marks failed: they say how it failed.
FAILED_IN_AIRFLOW_AGREES = ("blocked", "failed", "dry_run")  # a dry run's finish task fails so Airflow never shows it promoted


def run_outcome(ledger_outcome: str, airflow_state: str | None) -> str:
    """The run's outcome on the page: the ledger's, unless Airflow says otherwise.

    airflow_state None: Airflow's state was not read (the ledger's outcome stands).
    """
    if airflow_state == "failed" and ledger_outcome not in FAILED_IN_AIRFLOW_AGREES:
        return "failed"
    if airflow_state == "success" and ledger_outcome == "running":
        return "success"  # marked success in Airflow before the ledger recorded an end: nothing says it promoted
    return ledger_outcome


def airflow_headline(ledger_outcome: str, airflow_state: str | None, failed_tasks: Sequence[str]) -> str | None:
    """What the headline says when Airflow overrules the ledger; None when it does not."""
    if run_outcome(ledger_outcome, airflow_state) == ledger_outcome:
        return None
    failed = f" ({', '.join(failed_tasks)} failed)" if failed_tasks else ""
    ledger = "recorded no end" if ledger_outcome == "running" else f"says {ledger_outcome}"
    return f"Airflow marks the run {airflow_state}{failed}; its ledger {ledger}"


def settled_state(state: str, name: str, order: Sequence[str], outcome: str, blocking_stage: str | None) -> str:
    """A stage's state once the run is over: the stage it stopped at blocked (or failed), the stages after it not
    reached, and no stage still running (one Airflow stopped mid-way is `stopped`). While the run goes on, as recorded."""
    if outcome in ONGOING_OUTCOMES or state not in ("running", "not started"):
        return state
    if name == blocking_stage:
        return "blocked" if outcome == "blocked" else "failed"
    if blocking_stage in order and name in order and order.index(name) > order.index(blocking_stage):
        return "not started"
    return "stopped" if state == "running" else state


def wave_counts(waves: Sequence[Wave]) -> dict[str, int]:
    return dict(sum((Counter(wave.counts) for wave in waves), Counter()))


def stage_waits(waits: Sequence[Wait], stage: str, now: datetime) -> list[dict]:
    """The stage's current waits as the page shows them: the line, where (a scope's name, '' for the stage's own), and
    what it waits for in a word or two (for the promotion path's box)."""
    return [
        {"what": wait.what.value, "where": wait.where, "short": PHRASES[wait.what][0],
         "line": f"{wait.where}: {wait.line(now)}" if wait.where else wait.line(now)}
        for wait in waits if wait.stage == stage
    ]


def run_start(started_at: str | None, airflow_run: Mapping | None) -> str | None:
    """When the run started: as its ledger recorded it, else as Airflow did (a run whose start failed recorded none)."""
    if started_at:
        return started_at
    if airflow_run:
        return airflow_run.get("start_date") or airflow_run.get("run_after")
    return None
