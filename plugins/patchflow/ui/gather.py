"""Reads what the page shows: plans from include/rollouts, patch groups from SSM, runs and releases from the ledger.

The I/O shell around `model`: every source comes back as plain dicts (a run as
its typed `Report`), or as a failure dict ({"kind", "where", "detail"}) that
`model.failure_notice` turns into words. Nothing here raises to the caller, so the page always renders.
Clients are built for a page, not a rollout: short timeouts and one retry, so
an unreachable fleet is reported in about a second rather than after minutes
of adaptive back-off. A stage's other accounts are reached as a rollout reaches
them (patchflow.aws.scope_access), the role assumed through the page's own
short-timeout session; only an account with an Airflow connection of its own
goes through Airflow, the way the rollout's tasks do.
"""
from __future__ import annotations

import json
import logging
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

from patchflow.aws.ledger import RunLedger, Store, open_store, safe_segment
from patchflow.aws.release_store import ReleaseStore
from patchflow.aws.scope_access import Access, RoleNotAssumable, access_for, assumed_session
from patchflow.core.errors import InvalidInput
from patchflow.core.ledger_records import LedgerRecord
from patchflow.core.report import build_report, render_html
from patchflow.core.report_instances import INSTANCES_CSV, instances_csv
from patchflow.core.report_page import PAGE_JSON, AttentionDigest, read_page_json
from patchflow.core.report_records import Report
from patchflow.core.waits import Wait, current_waits
from patchflow.ui.model import DEFAULT_RUN_LIMIT, merge_failures
from patchflow.ui.releases_model import has_pinned_stage, standing_data
from patchflow.ui.scopes_model import scopes_to_read

log = logging.getLogger(__name__)

UNREACHABLE = ("EndpointConnectionError", "ConnectTimeoutError", "ReadTimeoutError", "ConnectionClosedError", "ProxyConnectionError", "ConnectionError")
NOT_CONFIGURED = ("NoCredentialsError", "PartialCredentialsError", "NoRegionError", "CredentialRetrievalError")
PERMISSION_CODES = (
    "AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnrecognizedClientException", "InvalidClientTokenId",
    "ExpiredToken", "ExpiredTokenException", "AuthFailure", "InvalidAccessKeyId", "SignatureDoesNotMatch", "AllAccessDisabled",
)
THROTTLE_CODES = ("ThrottlingException", "Throttling", "TooManyRequestsException", "SlowDown", "RequestLimitExceeded")
MISSING_CODES = ("NoSuchBucket",)

# The RoleSessionName the page's AssumeRole calls carry, so CloudTrail tells them from a rollout's.
PAGE_SESSION = "rollouts-page"
# Accounts and Regions read at once; each waits on STS and SSM, so a page over many accounts need not take their sum.
SCOPE_READERS = 8

_RECORD_KEY = re.compile(r"^(?P<dag>[^/]+)/(?P<run>[^/]+)/records/(?P<at>\d{4}-\d{2}-\d{2}T\d{6}(?:\.\d+)?Z)-")


def page_config():
    """Short timeouts and one retry: a page says an endpoint is down in seconds, where a rollout keeps trying."""
    from botocore.config import Config

    return Config(retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=3, read_timeout=15)


def page_session():
    """A boto3 session whose every client, STS's for an assumed role too, has the page's short timeouts."""
    import boto3
    import botocore.session

    core = botocore.session.get_session()
    core.set_default_client_config(page_config())
    return boto3.session.Session(botocore_session=core)


def page_client(service: str, region_name: str | None = None):
    session = page_session()
    return session.client(service, region_name=region_name or session.region_name or "us-east-1")


def scope_client(service: str, access: Mapping | None):
    """A page client in one account and Region (patchflow.aws.scope_access.Access as JSON), reached as the rollout reaches it."""
    scoped = Access.from_json(access)
    if scoped is None:
        return page_client(service)
    if scoped.connection_id:
        from patchflow.rollout.triggers import aws_client_for

        return aws_client_for(service, None, scoped.region, config=page_config(), access=scoped.to_json())
    if scoped.role_arn:
        # aws_client_for would assume it through the rollout's shared session, whose STS client waits
        # out botocore's default retries (some ten seconds for an endpoint that refuses connections).
        session = assumed_session(page_session(), scoped)
        return session.client(service, region_name=scoped.region or session.region_name or "us-east-1", config=page_config())
    return page_client(service, scoped.region)


