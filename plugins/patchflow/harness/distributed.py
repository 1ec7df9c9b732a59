"""`python -m patchflow e2e-distributed`: the demo rollout on Airflow's distributed topology, natively.

What docker-compose.yaml runs in containers, started here as plain processes
on loopback ports inside one temporary directory:

    PostgreSQL  (metadata DB and Celery result backend)   Redis (Celery broker)
    fleetsim    (the simulated SSM fleet)
    api-server  scheduler  dag-processor  triggerer  worker-a  worker-b (Celery)

Then it acts as a release manager's script would: gets a JWT from
/auth/token, unpauses the plan's DAG and triggers it through /api/v2 with a
trigger-form config, follows the run through the API until it ends, and checks
what the API (and the run ledger) say:

    promoted    run success, ledger outcome `promoted`
    deferred    every SSM wait was handed to the triggerer (seen `deferred` with a
                trigger over the API, and the task log says it paused as DEFERRED),
                so no worker slot was held while SSM worked
    hosts       every task instance ran on one of the Celery workers (TI `hostname`)
    workers     over every run on the topology, both Celery workers ran tasks

With a failing fleet and `--expect blocked` it checks the block instead: run
failed, a task of the first stage failed on the gate, ledger outcome `blocked`
at that stage, no later stage ran. Every process it started is stopped by PID
whatever happens. PostgreSQL and Redis come from Debian's packages (installed
with apt-get only when missing); the Celery provider from requirements.txt.

`--then FLEET:EXPECT` (repeatable) checks more outcomes on the same topology:
after the first run it stops fleetsim, starts it with FLEET on the same port,
creates the ledger bucket and syncs the baselines again, then triggers another
run and checks it as `--expect EXPECT` would. Airflow starts and stops once for
all the runs. result.json lists every run under `runs`.

`--executor local` runs the same path with the LocalExecutor and no Redis
(api-server, scheduler, dag-processor, triggerer), for a cheaper check.

The checks are pure functions over the API's JSON (patchflow.harness.checks),
tested without starting anything; the processes, the services and the REST
client live beside this module. Exit 0 when every check passes, 1 when one
fails, 2 when the topology could not be started.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from patchflow.harness.airflow_api import Api, dag_if_present, follow_run, kill_first_deferred_wave
from patchflow.harness.checks import Check, check_blocked, check_cancelled, check_deferred, check_promoted, check_worker_hosts, check_workers, is_deferring_task, task_table, verdict
from patchflow.harness.processes import Processes, SetupError, Started, free_port, step, tail, wait_for
from patchflow.harness.services import ensure_installed, start_postgres, start_redis
from patchflow.harness.topology import HOSTNAME_ENV, WORKER_NAMES, airflow_environment, airflow_processes
from patchflow.core.report_records import Report
from patchflow.core.yamlfile import PROJECT_ROOT

REPORT_DIR = "reports/e2e-distributed"
EXPECTATIONS = ("promoted", "blocked", "cancelled")


def add_arguments(parser) -> None:
    parser.add_argument("--fleet", default="include/fleets/demo.yaml", help="fleet spec for fleetsim")
    parser.add_argument("--plan", default="include/rollouts/demo.yaml", help="rollout plan whose DAG is triggered (its stub must be in dags/)")
    parser.add_argument(
        "--expect", choices=EXPECTATIONS, default="promoted",
        help="the outcome the checks require; cancelled: mark the first deferred wave failed through the API, as a person stopping it would, and require its SSM command cancelled",
    )
    parser.add_argument(
        "--then", metavar="FLEET:EXPECT", type=then_rollout, action="append", default=[],
        help="after the first run, restart fleetsim with FLEET on the same port, trigger another run on the same Airflow and require EXPECT; repeatable",
    )
    parser.add_argument(
        "--load", metavar="CASE", default=None,
        help="after the other runs, trigger the load case's rollouts all at once against its throttled fleet (bench/load/rollouts.yaml; patchflow.harness.load)",
    )
    parser.add_argument("--load-alone", action="store_true", help="with --load: run each plan of the case on its own first, for the figures")
    parser.add_argument("--conf", default='{"change_ticket": "CHG-1234"}', help="trigger-form params as JSON")
    parser.add_argument("--executor", choices=("celery", "local"), default="celery", help="celery: two Celery workers and Redis; local: LocalExecutor")
    parser.add_argument("--seed", type=int, default=7, help="fleetsim seed")
    parser.add_argument("--time-scale", type=float, default=120.0, help="fleetsim simulated seconds per real second")
    parser.add_argument("--timeout", type=int, default=900, help="seconds the whole check may take before it gives up")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (databases, Airflow home) after a passing run")
    parser.add_argument("--no-install", action="store_true", help="never run apt-get or pip; fail if something is missing")


def then_rollout(value: str) -> tuple[str, str]:
    """--then's FLEET:EXPECT as (fleet, expect)."""
    fleet, _, expect = value.rpartition(":")
    if not fleet or expect not in EXPECTATIONS:
        raise argparse.ArgumentTypeError(f"expected FLEET:EXPECT with EXPECT one of {', '.join(EXPECTATIONS)}, got {value!r}")
    return fleet, expect


