from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from croniter import croniter

from patchflow.schedule import (
    MaintenanceWindow,
    ScheduleError,
    WindowState,
    airflow_cron_reason,
    parse_duration_seconds,
    parse_schedule,
    parse_window_hours,
    to_airflow_cron,
    window_state,
)

UTC = timezone.utc


def at(text: str, zone: str = "UTC") -> datetime:
    """'2026-01-04 02:00' in `zone`, as the aware datetime the schedule functions return."""
    from zoneinfo import ZoneInfo

    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone))


def iso(moments) -> list[str]:
    return [m.isoformat() for m in moments]


@pytest.mark.parametrize(
    ("expression", "zone", "after", "fires"),
    [
        pytest.param("cron(0 2 ? * SUN *)", "UTC", "2026-01-01 00:00", ["2026-01-04T02:00:00+00:00", "2026-01-11T02:00:00+00:00", "2026-01-18T02:00:00+00:00"], id="sunday-question-mark-dom"),
        pytest.param("cron(0 2 ? * 1 *)", "UTC", "2026-01-01 00:00", ["2026-01-04T02:00:00+00:00", "2026-01-11T02:00:00+00:00", "2026-01-18T02:00:00+00:00"], id="aws-dow-1-is-sunday"),
        pytest.param("cron(0 18 ? * MON-FRI *)", "UTC", "2026-01-02 17:00", ["2026-01-02T18:00:00+00:00", "2026-01-05T18:00:00+00:00", "2026-01-06T18:00:00+00:00"], id="weekday-range"),
        pytest.param("cron(30 23 ? * TUE#3 *)", "UTC", "2026-01-01 00:00", ["2026-01-20T23:30:00+00:00", "2026-02-17T23:30:00+00:00", "2026-03-17T23:30:00+00:00"], id="third-tuesday"),
        pytest.param("cron(0 2 L * ? *)", "UTC", "2026-01-01 00:00", ["2026-01-31T02:00:00+00:00", "2026-02-28T02:00:00+00:00", "2026-03-31T02:00:00+00:00"], id="last-day-of-month"),
        pytest.param("cron(0 2 L 2 ? 2028)", "UTC", "2026-01-01 00:00", ["2028-02-29T02:00:00+00:00"], id="last-day-leap-february-only-year"),
        pytest.param("cron(0 2 ? * 6L *)", "UTC", "2026-01-01 00:00", ["2026-01-30T02:00:00+00:00", "2026-02-27T02:00:00+00:00", "2026-03-27T02:00:00+00:00"], id="last-friday"),
        pytest.param("cron(0 2 ? * FRIL *)", "UTC", "2026-01-01 00:00", ["2026-01-30T02:00:00+00:00", "2026-02-27T02:00:00+00:00", "2026-03-27T02:00:00+00:00"], id="last-friday-by-name"),
        pytest.param("cron(0 2 ? * L *)", "UTC", "2026-01-01 00:00", ["2026-01-03T02:00:00+00:00", "2026-01-10T02:00:00+00:00", "2026-01-17T02:00:00+00:00"], id="dow-L-alone-is-saturday"),
        pytest.param("cron(0 2 1W * ? *)", "UTC", "2026-01-01 00:00", ["2026-01-01T02:00:00+00:00", "2026-02-02T02:00:00+00:00", "2026-03-02T02:00:00+00:00"], id="nearest-weekday-stays-in-month"),
        pytest.param("cron(0 2 15W * ? *)", "UTC", "2026-02-01 00:00", ["2026-02-16T02:00:00+00:00", "2026-03-16T02:00:00+00:00", "2026-04-15T02:00:00+00:00"], id="nearest-weekday-sunday-to-monday"),
        pytest.param("cron(0 2 LW * ? *)", "UTC", "2026-01-01 00:00", ["2026-01-30T02:00:00+00:00", "2026-02-27T02:00:00+00:00", "2026-03-31T02:00:00+00:00"], id="last-weekday"),
        pytest.param("cron(0/20 9 1,15 JAN,JUL ? 2026)", "UTC", "2026-01-01 00:00", ["2026-01-01T09:00:00+00:00", "2026-01-01T09:20:00+00:00", "2026-01-01T09:40:00+00:00", "2026-01-15T09:00:00+00:00"], id="lists-steps-names-year"),
        pytest.param("cron(30 0 2 ? * SUN *)", "UTC", "2026-01-01 00:00", ["2026-01-04T02:00:30+00:00", "2026-01-11T02:00:30+00:00"], id="seven-fields-leading-seconds"),
        pytest.param("cron(0 2 ? * SUN *)", "Europe/Berlin", "2026-01-01 00:00", ["2026-01-04T02:00:00+01:00", "2026-01-11T02:00:00+01:00"], id="timezone-winter"),
        pytest.param("cron(0 2 ? * SUN *)", "America/New_York", "2026-07-01 00:00", ["2026-07-05T02:00:00-04:00", "2026-07-12T02:00:00-04:00"], id="timezone-summer"),
        pytest.param("cron(30 2 * * ? *)", "Europe/Berlin", "2026-03-28 00:00", ["2026-03-28T02:30:00+01:00", "2026-03-29T03:00:00+02:00", "2026-03-30T02:30:00+02:00"], id="dst-skipped-time-fires-at-the-jump"),
        pytest.param("cron(30 2 * * ? *)", "Europe/Berlin", "2026-10-24 00:00", ["2026-10-24T02:30:00+02:00", "2026-10-25T02:30:00+02:00", "2026-10-26T02:30:00+01:00"], id="dst-repeated-time-fires-once"),
        pytest.param("rate(1 day)", "UTC", "2026-01-01 10:00", ["2026-01-02T00:00:00+00:00", "2026-01-03T00:00:00+00:00"], id="rate-day"),
        pytest.param("rate(30 minutes)", "UTC", "2026-01-01 10:00", ["2026-01-01T10:30:00+00:00", "2026-01-01T11:00:00+00:00"], id="rate-strictly-after"),
        pytest.param("at(2026-03-01T02:00:00)", "Europe/Berlin", "2026-01-01 00:00", ["2026-03-01T02:00:00+01:00"], id="at-once"),
        pytest.param("at(2026-03-01T02:00:00)", "UTC", "2026-03-01 02:00", [], id="at-past"),
        pytest.param("cron(0 0 30 2 ? *)", "UTC", "2026-01-01 00:00", [], id="never-fires"),
    ],
)
def test_next_fires(expression, zone, after, fires):
    schedule = parse_schedule(expression, timezone=zone)
    found, moment = [], at(after, zone)
    while len(found) < len(fires) + 1:
        moment = schedule.next_fire(moment)
        if moment is None:
            break
        found.append(moment)
    assert iso(found[: len(fires)]) == fires
    if not fires:
        assert found == []


