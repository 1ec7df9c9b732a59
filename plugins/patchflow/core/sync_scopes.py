"""Where baseline sync reaches: every account and Region the rollout plans patch.

Patch baselines, their patch group registrations and the default baseline per OS are
regional and per account, so a stage patching prod in eu-west-1 needs the baselines there.
Sync reaches the rollout connection's own account and Region (the default scope) first when a
stage patches there or no plan is given, then each other scope once, in the order the plans name
them. A hub whose plans patch only other accounts gets no baselines: its role may not write them.
"""
from __future__ import annotations

from typing import Iterable

from patchflow.core.plan_model import RolloutPlan
from patchflow.core.scopes import DEFAULT_SCOPE, Scope


def scope_key(scope: Scope) -> tuple[str | None, str | None]:
    """What makes two scopes the same place: the account id and the Region (aliases and roles may differ between plans)."""
    return (scope.account.id if scope.account is not None else None, scope.region)


def sync_scopes(plans: Iterable[RolloutPlan]) -> tuple[Scope, ...]:
    """Every scope of every stage of every plan, each once, first one named wins; the default scope first when a
    stage patches there, and alone when there is no stage at all."""
    found: dict[tuple[str | None, str | None], Scope] = {}
    for plan in plans:
        for stage in plan.stages:
            for scope in stage.scopes:
                found.setdefault(scope_key(scope), scope)
    default = found.pop(scope_key(DEFAULT_SCOPE), None)
    if default is not None or not found:
        return (DEFAULT_SCOPE, *found.values())
    return tuple(found.values())


def scope_heading(scope: Scope) -> str:
    """The line that heads a scope's changes when sync reaches more than one."""
    return f"== {scope.label}: {scope.name} =="


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def sync_summary(changes: int, conflicts: int, *, scopes: int, dry_run: bool) -> str:
    """The last line of a sync; it names how many accounts and Regions only when there are several."""
    verb = "would make" if dry_run else "made"
    line = f"sync: {verb} {plural(changes, 'change')}, {plural(conflicts, 'conflict')}"
    return line if scopes == 1 else f"{line} in {scopes} accounts and Regions"
