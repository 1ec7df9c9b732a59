"""What an approver reads before a stage starts, and whether the stage may be offered for approval at all.

The request carries what the decision rests on: how the stage before it ended in this run (its gate's
verdict and counts), what the stage installs (a pinned stage's release: its manifest's size, content hash
and where its patch list is), the change ticket, the deadline, and where to look (the run in Airflow, its
rollout report, the page to answer on). The same text is the Required Actions page's markdown and the
SNS and Slack message, so nobody approves on a thinner story than anybody else.

A stage that could not go ahead even when approved is never offered: `why_not_ready` names what stops
it, in the words of the later task that would stop it, and the approval blocks the stage with that.

Pure: the run's ledger records and what was read of the stage's patch group in, text out.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable, Mapping, Sequence
from urllib.parse import quote

from patchflow.core.links import dag_run_url, report_url
from patchflow.core.plan_model import RolloutPlan, Stage
from patchflow.core.promotion import ReleaseFrom, release_sources
from patchflow.core.records import RecordKind
from patchflow.core.waits import iso_utc, remaining

NOT_OFFERED = "not offered for approval"

# The gate's counts an approver weighs, in the order they are read out; cancelled and in-progress only when there are any.
COUNTED = (("succeeded", "succeeded"), ("failed", "failed"), ("timed_out", "timed out"), ("cancelled", "cancelled"),
           ("in_progress", "in progress"), ("unreachable", "unreachable"), ("not_dispatched", "not dispatched"))
SHOWN_WHEN_ANY = frozenset({"cancelled", "in_progress"})


@dataclass(frozen=True)
class ApprovalLinks:
    run: str  # the run in Airflow's UI
    report: str  # the run's rollout report on the Patch rollouts page
    answer: str  # the approval's Required Actions page

    @classmethod
    def for_task(cls, base_url: str | None, dag_id: str, run_id: str, task_id: str) -> ApprovalLinks:
        run = dag_run_url(base_url, dag_id, run_id)
        return cls(run, report_url(base_url, dag_id, run_id), f"{run}/tasks/{quote(task_id, safe='')}/required_actions")


@dataclass(frozen=True)
class GroupRead:
    """The stage's patch group as read just before asking, in every account and Region the stage patches."""

    problems: tuple[str, ...] = ()  # what its preflight would stop at (patchflow.core.plan_check), each naming its scope
    operating_systems: frozenset[str] = frozenset()  # of the nodes a wave would send to (agent online)


@dataclass(frozen=True)
class ApprovalRequest:
    subject: str
    body: str  # markdown


@dataclass(frozen=True)
class PinnedSet:
    """What a pinned stage installs: a release, wherever it was made."""

    release_id: str
    content_hash: str
    size: int
    patch_list: str  # the manifest's location in the ledger
    operating_systems: frozenset[str]  # those the release has an install list for (possibly empty)
    origin: str  # where it comes from, as the approver reads it


def approval_request(plan: RolloutPlan, stage: Stage, records: Sequence[Mapping[str, Any]], *, now: datetime, deadline: datetime,
                     links: ApprovalLinks) -> ApprovalRequest:
    """The subject and markdown body of the stage's approval; `records` are the run's ledger records so far."""
    started = run_started(records)
    dry_run, ticket = bool(started.get("dry_run")), started.get("change_ticket") or ""
    subject = f"Rollout {plan.name}{f' ({ticket})' if ticket else ''}: start stage {stage.name}{' (dry run, scan only)' if dry_run else ''}?"
    lines = [
        f"Stage **{stage.name}** of rollout **{plan.name}** patches group `{stage.patch_group}`{scopes_text(stage)}.",
        "",
        f"- **Before it:** {before_text(plan, stage, records)}",
        *install_lines(plan, stage, records, dry_run),
        f"- **Change ticket:** {ticket or 'none given'}",
        f"- **Deadline:** {iso_utc(deadline)} ({remaining(deadline - now)})",
        f"- **Run in Airflow:** {links.run}",
        f"- **Rollout report:** {links.report}",
        f"- **Answer:** {links.answer}",
        "",
        "Reject, or no answer before the deadline, stops the rollout as a failure.",
    ]
    return ApprovalRequest(subject, "\n".join(lines))