@pytest.mark.parametrize(
    ("expression", "zone", "at_or_before", "fire"),
    [
        pytest.param("cron(0 2 ? * SUN *)", "UTC", "2026-01-04 02:00", "2026-01-04T02:00:00+00:00", id="inclusive"),
        pytest.param("cron(0 2 ? * SUN *)", "UTC", "2026-01-04 01:59", "2025-12-28T02:00:00+00:00", id="week-before"),
        pytest.param("cron(0 2 L * ? *)", "UTC", "2026-03-15 00:00", "2026-02-28T02:00:00+00:00", id="last-day-previous-month"),
        pytest.param("cron(0 23 ? * SAT *)", "Europe/Berlin", "2026-01-04 01:00", "2026-01-03T23:00:00+01:00", id="previous-across-midnight"),
        pytest.param("cron(30 2 * * ? *)", "Europe/Berlin", "2026-10-25 02:40", "2026-10-25T02:30:00+02:00", id="repeated-hour-first-occurrence"),
        pytest.param("rate(2 hours)", "UTC", "2026-01-01 03:59", "2026-01-01T02:00:00+00:00", id="rate"),
        pytest.param("at(2026-03-01T02:00:00)", "UTC", "2026-02-01 00:00", None, id="at-not-yet"),
        pytest.param("cron(0 2 ? * SUN 2030)", "UTC", "2026-01-01 00:00", None, id="year-not-yet"),
    ],
)
def test_previous_fire(expression, zone, at_or_before, fire):
    found = parse_schedule(expression, timezone=zone).previous_fire(at(at_or_before, zone))
    assert (found.isoformat() if found else None) == fire