def classify_failure(exc: BaseException, where: str = "") -> dict:
    """An exception from boto3 (or anything else) as {"kind", "where", "detail"}, worded for a person."""
    if isinstance(exc, InvalidInput):  # a stored file of the wrong shape: every problem, each naming the file
        return {"kind": "error", "where": where, "detail": "; ".join(str(problem) for problem in exc.problems)}
    if isinstance(exc, RoleNotAssumable):  # its message names the role and STS's answer, whose kind it takes
        cause = classify_failure(exc.__cause__, where) if exc.__cause__ is not None else {"kind": "error"}
        return {"kind": cause["kind"], "where": where, "detail": _first_line(exc)}
    names = {cls.__name__ for cls in type(exc).__mro__}
    response = getattr(exc, "response", None)
    if names & set(UNREACHABLE):
        detail = "the connection timed out" if "Timeout" in type(exc).__name__ else "no connection could be made"
        return {"kind": "unreachable", "where": where or str(getattr(exc, "kwargs", {}).get("endpoint_url", "")), "detail": detail}
    if names & set(NOT_CONFIGURED):
        return {"kind": "not_configured", "where": where, "detail": _first_line(exc)}
    if isinstance(response, Mapping) and isinstance(response.get("Error"), Mapping):
        code = str(response["Error"].get("Code", ""))
        message = str(response["Error"].get("Message", "")) or code
        detail = f"{code}: {message}" if message != code else code
        if code in PERMISSION_CODES or code.startswith("AccessDenied"):
            return {"kind": "no_permission", "where": where, "detail": detail}
        if code in THROTTLE_CODES:
            return {"kind": "throttled", "where": where, "detail": detail}
        if code in MISSING_CODES:
            return {"kind": "missing", "where": where, "detail": detail}
        return {"kind": "error", "where": where, "detail": detail}
    return {"kind": "error", "where": where, "detail": f"{type(exc).__name__}: {_first_line(exc)}"}


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__


# --------------------------------------------------------------------------- plans


def read_plans(directory: str | Path) -> tuple[list[dict], list[str]]:
    from patchflow.core.plan import load_plans

    directory = Path(directory)
    if not directory.is_dir():
        return [], [f"{directory}: expected a folder of rollout plans, got no such folder"]
    plans, broken = load_plans(directory)
    problems = [str(problem) for error in broken.values() for problem in getattr(error, "problems", [error])]
    now = datetime.now(timezone.utc)
    return [plan_view(p, now) for p in plans], problems


def plan_view(plan, now: datetime) -> dict:
    """The little of a RolloutPlan the page needs, as a plain dict; `next_run` is when the calendar next patches a stage."""
    from patchflow.core.promotion import after_stage
    from patchflow.core.scheduled_runs import next_run_of_stage

    def stage_view(stage) -> dict:
        next_run = next_run_of_stage(plan, stage.name, now)
        return {
            "name": stage.name, "patch_group": stage.patch_group, "pin_to": stage.pin_to,
            "after_stage": after_stage(plan, stage) if stage.pin_to else None,
            "next_run": next_run.astimezone(timezone.utc).isoformat() if next_run else None,
            "scopes": [scope_view(scope) for scope in stage.scopes if not scope.is_default], "order": stage.order,
        }

    return {"name": plan.name, "dag_id": plan.dag_id, "ledger_uri": plan.ledger_uri, "stages": [stage_view(s) for s in plan.stages]}


def scope_view(scope) -> dict:
    """One account and Region of a stage (patchflow.core.scopes.Scope): how rows name it, and how the page reaches it."""
    access = access_for(scope, PAGE_SESSION)
    return {"label": scope.label, "name": scope.name, **scope.to_json(), "access": access.to_json() if access else None}


# --------------------------------------------------------------------------- the fleet


def read_fleet(ssm, plans: Sequence[Mapping]) -> dict:
    """Members, patch states and baselines of every patch group, in the connection's own account and Region, that a
    stage without targets names or a baseline is registered for."""
    from patchflow.ui.model import ordered_groups

    where = getattr(getattr(ssm, "meta", None), "endpoint_url", "") or ""
    region = getattr(getattr(ssm, "meta", None), "region_name", "") or ""
    try:
        registered = registered_baselines(ssm)
        groups = {entry["name"]: read_group(ssm, entry["name"], registered) for entry in ordered_groups(plans, registered)}
        return {"ok": True, "region": region, "registered": sorted(registered), "groups": groups}
    except Exception as exc:  # reported on the page, never raised
        log.warning("patch rollouts page: reading the fleet failed: %s", exc, exc_info=log.isEnabledFor(logging.DEBUG))
        return {"ok": False, "region": region, "failure": classify_failure(exc, where)}


