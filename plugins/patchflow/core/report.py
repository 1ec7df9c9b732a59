"""The rollout report, built from ledger records alone (no AWS, no Airflow).

report.json is the machine-readable truth; report.md and report.html say the
same for people. The summary table is what `make demo` prints.
"""
from __future__ import annotations

from collections import Counter
from typing import Iterable, Mapping

from patchflow.core.html_templates import render_template
from patchflow.core.records import RecordKind


def build_report(records: Iterable[Mapping]) -> dict:
    records = sorted(records, key=lambda r: r["at"])
    started = next((r for r in records if r["kind"] == RecordKind.RUN_STARTED), {})
    finished = next((r for r in reversed(records) if r["kind"] == RecordKind.RUN_FINISHED), None)
    # command_sent records carry pinned_to (None when not pinned) since it was introduced; older runs' do not.
    pins_recorded = any("pinned_to" in r for r in records if r["kind"] == RecordKind.COMMAND_SENT)
    stage_names = list(started.get("stages", []))
    stages: dict[str, dict] = {name: _empty_stage(name) for name in stage_names}

    for record in records:
        name = record.get("stage")
        if name is None:
            continue
        stage = stages.setdefault(name, _empty_stage(name))
        kind = record["kind"]
        if kind == RecordKind.PREFLIGHT:
            stage["patch_group"] = record.get("patch_group", "")
            stage["targets"] = len(record.get("targets", []))
            stage["offline"] = record.get("offline", [])
            stage["baselines"] = record.get("baselines", {})
            stage["default_baselines"] = record.get("default_baselines", {})
            stage["state"] = "running"
        elif kind == RecordKind.COMMAND_SENT:
            stage["command_ids"].extend(c for c in record.get("command_ids", []) if c not in stage["command_ids"])
            for location in record.get("install_override_lists", []):
                if location not in stage["install_override_lists"]:
                    stage["install_override_lists"].append(location)
            if record.get("pinned_to"):
                stage["pinned_to"] = record["pinned_to"]
            for os_name in record.get("nothing_new_for", []):
                if os_name not in stage["nothing_new_for"]:
                    stage["nothing_new_for"].append(os_name)
            stage["not_sent"].extend(i for i in record.get("not_sent", []) if i not in stage["not_sent"])
        elif kind == RecordKind.WAVE_RESULT:
            for item in record.get("instances", []):
                for moved in item.get("moved_on", []):
                    stage["moved_on"].setdefault(moved["id"], {**moved, "instances": []})["instances"].append(item["instance_id"])
            stage["waves"].append(
                {
                    "wave": record.get("wave"),
                    "operation": record.get("operation", "Install"),
                    "command_ids": record.get("command_ids", []),
                    "targets": len(record.get("instances", [])),
                    "counts": record.get("verdict", {}).get("counts", {}),
                    "verdict": {k: record.get("verdict", {}).get(k) for k in ("passed", "reasons")},
                    "instances": record.get("instances", []),
                    "started_at": record.get("started_at"),
                    "finished_at": record.get("finished_at"),
                }
            )
        elif kind == RecordKind.STAGE_VERDICT:
            verdict = record.get("verdict", {})
            stage["verdict"] = {"passed": verdict.get("passed"), "reasons": verdict.get("reasons", [])}
            stage["counts"] = verdict.get("counts", {})
            stage["state"] = "promoted" if verdict.get("passed") else "blocked"
        elif kind == RecordKind.MANIFEST:
            stage["manifest"] = {"hash": record.get("content_hash"), "size": record.get("size", 0), "location": record.get("location")}
        elif kind == RecordKind.DRIFT:
            stage["drift"] = record.get("drift", {})
        elif kind == RecordKind.STAGE_FAILED:
            stage["state"] = "failed"
            stage["error"] = record.get("reason", "")

    manifests = {name: stage["manifest"] for name, stage in stages.items() if stage["manifest"]}
    for stage in stages.values():
        if not pins_recorded:
            # Runs recorded before pinned_to existed: their override lists live under the source's manifest folder.
            stage["pinned_to"] = next(
                ({"stage": source, "hash": manifest["hash"]} for source, manifest in manifests.items()
                 if any(f"/manifest/{source}/" in location for location in stage["install_override_lists"])),
                None,
            )
        if stage["waves"] and not stage["counts"]:
            stage["counts"] = dict(sum((Counter(w["counts"]) for w in stage["waves"]), Counter()))

    outcome = finished.get("outcome") if finished else "running"
    return {
        "plan": started.get("plan", ""),
        "dag_id": started.get("dag_id", records[0]["dag_id"] if records else ""),
        "run_id": started.get("run_id", records[0]["run_id"] if records else ""),
        "dry_run": started.get("dry_run", False),
        "change_ticket": started.get("change_ticket", ""),
        "started_at": started.get("at"),
        "finished_at": finished.get("at") if finished else None,
        "outcome": outcome,
        "blocking_stage": finished.get("blocking_stage") if finished else None,
        "reason": finished.get("reason", "") if finished else "",
        "pins_recorded": pins_recorded,
        "stages": [stages[name] for name in stages],
    }


