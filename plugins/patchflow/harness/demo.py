"""`python -m patchflow demo`: the whole rollout on the simulated fleet, through real Airflow.

Starts fleetsim, prepares a project-local Airflow home, syncs the baselines,
runs the plan's DAG with `airflow dags test`, then prints the per-stage
summary and writes reports/latest/. Exit 0 only when every stage promoted.
"""
from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from fleetsim.errors import InvalidInput as InvalidFleetSpec
from patchflow.core.errors import InvalidInput
from patchflow.aws.ledger import RunLedger, list_runs, open_store
from patchflow.core.yamlfile import PROJECT_ROOT
from patchflow.core.report import build_report, headline, render_html, render_markdown, summary_table
from patchflow.core.report_instances import instances_csv
from patchflow.core.report_page import PAGE_JSON, page_json
from patchflow.core.report_records import Report, RunOutcome

DEMO_TIME_SCALE = 120.0
DEMO_POLL_INTERVAL = "1"


def add_arguments(parser) -> None:
    parser.add_argument("--fleet", default="include/fleets/demo.yaml", help="fleet spec for fleetsim")
    parser.add_argument("--plan", default="include/rollouts/demo.yaml", help="rollout plan to run")
    parser.add_argument("--seed", type=int, default=7, help="fleetsim seed (same seed, same outcome)")
    parser.add_argument(
        "--time-scale", type=positive_number, default=DEMO_TIME_SCALE,
        help="fleetsim simulated seconds per real second (with --endpoint, that fleetsim's own scale applies)",
    )
    parser.add_argument("--conf", default="{}", help="trigger-form params as JSON, e.g. '{\"dry_run\": true}'")
    parser.add_argument("--reports", default="reports/latest", help="where report.json/.md/.html are written")
    parser.add_argument("--endpoint", help="use a fleetsim already answering at this URL instead of starting one (--fleet is then ignored)")
    parser.add_argument("--airflow-home", default=".airflow", help="AIRFLOW_HOME for the run (created if missing)")


