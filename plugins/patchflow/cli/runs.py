"""`python -m patchflow runs ...`: start, watch, approve and stop rollouts from a terminal, over Airflow's REST API.

    patchflow runs start weekly --stages dev test --ticket CHG0012345 [--dry-run]
    patchflow runs list [weekly]
    patchflow runs status weekly-20261206T010000Z
    patchflow runs follow weekly-20261206T010000Z [--interval 5]
    patchflow runs approve weekly-20261206T010000Z prod --note "CAB approved"
    patchflow runs reject weekly-20261206T010000Z prod --note "freeze"
    patchflow runs cancel weekly-20261206T010000Z

Airflow at --url (or PATCHFLOW_AIRFLOW_URL, default http://localhost:8080), logged in with --token
(or PATCHFLOW_AIRFLOW_TOKEN), or as --user with the password from PATCHFLOW_AIRFLOW_PASSWORD or asked
at the terminal, exchanged once for a token and kept nowhere. RUN is a run id (`runs list` shows
them); --plan names its plan when that is not in include/rollouts. status and follow read the run's
ledger too (with the environment's AWS credentials): waves, verdicts, and what a stage waits for.
Output is for people; --json prints one JSON object per command, or per change for follow.

Exit codes: 0 done (follow: promoted), 1 Airflow, the ledger or the run refused (follow: blocked,
failed, rejected or stopped), 2 bad arguments, 3 follow: finished without installing anything (a dry
run whose gates passed as scans, or a scheduled run skipped for starting late).
"""
from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
import time
from datetime import datetime, timezone

from patchflow.cli.airflow_rest import AirflowRefused, AirflowRest, AirflowUnreachable, token_for
from patchflow.cli.plan_argument import PLAN_HELP, UnknownPlan, plan_with_dag, resolve_plan
from patchflow.core.errors import InvalidInput
from patchflow.core.plan import RolloutPlan
from patchflow.core.run_params import validate_run_params
from patchflow.core.run_status import RunStatus, changes, run_status

PROG = "patchflow runs"
DEFAULT_URL = "http://localhost:8080"
ROLLOUT_DAG_PREFIX = "rollout_"
OPTION_OF_PARAM = {"stages": "--stages", "change_ticket": "--ticket", "dry_run": "--dry-run"}
ANSWERS = {"approve": ("Approve", "approved"), "reject": ("Reject", "rejected")}


class BadArgument(Exception):
    """One line naming the argument, what was expected and what was found: exit 2."""


class Refused(Exception):
    """One line on what Airflow, the ledger or the run will not do: exit 1."""


def add_arguments(parser) -> None:
    from patchflow.cli.main import OneLineArgumentParser

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--url", default=None, help=f"Airflow's address (default: PATCHFLOW_AIRFLOW_URL, else {DEFAULT_URL})")
    common.add_argument("--token", default=None, help="an Airflow API token (default: PATCHFLOW_AIRFLOW_TOKEN)")
    common.add_argument("--user", default=None, help="log in as this Airflow user; the password from PATCHFLOW_AIRFLOW_PASSWORD or asked")
    common.add_argument("--json", action="store_true", help="JSON for scripts: one object per command, one line per change for follow")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", parser_class=OneLineArgumentParser)
    actions.required = True

    start = actions.add_parser("start", parents=[common], help="trigger a run of PLAN")
    start.add_argument("plan", metavar="PLAN", help=PLAN_HELP)
    start.add_argument("--stages", nargs="+", metavar="STAGE", default=None, help="run only these stages (default: all)")
    start.add_argument("--ticket", default=None, help="the change ticket, e.g. CHG0012345")
    start.add_argument("--dry-run", action="store_true", help="scan only: install nothing")

    listing = actions.add_parser("list", parents=[common], help="the newest runs of every rollout, or of PLAN")
    listing.add_argument("plan", metavar="PLAN", nargs="?", default=None, help="only this plan's runs")
    listing.add_argument("--limit", type=int, default=20, help="at most this many runs (default 20)")

    for name, help_text in (("status", "where RUN stands: stages, waves, what it waits for and until when"),
                            ("follow", "print each change of RUN until it ends; exit with its verdict's code"),
                            ("approve", "approve STAGE of RUN"), ("reject", "reject STAGE of RUN: the run stops"),
                            ("cancel", "stop RUN: its running tasks are stopped, the rest never start")):
        action = actions.add_parser(name, parents=[common], help=help_text)
        action.add_argument("run_id", metavar="RUN", help="a run id, as `runs list` shows it")
        if name in ANSWERS:
            action.add_argument("stage", metavar="STAGE", help="the stage whose approval is answered")
            action.add_argument("--note", default=None, help="why; kept as the approval task's note in Airflow")
        action.add_argument("--plan", default=None, help="the run's plan, when it is not in include/rollouts")
        if name == "follow":
            action.add_argument("--interval", type=float, default=5.0, help="seconds between looks (default 5)")


