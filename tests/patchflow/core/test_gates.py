from __future__ import annotations

import json

import pytest

from patchflow.core.errors import InvalidInput
from patchflow.core.gates import GateThresholds, GateVerdict, InstanceResult, Limit, Outcome, classify_invocation, evaluate_gate, tighten

S, F, T, U, N, C, P = (
    Outcome.SUCCEEDED,
    Outcome.FAILED,
    Outcome.TIMED_OUT,
    Outcome.UNREACHABLE,
    Outcome.NOT_DISPATCHED,
    Outcome.CANCELLED,
    Outcome.IN_PROGRESS,
)


@pytest.mark.parametrize(
    ("status", "details", "outcome"),
    [
        pytest.param("Success", "Success", S, id="success"),
        pytest.param("Failed", "Failed", F, id="failed"),
        pytest.param("Failed", "Undeliverable", U, id="undeliverable"),
        pytest.param("TimedOut", "DeliveryTimedOut", U, id="delivery-timed-out"),
        pytest.param("TimedOut", "Delivery Timed Out", U, id="delivery-timed-out-spaced"),
        pytest.param("TimedOut", "ExecutionTimedOut", T, id="execution-timed-out"),
        pytest.param("TimedOut", "Execution Timed Out", T, id="execution-timed-out-spaced"),
        pytest.param("Failed", "Terminated", N, id="terminated-by-max-errors"),
        pytest.param("Failed", "InvalidPlatform", F, id="invalid-platform"),
        pytest.param("Failed", "AccessDenied", F, id="access-denied"),
        pytest.param("Cancelled", "Cancelled", C, id="cancelled"),
        # Cancel is asynchronous: an install already running may still finish and patch.
        pytest.param("Cancelling", "Cancelling", P, id="cancelling-has-not-settled"),
        pytest.param("Pending", "Pending", P, id="pending"),
        pytest.param("InProgress", "In Progress", P, id="in-progress"),
        pytest.param("Delayed", "Delayed", P, id="delayed"),
        pytest.param("SUCCESS", "success", S, id="case-insensitive"),
        pytest.param("TimedOut", "", T, id="status-only-timed-out"),
        pytest.param("InProgress", "", P, id="status-only-in-progress"),
        pytest.param("Mystery", "Unheard Of", F, id="unknown-fails-closed"),
    ],
)
def test_classify_invocation(status, details, outcome):
    assert classify_invocation(status, details) is outcome


def fleet(*outcomes: Outcome, compliant=None, pending_reboot=0) -> list[InstanceResult]:
    results = []
    for n, outcome in enumerate(outcomes):
        state = compliant[n] if isinstance(compliant, list) else compliant
        results.append(InstanceResult(f"i-{n:017x}", outcome, compliant=state, pending_reboot=n < pending_reboot))
    return results


def counts(**values) -> dict:
    base = dict.fromkeys(
        ("targets", "succeeded", "failed", "timed_out", "unreachable", "not_dispatched", "cancelled", "in_progress", "pending_reboot", "compliant", "non_compliant", "compliance_unknown", "counted_as_failed"),
        0,
    )
    base.update(values)
    return base


TEN_PERCENT = GateThresholds(max_failed=Limit(10, True))

CASES = [
    pytest.param(
        fleet(*[S] * 10), TEN_PERCENT, None,
        (True, ("passed: 10 of 10 instances succeeded, 0 counted as failed (limit 10%)",)),
        id="all-succeeded",
    ),
    pytest.param(
        fleet(*[S] * 9, F), TEN_PERCENT, None,
        (True, ("passed: 9 of 10 instances succeeded, 1 counted as failed (limit 10%)",)),
        id="at-the-percent-limit",
    ),
    pytest.param(
        fleet(*[S] * 7, F, U, U), TEN_PERCENT, None,
        (False, ("3 of 10 instances failed (30.0%), above the limit of 10%", "2 instances unreachable counted as failures")),
        id="unreachable-counted",
    ),
    pytest.param(
        fleet(*[S] * 8, U, U), GateThresholds(max_failed=Limit(10, True), unreachable_counts_as_failed=False), None,
        (True, ("passed: 8 of 10 instances succeeded, 0 counted as failed (limit 10%)",)),
        id="unreachable-not-counted",
    ),
    pytest.param(
        fleet(S, S, F, T, C, N), GateThresholds(max_failed=Limit(2, False)), None,
        (False, (
            "4 of 6 instances failed (66.7%), above the limit of 2",
            "1 instance timed out counted as a failure",
            "1 instance cancelled counted as a failure",
            "1 instance not dispatched counted as a failure",
        )),
        id="count-limit-with-every-kind",
    ),
    pytest.param(
        fleet(S, F), GateThresholds(), None,
        (False, ("1 of 2 instances failed (50.0%), above the limit of 0",)),
        id="default-allows-no-failure",
    ),
    pytest.param(
        [], GateThresholds(), None,
        (False, ("only 0 targets, fewer than the minimum of 1",)),
        id="no-targets",
    ),
    pytest.param(
        fleet(S, S), GateThresholds(), 3,
        (False, ("only 2 of 3 expected targets reported a result",)),
        id="fewer-than-expected",
    ),
    pytest.param(
        fleet(S, S, P), GateThresholds(max_failed=Limit(100, True)), None,
        (False, ("instances still in progress: 1",)),
        id="in-progress-always-fails",
    ),
    pytest.param(
        fleet(S, S, S, S, compliant=[True, True, False, None], pending_reboot=2),
        GateThresholds(max_pending_reboot=Limit(0, False), min_compliant_percent=90), None,
        (False, (
            "2 instances pending reboot (50.0%), above the limit of 0",
            "2 of 4 instances compliant (50.0%), below the minimum of 90%; 1 instance reported no compliance state",
        )),
        id="pending-reboot-and-compliance",
    ),
    pytest.param(
        fleet(S, S, compliant=True, pending_reboot=1), GateThresholds(max_pending_reboot=Limit(50, True), min_compliant_percent=100), None,
        (True, ("passed: 2 of 2 instances succeeded, 0 counted as failed (limit 0), 2 compliant (100.0%, minimum 100%), 1 pending reboot (limit 50%)",)),
        id="pending-reboot-within-percent",
    ),
    pytest.param(
        fleet(F, P), GateThresholds(min_targets=3), 4,
        (False, (
            "only 2 targets, fewer than the minimum of 3",
            "only 2 of 4 expected targets reported a result",
            "instances still in progress: 1",
            "1 of 2 instances failed (50.0%), above the limit of 0",
        )),
        id="every-reason-at-once",
    ),
    pytest.param(
        fleet(F, U, N, P), GateThresholds.permissive(), None,
        (False, ("instances still in progress: 1",)),
        id="permissive-still-blocks-in-progress",
    ),
]