def positive_number(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = None
    if number is None or not number > 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {value!r}")
    return number


class HomeInUse(Exception):
    """Another Airflow (a standalone or a demo) runs on this Airflow home."""


@contextlib.contextmanager
def only_airflow_on(airflow_home: Path):
    """Held while a standalone or a demo runs Airflow on the home: a second scheduler (or a demo's
    `dags test` beside a standalone's scheduler) on the same SQLite database runs a task's try twice
    (seen: one try of a resumed wave started by both schedulers' workers). Airflow gives a try that
    fails a new task-instance id, so the copy still running then reports to an id that no longer
    exists ("Task Instance not found").
    """
    with (airflow_home / "airflow-home.lock").open("a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise HomeInUse from None
        yield


class DemoError(Exception):
    """A one-line reason the demo could not run."""


def airflow_env(airflow_home: Path, dags_folder: Path, endpoint: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "AIRFLOW_HOME": str(airflow_home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(PROJECT_ROOT / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "fleetsim",
            "AWS_SECRET_ACCESS_KEY": "fleetsim",
            "AWS_DEFAULT_REGION": "us-east-1",
            "PATCHFLOW_POLL_INTERVAL": DEMO_POLL_INTERVAL,
            "PATCHFLOW_AWS_CONN_ID": "",
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "PYTHONPATH": os.pathsep.join([str(PROJECT_ROOT / "plugins"), str(PROJECT_ROOT), os.environ.get("PYTHONPATH", "")]),
        }
    )
    env.pop("AWS_PROFILE", None)
    return env


def dag_stub_source(plan_path: Path, about: str) -> str:
    """A DAG file building the plan at `plan_path` (absolute), as the harnesses write one for a plan outside include/rollouts.

    The docstring names "Airflow DAG": the dag-processor's safe mode skips files without both words.
    """
    return f'"""Airflow DAG for {about}."""\nfrom patchflow.rollout.factory import dag_from_plan_file\n\ndag = dag_from_plan_file({str(plan_path)!r})\n'


def write_dag_stub(dags_folder: Path, plan_path: Path) -> None:
    if dags_folder.exists():
        shutil.rmtree(dags_folder)
    dags_folder.mkdir(parents=True)
    (dags_folder / "rollout.py").write_text(dag_stub_source(plan_path, "the plan the demo was asked to run"))


def prepare_aws(plan, endpoint_env: dict[str, str]) -> None:
    """Create what a real account already has: the ledger bucket and the notification topic."""
    from urllib.parse import urlparse

    import boto3

    session = boto3.session.Session(
        aws_access_key_id=endpoint_env["AWS_ACCESS_KEY_ID"], aws_secret_access_key=endpoint_env["AWS_SECRET_ACCESS_KEY"], region_name="us-east-1"
    )
    endpoint = endpoint_env["AWS_ENDPOINT_URL"]
    parsed = urlparse(plan.ledger_uri)
    if parsed.scheme == "s3":
        session.client("s3", endpoint_url=endpoint).create_bucket(Bucket=parsed.netloc)
    topic = getattr(plan.notifications, "sns_topic_arn", None) if plan.notifications else None
    if topic:
        session.client("sns", endpoint_url=endpoint).create_topic(Name=topic.rsplit(":", 1)[-1])


# Where a demo keeps the S3 ledger of the fleetsim it started: that fleetsim's S3 lives in memory and ends with the
# demo, and `make airflow` starts a fresh one, whose Patch rollouts page would then know the demo's runs only by name.
LEDGER_SNAPSHOT = "ledger-snapshot"


def _s3(endpoint_env: dict[str, str]):
    import boto3

    return boto3.session.Session(
        aws_access_key_id=endpoint_env["AWS_ACCESS_KEY_ID"], aws_secret_access_key=endpoint_env["AWS_SECRET_ACCESS_KEY"], region_name="us-east-1"
    ).client("s3", endpoint_url=endpoint_env["AWS_ENDPOINT_URL"])


def _s3_ledger(plan) -> tuple[str, str] | None:
    from urllib.parse import urlparse

    parsed = urlparse(plan.ledger_uri)
    return (parsed.netloc, parsed.path.strip("/")) if parsed.scheme == "s3" else None


def keep_ledger(plan, endpoint_env: dict[str, str], airflow_home: Path) -> int:
    """Copy every object under the plan's S3 ledger into AIRFLOW_HOME/ledger-snapshot/BUCKET/KEY; how many."""
    where = _s3_ledger(plan)
    if where is None:
        return 0
    bucket, prefix = where
    s3, kept = _s3(endpoint_env), 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{prefix}/" if prefix else ""):
        for item in page.get("Contents", []):
            target = airflow_home / LEDGER_SNAPSHOT / bucket / item["Key"]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read())
            kept += 1
    return kept


def restore_ledger(plan, endpoint_env: dict[str, str], airflow_home: Path) -> int:
    """Put what earlier demos kept of the plan's S3 ledger into a fresh fleetsim's bucket (made by prepare_aws); how many."""
    where = _s3_ledger(plan)
    if where is None:
        return 0
    bucket, prefix = where
    folder = airflow_home / LEDGER_SNAPSHOT / bucket
    kept = [path for path in sorted((folder / prefix).rglob("*")) if path.is_file()] if (folder / prefix).is_dir() else []
    s3 = _s3(endpoint_env)
    for path in kept:
        s3.put_object(Bucket=bucket, Key=path.relative_to(folder).as_posix(), Body=path.read_bytes(), ServerSideEncryption="AES256")
    return len(kept)


def run_step(title: str, command: list[str], env: dict[str, str], log_path: Path) -> int:
    started = time.monotonic()
    print(f"==> {title}", flush=True)
    with log_path.open("a") as log:
        log.write(f"\n$ {' '.join(command)}\n")
        log.flush()
        finished = subprocess.run(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=PROJECT_ROOT)
    print(f"    done in {time.monotonic() - started:.1f}s (exit {finished.returncode})", flush=True)
    return finished.returncode


def run(args) -> int:
    try:
        return _run(args)
    except DemoError as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return 2
    except (InvalidInput, InvalidFleetSpec) as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return 2


def _run(args) -> int:
    from patchflow.core.plan import load_plan

    fleet_path = Path(args.fleet).resolve()
    plan_path = Path(args.plan).resolve()
    for label, given, path in (("FLEET", args.fleet, fleet_path), ("PLAN", args.plan, plan_path)):
        if not path.is_file():
            raise DemoError(f"{label}={given}: expected an existing file, got {'a directory' if path.is_dir() else 'no such file'}")
    try:
        conf = json.loads(args.conf)
    except json.JSONDecodeError as exc:
        raise DemoError(f"--conf: expected a JSON object, got invalid JSON ({exc.msg})") from None
    plan = load_plan(plan_path)

    airflow_home = Path(args.airflow_home)
    airflow_home = airflow_home if airflow_home.is_absolute() else PROJECT_ROOT / airflow_home
    airflow_home.mkdir(parents=True, exist_ok=True)
    dags_folder = airflow_home / "demo-dags"
    try:
        with only_airflow_on(airflow_home):
            return _run_on(args, plan, plan_path, fleet_path, conf, airflow_home, dags_folder)
    except HomeInUse:
        raise DemoError(f"--airflow-home {args.airflow_home}: expected no other Airflow on it, got one running "
                        "(a standalone or a demo: stop it first)") from None


def _run_on(args, plan, plan_path: Path, fleet_path: Path, conf: dict, airflow_home: Path, dags_folder: Path) -> int:
    write_dag_stub(dags_folder, plan_path)
    log_path = airflow_home / "demo.log"
    log_path.write_text("")
    total_started = time.monotonic()

    with fleet_endpoint(args, fleet_path) as endpoint:
        print(f"    fleetsim answering at {endpoint}", flush=True)
        env = airflow_env(airflow_home, dags_folder, endpoint)
        prepare_aws(plan, env)
        python = sys.executable
        if run_step("syncing patch baselines from include/baselines", [python, "-m", "patchflow", "sync", "--plans", str(plan_path)], env, log_path):
            raise DemoError(f"baseline sync failed; see {log_path}")
        if not (airflow_home / ".migrated").exists():
            if run_step("preparing the Airflow metadata database", [python, "-m", "airflow", "db", "migrate"], env, log_path):
                raise DemoError(f"airflow db migrate failed; see {log_path}")
            (airflow_home / ".migrated").touch()
        code = run_step(
            f"running DAG {plan.dag_id} through Airflow (dags test)",
            [python, "-m", "airflow", "dags", "test", plan.dag_id, "-c", json.dumps(conf)],
            env,
            log_path,
        )
        os.environ.update({k: env[k] for k in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")})
        report = latest_report(plan)
        if not args.endpoint:
            keep_ledger(plan, env, airflow_home)
    if report is None:
        raise DemoError(f"the DAG run left no ledger records (airflow exit {code}); see {log_path}")
    write_reports(report, PROJECT_ROOT / args.reports)
    print()
    print(summary_table(report))
    print()
    print(headline(report))
    print(f"Report: {Path(args.reports) / 'report.html'} (also report.md, report.json, instances.csv); took {time.monotonic() - total_started:.0f}s")
    return 0 if report.outcome is RunOutcome.PROMOTED and code == 0 else 1


@contextlib.contextmanager
def fleet_endpoint(args, fleet_path: Path):
    """The fleetsim to run against: the one given, or one started now and stopped whatever happens."""
    from fleetsim import running

    if args.endpoint:
        yield args.endpoint
        return
    shown = fleet_path.relative_to(PROJECT_ROOT) if fleet_path.is_relative_to(PROJECT_ROOT) else fleet_path
    print(f"==> starting fleetsim with {shown}", flush=True)
    try:
        sim_context = running(str(fleet_path), seed=args.seed, time_scale=args.time_scale)
        sim = sim_context.__enter__()
    except InvalidFleetSpec:
        raise
    except Exception as exc:
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise DemoError(f"FLEET={args.fleet}: fleetsim did not start: {reason}") from None
    try:
        yield sim.endpoint
    finally:
        sim_context.__exit__(None, None, None)


def latest_report(plan) -> Report | None:
    store = open_store(plan.ledger_uri)
    runs = [(dag, run) for dag, run in list_runs(store) if dag == plan.dag_id]
    if not runs:
        return None
    ledgers = [RunLedger(store, dag, run) for dag, run in runs]
    newest = max(ledgers, key=lambda ledger: min(r["at"] for r in ledger.records()))
    return build_report(newest.records())


def write_reports(report: Report, directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "report.json").write_text(json.dumps(report.to_json(), indent=2, sort_keys=True, default=str))
    (directory / "report.md").write_text(render_markdown(report))
    (directory / "report.html").write_text(render_html(report))
    (directory / "instances.csv").write_text(instances_csv(report))  # every instance; the report links it
    (directory / PAGE_JSON).write_text(json.dumps(page_json(report), indent=2, sort_keys=True, default=str))  # as the finish task writes it