def run(args) -> int:
    try:
        conf = json.loads(args.conf)
        if not isinstance(conf, dict):
            raise ValueError
    except ValueError:
        print(f"e2e-distributed: --conf: expected a JSON object, got {args.conf!r}", file=sys.stderr)
        return 2
    for label, given in (("--fleet", args.fleet), ("--plan", args.plan), *(("--then", fleet) for fleet, _ in args.then)):
        if not input_path(given).is_file():
            print(f"e2e-distributed: {label}: expected an existing file, got {given!r}", file=sys.stderr)
            return 2
    case = None
    if args.load:
        from patchflow.core.errors import InvalidInput
        from patchflow.harness.load_case import read_load_case

        try:
            case = read_load_case(input_path(args.load))
        except InvalidInput as exc:
            print(f"e2e-distributed: --load: {exc}", file=sys.stderr)
            return 2
    elif args.load_alone:
        print("e2e-distributed: --load-alone: expected --load CASE beside it", file=sys.stderr)
        return 2
    started = time.monotonic()
    import logging

    logging.getLogger("botocore").setLevel(logging.WARNING)  # reading the ledger is not news
    try:
        ensure_installed(args.executor, allow_install=not args.no_install)
    except (SetupError, subprocess.CalledProcessError) as exc:
        print(f"e2e-distributed: {exc}", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="patchflow-e2e-"))
    work.chmod(0o755)  # the postgres user must reach its data directory inside
    report_dir = PROJECT_ROOT / REPORT_DIR
    log_dir = report_dir / "logs"
    if log_dir.exists():
        shutil.rmtree(log_dir)
    log_dir.mkdir(parents=True)
    processes = Processes(log_dir)
    code = 2
    try:
        code = _run(args, conf, work, processes, report_dir, case)
    except SetupError as exc:
        print(f"e2e-distributed: {exc}", file=sys.stderr)
    except KeyboardInterrupt:
        print("e2e-distributed: interrupted", file=sys.stderr)
        code = 130
    finally:
        step("stopping every process it started, by PID")
        for line in processes.stop_all():
            print(f"    {line}", flush=True)
        if code == 0 and not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"    kept {work} (Airflow home, databases); component logs in {log_dir.relative_to(PROJECT_ROOT)}", flush=True)
    expected = ", then ".join([*(expect for _, expect in [(args.fleet, args.expect), *args.then]), *(["the load case"] if case else [])])
    print(f"e2e-distributed: {'PASS' if code == 0 else 'FAIL'} in {time.monotonic() - started:.0f}s (executor {args.executor}, expected {expected})", flush=True)
    return code


