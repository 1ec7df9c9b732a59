"""The Patch rollouts page as plain data: built from plain dicts and typed reports, no I/O, no Airflow, no AWS.

`build_page` takes what `gather` read (plans, the fleet's patch groups, rollout
reports from the ledger as `Report`s, or a failure for each source) and returns everything
the page shows, already decided: counts, percentages, ages, verdict words,
links and the notices that tell a person what to do next. `render` only turns
this into HTML, so every rule here is tested as a table of inputs and outcomes.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Iterable, Mapping, Sequence

from patchflow.aws.inventory import is_compliant
from patchflow.core.links import dag_run_url, report_url
from patchflow.core.report_page import AttentionDigest
from patchflow.core.report_records import Report, RunOutcome
from patchflow.core.waits import Wait
from patchflow.ui.run_state_model import ONGOING_OUTCOMES, airflow_headline, run_outcome, run_start, settled_state, stage_waits
from patchflow.ui.stage_model import attention_view, instances_url, not_reached_row, short_id, shown_state, stage_row

STALE_AFTER_SECONDS = 24 * 3600
DEFAULT_RUN_LIMIT = 10

# Stage state (from patchflow.core.report) -> (what a person reads, colour family)
STAGE_LOOK = {
    "promoted": ("passed", "ok"),
    "running": ("running", "active"),
    "blocked": ("blocked", "bad"),
    "failed": ("failed", "bad"),
    "not started": ("not reached", "idle"),
    "not selected": ("not in this run", "idle"),
    "scanned": ("scanned (dry run)", "idle"),  # a dry run's passing stage: nothing installed, never green
    "waiting": ("waiting", "active"),  # for its window, its soak or its approval (the box says which)
    "stopped": ("stopped", "bad"),  # running when Airflow ended the run
}
OUTCOME_LOOK = {
    "promoted": ("Promoted", "ok"),
    "blocked": ("Blocked", "bad"),
    "failed": ("Failed", "bad"),
    "running": ("Running", "active"),
    "skipped": ("Skipped", "warn"),  # a scheduled run that started too late patched nothing: not a failure, but a patch day missed
    "dry_run": ("Dry run passed", "idle"),  # every gate passed as a scan: nothing installed, nothing promoted
    "success": ("Succeeded in Airflow", "idle"),  # marked success in Airflow with no end in the ledger: not a promotion
    "queued": ("Queued", "idle"),
}

FLEET_PERMISSIONS = (
    "ssm:DescribeInstanceInformation",
    "ssm:DescribeInstancePatchStates",
    "ssm:DescribePatchGroups",
    "ssm:GetPatchBaselineForPatchGroup",
)
LEDGER_PERMISSIONS = ("s3:ListBucket", "s3:GetObject")


# --------------------------------------------------------------------------- small helpers


def parse_time(value: Any) -> datetime | None:
    """A datetime from a datetime or an ISO 8601 string (Z or offset); naive means UTC; None when unreadable."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str) and value.strip():
        text = value.strip().replace("Z", "+00:00").replace(" ", "T", 1)
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            return None
    else:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def humanize_age(seconds: float | None) -> str:
    if seconds is None:
        return "no data"
    seconds = max(0, int(seconds))
    if seconds < 60:
        return "just now"
    for unit, size in (("day", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            count = seconds // size
            if unit == "day":
                return f"{count} day{'s' if count != 1 else ''} ago"
            return f"{count} {unit} ago"
    return "just now"  # pragma: no cover - loop always returns


def format_time(value: Any) -> str:
    moment = parse_time(value)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC") if moment else "-"


def humanize_duration(start: Any, end: Any) -> str:
    begin, finish = parse_time(start), parse_time(end)
    if begin is None or finish is None:
        return ""
    seconds = max(0, int((finish - begin).total_seconds()))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min {seconds} s" if minutes else f"{seconds} s"


def percent(part: int, whole: int) -> float:
    return round(100.0 * part / whole, 1) if whole else 0.0


def _int(state: Mapping, key: str) -> int:
    try:
        return int(state.get(key, 0) or 0)
    except (TypeError, ValueError):
        return 0


# --------------------------------------------------------------------------- patch groups


def ordered_groups(plans: Sequence[Mapping], registered: Iterable[str]) -> list[dict]:
    """Every group a plan patches in the connection's own account and Region (plan and stage order), then any
    other group with a registered baseline there. A stage with targets patches elsewhere (patchflow.ui.scopes_model)."""
    groups: dict[str, dict] = {}
    for plan in plans:
        for stage in plan.get("stages", []):
            if stage.get("scopes"):
                continue
            entry = groups.setdefault(stage["patch_group"], {"name": stage["patch_group"], "used_by": []})
            entry["used_by"].append(f"{plan['name']}/{stage['name']}")
    for name in sorted(set(registered) - set(groups)):
        groups[name] = {"name": name, "used_by": []}
    return list(groups.values())


def group_summary(
    name: str,
    members: Sequence[Mapping],
    states: Mapping[str, Mapping],
    baselines: Mapping[str, Mapping | None],
    now: datetime,
    used_by: Sequence[str] = (),
) -> dict:
    """One patch group's row: counts of instances and patches, baselines in force, how old the data is."""
    ids = [m["instance_id"] for m in members]
    known = {i: states[i] for i in ids if i in states}
    # One set, built once: rebuilding it for each member made a group of 90,000 take minutes.
    compliant_ids = {i for i, s in known.items() if is_compliant(s)}
    compliant, non_compliant = [i for i in known if i in compliant_ids], [i for i in known if i not in compliant_ids]
    no_data = [i for i in ids if i not in known]
    offline = [m["instance_id"] for m in members if m.get("ping_status") != "Online"]
    pending_reboot = [i for i, s in known.items() if _int(s, "InstalledPendingRebootCount") > 0]
    ends = [t for t in (parse_time(s.get("OperationEndTime")) for s in known.values()) if t is not None]
    oldest = (now - min(ends)).total_seconds() if ends else None
    newest = (now - max(ends)).total_seconds() if ends else None
    in_force = {os_name: (b or {}).get("id") for os_name, b in baselines.items()}
    other_baseline = sorted(
        i for i, s in known.items() if s.get("BaselineId") and s.get("BaselineId") not in set(in_force.values())
    )
    operating_systems = sorted({m.get("operating_system") or "unknown" for m in members})
    notes = []
    if not members:
        notes.append("no managed instance carries this patch group's tag")
    if no_data:
        notes.append(
            f"{len(no_data)} instance{'s have' if len(no_data) != 1 else ' has'} no compliance data yet: "
            "run the plan with dry_run (Scan) to collect it"
        )
    if oldest is not None and oldest > STALE_AFTER_SECONDS:
        notes.append(f"compliance data is {humanize_age(oldest).removesuffix(' ago')} old: schedule a daily Scan or run a dry run")
    rejected = [i for i in non_compliant if _int(known[i], "InstalledRejectedCount") > 0]
    if rejected:
        notes.append(f"{len(rejected)} non-compliant instance(s) have a rejected patch installed")
    if other_baseline:
        notes.append(f"{len(other_baseline)} instance(s) were last patched with a baseline that is no longer in force")
    total = len(ids)
    return {
        "name": name,
        "used_by": list(used_by),
        "instances": total,
        "operating_systems": operating_systems,
        "compliant": len(compliant),
        "non_compliant": len(non_compliant),
        "no_data": len(no_data),
        "missing_patches": sum(_int(s, "MissingCount") for s in known.values()),
        "instances_missing": sum(1 for s in known.values() if _int(s, "MissingCount") > 0),
        "failed_patches": sum(_int(s, "FailedCount") for s in known.values()),
        "instances_failed": sum(1 for s in known.values() if _int(s, "FailedCount") > 0),
        "pending_reboot": len(pending_reboot),
        "offline": len(offline),
        "offline_ids": offline,
        "baselines": [
            {
                "os": os_name,
                "id": (baselines[os_name] or {}).get("id") or "",
                "label": _baseline_label(baselines[os_name]),
                "default": bool((baselines[os_name] or {}).get("default")),
            }
            for os_name in sorted(baselines)
        ],
        "data_age": {
            "oldest_seconds": oldest,
            "newest_seconds": newest,
            "text": humanize_age(oldest) if oldest is not None else "no data",
            "stale": oldest is not None and oldest > STALE_AFTER_SECONDS,
        },
        "bar": {
            "compliant": percent(len(compliant), total),
            "non_compliant": percent(len(non_compliant), total),
            "no_data": percent(len(no_data), total),
        },
        "notes": notes,
    }


def _baseline_label(baseline: Mapping | None) -> str:
    if not baseline or not baseline.get("id"):
        return "OS default (none registered)"
    name = baseline.get("name") or ""
    if baseline.get("default"):
        return f"default {name or baseline['id']}".strip()
    return name or baseline["id"]


# --------------------------------------------------------------------------- rollout runs


def dry_run_outcome(report: Report) -> RunOutcome:
    """The run's outcome; a dry run's report.json written before dry runs had an outcome of their own says promoted."""
    return RunOutcome.DRY_RUN if report.dry_run and report.outcome is RunOutcome.PROMOTED else report.outcome


def run_summary(report: Report, plan: Mapping | None, *, base_url: str | None, region: str | None, airflow_run: Mapping | None = None,
                waits: Sequence[Wait] = (), now: datetime | None = None, attention: AttentionDigest | None = None) -> dict:
    """One rollout run from its report (patchflow.core.report.build_report): verdicts, reasons, links, the path picture;
    Airflow's state of the run (gather.airflow_run_view) overrules the ledger's, and its current `waits` show on their stages.
    `attention`: the nodes that need attention as the run's page.json has them, its report then keeping only their rows."""
    ledger_outcome = dry_run_outcome(report).value
    airflow_state = (airflow_run or {}).get("state")
    outcome = run_outcome(ledger_outcome, airflow_state)
    outcome_text, outcome_tone = OUTCOME_LOOK.get(outcome, (outcome.capitalize(), "idle"))
    pins = {s.name: s.pinned_to.stage for s in report.stages if s.pinned_to}
    if not report.pins_recorded:
        # Runs recorded before command_sent carried pinned_to: where their records cannot say, the plan
        # file is the only witness left, though it may have changed since the run.
        pins = {**{s["name"]: s.get("pin_to") for s in (plan or {}).get("stages", [])}, **pins}
    planned_groups = {s["name"]: s.get("patch_group", "") for s in (plan or {}).get("stages", [])}
    stages = []
    manifests = []
    for stage in report.stages:
        if stage.manifest and stage.manifest.hash:
            manifests.append({"stage": stage.name, "hash": stage.manifest.hash, "short": short_id(stage.manifest.hash, 12), "size": stage.manifest.size})
        row = stage_row(stage, patch_group=stage.patch_group or planned_groups.get(stage.name, ""), pinned_to=pins.get(stage.name), region=region,
                        dry_run=report.dry_run)
        row["state"] = settled_state(row["state"], stage.name, [s.name for s in report.stages], outcome, report.blocking_stage)
        if outcome in ONGOING_OUTCOMES and now is not None:
            row["waits"] = stage_waits(waits, stage.name, now)
        if row["waits"] and row["state"] not in ("blocked", "failed"):
            row["state"] = "waiting"
        stages.append(row)
    if report.started_at is None:  # the start failed before it recorded the run's stages: the plan's, none reached
        stages += [not_reached_row(name, group) for name, group in planned_groups.items() if name not in {s.name for s in report.stages}]
        stages = [{**row, "state": settled_state(row["state"], row["name"], list(planned_groups), outcome, report.blocking_stage)} for row in stages]
    failed_tasks = list((airflow_run or {}).get("failed_tasks", []))
    started_at = run_start(report.started_at, airflow_run)
    return {
        "plan": report.plan or (plan or {}).get("name", ""),
        "dag_id": report.dag_id,
        "run_id": report.run_id,
        "started_at": started_at,
        "finished_at": report.finished_at,
        "when": format_time(started_at),
        "took": humanize_duration(started_at, report.finished_at),
        "outcome": outcome,
        "outcome_text": outcome_text,
        "tone": outcome_tone,
        "headline": airflow_headline(ledger_outcome, airflow_state, failed_tasks) or _headline(report),
        "dry_run": report.dry_run,
        "change_ticket": report.change_ticket,
        "dag_run_url": dag_run_url(base_url, report.dag_id, report.run_id),
        "report_url": report_url(base_url, report.dag_id, report.run_id),
        "instances_url": instances_url(base_url, report.dag_id, report.run_id),
        "attention": attention_view(report, attention),  # the summary and the failures only: every node's row is in instances.csv
        "stages": stages,
        "manifests": manifests,
        "path": promotion_path(report, plan, stages),
        "airflow": None if airflow_run is None else {"state": airflow_state, "failed_tasks": failed_tasks},
    }


def _headline(report: Report) -> str:
    outcome = dry_run_outcome(report)
    if outcome is RunOutcome.DRY_RUN:
        return "dry run: every stage passed its gate as a scan; nothing was installed"
    if outcome is RunOutcome.PROMOTED:
        return "every stage passed its gate"
    dry = "dry run " if report.dry_run else ""
    if outcome is RunOutcome.RUNNING:
        return f"{dry}in progress"
    reason = report.reason or "no reason recorded"
    return f"{dry}stopped at {report.blocking_stage}: {reason}" if report.blocking_stage else f"{dry}{reason}".strip()


def promotion_path(report: Report, plan: Mapping | None, rows: Sequence[Mapping] = ()) -> list[dict]:
    """dev -> test -> prod as this run left it: every stage of the plan, in order, with its state; `rows` (the run's
    stage rows) give the states as the run stands, Airflow's word and the waits included. A waiting box says for what."""
    by_name = {s.name: s for s in report.stages}
    shown = {row["name"]: row for row in rows}
    names = [s["name"] for s in (plan or {}).get("stages", [])] or list(by_name)
    names += [n for n in by_name if n not in names]
    path = []
    for name in names:
        stage = by_name.get(name)
        row = shown.get(name, {})
        state = row.get("state") or ("not selected" if stage is None else shown_state(stage, report.dry_run))
        label, tone = STAGE_LOOK.get(state, (state, "idle"))
        waits = row.get("waits") or []
        if state == "waiting" and waits:
            label = waits[0]["short"]
        group = (stage.patch_group if stage else "") or next(
            (s["patch_group"] for s in (plan or {}).get("stages", []) if s["name"] == name), ""
        )
        path.append({"name": name, "patch_group": group, "state": state, "label": label, "tone": tone,
                     **({"waits": [wait["line"] for wait in waits]} if state == "waiting" else {})})
    return path


# --------------------------------------------------------------------------- failures and notices


def failure_notice(failure: Mapping) -> dict:
    """What went wrong reading a source, and what a person can do about it. Never a stack trace."""
    source = failure.get("source", "ssm")
    where = failure.get("where") or ""
    detail = failure.get("detail") or ""
    kind = failure.get("kind", "error")
    what = "the fleet (AWS Systems Manager)" if source == "ssm" else "the run ledger"
    What = what[0].upper() + what[1:]
    needed = FLEET_PERMISSIONS if source == "ssm" else LEDGER_PERMISSIONS
    if kind == "unreachable":
        title = "The fleet is unreachable" if source == "ssm" else "The run ledger is unreachable"
        body = f"{What} did not answer{' at ' + where if where else ''}: {detail}."
        if source == "ssm":
            body += " Patch group figures cannot be shown until it answers."
            action = (
                "Check the API server's network route and AWS_ENDPOINT_URL / region. Locally, start the simulated "
                "fleet with `make airflow` (or `python -m fleetsim serve --fleet include/fleets/demo.yaml`), then reload."
            )
        else:
            action = "Check that the API server can reach S3 (or the simulated fleet, which also serves the ledger locally), then reload."
    elif kind == "no_permission":
        title = f"No permission to read {what}"
        body = f"Airflow's AWS identity was refused: {detail}."
        action = f"Grant the API server's role {', '.join(needed)} (see include/iam/), then reload."
    elif kind == "not_configured":
        title = f"No AWS credentials or region for {what}"
        body = detail
        action = "Give the API server an AWS role (or AWS_* environment variables and AWS_DEFAULT_REGION), then reload."
    elif kind == "throttled":
        title = f"{What} is throttling requests"
        body = detail
        action = "Wait a minute and reload; a large fleet may need a higher SSM API rate limit."
    elif kind == "missing":
        title = "No rollouts yet"
        body = f"The ledger {where} does not exist yet ({detail})."
        action = "Trigger a rollout DAG (it creates records on its first step), or run `make demo` locally."
    else:
        title = f"Could not read {what}"
        body = detail or "an unexpected error; the API server log has the details"
        action = "Reload; if it persists, the API server log names the cause."
    return {"level": "error" if kind not in ("missing", "throttled") else "warning", "source": source, "kind": kind, "title": title, "detail": body, "action": action}


def merge_failures(failures: Iterable[Mapping]) -> list[dict]:
    """One failure per kind and detail, naming every place it happened (two plans often share a ledger bucket)."""
    merged: dict[tuple[str, str], dict] = {}
    for failure in failures:
        key = (failure.get("kind", "error"), failure.get("detail", ""))
        if key in merged:
            wheres = merged[key]["where"].split(", ") if merged[key]["where"] else []
            if failure.get("where") and failure["where"] not in wheres:
                merged[key]["where"] = ", ".join([*wheres, failure["where"]])
        else:
            merged[key] = dict(failure)
    return list(merged.values())


# --------------------------------------------------------------------------- the whole page


def build_page(
    *,
    plans: Sequence[Mapping],
    plan_problems: Sequence[str] = (),
    fleet: Mapping,
    ledger: Mapping,
    now: datetime,
    base_url: str | None = "",
    user: str | None = None,
    run_limit: int = DEFAULT_RUN_LIMIT,
    scoped_fleets: Sequence[Mapping] = (),
    airflow: Mapping | None = None,
) -> dict:
    """Everything the page shows.

    fleet:  {"ok": True, "region": str, "registered": [group, ...], "groups": {name: {"members": [...], "states": {...}, "baselines": {...}}}}
            or {"ok": False, "failure": {...}}
    ledger: {"ok": True, "reports": [Report, ...], "failures": [failure, ...]} or {"ok": False, "failure": {...}}
            (ok also: "releases": {plan name: [releases_model.standing_data, ...]}, "release_failures": [failure with "plan", ...])
            (ok also: "waits": {(dag_id, run_id): [patchflow.core.waits.Wait, ...]} of the runs still going)
            (ok also: "attention": {(dag_id, run_id): patchflow.core.report_page.AttentionDigest} of the runs read from page.json)
    scoped_fleets: each account and Region a stage targets, as gather.read_scoped_fleet read it (none without targets)
    airflow: {"ok": True, "runs": [gather.airflow_run_view, ...]} or {"ok": False, "failure": {...}}; None: not read
    """
    # Here: these modules build on this one.
    from patchflow.ui.runs_model import airflow_notice, dry_run_note, latest_runs, promotion, run_summaries
    from patchflow.ui.scopes_model import has_scopes, plan_where, scope_sections

    notices = []
    for problem in plan_problems:
        notices.append(
            {"level": "warning", "source": "plans", "kind": "invalid", "title": "A rollout plan has problems", "detail": problem, "action": "Fix the file; `python -m patchflow lint` lists every problem."}
        )
    if not plans:
        notices.append(
            {"level": "warning", "source": "plans", "kind": "empty", "title": "No rollout plans", "detail": "include/rollouts/ holds no valid plan, so no patch group is known.", "action": "Add a plan (see README) and check it with `python -m patchflow lint`."}
        )
    plan_by_dag = {p["dag_id"]: p for p in plans}

    region = fleet.get("region") or ""
    if fleet.get("ok"):
        wanted = ordered_groups(plans, fleet.get("registered", []))
        groups = []
        for entry in wanted:
            data = fleet.get("groups", {}).get(entry["name"], {})
            groups.append(
                group_summary(entry["name"], data.get("members", []), data.get("states", {}), data.get("baselines", {}), now, entry["used_by"])
            )
        fleet_status = "ok"
    else:
        groups = []
        notice = failure_notice({"source": "ssm", **fleet.get("failure", {})})
        notices.append(notice)
        fleet_status = notice["kind"]

    runs: list[dict] = []
    airflow_runs = (airflow or {}).get("runs", []) if (airflow or {}).get("ok") else []
    notices += [notice for notice in [airflow_notice(airflow)] if notice]
    if ledger.get("ok"):
        for failure in merge_failures(ledger.get("failures", [])):
            notices.append(failure_notice({"source": "ledger", **failure}))
        runs = run_summaries(ledger.get("reports", []), airflow_runs, ledger.get("waits", {}), plan_by_dag, base_url=base_url, region=region,
                             now=now, limit=run_limit, attention=ledger.get("attention", {}))
        ledger_status = "ok"
        if not runs and not any(f.get("kind") == "missing" for f in ledger.get("failures", [])):
            dag_ids = ", ".join(sorted(plan_by_dag)) or "a rollout DAG"
            notices.append(
                {"level": "info", "source": "ledger", "kind": "empty", "title": "No rollouts yet", "detail": "The run ledger holds no rollout runs.", "action": f"Trigger {dag_ids} from the DAG list (try dry_run first), or run `make demo` locally."}
            )
    else:
        notice = failure_notice({"source": "ledger", **ledger.get("failure", {})})
        notices.append(notice)
        notices.extend(failure_notice({"source": "ledger", **f}) for f in merge_failures(ledger.get("failures", [])))
        ledger_status = notice["kind"]
    from patchflow.ui.releases_model import release_notice, release_tables  # here: releases_model builds on this module
    notices += [release_notice(failure) for failure in ledger.get("release_failures", [])]

    latest_by_plan, dry_runs_since = latest_runs(ledger.get("reports", []) if ledger.get("ok") else [], plan_by_dag, base_url=base_url, region=region,
                                                 airflow_runs=airflow_runs, waits=ledger.get("waits", {}), now=now, attention=ledger.get("attention", {}))
    promotions = []
    for plan in plans:
        run = latest_by_plan.pop(plan["dag_id"], None)
        if run is not None:
            promotions.append(promotion(run, dry_runs_since.get(plan["dag_id"])))
            continue
        # Without a ledger nothing is known of past runs: say "unknown", never "no runs".
        state, label, outcome = ("no runs", "no runs yet", "No runs yet") if ledger_status == "ok" else ("unknown", "unknown", "History unavailable")
        path = [{"name": s["name"], "patch_group": s["patch_group"], "state": state, "label": label, "tone": "idle"} for s in plan["stages"]]
        promotions.append({"plan": plan["name"], "dag_id": plan["dag_id"], "run_id": "", "dag_run_url": "", "outcome_text": outcome, "tone": "idle", "path": path, "when": "",
                           "dry_run_since": dry_run_note(dry_runs_since.get(plan["dag_id"]))})
    # Runs of plans no longer in include/rollouts.
    promotions += [promotion(run, dry_runs_since.get(dag_id)) for dag_id, run in latest_by_plan.items()]
    where_by_plan = {plan["name"]: plan_where(plan) for plan in plans}
    promotions = [{**entry, "where": where_by_plan.get(entry["plan"], [])} for entry in promotions]
    return {
        "title": "Patch rollouts",
        "generated_at": now.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "user": user,
        "region": region,
        "sources": {"fleet": fleet_status, "ledger": ledger_status},
        "notices": notices,
        "groups": groups,
        # Each account and Region a stage targets, its own section of the groups table; none for a plan without targets.
        "scoped": has_scopes(plans),
        "scoped_groups": scope_sections(plans, scoped_fleets, now),
        "promotions": promotions,
        "runs": runs,
        "releases": release_tables(plans, ledger, now, base_url),
    }
