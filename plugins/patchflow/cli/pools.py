"""`python -m patchflow pools [--plans PATH] [--apply]`: the Airflow pools the plans' accounts and Regions use.

Without --apply it lists them and changes nothing. With --apply it creates each one Airflow's
metadata database does not have yet (a pool someone resized is left as it is). A task whose pool
is missing is never scheduled, and Airflow shows the DAG with a "non-existent pool" warning:
run this once wherever the scheduler's database is, and again after adding accounts or Regions.
Exit 0 when every pool exists (or was listed), 1 on broken plans.
"""
from __future__ import annotations

import sys

from patchflow.core.errors import InvalidInput
from patchflow.core.yamlfile import PROJECT_ROOT

DEFAULT_PLANS = PROJECT_ROOT / "include" / "rollouts"


def add_arguments(parser) -> None:
    parser.add_argument("--plans", default=str(DEFAULT_PLANS), metavar="PATH", help="a folder of rollout plans, or one plan (default: include/rollouts)")
    parser.add_argument("--apply", action="store_true", help="create the pools Airflow does not have yet")


def run(args) -> int:
    from patchflow.core.api_pools import plan_pools
    from patchflow.core.plan import load_plans_at

    try:
        pools = plan_pools(load_plans_at(args.plans))
    except InvalidInput as exc:
        print(exc, file=sys.stderr)
        return 1
    if not pools:
        print("pools: no plan names accounts or Regions; every task uses Airflow's default pool")
        return 0
    existing = airflow_pools() if args.apply else {}
    for pool in pools:
        if not args.apply:
            print(f"{pool.name}  {pool.slots} slots  {pool.description}")
        elif pool.name in existing:
            print(f"{pool.name}  exists with {existing[pool.name]} slots")
        else:
            create_pool(pool)
            print(f"{pool.name}  created with {pool.slots} slots")
    return 0


def airflow_pools() -> dict[str, int]:
    from airflow.models.pool import Pool

    return {pool.pool: pool.slots for pool in Pool.get_pools()}


def create_pool(pool) -> None:
    from airflow.models.pool import Pool

    # A deferred wait holds no slot: only the tasks calling SSM count against the scope's budget.
    Pool.create_or_update_pool(pool.name, pool.slots, pool.description, include_deferred=False)