def registered_baselines(ssm) -> dict[str, dict[str, dict]]:
    """Patch group -> OS -> the baseline registered for it."""
    from patchflow.aws.commands import _paginate

    registered: dict[str, dict[str, dict]] = {}
    for mapping in _paginate(ssm.describe_patch_groups, "Mappings", MaxResults=100):
        identity = mapping.get("BaselineIdentity", {})
        registered.setdefault(mapping["PatchGroup"], {})[identity.get("OperatingSystem", "")] = {
            "id": identity.get("BaselineId", ""),
            "name": identity.get("BaselineName", ""),
            "default": bool(identity.get("DefaultBaseline")),
        }
    return registered


def read_group(ssm, name: str, registered: Mapping[str, Mapping[str, dict]]) -> dict:
    """One patch group's members, their patch states and the baseline in force for each of their operating systems."""
    from patchflow.aws import inventory

    members = inventory.patch_group_members(ssm, name)
    states = inventory.patch_states(ssm, [m.instance_id for m in members]) if members else {}
    baselines = dict(registered.get(name, {}))
    unregistered = sorted({m.operating_system for m in members if m.operating_system} - set(baselines))
    for os_name, baseline_id in inventory.baselines_for_group(ssm, name, unregistered).items():
        baselines[os_name] = {"id": baseline_id, "name": "", "default": True} if baseline_id else None
    return {
        "members": [{"instance_id": m.instance_id, "operating_system": m.operating_system, "ping_status": m.ping_status} for m in members],
        "states": {i: _plain(s) for i, s in states.items()},
        "baselines": baselines,
    }


def read_scoped_fleet(plans: Sequence[Mapping], client_for: Callable[[str, Mapping | None], Any] = scope_client) -> list[dict]:
    """The patch groups of every account and Region a plan's stage targets, each read there; one that cannot be
    reached comes back as a failure ({"ok": False, "failure"}) beside the others. [] for plans without targets."""
    entries = scopes_to_read(plans)
    if not entries:
        return []
    with ThreadPoolExecutor(max_workers=min(SCOPE_READERS, len(entries)), thread_name_prefix="rollouts-page-scope") as pool:
        return list(pool.map(lambda entry: _read_scope(entry, client_for), entries))


def _read_scope(entry: Mapping, client_for: Callable[[str, Mapping | None], Any]) -> dict:
    scope = entry["scope"]
    where = {key: scope.get(key) for key in ("account", "account_alias", "region")}
    try:
        ssm = client_for("ssm", scope.get("access"))
        registered = registered_baselines(ssm)
        return {"ok": True, **where, "groups": {group["name"]: read_group(ssm, group["name"], registered) for group in entry["groups"]}}
    except Exception as exc:  # reported on the page beside the other accounts and Regions, never raised
        log.warning("patch rollouts page: reading %s failed: %s", scope["name"], exc, exc_info=log.isEnabledFor(logging.DEBUG))
        return {"ok": False, **where, "failure": classify_failure(exc, scope["name"])}


def _plain(state: Mapping) -> dict:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in state.items()}


# --------------------------------------------------------------------------- the ledger


def runs_in_keys(keys: Iterable[str]) -> list[dict]:
    """Runs found in a ledger listing: first record time (from the key name) and whether a report and a page.json were written."""
    runs: dict[tuple[str, str], dict] = {}
    reports, pages = set(), set()
    for key in keys:
        match = _RECORD_KEY.match(key)
        if match:
            at = datetime.strptime(match["at"].replace("Z", "").split(".")[0], "%Y-%m-%dT%H%M%S").replace(tzinfo=timezone.utc)
            run = runs.setdefault((match["dag"], match["run"]), {"dag": match["dag"], "run": match["run"], "first_at": at})
            run["first_at"] = min(run["first_at"], at)
            continue
        parts = key.split("/")
        if len(parts) == 3 and parts[2] == "report.json":
            reports.add((parts[0], parts[1]))
        if len(parts) == 3 and parts[2] == PAGE_JSON:
            pages.add((parts[0], parts[1]))
    for ident, run in runs.items():
        run["has_report"], run["has_page"] = ident in reports, ident in pages
    return sorted(runs.values(), key=lambda r: r["first_at"], reverse=True)


