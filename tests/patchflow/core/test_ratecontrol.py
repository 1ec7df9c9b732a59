from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from patchflow.core.ratecontrol import RateError, parse_max_concurrency, parse_max_errors, parse_waves, resolve, wave_batches


@pytest.mark.parametrize(
    ("value", "parsed"),
    [
        pytest.param("50", "50", id="count"),
        pytest.param(7, "7", id="int"),
        pytest.param("1%", "1%", id="one-percent"),
        pytest.param("50%", "50%", id="percent"),
        pytest.param("100%", "100%", id="all"),
    ],
)
def test_parse_max_concurrency(value, parsed):
    assert parse_max_concurrency(value) == parsed


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("0", id="zero"),
        pytest.param("0%", id="zero-percent"),
        pytest.param("101%", id="over-100"),
        pytest.param("05", id="leading-zero"),
        pytest.param("12345678", id="longer-than-7"),
        pytest.param(True, id="bool"),
        pytest.param("half", id="words"),
    ],
)
def test_parse_max_concurrency_rejects(value):
    with pytest.raises(RateError) as caught:
        parse_max_concurrency(value)
    assert str(caught.value) == f"expected a MaxConcurrency of a count 1 or more or a percentage 1%-100%, got {value!r}"


@pytest.mark.parametrize(
    ("value", "parsed"),
    [
        pytest.param("0", "0", id="zero"),
        pytest.param(0, "0", id="int-zero"),
        pytest.param("0%", "0%", id="zero-percent"),
        pytest.param("10%", "10%", id="percent"),
        pytest.param("3", "3", id="count"),
    ],
)
def test_parse_max_errors(value, parsed):
    assert parse_max_errors(value) == parsed


@pytest.mark.parametrize("value", [pytest.param("00", id="double-zero"), pytest.param("-1", id="negative"), pytest.param("100.0%", id="decimal"), pytest.param(None, id="none")])
def test_parse_max_errors_rejects(value):
    with pytest.raises(RateError) as caught:
        parse_max_errors(value)
    assert str(caught.value) == f"expected a MaxErrors of a count 0 or more or a percentage 0%-100%, got {value!r}"


@pytest.mark.parametrize(
    ("value", "total", "resolved"),
    [
        pytest.param("10%", 50, 5, id="exact-percent"),
        pytest.param("10%", 51, 6, id="percent-rounds-up"),
        pytest.param("1%", 3, 1, id="small-percent-at-least-one"),
        pytest.param("50", 10, 10, id="count-capped-at-total"),
        pytest.param("0", 10, 0, id="max-errors-zero-stays-zero"),
        pytest.param("0%", 10, 0, id="max-errors-zero-percent"),
        pytest.param("100%", 30, 30, id="all"),
        pytest.param("5", 0, 5, id="no-targets-count"),
    ],
)
def test_resolve(value, total, resolved):
    assert resolve(value, total) == resolved


def ids(n: int) -> list[str]:
    return [f"i-{k:017x}" for k in range(n)]


@pytest.mark.parametrize(
    ("total", "waves", "sizes"),
    [
        pytest.param(30, [1, "10%", "100%"], [1, 2, 27], id="canary-30"),
        pytest.param(10, [1, "50%", "100%"], [1, 4, 5], id="demo-prod-10"),
        pytest.param(5, [1, "10%", "100%"], [1, 0, 4], id="small-fleet-empty-middle-wave"),
        pytest.param(1, [1, "50%", "100%"], [1, 0, 0], id="single-instance"),
        pytest.param(0, [1, "100%"], [0, 0], id="no-instances"),
        pytest.param(7, ["100%"], [7], id="one-wave"),
        pytest.param(4, [2, 4], [2, 2], id="counts-reaching-total"),
        pytest.param(3, [5, "100%"], [3, 0], id="count-above-total"),
    ],
)
def test_wave_batches_sizes(total, waves, sizes):
    assert [len(b) for b in wave_batches(ids(total), waves)] == sizes


def test_wave_batches_are_sorted_and_stable_whatever_the_input_order():
    instances = ["i-c", "i-a", "i-e", "i-b", "i-d"]
    assert wave_batches(instances, [1, "50%", "100%"]) == [["i-a"], ["i-b", "i-c"], ["i-d", "i-e"]]
    assert wave_batches(list(reversed(instances)), [1, "50%", "100%"]) == [["i-a"], ["i-b", "i-c"], ["i-d", "i-e"]]


def test_wave_batches_refuse_waves_that_do_not_reach_every_instance():
    with pytest.raises(RateError) as caught:
        wave_batches(ids(10), [1, "50%"])
    assert str(caught.value) == "expected the last wave to reach all 10 instances ('100%'), got '50%' reaching 5"


@given(st.lists(st.integers(min_value=0, max_value=10_000), unique=True, max_size=300), st.integers(1, 99), st.integers(1, 99))
def test_wave_batches_partition_every_instance_once(numbers, first, second):
    instances = [f"i-{n:08x}" for n in numbers]
    waves = sorted({first, second})
    batches = wave_batches(instances, [1, *(f"{w}%" for w in waves), "100%"])
    flat = [i for batch in batches for i in batch]
    assert flat == sorted(instances)
    assert len(batches) == len(waves) + 2


@pytest.mark.parametrize(
    ("waves", "parsed"),
    [
        pytest.param([1, "10%", "100%"], (1, "10%", "100%"), id="canary"),
        pytest.param(["100%"], ("100%",), id="all-at-once"),
        pytest.param(["1", 5, "100%"], (1, 5, "100%"), id="string-counts"),
    ],
)
def test_parse_waves(waves, parsed):
    assert parse_waves(waves) == parsed


@pytest.mark.parametrize(
    ("waves", "message"),
    [
        pytest.param([], "expected a list of cumulative wave sizes ending with '100%', e.g. [1, '10%', '100%'], got []", id="empty"),
        pytest.param("100%", "expected a list of cumulative wave sizes ending with '100%', e.g. [1, '10%', '100%'], got '100%'", id="not-a-list"),
        pytest.param([1, "50%"], "expected the last wave to be '100%' so every instance is patched, got '50%'", id="not-ending-at-100"),
        pytest.param(["50%", "10%", "100%"], "expected wave 2 above the earlier 50% (waves are cumulative), got '10%'", id="decreasing-percent"),
        pytest.param([5, 2, "100%"], "expected wave 2 above the earlier 5 (waves are cumulative), got 2", id="decreasing-count"),
        pytest.param([0, "100%"], "expected wave 1 as a count 1 or more or a percentage 1%-100%, got 0", id="zero-wave"),
        pytest.param(["100%", "100%"], "expected wave 2 above the earlier 100% (waves are cumulative), got '100%'", id="repeated"),
    ],
)
def test_parse_waves_rejects(waves, message):
    with pytest.raises(RateError) as caught:
        parse_waves(waves)
    assert str(caught.value) == message