def run(args) -> int:
    try:
        return ACTIONS[args.action](args)
    except BadArgument as exc:
        print(f"{PROG} {args.action}: {exc}", file=sys.stderr)
        return 2
    except InvalidInput as exc:  # a plan file with problems
        print(exc, file=sys.stderr)
        return 1
    except (Refused, AirflowRefused, AirflowUnreachable) as exc:
        print(f"{PROG} {args.action}: {exc}", file=sys.stderr)
        return 1


# --------------------------------------------------------------------------- logging in


def connect(args) -> AirflowRest:
    url = (args.url or os.environ.get("PATCHFLOW_AIRFLOW_URL") or DEFAULT_URL).rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise BadArgument(f"--url: expected an address like {DEFAULT_URL}, got {url!r}")
    if args.token is not None and args.user is not None:
        raise BadArgument("--token: expected --token or --user, got both")
    if args.user is not None:
        if not args.user.strip():
            raise BadArgument(f"--user: expected an Airflow user name, got {args.user!r}")
        return AirflowRest(url, token_for(url, args.user, password_of(args.user, url)))
    token = args.token if args.token is not None else os.environ.get("PATCHFLOW_AIRFLOW_TOKEN")
    if not token or not token.strip():
        raise BadArgument("--token: expected a token (--token or PATCHFLOW_AIRFLOW_TOKEN) or --user NAME, got nothing")
    return AirflowRest(url, token.strip())


def password_of(user: str, url: str) -> str:
    given = os.environ.get("PATCHFLOW_AIRFLOW_PASSWORD")
    if given:
        return given
    if not sys.stdin.isatty():
        raise BadArgument(f"--user: expected a terminal to ask {user}'s password at, or PATCHFLOW_AIRFLOW_PASSWORD, got neither")
    return getpass.getpass(f"Airflow password for {user} at {url}: ")


# --------------------------------------------------------------------------- actions


def start(args) -> int:
    try:
        plan = resolve_plan(args.plan)
    except UnknownPlan as exc:
        raise BadArgument(str(exc)) from None
    conf = trigger_conf(plan, args.stages, args.ticket, args.dry_run)
    api = connect(args)
    dag = api.dag(plan.dag_id)
    if dag is None:
        raise Refused(f"Airflow at {api.base_url}: expected DAG {plan.dag_id} for plan {plan.name}, got none (is its stub in dags/, and parsed?)")
    run_id = f"{plan.name}-{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}"
    triggered = api.trigger(plan.dag_id, run_id, conf, note=f"started with `{PROG} start`")
    paused = bool(dag.get("is_paused"))
    if args.json:
        print(json.dumps({"dag_id": plan.dag_id, "run_id": triggered["dag_run_id"], "state": triggered["state"], "conf": conf, "dag_paused": paused}))
        return 0
    print(f"started run {triggered['dag_run_id']} of {plan.dag_id}: {started_what(conf)}")
    if paused:
        print(f"note: DAG {plan.dag_id} is paused in Airflow; the run starts once it is unpaused")
    print(f"follow it: {PROG} follow {triggered['dag_run_id']}")
    return 0


def trigger_conf(plan: RolloutPlan, stages: list[str] | None, ticket: str | None, dry_run: bool) -> dict:
    """The trigger form, checked as the run's start will check it (raises InvalidInput) before anything is sent."""
    conf: dict = {"dry_run": dry_run}
    if stages is not None:
        conf["stages"] = [name for given in stages for name in given.split(",") if name]
    if ticket is not None:
        conf["change_ticket"] = ticket
    try:
        validate_run_params(plan, conf)
    except InvalidInput as refused:
        said = [f"{OPTION_OF_PARAM.get(p.path.split('[')[0], p.path)}: {p.message}" for p in refused.problems]
        raise BadArgument("; ".join(said)) from None
    return conf


