"""Adopting an existing Patch Manager setup: SSM's answers in, a draft rollout plan and baseline files out.

`patchflow import` reads the account through boto3 and hands the answers here
as plain data (PatchManagerSetup). adopt() decides, without I/O:

* one stage per maintenance window that installs patches with
  AWS-RunPatchBaseline for one patch group (patchflow.core.adoption_tasks),
  ordered as the user says (`order`: patch groups or window names), else by
  each window's next opening; named after its patch group; its rate control,
  reboot option and timeout from the task; `gate: {max_failed: <MaxErrors>}`;
  `window: {ssm_window: <name>}` (the window stays in SSM), or with
  `copy_windows` its schedule, time zone, duration and cutoff written out;
  later stages pinned to the first when the plan's ledger is on S3;
* one baseline file per custom baseline (patchflow.core.adoption_baselines);
* everything it does not carry over, with the reason.

The plan text starts with comments saying where each stage came from and
what was not mapped; it passes `patchflow lint` (adopt() reads it back with
the plan loader before returning it).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Mapping, Sequence

import yaml

from patchflow.core.adoption_baselines import BaselineFile, PredefinedBaseline, adopt_baselines, dump_yaml
from patchflow.core.adoption_tasks import RUN_PATCH_BASELINE, PatchWindow, Unmapped, read_patch_window, task_label, window_label
from patchflow.core.errors import InvalidInput, Problem
from patchflow.core.maintenance_windows import MaintenanceWindow, SsmWindowSchedule, window_from_ssm, window_state
from patchflow.core.plan import PLAN_NAME, RolloutPlan, parse_plan

DEFAULT_PLAN_NAME = "imported"
DEFAULT_OWNER = "release-engineering"
PLAN_MODELINE = "# yaml-language-server: $schema=../schemas/rollout-plan.schema.json"


@dataclass(frozen=True)
class PatchManagerSetup:
    """What the account has, as boto3 answered."""

    windows: Sequence[Mapping] = ()  # GetMaintenanceWindow answers
    window_targets: Mapping[str, Sequence[Mapping]] = field(default_factory=dict)  # WindowId -> DescribeMaintenanceWindowTargets' Targets
    window_tasks: Mapping[str, Sequence[Mapping]] = field(default_factory=dict)  # WindowId -> GetMaintenanceWindowTask answers
    baselines: Sequence[Mapping] = ()  # DescribePatchBaselines' BaselineIdentities (with DefaultBaseline)
    baseline_documents: Mapping[str, Mapping] = field(default_factory=dict)  # BaselineId -> GetPatchBaseline answer
    patch_groups: Sequence[Mapping] = ()  # DescribePatchGroups' Mappings
    region: str = ""


@dataclass(frozen=True)
class ImportOptions:
    plan_name: str = DEFAULT_PLAN_NAME
    order: Sequence[str] = ()  # patch groups or window names, first stage first; the rest follow by next opening
    copy_windows: bool = False  # write each window's schedule into the plan instead of referencing it in SSM
    owner: str = DEFAULT_OWNER
    ledger: str | None = None  # the plan's ledger; an s3:// one lets later stages pin to the first


@dataclass(frozen=True)
class DraftStage:
    name: str
    source: PatchWindow
    opens_at: datetime | None  # the window's next opening after `now`
    window: dict[str, Any]  # the stage's `window:` as written
    copied: bool  # the window's schedule is written out (else it stays in SSM)


@dataclass(frozen=True)
class Adoption:
    plan_file: str  # include/rollouts/<plan_file>
    plan_text: str | None  # None when no window maps onto a stage
    plan: RolloutPlan | None  # what plan_text reads back as
    stages: tuple[DraftStage, ...]
    baselines: tuple[BaselineFile, ...]
    predefined: tuple[PredefinedBaseline, ...]
    unmapped: tuple[Unmapped, ...]


# --------------------------------------------------------------------------- stages


STAGE_NAME_CHARACTERS = re.compile(r"[^a-z0-9_-]+")


def stage_name_for(patch_group: str, taken: Sequence[str]) -> str:
    """A patch group as a stage name: lower case, runs of other characters as '-', starting with a letter, unique."""
    name = STAGE_NAME_CHARACTERS.sub("-", patch_group.lower()).strip("-_")
    name = re.sub(r"^[^a-z]+", "", name)[:36].rstrip("-_") or "stage"
    unique, number = name, 2
    while unique in taken:
        unique, number = f"{name}-{number}", number + 1
    return unique


def copied_window(window: Mapping, resolved: MaintenanceWindow) -> tuple[dict[str, Any] | None, str | None]:
    """The window's schedule written out for a plan, or why the plan cannot hold it as SSM runs it."""
    if isinstance(resolved.schedule, SsmWindowSchedule):
        settings = [name for name in ("ScheduleOffset", "StartDate", "EndDate") if window.get(name)]
        return None, f"has {', '.join(settings)}, which a plan's window cannot hold"
    if resolved.schedule.kind == "rate":
        return None, f"runs on {resolved.schedule.expression}, which SSM counts from the window's creation; a plan's rate() would count from another moment"
    written: dict[str, Any] = {"schedule": resolved.schedule.expression}
    if resolved.schedule.timezone != "UTC":
        written["timezone"] = resolved.schedule.timezone
    written["duration"] = resolved.duration_hours
    written["cutoff"] = resolved.cutoff_hours
    return written, None


