"""Maintenance window schedules as SSM reads them, and when a window next opens.

Written from the User Guide's "Reference: Cron and rate expressions for Systems Manager":

- cron: six fields `minutes hours day-of-month month day-of-week year`, or seven with a leading
  seconds field; `, - * /` everywhere, `?` `L` `W` in day-of-month, `?` `L` `#` in day-of-week
  (1-7 = SUN-SAT, or the names), years 1970-2199; exactly one of the day fields is `?`; nothing
  that runs more often than every five minutes;
- rate: `rate(N minute|minutes|hour|hours|day|days)`, singular only for 1;
- at: `at(YYYY-MM-DDThh:mm:ss)`, once.

A cron schedule is read in the window's time zone; ScheduleOffset moves each opening that many days
later, and an opening whose cron date is already past does not count even if the offset lands in the
future ("Schedule offsets" on the same page). Pure: no clock, no I/O.
"""
from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone, tzinfo
from functools import lru_cache
from typing import Callable, Iterator
from zoneinfo import ZoneInfo, available_timezones

MONTH_NAMES = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
DAY_NAMES = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
FIRST_YEAR, LAST_YEAR = 1970, 2199
FASTEST_SECONDS = 300  # "Cron expressions that lead to rates faster than five (5) minute are not supported."
RATE_UNITS = {"minute": 60, "hour": 3600, "day": 86400}
RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
AT = re.compile(r"^at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)$")
CRON = re.compile(r"^cron\((.*)\)$")


class ScheduleError(ValueError):
    """Why a schedule expression is not one SSM takes; str() is the reason."""


@dataclass(frozen=True)
class CronSchedule:
    text: str
    seconds: tuple[int, ...]
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    months: frozenset[int]
    years: frozenset[int]
    day_matches: Callable[[date], bool]

    def occurrences(self, after: datetime, zone: tzinfo) -> Iterator[datetime]:
        """Every instant the expression names, read in `zone`, later than `after`, in order."""
        day = after.astimezone(zone).date()
        last_year = min(max(self.years), LAST_YEAR)
        while day.year <= last_year:
            if day.year in self.years and day.month in self.months and self.day_matches(day):
                for hour in self.hours:
                    for minute in self.minutes:
                        for second in self.seconds:
                            # fold=0: a wall time a daylight-saving change skips or repeats is read with the earlier offset.
                            instant = datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=zone)
                            if instant > after:
                                yield instant
            day += timedelta(days=1)


@dataclass(frozen=True)
class RateSchedule:
    text: str
    every: timedelta


@dataclass(frozen=True)
class AtSchedule:
    text: str
    wall: datetime  # naive: read in the window's time zone


Schedule = CronSchedule | RateSchedule | AtSchedule


def parse_schedule(text: str) -> Schedule:
    """The schedule `text` names; ScheduleError says why SSM would not take it."""
    if not isinstance(text, str):
        raise ScheduleError("expected a cron(...), rate(...) or at(...) expression")
    if rate := RATE.match(text):
        amount, unit = int(rate.group(1)), rate.group(2)
        if amount < 1:
            raise ScheduleError("a rate must be a positive number")
        if (amount == 1) != (not unit.endswith("s")):
            raise ScheduleError("the unit must be singular for 1 and plural for more, e.g. rate(1 hour), rate(5 hours)")
        return RateSchedule(text, timedelta(seconds=amount * RATE_UNITS[unit.rstrip("s")]))
    if at := AT.match(text):
        try:
            return AtSchedule(text, datetime.fromisoformat(at.group(1)))
        except ValueError:
            raise ScheduleError(f"{at.group(1)} is not a date and time") from None
    if cron := CRON.match(text):
        return _parse_cron(text, cron.group(1).split())
    raise ScheduleError("expected a cron(...), rate(...) or at(...) expression")