def test_previous_fire_in_the_second_pass_of_a_repeated_hour():
    schedule = parse_schedule("cron(30 2 * * ? *)", "Europe/Berlin")
    second_pass = datetime(2026, 10, 25, 1, 15, tzinfo=UTC)  # 02:15 CET, after 02:30 CEST happened
    assert schedule.previous_fire(second_pass).isoformat() == "2026-10-25T02:30:00+02:00"


def test_returned_datetimes_are_aware_in_the_schedule_zone():
    fire = parse_schedule("cron(0 2 ? * SUN *)", "Asia/Tokyo").next_fire(datetime(2026, 1, 1, tzinfo=UTC))
    assert (fire.tzinfo.key, fire.utcoffset()) == ("Asia/Tokyo", timedelta(hours=9))


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError, match="after: expected a timezone-aware datetime"):
        parse_schedule("rate(1 day)").next_fire(datetime(2026, 1, 1))


@pytest.mark.parametrize(
    ("expression", "zone", "message"),
    [
        pytest.param("cron(0 2 * * SUN *)", "UTC", "expected '?' in exactly one of day-of-month and day-of-week in cron(0 2 * * SUN *), got '*' and 'SUN'", id="no-question-mark"),
        pytest.param("cron(0 2 ? * ? *)", "UTC", "expected '?' in exactly one of day-of-month and day-of-week in cron(0 2 ? * ? *), got '?' and '?'", id="two-question-marks"),
        pytest.param("cron(0 2 ? * FUNDAY *)", "UTC", "expected a day-of-week of 1-7 or SUN-SAT with 1 = SUN (also L, nL, n#k or ?) in cron(0 2 ? * FUNDAY *), got 'FUNDAY'", id="bad-day-name"),
        pytest.param("cron(0 2 ? * 0 *)", "UTC", "expected a day-of-week of 1-7 or SUN-SAT with 1 = SUN (also L, nL, n#k or ?) in cron(0 2 ? * 0 *), got '0'", id="unix-sunday-zero"),
        pytest.param("cron(0 24 * * ? *)", "UTC", "expected an hour of 0-23 in cron(0 24 * * ? *), got '24'", id="hour-out-of-range"),
        pytest.param("cron(0 2 ? * TUE#6 *)", "UTC", "expected n#k with k of 1-5 in cron(0 2 ? * TUE#6 *), got 'TUE#6'", id="nth-out-of-range"),
        pytest.param("cron(0 2 ? * FRI-MON *)", "UTC", "expected a day-of-week range from low to high in cron(0 2 ? * FRI-MON *), got 'FRI-MON'", id="backwards-range"),
        pytest.param("cron(0 2 * *)", "UTC", "expected cron(minutes hours day-of-month month day-of-week year) with 6 fields (7 with leading seconds), got 'cron(0 2 * *)' with 4", id="too-few-fields"),
        pytest.param("cron(*/2 * ? * * *)", "UTC", "expected a schedule no more often than every 5 minutes, got 'cron(*/2 * ? * * *)' (fires 2 minutes apart)", id="too-frequent"),
        pytest.param("cron(1,58 * ? * * *)", "UTC", "expected a schedule no more often than every 5 minutes, got 'cron(1,58 * ? * * *)' (fires 3 minutes apart)", id="too-frequent-across-the-hour"),
        pytest.param("cron(0/30 0 2 ? * SUN *)", "UTC", "expected a schedule no more often than every 5 minutes, got 'cron(0/30 0 2 ? * SUN *)' (fires less than a minute apart)", id="several-seconds"),
        pytest.param("rate(1 hours)", "UTC", "expected rate(1 hour) (singular unit only when N is 1), got 'rate(1 hours)'", id="rate-plural-one"),
        pytest.param("rate(2 day)", "UTC", "expected rate(2 days) (singular unit only when N is 1), got 'rate(2 day)'", id="rate-singular-many"),
        pytest.param("rate(4 minutes)", "UTC", "expected a schedule no more often than every 5 minutes, got 'rate(4 minutes)'", id="rate-too-frequent"),
        pytest.param("rate(0 hours)", "UTC", "expected rate(N minutes|hours|days), e.g. rate(30 minutes) or rate(1 day), got 'rate(0 hours)'", id="rate-zero"),
        pytest.param("at(2026-02-30T02:00:00)", "UTC", "expected at(YYYY-MM-DDThh:mm:ss), got 'at(2026-02-30T02:00:00)'", id="at-no-such-day"),
        pytest.param("every sunday", "UTC", "expected a schedule expression cron(...), rate(...) or at(...), got 'every sunday'", id="not-an-expression"),
        pytest.param("cron(0 2 ? * SUN *)", "Mars/Olympus", "expected an IANA time zone such as UTC or Europe/Berlin, got 'Mars/Olympus'", id="bad-timezone"),
    ],
)
def test_parse_schedule_rejects(expression, zone, message):
    with pytest.raises(ScheduleError) as caught:
        parse_schedule(expression, timezone=zone)
    assert str(caught.value) == message


