"""The end-to-end run's Airflow topology: the processes it starts and the settings they share."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from patchflow.harness import topology
from patchflow.harness.topology import airflow_environment, airflow_processes
from patchflow.core.yamlfile import PROJECT_ROOT


def environment(executor="celery"):
    return airflow_environment(
        {"PATH": "/bin", "AWS_ENDPOINT_URL": "http://127.0.0.1:1", "AIRFLOW__CORE__UNIT_TEST_MODE": "True", "AIRFLOW_CONFIG": "/x.cfg"},
        airflow_home=Path("/srv/airflow-home"),
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
    assert env["AIRFLOW__CORE__HOSTNAME_CALLABLE"] == "patchflow.harness.topology.worker_hostname"
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
    monkeypatch.setenv(topology.HOSTNAME_ENV, "worker-b")
    assert topology.worker_hostname() == "worker-b"
    monkeypatch.delenv(topology.HOSTNAME_ENV)
    assert topology.worker_hostname()



def test_airflow_finds_the_hostname_callable_the_topology_names():
    # Airflow imports `[core] hostname_callable` by its dotted path when a worker records its
    # hostname; a path left behind by a move would fail every task, so ask Airflow itself.
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW__")}  # as airflow_environment leaves it
    env.update(
        {
            "AIRFLOW__CORE__HOSTNAME_CALLABLE": environment()["AIRFLOW__CORE__HOSTNAME_CALLABLE"],
            topology.HOSTNAME_ENV: "worker-b",
            "PYTHONPATH": os.pathsep.join([str(PROJECT_ROOT / "plugins"), str(PROJECT_ROOT)]),
        }
    )
    finished = subprocess.run(
        [sys.executable, "-c", "from airflow.utils.net import get_hostname; print(get_hostname())"],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert (finished.returncode, finished.stdout.strip()) == (0, "worker-b"), finished.stderr[-2000:]
