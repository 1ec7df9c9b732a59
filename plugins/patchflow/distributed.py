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
    workers     task instances ran on both Celery workers (TI `hostname`)

With a failing fleet and `--expect blocked` it checks the block instead: run
failed, a task of the first stage failed on the gate, ledger outcome `blocked`
at that stage, no later stage ran. Every process it started is stopped by PID
whatever happens. PostgreSQL and Redis come from Debian's packages (installed
with apt-get only when missing); the Celery provider from requirements.txt.

`--executor local` runs the same path with the LocalExecutor and no Redis
(api-server, scheduler, dag-processor, triggerer), for a cheaper check.

The checks are pure functions over the API's JSON (`check_*`), tested without
starting anything. Exit 0 when every check passes, 1 when one fails, 2 when the
topology could not be started.
"""
from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from patchflow.yamlfile import PROJECT_ROOT

WORKER_NAMES = ("worker-a", "worker-b")
HOSTNAME_ENV = "PATCHFLOW_E2E_HOSTNAME"
# Tasks that wait on SSM or on the clock: each must defer rather than sleep in a worker slot.
DEFERRING_TASKS = ("scan", "wave_", "soak")
DEFERRED_LOG_LINE = "Pausing task as DEFERRED"  # the worker's task runner, as it hands the wait over
TRIGGER_FIRED_LINE = "Trigger fired event"  # the triggerer, when the wait is over (its file is merged into the task log)
FINISHED_RUN_STATES = ("success", "failed")
REPORT_DIR = "reports/e2e-distributed"


def worker_hostname() -> str:
    """`[core] hostname_callable` for the run: each process's own name, so two workers on one machine stay apart."""
    return os.environ.get(HOSTNAME_ENV) or socket.getfqdn()


def add_arguments(parser) -> None:
    parser.add_argument("--fleet", default="include/fleets/demo.yaml", help="fleet spec for fleetsim")
    parser.add_argument("--plan", default="include/rollouts/demo.yaml", help="rollout plan whose DAG is triggered (its stub must be in dags/)")
    parser.add_argument(
        "--expect", choices=("promoted", "blocked", "cancelled"), default="promoted",
        help="the outcome the checks require; cancelled: mark the first deferred wave failed through the API, as a person stopping it would, and require its SSM command cancelled",
    )
    parser.add_argument("--conf", default='{"change_ticket": "CHG-1234"}', help="trigger-form params as JSON")
    parser.add_argument("--executor", choices=("celery", "local"), default="celery", help="celery: two Celery workers and Redis; local: LocalExecutor")
    parser.add_argument("--seed", type=int, default=7, help="fleetsim seed")
    parser.add_argument("--time-scale", type=float, default=120.0, help="fleetsim simulated seconds per real second")
    parser.add_argument("--timeout", type=int, default=900, help="seconds the whole check may take before it gives up")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (databases, Airflow home) after a passing run")
    parser.add_argument("--no-install", action="store_true", help="never run apt-get or pip; fail if something is missing")


class SetupError(Exception):
    """One line: why the topology could not be started."""


# --------------------------------------------------------------------------- pure: what to install, what to start


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    detail: str


def missing_debian_packages(executor: str, find_binary: Callable[[str], str | None]) -> list[str]:
    """Debian packages to install so the topology can start (PostgreSQL always, Redis for Celery)."""
    wanted = [("postgresql", "initdb"), ("postgresql", "postgres")]
    if executor == "celery":
        wanted.append(("redis-server", "redis-server"))
    return sorted({package for package, binary in wanted if find_binary(binary) is None})


def missing_python_modules(executor: str, importable: Callable[[str], bool]) -> list[str]:
    modules = ["psycopg2"]
    if executor == "celery":
        modules += ["airflow.providers.celery", "redis", "celery"]
    return [m for m in modules if not importable(m)]


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
            "AIRFLOW__CORE__HOSTNAME_CALLABLE": "patchflow.distributed.worker_hostname",
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


# --------------------------------------------------------------------------- pure: the checks


@dataclass
class Observation:
    """What the release manager's script saw through the API (plus the ledger's own report)."""

    run: dict
    task_instances: list[dict]
    seen_states: dict[str, list[str]] = field(default_factory=dict)  # task_id -> states in the order seen
    seen_triggers: dict[str, dict] = field(default_factory=dict)  # task_id -> the trigger seen while deferred
    logs: dict[str, str] = field(default_factory=dict)  # task_id -> its log text, from the API
    report: dict | None = None  # patchflow.report.build_report over the run's ledger