def started_what(conf: dict) -> str:
    said = [f"stages {', '.join(conf['stages'])}" if conf.get("stages") else "every stage"]
    said += [f"change ticket {conf['change_ticket'].strip()}"] if conf.get("change_ticket") else []
    said += ["dry run (scan only)"] if conf.get("dry_run") else []
    return "; ".join(said)


def list_runs(args) -> int:
    if args.limit < 1:
        raise BadArgument(f"--limit: expected a count of 1 or more, got {args.limit}")
    prefix = ROLLOUT_DAG_PREFIX
    if args.plan is not None:
        try:
            prefix = resolve_plan(args.plan).dag_id
        except UnknownPlan as exc:
            raise BadArgument(str(exc)) from None
    api = connect(args)
    found = [r for r in api.runs(prefix, args.limit) if args.plan is None or r.get("dag_id") == prefix]
    if args.json:
        print(json.dumps({"runs": [run_summary(r) for r in found]}))
        return 0
    if not found:
        print(f"no runs of {prefix if args.plan else 'any rollout'} in Airflow at {api.base_url}")
        return 0
    rows = [("RUN", "DAG", "STATE", "STARTED", "WHAT")] + [
        (r["dag_run_id"], r["dag_id"], r["state"], r.get("start_date") or "-", started_what(r.get("conf") or {})) for r in found
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[4])
    return 0


def run_summary(run: dict) -> dict:
    return {key: run.get(key) for key in ("dag_id", "dag_run_id", "state", "run_type", "start_date", "end_date", "conf", "note")}


def status(args) -> int:
    api = connect(args)
    dag_run, plan = find_run(api, args.run_id, args.plan)
    now = datetime.now(timezone.utc)
    seen = current_status(api, dag_run, plan)
    print(json.dumps(seen.to_json(now)) if args.json else "\n".join(seen.lines(now)))
    return 0


def follow(args) -> int:
    if not args.interval > 0:
        raise BadArgument(f"--interval: expected seconds above 0, got {args.interval:g}")
    api = connect(args)
    dag_run, plan = find_run(api, args.run_id, args.plan)
    printed: set[tuple] = set()
    while True:
        seen = current_status(api, dag_run, plan)
        now = datetime.now(timezone.utc)
        for change in changes(seen, now):
            if change.key not in printed:
                printed.add(change.key)
                line = json.dumps({**change.to_json(), **({"exit_code": int(seen.verdict.exit_code)} if change.event == "verdict" else {})}) if args.json else change.line
                print(line, flush=True)
        if seen.verdict is not None:
            return int(seen.verdict.exit_code)
        time.sleep(args.interval)
        dag_run = api.run(dag_run["dag_id"], dag_run["dag_run_id"]) or dag_run


def answer(args) -> int:
    option, done = ANSWERS[args.action]
    api = connect(args)
    dag_run, _plan = find_run(api, args.run_id, args.plan, needs_plan=False)
    dag_id, run_id = dag_run["dag_id"], dag_run["dag_run_id"]
    tasks = {ti["task_id"]: ti.get("state") for ti in api.task_instances(dag_id, run_id)}
    approvals = sorted(task_id.split(".")[0] for task_id in tasks if task_id.endswith(".approval"))
    task_id = f"{args.stage}.approval"
    if task_id not in tasks:
        raise BadArgument(f"STAGE: expected a stage of run {run_id} with an approval ({', '.join(approvals) or 'it has none'}), got {args.stage!r}")
    if tasks[task_id] != "awaiting_input":
        raise Refused(f"{args.stage}: expected its approval to await an answer, got task {task_id} {tasks[task_id] or 'not started'}")
    wait_until_the_request_settled(api.hitl_detail(dag_id, run_id, task_id))
    try:
        answered = api.answer(dag_id, run_id, task_id, option)
    except AirflowRefused as exc:
        if exc.status == 409:
            raise Refused(f"{args.stage}: expected its approval to await an answer, got one already given") from None
        raise
    if args.note:
        api.note_task(dag_id, run_id, task_id, args.note)
    by = (answered.get("responded_by") or {}).get("name") or "?"
    said = {"dag_id": dag_id, "run_id": run_id, "stage": args.stage, "answer": option, "by": by, "note": args.note or ""}
    print(json.dumps(said) if args.json else f"{args.stage} of run {run_id}: {done} by {by}" + (f": {args.note}" if args.note else ""))
    return 0


