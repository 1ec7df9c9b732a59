"""When a maintenance window next opens, and the schedule expressions SSM refuses.

The oracle: the User Guide ("Reference: Cron and rate expressions for Systems Manager", "Maintenance window
scheduling and active period options") and the service's answers quoted in public reports
(fleetsim/FIDELITY.md, "Maintenance windows"). Pure: fixed instants, no server.
"""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from fleetsim.window_schedule import ScheduleError, WindowTimes, execution_time_text, next_opening, parse_bound, parse_schedule, time_zone

UTC = timezone.utc
WEDNESDAY_NOON = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)


def opening_text(schedule: str, now: datetime, zone: str | None = None, offset: int = 0, start: str | None = None,
                 end: str | None = None, anchor: datetime | None = None) -> str | None:
    parsed, tz = parse_schedule(schedule), time_zone(zone)
    times = WindowTimes(tz, offset, parse_bound(start, tz) if start else None, parse_bound(end, tz) if end else None, anchor)
    opening = next_opening(parsed, times, now)
    return execution_time_text(opening, parsed) if opening else None


@pytest.mark.parametrize(
    ("schedule", "now", "options", "expected"),
    [
        pytest.param("cron(0 2 ? * SUN *)", WEDNESDAY_NOON, {}, "2026-11-22T02:00Z", id="seed-schedule-next-sunday"),
        pytest.param("cron(0 2 ? * SUN *)", datetime(2026, 11, 22, 2, 0, tzinfo=UTC), {}, "2026-11-29T02:00Z", id="opening-now-is-not-next"),
        pytest.param("cron(0 2 ? * 1 *)", WEDNESDAY_NOON, {}, "2026-11-22T02:00Z", id="day-of-week-1-is-sunday"),
        # Real output quoted in turbot/steampipe-plugin-aws#2114: cron(0 9 * * ? *) in America/Chicago on 2024-03-11.
        pytest.param("cron(0 9 * * ? *)", datetime(2024, 3, 11, 15, 0, tzinfo=UTC), {"zone": "America/Chicago"},
                     "2024-03-12T09:00-05:00", id="time-zone-as-the-service-writes-it"),
        pytest.param("cron(0 9 ? * SUN *)", WEDNESDAY_NOON, {"zone": "Europe/London"}, "2026-11-22T09:00Z", id="zero-offset-is-z"),
        pytest.param("cron(30 1 ? * MON *)", WEDNESDAY_NOON, {"zone": "Asia/Kolkata"}, "2026-11-23T01:30+05:30", id="half-hour-offset"),
        pytest.param("cron(0 9 ? * SUN *)", datetime(2027, 3, 15, tzinfo=UTC), {"zone": "Europe/Berlin"}, "2027-03-21T09:00+01:00",
                     id="before-daylight-saving"),
        pytest.param("cron(0 9 ? * SUN *)", datetime(2027, 3, 22, tzinfo=UTC), {"zone": "Europe/Berlin"}, "2027-03-28T09:00+02:00",
                     id="on-the-day-daylight-saving-starts"),
        # AWS does not say what a wall time a daylight-saving change skips or repeats does: fleetsim reads it with the
        # offset before the change, so 02:30 on the spring-forward Sunday is 03:30 summer time, and the repeated one the first.
        pytest.param("cron(30 2 ? * SUN *)", datetime(2027, 3, 22, tzinfo=UTC), {"zone": "Europe/Berlin"}, "2027-03-28T03:30+02:00",
                     id="a-time-daylight-saving-skips"),
        pytest.param("cron(30 2 ? * SUN *)", datetime(2026, 10, 20, tzinfo=UTC), {"zone": "Europe/Berlin"}, "2026-10-25T02:30+02:00",
                     id="a-time-daylight-saving-repeats"),
        pytest.param("cron(30 23 ? * TUE#3 *)", datetime(2026, 11, 1, tzinfo=UTC), {"offset": 2}, "2026-11-19T23:30Z",
                     id="offset-two-days-after-the-third-tuesday"),
        # "If you specify a cron expression that would have run a maintenance window yesterday and add a schedule
        # offset of two days, the maintenance window won't run tomorrow."
        pytest.param("cron(30 23 ? * TUE#3 *)", WEDNESDAY_NOON, {"offset": 2}, "2026-12-17T23:30Z", id="offset-of-a-past-cron-date-waits-a-period"),
        pytest.param("cron(0 2 L * ? *)", WEDNESDAY_NOON, {}, "2026-11-30T02:00Z", id="last-day-of-the-month"),
        pytest.param("cron(15 10 ? * 6L *)", WEDNESDAY_NOON, {}, "2026-11-27T10:15Z", id="last-friday"),
        pytest.param("cron(0 0 15W * ? *)", datetime(2026, 8, 1, tzinfo=UTC), {}, "2026-08-14T00:00Z", id="weekday-nearest-a-saturday"),
        pytest.param("cron(0 0 15W * ? *)", datetime(2026, 11, 1, tzinfo=UTC), {}, "2026-11-16T00:00Z", id="weekday-nearest-a-sunday"),
        pytest.param("cron(0 0 1W * ? *)", datetime(2026, 7, 20, tzinfo=UTC), {}, "2026-08-03T00:00Z", id="weekday-stays-in-its-month"),
        pytest.param("cron(0 0/6 ? * MON-FRI *)", datetime(2026, 11, 20, 19, 0, tzinfo=UTC), {}, "2026-11-23T00:00Z", id="steps-and-ranges"),
        pytest.param("cron(0 2 1 JAN,JUL ? *)", WEDNESDAY_NOON, {}, "2027-01-01T02:00Z", id="month-names"),
        pytest.param("cron(0 2 ? * SUN 2027)", WEDNESDAY_NOON, {}, "2027-01-03T02:00Z", id="year-field"),
        pytest.param("cron(0 2 ? * SUN 2025)", WEDNESDAY_NOON, {}, None, id="a-past-year-never-opens"),
        pytest.param("cron(24 30 09 ? * * *)", WEDNESDAY_NOON, {}, "2026-11-19T09:30:24Z", id="seven-fields-with-seconds"),
        # The User Guide's example 1 of "Maintenance window scheduling and active period options".
        pytest.param("cron(0 09 ? * WED *)", datetime(2020, 12, 1, tzinfo=UTC),
                     {"zone": "America/Los_Angeles", "start": "2021-01-01T00:00:00-08:00"}, "2021-01-06T09:00-08:00", id="start-date"),
        pytest.param("cron(0 2 ? * SUN *)", WEDNESDAY_NOON, {"end": "2026-11-01"}, None, id="past-its-end-date"),
        pytest.param("cron(0 2 ? * SUN *)", WEDNESDAY_NOON, {"end": "2026-11-21T00:00:00Z"}, None, id="ends-before-its-next-opening"),
        pytest.param("cron(0 2 ? * SUN *)", WEDNESDAY_NOON, {"end": "2026-11-22T03:00:00Z"}, "2026-11-22T02:00Z", id="ends-after-its-next-opening"),
        pytest.param("at(2027-05-02T10:30:00)", WEDNESDAY_NOON, {"zone": "America/New_York"}, "2027-05-02T10:30-04:00", id="at-in-its-zone"),
        pytest.param("at(2026-05-02T10:30:00)", WEDNESDAY_NOON, {}, None, id="at-in-the-past"),
        pytest.param("rate(7 days)", datetime(2026, 11, 20, tzinfo=UTC), {"anchor": datetime(2026, 11, 18, 12, 0, 0, 250000, tzinfo=UTC)},
                     "2026-11-25T12:00:00.250Z", id="rate-one-interval-after-it-was-set"),
        pytest.param("rate(7 days)", datetime(2026, 12, 3, tzinfo=UTC), {"anchor": datetime(2026, 11, 18, 12, 0, 0, 250000, tzinfo=UTC)},
                     "2026-12-09T12:00:00.250Z", id="rate-weeks-later"),
        pytest.param("rate(5 minutes)", datetime(2026, 11, 18, 12, 7, tzinfo=UTC), {"anchor": WEDNESDAY_NOON},
                     "2026-11-18T12:10:00.000Z", id="rate-minutes"),
    ],
)
def test_next_opening(schedule, now, options, expected):
    assert opening_text(schedule, now, **options) == expected


