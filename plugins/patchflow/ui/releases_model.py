"""The Releases tables of the Patch rollouts page: each plan's releases and where each stands, as plain data.

Pure, like patchflow.ui.model: `gather` hands over every release of a plan as
`standing_data` (the ledger's own JSON shapes), and this module decides what a
release manager reads, one row per release: the stages it passed or was
blocked at, and whether it is held, revoked, or which stage may install it next.
"""
from __future__ import annotations

from datetime import datetime
from typing import Mapping, Sequence

from patchflow.core.links import report_url
from patchflow.core.releases import Standing, format_duration
from patchflow.ui.model import failure_notice, format_time, parse_time

RELEASE_LIMIT = 10


def standing_data(standing: Standing) -> dict:
    """One release and the events that place it, as JSON-able data."""
    return {
        "release": standing.release.to_json(),
        "passed": {stage: event.to_json() for stage, event in standing.passed.items()},
        "blocked": {stage: event.to_json() for stage, event in standing.blocked.items()},
        "hold": standing.hold.to_json() if standing.hold else None,
        "revocation": standing.revocation.to_json() if standing.revocation else None,
    }


def has_pinned_stage(plan: Mapping) -> bool:
    return any(stage.get("pin_to") for stage in plan.get("stages", []))


def stage_cells(data: Mapping, plan: Mapping) -> list[dict]:
    """One cell per stage of the plan, in plan order: proved (the source), passed, blocked, not yet, or - for a stage that never installs it."""
    release = data["release"]
    source = release["source_stage"]
    cells = []
    for stage in plan.get("stages", []):
        name = stage["name"]
        if name == source:
            proved = data["passed"].get(name, {}).get("at") or release["created_at"]
            state, text, tone = "proved", f"proved {format_time(proved)}", "ok"
        elif stage.get("pin_to") != source:
            state, text, tone = "elsewhere", "-", "idle"
        elif name in data["passed"]:
            state, text, tone = "passed", f"passed {format_time(data['passed'][name]['at'])}", "ok"
        elif name in data["blocked"]:
            state, text, tone = "blocked", f"blocked {format_time(data['blocked'][name]['at'])}", "bad"
        else:
            state, text, tone = "not yet", "not yet", "idle"
        cells.append({"stage": name, "state": state, "text": text, "tone": tone})
    return cells


def standing_cell(data: Mapping, plan: Mapping) -> dict:
    """Held, revoked, or where the release may go next: the first stage pinned to its source that it has not passed."""
    for kind, state, tone in (("revocation", "revoked", "bad"), ("hold", "held", "warn")):
        event = data.get(kind)
        if event:
            by, reason = event.get("by") or "someone unnamed", event.get("reason") or "no reason given"
            return {"state": state, "text": f"{state} by {by}: {reason}", "tone": tone}
    source = data["release"]["source_stage"]
    pinned = [s for s in plan.get("stages", []) if s.get("pin_to") == source]
    upcoming = next((s for s in pinned if s["name"] not in data["passed"]), None)
    if upcoming is None:
        return {"state": "done", "text": "passed every stage", "tone": "ok"}
    after = upcoming.get("after_stage") or source
    if after in data["passed"]:
        scheduled = f", scheduled {format_time(upcoming['next_run'])}" if upcoming.get("next_run") else ""
        return {"state": "installable", "text": f"installable by {upcoming['name']}{scheduled}", "tone": "active"}
    return {"state": "not installable", "text": f"not installable by {upcoming['name']}: it has not passed {after}", "tone": "idle"}


def release_row(data: Mapping, plan: Mapping, now: datetime, base_url: str | None) -> dict:
    release = data["release"]
    created = parse_time(release["created_at"])
    return {
        "id": release["id"],
        "age": format_duration(now - created) if created else "-",
        "patches": release["size"],
        "source": {
            "stage": release["source_stage"],
            "run_id": release["source_run_id"],
            "report_url": report_url(base_url, release["source_dag_id"], release["source_run_id"]),
        },
        "cells": stage_cells(data, plan),
        "standing": standing_cell(data, plan),
    }


def release_table(plan: Mapping, releases: Sequence[Mapping] | None, now: datetime, base_url: str | None, limit: int = RELEASE_LIMIT) -> dict:
    """A plan's newest `limit` releases, newest first; `releases` None means the ledger could not say."""
    table = {"plan": plan["name"], "dag_id": plan["dag_id"], "stages": [s["name"] for s in plan.get("stages", [])], "releases": [], "older": 0, "note": ""}
    if releases is None:
        return {**table, "note": "Releases are unavailable: see the notice above."}
    if not releases:
        sources = sorted({s["pin_to"] for s in plan.get("stages", []) if s.get("pin_to")})
        return {**table, "note": f"No releases yet: {' and '.join(sources)} makes one when its gate passes."}
    newest = sorted(releases, key=lambda data: parse_time(data["release"]["created_at"]) or now, reverse=True)
    older = max(0, len(newest) - limit)
    note = f"{older} older release{'s' if older != 1 else ''} not shown: `python -m patchflow releases {plan['name']}` lists every one." if older else ""
    return {**table, "releases": [release_row(data, plan, now, base_url) for data in newest[:limit]], "older": older, "note": note}


def release_tables(plans: Sequence[Mapping], ledger: Mapping, now: datetime, base_url: str | None) -> list[dict]:
    """One table per plan that pins a stage; a plan whose releases were not read shows them as unavailable."""
    read = ledger.get("releases", {}) if ledger.get("ok") else {}
    return [release_table(plan, read.get(plan["name"]), now, base_url) for plan in plans if has_pinned_stage(plan)]


def release_notice(failure: Mapping) -> dict:
    """A plan's releases could not be read: the notice names the plan and the ledger; what to do follows the cause."""
    notice = failure_notice({"source": "ledger", **failure})
    plan, where = failure.get("plan", ""), failure.get("where", "")
    return {
        **notice,
        "source": "releases",
        "title": f"The releases of plan {plan} could not be read",
        "detail": f"Reading the releases of plan {plan} from the ledger {where} failed: {failure.get('detail') or 'no detail'}.",
    }
