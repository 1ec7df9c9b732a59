"""`python -m patchflow standalone`: fleetsim plus `airflow standalone`, to click through a rollout in the UI.

Log in as `admin`; the password is printed by Airflow at start and kept in
.airflow/simple_auth_manager_passwords.json.generated.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys

from patchflow.harness.demo import airflow_env, prepare_aws
from patchflow.core.yamlfile import PROJECT_ROOT


def add_arguments(parser) -> None:
    parser.add_argument("--fleet", default="include/fleets/demo.yaml", help="fleet spec for fleetsim")
    parser.add_argument("--port", type=int, default=8080, help="Airflow UI/API port")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--time-scale", type=float, default=60.0, help="simulated seconds per real second")


def run(args) -> int:
    from fleetsim import running
    from patchflow.core.plan import load_plans

    airflow_home = PROJECT_ROOT / ".airflow"
    airflow_home.mkdir(exist_ok=True)
    plans, broken = load_plans(PROJECT_ROOT / "include" / "rollouts")
    for path, error in broken.items():
        print(f"warning: {error}", file=sys.stderr)
    with running(args.fleet, seed=args.seed, time_scale=args.time_scale) as sim:
        env = airflow_env(airflow_home, PROJECT_ROOT / "dags", sim.endpoint)
        env.update(
            {
                "AIRFLOW__API__PORT": str(args.port),
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
                "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",
                "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
                "PATCHFLOW_POLL_INTERVAL": "2",
            }
        )
        for plan in plans:
            prepare_aws(plan, env)
        subprocess.run([sys.executable, "-m", "patchflow", "sync"], env=env, cwd=PROJECT_ROOT, check=False)
        # The pools of the plans' accounts and Regions must exist before the scheduler meets their tasks.
        subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], env=env, cwd=PROJECT_ROOT, check=False, stdout=subprocess.DEVNULL)
        subprocess.run([sys.executable, "-m", "patchflow", "pools", "--apply"], env=env, cwd=PROJECT_ROOT, check=False)
        print(f"fleetsim at {sim.endpoint}; starting Airflow on http://127.0.0.1:{args.port} (user admin, password printed below)")
        process = subprocess.Popen(["airflow", "standalone"], env=env, cwd=PROJECT_ROOT, start_new_session=True)
        try:
            return process.wait()
        except KeyboardInterrupt:
            return 0
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=60)
