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


# --------------------------------------------------------------------------- windows kept in SSM

from patchflow.core.maintenance_windows import (  # noqa: E402  (the SSM half of the module, tested from here on)
    SsmWindowRef,
    ssm_window_identity,
    window_from_ssm,
    window_summary,
)

WEEKLY_ID = "mw-0123456789abcdef0"
NOW = "2026-01-07 12:00"  # a Wednesday


def ssm_window(**fields) -> dict:
    """A GetMaintenanceWindow answer, shaped as the AWS CLI example prints it, for the seed's corrected window."""
    answer = {
        "AllowUnassociatedTargets": True,
        "CreatedDate": 1515006912.957,
        "Cutoff": 1,
        "Duration": 4,
        "Enabled": True,
        "ModifiedDate": "2020-01-01T10:04:04.099Z",
        "Name": "Weekly-Patch-Window",
        "Schedule": "cron(0 2 ? * SUN *)",
        "WindowId": WEEKLY_ID,
        "NextExecutionTime": "2026-01-11T02:00:00Z",
    }
    answer.update(fields)
    return {key: value for key, value in answer.items() if value is not None}


def opening(window: MaintenanceWindow, now: str = NOW) -> tuple:
    found = window_state(window, at(now))
    return (found.opened_at.isoformat() if found.opened_at else None, found.next_open_at.isoformat() if found.next_open_at else None,
            window.duration_hours, window.cutoff_hours)


@pytest.mark.parametrize(
    ("answer", "now", "expected"),
    [
        pytest.param(ssm_window(), NOW, ("2026-01-04T02:00:00+00:00", "2026-01-11T02:00:00+00:00", 4, 1), id="seed-window-utc"),
        pytest.param(ssm_window(ScheduleTimezone="Asia/Seoul"), NOW, ("2026-01-04T02:00:00+09:00", "2026-01-11T02:00:00+09:00", 4, 1), id="its-own-time-zone"),
        pytest.param(ssm_window(Cutoff=None), NOW, ("2026-01-04T02:00:00+00:00", "2026-01-11T02:00:00+00:00", 4, 0), id="no-cutoff-given"),
        pytest.param(ssm_window(Schedule="at(2026-02-01T03:00:00)"), NOW, (None, "2026-02-01T03:00:00+00:00", 4, 1), id="one-time-at"),
        pytest.param(ssm_window(Schedule="rate(3 days)", NextExecutionTime="2026-01-08T00:08:15.099Z"), NOW,
                     ("2026-01-05T00:08:15.099000+00:00", "2026-01-08T00:08:15.099000+00:00", 4, 1), id="rate-counted-from-next-execution"),
        pytest.param(ssm_window(Schedule="rate(3 days)", NextExecutionTime="2026-01-08T00:00:00Z", CreatedDate="2026-01-06T00:00:00Z"), NOW,
                     (None, "2026-01-08T00:00:00+00:00", 4, 1), id="rate-never-before-it-was-created"),
        pytest.param(ssm_window(Schedule="cron(0 23 ? * TUE#2 *)", ScheduleOffset=2, ScheduleTimezone="America/New_York"), NOW,
                     ("2025-12-11T23:00:00-05:00", "2026-01-15T23:00:00-05:00", 4, 1), id="two-days-after-patch-tuesday"),
        pytest.param(ssm_window(Schedule="cron(0 3 ? * SAT *)", ScheduleOffset=1, ScheduleTimezone="Europe/Berlin"), "2026-03-29 03:00",
                     ("2026-03-29T03:00:00+02:00", "2026-04-05T03:00:00+02:00", 4, 1), id="offset-in-wall-clock-days-across-dst"),
        pytest.param(ssm_window(StartDate="2026-02-01T00:00:00Z"), NOW, (None, "2026-02-01T02:00:00+00:00", 4, 1), id="starts-in-the-future"),
        pytest.param(ssm_window(StartDate="2026-01-04T02:00:00Z"), NOW, ("2026-01-04T02:00:00+00:00", "2026-01-11T02:00:00+00:00", 4, 1), id="started-at-a-fire"),
        pytest.param(ssm_window(EndDate="2026-01-11T02:00:00Z"), NOW, ("2026-01-04T02:00:00+00:00", None, 4, 1), id="ends-at-its-next-fire"),
        pytest.param(ssm_window(EndDate="2026-01-04T03:00:00+00:00"), "2026-01-04 02:30", ("2026-01-04T02:00:00+00:00", None, 4, 1), id="ends-while-open"),
    ],
)
def test_window_from_ssm_opens_when_ssm_would(answer, now, expected):
    window = window_from_ssm(answer, at(now))
    assert isinstance(window, MaintenanceWindow)
    assert opening(window, now) == expected


def test_window_from_ssm_is_the_plain_window_when_ssm_adds_nothing():
    assert window_from_ssm(ssm_window(), at(NOW)) == MaintenanceWindow(parse_schedule("cron(0 2 ? * SUN *)"), 4, 1)