def read_ledgers(
    plans: Sequence[Mapping],
    *,
    s3_client_factory: Callable[[], Any] | None = None,
    readable_dag_ids: Iterable[str] | None = None,
    limit: int = 10,
) -> dict:
    """The newest `limit` runs over every plan's ledger, as reports, and each pinned plan's releases; failures alongside.
    A run read from its page.json has its nodes that need attention in "attention" (its report keeps only their rows)."""
    uris = sorted({p["ledger_uri"] for p in plans})
    allowed = None if readable_dag_ids is None else {safe_segment(d) for d in readable_dag_ids}
    failures, found, stores = [], [], {}
    for uri in uris:
        try:
            store = open_store(uri, s3_client_factory=s3_client_factory)
            for run in runs_in_keys(store.keys("")):
                if allowed is None or run["dag"] in allowed:
                    found.append((run["first_at"], store, run))
            stores[uri] = store
        except Exception as exc:
            log.warning("patch rollouts page: listing ledger %s failed: %s", uri, exc)
            failures.append(classify_failure(exc, uri))
    if uris and len(failures) == len(uris) and all(f["kind"] != "missing" for f in failures):
        merged = merge_failures(failures)  # one cause, one notice naming every ledger
        return {"ok": False, "failure": merged[0], "failures": merged[1:]}
    reports, waits, attention = [], {}, {}
    for _, store, run in sorted(found, key=lambda item: item[0], reverse=True)[:limit]:
        try:
            report, current, digest = _report_of(store, run)
            reports.append(report)
            if current:
                waits[(report.dag_id, report.run_id)] = current
            if digest is not None:
                attention[(report.dag_id, report.run_id)] = digest
        except Exception as exc:
            log.warning("patch rollouts page: reading run %s/%s failed: %s", run["dag"], run["run"], exc)
            failure = classify_failure(exc, f"{run['dag']}/{run['run']}")
            failures.append({**failure, "kind": "error" if failure["kind"] == "missing" else failure["kind"]})
    releases, release_failures = read_releases([p for p in plans if allowed is None or safe_segment(p["dag_id"]) in allowed], stores)
    return {"ok": True, "reports": reports, "waits": waits, "attention": attention, "failures": failures, "releases": releases,
            "release_failures": release_failures}


def read_releases(plans: Sequence[Mapping], stores: Mapping[str, Store]) -> tuple[dict[str, list[dict]], list[dict]]:
    """Every release of each plan that pins a stage, from the ledger store already listed for its runs.

    A plan whose ledger listing failed is left out (that failure is already on the page); one whose
    releases cannot be read becomes a failure naming the plan and the ledger.
    """
    releases, failures = {}, []
    for plan in plans:
        store = stores.get(plan["ledger_uri"])
        if store is None or not has_pinned_stage(plan):
            continue
        try:
            releases[plan["name"]] = [standing_data(standing) for standing in ReleaseStore(store, plan["name"]).standings()]
        except Exception as exc:
            log.warning("patch rollouts page: reading the releases of plan %s in %s failed: %s", plan["name"], plan["ledger_uri"], exc)
            failures.append({**classify_failure(exc, plan["ledger_uri"]), "plan": plan["name"]})
    return releases, failures


def _report_of(store, run: Mapping) -> tuple[Report, list[Wait], AttentionDigest | None]:
    """The run's report, what it waits for now (nothing once it wrote its report), and its nodes that need attention
    when read from its page.json: a finished run's page.json, else its report.json, else its records."""
    prefix = f"{run['dag']}/{run['run']}"
    if run.get("has_page"):
        page = _page_of(store, f"{prefix}/{PAGE_JSON}")
        if page is not None:
            return page[0], [], page[1]
    if run.get("has_report"):
        key = f"{prefix}/report.json"
        return Report.from_json(json.loads(store.get(key)), source=store.location(key)), [], None
    records: list[LedgerRecord] = [json.loads(store.get(key)) for key in store.keys(f"{prefix}/records/")]
    return build_report(records), current_waits(records, datetime.now(timezone.utc)), None


def _page_of(store, key: str) -> tuple[Report, AttentionDigest] | None:
    """A run's page.json; None, with a warning, when it cannot be read (another version or shape): the run's
    report.json says the same at greater cost, so the page passes over it rather than break."""
    try:
        return read_page_json(json.loads(store.get(key)), source=store.location(key))
    except Exception as exc:
        detail = "; ".join(str(problem) for problem in exc.problems) if isinstance(exc, InvalidInput) else f"{type(exc).__name__}: {_first_line(exc)}"
        log.warning("patch rollouts page: %s cannot be read; the run is read from its report.json instead: %s", store.location(key), detail)
        return None


# --------------------------------------------------------------------------- Airflow's runs


