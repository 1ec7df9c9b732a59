"""Airflow's public REST API (/api/v2) as `patchflow runs` speaks it, with the standard library only.

The caller logs in with a token it already has, or with a user and password exchanged once at
/auth/token for a JWT; the password lives only in the call that exchanges it. Every failure is an
`AirflowUnreachable` or `AirflowRefused` with one line saying what was asked and what Airflow answered.
"""
from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

TIMEOUT_SECONDS = 30
LISTED_AT_MOST = 100


class AirflowUnreachable(Exception):
    """No answer at all (refused connection, DNS, timeout)."""


class AirflowRefused(Exception):
    """An answer other than the one expected; `status` is the HTTP status."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


def _call(base_url: str, method: str, path: str, body: Any, token: str | None, query: Mapping[str, Any] | None, expect: Iterable[int]) -> Any:
    url = base_url.rstrip("/") + path + (("?" + urllib.parse.urlencode(query, doseq=True)) if query else "")
    headers = {"Accept": "application/json"}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            status, payload = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, payload = exc.code, exc.read()
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise AirflowUnreachable(f"Airflow at {base_url}: expected an answer to {method} {path}, got {reason}") from None
    if status not in tuple(expect):
        raise AirflowRefused(f"Airflow at {base_url}: {method} {path} answered HTTP {status}: {_detail(payload)}", status)
    return json.loads(payload) if payload else None


def _detail(payload: bytes) -> str:
    """FastAPI's {"detail": ...} as one line, else the start of the body."""
    try:
        detail = json.loads(payload).get("detail")
    except (ValueError, AttributeError):
        detail = None
    if isinstance(detail, list):  # a validation error: [{"loc": [...], "msg": ...}, ...]
        detail = "; ".join(f"{'.'.join(str(p) for p in item.get('loc', []))}: {item.get('msg')}" for item in detail if isinstance(item, dict))
    text = detail if isinstance(detail, str) and detail else payload[:300].decode(errors="replace")
    return " ".join(text.split()) or "(no body)"


def token_for(base_url: str, username: str, password: str) -> str:
    """A JWT for the user, from Airflow's own login (/auth/token); the password is sent once and kept nowhere."""
    try:
        answer = _call(base_url, "POST", "/auth/token", {"username": username, "password": password}, None, None, (200, 201))
    except AirflowRefused as exc:
        if exc.status in (400, 401, 403):
            raise AirflowRefused(f"Airflow at {base_url}: expected to log in as {username!r}, got HTTP {exc.status} (wrong user or password?)", exc.status) from None
        raise
    return answer["access_token"]


@dataclass(frozen=True)
class AirflowRest:
    base_url: str
    token: str

    def call(self, method: str, path: str, body: Any = None, *, query: Mapping[str, Any] | None = None, expect: Iterable[int] = (200,)) -> Any:
        return _call(self.base_url, method, path, body, self.token, query, expect)

    def dag(self, dag_id: str) -> dict | None:
        found = self.call("GET", f"/api/v2/dags/{_q(dag_id)}", expect=(200, 404))
        return found if found and found.get("dag_id") == dag_id else None

    def trigger(self, dag_id: str, run_id: str, conf: Mapping[str, Any], note: str) -> dict:
        body = {"dag_run_id": run_id, "logical_date": None, "conf": dict(conf), "note": note}
        return self.call("POST", f"/api/v2/dags/{_q(dag_id)}/dagRuns", body)

    def runs(self, dag_id_prefix: str, limit: int = LISTED_AT_MOST) -> list[dict]:
        """The newest runs of every DAG whose id starts with the prefix, newest first."""
        query = {"dag_id_prefix_pattern": dag_id_prefix, "order_by": "-run_after", "limit": limit}
        return list(self.call("GET", "/api/v2/dags/~/dagRuns", query=query)["dag_runs"])

    def runs_named(self, run_id: str, dag_id_prefix: str) -> list[dict]:
        query = {"dag_id_prefix_pattern": dag_id_prefix, "run_id_pattern": run_id, "limit": LISTED_AT_MOST}
        return [run for run in self.call("GET", "/api/v2/dags/~/dagRuns", query=query)["dag_runs"] if run.get("dag_run_id") == run_id]

    def run(self, dag_id: str, run_id: str) -> dict | None:
        found = self.call("GET", f"/api/v2/dags/{_q(dag_id)}/dagRuns/{_q(run_id)}", expect=(200, 404))
        return found if found and found.get("dag_run_id") == run_id else None

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        return list(self.call("GET", f"/api/v2/dags/{_q(dag_id)}/dagRuns/{_q(run_id)}/taskInstances", query={"limit": 1000})["task_instances"])

    def hitl_detail(self, dag_id: str, run_id: str, task_id: str) -> dict:
        """A human-in-the-loop task's request (Airflow 3.1+): its options, created_at, and any answer."""
        return self.call("GET", f"/api/v2/dags/{_q(dag_id)}/dagRuns/{_q(run_id)}/taskInstances/{_q(task_id)}/-1/hitlDetails")

    def answer(self, dag_id: str, run_id: str, task_id: str, option: str) -> dict:
        """Answers a human-in-the-loop task (Airflow 3.1+): 409 when someone answered it already."""
        path = f"/api/v2/dags/{_q(dag_id)}/dagRuns/{_q(run_id)}/taskInstances/{_q(task_id)}/-1/hitlDetails"
        return self.call("PATCH", path, {"chosen_options": [option], "params_input": {}})

    def note_task(self, dag_id: str, run_id: str, task_id: str, note: str) -> None:
        path = f"/api/v2/dags/{_q(dag_id)}/dagRuns/{_q(run_id)}/taskInstances/{_q(task_id)}"
        self.call("PATCH", path, {"note": note}, query={"update_mask": "note"})

    def stop_run(self, dag_id: str, run_id: str, note: str) -> dict:
        """Marks the run failed, as the UI's "mark failed" does: its running tasks are stopped, the rest never start."""
        return self.call("PATCH", f"/api/v2/dags/{_q(dag_id)}/dagRuns/{_q(run_id)}", {"state": "failed", "note": note})


def _q(segment: str) -> str:
    return urllib.parse.quote(segment, safe="")
