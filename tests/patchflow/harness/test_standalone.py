"""`make airflow PORT=...`: the settings that follow the port, and the demo rollout run to the end on a port other than 8080."""
from __future__ import annotations

import fcntl
import json
import os
import re
import socket
import subprocess
import sys
import time

import pytest

from patchflow.core.yamlfile import PROJECT_ROOT
from patchflow.harness.airflow_api import Api, dag_if_present, follow_run
from patchflow.harness.processes import Processes, free_port, tail, wait_for
from patchflow.harness.standalone import standalone_settings

DEMO_DAG = "rollout_demo"


@pytest.mark.parametrize(
    ("port", "expected"),
    [
        pytest.param(
            8080,
            {
                "AIRFLOW__API__PORT": "8080",
                "AIRFLOW__API__BASE_URL": "http://127.0.0.1:8080",
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": "http://127.0.0.1:8080/execution/",
                "AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT": "30",
                "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
                "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",
                "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
                "PATCHFLOW_POLL_INTERVAL": "2",
            },
            id="default-port",
        ),
        pytest.param(
            8093,
            {
                "AIRFLOW__API__PORT": "8093",
                "AIRFLOW__API__BASE_URL": "http://127.0.0.1:8093",
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": "http://127.0.0.1:8093/execution/",
                "AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT": "30",
                "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
                "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",
                "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
                "PATCHFLOW_POLL_INTERVAL": "2",
            },
            id="other-port",
        ),
    ],
)
def test_every_address_follows_the_port(port, expected):
    assert standalone_settings(port) == expected


def _user_shell_env() -> dict[str, str]:
    """The environment `make airflow` gets from a shell: none of the test run's Airflow settings."""
    return {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}


def test_a_port_in_use_is_one_line_and_exit_2_before_anything_starts(tmp_path):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        finished = subprocess.run(
            [sys.executable, "-m", "patchflow", "standalone", "--port", str(port), "--airflow-home", str(tmp_path / "airflow")],
            cwd=PROJECT_ROOT, env=_user_shell_env(), capture_output=True, text=True, timeout=120,
        )
    assert (finished.returncode, finished.stderr.strip(), finished.stdout) == (
        2,
        f"standalone: --port {port}: expected a free port, got one in use (PORT=... picks another)",
        "",
    )
    assert not (tmp_path / "airflow").exists()


def test_a_second_standalone_on_the_same_airflow_home_is_refused(tmp_path):
    home = tmp_path / "airflow"
    home.mkdir()
    with (home / "airflow-home.lock").open("a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        finished = subprocess.run(
            [sys.executable, "-m", "patchflow", "standalone", "--port", str(free_port()), "--airflow-home", str(home)],
            cwd=PROJECT_ROOT, env=_user_shell_env(), capture_output=True, text=True, timeout=120,
        )
    assert (finished.returncode, finished.stderr.strip(), finished.stdout) == (
        2,
        f"standalone: --airflow-home {home}: expected no other Airflow on it, got one running (a standalone or a demo: stop it first)",
        "",
    )
    assert sorted(p.name for p in home.iterdir()) == ["airflow-home.lock"]


def stale_defer_exit_success(scheduler_log: str, task_id: str) -> bool:
    """Whether the scheduler failed `task_id`'s running try on the executor's stale success from the try that deferred."""
    return re.search(rf"reported that the task instance <TaskInstance: {DEMO_DAG}\.{re.escape(task_id)} [^>]*\[running\][^>]*> finished with state "
                     r"success, but the task instance's state attribute is running", scheduler_log) is not None


def _port_other_than_8080() -> int:
    port = free_port()
    return port if port != 8080 else free_port()


@pytest.mark.airflow
@pytest.mark.fleetsim
def test_the_demo_rollout_promotes_on_another_port_with_no_task_retried(tmp_path):
    """`make airflow PORT=...` (the same command, its own Airflow home), rollout_demo triggered through /api/v2."""
    port = _port_other_than_8080()
    home = tmp_path / "airflow"
    processes = Processes(tmp_path)
    standalone = processes.start(
        "standalone",
        # The fleet at ten times `make airflow`'s pace: the port, not the patching, is what is tried here.
        [sys.executable, "-m", "patchflow", "standalone", "--fleet", "include/fleets/demo.yaml", "--port", str(port), "--airflow-home", str(home),
         "--time-scale", "600"],
        # Airflow's idle scheduler sleeps a second between loops, and each of the run's thirty tasks in a row waits for a
        # loop to be queued after its upstream ends (and again after a deferral): half a minute of sleeping.
        {**_user_shell_env(), "PYTHONUNBUFFERED": "1", "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.25"},
    )
    try:
        api = Api(f"http://127.0.0.1:{port}")
        wait_for("the API server", lambda: api.request("GET", "/api/v2/version"), 420, processes, 0.25)
        passwords = home / "simple_auth_manager_passwords.json.generated"
        password = wait_for("the admin password", lambda: json.loads(passwords.read_text()).get("admin"), 60, processes, 0.25)
        api.login("admin", password)
        dag = wait_for(f"DAG {DEMO_DAG} parsed by the dag-processor", lambda: dag_if_present(api, DEMO_DAG), 300, processes, 0.25)
        assert dag["is_paused"] is False

        def trigger_once() -> str:
            # Right after the start SQLite may still be locked by the other components (HTTP 500, nothing
            # created); the manual demo DAG has no run but ours, so a run found is the one triggered.
            runs = api.request("GET", f"/api/v2/dags/{DEMO_DAG}/dagRuns")["dag_runs"]
            if runs:
                return runs[0]["dag_run_id"]
            return api.request("POST", f"/api/v2/dags/{DEMO_DAG}/dagRuns", {"logical_date": None, "conf": {"change_ticket": "CHG-8093"}})["dag_run_id"]

        run_id = wait_for(f"a run of {DEMO_DAG} triggered", trigger_once, 120, processes, 2.0)

        observation = follow_run(api, DEMO_DAG, run_id, processes, deadline=time.monotonic() + 900, interval=0.5)

        outcome = {ti["task_id"]: (ti["state"], ti["try_number"]) for ti in observation.task_instances}
        retried = sorted(task for task, states in observation.seen_states.items() if "up_for_retry" in states)
        assert observation.run["state"] == "success", f"the standalone's last lines:\n{tail(standalone.log_path, 40)}"
        # A retry only through Airflow's own race (apache/airflow#72716): a deferred task's trigger fires, its resumed try
        # is running before the scheduler reads the stale "success" of the try that deferred, and the scheduler fails the
        # running try. Then the retry re-attaches to the command the first try sent instead of sending another.
        log = standalone.log_path.read_text(errors="replace")
        assert [task for task in retried if not stale_defer_exit_success(log, task)] == [], f"retried for another reason: {retried}"
        run_logs = home / "logs" / f"dag_id={DEMO_DAG}" / f"run_id={run_id}"
        sends = [task for task in retried if task.split(".")[-1].startswith(("scan", "wave_", "health_"))]
        assert [task for task in sends if "re-attached to" not in (run_logs / f"task_id={task}" / "attempt=2.log").read_text()] == []
        assert outcome == {task: ("success", 2 if task in retried else 1) for task in outcome}
        assert len(outcome) == len(api.request("GET", f"/api/v2/dags/{DEMO_DAG}/tasks")["tasks"])
    finally:
        processes.stop_all(grace=120)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0, f"something still answers on port {port} after the standalone stopped"
