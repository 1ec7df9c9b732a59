"""`python -m patchflow lint [PATHS]`: the validation DAG parsing and sync run, before anything runs.

A path is a file or a folder of *.yaml, *.yml and *.json files. A file is a
plans' accounts file when it sits under an `accounts` folder (checked alone), a
rollout plan when it sits under a `rollouts` folder or has a top-level
`stages:` key; otherwise it is a patch baseline. Baselines linted together
are also checked as a set (unique names, one per patch group and OS, one
default per OS). Every problem is printed once, one per line; exit 1 if any.
A default folder that does not exist is skipped.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterable

from patchflow.core.baselines import Baseline, check_baseline_set, load_baseline
from patchflow.core.errors import InvalidInput, Problem
from patchflow.core.yamlfile import PROJECT_ROOT, display_path, load_document

DEFAULT_PATHS = ("include/baselines", "include/accounts", "include/rollouts")
KIND_FOLDERS = ("accounts", "rollouts")
LINTED_SUFFIXES = (".yaml", ".yml", ".json")


def add_arguments(parser) -> None:
    parser.add_argument(
        "paths", nargs="*", metavar="PATHS",
        help=f"files or folders to check (default: {' '.join(DEFAULT_PATHS)})",
    )


@dataclass
class LintResult:
    problems: list[Problem] = field(default_factory=list)
    baselines: list[Baseline] = field(default_factory=list)
    plans: list[object] = field(default_factory=list)
    accounts_files: int = 0
    files: int = 0


def files_under(paths: Iterable[Path]) -> list[Path]:
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in LINTED_SUFFIXES))
        else:
            found.append(path)
    return found


def kind_folder(path: Path) -> str | None:
    """The nearest enclosing folder that says what a file is (accounts or rollouts), so a checkout
    inside some other folder of that name does not count."""
    return next((part for part in reversed(path.resolve().parent.parts) if part in KIND_FOLDERS), None)


def is_rollout_plan(path: Path, document: object) -> bool:
    return kind_folder(path) == "rollouts" or (isinstance(document, dict) and "stages" in document)


def lint(paths: Iterable[Path]) -> LintResult:
    result = LintResult()
    for path in files_under(paths):
        result.files += 1
        try:
            document = load_document(path)
        except InvalidInput as exc:
            source = display_path(path)
            result.problems.extend(replace(p, source=source) for p in exc.problems)
            continue
        try:
            if kind_folder(path) == "accounts":
                from patchflow.core.plan_accounts import load_accounts

                load_accounts(path)
                result.accounts_files += 1
            elif is_rollout_plan(path, document):
                from patchflow.core.plan import load_plan  # the plan model is only needed when plans are linted

                result.plans.append(load_plan(path))
            else:
                result.baselines.append(load_baseline(path))
        except InvalidInput as exc:
            # A plan naming a broken accounts file reports that file's problems, as linting the file itself does.
            result.problems.extend(p for p in exc.problems if p not in result.problems)
    result.problems.extend(check_baseline_set(result.baselines))
    return result


def summary(result: LintResult) -> str:
    counts = [f"{len(result.baselines)} baselines", f"{len(result.plans)} rollout plans"]
    if result.accounts_files:
        counts.insert(1, f"{result.accounts_files} accounts file{'s' if result.accounts_files != 1 else ''}")
    listed = ", ".join(counts[:-1]) + " and " + counts[-1]
    return f"OK: {listed} in {result.files} files"


def run(args) -> int:
    given = args.paths or [str(PROJECT_ROOT / p) for p in DEFAULT_PATHS if (PROJECT_ROOT / p).exists()]
    for raw in given:
        if not Path(raw).exists():
            print(f"patchflow lint: PATHS: expected an existing file or folder, got {raw!r}", file=sys.stderr)
            return 2
    result = lint(Path(raw) for raw in given)
    for problem in result.problems:
        print(problem)
    if result.problems:
        broken = len({p.source for p in result.problems})
        count = len(result.problems)
        print(f"{count} problem{'s' if count != 1 else ''} in {broken} of {result.files} files", file=sys.stderr)
        return 1
    print(summary(result))
    return 0
