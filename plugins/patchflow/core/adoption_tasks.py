"""One maintenance window of an existing Patch Manager setup: does it patch one patch group, and how.

A window maps onto a patchflow stage when exactly one of its tasks installs
patches (RUN_COMMAND of AWS-RunPatchBaseline with Operation Install, no
override lists) and that task's targets resolve, through the window's
registered targets, to a single `tag:Patch Group` (or `tag:PatchGroup`)
value. Everything else in the window is described as not mapped, with the
reason, so nothing is dropped silently.

Inputs are boto3's answers as plain dicts: GetMaintenanceWindow,
DescribeMaintenanceWindowTargets' Targets and GetMaintenanceWindowTask.
Pure: no boto3, no clock.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from patchflow.core.groups import PATCH_GROUP_TAG_KEYS
from patchflow.core.plan_model import REBOOT_OPTIONS

RUN_PATCH_BASELINE = "AWS-RunPatchBaseline"
PATCH_GROUP_TARGET_KEYS = tuple(f"tag:{key}" for key in PATCH_GROUP_TAG_KEYS)
# AWS-RunPatchBaseline parameters a stage carries over; any other one set on the task is listed as not carried over.
CARRIED_PARAMETERS = ("Operation", "RebootOption")
# RunCommand settings of a task that a patchflow stage has no place for.
UNCARRIED_RUN_COMMAND_SETTINGS = ("OutputS3BucketName", "OutputS3KeyPrefix", "CloudWatchOutputConfig", "NotificationConfig", "DocumentVersion", "DocumentHash")


@dataclass(frozen=True)
class Unmapped:
    """Something in SSM the draft does not carry over, and why; it stays in SSM as it is."""

    item: str
    reason: str

    def __str__(self) -> str:
        return f"{self.item}: {self.reason}"


@dataclass(frozen=True)
class PatchWindow:
    """A window that maps onto one stage: its patch task and the patch group that task patches."""

    window: Mapping[str, Any]  # the GetMaintenanceWindow answer
    task: Mapping[str, Any]  # the GetMaintenanceWindowTask answer of its one Install task
    patch_group: str
    target_ids: tuple[str, ...]  # the window targets the task names

    @property
    def window_id(self) -> str:
        return self.window.get("WindowId", "")

    @property
    def window_name(self) -> str:
        return self.window.get("Name", "")

    @property
    def parameters(self) -> dict[str, list[str]]:
        return task_parameters(self.task)

    @property
    def reboot_option(self) -> str | None:
        values = self.parameters.get("RebootOption") or []
        return values[0] if values else None

    @property
    def timeout_seconds(self) -> int | None:
        return ((self.task.get("TaskInvocationParameters") or {}).get("RunCommand") or {}).get("TimeoutSeconds")


# --------------------------------------------------------------------------- labels


def window_label(window: Mapping) -> str:
    return f"window {window.get('Name', '?')} ({window.get('WindowId', '?')})"


def task_label(task: Mapping) -> str:
    task_id = task.get("WindowTaskId", "?")
    return f"task {task['Name']} ({task_id})" if task.get("Name") else f"task {task_id}"


def target_label(target: Mapping) -> str:
    target_id = target.get("WindowTargetId", "?")
    return f"target {target['Name']} ({target_id})" if target.get("Name") else f"target {target_id}"


def spoken_targets(targets: Sequence[Mapping]) -> str:
    """Targets as SSM writes them on the command line: Key=Values, entries joined with 'and'."""
    return " and ".join(f"{t.get('Key', '?')}={','.join(str(v) for v in t.get('Values') or [])}" for t in targets) or "nothing"


# --------------------------------------------------------------------------- tasks


def task_parameters(task: Mapping) -> dict[str, list[str]]:
    """A Run Command task's document parameters, from TaskInvocationParameters or the deprecated TaskParameters."""
    parameters: dict[str, list[str]] = {
        name: list((value or {}).get("Values") or []) for name, value in (task.get("TaskParameters") or {}).items()
    }
    run_command = (task.get("TaskInvocationParameters") or {}).get("RunCommand") or {}
    parameters.update({name: list(values or []) for name, values in (run_command.get("Parameters") or {}).items()})
    return parameters


def document_name(task_arn: str) -> str:
    """AWS-RunPatchBaseline, whether the task names the document or its ARN (arn:aws:ssm:REGION::document/NAME)."""
    return task_arn.rsplit(":document/", 1)[-1] if ":document/" in task_arn else task_arn


def is_patch_task(task: Mapping) -> bool:
    """A task that runs AWS-RunPatchBaseline through Run Command, whatever it does with it."""
    task_type = task.get("TaskType") or task.get("Type")
    return task_type == "RUN_COMMAND" and document_name(task.get("TaskArn", "")) == RUN_PATCH_BASELINE


def why_not_an_install_task(task: Mapping) -> str | None:
    """Why a task cannot become a stage's install, or None when it can."""
    task_type = task.get("TaskType") or task.get("Type") or "?"
    if not is_patch_task(task):
        return f"runs {task_type} {task.get('TaskArn', '?')}, not a RUN_COMMAND of {RUN_PATCH_BASELINE}"
    parameters = task_parameters(task)
    operation = (parameters.get("Operation") or [None])[0]
    if operation == "Scan":
        return "scans only (Operation Scan); a patchflow stage scans before it installs (scan_first)"
    if operation != "Install":
        return f"expected Operation Install or Scan, got {operation!r}"
    overrides = [name for name in ("InstallOverrideList", "BaselineOverride") if any(parameters.get(name) or [])]
    if overrides:
        return f"installs from its own {' and '.join(overrides)}; a patchflow stage installs what its baseline approves, or what the stage it is pinned to installed"
    reboot = (parameters.get("RebootOption") or [None])[0]
    if reboot is not None and reboot not in REBOOT_OPTIONS:
        return f"expected RebootOption {' or '.join(REBOOT_OPTIONS)}, got {reboot!r}"
    return None


