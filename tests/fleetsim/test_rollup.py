"""Command status roll-up and counters, as tables."""
import pytest

from fleetsim.rollup import (
    DELIVERY_TIMED_OUT,
    EXECUTION_TIMED_OUT,
    FAILED,
    IN_PROGRESS,
    PENDING,
    SUCCESS,
    TERMINATED,
    UNDELIVERABLE,
    CANCELLED,
    Counters,
    command_status,
    counters,
    target_count,
)


@pytest.mark.parametrize(
    "resolved, targets, details, max_errors, cancelled, expected",
    [
        (False, 0, {}, 0, False, ("Pending", "Pending")),
        (True, 0, {}, 0, False, ("Success", "No Instances In Tag")),
        (True, 3, {PENDING: 3}, 0, False, ("Pending", "Pending")),
        (True, 3, {PENDING: 2, IN_PROGRESS: 1}, 0, False, ("InProgress", "In Progress")),
        (True, 3, {SUCCESS: 2, IN_PROGRESS: 1}, 0, False, ("InProgress", "In Progress")),
        (True, 3, {SUCCESS: 3}, 0, False, ("Success", "Success")),
        (True, 5, {SUCCESS: 1, UNDELIVERABLE: 4}, 0, False, ("Success", "Success")),
        (True, 4, {UNDELIVERABLE: 4}, 0, False, ("Failed", "Failed")),
        (True, 10, {SUCCESS: 8, FAILED: 2}, 3, False, ("Failed", "Incomplete")),
        (True, 10, {SUCCESS: 9, DELIVERY_TIMED_OUT: 1}, 2, False, ("Failed", "Incomplete")),
        (True, 10, {SUCCESS: 7, FAILED: 3}, 3, False, ("Failed", "Failed")),
        (True, 10, {SUCCESS: 9, FAILED: 1}, 0, False, ("Failed", "Failed")),
        (True, 10, {FAILED: 2, TERMINATED: 8}, 1, False, ("Failed", "Failed")),
        (True, 10, {SUCCESS: 7, EXECUTION_TIMED_OUT: 3}, 0, False, ("TimedOut", "Execution Timed Out")),
        (True, 5, {SUCCESS: 1, DELIVERY_TIMED_OUT: 4}, 0, False, ("TimedOut", "Delivery Timed Out")),
        (True, 3, {SUCCESS: 1, CANCELLED: 2}, 0, True, ("Cancelled", "Cancelled")),
        (True, 3, {SUCCESS: 1, IN_PROGRESS: 2}, 0, True, ("Cancelling", "Cancelling")),
    ],
    ids=[
        "not-resolved", "no-instances-in-tag", "all-pending", "one-running", "some-done", "all-success",
        "undeliverable-do-not-count", "all-undeliverable", "incomplete-within-max-errors", "incomplete-delivery-timeout", "failed-at-max-errors",
        "failed-over-max-errors", "stopped-with-terminated", "execution-timeouts", "delivery-timeouts-over-max-errors",
        "cancelled", "cancelling",
    ],
)
def test_command_status(resolved, targets, details, max_errors, cancelled, expected):
    assert command_status(resolved=resolved, target_count=targets, details=details, max_errors=max_errors, cancelled=cancelled) == expected


def test_counters_count_terminal_errors_and_delivery_timeouts():
    details = {SUCCESS: 3, FAILED: 2, EXECUTION_TIMED_OUT: 1, DELIVERY_TIMED_OUT: 1, UNDELIVERABLE: 1, TERMINATED: 1, CANCELLED: 1, PENDING: 1, IN_PROGRESS: 1}
    assert counters(12, details) == Counters(target_count=12, completed_count=10, error_count=3, delivery_timed_out_count=1)


@pytest.mark.parametrize(
    "resolved, resolved_targets, requested_instance_ids, expected",
    [
        (False, 0, 3, 3),
        (False, 0, 0, 0),
        (True, 3, 3, 3),
        (True, 7, 0, 7),
        (True, 0, 0, 0),
    ],
    ids=["instance-ids-before-resolving", "targets-before-resolving", "instance-ids-resolved", "targets-resolved", "targets-matching-nothing"],
)
def test_target_count_before_and_after_targets_resolve(resolved, resolved_targets, requested_instance_ids, expected):
    assert target_count(resolved=resolved, resolved_targets=resolved_targets, requested_instance_ids=requested_instance_ids) == expected