# --------------------------------------------------------------------------- windows


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


# --------------------------------------------------------------------------- Airflow cron


@pytest.mark.parametrize(
    ("expression", "cron"),
    [
        pytest.param("cron(0 2 ? * SUN *)", "0 2 * * 0", id="sunday-shifts-to-0"),
        pytest.param("cron(0 2 ? * SAT *)", "0 2 * * 6", id="saturday-shifts-to-6"),
        pytest.param("cron(0 18 ? * MON-FRI *)", "0 18 * * 1,2,3,4,5", id="weekdays"),
        pytest.param("cron(30 23 ? * TUE#3 *)", "30 23 * * 2#3", id="nth"),
        pytest.param("cron(0 2 ? * 6L *)", "0 2 * * L5", id="last-friday"),
        pytest.param("cron(0 2 L * ? *)", "0 2 L * *", id="last-day"),
        pytest.param("cron(0/15 * 1,15 * ? *)", "0,15,30,45 * 1,15 * *", id="steps-expanded"),
        pytest.param("cron(0 2 ? JAN,JUL * *)", "0 2 * 1,7 *", id="months-and-every-day"),
    ],
)
def test_to_airflow_cron(expression, cron):
    schedule = parse_schedule(expression)
    assert (to_airflow_cron(schedule), airflow_cron_reason(schedule)) == (cron, None)


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        pytest.param("cron(0 2 ? * SUN 2027)", "cron(0 2 ? * SUN 2027) restricts the year; unix cron has no year field", id="year"),
        pytest.param("cron(10 0 2 ? * SUN *)", "cron(10 0 2 ? * SUN *) fires at second 10; unix cron has no seconds field", id="seconds"),
        pytest.param("cron(0 2 15W * ? *)", "cron(0 2 15W * ? *) uses W (nearest weekday); croniter has no W", id="nearest-weekday"),
        pytest.param("cron(0 2 ? * 2#1,6L *)", "cron(0 2 ? * 2#1,6L *) mixes nL or n#k with other days of the week; croniter takes one alone", id="mixed-specials"),
        pytest.param("rate(1 day)", "rate(1 day) is not a cron() schedule; Airflow's cron timetable needs one", id="rate"),
        pytest.param("at(2026-01-01T00:00:00)", "at(2026-01-01T00:00:00) is not a cron() schedule; Airflow's cron timetable needs one", id="at"),
    ],
)
def test_to_airflow_cron_none_with_reason(expression, reason):
    schedule = parse_schedule(expression)
    assert (to_airflow_cron(schedule), airflow_cron_reason(schedule)) == (None, reason)


@pytest.mark.parametrize(
    "expression",
    ["cron(0 2 ? * SUN *)", "cron(30 23 ? * TUE#3 *)", "cron(0 2 ? * 6L *)", "cron(0 2 L * ? *)", "cron(0/15 8-17 ? * MON-FRI *)", "cron(5 4 1,15 */2 ? *)"],
)
def test_airflow_cron_fires_when_the_aws_schedule_does(expression):
    schedule = parse_schedule(expression)
    ours = iso(schedule.next_fires(datetime(2026, 1, 1, tzinfo=UTC), 40))
    runner = croniter(to_airflow_cron(schedule), datetime(2026, 1, 1, tzinfo=UTC))
    theirs = [runner.get_next(datetime).isoformat() for _ in range(40)]
    assert ours == theirs
