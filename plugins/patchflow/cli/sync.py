"""`python -m patchflow sync [--dry-run] [--delete-removed]`: include/baselines -> SSM.

Prints one line per change, then anything sync refused to do. Exit 0 when SSM
matches the files, 1 on invalid files, conflicts or a failed call.
"""
from __future__ import annotations

import sys

from patchflow.core.baselines import load_baselines
from patchflow.core.errors import InvalidInput
from patchflow.core.yamlfile import PROJECT_ROOT

DEFAULT_BASELINES = PROJECT_ROOT / "include" / "baselines"


def add_arguments(parser) -> None:
    parser.add_argument("--dry-run", action="store_true", help="print the changes without making them")
    parser.add_argument("--delete-removed", action="store_true", help="delete managed baselines whose file is gone")
    parser.add_argument("--baselines", default=str(DEFAULT_BASELINES), metavar="DIR", help="baseline folder (default: include/baselines)")
    parser.add_argument("--region", default=None, help="AWS region (default: from the environment)")


def run(args) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    from patchflow.aws.baseline_sync import apply_changes, plan_sync, read_actual_state
    from patchflow.aws.client import aws_client

    try:
        desired = load_baselines(args.baselines)
    except InvalidInput as exc:
        print(exc, file=sys.stderr)
        return 1
    try:
        ssm = aws_client("ssm", region_name=args.region)
        actual = read_actual_state(ssm, {b.operating_system for b in desired})
        plan = plan_sync(desired, actual, delete_removed=args.delete_removed)
        for note in plan.notes:
            print(f"note: {note}")
        if args.dry_run:
            for change in plan.changes:
                print(f"would {change}")
        else:
            apply_changes(ssm, plan.changes)
    except (ClientError, BotoCoreError) as exc:
        print(f"patchflow sync: {exc}", file=sys.stderr)
        return 1
    for conflict in plan.conflicts:
        print(f"conflict: {conflict}", file=sys.stderr)
    verb = "would make" if args.dry_run else "made"
    print(f"sync: {verb} {len(plan.changes)} change{'s' if len(plan.changes) != 1 else ''}, {len(plan.conflicts)} conflict{'s' if len(plan.conflicts) != 1 else ''}")
    return 1 if plan.conflicts else 0