def record_poll(observation: Observation, task_instances: Iterable[Mapping]) -> None:
    """Fold one poll of the task-instance list into what has been seen."""
    for ti in task_instances:
        states = observation.seen_states.setdefault(ti["task_id"], [])
        state = ti.get("state")
        if state and (not states or states[-1] != state):
            states.append(state)
        if state == "deferred" and ti.get("trigger"):
            observation.seen_triggers[ti["task_id"]] = {k: ti["trigger"].get(k) for k in ("id", "classpath", "triggerer_id")}


def is_deferring_task(task_id: str) -> bool:
    leaf = task_id.rsplit(".", 1)[-1]
    return any(leaf == name or (name.endswith("_") and leaf.startswith(name)) for name in DEFERRING_TASKS)


def check_deferred(observation: Observation) -> Check:
    """Every SSM/soak wait that ran went to the triggerer: its log says DEFERRED, and the API showed one deferred on a trigger."""
    ran = [ti["task_id"] for ti in observation.task_instances if is_deferring_task(ti["task_id"]) and ti.get("state") in ("success", "failed")]
    if not ran:
        return Check("deferred", False, "no scan, wave or soak task ran, so nothing could defer")
    not_deferred = [t for t in ran if DEFERRED_LOG_LINE not in observation.logs.get(t, "")]
    not_fired = [t for t in ran if TRIGGER_FIRED_LINE not in observation.logs.get(t, "")]
    seen = {t: trig for t, trig in observation.seen_triggers.items() if trig.get("triggerer_id") is not None}
    if not_deferred:
        return Check("deferred", False, f"{len(not_deferred)} waiting task(s) never logged {DEFERRED_LOG_LINE!r}: {', '.join(sorted(not_deferred))}")
    if not_fired:
        return Check("deferred", False, f"{len(not_fired)} waiting task(s) have no triggerer line {TRIGGER_FIRED_LINE!r} in their log: {', '.join(sorted(not_fired))}")
    if not seen:
        return Check("deferred", False, f"{len(ran)} tasks logged a deferral, but the API never showed one deferred on a triggerer")
    classpaths = sorted({trig["classpath"].rsplit(".", 1)[-1] for trig in seen.values() if trig.get("classpath")})
    triggerers = sorted({str(trig["triggerer_id"]) for trig in seen.values()})
    return Check(
        "deferred",
        True,
        f"all {len(ran)} waiting tasks deferred and were resumed by the triggerer's event; {len(seen)} seen deferred over the API on triggerer job {', '.join(triggerers)} ({', '.join(classpaths)})",
    )


def check_workers(observation: Observation, expected: Iterable[str]) -> Check:
    expected = sorted(expected)
    by_host: dict[str, int] = {}
    for ti in observation.task_instances:
        if ti.get("hostname") and ti.get("state") in ("success", "failed"):
            by_host[ti["hostname"]] = by_host.get(ti["hostname"], 0) + 1
    shown = ", ".join(f"{host}: {count}" for host, count in sorted(by_host.items())) or "no task ran"
    missing = [name for name in expected if name not in by_host]
    unexpected = [host for host in by_host if host not in expected]
    if missing or unexpected:
        problems = ([f"no task ran on {', '.join(missing)}"] if missing else []) + ([f"tasks ran on unexpected hosts {', '.join(unexpected)}"] if unexpected else [])
        return Check("workers", False, "; ".join(problems) + f" ({shown})")
    return Check("workers", True, f"tasks per worker hostname: {shown}")


def check_promoted(observation: Observation) -> Check:
    run_state = observation.run.get("state")
    outcome = (observation.report or {}).get("outcome")
    failed = sorted(ti["task_id"] for ti in observation.task_instances if ti.get("state") not in ("success", "skipped"))
    if run_state == "success" and outcome == "promoted" and not failed:
        stages = [s["name"] for s in (observation.report or {}).get("stages", []) if isinstance(s, Mapping) and "name" in s]
        return Check("promoted", True, f"run success, ledger outcome promoted{' through ' + ' -> '.join(stages) if stages else ''}")
    report = observation.report or {}
    blocked = f" at {report.get('blocking_stage')} ({(report.get('reason') or '').strip()[:160]})" if report.get("blocking_stage") else ""
    return Check(
        "promoted",
        False,
        f"expected run success and ledger outcome promoted, got run {run_state}, ledger {outcome or 'no records'}{blocked}"
        + (f"; not successful: {', '.join(failed[:8])}" if failed else ""),
    )


