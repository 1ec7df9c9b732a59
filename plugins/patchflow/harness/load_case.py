"""The load case: what it runs (read from its file) and what it must show (pure checks over what was seen).

A load case file (bench/load/rollouts.yaml) names a fleet, the Airflow pool size the plans'
scope gets, the trigger-form config and the rollouts, each a plan and the verdict it reaches
alone. `patchflow e2e-distributed --load FILE` triggers them all at once and requires:

    verdicts     each rollout ends as it does alone (promoted, or blocked at its first stage)
    throttled    fleetsim answered ThrottlingException to some calls (else nothing was proven)
                 and none of it surfaced: no failed task's log and no ledger record names it
    in-flight    the most SSM calls fleetsim had open at once stays within the budget:
                 the pool's slots plus the triggerer's polls (patchflow.core.api_pools)
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

from patchflow.core.errors import InvalidInput, Problem
from patchflow.core.yamlfile import display_path, load_document
from patchflow.harness.checks import Check

LOAD_EXPECTATIONS = ("promoted", "blocked")
LOAD_KEYS = ("fleet", "pool_slots", "conf", "rollouts")
# What botocore and the SSM API call a throttle; any of them in a failed task's log or the ledger means it surfaced.
THROTTLING_WORDS = ("ThrottlingException", "Rate exceeded", "ThrottledException", "TooManyRequestsException")


@dataclass(frozen=True)
class LoadRollout:
    plan: Path
    expect: str


@dataclass(frozen=True)
class LoadCase:
    source: Path
    fleet: Path
    pool_slots: int
    conf: dict
    rollouts: tuple[LoadRollout, ...]


def read_load_case(path: Path) -> LoadCase:
    """The case file, every path in it relative to the file; each problem names the file and the field."""
    source = display_path(path)
    document = load_document(path)  # a missing file or bad YAML is InvalidInput naming the file
    if not isinstance(document, Mapping):
        raise InvalidInput([Problem.expected(source, "", "a mapping with " + ", ".join(LOAD_KEYS), document)])
    problems = [Problem(source, str(key), f"unknown key; expected one of {', '.join(LOAD_KEYS)}") for key in document if key not in LOAD_KEYS]
    base = path.parent

    def existing_file(field: str, value: Any) -> Path | None:
        if not isinstance(value, str) or not value:
            problems.append(Problem.expected(source, field, "a file path relative to the case file", value))
            return None
        if not (base / value).is_file():
            problems.append(Problem.expected(source, field, "an existing file", value))
            return None
        return base / value

    fleet = existing_file("fleet", document.get("fleet"))
    slots = document.get("pool_slots")
    if not isinstance(slots, int) or isinstance(slots, bool) or slots < 1:
        problems.append(Problem.expected(source, "pool_slots", "a whole number of pool slots >= 1", slots))
    conf = document.get("conf", {})
    if not isinstance(conf, Mapping):
        problems.append(Problem.expected(source, "conf", "a mapping of trigger-form params", conf))
    entries = document.get("rollouts")
    rollouts = []
    if not isinstance(entries, list) or not entries:
        problems.append(Problem.expected(source, "rollouts", "a list of {plan, expect}", entries))
        entries = []
    for index, entry in enumerate(entries):
        field = f"rollouts[{index}]"
        if not isinstance(entry, Mapping):
            problems.append(Problem.expected(source, field, "a mapping with plan and expect", entry))
            continue
        plan = existing_file(f"{field}.plan", entry.get("plan"))
        expect = entry.get("expect")
        if expect not in LOAD_EXPECTATIONS:
            problems.append(Problem.expected(source, f"{field}.expect", " or ".join(LOAD_EXPECTATIONS), expect))
        elif plan is not None:
            rollouts.append(LoadRollout(plan, expect))
    if problems:
        raise InvalidInput(problems)
    return LoadCase(path, fleet, slots, dict(conf), tuple(rollouts))


def throttling_mentions(texts: Mapping[str, str]) -> list[str]:
    """The names (task ids, ledger records) whose text mentions a throttle."""
    return sorted(name for name, text in texts.items() if any(word in text for word in THROTTLING_WORDS))


def check_throttled(stats: Mapping, surfaced: Iterable[str]) -> Check:
    """fleetsim throttled some calls, and no failed task or ledger record of any run names a throttle."""
    throttled = {api: count for api, count in (stats.get("throttled") or {}).items() if count}
    surfaced = sorted(surfaced)
    shown = ", ".join(f"{api} {count}" for api, count in sorted(throttled.items())) or "none"
    if not throttled:
        return Check("throttled", False, "fleetsim throttled no call, so the load case proved nothing about throttling")
    if surfaced:
        return Check("throttled", False, f"throttling surfaced in {', '.join(surfaced[:8])} (throttled calls: {shown})")
    return Check("throttled", True, f"throttled calls absorbed by retries, none surfaced: {shown}")


def check_in_flight(stats: Mapping, budget: int, pool: str, slots: int, reads_per_slot: int) -> Check:
    peak = stats.get("ssm_in_flight_peak")
    if not isinstance(peak, int):
        return Check("in-flight", False, f"fleetsim did not report ssm_in_flight_peak, got {json.dumps(peak)}")
    what = f"{slots} slots of pool {pool} at {reads_per_slot} reads at once each, plus the triggerer's polls: budget {budget}"
    if peak > budget:
        return Check("in-flight", False, f"fleetsim had {peak} SSM calls in flight at once, over the {what}")
    return Check("in-flight", True, f"at most {peak} SSM calls in flight at once ({what})")


def check_verdicts(outcomes: Iterable[tuple[str, str, Check]]) -> Check:
    """(plan name, expected verdict, that run's promoted/blocked check) for every rollout of the case."""
    outcomes = list(outcomes)
    wrong = [f"{name}: {check.detail}" for name, _, check in outcomes if not check.passed]
    if wrong:
        return Check("verdicts", False, "; ".join(wrong))
    return Check("verdicts", True, ", ".join(f"{name} {expect}" for name, expect, _ in outcomes) + ", each as alone")
