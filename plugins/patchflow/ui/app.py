"""The Patch rollouts page's FastAPI app, mounted by the Airflow plugin at /rollouts.

A thin shell: it checks who is calling with Airflow's own auth (plugin apps
get none by themselves), reads the sources through `gather`, builds the model
and renders it. Routes:

  GET /rollouts/                          the page (HTML)
  GET /rollouts/api/page                  the same model as JSON
  GET /rollouts/report?dag_id=&run_id=    redirects to the run's report.html below
  GET /rollouts/runs/DAG/RUN/report.html  one run's report, served from the ledger
  GET /rollouts/runs/DAG/RUN/instances.csv  every instance's row of that run (the report links it relatively)
"""
from __future__ import annotations

import logging
import os
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable
from urllib.parse import quote

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from patchflow.ui import gather
from patchflow.ui.model import build_page
from patchflow.ui.render import render_message_page, render_page
from patchflow.core.plan import PLANS_DIR

log = logging.getLogger(__name__)

ICON = (
    "<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 24 24' fill='none' stroke='currentColor' stroke-width='2' "
    "stroke-linecap='round' stroke-linejoin='round'><rect x='2' y='9' width='5' height='6' rx='1'/><rect x='9.5' y='9' width='5' height='6' rx='1'/>"
    "<rect x='17' y='9' width='5' height='6' rx='1'/><path d='M7 12h2.5M14.5 12H17'/></svg>"
)

_bearer = HTTPBearer(auto_error=False)


def _base_url() -> str:
    from airflow.configuration import conf

    return conf.get("api", "base_url", fallback="") or ""


def _plans_dir() -> Path:
    return Path(os.environ.get("PATCHFLOW_ROLLOUTS_DIR") or PLANS_DIR)


