"""URLs the page and the operator extra links point at. Pure: no Airflow, no AWS."""
from __future__ import annotations

from urllib.parse import quote, urlencode

# The console lives on a different domain in each AWS partition.
_PARTITION_DOMAINS = (("cn-", "amazonaws.cn"), ("us-gov-", "amazonaws-us-gov.com"), ("us-iso-", "c2s.ic.gov"), ("us-isob-", "sc2s.sgov.gov"))

PAGE_PREFIX = "/rollouts"


def console_domain(region: str) -> str:
    for prefix, domain in sorted(_PARTITION_DOMAINS, key=lambda item: -len(item[0])):
        if region.startswith(prefix):
            return domain
    return "aws.amazon.com"


def console_command_url(region: str, command_id: str) -> str:
    """The Run Command page of one command in the AWS console, in the region it was sent to."""
    if not region or not command_id:
        return ""
    region_q = quote(region, safe="")
    return f"https://{region_q}.console.{console_domain(region)}/systems-manager/run-command/{quote(command_id, safe='')}?region={region_q}"


def _base(base_url: str | None) -> str:
    """Airflow's [api] base_url without a trailing slash; "" keeps links relative to the UI's own host."""
    return (base_url or "").rstrip("/")


def report_url(base_url: str | None, dag_id: str, run_id: str) -> str:
    """The rollout report of one DAG run, served by the page's app behind Airflow's login."""
    return f"{_base(base_url)}{PAGE_PREFIX}/report?{urlencode({'dag_id': dag_id, 'run_id': run_id})}"


def dag_run_url(base_url: str | None, dag_id: str, run_id: str) -> str:
    """The run in Airflow's own UI (grid and task instances)."""
    return f"{_base(base_url)}/dags/{quote(dag_id, safe='')}/runs/{quote(run_id, safe='')}"
