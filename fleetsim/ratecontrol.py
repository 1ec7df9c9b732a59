"""Run Command rate control as SSM applies it: MaxConcurrency, MaxErrors and the ramp-up.

Pure functions; the simulator asks them how many invocations to dispatch and
whether to stop dispatching.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

MAX_CONCURRENCY_PATTERN = re.compile(r"^([1-9][0-9]*|[1-9][0-9]%|[1-9]%|100%)$")
MAX_ERRORS_PATTERN = re.compile(r"^([1-9][0-9]*|[0]|[1-9][0-9]%|[0-9]%|100%)$")
MAX_LENGTH = 7
DEFAULT_MAX_CONCURRENCY = "50"
DEFAULT_MAX_ERRORS = "0"


@dataclass(frozen=True)
class Limit:
    """A count ("50") or a share of the resolved targets ("10%")."""

    amount: int
    percent: bool

    def of(self, targets: int, *, minimum: int) -> int:
        # SSM's rounding of percentages is undocumented; ceil never turns a non-zero share into nothing.
        value = math.ceil(self.amount * targets / 100) if self.percent else self.amount
        return max(value, minimum)

    def __str__(self) -> str:
        return f"{self.amount}%" if self.percent else str(self.amount)


def _parse(value: object, pattern: re.Pattern, name: str) -> Limit:
    text = value if isinstance(value, str) else None
    if text is None or len(text) > MAX_LENGTH or not pattern.match(text):
        raise ValueError(
            f"1 validation error detected: Value '{value}' at '{name[0].lower() + name[1:]}' failed to satisfy constraint: "
            f"Member must satisfy regular expression pattern: {pattern.pattern}"
        )
    if text.endswith("%"):
        return Limit(int(text[:-1]), True)
    return Limit(int(text), False)


def parse_max_concurrency(value: object) -> Limit:
    return _parse(value, MAX_CONCURRENCY_PATTERN, "MaxConcurrency")


def parse_max_errors(value: object) -> Limit:
    return _parse(value, MAX_ERRORS_PATTERN, "MaxErrors")


def ramp_limit(acknowledged: int) -> int:
    """In-flight ceiling during ramp-up: 1 node, then 2 more once it answers, then doubling per round."""
    return 1 if acknowledged <= 0 else 2 * acknowledged + 1


def dispatch_count(*, waiting: int, in_flight: int, acknowledged: int, max_concurrency: int, stopped: bool) -> int:
    """How many more invocations may be dispatched right now."""
    if stopped or waiting <= 0:
        return 0
    ceiling = min(max_concurrency, ramp_limit(acknowledged))
    return max(0, min(waiting, ceiling - in_flight))


def error_threshold_crossed(errors: int, max_errors: int) -> bool:
    """MaxErrors=N stops new dispatches when the (N+1)-th error arrives."""
    return errors > max_errors
