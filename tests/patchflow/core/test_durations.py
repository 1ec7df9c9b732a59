"""Durations as plans write them (soak, approval timeout), as tables."""
from __future__ import annotations

import pytest

from patchflow.core.aws_schedules import ScheduleError
from patchflow.core.durations import iso_duration_seconds, parse_duration_seconds, spoken_duration


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        pytest.param(30, 30, id="int-seconds"),
        pytest.param("30s", 30, id="seconds"),
        pytest.param("5m", 300, id="minutes"),
        pytest.param("2h", 7200, id="hours"),
        pytest.param("1d", 86400, id="days"),
        pytest.param("PT30S", 30, id="iso-seconds"),
        pytest.param("PT1H30M", 5400, id="iso-mixed"),
        pytest.param("0", 0, id="zero"),
    ],
)
def test_parse_duration_seconds(value, seconds):
    assert parse_duration_seconds(value) == seconds


@pytest.mark.parametrize("value", [pytest.param("soon", id="words"), pytest.param(-5, id="negative"), pytest.param("PT", id="empty-iso"), pytest.param(True, id="bool")])
def test_parse_duration_seconds_rejects(value):
    with pytest.raises(ScheduleError) as caught:
        parse_duration_seconds(value)
    assert str(caught.value) == f"expected a duration like 30s, 5m, 2h or PT30M, got {value!r}"


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        pytest.param("PT1H30M", 5400, id="hours-and-minutes"),
        pytest.param("P1DT2S", 86402, id="days-and-seconds"),
        pytest.param("P", None, id="bare-p"),
        pytest.param("PT", None, id="bare-pt"),
        pytest.param("P1DT", None, id="dangling-t"),
        pytest.param("30M", None, id="short-form-is-not-iso"),
    ],
)
def test_iso_duration_seconds(text, seconds):
    assert iso_duration_seconds(text) == seconds


@pytest.mark.parametrize(
    ("seconds", "spoken"),
    [
        pytest.param(0, "0 seconds", id="nothing"),
        pytest.param(1800, "30 minutes", id="plural"),
        pytest.param(90061, "1 day 1 hour 1 minute 1 second", id="every-unit-singular"),
    ],
)
def test_spoken_duration(seconds, spoken):
    assert spoken_duration(seconds) == spoken