def _parse_cron(text: str, fields: list[str]) -> CronSchedule:
    if len(fields) not in (6, 7):
        raise ScheduleError(f"a cron expression has 6 fields (minutes hours day-of-month month day-of-week year) "
                            f"or 7 with a leading seconds field, got {len(fields)}")
    seconds_field = fields.pop(0) if len(fields) == 7 else None
    minutes, hours, day_of_month, month, day_of_week, year = fields
    if (day_of_month == "?") == (day_of_week == "?"):
        raise ScheduleError("exactly one of day-of-month and day-of-week must be ?")
    # The User Guide says 0 is not supported in the seconds field, yet real windows run on cron(0 0 21 ? 1/1 TUE#2 *)
    # (hashicorp/terraform-provider-aws#10009) and the older guide's own examples lead with 0: 0 is taken.
    seconds = _values(seconds_field, "seconds", 0, 59) if seconds_field is not None else (0,)
    schedule = CronSchedule(
        text=text,
        seconds=seconds,
        minutes=_values(minutes, "minutes", 0, 59),
        hours=_values(hours, "hours", 0, 23),
        months=frozenset(_values(month, "month", 1, 12, MONTH_NAMES)),
        years=frozenset(_values(year, "year", FIRST_YEAR, LAST_YEAR)),
        day_matches=_day_of_week_rule(day_of_week) if day_of_month == "?" else _day_of_month_rule(day_of_month),
    )
    if _shortest_gap_seconds(schedule) < FASTEST_SECONDS:
        raise ScheduleError("it would run more often than every 5 minutes")
    return schedule


def _values(field: str, name: str, low: int, high: int, names: tuple[str, ...] = ()) -> tuple[int, ...]:
    """The values a field of `, - * /` items selects, sorted."""
    selected: set[int] = set()
    for item in field.split(","):
        base, _, step_text = item.partition("/")
        if step_text and not step_text.isdigit() or step_text == "0":
            raise ScheduleError(f"{name} field {field!r}: {item!r} has no valid step")
        step = int(step_text) if step_text else 1
        if base == "*":
            first, last = low, high
        elif "-" in base:
            first_text, _, last_text = base.partition("-")
            first, last = _value(first_text, name, low, high, names), _value(last_text, name, low, high, names)
            if first > last:
                raise ScheduleError(f"{name} field {field!r}: range {base!r} runs backwards")
        else:
            first = _value(base, name, low, high, names)
            last = high if step_text else first
        selected.update(range(first, last + 1, step))
    return tuple(sorted(selected))


def _value(text: str, name: str, low: int, high: int, names: tuple[str, ...]) -> int:
    if text.upper() in names:
        return names.index(text.upper()) + low
    if text.isdigit() and low <= int(text) <= high:
        return int(text)
    spelled = f" or {names[0]}-{names[-1]}" if names else ""
    raise ScheduleError(f"{name} field: {text!r} is not a value from {low} to {high}{spelled}")


def _aws_day_of_week(day: date) -> int:
    return (day.weekday() + 1) % 7 + 1  # Monday is 0 for Python, 2 for cron (1 = SUN ... 7 = SAT)


def _last_day(day: date) -> int:
    return calendar.monthrange(day.year, day.month)[1]


def _day_of_month_rule(field: str) -> Callable[[date], bool]:
    if field == "L":
        return lambda day: day.day == _last_day(day)
    if field == "LW":
        return lambda day: day == _nearest_weekday(day.replace(day=_last_day(day)))
    if field.endswith("W"):
        wanted = _value(field[:-1], "day-of-month", 1, 31, ())
        return lambda day: wanted <= _last_day(day) and day == _nearest_weekday(day.replace(day=wanted))
    days = frozenset(_values(field, "day-of-month", 1, 31))
    return lambda day: day.day in days


def _nearest_weekday(day: date) -> date:
    """The weekday nearest `day` within its month (W): Saturday moves to Friday, Sunday to Monday, never across the month."""
    weekday = day.weekday()
    if weekday == 5:
        return day - timedelta(days=1) if day.day > 1 else day + timedelta(days=2)
    if weekday == 6:
        return day + timedelta(days=1) if day.day < _last_day(day) else day - timedelta(days=2)
    return day


def _day_of_week_rule(field: str) -> Callable[[date], bool]:
    if field == "L":
        return lambda day: _aws_day_of_week(day) == 7  # the last day of the week: Saturday
    if field.endswith("L"):
        wanted = _value(field[:-1], "day-of-week", 1, 7, DAY_NAMES)
        return lambda day: _aws_day_of_week(day) == wanted and day.day + 7 > _last_day(day)
    if "#" in field:
        weekday_text, _, nth_text = field.partition("#")
        wanted = _value(weekday_text, "day-of-week", 1, 7, DAY_NAMES)
        if not nth_text.isdigit() or not 1 <= int(nth_text) <= 5:
            raise ScheduleError(f"day-of-week field {field!r}: the week after # must be 1 to 5")
        nth = int(nth_text)
        return lambda day: _aws_day_of_week(day) == wanted and (day.day - 1) // 7 + 1 == nth
    days = frozenset(_values(field, "day-of-week", 1, 7, DAY_NAMES))
    return lambda day: _aws_day_of_week(day) in days