def check_blocked(observation: Observation, stage: str, later_stages: Iterable[str]) -> Check:
    """The block shows through the API: run failed, a task of `stage` failed, nothing later ran, the ledger says blocked there."""
    run_state = observation.run.get("state")
    report = observation.report or {}
    failed_in_stage = sorted(ti["task_id"] for ti in observation.task_instances if ti["task_id"].startswith(stage + ".") and ti.get("state") == "failed")
    later_ran = sorted(
        ti["task_id"]
        for ti in observation.task_instances
        if ti["task_id"].split(".", 1)[0] in set(later_stages) and ti.get("state") in ("success", "running", "deferred", "failed")
    )
    problems = []
    if run_state != "failed":
        problems.append(f"run {run_state}, expected failed")
    if not failed_in_stage:
        problems.append(f"no task of stage {stage} failed")
    if later_ran:
        problems.append(f"later stages ran: {', '.join(later_ran)}")
    if report.get("outcome") != "blocked" or report.get("blocking_stage") != stage:
        problems.append(f"ledger says {report.get('outcome') or 'nothing'} at {report.get('blocking_stage')}, expected blocked at {stage}")
    if problems:
        return Check("blocked", False, "; ".join(problems))
    reason = (report.get("reason") or "").strip()
    return Check("blocked", True, f"run failed at {', '.join(failed_in_stage)}; ledger: blocked at {stage}" + (f" ({reason[:160]})" if reason else ""))


def verdict(checks: Iterable[Check]) -> int:
    return 0 if all(c.passed for c in checks) else 1


# --------------------------------------------------------------------------- processes


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Started:
    name: str
    process: subprocess.Popen
    log_path: Path


class Processes:
    """Every process this command started, each in its own session, stopped by its PID in reverse order."""

    def __init__(self, log_dir: Path):
        self.log_dir = log_dir
        self.started: list[Started] = []

    def start(self, name: str, argv: list[str], env: Mapping[str, str], *, user: str | None = None, cwd: Path = PROJECT_ROOT) -> Started:
        log_path = self.log_dir / f"{name}.log"
        with log_path.open("ab") as log:
            process = subprocess.Popen(
                argv, env=dict(env), cwd=cwd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, user=user
            )
        started = Started(name, process, log_path)
        self.started.append(started)
        print(f"    started {name} (pid {process.pid})", flush=True)
        return started

    def check_alive(self) -> None:
        for s in self.started:
            if s.process.poll() is not None:
                raise SetupError(f"{s.name} (pid {s.process.pid}) exited with code {s.process.returncode}; last lines of {s.log_path}:\n{tail(s.log_path)}")

    def stop_all(self, grace: float = 30.0) -> list[str]:
        """SIGTERM each PID (newest first), wait, then SIGKILL what is left of its process group. Returns a line per process."""
        lines = []
        for s in reversed(self.started):
            pid = s.process.pid
            if s.process.poll() is None:
                s.process.send_signal(signal.SIGINT if s.name == "postgres" else signal.SIGTERM)
                try:
                    s.process.wait(timeout=grace)
                    how = "stopped"
                except subprocess.TimeoutExpired:
                    how = "killed after no exit in %.0fs" % grace
            else:
                how = f"had already exited ({s.process.returncode})"
            # Children it forked (Celery pool, task supervisors, API workers) share its session, i.e. process group `pid`.
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            if s.process.poll() is None:
                s.process.wait(timeout=10)
            lines.append(f"{s.name} (pid {pid}) {how}")
        self.started.clear()
        return lines


def tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join("      " + line for line in text[-lines:])


