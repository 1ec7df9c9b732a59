"""The distributed end-to-end check, as CI runs it: `python -m patchflow e2e-distributed`.

SLOW (about 3 minutes on 2 cores): the first test starts PostgreSQL, Redis,
fleetsim, the API server, scheduler, dag-processor, triggerer and two Celery
workers, triggers the demo rollout through the REST API and checks the outcome,
the deferrals and the workers' hostnames, then restarts fleetsim with a failing fleet and
checks the block the same way on the same topology, then runs the load case (bench/load/rollouts.yaml):
five rollouts of different plans at once against a throttled fleet, each ending as it does alone, the
throttling absorbed, and the SSM calls in flight within the pool's budget. Both workers must
have run tasks over the promoted and the blocked run together. Skip with `pytest -m "not distributed"`.
Installs PostgreSQL and Redis from Debian's packages first if they are missing.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from patchflow.core.api_pools import ssm_calls_in_flight_budget
from patchflow.harness.distributed import REPORT_DIR
from patchflow.core.yamlfile import PROJECT_ROOT

pytestmark = pytest.mark.distributed


def e2e(*arguments: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    # the command runs this checkout's code, whatever else the venv has on its path
    env["PYTHONPATH"] = os.pathsep.join([str(PROJECT_ROOT / "plugins"), str(PROJECT_ROOT)])
    finished = subprocess.run(
        [sys.executable, "-m", "patchflow", "e2e-distributed", *arguments],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=1700,
    )
    print(finished.stdout[-6000:], finished.stderr[-4000:], sep="\n")
    return finished


def result() -> dict:
    return json.loads((PROJECT_ROOT / REPORT_DIR / "result.json").read_text())


def test_demo_rollout_promotes_on_celery_workers_then_a_failing_fleet_shows_the_block_then_five_rollouts_at_once_ride_out_throttling():
    # One topology, three phases: fleetsim restarts with the failing fleet, then with the load case's throttled fleet,
    # so Airflow starts and stops once.
    finished = e2e("--conf", '{"change_ticket": "CHG-1234"}', "--then", "include/fleets/failing-dev.yaml:blocked", "--load", "bench/load/rollouts.yaml",
                   "--timeout", "1500")
    assert finished.returncode == 0
    for name in ("promoted", "deferred", "hosts", "blocked", "workers", "verdicts", "throttled", "in-flight"):
        assert f"PASS  {name}" in finished.stdout
    outcome = result()
    promoted, blocked = outcome["runs"]
    assert [(c["name"], c["passed"]) for c in promoted["checks"]] == [("promoted", True), ("deferred", True), ("hosts", True)]
    assert [(c["name"], c["passed"]) for c in blocked["checks"]] == [("blocked", True), ("deferred", True), ("hosts", True)]
    assert [(c["name"], c["passed"]) for c in outcome["checks"]] == [("workers", True)]
    assert (promoted["fleet"], blocked["fleet"]) == ("include/fleets/demo.yaml", "include/fleets/failing-dev.yaml")

    assert (promoted["run_state"], promoted["ledger_outcome"], outcome["executor"]) == ("success", "promoted", "celery")
    assert {ti["hostname"] for ti in [*promoted["task_instances"], *blocked["task_instances"]] if ti["hostname"]} == {"worker-a", "worker-b"}

    assert (blocked["run_state"], blocked["ledger_outcome"]) == ("failed", "blocked")
    states = {ti["task_id"]: ti["state"] for ti in blocked["task_instances"]}
    assert "failed" in {state for task, state in states.items() if task.startswith("dev.")}
    assert all(state == "upstream_failed" for task, state in states.items() if task.startswith(("test.", "prod.")))

    load = outcome["load"]
    assert [(c["name"], c["passed"]) for c in load["checks"]] == [("verdicts", True), ("throttled", True), ("in-flight", True)]
    assert [(run["plan"], run["expect"], run["passed"], run["run_state"]) for run in load["together"]["runs"]] == [
        ("load-basic", "promoted", True, "success"), ("load-canary", "promoted", True, "success"), ("load-pinned", "promoted", True, "success"),
        ("load-scan", "promoted", True, "success"), ("load-blocked", "blocked", True, "failed")]
    budget = ssm_calls_in_flight_budget(triggerers=1, slots=load["pool_slots"])
    assert load["together"]["throttled"] > 0 and load["together"]["ssm_in_flight_peak"] <= budget


def test_stopping_a_waiting_wave_through_the_api_cancels_its_ssm_command():
    # Slow patching (time scale 1) so the wave is still waiting when the release manager stops it.
    finished = e2e("--executor", "local", "--expect", "cancelled", "--time-scale", "1", "--conf", "{}")
    assert finished.returncode == 0
    assert "PASS  cancelled" in finished.stdout
    outcome = result()
    (cancelled,) = outcome["runs"]
    assert (cancelled["run_state"], outcome["executor"]) == ("failed", "local")
