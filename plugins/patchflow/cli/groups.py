"""`python -m patchflow groups [--json] [--assign FILE [--dry-run]]`: patch group membership.

Without --assign: one line per managed instance (its patch group and the tag
key that puts it there), one line per group and OS (the baseline registered
for it), then every problem. Exit 1 when there is any problem.

With --assign FILE: the EC2 tag changes that make the membership file true,
made (or, with --dry-run, only printed). Instances that would land in two
groups are refused and left as they are; the others are assigned. Exit 1 on
an invalid file or any refusal.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from patchflow.core.errors import InvalidInput
from patchflow.core.yamlfile import PROJECT_ROOT

DEFAULT_ROLLOUTS = PROJECT_ROOT / "include" / "rollouts"


def add_arguments(parser) -> None:
    parser.add_argument("--assign", metavar="FILE", default=None, help="apply a membership file (selectors -> patch group) through EC2 tags")
    parser.add_argument("--dry-run", action="store_true", help="with --assign: print the tag changes without making them")
    parser.add_argument("--json", action="store_true", help="print JSON for scripts instead of tables")
    parser.add_argument("--rollouts", default=str(DEFAULT_ROLLOUTS), metavar="DIR", help="rollout plans whose patch groups must exist (default: include/rollouts)")
    parser.add_argument("--region", default=None, help="AWS region (default: from the environment)")


def run(args) -> int:
    if args.dry_run and not args.assign:
        print("patchflow groups: --dry-run: expected --assign FILE with it, got --dry-run alone", file=sys.stderr)
        return 2
    if not args.assign and not Path(args.rollouts).is_dir():
        print(f"patchflow groups: --rollouts: expected an existing folder, got {args.rollouts!r}", file=sys.stderr)
        return 2
    from botocore.exceptions import BotoCoreError, ClientError

    from patchflow.aws.client import aws_client

    try:
        ssm, ec2 = aws_client("ssm", region_name=args.region), aws_client("ec2", region_name=args.region)
        return assign(args, ssm, ec2) if args.assign else report(args, ssm, ec2)
    except InvalidInput as exc:
        print(exc, file=sys.stderr)
        return 1
    except (ClientError, BotoCoreError) as exc:
        print(f"patchflow groups: {exc}", file=sys.stderr)
        return 1


def report(args, ssm, ec2) -> int:
    from patchflow.core.groups import check_membership, render_report
    from patchflow.core.plan import load_plans
    from patchflow.aws.membership import managed_nodes, patch_group_registrations

    plans, broken = load_plans(args.rollouts)
    broken_problems = [problem for exc in broken.values() for problem in exc.problems]
    result = check_membership(managed_nodes(ssm, ec2), patch_group_registrations(ssm), plans, broken_problems)
    print(json.dumps(result.to_json(), indent=2) if args.json else render_report(result))
    return 1 if result.findings else 0


def assign(args, ssm, ec2) -> int:
    from patchflow.core.groups import assignment_ending, assignment_notes, load_membership, plan_assignment
    from patchflow.aws.membership import apply_tag_changes, managed_nodes

    membership = load_membership(args.assign)
    plan = plan_assignment(membership, managed_nodes(ssm, ec2))
    if args.json:
        if not args.dry_run:
            apply_tag_changes(ec2, plan.changes, report=lambda line: None)
        print(json.dumps({**plan.to_json(), "applied": not args.dry_run}, indent=2))
        return 1 if plan.refused else 0
    for line in assignment_notes(plan):
        print(line)
    if args.dry_run:
        for change in plan.changes:
            print(f"would {change}")
    else:
        # Each change is printed once its batch has landed, so a failed call shows how far it got.
        apply_tag_changes(ec2, plan.changes, report=lambda line: print(line, flush=True))
    *refusals, summary = assignment_ending(plan, dry_run=args.dry_run)
    for line in refusals:
        print(line, file=sys.stderr)  # as sync prints its conflicts: what needs a person goes to stderr
    print(summary)
    return 1 if plan.refused else 0
