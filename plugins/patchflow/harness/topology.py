"""The Airflow topology of the end-to-end run: docker-compose.yaml's services as processes on loopback ports.

Pure: which processes to start and the settings they share; starting them is
the command's job (patchflow.harness.distributed).
"""
from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Mapping

from patchflow.core.yamlfile import PROJECT_ROOT

WORKER_NAMES = ("worker-a", "worker-b")
HOSTNAME_ENV = "PATCHFLOW_E2E_HOSTNAME"


def worker_hostname() -> str:
    """`[core] hostname_callable` for the run: each process's own name, so two workers on one machine stay apart."""
    return os.environ.get(HOSTNAME_ENV) or socket.getfqdn()


def airflow_environment(
    base: Mapping[str, str],
    *,
    airflow_home: Path,
    executor: str,
    postgres_port: int,
    redis_port: int | None,
    api_port: int,
    log_ports: tuple[int, int],
    secret: str,
    fernet_key: str,
) -> dict[str, str]:
    """The settings every Airflow process shares (docker-compose.yaml's x-airflow-common, on loopback)."""
    database = f"postgresql+psycopg2://airflow@127.0.0.1:{postgres_port}/airflow"
    # Nothing Airflow-ish leaks in from the caller's shell (or a test's AIRFLOW__CORE__UNIT_TEST_MODE).
    env = {k: v for k, v in base.items() if not k.startswith("AIRFLOW__") and k != "AIRFLOW_CONFIG"}
    env.update(
        {
            "AIRFLOW_HOME": str(airflow_home),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(PROJECT_ROOT / "plugins"),
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor" if executor == "celery" else "LocalExecutor",
            "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
            "AIRFLOW__CORE__FERNET_KEY": fernet_key,
            "AIRFLOW__CORE__HOSTNAME_CALLABLE": "patchflow.harness.topology.worker_hostname",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
            "AIRFLOW__CORE__AUTH_MANAGER": "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(airflow_home / "passwords.json"),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": database,
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(api_port),
            "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{api_port}",
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__API__SECRET_KEY": secret,
            "AIRFLOW__API_AUTH__JWT_SECRET": secret,
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(log_ports[0]),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(log_ports[1]),
            "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
            # An idle scheduler loop sleeps a second by default, and a finished task's downstream waits for
            # the next loop to be queued: a rollout of a few dozen tasks in a row sleeps through tens of seconds.
            "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.25",
            # A task's calls to the Execution API (start, park, resume, finish) time out at 5 s by default; one
            # API worker on a busy machine answers slower, and the task then fails though nothing was wrong.
            "AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT": "30",
            "PYTHONUNBUFFERED": "1",
        }
    )
    if executor == "celery":
        env.update(
            {
                "AIRFLOW__CELERY__BROKER_URL": f"redis://127.0.0.1:{redis_port}/0",
                "AIRFLOW__CELERY__RESULT_BACKEND": f"db+postgresql+psycopg2://airflow@127.0.0.1:{postgres_port}/airflow",
                "AIRFLOW__CELERY__WORKER_CONCURRENCY": "2",
                "AIRFLOW__CELERY__WORKER_PREFETCH_MULTIPLIER": "1",
            }
        )
    else:
        env["AIRFLOW__CORE__PARALLELISM"] = "4"
    return env


def airflow_processes(executor: str, python: str) -> list[tuple[str, list[str]]]:
    """(name, argv) of every Airflow process, in start order; the name is also the process's hostname."""
    airflow = [python, "-m", "airflow"]
    processes = [
        ("api-server", airflow + ["api-server"]),
        ("scheduler", airflow + ["scheduler"]),
        ("dag-processor", airflow + ["dag-processor"]),
        ("triggerer", airflow + ["triggerer"]),
    ]
    if executor == "celery":
        for name in WORKER_NAMES:
            processes.append((name, airflow + ["celery", "worker", "--celery-hostname", f"{name}@%h", "--concurrency", "2", "--skip-serve-logs"]))
    return processes