def why_not_ready(plan: RolloutPlan, stage: Stage, records: Sequence[Mapping[str, Any]], group: GroupRead) -> str | None:
    """Why `stage` could not go ahead even if approved (the block's reason), or None when it can be offered."""
    found = earlier_stage_stopped(plan, stage, records) or recorded_failure(stage, records)
    if found is None and group.problems:
        found = "; ".join(group.problems)
    if found is None and stage.pin_to and not bool(run_started(records).get("dry_run")):
        pinned = pinned_set(plan, stage, records)
        if isinstance(pinned, str):
            found = pinned
        else:
            uncovered = sorted(group.operating_systems - pinned.operating_systems)
            if uncovered:
                # The words the pinned stage's wave would stop with.
                found = (f"stage is pinned to {stage.pin_to}, which patched no {', '.join(uncovered)} instances, "
                         "so there is no tried patch set to install on them")
    return None if found is None else f"{NOT_OFFERED}: {found}"


# --------------------------------------------------------------------------- the run so far


def run_started(records: Iterable[Mapping[str, Any]]) -> Mapping[str, Any]:
    """The run's run_started record: the stages it patches, whether it is a dry run, its change ticket."""
    return next((r for r in reversed(list(records)) if r.get("kind") == RecordKind.RUN_STARTED), {})


def selected_before(plan: RolloutPlan, stage: Stage, records: Sequence[Mapping[str, Any]]) -> list[str]:
    """The stages before `stage` that this run patches, in plan order."""
    selected = run_started(records).get("stages") or plan.stage_names
    return [name for name in plan.stage_names[: plan.stage_names.index(stage.name)] if name in selected]


def of_kind(records: Iterable[Mapping[str, Any]], kind: RecordKind, stage: str) -> list[Mapping[str, Any]]:
    return sorted((r for r in records if r.get("kind") == kind and r.get("stage") == stage), key=lambda r: r.get("at") or "")


def stage_verdict(records: Sequence[Mapping[str, Any]], stage: str) -> Mapping[str, Any] | None:
    """The stage's verdict: the first that failed, else the whole stage's (the one no single account or Region wrote)."""
    verdicts = [r["verdict"] for r in of_kind(records, RecordKind.STAGE_VERDICT, stage)]
    failed = [v for v in verdicts if not v.get("passed")]
    if failed:
        return failed[0]
    whole = [r["verdict"] for r in of_kind(records, RecordKind.STAGE_VERDICT, stage) if not ({"account", "region"} & set(r))]
    return (whole or verdicts or [None])[-1]


def earlier_stage_stopped(plan: RolloutPlan, stage: Stage, records: Sequence[Mapping[str, Any]]) -> str | None:
    earlier = selected_before(plan, stage, records)
    for record in records:
        if record.get("kind") == RecordKind.RUN_FINISHED and record.get("outcome") == "blocked" and record.get("blocking_stage") in earlier:
            return f"stage {record['blocking_stage']} before it blocked: {record.get('reason', '')}"
    for name in earlier:
        failures = of_kind(records, RecordKind.STAGE_FAILED, name)
        if failures:
            return f"stage {name} before it failed: {failures[0]['reason']}"
    if not earlier:
        return None
    previous = earlier[-1]
    verdict = stage_verdict(records, previous)
    if verdict is None:
        return f"stage {previous} before it has no gate verdict in this run"
    if not verdict.get("passed"):
        return f"stage {previous} before it did not pass its gate: {'; '.join(verdict.get('reasons', []))}"
    return None


def recorded_failure(stage: Stage, records: Sequence[Mapping[str, Any]]) -> str | None:
    """What the run's start (or anything since) already found wrong with this stage."""
    failures = of_kind(records, RecordKind.STAGE_FAILED, stage.name)
    return "; ".join(dict.fromkeys(r["reason"] for r in failures)) or None


