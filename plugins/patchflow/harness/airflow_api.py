"""Driving a run through Airflow's REST API (/api/v2), as a release manager's script outside Airflow would."""
from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any, Iterable

from patchflow.harness.checks import Observation, is_deferring_task, record_poll
from patchflow.harness.processes import Processes, SetupError, step

FINISHED_RUN_STATES = ("success", "failed")


class Api:
    """/api/v2 with a JWT from /auth/token, as any script outside Airflow would use it."""

    def __init__(self, base_url: str):
        self.base_url = base_url.rstrip("/")
        self.token: str | None = None

    def request(self, method: str, path: str, body: Any = None, *, accept: str = "application/json", expect: Iterable[int] = (200,)) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Accept": accept}
        if data is not None:
            headers["Content-Type"] = "application/json"
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(self.base_url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                status, payload = response.status, response.read()
        except urllib.error.HTTPError as exc:
            status, payload = exc.code, exc.read()
        if status not in tuple(expect):
            raise SetupError(f"{method} {path}: HTTP {status}: {payload[:300].decode(errors='replace')}")
        if not payload:
            return None
        return json.loads(payload) if "json" in accept else payload.decode(errors="replace")

    def login(self, username: str, password: str) -> None:
        self.token = self.request("POST", "/auth/token", {"username": username, "password": password}, expect=(200, 201))["access_token"]

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        return self.request("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances?limit=1000")["task_instances"]

    def log_text(self, dag_id: str, run_id: str, task_id: str, try_number: int) -> str:
        path = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/logs/{try_number}?full_content=true"
        payload = self.request("GET", path)
        content = payload.get("content", []) if isinstance(payload, dict) else payload
        lines = []
        for item in content or []:
            if isinstance(item, dict):
                lines.append(" ".join(str(item.get(k, "")) for k in ("timestamp", "level", "event", "logger")))
            else:
                lines.append(str(item))
        return "\n".join(lines)


def kill_first_deferred_wave(api: Api, dag_id: str, run_id: str, processes: Processes, deadline: float) -> str:
    """Marks the first wave task seen waiting as failed through /api/v2, as a person in the UI would.

    Waiting means deferred with its trigger running on a triggerer: a trigger removed before any
    triggerer ran it has no `on_kill` to call, and a person would not be that quick anyway.
    """
    waiting_since: dict[str, float] = {}
    while time.monotonic() < deadline:
        processes.check_alive()
        for ti in api.task_instances(dag_id, run_id):
            if is_deferring_task(ti["task_id"]) and ti.get("state") == "deferred" and (ti.get("trigger") or {}).get("triggerer_id"):
                waiting_since.setdefault(ti["task_id"], time.monotonic())
        deferred = [task for task, since in waiting_since.items() if time.monotonic() - since >= 3]
        if deferred:
            task_id = sorted(deferred)[0]
            step(f"as a release manager: stop {task_id} while it waits on SSM (mark it failed through /api/v2)")
            api.request("PATCH", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}", {"new_state": "failed"})
            return task_id
        time.sleep(0.5)
    raise SetupError(f"no wave of run {run_id} was deferred within 300 s")


def dag_if_present(api: Api, dag_id: str) -> dict | None:
    found = api.request("GET", f"/api/v2/dags/{dag_id}", expect=(200, 404))
    return found if found and found.get("dag_id") == dag_id else None


def follow_run(api: Api, dag_id: str, run_id: str, processes: Processes, deadline: float, interval: float = 1.0) -> Observation:
    observation = Observation(run={}, task_instances=[])
    last_line = ""
    while True:
        processes.check_alive()
        run = api.request("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")
        tis = api.task_instances(dag_id, run_id)
        record_poll(observation, tis)
        observation.run, observation.task_instances = run, tis
        active = sorted(f"{ti['task_id']}={ti['state']}" for ti in tis if ti.get("state") in ("queued", "running", "deferred", "scheduled"))
        done = sum(1 for ti in tis if ti.get("state") in ("success", "failed", "skipped", "upstream_failed"))
        line = f"    {run['state']}: {done}/{len(tis)} done" + (f"; {', '.join(active)}" if active else "")
        if line != last_line:
            print(line, flush=True)
            last_line = line
        if run["state"] in FINISHED_RUN_STATES:
            return observation
        if time.monotonic() > deadline:
            raise SetupError(f"run {run_id} still {run['state']} at the deadline; {line.strip()}")
        time.sleep(interval)


