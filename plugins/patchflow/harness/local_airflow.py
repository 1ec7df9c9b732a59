"""A whole Airflow on loopback for tests that drive it from outside: PostgreSQL, api-server, scheduler,
dag-processor and triggerer with the LocalExecutor, reading DAG stubs from a folder the caller fills.

The dag-processor looks for new files every second, so a test may add a plan's stub while
Airflow runs (a plan whose window opens a minute after the test writes it). The api-server logs
in user admin with a password made here; every process is stopped by its PID on the way out.
"""
from __future__ import annotations

import json
import secrets
import shutil
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from patchflow.harness.airflow_api import Api, dag_if_present
from patchflow.harness.processes import Processes, SetupError, free_port, tail, wait_for
from patchflow.harness.services import start_postgres
from patchflow.harness.topology import HOSTNAME_ENV, airflow_environment, airflow_processes

NEW_FILES_SEEN_EVERY_SECONDS = "1"  # a listing of a folder of a few stubs: cheap, and a test waits on each new one


@dataclass
class LocalAirflow:
    url: str
    password: str
    env: dict[str, str]  # the processes' environment: AWS pointed at fleetsim, the ledger's bucket there
    dags_folder: Path
    processes: Processes

    def add_plan(self, plan_path: Path) -> str:
        """Makes fleetsim ready for the plan (bucket, topic, baselines), writes its DAG stub, waits until Airflow lists the DAG; its id."""
        from patchflow.core.plan import load_plan
        from patchflow.harness.demo import dag_stub_source, prepare_aws

        plan = load_plan(plan_path)
        prepare_aws(plan, self.env)
        synced = subprocess.run([sys.executable, "-m", "patchflow", "sync", "--plans", str(plan_path)], env=self.env, capture_output=True, text=True)
        if synced.returncode:
            raise SetupError(f"patchflow sync --plans {plan_path} failed (exit {synced.returncode}): {synced.stdout[-1500:]}{synced.stderr[-1500:]}")
        (self.dags_folder / f"{plan.dag_id}.py").write_text(dag_stub_source(plan_path, plan_path.name))
        api = Api(self.url)
        api.login("admin", self.password)
        wait_for(f"DAG {plan.dag_id} parsed by the dag-processor", lambda: dag_if_present(api, plan.dag_id), 120, self.processes, 0.25)
        return plan.dag_id


@contextmanager
def local_airflow(fleetsim_endpoint: str) -> Iterator[LocalAirflow]:
    """Everything lives in a new temporary directory, removed afterwards (PostgreSQL, run as its own user when we are
    root, must reach its data there, which a test's private temporary directory would not let it)."""
    from cryptography.fernet import Fernet

    from patchflow.harness.demo import airflow_env

    work = Path(tempfile.mkdtemp(prefix="patchflow-airflow-"))
    work.chmod(0o755)
    log_dir, home, dags = work / "logs", work / "airflow", work / "dags"
    for folder in (log_dir, home, dags):
        folder.mkdir()
    processes = Processes(log_dir)
    try:
        ports = {name: free_port() for name in ("postgres", "api", "logs", "trigger_logs")}
        start_postgres(processes, work, ports["postgres"])
        password = secrets.token_urlsafe(12)
        (home / "passwords.json").write_text(json.dumps({"admin": password}))
        secret = secrets.token_urlsafe(32)
        env = airflow_environment(
            airflow_env(home, dags, fleetsim_endpoint), airflow_home=home, executor="local", postgres_port=ports["postgres"], redis_port=None,
            api_port=ports["api"], log_ports=(ports["logs"], ports["trigger_logs"]), secret=secret, fernet_key=Fernet.generate_key().decode(),
        )
        env.update(
            {
                "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
                "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
                "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": NEW_FILES_SEEN_EVERY_SECONDS,
                "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
                "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
                "PATCHFLOW_POLL_INTERVAL": "1",
            }
        )
        migrated = subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], env=env, capture_output=True, text=True)
        if migrated.returncode:
            raise SetupError(f"airflow db migrate failed (exit {migrated.returncode}): {migrated.stderr[-2000:]}")
        for name, argv in airflow_processes("local", sys.executable):
            processes.start(name, argv, {**env, HOSTNAME_ENV: name})
        url = f"http://127.0.0.1:{ports['api']}"
        wait_for("the API server", lambda: Api(url).request("GET", "/api/v2/version"), 180, processes, 0.5)
        yield LocalAirflow(url, password, env, dags, processes)
    except SetupError as exc:
        logs = "\n".join(f"{s.name}:\n{tail(s.log_path)}" for s in processes.started)
        raise SetupError(f"{exc}\n{logs}") from None
    finally:
        # Nothing here is worth waiting for: the api-server and the triggerer never stop within 5 s of SIGTERM, and
        # one after the other a longer grace only adds up (about 18 s of every module's teardown at 5 s).
        processes.stop_all(grace=1)
        shutil.rmtree(work, ignore_errors=True)