def wait_for(what: str, probe: Callable[[], Any], timeout: float, processes: Processes | None = None, interval: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout
    last_error = None
    while time.monotonic() < deadline:
        if processes is not None:
            processes.check_alive()
        try:
            result = probe()
            if result:
                return result
        except Exception as exc:  # not ready yet
            last_error = exc
        time.sleep(interval)
    raise SetupError(f"{what} not ready within {timeout:.0f}s" + (f" (last error: {last_error})" if last_error else ""))


# --------------------------------------------------------------------------- installing what is missing


def find_binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0)
    return str(candidates[-1]) if candidates else None


def importable(module: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def ensure_installed(executor: str, allow_install: bool) -> None:
    packages = missing_debian_packages(executor, find_binary)
    if packages:
        if not allow_install:
            raise SetupError(f"missing Debian packages {', '.join(packages)} and --no-install was given")
        if os.geteuid() != 0:
            raise SetupError(f"missing Debian packages {', '.join(packages)}; install them as root: apt-get install {' '.join(packages)}")
        apt_install(packages)
    modules = missing_python_modules(executor, importable)
    if modules:
        if not allow_install:
            raise SetupError(f"missing Python modules {', '.join(modules)} and --no-install was given")
        step(f"installing the pinned Python set ({', '.join(modules)} missing)")
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "-r", "requirements.txt", "-c", "constraints.txt"], cwd=PROJECT_ROOT, check=True
        )
        import importlib

        importlib.invalidate_caches()


def apt_install(packages: list[str]) -> None:
    step(f"installing {', '.join(packages)} from Debian's packages")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    # Only the binaries are wanted: keep the packages' own services (a cluster on :5432, redis on :6379) from starting.
    policy = Path("/usr/sbin/policy-rc.d")
    added_policy = not policy.exists()
    if added_policy:
        policy.write_text("#!/bin/sh\nexit 101\n")
        policy.chmod(0o755)
    try:
        subprocess.run(["apt-get", "update", "-qq"], env=env, check=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages], env=env, check=True, stdout=subprocess.DEVNULL)
    finally:
        if added_policy:
            policy.unlink(missing_ok=True)


# --------------------------------------------------------------------------- the REST client


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


# --------------------------------------------------------------------------- the run


def step(title: str) -> None:
    print(f"==> {title}", flush=True)


def run(args) -> int:
    try:
        conf = json.loads(args.conf)
        if not isinstance(conf, dict):
            raise ValueError
    except ValueError:
        print(f"e2e-distributed: --conf: expected a JSON object, got {args.conf!r}", file=sys.stderr)
        return 2
    for label, given in (("--fleet", args.fleet), ("--plan", args.plan)):
        if not (PROJECT_ROOT / given).is_file() and not Path(given).is_file():
            print(f"e2e-distributed: {label}: expected an existing file, got {given!r}", file=sys.stderr)
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
        code = _run(args, conf, work, processes, report_dir)
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
    print(f"e2e-distributed: {'PASS' if code == 0 else 'FAIL'} in {time.monotonic() - started:.0f}s (executor {args.executor}, expected {args.expect})", flush=True)
    return code


