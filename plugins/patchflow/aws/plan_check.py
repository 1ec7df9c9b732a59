"""The reads behind patchflow.core.plan_check: each stage's patch group in each of its accounts and Regions.

`client_in(scope, service)` makes a client in a scope: the run's start passes its rollout's clients
(the Airflow connection, assumed roles), `patchflow check` the environment's credentials as `sync` does.
"""
from __future__ import annotations

from typing import Callable, Sequence

from patchflow.aws import inventory
from patchflow.aws.sync_step import SCOPE_UNREACHABLE, account_reached
from patchflow.core.plan_check import GroupFound, StageScopeCheck, group_problems
from patchflow.core.plan_model import Stage
from patchflow.core.preflight import baselines_in_force
from patchflow.core.scopes import Scope
from patchflow.core.sync_scopes import scope_key


def read_group(ssm, stage: Stage) -> GroupFound:
    """The stage's patch group in one scope: its managed instances and the baseline each of their operating systems gets."""
    members = inventory.patch_group_members(ssm, stage.patch_group)
    operating_systems = sorted({m.operating_system for m in members if m.operating_system})
    registered = inventory.registered_baselines(ssm, stage.patch_group)
    # Which OS default an unregistered OS falls back to only matters to the stage that requires a registration.
    unregistered = [name for name in operating_systems if name not in registered]
    answered = inventory.baselines_for_group(ssm, stage.patch_group, unregistered) if stage.require_registered_baseline and unregistered else {}
    return GroupFound({m.instance_id: m.operating_system for m in members}, baselines_in_force(operating_systems, registered, answered))


def check_stages(stages: Sequence[Stage], client_in: Callable[[Scope, str], object]) -> list[StageScopeCheck]:
    """Every stage in every one of its scopes, in plan order; an account is asked who it is once, however many stages it serves."""
    reached: dict[tuple, str | None] = {}
    checks = []
    for stage in stages:
        for scope in stage.scopes:
            key = scope_key(scope)
            if key not in reached:
                reached[key] = _unreachable(client_in, scope)
            if reached[key] is not None:
                checks.append(StageScopeCheck(stage.name, stage.patch_group, scope, (reached[key],)))
                continue
            try:
                found = read_group(client_in(scope, "ssm"), stage)
            except SCOPE_UNREACHABLE as exc:
                checks.append(StageScopeCheck(stage.name, stage.patch_group, scope, (f"cannot read patch group '{stage.patch_group}': {exc}",)))
                continue
            checks.append(StageScopeCheck(stage.name, stage.patch_group, scope, tuple(group_problems(stage, found)), found))
    return checks


def _unreachable(client_in: Callable[[Scope, str], object], scope: Scope) -> str | None:
    """Why the scope's account cannot be reached (its role refused, credentials of another account); None when it can."""
    try:
        return account_reached(client_in(scope, "sts"), scope)
    except SCOPE_UNREACHABLE as exc:
        return str(exc)