def pinned_set(plan: RolloutPlan, stage: Stage, records: Sequence[Mapping[str, Any]]) -> PinnedSet | str:
    """The release a pinned stage installs in this run, or why it has none (in the words its wave would stop with)."""
    selected = tuple(run_started(records).get("stages") or plan.stage_names)
    sources = {source.stage: source for source in release_sources(plan, selected)}
    source = sources.get(stage.name)
    if source is not None and source.kind == ReleaseFrom.THIS_RUN:
        manifests = of_kind(records, RecordKind.MANIFEST, stage.pin_to)
        if not manifests:
            return f"stage is pinned to {stage.pin_to}, whose manifest is missing (did {stage.pin_to} pass its gate in this run?)"
        manifest = manifests[-1]
        return PinnedSet(manifest["release_id"], manifest["content_hash"], int(manifest["size"]), manifest["location"],
                         frozenset(manifest.get("override_lists", {})), f"made by stage {stage.pin_to} in this run")
    # Installed by the stage before it too, or chosen from earlier runs' releases: the run's start recorded the choice.
    chooser = stage.name
    while chooser in sources and sources[chooser].kind == ReleaseFrom.SAME_AS:
        chooser = sources[chooser].from_stage
    chosen = of_kind(records, RecordKind.RELEASE_CHOSEN, chooser)
    if not chosen:
        return f"stage is pinned to {stage.pin_to}, which is not in this run, and the run's start chose no release for it"
    release = chosen[-1]["release"]
    origin = f"chosen from earlier runs when this run started: {chosen[-1].get('standing') or release['id']}"
    if chooser != stage.name:
        origin = f"the one stage {chooser} installs in this run, {origin}"
    return PinnedSet(release["id"], release["content_hash"], int(release["size"]), release["manifest_location"],
                     frozenset(release.get("override_lists", {})), origin)


# --------------------------------------------------------------------------- the text


def scopes_text(stage: Stage) -> str:
    if len(stage.scopes) == 1 and stage.scopes[0].is_default:
        return ""
    return " in " + "; ".join(scope.name for scope in stage.scopes)


def before_text(plan: RolloutPlan, stage: Stage, records: Sequence[Mapping[str, Any]]) -> str:
    earlier = selected_before(plan, stage, records)
    if not earlier:
        left_out = plan.stage_names[: plan.stage_names.index(stage.name)]
        if not left_out:
            return f"nothing; {stage.name} is the plan's first stage"
        return f"no stage in this run ({', '.join(left_out)} not in it)"
    previous = earlier[-1]
    verdict = stage_verdict(records, previous) or {}
    reasons = "; ".join(reason.removeprefix("passed: ") for reason in verdict.get("reasons", []))
    state = "passed its gate" if verdict.get("passed") else "did not pass its gate"
    return f"stage {previous} {state}: {reasons}. {counts_text(verdict.get('counts', {}))}"


def counts_text(counts: Mapping[str, int]) -> str:
    """'2 targets: 2 succeeded, 0 failed, ...; 2 compliant, 0 pending reboot'."""
    outcomes = ", ".join(f"{counts.get(key, 0)} {label}" for key, label in COUNTED if key not in SHOWN_WHEN_ANY or counts.get(key))
    targets = counts.get("targets", 0)
    return (f"{targets} target{'s' if targets != 1 else ''}: {outcomes}; "
            f"{counts.get('compliant', 0)} compliant, {counts.get('pending_reboot', 0)} pending reboot")


def install_lines(plan: RolloutPlan, stage: Stage, records: Sequence[Mapping[str, Any]], dry_run: bool) -> list[str]:
    if dry_run:
        return ["- **Installs:** nothing; a dry run only scans, and reports what an install would install"]
    if not stage.pin_to:
        return ["- **Installs:** what the group's patch baselines approve (the stage is not pinned)"]
    pinned = pinned_set(plan, stage, records)
    if isinstance(pinned, str):
        return [f"- **Installs:** unknown: {pinned}"]
    systems = ", ".join(sorted(pinned.operating_systems)) or "no operating system"
    return [
        f"- **Installs:** release {pinned.release_id}, {pinned.origin}: {pinned.size} patch{'es' if pinned.size != 1 else ''} for {systems}, "
        "nothing else",
        f"- **Manifest:** content hash {pinned.content_hash}",
        f"- **Patch list:** {pinned.patch_list}",
    ]
