"""Injected API faults: "after N calls of one action, fail the next M calls of another".

The shape covers the failures a rollout must survive that the fleet spec
cannot express, such as the ledger write that fails right after SendCommand
(as if the worker had died there). Armed at run time through
POST /_fleetsim/faults, so a test can aim it at one moment of a rollout.
With `accept_first` the failing call is carried out before its error is
answered: the request AWS accepted whose answer was lost (a read time-out,
or a 5xx after the work was done), which a client cannot tell from a
request that never arrived.
"""
from __future__ import annotations

from dataclasses import dataclass

from fleetsim.errors import MISSING, InvalidInput, Problem


@dataclass
class Fault:
    after_action: str
    after_count: int
    fail_action: str
    fail_count: int
    status: int
    code: str
    message: str
    accept_first: bool = False
    seen: int = 0
    failed: int = 0

    def observe(self, action: str) -> bool:
        """Count `action`; True when this call must fail."""
        if self.seen >= self.after_count and action == self.fail_action and self.failed < self.fail_count:
            self.failed += 1
            return True
        if action == self.after_action:
            self.seen += 1
        return False

    def to_json(self) -> dict:
        return {
            "after": {"action": self.after_action, "count": self.after_count},
            "fail": {"action": self.fail_action, "count": self.fail_count},
            "error": {"status": self.status, "code": self.code, "message": self.message},
            "accept_first": self.accept_first,
            "seen": self.seen,
            "failed": self.failed,
        }


def parse_fault(request: object) -> Fault:
    """From {"after": {"action", "count"}, "fail": {"action", "count"}, "error": {"status", "code", "message"}, "accept_first"}."""
    problems: list[Problem] = []

    def part(name: str) -> dict:
        value = request.get(name) if isinstance(request, dict) else None
        if not isinstance(value, dict):
            problems.append(Problem.expected("fault", name, "an object", value))
            return {}
        return value

    def field(parent: dict, parent_name: str, name: str, kind: type, default=None):
        value = parent.get(name, MISSING if default is None else default)
        if not isinstance(value, kind) or isinstance(value, bool) or (kind is int and value < 0) or (kind is str and not value):
            expected = "a whole number, 0 or more" if kind is int else "a non-empty string"
            problems.append(Problem.expected("fault", f"{parent_name}.{name}", expected, value))
        return value

    after, fail = part("after"), part("fail")
    error = part("error") if isinstance(request, dict) and "error" in request else {}
    accept_first = request.get("accept_first", False) if isinstance(request, dict) else False
    if not isinstance(accept_first, bool):
        problems.append(Problem.expected("fault", "accept_first", "true or false", accept_first))
    fault = Fault(
        after_action=field(after, "after", "action", str),
        after_count=field(after, "after", "count", int, 1),
        fail_action=field(fail, "fail", "action", str),
        fail_count=field(fail, "fail", "count", int, 1),
        status=field(error, "error", "status", int, 500),
        code=field(error, "error", "code", str, "InternalServerError"),
        message=field(error, "error", "message", str, "injected by fleetsim"),
        accept_first=accept_first is True,
    )
    if problems:
        raise InvalidInput(problems)
    return fault
