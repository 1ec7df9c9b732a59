"""`patchflow e2e-distributed`: the pure parts (what to install, what to start, the checks) and stopping by PID.

The command itself runs in tests/test_e2e_distributed.py (marked `distributed`).
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from patchflow import distributed
from patchflow.distributed import (
    Check,
    Observation,
    Processes,
    airflow_environment,
    airflow_processes,
    check_blocked,
    check_deferred,
    check_promoted,
    check_workers,
    is_deferring_task,
    missing_debian_packages,
    missing_python_modules,
    record_poll,
    verdict,
)


def ti(task_id, state="success", hostname="worker-a", **extra):
    return {"task_id": task_id, "state": state, "hostname": hostname, "try_number": 1, **extra}


DEFERRED_LOG = "... Pausing task as DEFERRED. ...\n... Trigger fired event ..."


def promoted_observation() -> Observation:
    tis = [
        ti("start"),
        ti("dev.scan", hostname="worker-b"),
        ti("dev.wave_1"),
        ti("dev.gate", hostname="worker-b"),
        ti("dev.soak"),
        ti("finish", hostname="worker-b"),
    ]
    observation = Observation(run={"state": "success"}, task_instances=tis)
    observation.logs = {t: DEFERRED_LOG for t in ("dev.scan", "dev.wave_1", "dev.soak")}
    record_poll(observation, [ti("dev.wave_1", "running"), ti("dev.scan", "success")])
    record_poll(observation, [ti("dev.wave_1", "deferred", trigger={"id": 4, "classpath": "patchflow.rollout.triggers.CommandCompletionTrigger", "triggerer_id": 2, "kwargs": ""})])
    record_poll(observation, [ti("dev.wave_1", "deferred", trigger={"id": 4, "classpath": "x.CommandCompletionTrigger", "triggerer_id": 2})])
    record_poll(observation, [ti("dev.wave_1", "success")])
    observation.report = {"outcome": "promoted", "stages": [{"name": "dev"}]}
    return observation


# --------------------------------------------------------------------------- what to install, what to start


def test_missing_debian_packages_names_packages_not_binaries():
    none_found = lambda binary: None  # noqa: E731
    assert missing_debian_packages("celery", none_found) == ["postgresql", "redis-server"]
    assert missing_debian_packages("local", none_found) == ["postgresql"]
    assert missing_debian_packages("celery", lambda binary: f"/usr/bin/{binary}") == []


def test_missing_python_modules_needs_the_celery_provider_only_for_celery():
    assert missing_python_modules("celery", lambda module: False) == ["psycopg2", "airflow.providers.celery", "redis", "celery"]
    assert missing_python_modules("local", lambda module: module != "psycopg2") == ["psycopg2"]


def environment(executor="celery"):
    return airflow_environment(
        {"PATH": "/bin", "AWS_ENDPOINT_URL": "http://127.0.0.1:1", "AIRFLOW__CORE__UNIT_TEST_MODE": "True", "AIRFLOW_CONFIG": "/x.cfg"},
        airflow_home=Path("/tmp/home"),
        executor=executor,
        postgres_port=5001,
        redis_port=6001 if executor == "celery" else None,
        api_port=8001,
        log_ports=(9001, 9002),
        secret="s3cret",
        fernet_key="key",
    )


def test_airflow_environment_is_one_topology_on_loopback():
    env = environment()
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == "postgresql+psycopg2://airflow@127.0.0.1:5001/airflow"
    # SQLAlchemy 2.1 reads a bare postgresql:// as psycopg 3, which is not installed: name the driver.
    assert env["AIRFLOW__CELERY__RESULT_BACKEND"] == "db+postgresql+psycopg2://airflow@127.0.0.1:5001/airflow"
    assert env["AIRFLOW__CELERY__BROKER_URL"] == "redis://127.0.0.1:6001/0"
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://127.0.0.1:8001/execution/"
    # Workers and the API server must agree on the JWT secret, or no task can talk to the Execution API.
    assert env["AIRFLOW__API_AUTH__JWT_SECRET"] == "s3cret"
    assert env["AIRFLOW__CORE__HOSTNAME_CALLABLE"] == "patchflow.distributed.worker_hostname"
    assert env["AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION"] == "True"
    assert env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:1"  # the base (demo's env) is kept
    assert "AIRFLOW__CORE__UNIT_TEST_MODE" not in env and "AIRFLOW_CONFIG" not in env  # but not the caller's Airflow settings


def test_local_executor_environment_has_no_broker():
    env = environment("local")
    assert env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
    assert not any(key.startswith("AIRFLOW__CELERY__") for key in env)


def test_processes_are_the_compose_services_with_two_named_workers():
    names = [name for name, _ in airflow_processes("celery", "python")]
    assert names == ["api-server", "scheduler", "dag-processor", "triggerer", "worker-a", "worker-b"]
    workers = [argv for name, argv in airflow_processes("celery", "python") if name.startswith("worker")]
    assert [argv[argv.index("--celery-hostname") + 1] for argv in workers] == ["worker-a@%h", "worker-b@%h"]
    assert all("--skip-serve-logs" in argv for argv in workers)  # two log servers on one machine would share a port
    assert [name for name, _ in airflow_processes("local", "python")] == ["api-server", "scheduler", "dag-processor", "triggerer"]


def test_worker_hostname_is_the_process_name(monkeypatch):
    monkeypatch.setenv(distributed.HOSTNAME_ENV, "worker-b")
    assert distributed.worker_hostname() == "worker-b"
    monkeypatch.delenv(distributed.HOSTNAME_ENV)
    assert distributed.worker_hostname()


# --------------------------------------------------------------------------- the checks


@pytest.mark.parametrize(
    "task_id, waits",
    [("dev.scan", True), ("prod.wave_3", True), ("test.soak", True), ("dev.gate", False), ("dev.window", False), ("start", False), ("dev.wave_gate", True)],
)
def test_waiting_tasks_are_scan_wave_and_soak(task_id, waits):
    assert is_deferring_task(task_id) is waits


def test_record_poll_keeps_state_changes_in_order_and_the_trigger():
    observation = promoted_observation()
    assert observation.seen_states["dev.wave_1"] == ["running", "deferred", "success"]
    assert observation.seen_triggers["dev.wave_1"] == {"id": 4, "classpath": "x.CommandCompletionTrigger", "triggerer_id": 2}


def test_a_promoted_run_passes_every_check():
    observation = promoted_observation()
    checks = [check_promoted(observation), check_deferred(observation), check_workers(observation, ["worker-a", "worker-b"])]
    assert [c.passed for c in checks] == [True, True, True], checks
    assert "dev" in checks[0].detail
    assert checks[2].detail == "tasks per worker hostname: worker-a: 3, worker-b: 3"
    assert verdict(checks) == 0


def test_promoted_fails_on_a_failed_run_or_a_ledger_that_disagrees():
    observation = promoted_observation()
    observation.report = {"outcome": "blocked"}
    assert not check_promoted(observation).passed
    observation = promoted_observation()
    observation.run = {"state": "failed"}
    observation.task_instances[-1]["state"] = "failed"
    check = check_promoted(observation)
    assert not check.passed and "run failed" in check.detail and "finish" in check.detail


def test_a_wait_held_in_a_worker_fails_the_deferred_check():
    observation = promoted_observation()
    observation.logs["dev.soak"] = "slept in the worker"
    check = check_deferred(observation)
    assert not check.passed and "dev.soak" in check.detail


def test_a_deferral_the_triggerer_never_fired_fails():
    observation = promoted_observation()
    observation.logs["dev.scan"] = "Pausing task as DEFERRED."
    check = check_deferred(observation)
    assert not check.passed and "dev.scan" in check.detail and "Trigger fired event" in check.detail


def test_deferred_needs_the_api_to_have_shown_one_on_a_triggerer():
    observation = promoted_observation()
    observation.seen_triggers = {}
    assert not check_deferred(observation).passed
    observation.task_instances = [ti("start")]
    assert "nothing could defer" in check_deferred(observation).detail


def test_one_worker_doing_everything_fails_the_workers_check():
    observation = promoted_observation()
    for each in observation.task_instances:
        each["hostname"] = "worker-a"
    check = check_workers(observation, ["worker-a", "worker-b"])
    assert not check.passed and "no task ran on worker-b" in check.detail
    observation.task_instances[0]["hostname"] = "laptop"
    assert "unexpected hosts laptop" in check_workers(observation, ["worker-a", "worker-b"]).detail


def blocked_observation() -> Observation:
    tis = [
        ti("start"),
        ti("dev.wave_1", "failed"),
        ti("dev.gate", "upstream_failed", None),
        ti("test.window", "upstream_failed", None),
        ti("finish", "failed", "worker-b"),
    ]
    observation = Observation(run={"state": "failed"}, task_instances=tis)
    observation.report = {"outcome": "blocked", "blocking_stage": "dev", "reason": "install wave 1: 9 of 10 failed"}
    return observation


def test_the_block_shows_through_the_api():
    check = check_blocked(blocked_observation(), "dev", ["test", "prod"])
    assert check.passed, check
    assert "dev.wave_1" in check.detail and "9 of 10 failed" in check.detail


def test_block_check_fails_when_a_later_stage_ran_or_the_ledger_disagrees():
    observation = blocked_observation()
    observation.task_instances[3]["state"] = "success"
    assert "later stages ran: test.window" in check_blocked(observation, "dev", ["test", "prod"]).detail
    observation = blocked_observation()
    observation.report = {"outcome": "promoted"}
    observation.run = {"state": "success"}
    check = check_blocked(observation, "dev", ["test"])
    assert not check.passed and "run success" in check.detail and "expected blocked at dev" in check.detail


def test_verdict_is_nonzero_when_any_check_fails():
    assert verdict([Check("a", True, ""), Check("b", False, "")]) == 1


# --------------------------------------------------------------------------- stopping by PID


def test_stop_all_stops_each_process_and_what_it_forked(tmp_path):
    processes = Processes(tmp_path)
    child_pid_file = tmp_path / "child.pid"
    # A parent that ignores SIGTERM and leaves a child behind: both must be gone afterwards.
    script = (
        "import os, signal, subprocess, sys, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        f"child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\n"
        f"open({str(child_pid_file)!r}, 'w').write(str(child.pid))\n"
        "time.sleep(600)\n"
    )
    stubborn = processes.start("stubborn", [sys.executable, "-c", script], dict(os.environ))
    polite = processes.start("polite", [sys.executable, "-c", "import time; time.sleep(600)"], dict(os.environ))
    deadline = time.monotonic() + 30
    while not child_pid_file.exists() or not child_pid_file.read_text():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    child_pid = int(child_pid_file.read_text())
    lines = processes.stop_all(grace=1.0)
    assert lines == [f"polite (pid {polite.process.pid}) stopped", f"stubborn (pid {stubborn.process.pid}) killed after no exit in 1s"]
    assert stubborn.process.poll() is not None and polite.process.poll() is not None
    deadline = time.monotonic() + 10
    while _alive(child_pid):
        assert time.monotonic() < deadline, "the forked child outlived stop_all"
        time.sleep(0.05)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie waiting for its (dead) parent to be reaped counts as gone
    state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] if Path(f"/proc/{pid}/stat").exists() else "X"
    return state != "Z"


def test_the_command_refuses_bad_arguments_before_starting_anything(capsys):
    from patchflow.cli import main

    assert main(["e2e-distributed", "--conf", "[1]"]) == 2
    assert "--conf: expected a JSON object" in capsys.readouterr().err
    assert main(["e2e-distributed", "--fleet", "include/fleets/nope.yaml"]) == 2
    assert "--fleet: expected an existing file" in capsys.readouterr().err


def _command(stage: str, code: str, status: str, at: str) -> dict:
    return {"Comment": f"patchflow abc123def456 {stage} {code} all c1", "Status": status, "RequestedDateTime": at}


@pytest.mark.parametrize(
    ("killed", "commands", "passed", "detail"),
    [
        pytest.param("dev.scan", [_command("dev", "S1", "Cancelled", "1")], True, "dev.scan: 1 command(s) Cancelled; 0 sent after it", id="cancelled"),
        pytest.param("dev.wave_1", [_command("dev", "S1", "Success", "1"), _command("dev", "I1", "Cancelling", "2")], True,
                     "dev.wave_1: 1 command(s) Cancelling; 0 sent after it", id="cancelling-after-a-finished-scan"),
        pytest.param("dev.scan", [_command("dev", "S1", "InProgress", "1")], False, "dev.scan: 1 command(s) InProgress; 0 sent after it", id="still-running"),
        pytest.param("dev.scan", [_command("dev", "S1", "Cancelled", "1"), _command("dev", "I1", "Success", "2")], False,
                     "dev.scan: 1 command(s) Cancelled; 1 sent after it", id="something-sent-after"),
        pytest.param("dev.scan", [], False, "dev.scan: 0 command(s) none found; 0 sent after it", id="no-command-found"),
        pytest.param(None, [], False, "no wave was stopped", id="nothing-stopped"),
    ],
)
def test_check_cancelled(killed, commands, passed, detail):
    check = distributed.check_cancelled(killed, commands)
    assert (check.passed, check.detail) == (passed, detail)
