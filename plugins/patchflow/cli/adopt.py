"""`python -m patchflow import`: adopt the Patch Manager setup the account already has.

    patchflow import --dry-run                          # print the files it would write; change nothing
    patchflow import                                    # include/baselines/<name>.yaml, include/rollouts/imported.yaml, dags/rollout_imported.py
    patchflow import --order Staging,Production --ledger s3://patchflow-ledger/rollouts
    patchflow import --copy-windows --name patching --force

It reads the account (patchflow.aws.adoption), drafts the files with
patchflow.core.adoption, plus the plan's DAG stub (as dags/rollout_weekly.py),
and then, unless --dry-run, tags each adopted baseline `managed-by=patchflow`
(so `patchflow sync` keeps it as its file says) and writes the files. A file
that is already there is never overwritten without --force, and a baseline
another file already holds is never written twice: either refuses everything
before anything is tagged or written. Predefined baselines are named, never
copied; whatever cannot be mapped is listed with its reason (and in the plan's
header).

Exit 0 when done (items not mapped are listed, they are not errors), 1 when
it refuses or a call to AWS fails, 2 on bad arguments.
"""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Mapping, Sequence

from patchflow.core.adoption import DEFAULT_PLAN_NAME, Adoption, ImportOptions, adopt
from patchflow.core.errors import InvalidInput, Problem
from patchflow.core.plan import PLAN_NAME, read_ledger
from patchflow.core.validation import Findings
from patchflow.core.yamlfile import PROJECT_ROOT, display_path, load_document

PROG = "patchflow import"
DEFAULT_BASELINES = PROJECT_ROOT / "include" / "baselines"
DEFAULT_ROLLOUTS = PROJECT_ROOT / "include" / "rollouts"
DEFAULT_DAGS = PROJECT_ROOT / "dags"
BASELINE_SUFFIXES = (".yaml", ".yml", ".json")


def add_arguments(parser) -> None:
    parser.add_argument("--dry-run", action="store_true", help="print the files it would write and the baselines it would tag; change nothing")
    parser.add_argument("--force", action="store_true", help="overwrite files that are already there")
    parser.add_argument("--order", default="", metavar="A,B", help="stage order: patch groups or window names, first stage first (default: by each window's next opening)")
    parser.add_argument("--copy-windows", action="store_true", help="write each window's schedule, time zone, duration and cutoff into the plan instead of referencing the window in SSM")
    parser.add_argument("--name", default=DEFAULT_PLAN_NAME, help=f"the plan's name and file name (default: {DEFAULT_PLAN_NAME})")
    parser.add_argument("--ledger", default=None, metavar="URI", help="the plan's ledger; s3://BUCKET/PREFIX pins later stages to the first")
    parser.add_argument("--baselines", default=str(DEFAULT_BASELINES), metavar="DIR", help="where baseline files go (default: include/baselines)")
    parser.add_argument("--rollouts", default=str(DEFAULT_ROLLOUTS), metavar="DIR", help="where the plan goes (default: include/rollouts)")
    parser.add_argument("--dags", default=str(DEFAULT_DAGS), metavar="DIR", help="where the plan's DAG stub goes (default: dags)")
    parser.add_argument("--region", default=None, help="AWS region (default: from the environment)")


def current_time() -> datetime:
    return datetime.now(timezone.utc)


# --------------------------------------------------------------------------- deciding, without I/O


def import_options(args) -> ImportOptions:
    """The options the arguments ask for; InvalidInput (one Problem per bad argument) otherwise."""
    problems: list[Problem] = []
    order = tuple(part.strip() for part in args.order.split(",")) if args.order else ()
    if any(not part for part in order):
        problems.append(Problem.expected("--order", "", "patch groups or window names separated by commas", args.order))
    if not PLAN_NAME.match(args.name):
        problems.append(Problem.expected("--name", "", "a plan name matching ^[a-z0-9][a-z0-9_-]{2,62}$", args.name))
    if args.ledger is not None:
        found = Findings("--ledger")
        read_ledger(found, args.ledger, "")
        problems += found.problems
    for flag, folder in (("--baselines", args.baselines), ("--rollouts", args.rollouts), ("--dags", args.dags)):
        if not Path(folder).is_dir():
            problems.append(Problem.expected(flag, "", "an existing folder", folder))
    if problems:
        raise InvalidInput(problems)
    return ImportOptions(plan_name=args.name, order=order, copy_windows=args.copy_windows, ledger=args.ledger)


@dataclass(frozen=True)
class Draft:
    """One file import writes."""

    path: Path
    text: str
    what: str  # what it holds, for the lines printed once it is written
    baseline: str | None = None  # the name of the baseline it holds


def python_string(text: str) -> str:
    """`text` as a double-quoted Python literal: a folder name with a quote or a backslash still makes a stub that parses."""
    return json.dumps(text, ensure_ascii=False)


def dag_stub(plan_path: Path) -> str:
    """The dags/ stub of the plan file at `plan_path`, as dags/rollout_weekly.py.

    dag_from_plan_file reads a bare file name from the project's include/rollouts; a plan anywhere
    else is named by its absolute path, so the stub finds it wherever Airflow runs it from.
    """
    resolved = plan_path.resolve()
    named = resolved.name if resolved.parent == DEFAULT_ROLLOUTS.resolve() else str(resolved)
    return (f'"""Airflow DAG for the rollout plan {python_string(display_path(resolved))[1:-1]} (built by patchflow\'s DAG factory)."""\n'
            "from patchflow.rollout.factory import dag_from_plan_file\n"
            "\n"
            f"dag = dag_from_plan_file({python_string(named)})\n")