@pytest.mark.parametrize(
    ("schedule", "reason"),
    [
        pytest.param("cron(0 2 * * * *)", "exactly one of day-of-month and day-of-week must be ?", id="both-day-fields"),
        pytest.param("cron(0 2 ? * ? *)", "exactly one of day-of-month and day-of-week must be ?", id="neither-day-field"),
        pytest.param("cron(0 2 ? * SUN)", "a cron expression has 6 fields (minutes hours day-of-month month day-of-week year) "
                     "or 7 with a leading seconds field, got 5", id="five-fields"),
        pytest.param("cron(0/4 * * * ? *)", "it would run more often than every 5 minutes", id="every-4-minutes"),
        pytest.param("cron(0,3 2 ? * SUN *)", "it would run more often than every 5 minutes", id="two-runs-3-minutes-apart"),
        pytest.param("cron(58 1,2 ? * SUN *)", "", id="an-hour-apart-is-fine"),
        pytest.param("cron(0 24 ? * SUN *)", "hours field: '24' is not a value from 0 to 23", id="hour-24"),
        pytest.param("cron(0 2 ? 13 SUN *)", "month field: '13' is not a value from 1 to 12 or JAN-DEC", id="month-13"),
        pytest.param("cron(0 2 ? * SUN 2200)", "year field: '2200' is not a value from 1970 to 2199", id="year-2200"),
        pytest.param("cron(0 2 ? * FRI-MON *)", "day-of-week field 'FRI-MON': range 'FRI-MON' runs backwards", id="backwards-range"),
        pytest.param("cron(0 2 ? * SUN#6 *)", "day-of-week field 'SUN#6': the week after # must be 1 to 5", id="sixth-sunday"),
        pytest.param("cron(0 2 ? * SUN/0 *)", "day-of-week field 'SUN/0': 'SUN/0' has no valid step", id="step-0"),
        pytest.param("rate(1 hours)", "the unit must be singular for 1 and plural for more, e.g. rate(1 hour), rate(5 hours)", id="rate-1-hours"),
        pytest.param("rate(5 hour)", "the unit must be singular for 1 and plural for more, e.g. rate(1 hour), rate(5 hours)", id="rate-5-hour"),
        pytest.param("rate(0 minutes)", "a rate must be a positive number", id="rate-0"),
        pytest.param("rate(2 weeks)", "expected a cron(...), rate(...) or at(...) expression", id="rate-in-weeks"),
        pytest.param("at(2026-02-30T10:00:00)", "2026-02-30T10:00:00 is not a date and time", id="at-february-30"),
        pytest.param("PT4H", "expected a cron(...), rate(...) or at(...) expression", id="iso-duration"),
    ],
)
def test_schedules_ssm_refuses_and_why(schedule, reason):
    try:
        parse_schedule(schedule)
        found = ""
    except ScheduleError as exc:
        found = str(exc)
    assert found == reason
