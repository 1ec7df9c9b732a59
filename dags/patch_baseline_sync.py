"""
# Patch baseline sync

Makes SSM's custom patch baselines, patch group registrations and default
baselines match `include/baselines/`, the same way `python -m patchflow sync`
does. A console edit to a managed baseline is drift: it shows up in **plan**
and **apply** replaces it with what the file says.

| task | does |
|---|---|
| `plan` | reads SSM and logs every change it would make (`would update ...`), plus notes and conflicts |
| `apply` | reads SSM again and makes the changes; fails when a conflict needs a person |

Trigger params: `dry_run` (plan only; apply is skipped) and `delete_removed`
(delete managed baselines whose file is gone). Baselines without the tag
`managed-by: patchflow` are never touched. Runs daily so drift does not
outlive a day.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

from airflow.sdk import DAG, Param, task

from patchflow.rollout.factory import aws_conn_id

log = logging.getLogger(__name__)
AWS_CONN_ID = aws_conn_id()


def ssm_client():
    from patchflow.rollout.triggers import ssm_client_for

    return ssm_client_for(AWS_CONN_ID, None)


with DAG(
    dag_id="patch_baseline_sync",
    description="Make SSM patch baselines, patch groups and defaults match include/baselines",
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
    def plan(params=None) -> dict:
        from patchflow.aws.sync_step import sync_pass

        return sync_pass(ssm_client(), apply=False, delete_removed=params["delete_removed"], report=log.info).to_json()

    @task(multiple_outputs=False)
    def apply(planned: dict, params=None) -> dict:
        from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

        from patchflow.aws.sync_step import sync_pass

        if params["dry_run"]:
            raise AirflowSkipException(f"dry run: {len(planned['changes'])} change(s) planned, none made")
        outcome = sync_pass(ssm_client(), apply=True, delete_removed=params["delete_removed"], report=log.info)
        if list(outcome.changes) != planned["changes"]:
            log.warning("SSM changed between plan and apply; applied the changes read just now: %s", list(outcome.changes))
        if outcome.conflicts:
            # Retrying cannot resolve a conflict; a person has to.
            raise AirflowFailException("sync left conflicts:\n" + "\n".join(outcome.conflicts))
        return outcome.to_json()

    apply(plan())
