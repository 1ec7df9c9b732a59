"""bench/rehearsal.py's own decisions: where its figures go, and what it says of the work after detection."""
from __future__ import annotations

import pytest

from tests.bench.conftest import bench_module


@pytest.fixture(scope="module")
def rehearsal():
    with bench_module("rehearsal") as module:
        yield module


@pytest.mark.parametrize(
    "scale, time_scale, total, section",
    [
        (None, 120.0, 3000, ("rehearsal", "End-to-end rehearsal: three stages over 3,000 instances")),
        (100000, 120.0, 100000, ("rehearsal-100000", "End-to-end rehearsal: three stages over 100,000 instances")),
        (100000, 1.0, 100000, ("rehearsal-100000-time-scale-1", "End-to-end rehearsal: three stages over 100,000 instances at real speed")),
        (None, 30.0, 3000, ("rehearsal-time-scale-30", "End-to-end rehearsal: three stages over 3,000 instances at time scale 30")),
    ],
    ids=["default", "scaled", "real-speed", "other-time-scale"],
)
def test_each_fleet_size_and_time_scale_has_its_own_section(rehearsal, scale, time_scale, total, section):
    assert rehearsal.section_of(scale, time_scale, total) == section


@pytest.mark.parametrize(
    "poll, after, lag_real, worst_overhead, sentence",
    [
        (15.0, [0.8, 0.97], 0.25, 9.4, "At 15 s the fixed work took at most 0.97 s and fits; the target is missed only when detection lands "
                                       "late in the interval."),
        (15.0, [4.2, 57.4], 0.25, 66.1, "At 15 s the fixed work alone took up to 57.40 s, 3.8 poll intervals: it grows with the wave's nodes "
                                        "(pages of invocations and patch states, a listing per pinned node that reports something not yet "
                                        "installed), so the target cannot hold at this size whatever the detection."),
        (15.0, [31.1, 35.53], 30.0, 48.57, "At 15 s the compliance lag alone (30.00 s real) is longer than the poll interval: a wave that "
                                           "waits for its nodes' patch states, as judging on evidence needs, cannot meet the target while the "
                                           "service takes that long to report; the fixed work took up to 35.53 s, and the worst stage's "
                                           "verdict came 18.57 s after its last patch state was reported."),
        (15.0, [31.1, 35.53], 30.0, None, "At 15 s the compliance lag alone (30.00 s real) is longer than the poll interval: a wave that "
                                          "waits for its nodes' patch states, as judging on evidence needs, cannot meet the target while the "
                                          "service takes that long to report; the fixed work took up to 35.53 s."),
        (1.0, [], 0.25, None, ""),
    ],
    ids=["fits", "does-not-fit", "lag-longer-than-the-poll", "lag-without-a-verdict-time", "nothing-measured"],
)
def test_the_work_after_detection_is_weighed_against_the_poll_interval(rehearsal, poll, after, lag_real, worst_overhead, sentence):
    assert rehearsal.fixed_work_against_poll(poll, after, lag_real, worst_overhead) == sentence


@pytest.mark.parametrize(
    "poll, wave_calls, at_once, sentence",
    [
        (15.0, ("prod.wave_2", 7232), 4, "`prod.wave_2` made 7,232 calls that grow with its nodes: for all of them to fit in one 15 s "
                                        "interval, 4 at a time, with detection and the gate taking no time, each would have to come "
                                        "back in 8.3 ms."),
        (1.0, ("dev.wave_1", 88), 4, "`dev.wave_1` made 88 calls that grow with its nodes: for all of them to fit in one 1 s interval, "
                                     "4 at a time, with detection and the gate taking no time, each would have to come back in 45.5 ms."),
        (15.0, ("dev.wave_1", 0), 4, ""),
        (15.0, None, 4, ""),
    ],
    ids=["a-large-wave", "a-small-wave", "no-calls", "not-sampled"],
)
def test_the_busiest_waves_calls_are_weighed_against_one_poll_interval(rehearsal, poll, wave_calls, at_once, sentence):
    assert rehearsal.per_call_budget(poll, wave_calls, at_once) == sentence


@pytest.mark.parametrize(
    "by_task, busiest",
    [
        ({"start": {"DescribeInstanceInformation": 2003},
          "prod.wave_1": {"DescribeInstancePatches": 5610, "DescribeInstancePatchStates": 901, "ListCommandInvocations": 901, "CreateTags": 100},
          "prod.wave_2": {"DescribeInstancePatches": 5429, "DescribeInstancePatchStates": 901, "ListCommandInvocations": 902}},
         ("prod.wave_1", 7412)),
        ({"start": {"DescribeInstanceInformation": 3}, "dev.gate": {"DescribeInstancePatches": 3}}, None),
        (None, None),
    ],
    ids=["two-waves", "no-wave-task", "not-sampled"],
)
def test_the_busiest_wave_is_the_wave_task_with_the_most_calls_that_grow_with_the_fleet(rehearsal, by_task, busiest):
    assert rehearsal.busiest_wave(by_task) == busiest


def test_why_the_target_is_missed_names_the_compliance_lag_and_the_busiest_waves_calls_at_real_speed(rehearsal):
    lines = rehearsal.explain([(15.0, [("prod", 68.78, 13.59, 55.19)])], "90,000", 1.0, {15.0: ("prod.wave_2", 7232)})
    assert lines[-1] == (
        "Why the target is missed: the overhead is detection (up to one poll interval by construction) plus that fixed work, so "
        "\"at most one poll interval\" holds only when the trigger happens to poll soon after the last invocation ends and the "
        "poll interval is several times the fixed work. At 15 s the compliance lag alone (30.00 s real) is longer than the poll "
        "interval: a wave that waits for its nodes' patch states, as judging on evidence needs, cannot meet the target while the "
        "service takes that long to report; the fixed work took up to 55.19 s, and the worst stage's verdict came 38.78 s after its "
        "last patch state was reported. `prod.wave_2` made "
        "7,232 calls that grow with its nodes: for all of them to fit in one 15 s interval, 4 at a time, with detection and the "
        "gate taking no time, each would have to come back in 8.3 ms. The gate being its own task costs one task start plus a "
        "read of every wave's rows back from the ledger; judging the stage inside the last wave's `execute_complete` would "
        "remove that step. Absolute figures are from `airflow dags test` on a shared 2-core machine; a real scheduler adds its "
        "own task-scheduling latency between the wave and the gate."
    )