def _shortest_gap_seconds(schedule: CronSchedule) -> int:
    """The shortest time between two runs of one day, or from a day's last run to the next day's first."""
    in_hour = sorted(m * 60 + s for m in schedule.minutes for s in schedule.seconds)
    runs = [hour * 3600 + moment for hour in schedule.hours for moment in in_hour]
    return min([b - a for a, b in zip(runs, runs[1:])] + [runs[0] + 86400 - runs[-1]])


@lru_cache(maxsize=1)
def _zone_names() -> frozenset[str]:
    return frozenset(available_timezones())


def time_zone(name: str | None) -> tzinfo:
    """The IANA zone a window's schedule is read in (UTC when it names none); ScheduleError for an unknown name."""
    if name is None:
        return timezone.utc
    if name not in _zone_names():
        raise ScheduleError(f"{name!r} is not an IANA time zone name")
    return ZoneInfo(name)


def parse_bound(text: str, zone: tzinfo) -> datetime:
    """A StartDate/EndDate: ISO-8601, a date alone meaning its midnight; without an offset, read in the window's zone."""
    try:
        parsed = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        raise ScheduleError(f"{text!r} is not an ISO-8601 date and time, such as 2021-04-07T14:29:00-08:00") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=zone)


@dataclass(frozen=True)
class WindowTimes:
    """What decides a window's openings besides its schedule."""

    zone: tzinfo
    offset_days: int = 0
    start: datetime | None = None
    end: datetime | None = None
    anchor: datetime | None = None  # where a rate schedule counts from: when the schedule was set


def next_opening(schedule: Schedule, times: WindowTimes, now: datetime) -> datetime | None:
    """When the window next opens after `now`, in its own zone; None when it never will (past its EndDate, say)."""
    for opening in openings(schedule, times, now):
        return opening
    return None


def openings(schedule: Schedule, times: WindowTimes, now: datetime) -> Iterator[datetime]:
    """The window's openings after `now`, in order, inside StartDate..EndDate."""
    offset = timedelta(days=times.offset_days)
    if isinstance(schedule, CronSchedule):
        # Occurrences before StartDate - offset cannot open on or after StartDate: skip them without walking them.
        after = max(now, times.start - offset - timedelta(seconds=1)) if times.start else now
        candidates = (occurrence + offset for occurrence in schedule.occurrences(after, times.zone) if occurrence > now)
    elif isinstance(schedule, RateSchedule):
        candidates = _rate_openings(schedule.every, times.anchor or now, max(now, times.start) if times.start else now, times.zone)
    else:
        candidates = iter([schedule.wall.replace(tzinfo=times.zone)])
    for opening in candidates:
        if opening <= now or (times.start and opening < times.start):
            continue
        if times.end and opening > times.end:
            return
        yield opening.astimezone(timezone.utc).astimezone(times.zone)  # a wall time a daylight-saving change skips is shown as the clock then reads


def _rate_openings(every: timedelta, anchor: datetime, after: datetime, zone: tzinfo) -> Iterator[datetime]:
    # Every `every` from the anchor, the first one interval after it; elapsed time, not wall time, so DST does not move it.
    steps = max(1, (after - anchor) // every + 1)
    while True:
        yield (anchor + steps * every).astimezone(zone)
        steps += 1


def execution_time_text(opening: datetime, schedule: Schedule) -> str:
    """NextExecutionTime as SSM writes it: minutes and the zone's offset ("Z" for none) for cron and at
    schedules ("2024-03-12T09:00-05:00", "2020-02-19T16:00Z"), milliseconds for rate schedules
    ("2020-02-12T23:19:20.596Z")."""
    if isinstance(schedule, RateSchedule):
        clock = opening.strftime("%Y-%m-%dT%H:%M:%S") + f".{opening.microsecond // 1000:03d}"
    else:
        clock = opening.strftime("%Y-%m-%dT%H:%M:%S" if opening.second else "%Y-%m-%dT%H:%M")
    offset = opening.utcoffset() or timedelta(0)
    if not offset:
        return clock + "Z"
    sign, minutes = ("-" if offset < timedelta(0) else "+"), abs(int(offset.total_seconds())) // 60
    return f"{clock}{sign}{minutes // 60:02d}:{minutes % 60:02d}"
