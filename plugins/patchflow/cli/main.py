"""`python -m patchflow <command>`: one entry point, one module per command.

Each command lives in its own module exposing `add_arguments(parser)` and
`run(args) -> int`; adding a command is one line in COMMANDS. Only the chosen
command's module is imported, so `lint` never pays for Airflow or boto3 and a
command under construction cannot break the others.

Bad arguments print one line naming the argument, what was expected and what
was found, and exit 2. Input files with problems exit 1.
"""
from __future__ import annotations

import argparse
import importlib
import re
import signal
import sys
from typing import Sequence

# (name, module, one-line help).
COMMANDS: tuple[tuple[str, str, str], ...] = (
    ("lint", "patchflow.cli.lint", "check baseline files and rollout plans; exit 1 on any problem"),
    ("check", "patchflow.cli.check", "check that every stage of a plan can run in the live accounts; exit 1 on any problem"),
    ("preview", "patchflow.cli.preview", "list the catalog patches a baseline approves on a date"),
    ("sync", "patchflow.cli.sync", "make SSM patch baselines, patch groups and defaults match include/baselines"),
    ("groups", "patchflow.cli.groups", "report patch group membership and its problems; --assign FILE moves instances"),
    ("releases", "patchflow.cli.releases", "list a plan's releases and where each stands; --hold, --unhold or --revoke one"),
    ("pools", "patchflow.cli.pools", "list the Airflow pools the plans' accounts and Regions use; --apply creates missing ones"),
    ("runs", "patchflow.cli.runs", "start, list, follow, approve, reject or cancel rollout runs through Airflow's REST API"),
    ("import", "patchflow.cli.adopt", "adopt the account's Patch Manager setup: baseline files and a draft rollout plan"),
    ("demo", "patchflow.harness.demo", "run a whole rollout on the simulated fleet through Airflow"),
    ("standalone", "patchflow.harness.standalone", "start fleetsim and Airflow standalone to click through a rollout"),
    ("e2e-distributed", "patchflow.harness.distributed", "run the demo rollout on CeleryExecutor processes (Postgres, Redis, 2 workers) through the REST API and check it"),
)


class OneLineArgumentParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit 2, never a usage dump or traceback."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: {in_house_style(message)}\n")


def in_house_style(message: str) -> str:
    """argparse's wording, rewritten as `ARGUMENT: expected ..., got ...` where it can be."""
    required = re.fullmatch(r"the following arguments are required: (.+)", message)
    if required:
        first = required.group(1).split(", ")[0]
        return f"{first}: expected {'a command' if first == 'COMMAND' else 'a value'}, got nothing"
    no_value = re.fullmatch(r"argument (\S+): expected one argument", message)
    if no_value:
        return f"{no_value.group(1)}: expected a value, got nothing"
    own = re.fullmatch(r"argument (\S+?)(?:/\S+)?: (expected .+)", message)
    if own:
        return f"{own.group(1)}: {own.group(2)}"
    return message


def build_parser(chosen: str | None) -> argparse.ArgumentParser:
    parser = OneLineArgumentParser(prog="patchflow", description="Staged AWS Systems Manager patch rollouts.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineArgumentParser)
    commands.required = True
    for name, module_name, help_text in COMMANDS:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        if name == chosen:
            module = importlib.import_module(module_name)
            module.add_arguments(sub)
            sub.set_defaults(run=module.run)
    return parser


def chosen_command(argv: Sequence[str]) -> str | None:
    return next((arg for arg in argv if not arg.startswith("-")), None)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    chosen = chosen_command(argv)
    if chosen is not None and chosen not in {name for name, _, _ in COMMANDS}:
        print(f"patchflow: COMMAND: expected one of {', '.join(name for name, _, _ in COMMANDS)}, got {chosen!r}", file=sys.stderr)
        return 2
    args, unknown = build_parser(chosen).parse_known_args(argv)
    if unknown:
        print(f"patchflow {chosen}: {unknown[0]}: expected no such argument, got {' '.join(unknown)!r}", file=sys.stderr)
        return 2
    # SIGTERM (a CI timeout, `kill`) unwinds like Ctrl-C, so commands that started fleetsim
    # or Airflow stop them in their `finally` blocks instead of leaving them behind.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        return int(args.run(args) or 0)
    except KeyboardInterrupt:
        print(f"patchflow {chosen}: interrupted", file=sys.stderr)
        return 130


def _interrupt(signum, frame):
    raise KeyboardInterrupt
