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
    "poll, after, lag_real, sentence",
    [
        (15.0, [0.8, 0.97], 0.25, "At 15 s the fixed work took at most 0.97 s and fits; the target is missed only when detection lands late in the interval."),
        (15.0, [4.2, 57.4], 0.25, "At 15 s the fixed work alone took up to 57.40 s, 3.8 poll intervals: it grows with the wave's nodes (pages of "
                            "invocations and patch states, a listing per pinned node that reports something not yet installed), so the "
                            "target cannot hold at this size whatever the detection."),
        (15.0, [31.1, 67.96], 30.0, "At 15 s the compliance lag alone (30.00 s real) is longer than the poll interval: a wave that waits for "
                              "its nodes' patch states, as judging on evidence needs, cannot meet the target while the service takes "
                              "that long to report; the fixed work took up to 67.96 s, 37.96 s of it beyond the lag."),
        (1.0, [], 0.25, ""),
    ],
    ids=["fits", "does-not-fit", "lag-longer-than-the-poll", "nothing-measured"],
)
def test_the_work_after_detection_is_weighed_against_the_poll_interval(rehearsal, poll, after, lag_real, sentence):
    assert rehearsal.fixed_work_against_poll(poll, after, lag_real) == sentence
