"""`python -m patchflow check PLAN`: can every stage of the plan run, asked of the live accounts.

    patchflow check weekly
    patchflow check include/rollouts/multi-account.yaml --region eu-west-1

The check the run's start makes before anything is sent (patchflow.core.plan_check): each stage in
each of its accounts and Regions, reached with the environment's credentials as `sync` reaches them
(an account's role assumed, or its own Airflow connection): the account reached, the stage's patch
group there with managed instances, at least expected_min_targets of them, each of a known operating
system, a registered baseline for each operating system when the stage requires one, verification
commands for each when the stage verifies. Prints one line per problem, or one line saying what each
stage has, then a count. Lint checks the file; this checks the fleet it names. Exit 0 when every
stage can run, 1 on a problem (or a plan with problems), 2 on bad arguments.
"""
from __future__ import annotations

import sys
from datetime import datetime, timezone

from patchflow.cli.plan_argument import PLAN_HELP
from patchflow.core.errors import InvalidInput

PROG = "patchflow check"


def add_arguments(parser) -> None:
    parser.add_argument("plan", metavar="PLAN", help=PLAN_HELP)
    parser.add_argument("--region", default=None, help="AWS region of the environment's own account (default: from the environment)")


def run(args) -> int:
    from patchflow.cli.plan_argument import UnknownPlan, resolve_plan

    try:
        plan = resolve_plan(args.plan)
    except UnknownPlan as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 2
    except InvalidInput as exc:
        print(exc, file=sys.stderr)
        return 1
    from patchflow.aws.plan_check import check_stages
    from patchflow.cli.sync import client_in
    from patchflow.core.plan_check import check_lines

    run_id = f"check-{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}"
    checks = check_stages(plan.stages, lambda scope, service: client_in(scope, service, args.region, run_id))
    for line in check_lines(plan.name, checks):
        print(line)
    return 1 if any(check.problems for check in checks) else 0