async def caller(request: Request, bearer: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> Any:
    """The Airflow user behind the request (session cookie or bearer token), or None when not logged in."""
    from fastapi import HTTPException

    from airflow.api_fastapi.core_api.security import get_user

    try:
        return await get_user(request, None, bearer)
    except HTTPException as exc:
        log.info("patch rollouts page: refused an unauthenticated request (%s)", exc.detail)
        return None


def _login_redirect(request: Request) -> Response:
    from airflow.api_fastapi.app import get_auth_manager

    try:
        return RedirectResponse(get_auth_manager().get_url_login(next_url=str(request.url)), status_code=302)
    except Exception:  # an auth manager without a login page: say so instead
        return HTMLResponse(
            render_message_page("Log in to Airflow first", "This page shows fleet and rollout data only to signed-in users.", "Open the Airflow UI, log in, then come back."),
            status_code=401,
        )


def readable_dags(user: Any, dag_ids: list[str]) -> list[str]:
    """The rollout DAGs whose runs this user may read, as Airflow's auth manager decides."""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity, DagDetails

    manager = get_auth_manager()
    return [
        d for d in dag_ids
        if manager.is_authorized_dag(method="GET", access_entity=DagAccessEntity.RUN, details=DagDetails(id=d), user=user)
    ]


def _user_name(user: Any) -> str:
    try:
        return user.get_name()
    except Exception:
        return ""


def gather_model(user: Any) -> tuple[dict | None, list[str]]:
    """(page model, []) or (None, the rollout DAG ids the user may not read) when they may read none."""
    plans, problems = gather.read_plans(_plans_dir())
    dag_ids = [p["dag_id"] for p in plans]
    readable = readable_dags(user, dag_ids) if user is not None else dag_ids
    if dag_ids and not readable:
        return None, dag_ids
    visible = [p for p in plans if p["dag_id"] in set(readable)]
    # Other accounts and Regions wait on STS as well as SSM: read them while the own account and the ledger are read.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="rollouts-page-scopes") as pool:
        scoped = pool.submit(gather.read_scoped_fleet, visible)
        fleet = gather.read_fleet(gather.page_client("ssm"), visible)
        ledger = gather.read_ledgers(visible, s3_client_factory=lambda: gather.page_client("s3"), readable_dag_ids=readable)
        airflow = gather.read_airflow_runs([p["dag_id"] for p in visible])
        scoped_fleets = scoped.result()
    model = build_page(
        plans=visible, plan_problems=problems, fleet=fleet, ledger=ledger, now=datetime.now(timezone.utc),
        base_url=_base_url(), user=_user_name(user) if user is not None else None, scoped_fleets=scoped_fleets, airflow=airflow,
    )
    return model, []


def _no_permission(user: Any, dag_ids: list[str]) -> str:
    return render_message_page(
        "No permission to see patch rollouts",
        f"You are signed in as {_user_name(user) or 'this user'}, who may not read runs of {', '.join(dag_ids)}.",
        "Ask an Airflow admin for read access to these DAGs (Viewer role or a DAG-level read permission).",
    )


async def _run_file(request: Request, user: Any, dag_id: str, run_id: str, read: Callable, respond: Callable[[str], Response]) -> Response:
    """One file of a run from the ledger (`read` is gather.read_report_html or gather.read_instances_csv), or a page saying why not."""
    if user is None:
        return _login_redirect(request)
    if not readable_dags(user, [dag_id]):
        return HTMLResponse(_no_permission(user, [dag_id]), status_code=403)
    plans, _ = await run_in_threadpool(gather.read_plans, _plans_dir())
    body, failure = await run_in_threadpool(read, plans, dag_id, run_id, s3_client_factory=lambda: gather.page_client("s3"))
    if body is not None:
        return respond(body)
    if failure and failure.get("kind") == "not_found":
        return HTMLResponse(
            render_message_page("No report for this run yet", f"The ledger holds no records of run {run_id} of {dag_id}.", "A run writes its first record when its start task runs; check the run in Airflow.", level="warning"),
            status_code=404,
        )
    from patchflow.ui.model import failure_notice

    notice = failure_notice({"source": "ledger", **(failure or {})})
    return HTMLResponse(render_message_page(notice["title"], notice["detail"], notice["action"]), status_code=503)


def create_app() -> FastAPI:
    app = FastAPI(title="Patch rollouts", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/", response_class=HTMLResponse)
    async def page(request: Request, user: Any = Depends(caller)) -> Response:
        if user is None:
            return _login_redirect(request)
        try:
            model, refused = await run_in_threadpool(gather_model, user)
        except Exception as exc:  # a bug of ours: say so, log the trace, show none
            log.exception("patch rollouts page failed to build")
            return HTMLResponse(
                render_message_page("The page could not be built", f"{type(exc).__name__} while gathering the page.", "Reload; if it persists, the API server log has the details."),
                status_code=500,
            )
        if model is None:
            return HTMLResponse(_no_permission(user, refused), status_code=403)
        return HTMLResponse(render_page(model), headers={"Cache-Control": "no-store"})

    @app.get("/api/page")
    async def page_json(user: Any = Depends(caller)) -> Response:
        if user is None:
            return JSONResponse({"detail": "Not authenticated: log in to Airflow or send a bearer token from POST /auth/token"}, status_code=401)
        model, refused = await run_in_threadpool(gather_model, user)
        if model is None:
            return JSONResponse({"detail": f"No permission to read runs of {', '.join(refused)}"}, status_code=403)
        return JSONResponse(model, headers={"Cache-Control": "no-store"})

    @app.get("/report", response_class=HTMLResponse)
    async def report(request: Request, dag_id: str = "", run_id: str = "", user: Any = Depends(caller)) -> Response:
        if user is None:
            return _login_redirect(request)
        if not dag_id or not run_id:
            return HTMLResponse(render_message_page("Which run?", "This link names no DAG run.", "Open a report from the Patch rollouts page or from a gate task's extra link."), status_code=400)
        if not readable_dags(user, [dag_id]):
            return HTMLResponse(_no_permission(user, [dag_id]), status_code=403)
        # Under the run's own path the report's relative link to its instances.csv finds the file.
        return RedirectResponse(f"runs/{quote(dag_id, safe='')}/{quote(run_id, safe='')}/report.html", status_code=307)

    @app.get("/runs/{dag_id}/{run_id}/report.html", response_class=HTMLResponse)
    async def run_report(request: Request, dag_id: str, run_id: str, user: Any = Depends(caller)) -> Response:
        return await _run_file(request, user, dag_id, run_id, gather.read_report_html, lambda body: HTMLResponse(body, headers={"Cache-Control": "no-store"}))

    @app.get("/runs/{dag_id}/{run_id}/instances.csv")
    async def run_instances(request: Request, dag_id: str, run_id: str, user: Any = Depends(caller)) -> Response:
        download = re.sub(r"[^A-Za-z0-9_.-]", "_", f"{dag_id}_{run_id}_instances.csv")
        return await _run_file(request, user, dag_id, run_id, gather.read_instances_csv, lambda body: Response(
            body, media_type="text/csv; charset=utf-8", headers={"Cache-Control": "no-store", "Content-Disposition": f'attachment; filename="{download}"'}))

    @app.get("/icon.svg")
    async def icon() -> Response:
        return Response(ICON, media_type="image/svg+xml")

    return app