@pytest.mark.parametrize(("results", "thresholds", "expected_targets", "verdict"), CASES)
def test_evaluate_gate(results, thresholds, expected_targets, verdict):
    found = evaluate_gate(results, thresholds, expected_targets=expected_targets)
    assert (found.passed, found.reasons) == verdict


def test_verdict_counts_every_outcome():
    results = fleet(S, S, F, T, U, N, C, P, compliant=[True, True, False, None, None, None, None, None], pending_reboot=1)
    assert evaluate_gate(results, GateThresholds(max_failed=Limit(100, True))).counts == counts(
        targets=8, succeeded=2, failed=1, timed_out=1, unreachable=1, not_dispatched=1, cancelled=1, in_progress=1,
        pending_reboot=1, compliant=2, non_compliant=1, compliance_unknown=5, counted_as_failed=5,
    )


def test_verdict_json_round_trip():
    verdict = evaluate_gate(fleet(S, F), TEN_PERCENT)
    data = json.loads(json.dumps(verdict.to_json()))
    assert GateVerdict.from_json(data) == verdict
    assert data["thresholds"] == {
        "max_failed": "10%", "unreachable_counts_as_failed": True, "not_dispatched_counts_as_failed": True,
        "min_targets": 1, "max_pending_reboot": None, "min_compliant_percent": None,
    }


def test_a_hundred_thousand_results_are_counted_exactly():
    results = fleet(*([S] * 99_000 + [F] * 1_000), compliant=True)
    verdict = evaluate_gate(results, TEN_PERCENT)
    assert (verdict.passed, verdict.counts["failed"], verdict.counts["targets"]) == (True, 1_000, 100_000)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        pytest.param("ten", "expected a count like 2 or a percentage like 10% (0-100%), got 'ten'", id="words"),
        pytest.param("120%", "expected a count like 2 or a percentage like 10% (0-100%), got '120%'", id="over-100"),
        pytest.param(-1, "expected a count like 2 or a percentage like 10% (0-100%), got -1", id="negative"),
    ],
)
def test_a_limit_is_read_from_text_or_a_count_once(value, message):
    with pytest.raises(ValueError) as caught:
        Limit.parse(value)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("value", "limit", "text"),
    [
        pytest.param("10%", Limit(10, True), "10%", id="percent"),
        pytest.param("2.50%", Limit(2.5, True), "2.5%", id="fractional-percent"),
        pytest.param(2, Limit(2, False), "2", id="count"),
        pytest.param(" 0 ", Limit(0, False), "0", id="zero-with-spaces"),
    ],
)
def test_a_limit_reads_and_shows_as_written(value, limit, text):
    assert (Limit.parse(value), str(Limit.parse(value))) == (limit, text)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        pytest.param({"max_failed": "10%"}, "GateThresholds: max_failed: expected a Limit, such as Limit.parse('10%'), got '10%'", id="unread-limit"),
        pytest.param({"max_pending_reboot": 0}, "GateThresholds: max_pending_reboot: expected a Limit, such as Limit.parse('10%'), got 0", id="unread-pending-reboot-limit"),
        pytest.param({"min_targets": -1}, "GateThresholds: min_targets: expected an integer 0-100000, got -1", id="negative-min-targets"),
        pytest.param({"min_compliant_percent": 101}, "GateThresholds: min_compliant_percent: expected a number 0-100, got 101", id="percent-over-100"),
        pytest.param({"unreachable_counts_as_failed": "yes"}, "GateThresholds: unreachable_counts_as_failed: expected true or false, got 'yes'", id="flag-not-bool"),
    ],
)
def test_thresholds_validate_on_construction(fields, message):
    with pytest.raises(ValueError) as caught:
        GateThresholds(**fields)
    assert str(caught.value) == message