def stage_order(found: Sequence[tuple[PatchWindow, datetime | None]], order: Sequence[str]) -> list[tuple[PatchWindow, datetime | None]]:
    """Windows named in `order` first, in that order; the others by their next opening, then by name."""
    def rank(item: tuple[PatchWindow, datetime | None]) -> tuple:
        source, opens_at = item
        names = {source.patch_group.lower(), source.window_name.lower(), source.window_id.lower()}
        given = next((index for index, wanted in enumerate(order) if wanted.strip().lower() in names), len(order))
        return (given, opens_at is None, opens_at.timestamp() if opens_at else 0, source.window_name)

    return sorted(found, key=rank)


def order_problems(found: Sequence[tuple[PatchWindow, datetime | None]], order: Sequence[str]) -> list[Problem]:
    known = {name.lower() for source, _ in found for name in (source.patch_group, source.window_name, source.window_id)}
    choices = ", ".join(dict.fromkeys(name for source, _ in found for name in (source.patch_group, source.window_name))) or "none were drafted"
    return [
        Problem.expected("--order", f"order[{index}]", f"a patch group or window name of a drafted stage ({choices})", wanted)
        for index, wanted in enumerate(order)
        if wanted.strip().lower() not in known
    ]


def draft_stages(setup: PatchManagerSetup, options: ImportOptions, now: datetime) -> tuple[list[DraftStage], list[Unmapped]]:
    unmapped: list[Unmapped] = []
    found: list[tuple[PatchWindow, datetime | None]] = []
    resolved_by_id: dict[str, MaintenanceWindow] = {}
    for window in sorted(setup.windows, key=lambda w: (w.get("Name", ""), w.get("WindowId", ""))):
        window_id = window.get("WindowId", "")
        source, left_out = read_patch_window(window, setup.window_targets.get(window_id, ()), setup.window_tasks.get(window_id, ()))
        unmapped.extend(left_out)
        if source is None:
            continue
        resolved = window_from_ssm(window, now)
        if isinstance(resolved, str):
            said = resolved.removeprefix(f"maintenance {window_label(window)} ")
            unmapped.append(Unmapped(window_label(window), f"it {said}; no stage is drafted from it"))
            continue
        resolved_by_id[window_id] = resolved
        found.append((source, window_state(resolved, now).next_open_at))
    problems = order_problems(found, options.order)
    if problems:
        raise InvalidInput(problems)
    # A name two windows share would be ambiguous when the run looks it up: those are referenced by id.
    names = [window.get("Name") for window in setup.windows]
    stages: list[DraftStage] = []
    groups: dict[str, PatchWindow] = {}
    for source, opens_at in stage_order(found, options.order):
        if source.patch_group in groups:
            earlier = groups[source.patch_group]
            unmapped.append(Unmapped(
                f"{window_label(source.window)}, {task_label(source.task)}",
                f"patches patch group {source.patch_group}, which {window_label(earlier.window)} patches too; a plan patches each group in one stage",
            ))
            continue
        groups[source.patch_group] = source
        written, why_not = copied_window(source.window, resolved_by_id[source.window_id]) if options.copy_windows else (None, None)
        if why_not:
            unmapped.append(Unmapped(window_label(source.window), f"{why_not}; its stage references it in SSM instead (ssm_window)"))
        window = written or {"ssm_window": source.window_name if source.window_name and names.count(source.window_name) == 1 else source.window_id}
        stages.append(DraftStage(stage_name_for(source.patch_group, [s.name for s in stages]), source, opens_at, window, written is not None))
    return stages, unmapped


# --------------------------------------------------------------------------- the plan's text