def _run(args, conf: dict, work: Path, processes: Processes, report_dir: Path) -> int:
    from patchflow.demo import airflow_env as demo_env
    from patchflow.demo import prepare_aws
    from patchflow.plan import load_plan

    plan_path = (PROJECT_ROOT / args.plan) if (PROJECT_ROOT / args.plan).is_file() else Path(args.plan)
    fleet_path = (PROJECT_ROOT / args.fleet) if (PROJECT_ROOT / args.fleet).is_file() else Path(args.fleet)
    plan = load_plan(plan_path.resolve())
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

    step(f"starting fleetsim with {fleet_path.relative_to(PROJECT_ROOT) if fleet_path.resolve().is_relative_to(PROJECT_ROOT) else fleet_path}")
    endpoint = f"http://127.0.0.1:{ports['fleetsim']}"
    fleetsim_env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(PROJECT_ROOT / "plugins"), str(PROJECT_ROOT)]), PYTHONUNBUFFERED="1")
    sim = processes.start(
        "fleetsim",
        [sys.executable, "-m", "fleetsim", "serve", "--fleet", str(fleet_path), "--port", str(ports["fleetsim"]), "--host", "127.0.0.1",
         "--seed", str(args.seed), "--time-scale", repr(float(args.time_scale))],
        fleetsim_env,
    )
    wait_for("fleetsim", lambda: "fleetsim: serving" in sim.log_path.read_text(errors="replace"), 120, processes, 0.2)

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
    prepare_aws(plan, env)
    step("syncing patch baselines, migrating the metadata database")
    # Independent of each other, so side by side: fleetsim's baselines, Airflow's schema.
    one_shots = [
        processes.start(name, argv, env)
        for name, argv in (("sync", [sys.executable, "-m", "patchflow", "sync"]), ("db-migrate", [sys.executable, "-m", "airflow", "db", "migrate"]))
    ]
    for one_shot in one_shots:
        try:
            code = one_shot.process.wait(timeout=600)
        except subprocess.TimeoutExpired:
            raise SetupError(f"{one_shot.name} did not finish in 600s; see {one_shot.log_path}") from None
        processes.started.remove(one_shot)
        if code:
            raise SetupError(f"{one_shot.name} failed (exit {code}); see {one_shot.log_path}:\n{tail(one_shot.log_path)}")
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
    lap("airflow_up")

    step(f"as a release manager: unpause {plan.dag_id}, trigger it with {json.dumps(conf)} through /api/v2")
    if dag.get("is_paused"):
        api.request("PATCH", f"/api/v2/dags/{plan.dag_id}", {"is_paused": False})
    triggered = api.request(
        "POST", f"/api/v2/dags/{plan.dag_id}/dagRuns",
        {"logical_date": None, "conf": conf, "note": "triggered by patchflow e2e-distributed"}, expect=(200,),
    )
    run_id = triggered["dag_run_id"]
    print(f"    run {run_id} queued", flush=True)
    killed = kill_first_deferred_wave(api, plan.dag_id, run_id, processes, time.monotonic() + 300) if args.expect == "cancelled" else None
    observation = follow_run(api, plan.dag_id, run_id, processes, deadline=time.monotonic() + max(60, args.timeout - sum(timings.values())))
    lap("rollout")

    for ti in observation.task_instances:
        if is_deferring_task(ti["task_id"]) and ti.get("state") in ("success", "failed") or ti.get("state") == "failed":
            try:
                observation.logs[ti["task_id"]] = api.log_text(plan.dag_id, run_id, ti["task_id"], max(1, ti.get("try_number") or 1))
            except SetupError as exc:
                observation.logs[ti["task_id"]] = f"(log not readable: {exc})"
    for key in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"):
        os.environ[key] = env[key]
    observation.report = ledger_report(plan, run_id)

    if args.expect == "cancelled":
        checks = [check_cancelled(killed, commands_of_run(plan.dag_id, run_id))]
    elif args.expect == "blocked":
        checks = [check_blocked(observation, plan.stages[0].name, [s.name for s in plan.stages[1:]])]
    else:
        checks = [check_promoted(observation)]
    if args.expect != "cancelled":  # the stopped run never finishes its waits
        checks.append(check_deferred(observation))
    if args.executor == "celery":
        checks.append(check_workers(observation, WORKER_NAMES))
    print()
    print(task_table(observation))
    print()
    for check in checks:
        print(f"  {'PASS' if check.passed else 'FAIL'}  {check.name:<9} {check.detail}")
    print(f"  timings: {', '.join(f'{k} {v}s' for k, v in timings.items())}", flush=True)
    result = {
        "executor": args.executor,
        "expect": args.expect,
        "dag_id": plan.dag_id,
        "run_id": run_id,
        "run_state": observation.run.get("state"),
        "ledger_outcome": (observation.report or {}).get("outcome"),
        "checks": [c.__dict__ for c in checks],
        "task_instances": [{k: ti.get(k) for k in ("task_id", "state", "hostname", "try_number")} for ti in observation.task_instances],
        "seen_states": observation.seen_states,
        "seen_triggers": observation.seen_triggers,
        "timings": timings,
    }
    (report_dir / "result.json").write_text(json.dumps(result, indent=2, sort_keys=True, default=str))
    return verdict(checks)


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


def commands_of_run(dag_id: str, run_id: str) -> list[dict]:
    """Every AWS-RunPatchBaseline command this run sent, found by its run-scoped comment token.

    Reads SSM through the environment the run was pointed at (set before the checks run).
    """
    from patchflow.ssm.client import aws_client
    from patchflow.ssm.commands import PATCH_DOCUMENT

    token = hashlib.sha256(f"{dag_id}/{run_id}".encode()).hexdigest()[:12]
    ssm = aws_client("ssm")
    pages = ssm.get_paginator("list_commands").paginate(Filters=[{"key": "DocumentName", "value": PATCH_DOCUMENT}])
    return [c for page in pages for c in page["Commands"] if f"patchflow {token} " in c.get("Comment", "")]