def drafts(adoption: Adoption, baselines: Path, rollouts: Path, dags: Path) -> list[Draft]:
    found = [Draft(baselines / b.file_name, b.text, f"baseline {b.baseline.name} ({b.baseline_id})", b.baseline.name) for b in adoption.baselines]
    if adoption.plan_text is not None:
        plan = adoption.plan
        stages = ", ".join(stage.name for stage in adoption.stages)
        found.append(Draft(rollouts / adoption.plan_file, adoption.plan_text,
                           f"plan {plan.name}, {'stage' if len(adoption.stages) == 1 else 'stages'} {stages}"))
        found.append(Draft(dags / f"{plan.dag_id}.py", dag_stub(rollouts / adoption.plan_file), f"DAG {plan.dag_id} for plan {plan.name}"))
    return found


def refusals(planned: Sequence[Draft], existing: Sequence[Path], held: Mapping[Path, str], force: bool) -> list[str]:
    """Why import must not write anything: files already there (unless `force`), and baselines another file already holds.

    `existing` are the planned paths that exist; `held` is the baseline name each file in the baselines folder
    holds. A second file for a baseline fails lint (one file per baseline name), so --force does not help there.
    """
    lines = [f"{display_path(path)}: expected no file there (--force overwrites it), got an existing file"
             for path in existing if not force]
    for draft in planned:
        for path, name in sorted(held.items()):
            if draft.baseline is not None and name == draft.baseline and path != draft.path:
                lines.append(f"{display_path(path)}: expected no other file for baseline {name} (import writes {display_path(draft.path)}), "
                             "got one holding it; remove or rename one of them")
    return lines


def baseline_names(folder: Path) -> dict[Path, str]:
    """The baseline name each file in `folder` holds (snake_case files and AWS CLI exports alike); unreadable files are lint's business."""
    names: dict[Path, str] = {}
    for path in sorted(folder.iterdir()):
        if not path.is_file() or path.suffix not in BASELINE_SUFFIXES:
            continue
        try:
            document = load_document(path)
        except InvalidInput:
            continue
        name = (document.get("name") or document.get("Name")) if isinstance(document, dict) else None
        if isinstance(name, str):
            names[path] = name
    return names


def plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def closing_lines(adoption: Adoption, written: int, dry_run: bool) -> list[str]:
    """The predefined baselines, everything not mapped, and the summary."""
    lines = [f"predefined, referenced by AWS and not copied: {baseline}" for baseline in adoption.predefined]
    lines += [f"not mapped: {item}" for item in adoption.unmapped]
    tagged = len(adoption.baselines)
    unmapped = f"{plural(len(adoption.unmapped), 'item')} not mapped (left in SSM as it is)"
    if dry_run:
        lines.append(f"import: would write {plural(written, 'file')} and tag {plural(tagged, 'baseline')}; {unmapped}")
    else:
        lines.append(f"import: wrote {plural(written, 'file')}, tagged {plural(tagged, 'baseline')}; {unmapped}")
        if written:
            lines.append("next: patchflow lint, then patchflow sync --dry-run (it reports no change for the adopted baselines)")
    return lines


# --------------------------------------------------------------------------- the command


def run(args) -> int:
    try:
        options = import_options(args)
    except InvalidInput as exc:
        for problem in exc.problems:
            print(f"{PROG}: {problem}", file=sys.stderr)
        return 2
    from botocore.exceptions import BotoCoreError, ClientError

    from patchflow.aws.adoption import read_setup, tag_adopted
    from patchflow.aws.client import aws_client

    try:
        ssm = aws_client("ssm", region_name=args.region)
        setup = read_setup(ssm)
    except (ClientError, BotoCoreError) as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 1
    try:
        adoption = adopt(setup, options, current_time())
    except InvalidInput as exc:  # an --order naming no drafted stage: only the account's answers can tell
        for problem in exc.problems:
            print(f"{PROG}: {problem}", file=sys.stderr)
        return 2
    baselines = Path(args.baselines)
    planned = drafts(adoption, baselines, Path(args.rollouts), Path(args.dags))
    existing = [draft.path for draft in planned if draft.path.exists()]
    refused = refusals(planned, existing, baseline_names(baselines), args.force)
    if refused:
        for line in refused:
            print(f"{PROG}: {line}", file=sys.stderr)
        print(f"{PROG}: nothing written, nothing tagged", file=sys.stderr)
        return 1
    if args.dry_run:
        for draft in planned:
            print(f"would {'overwrite' if draft.path in existing else 'write'} {display_path(draft.path)}:")
            print(draft.text, end="")
        for baseline in adoption.baselines:
            print(f"would tag baseline {baseline.baseline.name} ({baseline.baseline_id}) managed-by=patchflow")
    else:
        # Tagged first: a refused tag (permissions) leaves no file behind, and a rerun needs no --force.
        names = {b.baseline_id: b.baseline.name for b in adoption.baselines}
        try:
            tag_adopted(ssm, list(names), report=lambda baseline_id: print(
                f"tagged baseline {names[baseline_id]} ({baseline_id}) managed-by=patchflow", flush=True))
        except (ClientError, BotoCoreError) as exc:
            print(f"{PROG}: {exc}", file=sys.stderr)
            print(f"{PROG}: nothing written", file=sys.stderr)
            return 1
        for draft in planned:
            draft.path.write_text(draft.text, encoding="utf-8")
            print(f"{'overwrote' if draft.path in existing else 'wrote'} {display_path(draft.path)}: {draft.what}")
    for line in closing_lines(adoption, len(planned), args.dry_run):
        print(line)
    return 0
