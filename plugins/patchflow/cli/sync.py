"""`python -m patchflow sync [--dry-run] [--delete-removed] [--plans PATH]`: include/baselines -> SSM.

Baselines are regional and per account, so sync reaches the environment's own account and
Region, then every account and Region the rollout plans in --plans (a folder, or one plan) patch:
their roles assumed with the environment's credentials, or an account's own Airflow connection.
Prints one line per change, then anything sync refused to do; with more than one account or
Region, each one's lines follow a heading `== LABEL: NAME ==`. A scope that cannot be reached is
reported and the others are still synced. Exit 0 when SSM matches the files everywhere, 1 on
invalid files or plans, conflicts or a scope not synced.
"""
from __future__ import annotations

import sys
from datetime import datetime, timezone
from pathlib import Path

from patchflow.core.baselines import load_baselines
from patchflow.core.errors import InvalidInput
from patchflow.core.scopes import Scope
from patchflow.core.yamlfile import PROJECT_ROOT

DEFAULT_BASELINES = PROJECT_ROOT / "include" / "baselines"


def add_arguments(parser) -> None:
    parser.add_argument("--dry-run", action="store_true", help="print the changes without making them")
    parser.add_argument("--delete-removed", action="store_true", help="delete managed baselines whose file is gone")
    parser.add_argument("--baselines", default=str(DEFAULT_BASELINES), metavar="DIR", help="baseline folder (default: include/baselines)")
    parser.add_argument("--plans", default=None, metavar="PATH",
                        help="a folder of rollout plans, or one plan, naming the accounts and Regions to sync "
                             "(default: $PATCHFLOW_PLANS_DIR, or include/rollouts)")
    parser.add_argument("--region", default=None, help="AWS region of the environment's own account (default: from the environment)")


def client_in(scope: Scope, service: str, region: str | None, run_id: str):
    """A client in `scope` from the environment's credentials: as they are, through the account's role, or its Airflow connection."""
    from patchflow.aws.client import aws_client, shared_session
    from patchflow.aws.scope_access import access_for, assumed_session

    access = access_for(scope, run_id)
    if access is None:
        return aws_client(service, region_name=region)
    if access.connection_id:
        return connection_client(access.connection_id, service, access.region)
    if access.role_arn:
        return aws_client(service, region_name=access.region, session=assumed_session(shared_session(), access))
    return aws_client(service, region_name=access.region or region)


def connection_client(connection_id: str, service: str, region: str | None):
    """Through an account's own Airflow connection, which only Airflow can read (its environment or metadata database)."""
    import os

    # Airflow logs each credential lookup to stdout, among the lines that say what sync did; read when Airflow is first imported.
    os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")
    from airflow.exceptions import AirflowNotFoundException
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

    from patchflow.aws.client import RETRY_CONFIG
    from patchflow.aws.sync_step import ConnectionMissing

    try:
        # Without the connection the hook would fall back to the environment's credentials: another account.
        AwsBaseHook.get_connection(connection_id)
    except AirflowNotFoundException as exc:
        raise ConnectionMissing(f"cannot use Airflow connection {connection_id!r}: {exc}") from exc
    return AwsBaseHook(aws_conn_id=connection_id, client_type=service, region_name=region, config=RETRY_CONFIG).conn


def run(args) -> int:
    from patchflow.aws.sync_step import load_sync_scopes, plans_folder, sync_every_scope
    from patchflow.core.sync_scopes import sync_summary

    try:
        desired = load_baselines(args.baselines)
    except InvalidInput as exc:
        print(exc, file=sys.stderr)
        return 1
    plans = args.plans or str(plans_folder())
    if not Path(plans).exists():
        print(f"patchflow sync: --plans: expected an existing folder or plan file, got {plans!r}", file=sys.stderr)
        return 2
    try:
        scopes = load_sync_scopes(plans)
    except InvalidInput as exc:
        # The plans say where to sync; syncing fewer accounts than they name would look like success.
        print(exc, file=sys.stderr)
        print(f"patchflow sync: --plans: expected rollout plans without problems, got {len(exc.problems)}; nothing was synced", file=sys.stderr)
        return 1
    run_id = f"sync-{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}"
    results = sync_every_scope(
        scopes, lambda scope, service: client_in(scope, service, args.region, run_id), desired,
        apply=not args.dry_run, delete_removed=args.delete_removed,
        report_conflict=lambda line: print(line, file=sys.stderr),
        report_problem=lambda line: print(f"patchflow sync: {line}", file=sys.stderr),
    )
    synced = [result.outcome for result in results if result.outcome is not None]
    unreachable = len(synced) < len(results)
    if unreachable and len(scopes) == 1:
        return 1  # as before accounts: the failed call is the whole story
    changes = sum(len(outcome.changes) for outcome in synced)
    conflicts = sum(len(outcome.conflicts) for outcome in synced)
    print(sync_summary(changes, conflicts, scopes=len(scopes), dry_run=args.dry_run))
    return 1 if conflicts or unreachable else 0