def test_thresholds_json_shows_limits_as_written():
    assert GateThresholds(max_failed=Limit(10.0, True), max_pending_reboot=Limit(0, False), min_compliant_percent=90).to_json() == {
        "max_failed": "10%", "unreachable_counts_as_failed": True, "not_dispatched_counts_as_failed": True,
        "min_targets": 1, "max_pending_reboot": "0", "min_compliant_percent": 90.0,
    }


@pytest.mark.parametrize(
    ("base", "override", "tightened"),
    [
        pytest.param(TEN_PERCENT, {"max_failed": "5%"}, GateThresholds(max_failed=Limit(5, True)), id="smaller-percent"),
        pytest.param(TEN_PERCENT, {"max_failed": "0"}, GateThresholds(max_failed=Limit(0, False)), id="zero-beats-any-percent"),
        pytest.param(TEN_PERCENT, {"max_failed": "10%"}, TEN_PERCENT, id="equal-is-not-looser"),
        pytest.param(GateThresholds(max_failed=Limit(3, False)), {"max_failed": 1}, GateThresholds(max_failed=Limit(1, False)), id="smaller-count"),
        pytest.param(TEN_PERCENT, {"max_failed": ""}, TEN_PERCENT, id="empty-keeps-plan"),
        pytest.param(TEN_PERCENT, {"min_targets": 5, "min_compliant_percent": 99}, GateThresholds(max_failed=Limit(10, True), min_targets=5, min_compliant_percent=99), id="raise-minimums"),
        pytest.param(TEN_PERCENT, {"max_pending_reboot": "0"}, GateThresholds(max_failed=Limit(10, True), max_pending_reboot=Limit(0, False)), id="add-pending-reboot-limit"),
        pytest.param(GateThresholds(unreachable_counts_as_failed=False), {"unreachable_counts_as_failed": True}, GateThresholds(), id="count-unreachable"),
    ],
)
def test_tighten(base, override, tightened):
    assert tighten(base, override) == tightened


@pytest.mark.parametrize(
    ("base", "override", "message"),
    [
        pytest.param(TEN_PERCENT, {"max_failed": "20%"}, "params: max_failed: expected a limit no looser than the plan's 10%, got '20%'", id="looser-percent"),
        pytest.param(TEN_PERCENT, {"max_failed": "2"}, "params: max_failed: expected a limit no looser than the plan's 10% (a percentage up to 10%, or 0), got '2'", id="count-against-percent"),
        pytest.param(GateThresholds(max_failed=Limit(1, False)), {"max_failed": "1%"}, "params: max_failed: expected a limit no looser than the plan's 1 (a count up to 1, or 0), got '1%'", id="percent-against-count"),
        pytest.param(GateThresholds(), {"unreachable_counts_as_failed": False}, "params: unreachable_counts_as_failed: expected true (the plan counts these as failures), got False", id="stop-counting-unreachable"),
        pytest.param(GateThresholds(min_targets=3), {"min_targets": 1}, "params: min_targets: expected at least the plan's 3, got 1", id="lower-min-targets"),
        pytest.param(GateThresholds(min_compliant_percent=95), {"min_compliant_percent": 90}, "params: min_compliant_percent: expected at least the plan's 95, got 90", id="lower-compliance"),
        pytest.param(TEN_PERCENT, {"max_failed": "lots", "soak": "1h"}, "params: soak: expected a known key (max_failed, unreachable_counts_as_failed, not_dispatched_counts_as_failed, min_targets, max_pending_reboot, min_compliant_percent), got 'soak'\nparams: max_failed: expected a count like 2 or a percentage like 10% (0-100%), got 'lots'", id="all-problems-at-once"),
        pytest.param(TEN_PERCENT, {"max_faild": "5%"}, "params: max_faild: expected a known key (did you mean 'max_failed'?), got 'max_faild'", id="threshold-typo"),
        pytest.param(TEN_PERCENT, {"min_targets": "3", "not_dispatched_counts_as_failed": "yes", "min_compliant_percent": 101}, "\n".join([
            "params: not_dispatched_counts_as_failed: expected true or false, got 'yes'",
            "params: min_targets: expected an integer 0-100000, got '3'",
            "params: min_compliant_percent: expected a number 0-100, got 101",
        ]), id="values-read-like-the-plans"),
        pytest.param(TEN_PERCENT, {"max_failed": "20%", "min_targets": "3"}, "params: min_targets: expected an integer 0-100000, got '3'\nparams: max_failed: expected a limit no looser than the plan's 10%, got '20%'", id="bad-and-looser-in-one-pass"),
    ],
)
def test_tighten_refuses_to_loosen(base, override, message):
    with pytest.raises(InvalidInput) as caught:
        tighten(base, override)
    assert str(caught.value) == message
