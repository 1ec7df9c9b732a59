"""Operator extra links: a wave (or scan) task to its command in the AWS console, a gate task to the run's report.

Airflow 3 computes extra links in the worker when the task finishes and keeps
the URL as an XCom (`_link_<class name>`); the API server then reads that XCom
back. So `get_link` runs next to the task, where the XCom "command_ids" the
wave task pushed and the AWS connection's region are at hand. The URLs come
from the pure `patchflow.core.links`.
"""
from __future__ import annotations

import os
from typing import Any

from airflow.sdk import BaseOperatorLink
from airflow.sdk.execution_time.xcom import XCom

from patchflow.core.links import console_command_url, report_url


def command_ids_of(ti_key: Any) -> list[str]:
    """The commands a wave task sent: its "command_ids" XCom (pushed before it defers), else its return value."""
    ids = XCom.get_value(ti_key=ti_key, key="command_ids")
    if not ids:
        returned = XCom.get_value(ti_key=ti_key, key="return_value") or {}
        ids = returned.get("command_ids") if isinstance(returned, dict) else None
    return [str(i) for i in ids or []]


def region_of(operator: Any) -> str:
    """The region the task's SSM client talks to: its scope's, its region_name, its AWS connection's, or the environment's."""
    region = getattr(getattr(operator, "scope", None), "region", None) or getattr(operator, "region_name", None)
    if region:
        return region
    try:
        from patchflow.rollout.triggers import ssm_client_for

        region = ssm_client_for(getattr(operator, "aws_conn_id", None), None).meta.region_name
    except Exception:
        region = None
    return region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"


class SsmCommandConsoleLink(BaseOperatorLink):
    """The wave's Run Command page in the AWS console (the first command, when a wave split by OS sent several)."""

    name = "AWS console: SSM command"

    def get_link(self, operator, *, ti_key) -> str:
        ids = command_ids_of(ti_key)
        return console_command_url(region_of(operator), ids[0]) if ids else ""


class RolloutReportLink(BaseOperatorLink):
    """The run's rollout report, served by the Patch rollouts page (built from the ledger until the run writes its own)."""

    name = "Rollout report"

    def get_link(self, operator, *, ti_key) -> str:
        from airflow.sdk.configuration import conf

        return report_url(conf.get("api", "base_url", fallback="") or "", ti_key.dag_id, ti_key.run_id)
