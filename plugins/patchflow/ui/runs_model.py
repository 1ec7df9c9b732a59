"""The page's rollout runs: the ledger's reports joined with Airflow's DagRuns, newest first, and each plan's latest run.

Airflow lists every run; the ledger says what a run did. A run Airflow has and the ledger does not
(its start failed before it wrote a record, or its ledger is one the page does not read, as a `make demo`
run's, kept in the simulated fleet that stopped with it) is listed from Airflow alone. Pure, like
patchflow.ui.model, on which it builds.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Mapping, Sequence

from patchflow.core.links import dag_run_url
from patchflow.core.report_page import AttentionDigest
from patchflow.core.report_records import Report
from patchflow.core.waits import Wait
from patchflow.ui.model import OUTCOME_LOOK, STAGE_LOOK, format_time, humanize_duration, parse_time, run_summary
from patchflow.ui.run_state_model import run_start
from patchflow.ui.stage_model import not_reached_row

# Airflow's DagRun state -> the outcome of a run the ledger holds nothing of.
AIRFLOW_ONLY_OUTCOMES = {"failed": "failed", "success": "success", "running": "running", "queued": "queued"}
EPOCH = datetime.min.replace(tzinfo=timezone.utc)

RunKey = tuple[str, str]  # (dag_id, run_id)


def run_entries(reports: Sequence[Report], airflow_runs: Sequence[Mapping], dag_ids: Sequence[str]) -> list[tuple[Report | None, Mapping | None]]:
    """Every run once, newest first: (its report, its Airflow run), either None when only the other has it.
    Airflow's runs of DAGs that are no plan's on the page are left out."""
    by_key = {(run["dag_id"], run["run_id"]): run for run in airflow_runs if run.get("dag_id") in set(dag_ids)}
    entries: list[tuple[Report | None, Mapping | None]] = [(report, by_key.pop((report.dag_id, report.run_id), None)) for report in reports]
    entries += [(None, run) for run in by_key.values()]

    def started(entry) -> datetime:
        report, airflow_run = entry
        return parse_time(run_start(report.started_at if report else None, airflow_run)) or EPOCH

    return sorted(entries, key=started, reverse=True)


def airflow_only_summary(airflow_run: Mapping, plan: Mapping | None, *, base_url: str | None) -> dict:
    """A run the ledger holds nothing of, as Airflow has it: its state, its failed tasks, the plan's stages not reached."""
    state = airflow_run.get("state") or "queued"
    outcome = AIRFLOW_ONLY_OUTCOMES.get(state, state)
    outcome_text, tone = OUTCOME_LOOK.get(outcome, (state.capitalize(), "idle"))
    failed = list(airflow_run.get("failed_tasks", []))
    started = airflow_run.get("start_date") or airflow_run.get("run_after")
    if failed:
        headline = f"{', '.join(failed)} failed before the run wrote a ledger record"
    elif outcome in ("running", "queued"):
        headline = f"{state} in Airflow; no ledger record yet"
    else:
        headline = f"{state} in Airflow; the ledger holds no record of this run"
    label, stage_tone = STAGE_LOOK["not started"]
    stages = [stage_view["name"] for stage_view in (plan or {}).get("stages", [])]
    groups = {stage_view["name"]: stage_view.get("patch_group", "") for stage_view in (plan or {}).get("stages", [])}
    return {
        "plan": (plan or {}).get("name") or airflow_run["dag_id"],
        "dag_id": airflow_run["dag_id"],
        "run_id": airflow_run["run_id"],
        "started_at": started,
        "finished_at": airflow_run.get("end_date"),
        "when": format_time(started),
        "took": humanize_duration(started, airflow_run.get("end_date")),
        "outcome": outcome,
        "outcome_text": outcome_text,
        "tone": tone,
        "headline": headline,
        "dry_run": bool((airflow_run.get("conf") or {}).get("dry_run")),
        "change_ticket": (airflow_run.get("conf") or {}).get("change_ticket") or "",
        "dag_run_url": dag_run_url(base_url, airflow_run["dag_id"], airflow_run["run_id"]),
        "report_url": "",  # no record, no report
        "instances_url": "",
        "attention": None,
        "stages": [not_reached_row(name, groups[name]) for name in stages],
        "manifests": [],
        "path": [{"name": name, "patch_group": groups[name], "state": "not started", "label": label, "tone": stage_tone} for name in stages],
        "airflow": {"state": state, "failed_tasks": failed},
    }