# Airflow 3.3 fails a try that resumes before the scheduler has read the exit of the try that parked it
# (apache/airflow#72716): an answer in the first seconds of a request can fail the approval itself.
ANSWER_NOT_BEFORE_SECONDS = 15.0


def wait_until_the_request_settled(detail: dict) -> None:
    created = datetime.fromisoformat(str(detail.get("created_at", "")).replace("Z", "+00:00")) if detail.get("created_at") else None
    if created is None:
        return
    age = (datetime.now(timezone.utc) - created).total_seconds()
    if age < ANSWER_NOT_BEFORE_SECONDS:
        time.sleep(ANSWER_NOT_BEFORE_SECONDS - age)


def cancel(args) -> int:
    api = connect(args)
    dag_run, _plan = find_run(api, args.run_id, args.plan, needs_plan=False)
    if dag_run["state"] in ("success", "failed"):
        raise Refused(f"RUN {dag_run['dag_run_id']}: expected a run that has not finished, got one that ended {dag_run['state']}")
    stopped = api.stop_run(dag_run["dag_id"], dag_run["dag_run_id"], note=f"stopped with `{PROG} cancel`")
    said = {"dag_id": stopped["dag_id"], "run_id": stopped["dag_run_id"], "state": stopped["state"]}
    print(json.dumps(said) if args.json else f"run {stopped['dag_run_id']} of {stopped['dag_id']}: stopped ({stopped['state']} in Airflow)")
    return 0


ACTIONS = {"start": start, "list": list_runs, "status": status, "follow": follow, "approve": answer, "reject": answer, "cancel": cancel}


# --------------------------------------------------------------------------- the run, its plan, its ledger


def find_run(api: AirflowRest, run_id: str, plan_given: str | None, needs_plan: bool = True) -> tuple[dict, RolloutPlan | None]:
    plan = None
    if plan_given is not None:
        try:
            plan = resolve_plan(plan_given)
        except UnknownPlan as exc:
            raise BadArgument(str(exc).replace("PLAN:", "--plan:", 1)) from None
        found = api.run(plan.dag_id, run_id)
        if found is None:
            raise BadArgument(f"RUN: expected a run of {plan.dag_id} (see {PROG} list {plan.name}), got {run_id!r}")
        return found, plan
    matches = api.runs_named(run_id, ROLLOUT_DAG_PREFIX)
    if not matches:
        raise BadArgument(f"RUN: expected the id of a rollout's run (see {PROG} list), got {run_id!r}")
    if len(matches) > 1:
        dags = " and ".join(sorted(m["dag_id"] for m in matches))
        raise BadArgument(f"RUN: expected the id of one run, got {run_id!r}, a run of {dags}; name its plan with --plan")
    found = matches[0]
    return found, plan_of(found["dag_id"]) if needs_plan else None


def plan_of(dag_id: str) -> RolloutPlan:
    plan = plan_with_dag(dag_id)
    if plan is not None:
        return plan
    raise BadArgument(f"--plan: expected the plan of {dag_id} (no plan in include/rollouts has that DAG), got nothing")


def current_status(api: AirflowRest, dag_run: dict, plan: RolloutPlan) -> RunStatus:
    dag_run = api.run(dag_run["dag_id"], dag_run["dag_run_id"]) or dag_run
    tasks = api.task_instances(dag_run["dag_id"], dag_run["dag_run_id"])
    return run_status(dag_run, tasks, ledger_records(plan, dag_run["dag_id"], dag_run["dag_run_id"]), plan.stage_names)


def ledger_records(plan: RolloutPlan, dag_id: str, run_id: str) -> list[dict]:
    from botocore.exceptions import BotoCoreError, ClientError

    from patchflow.aws.ledger import RunLedger, failure_line, open_store

    try:
        return list(RunLedger(open_store(plan.ledger_uri), dag_id, run_id).records())
    except (BotoCoreError, ClientError, OSError, ValueError) as exc:
        raise Refused(f"{plan.ledger_uri}: expected a ledger patchflow can read, got {failure_line(exc)}") from None