def uncarried_settings(task: Mapping) -> list[str]:
    """Settings of a mapped install task that the stage does not carry over."""
    run_command = (task.get("TaskInvocationParameters") or {}).get("RunCommand") or {}
    settings = [name for name in UNCARRIED_RUN_COMMAND_SETTINGS if run_command.get(name)]
    settings += [f"parameter {name}" for name, values in task_parameters(task).items() if name not in CARRIED_PARAMETERS and any(values)]
    if task.get("CutoffBehavior") == "CANCEL_TASK":
        settings.append("CutoffBehavior CANCEL_TASK")
    if task.get("AlarmConfiguration"):
        settings.append("AlarmConfiguration")
    return settings


# --------------------------------------------------------------------------- targets


def target_patch_group(target: Mapping) -> tuple[str | None, str | None]:
    """(patch group, None) for a window target that selects exactly one patch group, else (None, why not)."""
    entries = list(target.get("Targets") or [])
    if target.get("ResourceType") == "RESOURCE_GROUP" or any(str(t.get("Key", "")).startswith("resource-groups:") for t in entries):
        return None, f"targets a resource group ({spoken_targets(entries)}), not a patch group"
    groups = [t for t in entries if t.get("Key") in PATCH_GROUP_TARGET_KEYS]
    if not groups:
        if any(t.get("Key") == "InstanceIds" for t in entries):
            return None, f"targets instances by id ({spoken_targets(entries)}), not a patch group"
        return None, f"targets {spoken_targets(entries)}, not a patch group (tag:Patch Group or tag:PatchGroup)"
    values = [v for t in groups for v in t.get("Values") or []]
    if len(values) != 1:
        return None, f"targets {len(values)} patch groups at once ({spoken_targets(groups)}); a stage patches one"
    others = [t for t in entries if t not in groups]
    if others:
        return None, f"narrows patch group {values[0]} by {spoken_targets(others)} as well; a stage patches the whole group"
    return values[0], None


def read_patch_window(window: Mapping, targets: Sequence[Mapping], tasks: Sequence[Mapping]) -> tuple[PatchWindow | None, list[Unmapped]]:
    """The stage a window maps onto (or None), and everything in it that is not mapped."""
    label = window_label(window)
    unmapped: list[Unmapped] = []
    installs: list[Mapping] = []
    for task in sorted(tasks, key=lambda t: (t.get("Priority", 0), t.get("WindowTaskId", ""))):
        reason = why_not_an_install_task(task)
        if reason is None:
            installs.append(task)
        else:
            unmapped.append(Unmapped(f"{label}, {task_label(task)}", reason))
    if not installs:
        unmapped.append(Unmapped(label, f"runs no {RUN_PATCH_BASELINE} Install task, so no stage is drafted from it"))
        return None, unmapped
    if len(installs) > 1:
        names = ", ".join(task_label(task) for task in installs)
        unmapped.append(Unmapped(label, f"runs {len(installs)} {RUN_PATCH_BASELINE} Install tasks ({names}); a stage is drafted from a window with one"))
        return None, unmapped
    task = installs[0]
    item = f"{label}, {task_label(task)}"
    by_id = {target.get("WindowTargetId"): target for target in targets}
    target_ids: list[str] = []
    problems: list[str] = []
    for entry in task.get("Targets") or []:
        if entry.get("Key") != "WindowTargetIds":
            problems.append(f"targets {spoken_targets([entry])} itself; a stage is drafted from a task that names the window's targets (WindowTargetIds)")
            continue
        for target_id in entry.get("Values") or []:
            if target_id in by_id:
                target_ids.append(target_id)
            else:
                problems.append(f"names window target {target_id}, which the window does not have")
    if not problems and not target_ids:
        problems.append("targets nothing")
    groups: list[str] = []
    for target_id in target_ids:
        group, why_not = target_patch_group(by_id[target_id])
        if why_not:
            problems.append(f"{target_label(by_id[target_id])} {why_not}")
        elif group not in groups:
            groups.append(group)
    if not problems and len(groups) > 1:
        problems.append(f"patches {len(groups)} patch groups ({', '.join(groups)}); a stage patches one")
    if problems:
        unmapped.extend(Unmapped(item, problem) for problem in problems)
        return None, unmapped
    settings = uncarried_settings(task)
    if settings:
        unmapped.append(Unmapped(item, f"sets {', '.join(settings)}, which the stage does not carry over"))
    return PatchWindow(window, task, groups[0], tuple(target_ids)), unmapped


def own_patch_tasks(tasks: Sequence[Mapping]) -> list[Mapping]:
    """The tasks of a window that run AWS-RunPatchBaseline Install themselves."""
    return [task for task in tasks if is_patch_task(task) and why_not_an_install_task(task) is None]


def double_patching_warning(window: Mapping, tasks: Sequence[Mapping]) -> str | None:
    """What preflight says when a stage's SSM window still runs its own patch task: both would patch the same nodes."""
    own = own_patch_tasks(tasks)
    if not own:
        return None
    names = ", ".join(task_label(task) for task in own)
    return (
        f"maintenance window {window.get('Name', '?')} ({window.get('WindowId', '?')}) still runs its own {RUN_PATCH_BASELINE} "
        f"Install ({names}); it and this stage would both patch the same nodes (deregister the task, or keep patching in SSM only)"
    )