def stage_document(stage: DraftStage, first: str | None) -> dict[str, Any]:
    task = stage.source.task
    document: dict[str, Any] = {"name": stage.name, "patch_group": stage.source.patch_group}
    if task.get("MaxConcurrency"):
        document["max_concurrency"] = str(task["MaxConcurrency"])
    if task.get("MaxErrors"):
        document["max_errors"] = str(task["MaxErrors"])
    document["reboot_option"] = stage.source.reboot_option or "RebootIfNeeded"
    if stage.source.timeout_seconds:
        document["timeout_seconds"] = stage.source.timeout_seconds
    document["gate"] = {"max_failed": str(task.get("MaxErrors") or "0")}
    document["window"] = stage.window
    if first is not None:
        document["pin_to"] = first
    return document


def comment(lines: Sequence[str]) -> list[str]:
    # Names and reasons come from SSM; a line break in one must not end the comment.
    return [f"# {line}".rstrip().replace("\n", " ").replace("\r", " ") for line in lines]


def header(stages: Sequence[DraftStage], unmapped: Sequence[Unmapped], options: ImportOptions, region: str) -> list[str]:
    where = f" in {region}" if region else ""
    lines = [f"Drafted by `patchflow import` from the Patch Manager maintenance windows{where}.", "Stages and where each came from:"]
    for stage in stages:
        source = stage.source
        targets = ", ".join(source.target_ids)
        lines.append(f"  {stage.name}: patch group {source.patch_group}, from {window_label(source.window)},")
        lines.append(f"    {task_label(source.task)}, window targets {targets}")
    if options.order:
        lines.append(f"Order as given ({', '.join(options.order)}); any other stage follows by its window's next opening.")
    else:
        lines.append("Order: by each window's next opening (give --order to choose another).")
    if any(not stage.copied for stage in stages):
        lines.append("Windows kept in SSM (ssm_window): each stage waits for its window's next opening, read from SSM when a run starts.")
    if any(stage.copied for stage in stages):
        lines.append("Windows copied from SSM (--copy-windows): each stage waits for the schedule written here; SSM's copy no longer counts.")
    lines += [
        f"SSM still runs each window's own {RUN_PATCH_BASELINE} task: deregister it once this plan patches the group,",
        "or both patch the same nodes.",
    ]
    pinned = options.ledger is not None and options.ledger.startswith("s3://") and len(stages) > 1
    if len(stages) > 1 and not pinned:
        lines.append(f"Not pinned: later stages install what their own baselines approve. Pinning them to {stages[0].name}")
        lines.append("(pin_to) needs a ledger the instances can read: ledger: s3://BUCKET/PREFIX.")
    if unmapped:
        lines.append("Not mapped (left in SSM as it is):")
        lines += [f"  - {item}" for item in unmapped]
    else:
        lines.append("Everything found was mapped.")
    lines.append("Review the owner, approvals and gates before the first run.")
    return [PLAN_MODELINE, *comment(lines)]


def plan_text(stages: Sequence[DraftStage], unmapped: Sequence[Unmapped], options: ImportOptions, region: str) -> str:
    pinned = options.ledger is not None and options.ledger.startswith("s3://")
    where = f" in {region}" if region else ""
    document: dict[str, Any] = {
        "name": options.plan_name,
        "description": f"Drafted from the Patch Manager maintenance windows{where}",
        "owner": options.owner,
    }
    if options.ledger is not None:
        document["ledger"] = options.ledger
    document["stages"] = [stage_document(stage, stages[0].name if pinned and index else None) for index, stage in enumerate(stages)]
    return "\n".join(header(stages, unmapped, options, region)) + "\n" + dump_yaml(document)


# --------------------------------------------------------------------------- all of it


def adopt(setup: PatchManagerSetup, options: ImportOptions, now: datetime) -> Adoption:
    """The draft plan, baseline files and what is not mapped; raises InvalidInput for bad options."""
    problems: list[Problem] = []
    if not isinstance(options.plan_name, str) or not PLAN_NAME.match(options.plan_name):
        problems.append(Problem.expected("--name", "", "a plan name matching ^[a-z0-9][a-z0-9_-]{2,62}$", options.plan_name))
    if problems:
        raise InvalidInput(problems)
    stages, unmapped = draft_stages(setup, options, now)
    baselines, predefined, left_out = adopt_baselines(setup.baselines, setup.baseline_documents, setup.patch_groups)
    unmapped += left_out
    file_name = f"{options.plan_name}.yaml"
    text = plan_text(stages, unmapped, options, setup.region) if stages else None
    plan = parse_plan(yaml.safe_load(text), file_name) if text else None
    return Adoption(file_name, text, plan, tuple(stages), tuple(baselines), tuple(predefined), tuple(unmapped))