def _run(args, conf: dict, work: Path, processes: Processes, report_dir: Path, case=None) -> int:
    from patchflow.harness.demo import airflow_env as demo_env
    from patchflow.harness.demo import prepare_aws
    from patchflow.core.plan import load_plan

    give_up_at = time.monotonic() + args.timeout
    plan_path = input_path(args.plan)
    plan = load_plan(plan_path.resolve())
    rollouts = [(args.fleet, args.expect), *args.then]
    timings: dict[str, float] = {}
    mark = time.monotonic()

    def lap(name: str) -> None:
        nonlocal mark
        timings[name] = round(time.monotonic() - mark, 1)
        mark = time.monotonic()

    ports = {"postgres": free_port(), "redis": free_port(), "fleetsim": free_port(), "api": free_port(), "logs": free_port(), "trigger_logs": free_port()}

    step(f"starting PostgreSQL and {'Redis' if args.executor == 'celery' else 'no Redis (LocalExecutor)'} in {work}")
    start_postgres(processes, work, ports["postgres"])
    if args.executor == "celery":
        start_redis(processes, work, ports["redis"])
    lap("databases")

    endpoint = f"http://127.0.0.1:{ports['fleetsim']}"
    sim = start_fleetsim(processes, "fleetsim", input_path(args.fleet), ports["fleetsim"], args)

    airflow_home = work / "airflow"
    airflow_home.mkdir()
    secret = secrets.token_urlsafe(32)
    password = secrets.token_urlsafe(16)
    (airflow_home / "passwords.json").write_text(json.dumps({"admin": password}))
    from cryptography.fernet import Fernet

    env = airflow_environment(
        demo_env(airflow_home, PROJECT_ROOT / "dags", endpoint),
        airflow_home=airflow_home,
        executor=args.executor,
        postgres_port=ports["postgres"],
        redis_port=ports["redis"] if args.executor == "celery" else None,
        api_port=ports["api"],
        log_ports=(ports["logs"], ports["trigger_logs"]),
        secret=secret,
        fernet_key=Fernet.generate_key().decode(),
    )
    if case is not None:
        from patchflow.harness.load import load_connections, load_dags_folder

        env["AIRFLOW__CORE__DAGS_FOLDER"] = str(load_dags_folder(case, work))
        env.update(load_connections(env))
    prepare_aws(plan, env)
    sync = [sys.executable, "-m", "patchflow", "sync", "--plans", str(plan_path.resolve())]
    step("syncing patch baselines, migrating the metadata database")
    # Independent of each other, so side by side: fleetsim's baselines, Airflow's schema.
    run_one_shots(processes, [("sync", sync), ("db-migrate", [sys.executable, "-m", "airflow", "db", "migrate"])], env)
    lap("sync_and_migrate")

    step(f"starting Airflow with the {'CeleryExecutor' if args.executor == 'celery' else 'LocalExecutor'} as separate processes")
    started_airflow = {}
    for name, argv in airflow_processes(args.executor, sys.executable):
        started_airflow[name] = processes.start(name, argv, {**env, HOSTNAME_ENV: name})
    api = Api(f"http://127.0.0.1:{ports['api']}")
    wait_for("the API server", lambda: api.request("GET", "/api/v2/version"), 180, processes, 1.0)
    api.login("admin", password)
    if args.executor == "celery":
        for name in WORKER_NAMES:
            log_path = started_airflow[name].log_path
            wait_for(f"Celery {name}", lambda p=log_path, n=name: f"{n}@" in p.read_text(errors="replace") and " ready." in p.read_text(errors="replace"), 180, processes, 1.0)
    dag = wait_for(f"DAG {plan.dag_id} parsed by the dag-processor", lambda: dag_if_present(api, plan.dag_id), 240, processes, 1.0)
    health = api.request("GET", "/api/v2/monitor/health")
    print("    health: " + ", ".join(f"{k} {v.get('status')}" for k, v in health.items() if isinstance(v, dict)), flush=True)
    if dag.get("is_paused"):
        api.request("PATCH", f"/api/v2/dags/{plan.dag_id}", {"is_paused": False})
    lap("airflow_up")

    for key in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"):
        os.environ[key] = env[key]  # this process reads each run's ledger and commands where the run was pointed
    runs = []
    for number, (fleet, expect) in enumerate(rollouts, start=1):
        if number > 1:
            # Airflow keeps running; only the fleet changes, on the port every Airflow process already uses.
            step(f"the next rollout on another fleet: stopping fleetsim, starting it again on port {ports['fleetsim']}")
            print(f"    {processes.stop(sim)}", flush=True)
            sim = start_fleetsim(processes, f"fleetsim-{number}", input_path(fleet), ports["fleetsim"], args)
            prepare_aws(plan, env)
            run_one_shots(processes, [(f"sync-{number}", sync)], env)
            lap(f"fleetsim_{number}")
        runs.append({"fleet": fleet, **rollout(api, plan, conf, expect, args.executor, processes, deadline=max(time.monotonic() + 60, give_up_at))})
        lap("rollout" if number == 1 else f"rollout_{number}")

    load = None
    if case is not None:
        from patchflow.harness.load import run_load

        def restart_fleetsim(fleet: Path) -> None:
            nonlocal sim
            step(f"the load case: stopping fleetsim, starting it with {fleet.name} on port {ports['fleetsim']}")
            print(f"    {processes.stop(sim)}", flush=True)
            sim = start_fleetsim(processes, "fleetsim-load", fleet, ports["fleetsim"], args)

        load = run_load(api, env, processes, case, endpoint=endpoint, restart_fleetsim=restart_fleetsim, run_one_shots=run_one_shots,
                        alone=args.load_alone, deadline=max(time.monotonic() + 60, give_up_at))
        lap("load")

    topology_checks = []
    if args.executor == "celery":
        # Judged over every run together: a run blocked after six tasks may fairly have landed on one worker.
        topology_checks.append(check_workers((ti for run in runs for ti in run["task_instances"]), WORKER_NAMES))
        for check in topology_checks:
            print(check.line(), flush=True)
    print(f"  timings: {', '.join(f'{k} {v}s' for k, v in timings.items())}", flush=True)
    result = {"executor": args.executor, "dag_id": plan.dag_id, "runs": runs, "checks": [c.__dict__ for c in topology_checks], "timings": timings,
              **({"load": load} if load else {})}
    (report_dir / "result.json").write_text(json.dumps(result, indent=2, sort_keys=True, default=str))
    return verdict([*topology_checks, *(Check(**check) for run in [*runs, *([load] if load else [])] for check in run["checks"])])


