"""Whether each stage of a plan can run, decided before anything is sent.

A stage can run in one of its accounts and Regions when that account can be reached and its
patch group there has managed instances, at least as many as the plan expects, each of an
operating system Patch Manager names, with a registered baseline for every operating system
when the stage requires one, and verification commands for every operating system when the
stage verifies its waves.

The run's start checks every selected stage, so a plan whose later stage names a patch group no
instance carries blocks before dev is patched, with every problem of every stage in one reason;
each stage's preflight checks its own again when it starts (the fleet may change while a run
waits for a window); `python -m patchflow check PLAN` runs the same check against the live
account. The reads are patchflow.aws.plan_check; the decisions are here.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Mapping, Sequence

from patchflow.core.health import nodes_without_commands
from patchflow.core.plan_model import Stage
from patchflow.core.preflight import BaselineInForce, unregistered_baseline_problem
from patchflow.core.scopes import Scope
from patchflow.core.sync_scopes import plural, scope_key

START_CHECK = "run start"


@dataclass(frozen=True)
class GroupFound:
    """What one account and Region holds for a patch group: its managed instances and the baseline each OS gets."""

    operating_systems: Mapping[str, str | None]  # instance id -> operating system (None: Patch Manager names none)
    baselines: Mapping[str, BaselineInForce]  # operating system -> the baseline its nodes get


def group_problems(stage: Stage, found: GroupFound) -> list[str]:
    """Why `stage` cannot patch its group where `found` was read, in the words preflight and the run's start both use."""
    members = found.operating_systems
    group = stage.patch_group
    problems = []
    if not members:
        problems.append(f"patch group '{group}' has no managed instances (tag 'Patch Group' or 'PatchGroup')")
    elif len(members) < stage.expected_min_targets:
        problems.append(f"patch group '{group}' has {plural(len(members), 'managed instance')}, fewer than the {stage.expected_min_targets} the plan expects")
    unknown = sorted(instance_id for instance_id, operating_system in members.items() if not operating_system)
    if unknown:
        problems.append(f"cannot tell the operating system of {', '.join(unknown)}")
    unregistered = unregistered_baseline_problem(group, found.baselines, stage.require_registered_baseline)
    if unregistered:
        problems.append(unregistered)
    verify = stage.health.verify if stage.health is not None else None
    if verify is not None:
        problems.extend(nodes_without_commands(verify, members))
    return problems


@dataclass(frozen=True)
class StageScopeCheck:
    """One stage in one of its accounts and Regions: what was found there (None: nothing could be read) and what stops it."""

    stage: str
    patch_group: str
    scope: Scope
    problems: tuple[str, ...]
    found: GroupFound | None = None

    @property
    def where(self) -> str:
        """`stage prod in account prod (333333333333), Region eu-west-1`; the stage alone in the connection's own account."""
        return f"stage {self.stage}" if self.scope.is_default else f"stage {self.stage} in {self.scope.name}"


def start_block(checks: Sequence[StageScopeCheck]) -> tuple[str, str] | None:
    """The stage the run's start blocks at (the first with a problem, in plan order) and a reason naming
    every problem of every stage and scope; None when every stage can run."""
    failing = [check for check in checks if check.problems]
    if not failing:
        return None
    return failing[0].stage, f"{START_CHECK}: " + "; ".join(f"{check.where}: {problem}" for check in failing for problem in check.problems)


def check_lines(plan_name: str, checks: Sequence[StageScopeCheck]) -> list[str]:
    """What `patchflow check` prints and the run's start logs: each stage and scope in plan order, one line
    per problem or one line saying what is there, then a line counting the problems."""
    lines = []
    for check in checks:
        if check.problems:
            lines.extend(f"{check.where}: {problem}" for problem in check.problems)
        else:
            lines.append(f"{check.where}: ok, patch group '{check.patch_group}' has {_members(check.found)}")
    problems = sum(len(check.problems) for check in checks)
    stages = list(dict.fromkeys(check.stage for check in checks))
    if problems:
        failing = len({check.stage for check in checks if check.problems})
        lines.append(f"check {plan_name}: {plural(problems, 'problem')} in {failing} of {plural(len(stages), 'stage')}")
    else:
        places = len({scope_key(check.scope) for check in checks})
        lines.append(f"check {plan_name}: every stage can run ({plural(len(stages), 'stage')}"
                     + (f" in {places} accounts and Regions)" if places > 1 else ")"))
    return lines


def _members(found: GroupFound | None) -> str:
    """'6 managed instances (AMAZON_LINUX_2023 2, UBUNTU 2, WINDOWS 2)'."""
    if found is None:
        return "nothing read"
    counts = Counter(operating_system or "unknown" for operating_system in found.operating_systems.values())
    return f"{plural(len(found.operating_systems), 'managed instance')} ({', '.join(f'{name} {count}' for name, count in sorted(counts.items()))})"
