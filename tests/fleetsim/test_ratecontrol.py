"""Rate control decisions, as tables."""
import pytest

from fleetsim.ratecontrol import (
    Limit,
    dispatch_count,
    error_threshold_crossed,
    parse_max_concurrency,
    parse_max_errors,
    ramp_limit,
)


@pytest.mark.parametrize(
    "text, expected",
    [("1", Limit(1, False)), ("50", Limit(50, False)), ("10%", Limit(10, True)), ("1%", Limit(1, True)), ("100%", Limit(100, True))],
    ids=["one", "fifty", "ten-percent", "one-percent", "all"],
)
def test_max_concurrency_accepts_ssm_patterns(text, expected):
    assert parse_max_concurrency(text) == expected


@pytest.mark.parametrize("text", ["0", "0%", "101%", "05", "abc", "", "12345678", 5], ids=["zero", "zero-percent", "over-100", "leading-zero", "word", "empty", "too-long", "not-a-string"])
def test_max_concurrency_rejects_what_ssm_rejects(text):
    with pytest.raises(ValueError) as caught:
        parse_max_concurrency(text)
    assert str(caught.value) == (
        f"1 validation error detected: Value '{text}' at 'maxConcurrency' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: ^([1-9][0-9]*|[1-9][0-9]%|[1-9]%|100%)$"
    )


@pytest.mark.parametrize("text, expected", [("0", Limit(0, False)), ("0%", Limit(0, True)), ("5", Limit(5, False)), ("10%", Limit(10, True))], ids=["zero", "zero-percent", "five", "ten-percent"])
def test_max_errors_accepts_zero(text, expected):
    assert parse_max_errors(text) == expected


@pytest.mark.parametrize(
    "limit, targets, minimum, expected",
    [
        (Limit(10, True), 50, 0, 5),  # 10% of 50: the 6th error stops dispatch
        (Limit(10, True), 30, 0, 3),
        (Limit(10, True), 5, 0, 1),  # ceil, never rounds a share down to nothing
        (Limit(0, True), 30, 0, 0),
        (Limit(1, True), 10, 1, 1),
        (Limit(100, True), 10_000, 1, 10_000),
        (Limit(50, False), 3, 1, 50),
        (Limit(50, True), 0, 1, 1),
    ],
    ids=["10pct-of-50", "10pct-of-30", "10pct-of-5", "0pct", "1pct-of-10", "all-of-10k", "count-over-targets", "no-targets"],
)
def test_limit_resolves_against_targets(limit, targets, minimum, expected):
    assert limit.of(targets, minimum=minimum) == expected


@pytest.mark.parametrize("acknowledged, expected", [(0, 1), (1, 3), (3, 7), (7, 15), (15, 31)], ids=["first-node", "two-more", "doubling-1", "doubling-2", "doubling-3"])
def test_ramp_up_starts_with_one_then_grows_exponentially(acknowledged, expected):
    assert ramp_limit(acknowledged) == expected


@pytest.mark.parametrize(
    "waiting, in_flight, acknowledged, max_concurrency, stopped, expected",
    [
        (10, 0, 0, 10, False, 1),
        (10, 1, 1, 10, False, 2),
        (10, 3, 3, 10, False, 4),
        (10, 0, 3, 2, False, 2),
        (2, 0, 7, 10, False, 2),
        (10, 5, 100, 5, False, 0),
        (10, 0, 10, 10, True, 0),
        (0, 0, 0, 10, False, 0),
    ],
    ids=["first-dispatch", "ramp-after-ack", "ramp-grows", "capped-by-max-concurrency", "capped-by-waiting", "slots-full", "stopped", "nothing-waiting"],
)
def test_dispatch_count(waiting, in_flight, acknowledged, max_concurrency, stopped, expected):
    assert dispatch_count(waiting=waiting, in_flight=in_flight, acknowledged=acknowledged, max_concurrency=max_concurrency, stopped=stopped) == expected


@pytest.mark.parametrize("errors, max_errors, expected", [(0, 0, False), (1, 0, True), (5, 5, False), (6, 5, True)], ids=["none", "first-error-with-zero", "at-limit", "limit-plus-one"])
def test_dispatch_stops_on_error_n_plus_one(errors, max_errors, expected):
    assert error_threshold_crossed(errors, max_errors) is expected
