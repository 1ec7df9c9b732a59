"""AWS cron, rate and at expressions: when they fire, and what they refuse, as tables."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from patchflow.core.aws_schedules import ScheduleError, parse_schedule

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
        pytest.param("cron(0 2 1W * ? *)", "UTC", "2026-07-15 00:00", ["2026-08-03T02:00:00+00:00", "2026-09-01T02:00:00+00:00", "2026-10-01T02:00:00+00:00"], id="nearest-weekday-saturday-first-is-monday-third"),
        pytest.param("cron(0 2 15W * ? *)", "UTC", "2026-07-20 00:00", ["2026-08-14T02:00:00+00:00", "2026-09-15T02:00:00+00:00"], id="nearest-weekday-saturday-to-friday"),
        pytest.param("cron(0 2 31W * ? *)", "UTC", "2026-04-01 00:00", ["2026-05-29T02:00:00+00:00", "2026-07-31T02:00:00+00:00", "2026-08-31T02:00:00+00:00"], id="nearest-weekday-sunday-last-day-to-friday-and-short-months-skipped"),
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