def _empty_stage(name: str) -> dict:
    return {
        "name": name,
        "patch_group": "",
        "state": "not started",
        "targets": 0,
        "offline": [],
        "baselines": {},
        "default_baselines": {},
        "command_ids": [],
        "waves": [],
        "counts": {},
        "verdict": None,
        "manifest": None,
        "drift": {},
        "install_override_lists": [],
        "pinned_to": None,
        "nothing_new_for": [],
        "not_sent": [],
        "moved_on": {},
    }


SUMMARY_HEADER = ("stage", "group", "targets", "succeeded", "failed", "unreachable", "gate", "commands")


def summary_rows(report: Mapping) -> list[tuple[str, ...]]:
    rows = []
    for stage in report["stages"]:
        counts = stage.get("counts") or {}
        verdict = stage.get("verdict")
        gate = "-" if verdict is None else ("PASS" if verdict["passed"] else "BLOCK")
        if stage["state"] == "failed":
            gate = "ERROR"
        rows.append(
            (
                stage["name"],
                stage.get("patch_group") or "-",
                str(counts.get("targets", stage.get("targets", 0))),
                str(counts.get("succeeded", 0)),
                str(counts.get("failed", 0) + counts.get("timed_out", 0)),
                str(counts.get("unreachable", 0) + counts.get("not_dispatched", 0)),
                gate,
                # The first eight characters are enough to find a command in the console; the
                # per-wave sections carry the full ids.
                " ".join(c[:8] for c in stage.get("command_ids", [])) or "-",
            )
        )
    return rows


def summary_table(report: Mapping) -> str:
    rows = [SUMMARY_HEADER, *summary_rows(report)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(SUMMARY_HEADER))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def headline(report: Mapping) -> str:
    if report["outcome"] == "promoted":
        return f"PROMOTED: every stage of {report['plan']} passed its gate."
    if report["outcome"] == "blocked":
        return f"BLOCKED at stage {report['blocking_stage']}: {report['reason']}"
    return f"{report['outcome'].upper()}: {report.get('reason') or 'the run did not finish'}"


