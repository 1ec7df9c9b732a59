"""Invocation and command statuses, and how a command's status rolls up from its invocations.

Invocation `Status` has 8 values; the finer outcome lives in `StatusDetails`
(Undeliverable, Terminated, Delivery Timed Out, ...). The tables here are the
only place that maps one to the other.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Mapping

PENDING = "Pending"
IN_PROGRESS = "In Progress"
SUCCESS = "Success"
FAILED = "Failed"
CANCELLED = "Cancelled"
# CancelCommand was asked for; the invocation settles Cancelled, or finishes if its agent got too far to stop.
CANCELLING = "Cancelling"
UNDELIVERABLE = "Undeliverable"
TERMINATED = "Terminated"
DELIVERY_TIMED_OUT = "Delivery Timed Out"
EXECUTION_TIMED_OUT = "Execution Timed Out"
NO_INSTANCES_IN_TAG = "No Instances In Tag"
INCOMPLETE = "Incomplete"

# StatusDetails -> (Status, ResponseCode reported for the invocation)
INVOCATION_STATUS: Mapping[str, tuple[str, int]] = {
    PENDING: ("Pending", -1),
    IN_PROGRESS: ("InProgress", -1),
    SUCCESS: ("Success", 0),
    FAILED: ("Failed", 1),
    CANCELLED: ("Cancelled", -1),
    CANCELLING: ("Cancelling", -1),
    UNDELIVERABLE: ("Failed", -1),
    TERMINATED: ("Failed", -1),
    DELIVERY_TIMED_OUT: ("TimedOut", -1),
    EXECUTION_TIMED_OUT: ("TimedOut", 1),
}

TERMINAL_DETAILS = frozenset(INVOCATION_STATUS) - {PENDING, IN_PROGRESS, CANCELLING}
# These count toward MaxErrors; an Undeliverable invocation never does.
ERROR_DETAILS = frozenset({FAILED, EXECUTION_TIMED_OUT})

# ListCommandInvocations Status filter value -> StatusDetails it selects
INVOCATION_FILTER_VALUES: Mapping[str, frozenset[str]] = {
    "Pending": frozenset({PENDING}),
    "InProgress": frozenset({IN_PROGRESS}),
    "Delayed": frozenset(),
    "Success": frozenset({SUCCESS}),
    "Cancelled": frozenset({CANCELLED}),
    "Failed": frozenset({FAILED, UNDELIVERABLE, TERMINATED}),
    "TimedOut": frozenset({DELIVERY_TIMED_OUT, EXECUTION_TIMED_OUT}),
    "AccessDenied": frozenset(),
    "DeliveryTimedOut": frozenset({DELIVERY_TIMED_OUT}),
    "ExecutionTimedOut": frozenset({EXECUTION_TIMED_OUT}),
    "Undeliverable": frozenset({UNDELIVERABLE}),
    "InvalidPlatform": frozenset(),
    "Terminated": frozenset({TERMINATED}),
}

# ListCommands Status filter value -> (Status, StatusDetails) pairs it selects; None matches any details
COMMAND_FILTER_VALUES: Mapping[str, tuple[tuple[str, str | None], ...]] = {
    "Pending": (("Pending", None),),
    "InProgress": (("InProgress", None),),
    "Success": (("Success", None),),
    "Cancelled": (("Cancelled", None),),
    "Failed": (("Failed", None),),
    "TimedOut": (("TimedOut", None),),
    "AccessDenied": (("Failed", "Access Denied"),),
    "DeliveryTimedOut": (("TimedOut", DELIVERY_TIMED_OUT),),
    "ExecutionTimedOut": (("TimedOut", EXECUTION_TIMED_OUT), ("Failed", EXECUTION_TIMED_OUT)),
    "Incomplete": (("Failed", INCOMPLETE),),
    "NoInstancesInTag": (("Success", NO_INSTANCES_IN_TAG),),
    "LimitExceeded": (("Failed", "Rate Exceeded"),),
}


@dataclass(frozen=True)
class Counters:
    target_count: int
    completed_count: int
    error_count: int
    delivery_timed_out_count: int


def target_count(*, resolved: bool, resolved_targets: int, requested_instance_ids: int) -> int:
    """A command's TargetCount, the same in the SendCommand answer and in every ListCommands after it.

    SendCommand answers an InstanceIds command with one target per id (awscli example send-command.rst)
    and a Targets command with 0, its targets resolving later; until the simulation resolves them,
    ListCommands must say the same.
    """
    if resolved:
        return resolved_targets
    return requested_instance_ids


def counters(target_count: int, details: Mapping[str, int]) -> Counters:
    return Counters(
        target_count=target_count,
        completed_count=sum(n for d, n in details.items() if d in TERMINAL_DETAILS),
        error_count=sum(details.get(d, 0) for d in ERROR_DETAILS),
        delivery_timed_out_count=details.get(DELIVERY_TIMED_OUT, 0),
    )


def command_status(
    *,
    resolved: bool,
    target_count: int,
    details: Mapping[str, int],
    max_errors: int,
    cancelled: bool,
) -> tuple[str, str]:
    """(Status, StatusDetails) of a command from its invocation StatusDetails tally.

    `details` counts invocations by StatusDetails; `max_errors` is MaxErrors
    already resolved against the target count.
    """
    if not resolved:
        return "Pending", PENDING
    if target_count == 0:
        # Nothing matched the targets; SSM still ends the command without running anything.
        return "Success", NO_INSTANCES_IN_TAG
    tally = Counter({d: n for d, n in details.items() if n})
    terminal = sum(n for d, n in tally.items() if d in TERMINAL_DETAILS)
    if terminal < target_count:
        started = sum(n for d, n in tally.items() if d != PENDING)
        if cancelled:
            return "Cancelling", CANCELLING
        return ("InProgress", IN_PROGRESS) if started else ("Pending", PENDING)
    if cancelled and tally.get(CANCELLED):
        return "Cancelled", CANCELLED
    errors = sum(tally.get(d, 0) for d in ERROR_DETAILS)
    # Dispatch stops on error MaxErrors+1, but the final status is Failed once MaxErrors is reached.
    if tally.get(TERMINATED) or (errors and errors >= max_errors):
        if tally.get(EXECUTION_TIMED_OUT, 0) > tally.get(FAILED, 0):
            return "TimedOut", EXECUTION_TIMED_OUT
        return "Failed", FAILED
    timed_out = tally.get(DELIVERY_TIMED_OUT, 0)
    if timed_out and timed_out >= max_errors:
        return "TimedOut", DELIVERY_TIMED_OUT
    if tally.get(UNDELIVERABLE, 0) == target_count:
        return "Failed", FAILED
    if all(d in (SUCCESS, UNDELIVERABLE) for d in tally):
        return "Success", SUCCESS
    return "Failed", INCOMPLETE