LABEL = f"maintenance window Weekly-Patch-Window ({WEEKLY_ID})"


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        pytest.param(ssm_window(Enabled=False), f"{LABEL} is disabled in SSM", id="disabled"),
        pytest.param(ssm_window(EndDate="2026-01-01T00:00:00Z"), f"{LABEL} ended 2026-01-01T00:00:00Z", id="ended"),
        pytest.param(ssm_window(EndDate="2026-01-07T12:00:00Z"), f"{LABEL} ended 2026-01-07T12:00:00Z", id="ends-right-now"),
        pytest.param(ssm_window(Enabled=False, EndDate="2026-01-01T00:00:00Z"), f"{LABEL} is disabled in SSM", id="disabled-comes-first"),
        pytest.param(ssm_window(StartDate="next week"), f"{LABEL} has a StartDate or EndDate patchflow cannot read: expected an ISO 8601 date and time, got 'next week'",
                     id="start-date-unreadable"),
        pytest.param(ssm_window(ScheduleTimezone="Mars/Olympus_Mons"),
                     f"{LABEL} has a schedule patchflow cannot follow: expected an IANA time zone such as UTC or Europe/Berlin, got 'Mars/Olympus_Mons'", id="unknown-time-zone"),
        pytest.param(ssm_window(Schedule="cron(0 2 * * SUN *)"),
                     f"{LABEL} has a schedule patchflow cannot follow: expected '?' in exactly one of day-of-month and day-of-week in cron(0 2 * * SUN *), got '*' and 'SUN'",
                     id="unreadable-cron"),
        pytest.param(ssm_window(Schedule="rate(3 days)", NextExecutionTime=None),
                     f"{LABEL} runs on rate(3 days) and SSM names no NextExecutionTime, so patchflow cannot tell when it opens", id="rate-without-next-execution"),
        pytest.param(ssm_window(Schedule="rate(3 days)", NextExecutionTime="soon"),
                     f"{LABEL} has a NextExecutionTime patchflow cannot read: expected an ISO 8601 date and time, got 'soon'", id="rate-next-execution-unreadable"),
        pytest.param(ssm_window(Schedule="rate(3 days)", ScheduleOffset=2),
                     f"{LABEL} has ScheduleOffset 2 on rate(3 days); SSM takes an offset with cron() schedules only", id="offset-on-rate"),
        pytest.param(ssm_window(Duration=2, Cutoff=2), f"{LABEL} cannot be followed: expected a cutoff below the duration of 2 hours, got 2", id="cutoff-not-below-duration"),
        pytest.param(ssm_window(Duration=None), f"{LABEL} cannot be followed: expected duration_hours as whole hours 1-24, got None", id="no-duration"),
    ],
)
def test_window_from_ssm_refuses_with_a_reason(answer, reason):
    assert window_from_ssm(answer, at(NOW)) == reason


IDENTITIES = [
    {"WindowId": WEEKLY_ID, "Name": "Weekly-Patch-Window", "Enabled": True, "Duration": 4, "Cutoff": 1, "Schedule": "cron(0 2 ? * SUN *)"},
    {"WindowId": "mw-0aaaaaaaaaaaaaaaa", "Name": "Twice", "Enabled": True, "Duration": 2, "Cutoff": 0, "Schedule": "rate(7 days)"},
    {"WindowId": "mw-0bbbbbbbbbbbbbbbb", "Name": "Twice", "Enabled": False, "Duration": 2, "Cutoff": 0, "Schedule": "rate(7 days)"},
]


@pytest.mark.parametrize(
    ("name_or_id", "expected"),
    [
        pytest.param("Weekly-Patch-Window", IDENTITIES[0], id="by-name"),
        pytest.param(WEEKLY_ID, IDENTITIES[0], id="by-id"),
        pytest.param("Monthly-Patch-Window", "no maintenance window named Monthly-Patch-Window in us-east-1", id="no-such-name"),
        pytest.param("mw-0ccccccccccccccccc"[:20], "no maintenance window with id mw-0cccccccccccccccc in us-east-1", id="no-such-id"),
        pytest.param("Twice", "2 maintenance windows are named Twice in us-east-1 (mw-0aaaaaaaaaaaaaaaa, mw-0bbbbbbbbbbbbbbbb); "
                     "name the stage's window by its id instead", id="name-used-twice"),
    ],
)
def test_ssm_window_identity_finds_the_one_window_a_stage_names(name_or_id, expected):
    assert ssm_window_identity(SsmWindowRef(name_or_id), IDENTITIES, "us-east-1") == expected


@pytest.mark.parametrize(
    ("name_or_id", "message"),
    [
        pytest.param("mw", "expected a maintenance window name (3-128 letters, digits, _, - or .) or id (mw- and 17 hex digits), got 'mw'", id="too-short"),
        pytest.param("Weekly Patch Window", "expected a maintenance window name (3-128 letters, digits, _, - or .) or id (mw- and 17 hex digits), got 'Weekly Patch Window'", id="spaces"),
        pytest.param("Weekly\n", "expected a maintenance window name (3-128 letters, digits, _, - or .) or id (mw- and 17 hex digits), got 'Weekly\\n'", id="trailing-newline"),
        pytest.param(7, "expected a maintenance window name (3-128 letters, digits, _, - or .) or id (mw- and 17 hex digits), got 7", id="not-text"),
    ],
)
def test_ssm_window_ref_validates_on_construction(name_or_id, message):
    with pytest.raises(ScheduleError) as caught:
        SsmWindowRef(name_or_id)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("name_or_id", "is_id"),
    [pytest.param(WEEKLY_ID, True, id="id"), pytest.param("Weekly-Patch-Window", False, id="name"), pytest.param("mw-0123", False, id="name-like-an-id")],
)
def test_ssm_window_ref_tells_an_id_from_a_name(name_or_id, is_id):
    assert SsmWindowRef(name_or_id).is_id is is_id


@pytest.mark.parametrize(
    ("window", "summary"),
    [
        pytest.param(None, "always", id="always-open"),
        pytest.param(SATURDAY_NIGHT, "cron(0 23 ? * SAT *), 4h, cutoff 1h", id="in-the-plan"),
        pytest.param(SsmWindowRef("Weekly-Patch-Window"), "SSM window Weekly-Patch-Window", id="kept-in-ssm"),
    ],
)
def test_window_summary(window, summary):
    assert window_summary(window) == summary
