"""Maintenance windows: open, cutoff and next open around a moment; Duration and Cutoff in whole hours."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from patchflow.core.aws_schedules import ScheduleError, parse_schedule
from patchflow.core.maintenance_windows import MaintenanceWindow, WindowState, parse_window_hours, window_state

UTC = timezone.utc


def at(text: str, zone: str = "UTC") -> datetime:
    """'2026-01-04 02:00' in `zone`, as the aware datetime the schedule functions return."""
    from zoneinfo import ZoneInfo

    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone))


def iso(moments) -> list[str]:
    return [m.isoformat() for m in moments]


def state(**values) -> WindowState:
    converted = {k: (at(v) if isinstance(v, str) else v) for k, v in values.items()}
    return WindowState(**converted)


SATURDAY_NIGHT = MaintenanceWindow(parse_schedule("cron(0 23 ? * SAT *)"), duration_hours=4, cutoff_hours=1)


@pytest.mark.parametrize(
    ("window", "now", "expected"),
    [
        pytest.param(
            SATURDAY_NIGHT, "2026-01-03 22:59",
            state(open=False, opened_at="2025-12-27 23:00", closes_at="2025-12-28 03:00", last_start_at="2025-12-28 02:00", next_open_at="2026-01-03 23:00", can_start_work=False),
            id="closed-just-before",
        ),
        pytest.param(
            SATURDAY_NIGHT, "2026-01-03 23:00",
            state(open=True, opened_at="2026-01-03 23:00", closes_at="2026-01-04 03:00", last_start_at="2026-01-04 02:00", next_open_at="2026-01-10 23:00", can_start_work=True),
            id="open-at-start",
        ),
        pytest.param(
            SATURDAY_NIGHT, "2026-01-04 01:59",
            state(open=True, opened_at="2026-01-03 23:00", closes_at="2026-01-04 03:00", last_start_at="2026-01-04 02:00", next_open_at="2026-01-10 23:00", can_start_work=True),
            id="open-across-midnight",
        ),
        pytest.param(
            SATURDAY_NIGHT, "2026-01-04 02:00",
            state(open=True, opened_at="2026-01-03 23:00", closes_at="2026-01-04 03:00", last_start_at="2026-01-04 02:00", next_open_at="2026-01-10 23:00", can_start_work=False),
            id="inside-cutoff",
        ),
        pytest.param(
            SATURDAY_NIGHT, "2026-01-04 03:00",
            state(open=False, opened_at="2026-01-03 23:00", closes_at="2026-01-04 03:00", last_start_at="2026-01-04 02:00", next_open_at="2026-01-10 23:00", can_start_work=False),
            id="closed-at-end",
        ),
        pytest.param(
            MaintenanceWindow(parse_schedule("at(2026-05-01T10:00:00)"), 2, 0), "2026-04-01 00:00",
            state(open=False, opened_at=None, closes_at=None, last_start_at=None, next_open_at="2026-05-01 10:00", can_start_work=False),
            id="never-opened-yet",
        ),
        pytest.param(
            MaintenanceWindow(parse_schedule("cron(0 15 ? * MON *)"), 3, 0), "2026-01-05 17:59",
            state(open=True, opened_at="2026-01-05 15:00", closes_at="2026-01-05 18:00", last_start_at="2026-01-05 18:00", next_open_at="2026-01-12 15:00", can_start_work=True),
            id="no-cutoff",
        ),
    ],
)
def test_window_state(window, now, expected):
    assert window_state(window, at(now)) == expected


def test_window_in_a_timezone_lasts_elapsed_hours_across_dst():
    window = MaintenanceWindow(parse_schedule("cron(0 1 ? * SUN *)", "Europe/Berlin"), duration_hours=4, cutoff_hours=1)
    found = window_state(window, datetime(2026, 3, 29, 0, 30, tzinfo=UTC))  # 01:30 CET, before the jump
    assert iso([found.opened_at, found.last_start_at, found.closes_at]) == [
        "2026-03-29T01:00:00+01:00",
        "2026-03-29T05:00:00+02:00",
        "2026-03-29T06:00:00+02:00",
    ]
    assert (found.open, found.can_start_work) == (True, True)


@pytest.mark.parametrize(
    ("duration", "cutoff", "message"),
    [
        pytest.param(0, 0, "expected duration_hours as whole hours 1-24, got 0", id="zero-duration"),
        pytest.param(25, 0, "expected duration_hours as whole hours 1-24, got 25", id="long-duration"),
        pytest.param(4, 4, "expected a cutoff below the duration of 4 hours, got 4", id="cutoff-equals-duration"),
        pytest.param(4, -1, "expected cutoff_hours as whole hours 0-23, got -1", id="negative-cutoff"),
    ],
)
def test_maintenance_window_validates_on_construction(duration, cutoff, message):
    with pytest.raises(ScheduleError) as caught:
        MaintenanceWindow(parse_schedule("cron(0 2 ? * SUN *)"), duration, cutoff)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("value", "low", "high", "hours"),
    [
        pytest.param(4, 1, 24, 4, id="integer"),
        pytest.param("4", 1, 24, 4, id="digits"),
        pytest.param("PT4H", 1, 24, 4, id="iso-hours"),
        pytest.param("PT120M", 1, 24, 2, id="iso-minutes-whole-hours"),
        pytest.param("P1D", 1, 24, 24, id="iso-day"),
        pytest.param("PT0H", 0, 23, 0, id="zero-cutoff"),
    ],
)
def test_parse_window_hours(value, low, high, hours):
    assert parse_window_hours(value, low, high) == hours


@pytest.mark.parametrize(
    ("value", "low", "high", "message"),
    [
        pytest.param("PT30M", 0, 23, "expected whole hours 0-23, got 'PT30M' (30 minutes; maintenance windows take integer hours, so sub-hour values are impossible)", id="sub-hour-cutoff"),
        pytest.param("PT1H30M", 1, 24, "expected whole hours 1-24, got 'PT1H30M' (1 hour 30 minutes; maintenance windows take integer hours, so sub-hour values are impossible)", id="non-whole-duration"),
        pytest.param("PT25H", 1, 24, "expected whole hours 1-24, got 'PT25H'", id="too-long"),
        pytest.param(1.5, 1, 24, "expected whole hours 1-24 (an integer, or ISO 8601 like PT4H), got 1.5", id="float"),
        pytest.param("four", 1, 24, "expected whole hours 1-24 (an integer, or ISO 8601 like PT4H), got 'four'", id="words"),
    ],
)
def test_parse_window_hours_rejects(value, low, high, message):
    with pytest.raises(ScheduleError) as caught:
        parse_window_hours(value, low, high)
    assert str(caught.value) == message