def check_cancelled(killed_task: str | None, commands: list[dict]) -> Check:
    """The stopped wave's commands are cancelled in SSM, and nothing was sent after them."""
    if not killed_task:
        return Check("cancelled", False, "no wave was stopped")
    stage, wave = killed_task.split(".", 1)
    code = ("S1" if wave == "scan" else f"I{wave.removeprefix('wave_')}")
    mine = [c for c in commands if c["Comment"].split()[2:4] == [stage, code]]
    later = [c for c in commands if c not in mine and c["RequestedDateTime"] > max((m["RequestedDateTime"] for m in mine), default=c["RequestedDateTime"])]
    states = sorted({c["Status"] for c in mine})
    passed = bool(mine) and set(states) <= {"Cancelled", "Cancelling"} and not later
    detail = f"{killed_task}: {len(mine)} command(s) {', '.join(states) or 'none found'}; {len(later)} sent after it"
    return Check("cancelled", passed, detail)


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


def ledger_report(plan, run_id: str) -> dict | None:
    from patchflow.ledger import RunLedger, open_store
    from patchflow.report import build_report

    records = RunLedger(open_store(plan.ledger_uri), plan.dag_id, run_id).records()
    return build_report(records) if records else None


def task_table(observation: Observation) -> str:
    rows = [("task", "state", "hostname", "states seen")]
    for ti in sorted(observation.task_instances, key=lambda t: (t.get("start_date") or "9", t["task_id"])):
        rows.append((ti["task_id"], ti.get("state") or "-", ti.get("hostname") or "-", " > ".join(observation.seen_states.get(ti["task_id"], []))))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    return "\n".join(f"  {r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:<{widths[2]}}  {r[3]}" for r in rows)


def start_postgres(processes: Processes, work: Path, port: int) -> None:
    initdb, postgres = find_binary("initdb"), find_binary("postgres")
    data, sockets = work / "pgdata", work / "pgsock"
    sockets.mkdir()
    user = None
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root: run it as the postgres user its package created
        import pwd

        try:
            pw = pwd.getpwnam("postgres")
        except KeyError:
            raise SetupError("running as root, and there is no 'postgres' user to run PostgreSQL as (is the postgresql package installed?)") from None
        user = "postgres"
        os.chown(sockets, pw.pw_uid, pw.pw_gid)
        data.mkdir()
        os.chown(data, pw.pw_uid, pw.pw_gid)
    with (processes.log_dir / "initdb.log").open("ab") as log:
        finished = subprocess.run(
            [initdb, "-D", str(data), "-U", "airflow", "--auth=trust", "-E", "UTF8", "--no-sync"],
            stdout=log, stderr=subprocess.STDOUT, user=user, cwd=work, stdin=subprocess.DEVNULL,
        )
    if finished.returncode:
        raise SetupError(f"initdb failed (exit {finished.returncode}):\n{tail(processes.log_dir / 'initdb.log')}")
    processes.start(
        "postgres",
        [postgres, "-D", str(data), "-p", str(port), "-h", "127.0.0.1", "-k", str(sockets),
         "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off", "-c", "max_connections=200"],
        {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"},
        user=user, cwd=work,
    )

    def create_database() -> bool:
        import psycopg2

        connection = psycopg2.connect(host="127.0.0.1", port=port, user="airflow", dbname="postgres", connect_timeout=3)
        try:
            connection.autocommit = True
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1 FROM pg_database WHERE datname = 'airflow'")
                if not cursor.fetchone():
                    cursor.execute("CREATE DATABASE airflow")
        finally:
            connection.close()
        return True

    wait_for("PostgreSQL", create_database, 60, processes)


def start_redis(processes: Processes, work: Path, port: int) -> None:
    (work / "redis").mkdir()
    processes.start(
        "redis",
        [find_binary("redis-server"), "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(work / "redis")],
        {"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
        cwd=work,
    )

    def ping() -> bool:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")

    wait_for("Redis", ping, 30, processes, 0.2)
