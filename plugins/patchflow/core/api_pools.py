"""An Airflow pool per account and Region: how many of a scope's SSM-calling tasks run at once.

SSM throttles each account and Region on its own (its request rates are per account and per
Region), whichever plan or DAG run the requests come from. The tasks that call SSM in a
scope (preflight, scans, waves, health checks, drift reports, soaks) take a slot of that
scope's pool, so rollouts running side by side share one budget there; a deferred wait holds
no slot. A task holding a slot makes at most SSM_READS_AT_ONCE calls at once (its reads per node
after a wave, patchflow.aws.side_by_side), so the scope's budget counts that many per slot. A
stage without targets works in the rollout connection's own account and Region and keeps
Airflow's default pool, as before plans named accounts.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from patchflow.core.plan_model import RolloutPlan
from patchflow.core.scopes import Scope

# Tasks at once per account and Region. Each makes a handful of reads and at most a few SendCommands
# before it defers; four side by side stay well inside SSM's default request rates, which start at a
# few requests a second for SendCommand and ListCommandInvocations.
POOL_SLOTS = 4
# SSM calls one task makes at once: after a wave's wait, the pages and per-node reads of a big patch group
# are thousands of calls, each mostly a round trip to SSM; a few side by side cut that wait several times over.
SSM_READS_AT_ONCE = 4
# SSM polls one triggerer makes at once, whatever the number of waits it holds (patchflow.rollout.triggers):
# a poll is one short ListCommands, so waits queue for a moment instead of adding to the calls in flight.
TRIGGERER_SSM_CALLS_AT_ONCE = 2


def ssm_calls_in_flight_budget(triggerers: int, slots: int = POOL_SLOTS) -> int:
    """The most SSM calls a scope can have in flight: each task holding a pool slot with its reads at once, plus each
    triggerer's polls."""
    return slots * SSM_READS_AT_ONCE + triggerers * TRIGGERER_SSM_CALLS_AT_ONCE


@dataclass(frozen=True)
class ApiPool:
    name: str
    slots: int
    description: str


def pool_name(scope: Scope) -> str | None:
    """`ssm-333333333333-eu-west-1`; None for the default scope, which uses Airflow's default pool."""
    if scope.is_default:
        return None
    account = scope.account.id if scope.account is not None else "own-account"
    return f"ssm-{account}-{scope.region or 'own-region'}"


def plan_pools(plans: Iterable[RolloutPlan]) -> tuple[ApiPool, ...]:
    """Every pool the plans' scoped stages use, each once, in the order the plans name them."""
    found: dict[str, ApiPool] = {}
    for plan in plans:
        for stage in plan.stages:
            for scope in stage.scopes:
                name = pool_name(scope)
                if name is not None and name not in found:
                    found[name] = ApiPool(name, POOL_SLOTS, f"patchflow: SSM calls in {scope.name}")
    return tuple(found.values())