def input_path(given: str) -> Path:
    """A --fleet or --plan as given: relative to the project, or else to the current directory."""
    return (PROJECT_ROOT / given) if (PROJECT_ROOT / given).is_file() else Path(given)


def start_fleetsim(processes: Processes, name: str, fleet_path: Path, port: int, args) -> Started:
    shown = fleet_path.relative_to(PROJECT_ROOT) if fleet_path.resolve().is_relative_to(PROJECT_ROOT) else fleet_path
    step(f"starting fleetsim with {shown}")
    # fleetsim serves the endpoint; it is pointed at none (this process's environment may name fleetsim's own).
    fleetsim_env = {k: v for k, v in os.environ.items() if k != "AWS_ENDPOINT_URL"}
    fleetsim_env.update(PYTHONPATH=os.pathsep.join([str(PROJECT_ROOT / "plugins"), str(PROJECT_ROOT)]), PYTHONUNBUFFERED="1")
    sim = processes.start(
        name,
        [sys.executable, "-m", "fleetsim", "serve", "--fleet", str(fleet_path), "--port", str(port), "--host", "127.0.0.1",
         "--seed", str(args.seed), "--time-scale", repr(float(args.time_scale))],
        fleetsim_env,
    )
    wait_for(name, lambda: "fleetsim: serving" in sim.log_path.read_text(errors="replace"), 120, processes, 0.2)
    return sim