def render_markdown(report: Mapping) -> str:
    out = [f"# Patch rollout report: {report['plan']}", "", f"**{headline(report)}**", ""]
    out += [
        f"- DAG run: `{report['dag_id']}` / `{report['run_id']}`",
        f"- Started: {report['started_at']}  Finished: {report['finished_at']}",
        f"- Dry run (scan only): {'yes' if report['dry_run'] else 'no'}",
    ]
    if report.get("change_ticket"):
        out.append(f"- Change ticket: {report['change_ticket']}")
    out += ["", "## Summary", "", "| " + " | ".join(SUMMARY_HEADER) + " |", "|" + "---|" * len(SUMMARY_HEADER)]
    out += ["| " + " | ".join(row) + " |" for row in summary_rows(report)]
    for stage in report["stages"]:
        out += ["", f"## Stage {stage['name']} (patch group `{stage['patch_group'] or '-'}`): {stage['state']}", ""]
        if stage.get("error"):
            out.append(f"Error: {stage['error']}")
        if stage["verdict"]:
            out.append("Gate: " + ("PASS" if stage["verdict"]["passed"] else "BLOCK"))
            out += [f"- {reason}" for reason in stage["verdict"]["reasons"]]
        out += stage_facts(stage)
        for wave in stage["waves"]:
            verdict = "PASS" if wave["verdict"]["passed"] else "BLOCK"
            out += ["", f"### {wave['operation']} wave {wave['wave']}: {wave['targets']} instances, {verdict}", ""]
            out += [f"- {reason}" for reason in wave["verdict"]["reasons"] or []]
            out.append(f"- Commands: {', '.join(wave['command_ids']) or '-'}; {wave['started_at']} to {wave['finished_at']}")
            out += ["", "| instance | os | outcome | status | compliant | pending reboot | command |", "|---|---|---|---|---|---|---|"]
            for item in wave["instances"]:
                out.append(
                    f"| {item['instance_id']} | {item.get('operating_system') or '-'} | {item['outcome']} | {item.get('status_details', '')} "
                    f"| {_yes_no(item.get('compliant'))} | {_yes_no(item.get('pending_reboot'))} | {item.get('command_id', '')} |"
                )
    return "\n".join(out) + "\n"


def stage_facts(stage: Mapping) -> list[str]:
    """The stage's baselines, offline agents, manifest, pinning and drift, one sentence each, for every rendering."""
    facts = []
    if stage["baselines"]:
        defaults = stage.get("default_baselines") or {}
        facts.append(
            "Baselines in force: "
            + ", ".join(f"{os}={b or ('OS default ' + defaults[os] if defaults.get(os) else 'OS default')}" for os, b in stage["baselines"].items())
        )
    if stage["offline"]:
        facts.append("Offline agents at preflight: " + ", ".join(stage["offline"]))
    if stage["manifest"]:
        facts.append(f"Pinned manifest: {stage['manifest']['hash']} ({stage['manifest']['size']} patches)")
    if stage.get("not_sent"):
        facts.append("Not sent to (agent not online at preflight), counted unreachable: " + ", ".join(stage["not_sent"]))
    if stage.get("pinned_to"):
        source = stage["pinned_to"]["stage"]
        facts.append(f"Installed only the manifest of stage {source}: {stage['pinned_to']['hash']}")
        for os_name in stage.get("nothing_new_for") or []:
            facts.append(f"{source} installed nothing new for {os_name}: its instances here were scanned, nothing was installed")
    for patch_id, moved in (stage.get("moved_on") or {}).items():
        facts.append(
            f"Version moved on for {patch_id}: the manifest pins {moved['pinned_title']}, the repositories now offer "
            f"{moved['offered_title']} (on {', '.join(moved['instances'])}); run {stage['pinned_to']['stage'] if stage.get('pinned_to') else 'the source stage'} "
            "again to try the new version, rather than looking for a broken node"
        )
    for os_name, ids in (stage.get("drift") or {}).items():
        if ids:
            facts.append(f"Drift on {os_name} (approved here, not in the manifest, not installed): {', '.join(ids)}")
    return facts


def _yes_no(value) -> str:
    return "-" if value is None else ("yes" if value else "no")


def render_html(report: Mapping) -> str:
    """report.html, from templates/report.html (which escapes every value)."""
    return render_template(
        "report.html",
        report=report,
        headline=headline(report),
        summary_header=SUMMARY_HEADER,
        summary_rows=summary_rows(report),
        stage_facts=stage_facts,
        yes_no=_yes_no,
    )