def read_airflow_runs(dag_ids: Sequence[str], limit: int = DEFAULT_RUN_LIMIT) -> dict:
    """The newest `limit` DagRuns of these DAGs from Airflow's metadata database, each with its failed tasks, as
    {"ok": True, "runs": [airflow_run_view, ...]}; {"ok": False, "failure"} when the database cannot be read."""
    if not dag_ids:
        return {"ok": True, "runs": []}
    try:
        from sqlalchemy import select

        from airflow.models.dagrun import DagRun
        from airflow.models.taskinstance import TaskInstance
        from airflow.utils.session import create_session

        with create_session() as session:
            runs = session.scalars(select(DagRun).where(DagRun.dag_id.in_(list(dag_ids))).order_by(DagRun.run_after.desc()).limit(limit)).all()
            failed: dict[tuple[str, str], list[str]] = {}
            if runs:
                rows = session.execute(
                    select(TaskInstance.dag_id, TaskInstance.run_id, TaskInstance.task_id)
                    .where(TaskInstance.dag_id.in_(list(dag_ids)), TaskInstance.run_id.in_([run.run_id for run in runs]), TaskInstance.state == "failed")
                    .order_by(TaskInstance.start_date)
                )
                for dag_id, run_id, task_id in rows:
                    failed.setdefault((dag_id, run_id), []).append(task_id)
            return {"ok": True, "runs": [airflow_run_view(run, failed.get((run.dag_id, run.run_id), [])) for run in runs]}
    except Exception as exc:  # reported on the page, never raised: the ledger's runs are still shown
        log.warning("patch rollouts page: reading Airflow's runs failed: %s", exc, exc_info=log.isEnabledFor(logging.DEBUG))
        return {"ok": False, "failure": classify_failure(exc, "Airflow's metadata database")}


def airflow_run_view(run, failed_tasks: Sequence[str]) -> dict:
    """What the page needs of a DagRun, as plain data."""
    def iso(moment) -> str | None:
        return moment.isoformat() if isinstance(moment, datetime) else None

    state = getattr(run.state, "value", run.state)
    return {
        "dag_id": run.dag_id, "run_id": run.run_id, "state": str(state) if state else None, "start_date": iso(run.start_date),
        "end_date": iso(run.end_date), "run_after": iso(run.run_after), "conf": dict(run.conf or {}), "failed_tasks": list(failed_tasks),
    }


def read_report_html(
    plans: Sequence[Mapping], dag_id: str, run_id: str, *, s3_client_factory: Callable[[], Any] | None = None
) -> tuple[str | None, dict | None]:
    """The run's report.html; built from its records while the run has not written one. (html, None) or (None, failure)."""
    return read_run_file(plans, dag_id, run_id, "report.html", lambda records: render_html(build_report(records)), s3_client_factory=s3_client_factory)


def read_instances_csv(
    plans: Sequence[Mapping], dag_id: str, run_id: str, *, s3_client_factory: Callable[[], Any] | None = None
) -> tuple[str | None, dict | None]:
    """The run's instances.csv; built from its records while the run has not written one, or when it finished before
    runs wrote one. (csv, None) or (None, failure)."""
    return read_run_file(plans, dag_id, run_id, INSTANCES_CSV, lambda records: instances_csv(build_report(records)), s3_client_factory=s3_client_factory)


def read_run_file(
    plans: Sequence[Mapping], dag_id: str, run_id: str, name: str, from_records: Callable[[list[LedgerRecord]], str], *,
    s3_client_factory: Callable[[], Any] | None = None,
) -> tuple[str | None, dict | None]:
    """One file the run's finish task writes (`name`), else `from_records` of the run's records. (text, None) or (None, failure)."""
    uris = sorted({p["ledger_uri"] for p in plans if p["dag_id"] == dag_id}) or sorted({p["ledger_uri"] for p in plans})
    last_failure = None
    for uri in uris:
        try:
            store = open_store(uri, s3_client_factory=s3_client_factory)
            ledger = RunLedger(store, dag_id, run_id)
            keys = store.keys(f"{ledger.run_prefix}/")
            if f"{ledger.run_prefix}/{name}" in keys:
                return store.get(f"{ledger.run_prefix}/{name}").decode(), None
            records = ledger.records()
            if records:
                return from_records(records), None
        except Exception as exc:
            log.warning("patch rollouts page: reading %s of %s/%s failed: %s", name, dag_id, run_id, exc)
            last_failure = classify_failure(exc, uri)
    return None, last_failure or {"kind": "not_found", "where": ", ".join(uris), "detail": f"no ledger records for run {run_id} of {dag_id}"}