def run_one_shots(processes: Processes, commands: list[tuple[str, list[str]]], env: dict[str, str]) -> None:
    """Runs the commands side by side and waits for each; one that fails stops the check."""
    one_shots = [processes.start(name, argv, env) for name, argv in commands]
    for one_shot in one_shots:
        try:
            code = one_shot.process.wait(timeout=600)
        except subprocess.TimeoutExpired:
            raise SetupError(f"{one_shot.name} did not finish in 600s; see {one_shot.log_path}") from None
        processes.started.remove(one_shot)
        if code:
            raise SetupError(f"{one_shot.name} failed (exit {code}); see {one_shot.log_path}:\n{tail(one_shot.log_path)}")


def rollout(api: Api, plan, conf: dict, expect: str, executor: str, processes: Processes, deadline: float) -> dict:
    """Triggers one run as a release manager would, follows it to its end and checks it ends as `expect` says."""
    step(f"as a release manager: trigger {plan.dag_id} with {json.dumps(conf)} through /api/v2 (expecting {expect})")
    triggered = api.request(
        "POST", f"/api/v2/dags/{plan.dag_id}/dagRuns",
        {"logical_date": None, "conf": conf, "note": "triggered by patchflow e2e-distributed"}, expect=(200,),
    )
    run_id = triggered["dag_run_id"]
    print(f"    run {run_id} queued", flush=True)
    killed = kill_first_deferred_wave(api, plan.dag_id, run_id, processes, time.monotonic() + 300) if expect == "cancelled" else None
    observation = follow_run(api, plan.dag_id, run_id, processes, deadline=deadline)

    for ti in observation.task_instances:
        if is_deferring_task(ti["task_id"]) and ti.get("state") in ("success", "failed") or ti.get("state") == "failed":
            try:
                observation.logs[ti["task_id"]] = api.log_text(plan.dag_id, run_id, ti["task_id"], max(1, ti.get("try_number") or 1))
            except SetupError as exc:
                observation.logs[ti["task_id"]] = f"(log not readable: {exc})"
    observation.report = ledger_report(plan, run_id)

    if expect == "cancelled":
        checks = [check_cancelled(killed, commands_of_run(plan.dag_id, run_id))]
    elif expect == "blocked":
        checks = [check_blocked(observation, plan.stages[0].name, [s.name for s in plan.stages[1:]])]
    else:
        checks = [check_promoted(observation)]
    if expect != "cancelled":  # the stopped run never finishes its waits
        checks.append(check_deferred(observation))
    if executor == "celery":
        checks.append(check_worker_hosts(observation, WORKER_NAMES))
    print()
    print(task_table(observation))
    print()
    for check in checks:
        print(check.line())
    print(flush=True)
    return {
        "expect": expect,
        "run_id": run_id,
        "run_state": observation.run.get("state"),
        "ledger_outcome": observation.report.outcome.value if observation.report else None,
        "checks": [c.__dict__ for c in checks],
        "task_instances": [{k: ti.get(k) for k in ("task_id", "state", "hostname", "try_number")} for ti in observation.task_instances],
        "seen_states": observation.seen_states,
        "seen_triggers": observation.seen_triggers,
    }


def commands_of_run(dag_id: str, run_id: str) -> list[dict]:
    """Every AWS-RunPatchBaseline command this run sent, found by its run-scoped comment token.

    Reads SSM through the environment the run was pointed at (set before the checks run).
    """
    from patchflow.aws.client import aws_client
    from patchflow.aws.commands import PATCH_DOCUMENT

    token = hashlib.sha256(f"{dag_id}/{run_id}".encode()).hexdigest()[:12]
    ssm = aws_client("ssm")
    pages = ssm.get_paginator("list_commands").paginate(Filters=[{"key": "DocumentName", "value": PATCH_DOCUMENT}])
    return [c for page in pages for c in page["Commands"] if f"patchflow {token} " in c.get("Comment", "")]


def ledger_report(plan, run_id: str) -> Report | None:
    from patchflow.aws.ledger import RunLedger, open_store
    from patchflow.core.report import build_report

    records = RunLedger(open_store(plan.ledger_uri), plan.dag_id, run_id).records()
    return build_report(records) if records else None

