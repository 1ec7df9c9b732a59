"""The DAG trigger form (dry_run, stages, max_failed, change_ticket, release), validated against the plan.

The params arrive as JSON from the Airflow UI, the REST API or
`airflow dags trigger -c`; they are read with the same readers as the plan
files, and every problem is reported at once under the source "params".
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from patchflow.core.errors import InvalidInput, join_path, raise_if_any
from patchflow.core.gates import GateThresholds, Limit, stricter
from patchflow.core.plan_model import RUN_PARAM_KEYS, RolloutPlan, Stage
from patchflow.core.promotion import ledger_stages, skipped_between
from patchflow.core.validation import Findings, entries_of, one_of, read_bool, read_choice, read_keys, read_text, read_with

# A ticket like CHG0012345 or OPS-12, or nothing; spaces around it are dropped.
CHANGE_TICKET = re.compile(r"^\s*([A-Z][A-Z0-9]{1,15}-?[0-9]{1,20})?\s*$")
RELEASE_ID = re.compile(r"^r-[0-9a-f]{16}$")
# The spelling patchflow.core.gates.Limit reads (a count, or a percentage up to 100%), or nothing, as a JSON
# schema pattern: the trigger form refuses anything else before a run exists. Whether the plan accepts the
# limit (no looser than any selected stage's own) depends on the stages chosen, so the run's start decides that.
MAX_FAILED_SPELLING = r"^\s*([0-9]+|0*(100(\.0+)?|[0-9]{1,2}(\.[0-9]+)?)%)?\s*$"


@dataclass(frozen=True)
class RunParams:
    """The Airflow trigger form, validated against the plan."""

    dry_run: bool
    stages: tuple[str, ...]
    max_failed: Limit | None  # None keeps each stage's own limit
    change_ticket: str
    release: str = ""  # a release id to install instead of the newest that may be installed

    def gate_for(self, stage: Stage) -> GateThresholds:
        """The stage's gate with this run's max_failed, which may only make it stricter (raises InvalidInput)."""
        if self.max_failed is None:
            return stage.gate
        found = Findings("params")
        gate = stricter(found, stage.gate, {"max_failed": self.max_failed})
        raise_if_any(found.problems)
        return gate


def max_failed_help(plan: RolloutPlan) -> str:
    """The trigger form's description of max_failed, naming each stage's own limit it may only tighten."""
    own = ", ".join(f"{stage.name} {stage.gate.max_failed}" for stage in plan.stages)
    return f"Optional: a stricter max_failed for every selected stage's gate, a count like 0 or a percentage; no looser than each stage's own ({own})."


def refused_params_reason(refused: InvalidInput) -> str:
    """Why the run's start refuses its params, on one line."""
    return "the run's params were refused, nothing was sent: " + "; ".join(str(problem) for problem in refused.problems)


def _selected_stage_names(found: Findings, plan: RolloutPlan, names: Any) -> tuple[str, ...]:
    known = plan.stage_names
    if names is None:
        return known
    if isinstance(names, (str, bytes, Mapping)) or not isinstance(names, Iterable):
        found.expected("stages", f"a list of stage names from {', '.join(known)}", names)
        return ()
    names = list(names)
    if not names:
        found.add("stages", f"expected at least {one_of(known)}, got an empty list")
        return ()
    wanted = {read_choice(found, (name, join_path("stages", index)), known) for index, name in enumerate(names)}
    return tuple(n for n in known if n in wanted)


def _max_failed(found: Findings, plan: RolloutPlan, stages: tuple[str, ...], value: Any) -> Limit | None:
    """The run's max_failed, if it is a limit no looser than any selected stage's own."""
    if value is None or (isinstance(value, str) and not value.strip()):  # 0 is a real (the strictest) limit
        return None
    limit = read_with(found, (value, "max_failed"), Limit.parse)
    if limit is None:
        return None
    refused: dict[str, list[str]] = {}
    for name in stages:
        refusals = Findings("params")
        stricter(refusals, plan.stage(name).gate, {"max_failed": limit})
        for problem in refusals.problems:
            refused.setdefault(problem.message, []).append(name)
    for message, names in refused.items():
        found.add("max_failed", f"{message} for stage{'s' if len(names) > 1 else ''} {', '.join(names)}")
    return None if refused else limit


def validate_run_params(plan: RolloutPlan, params: Mapping) -> RunParams:
    """The trigger form: dry_run, stages, max_failed (tighter only), change_ticket. Raises InvalidInput."""
    found = Findings("params")
    items = read_keys(found, entries_of(params, ""), RUN_PARAM_KEYS)

    dry_run = False
    if "dry_run" in items and items["dry_run"][0] is not None:
        dry_run = read_bool(found, items["dry_run"]) or False

    stages = _selected_stage_names(found, plan, items.get("stages", (None, ""))[0])
    # A dry run installs nothing, so it may look at any stage without the one before it.
    for name, before in () if dry_run else skipped_between(plan, stages):
        found.add(
            "stages",
            f"expected {before} as well, because {name} installs only a release that passed {before}, got {', '.join(stages)}",
        )
    release = _release(found, plan, stages, items.get("release", (None, "release")))

    max_failed = _max_failed(found, plan, stages, items.get("max_failed", (None, ""))[0])

    ticket = ""
    if "change_ticket" in items and items["change_ticket"][0]:  # null, "" and the like: no ticket
        ticket = read_text(found, items["change_ticket"], "a change ticket like CHG0012345, or nothing", CHANGE_TICKET) or ""

    raise_if_any(found.problems)
    return RunParams(dry_run=dry_run, stages=stages, max_failed=max_failed, change_ticket=ticket.strip(), release=release)


def _release(found: Findings, plan: RolloutPlan, stages: tuple[str, ...], entry) -> str:
    """The release the run's first stage from an earlier run installs, or "" for the newest that may be installed."""
    value, path = entry
    if value is None or (isinstance(value, str) and not value.strip()):
        return ""
    release = read_text(found, (value.strip() if isinstance(value, str) else value, path), "a release id like r-0123456789abcdef, or nothing", RELEASE_ID)
    if release and not ledger_stages(plan, stages):
        pinned = [stage.name for stage in plan.stages if stage.pin_to]
        found.add(
            path,
            f"expected stages that install a release from an earlier run ({', '.join(pinned) or 'none in this plan'}, without their source), "
            f"got {', '.join(stages)}, which {'prove their own' if pinned else 'install no release'}",
        )
    return release or ""
