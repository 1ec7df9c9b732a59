"""`python -m patchflow standalone`: fleetsim plus `airflow standalone`, to click through a rollout in the UI.

Log in as `admin`; the password is printed by Airflow at start and kept in
.airflow/simple_auth_manager_passwords.json.generated.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

from patchflow.harness.demo import HomeInUse, airflow_env, only_airflow_on, prepare_aws, restore_ledger
from patchflow.core.yamlfile import PROJECT_ROOT


def add_arguments(parser) -> None:
    parser.add_argument("--fleet", default="include/fleets/demo.yaml", help="fleet spec for fleetsim")
    parser.add_argument("--port", type=int, default=8080, help="Airflow UI/API port")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--time-scale", type=float, default=60.0, help="simulated seconds per real second")
    parser.add_argument("--airflow-home", default=".airflow", help="AIRFLOW_HOME for the run (created if missing)")


def standalone_settings(port: int) -> dict[str, str]:
    """The Airflow settings of `airflow standalone` on `port`.

    Every address follows the port: task processes report to the Execution API
    (left unset, Airflow sends them to localhost:8080, where nothing or another
    Airflow answers), and links Airflow builds (task log URLs) start at base_url.
    """
    address = f"http://127.0.0.1:{port}"
    return {
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__BASE_URL": address,
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{address}/execution/",
        # One API worker on SQLite answers slowly while a rollout starts on a busy machine;
        # at Airflow's 5 s a task's start or finish call times out and the task fails.
        "AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT": "30",
        # Task logs carry what a waiting task waits for ("waiting for window, opens ..."), written at INFO;
        # the demo's quiet WARNING would leave them empty.
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "PATCHFLOW_POLL_INTERVAL": "2",
    }


def port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("0.0.0.0", port))
        except OSError:
            return True
    return False


def run(args) -> int:
    if port_in_use(args.port):
        # The api-server would fail to start while every task reported to whatever answers there.
        print(f"standalone: --port {args.port}: expected a free port, got one in use (PORT=... picks another)", file=sys.stderr)
        return 2
    airflow_home = Path(args.airflow_home)
    airflow_home = airflow_home if airflow_home.is_absolute() else PROJECT_ROOT / airflow_home
    airflow_home.mkdir(parents=True, exist_ok=True)
    # A closed terminal stops Airflow too, instead of leaving it running on the home and the port.
    signal.signal(signal.SIGHUP, signal.getsignal(signal.SIGTERM))
    try:
        with only_airflow_on(airflow_home):
            return _run(args, airflow_home)
    except HomeInUse:
        print(f"standalone: --airflow-home {args.airflow_home}: expected no other Airflow on it, got one running (a standalone or a demo: stop it first)", file=sys.stderr)
        return 2


def _run(args, airflow_home: Path) -> int:
    from fleetsim import running
    from patchflow.core.plan import load_plans

    plans, broken = load_plans(PROJECT_ROOT / "include" / "rollouts")
    for path, error in broken.items():
        print(f"warning: {error}", file=sys.stderr)
    with running(args.fleet, seed=args.seed, time_scale=args.time_scale) as sim:
        env = airflow_env(airflow_home, PROJECT_ROOT / "dags", sim.endpoint)
        env.update(standalone_settings(args.port))
        for plan in plans:
            prepare_aws(plan, env)
            restore_ledger(plan, env, airflow_home)  # what `make demo` recorded shows on the Patch rollouts page
        subprocess.run([sys.executable, "-m", "patchflow", "sync"], env=env, cwd=PROJECT_ROOT, check=False)
        # The pools of the plans' accounts and Regions must exist before the scheduler meets their tasks.
        subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], env=env, cwd=PROJECT_ROOT, check=False, stdout=subprocess.DEVNULL)
        subprocess.run([sys.executable, "-m", "patchflow", "pools", "--apply"], env=env, cwd=PROJECT_ROOT, check=False)
        print(f"fleetsim at {sim.endpoint}; starting Airflow on http://127.0.0.1:{args.port} (user admin, password printed below)", flush=True)
        process = subprocess.Popen(["airflow", "standalone"], env=env, cwd=PROJECT_ROOT, start_new_session=True)
        try:
            return process.wait()
        except KeyboardInterrupt:
            return 0
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=60)