def run_summaries(
    reports: Sequence[Report], airflow_runs: Sequence[Mapping], waits: Mapping[RunKey, Sequence[Wait]], plan_by_dag: Mapping[str, Mapping], *,
    base_url: str | None, region: str | None, now: datetime, limit: int, attention: Mapping[RunKey, AttentionDigest] | None = None,
) -> list[dict]:
    """The newest `limit` runs, from the ledger and from Airflow, each as the page lists it; `attention` of the runs read
    from their page.json."""
    summaries = []
    for report, airflow_run in run_entries(reports, airflow_runs, list(plan_by_dag))[:limit]:
        if report is None:
            summaries.append(airflow_only_summary(airflow_run, plan_by_dag.get(airflow_run["dag_id"]), base_url=base_url))
            continue
        summaries.append(run_summary(report, plan_by_dag.get(report.dag_id), base_url=base_url, region=region, airflow_run=airflow_run,
                                     waits=waits.get((report.dag_id, report.run_id), ()), now=now,
                                     attention=(attention or {}).get((report.dag_id, report.run_id))))
    return summaries


def latest_runs(reports: Sequence[Report], plan_by_dag: Mapping[str, Mapping], *, base_url: str | None, region: str | None,
                airflow_runs: Sequence[Mapping] = (), waits: Mapping[RunKey, Sequence[Wait]] | None = None,
                now: datetime | None = None, attention: Mapping[RunKey, AttentionDigest] | None = None) -> tuple[dict[str, dict], dict[str, dict]]:
    """Per DAG: its latest run that was not a dry run, and the latest dry run after that one (if any).

    A dry run installs nothing, so the promotion path is the latest real run's, a block included; a dry
    run since then is only named beside it. Every report counts, not only the recent runs the page lists;
    a run the ledger holds nothing of patched nothing and moves no path. Airflow's state overrules the ledger's.
    """
    real: dict[str, dict] = {}
    dry: dict[str, dict] = {}
    for report, airflow_run in run_entries(reports, airflow_runs, [report.dag_id for report in reports]):
        if report is None or report.dag_id in real or (report.dry_run and report.dag_id in dry):
            continue
        run = run_summary(report, plan_by_dag.get(report.dag_id), base_url=base_url, region=region, airflow_run=airflow_run,
                          waits=(waits or {}).get((report.dag_id, report.run_id), ()), now=now,
                          attention=(attention or {}).get((report.dag_id, report.run_id)))
        (dry if report.dry_run else real)[report.dag_id] = run
    return real, dry


def dry_run_note(run: Mapping | None) -> dict | None:
    return None if run is None else {key: run[key] for key in ("run_id", "dag_run_url", "outcome_text", "when")}


def promotion(run: Mapping, dry_run_since: Mapping | None = None) -> dict:
    promoted = {key: run[key] for key in ("plan", "dag_id", "run_id", "dag_run_url", "outcome_text", "tone", "path", "when")}
    return {**promoted, "dry_run_since": dry_run_note(dry_run_since)}


def airflow_notice(airflow: Mapping | None) -> dict | None:
    """Why runs are listed as their ledger alone says, when Airflow's run states could not be read."""
    if airflow is None or airflow.get("ok"):
        return None
    failure = airflow.get("failure") or {}
    return {
        "level": "warning", "source": "airflow", "kind": failure.get("kind", "error"), "title": "Airflow's run states could not be read",
        "detail": f"{failure.get('detail') or 'no reason given'}; runs show what their ledger says, and runs without ledger records are missing.",
        "action": "Check the API server's metadata database connection (the API server log names the cause), then reload.",
    }
