"""Baseline sync as `python -m patchflow sync` and the patch_baseline_sync DAG run it, in every scope.

Both read the rollout plans for the accounts and Regions to reach (patchflow.core.sync_scopes),
then, in each scope, read SSM, plan against include/baselines and, when applying, make the
changes. A scope that cannot be reached (its role refused, SSM failing) is reported and the
others are still synced. Only how a scope's client is made differs: the CLI starts from the
environment's credentials, the DAG from its Airflow connection.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from botocore.exceptions import BotoCoreError, ClientError

from patchflow.aws.baseline_sync import apply_changes, plan_sync, read_actual_state
from patchflow.aws.scope_access import RoleNotAssumable
from patchflow.core.baselines import Baseline
from patchflow.core.scopes import Scope
from patchflow.core.sync_scopes import scope_heading, sync_scopes
from patchflow.core.yamlfile import PROJECT_ROOT

DEFAULT_BASELINES = PROJECT_ROOT / "include" / "baselines"
DEFAULT_PLANS = PROJECT_ROOT / "include" / "rollouts"
PLANS_VARIABLE = "PATCHFLOW_PLANS_DIR"


class ConnectionMissing(Exception):
    """An account's Airflow connection does not exist where the client is made."""


# What keeps sync from one scope without stopping the others.
SCOPE_UNREACHABLE = (RoleNotAssumable, ConnectionMissing, ClientError, BotoCoreError)


def plans_folder() -> Path:
    """Where sync reads the plans naming its accounts and Regions: PATCHFLOW_PLANS_DIR (a folder or one plan file), or include/rollouts."""
    return Path(os.environ.get(PLANS_VARIABLE) or DEFAULT_PLANS)


def load_sync_scopes(plans: str | Path) -> tuple[Scope, ...]:
    """The scopes the plans patch: every plan in a folder, or one plan file. InvalidInput lists every
    problem of every broken plan, or says the path does not exist."""
    from patchflow.core.plan import load_plans_at  # the plan model is only needed here

    return sync_scopes(load_plans_at(plans))


@dataclass(frozen=True)
class SyncOutcome:
    changes: tuple[str, ...]
    conflicts: tuple[str, ...]
    notes: tuple[str, ...]
    applied: bool

    def to_json(self) -> dict:
        return {"changes": list(self.changes), "conflicts": list(self.conflicts), "notes": list(self.notes), "applied": self.applied}


def sync_pass(ssm, desired: Sequence[Baseline], *, apply: bool, delete_removed: bool = False, report=print,
              report_conflict: Callable[[str], None] | None = None, where: str = "") -> SyncOutcome:
    """Read SSM, plan against the files and, if `apply`, make the changes.

    Conflicts go to `report_conflict` (default: `report`), after `where` when the reader needs to be told the scope.
    """
    plan = plan_sync(desired, read_actual_state(ssm, {b.operating_system for b in desired}), delete_removed=delete_removed)
    for note in plan.notes:
        report(f"note: {note}")
    if apply:
        apply_changes(ssm, plan.changes, report=report)
    else:
        for change in plan.changes:
            report(f"would {change}")
    for conflict in plan.conflicts:
        (report_conflict or report)(f"conflict: {where}{conflict}")
    return SyncOutcome(tuple(str(c) for c in plan.changes), plan.conflicts, plan.notes, apply)


@dataclass(frozen=True)
class ScopeSync:
    """One scope's sync: its outcome, or why it could not be reached (`problem`)."""

    scope: Scope
    outcome: SyncOutcome | None = None
    problem: str | None = None

    def to_json(self) -> dict:
        outcome = self.outcome or SyncOutcome((), (), (), False)
        return {"scope": self.scope.name, **outcome.to_json(), "problem": self.problem}


def account_reached(sts, scope: Scope) -> str | None:
    """Why the scope's credentials are not in its account (None: they are). A connection that names other
    keys, or none (Airflow then falls back to the default chain), would otherwise sync the wrong account."""
    if scope.account is None:
        return None
    identity = sts.get_caller_identity()
    if identity.get("Account") == scope.account.id:
        return None
    return f"the credentials reached account {identity.get('Account')} ({identity.get('Arn')}), not {scope.account.id}"


def sync_every_scope(scopes: Sequence[Scope], client_in: Callable[[Scope, str], object], desired: Sequence[Baseline], *, apply: bool,
                     delete_removed: bool = False, report=print, report_conflict: Callable[[str], None] | None = None,
                     report_problem: Callable[[str], None] | None = None) -> list[ScopeSync]:
    """sync_pass in each scope, through `client_in(scope, service)`, once the credentials are known to be in the scope's account.

    With more than one scope each scope's lines follow its heading, and conflicts and problems name
    their scope, since they may be read apart from the headings (stderr, a failed task's message).
    """
    several = len(scopes) > 1
    results = []
    for scope in scopes:
        where = f"{scope.name}: " if several else ""
        if several:
            report(scope_heading(scope))
        try:
            problem = account_reached(client_in(scope, "sts"), scope)
            outcome = None if problem else sync_pass(client_in(scope, "ssm"), desired, apply=apply, delete_removed=delete_removed,
                                                     report=report, report_conflict=report_conflict, where=where)
        except SCOPE_UNREACHABLE as exc:
            problem = str(exc)
        if problem:
            (report_problem or report)(f"{where}{problem}")
            results.append(ScopeSync(scope, problem=problem))
        else:
            results.append(ScopeSync(scope, outcome))
    return results
