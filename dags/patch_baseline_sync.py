"""
# Patch baseline sync

Makes SSM's custom patch baselines, patch group registrations and default
baselines match `include/baselines/`, the same way `python -m patchflow sync`
does, in every account and Region the rollout plans patch: the connection's
own account and Region when a stage without `targets` patches there, and
each account and Region a stage's `targets` name (baselines are regional
and per account). A console edit to a managed
baseline is drift: it shows up in **plan** and **apply** replaces it with
what the file says.

| task | does |
|---|---|
| `plan` | reads the plans, then SSM in each account and Region, and logs every change it would make there (`would update ...`), under a heading naming each account and Region when there are several, plus notes, conflicts and accounts it cannot reach; returns them per account and Region |
| `apply` | reads SSM again in each account and Region and makes the changes; after syncing every account and Region it can reach, fails when a conflict needs a person (no retry) or an account or Region could not be reached (retried) |

Trigger params: `dry_run` (plan only; apply is skipped, or fails when an
account or Region could not be read) and `delete_removed` (delete managed
baselines whose file is gone). Baselines without the tag
`managed-by: patchflow` are never touched. Runs daily so drift does not
outlive a day. The plans are read from `PATCHFLOW_PLANS_DIR` (a folder, or
one plan file), by default `include/rollouts`; a broken plan fails the run
before anything is read.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

from airflow.sdk import DAG, Param, task

from patchflow.rollout.factory import aws_conn_id

log = logging.getLogger(__name__)
AWS_CONN_ID = aws_conn_id()


def client_in(scope, service: str, run_id: str):
    """A client in `scope` through the connection: its own account and Region, an assumed role, or the account's own connection."""
    from patchflow.aws.scope_access import access_for
    from patchflow.rollout.triggers import aws_client_for

    access = access_for(scope, run_id)
    return aws_client_for(service, AWS_CONN_ID, None, access=access.to_json() if access else None)


def sync_everywhere(run_id: str, *, apply: bool, delete_removed: bool) -> list:
    """sync_every_scope over the plans' scopes; broken plans or baselines fail the task without retries."""
    from airflow.sdk.exceptions import AirflowFailException

    from patchflow.aws.sync_step import DEFAULT_BASELINES, load_sync_scopes, plans_folder, sync_every_scope
    from patchflow.core.baselines import load_baselines
    from patchflow.core.errors import InvalidInput

    try:
        desired = load_baselines(DEFAULT_BASELINES)
        scopes = load_sync_scopes(plans_folder())
    except InvalidInput as exc:
        raise AirflowFailException(f"nothing was synced:\n{exc}") from exc
    return sync_every_scope(scopes, lambda scope, service: client_in(scope, service, run_id), desired, apply=apply, delete_removed=delete_removed,
                            report=log.info, report_conflict=log.warning, report_problem=log.error)


def by_scope(results) -> dict:
    """What a task returns: each scope's changes, conflicts, notes and problem, under its label."""
    return {result.scope.label: result.to_json() for result in results}


with DAG(
    dag_id="patch_baseline_sync",
    description="Make SSM patch baselines, patch groups and defaults match include/baselines in every account and Region the plans patch",
    schedule="@daily",
    start_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    max_active_runs=1,
    tags=["patching", "baselines", "sync"],
    doc_md=__doc__,
    default_args={"owner": "release-engineering", "retries": 2, "retry_delay": timedelta(seconds=30)},
    params={
        "dry_run": Param(False, type="boolean", title="Dry run", description="Plan only: log the changes, make none."),
        "delete_removed": Param(False, type="boolean", title="Delete removed", description="Delete managed baselines whose file is gone."),
    },
) as dag:

    @task(multiple_outputs=False)
    def plan(params=None, run_id=None) -> dict:
        return by_scope(sync_everywhere(run_id, apply=False, delete_removed=params["delete_removed"]))

    @task(multiple_outputs=False)
    def apply(planned: dict, params=None, run_id=None) -> dict:
        from airflow.sdk.exceptions import AirflowException, AirflowFailException, AirflowSkipException

        if params["dry_run"]:
            unreachable = [f"{entry['scope']}: {entry['problem']}" for entry in planned.values() if entry["problem"]]
            if unreachable:
                raise AirflowFailException("dry run, and not every account and Region could be read:\n" + "\n".join(unreachable))
            changes = sum(len(entry["changes"]) for entry in planned.values())
            raise AirflowSkipException(f"dry run: {changes} change(s) planned, none made")
        outcome = by_scope(sync_everywhere(run_id, apply=True, delete_removed=params["delete_removed"]))
        for label, entry in outcome.items():
            if entry["problem"] is None and entry["changes"] != planned.get(label, {}).get("changes"):
                log.warning("SSM changed in %s between plan and apply; applied the changes read just now: %s", entry["scope"], entry["changes"])
        several = len(outcome) > 1
        left = [f"{entry['scope']}: {conflict}" if several else conflict for entry in outcome.values() for conflict in entry["conflicts"]]
        unreachable = [f"{entry['scope']}: {entry['problem']}" if several else entry["problem"] for entry in outcome.values() if entry["problem"]]
        parts = (["sync left conflicts:", *left] if left else []) + (["sync could not reach:", *unreachable] if unreachable else [])
        if unreachable:
            # A throttled or failing call may pass on a retry, which syncs every account and Region again, harmlessly.
            raise AirflowException("\n".join(parts))
        if left:
            # Retrying cannot resolve a conflict; a person has to.
            raise AirflowFailException("\n".join(parts))
        return outcome

    apply(plan())
