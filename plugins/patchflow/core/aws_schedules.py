"""AWS schedule expressions (cron, rate, at): parsing, and when they fire.

Times are computed on the wall clock of an IANA time zone and returned as
aware datetimes in that zone. Across daylight-saving changes:

- a local time the clock skips (spring forward) fires at the moment the clock
  jumps, so the job still runs that day, once;
- a local time that happens twice (fall back) fires at its first occurrence only.

AWS numbers days of the week 1-7 with 1 = SUN; unix cron (and croniter) uses
0-6 with 0 = SUN. Only `patchflow.core.schedule.to_airflow_cron` converts between the two.
"""
from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone as dt_timezone
from functools import lru_cache
from typing import Iterator
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MIN_INTERVAL_MINUTES = 5
EARLIEST_YEAR, LATEST_YEAR = 1970, 2199
UTC = dt_timezone.utc

MONTH_NAMES = {name: n for n, name in enumerate(("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"), 1)}
DAY_NAMES = {name: n for n, name in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"), 1)}
SATURDAY, SUNDAY = 7, 1


class ScheduleError(ValueError):
    """A schedule that cannot be used; str() reads 'expected ..., got ...' so callers can prefix a location."""


def zone_named(name: str) -> ZoneInfo:
    if not isinstance(name, str) or not name:
        raise ScheduleError(f"expected an IANA time zone such as UTC or Europe/Berlin, got {name!r}")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(f"expected an IANA time zone such as UTC or Europe/Berlin, got {name!r}") from None


def require_aware(moment: datetime, what: str) -> None:
    if not isinstance(moment, datetime) or moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{what}: expected a timezone-aware datetime, got {moment!r}")


def resolve_local(naive: datetime, zone: ZoneInfo) -> datetime:
    """The instant a wall-clock time names in `zone`: first occurrence if repeated, the jump if skipped."""
    aware = naive.replace(tzinfo=zone, fold=0)
    back = aware.astimezone(UTC).astimezone(zone)
    if back.replace(tzinfo=None) == naive:
        return back
    # In a gap, fold=1 applies the offset after the change (the earlier instant) and fold=0
    # the offset before it (the later one); the change itself lies between, on a whole second.
    low = int(naive.replace(tzinfo=zone, fold=1).timestamp())
    high = int(aware.timestamp())
    offset_after = datetime.fromtimestamp(high, zone).utcoffset()
    while low + 1 < high:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, zone).utcoffset() == offset_after:
            high = middle
        else:
            low = middle
    return datetime.fromtimestamp(high, zone)


# --------------------------------------------------------------------------- schedules


@dataclass(frozen=True)
class Schedule:
    """A parsed schedule expression; `timezone` is the IANA zone its wall-clock times refer to."""

    expression: str
    timezone: str

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def kind(self) -> str:
        return self.expression.split("(", 1)[0]

    def next_fire(self, after: datetime) -> datetime | None:
        """The first fire strictly after `after`, or None if the schedule never fires again."""
        raise NotImplementedError

    def previous_fire(self, at_or_before: datetime) -> datetime | None:
        """The last fire at or before `at_or_before`, or None if it never fired by then."""
        raise NotImplementedError


@dataclass(frozen=True)
class DayOfMonthRule:
    days: frozenset[int] = frozenset()
    last_day: bool = False  # L
    last_weekday: bool = False  # LW
    nearest_weekday: frozenset[int] = frozenset()  # nW


@dataclass(frozen=True)
class DayOfWeekRule:
    days: frozenset[int] = frozenset()  # AWS numbering, 1 = SUN
    last_in_month: frozenset[int] = frozenset()  # nL: the last such weekday of the month
    nth_in_month: frozenset[tuple[int, int]] = frozenset()  # n#k: (weekday, k)


@dataclass(frozen=True)
class CronSchedule(Schedule):
    second: int = field(default=0, repr=False)
    minutes: tuple[int, ...] = field(default=(), repr=False)
    hours: tuple[int, ...] = field(default=(), repr=False)
    day_of_month: DayOfMonthRule | None = field(default=None, repr=False)  # None when '?'
    months: frozenset[int] = field(default=frozenset(), repr=False)
    day_of_week: DayOfWeekRule | None = field(default=None, repr=False)  # None when '?'
    years: tuple[int, ...] = field(default=(), repr=False)

    def matching_days(self, year: int, month: int) -> tuple[int, ...]:
        return _matching_days(self.day_of_month, self.day_of_week, year, month)

    def _local_times_forward(self, start: datetime) -> Iterator[datetime]:
        year, month, first_day = start.year, start.month, start.day
        years = self.years
        while year <= years[-1]:
            if year not in years:
                year = next(y for y in years if y > year)
                month, first_day = 1, 1
                continue
            if month in self.months:
                for day in self.matching_days(year, month):
                    if day < first_day:
                        continue
                    for hour in self.hours:
                        for minute in self.minutes:
                            moment = datetime(year, month, day, hour, minute, self.second)
                            if moment >= start:
                                yield moment
            month, first_day = month + 1, 1
            if month > 12:
                year, month = year + 1, 1

    def _local_times_backward(self, start: datetime) -> Iterator[datetime]:
        year, month, last_day = start.year, start.month, start.day
        years = self.years
        while year >= years[0]:
            if year not in years:
                earlier = [y for y in years if y < year]
                if not earlier:
                    return
                year, month, last_day = earlier[-1], 12, 31
                continue
            if month in self.months:
                for day in reversed(self.matching_days(year, month)):
                    if day > last_day:
                        continue
                    for hour in reversed(self.hours):
                        for minute in reversed(self.minutes):
                            moment = datetime(year, month, day, hour, minute, self.second)
                            if moment <= start:
                                yield moment
            month, last_day = month - 1, 31
            if month < 1:
                year, month = year - 1, 12

    def next_fire(self, after: datetime) -> datetime | None:
        require_aware(after, "after")
        zone = self.zone
        start = after.astimezone(zone).replace(tzinfo=None, fold=0)
        if start.year > LATEST_YEAR:
            return None
        start = max(start, datetime(EARLIEST_YEAR, 1, 1))
        # Instants never decrease along wall-clock order (see resolve_local), so the first one
        # past `after` is the earliest.
        for naive in self._local_times_forward(start):
            instant = resolve_local(naive, zone)
            if instant > after:
                return instant
        return None

    def next_fires(self, after: datetime, count: int) -> list[datetime]:
        fires: list[datetime] = []
        moment = after
        while len(fires) < count:
            moment = self.next_fire(moment)
            if moment is None:
                break
            fires.append(moment)
        return fires

    def previous_fire(self, at_or_before: datetime) -> datetime | None:
        require_aware(at_or_before, "at_or_before")
        zone = self.zone
        # A moment in a repeated hour reads as the earlier wall time; the first occurrence of a
        # later wall time can still be before it, so start looking a little later.
        start = at_or_before.astimezone(zone).replace(tzinfo=None, fold=0) + timedelta(hours=3)
        if start.year < EARLIEST_YEAR:
            return None
        start = min(start, datetime(LATEST_YEAR, 12, 31, 23, 59, 59))
        for naive in self._local_times_backward(start):
            instant = resolve_local(naive, zone)
            if instant <= at_or_before:
                return instant
        return None


@dataclass(frozen=True)
class RateSchedule(Schedule):
    """Fires every `interval` from `anchor` (AWS counts from window creation; we need a fixed point)."""

    interval: timedelta = timedelta(hours=1)
    anchor: datetime = datetime(1970, 1, 1, tzinfo=UTC)

    def next_fire(self, after: datetime) -> datetime | None:
        require_aware(after, "after")
        if after < self.anchor:
            return self.anchor.astimezone(self.zone)
        steps = (after - self.anchor) // self.interval + 1
        return (self.anchor + steps * self.interval).astimezone(self.zone)

    def previous_fire(self, at_or_before: datetime) -> datetime | None:
        require_aware(at_or_before, "at_or_before")
        if at_or_before < self.anchor:
            return None
        steps = (at_or_before - self.anchor) // self.interval
        return (self.anchor + steps * self.interval).astimezone(self.zone)


@dataclass(frozen=True)
class AtSchedule(Schedule):
    """Fires once, at a wall-clock time in the schedule's zone."""

    moment: datetime = datetime(1970, 1, 1)

    @property
    def instant(self) -> datetime:
        return resolve_local(self.moment, self.zone)

    def next_fire(self, after: datetime) -> datetime | None:
        require_aware(after, "after")
        return self.instant if self.instant > after else None

    def previous_fire(self, at_or_before: datetime) -> datetime | None:
        require_aware(at_or_before, "at_or_before")
        return self.instant if self.instant <= at_or_before else None


# --------------------------------------------------------------------------- day rules


def _aws_weekday(day: date) -> int:
    return (day.weekday() + 1) % 7 + 1


def _nearest_weekday(year: int, month: int, day: int, days_in_month: int) -> int:
    # AWS's cron reference (and Quartz): never leaves the month, so the 1st on a Saturday becomes
    # Monday the 3rd. A month without the day (31W in April) does not fire; AWS does not say.
    weekday = _aws_weekday(date(year, month, day))
    if weekday == SATURDAY:
        return day - 1 if day > 1 else day + 2
    if weekday == SUNDAY:
        return day + 1 if day < days_in_month else day - 2
    return day


@lru_cache(maxsize=4096)
def _matching_days(dom: DayOfMonthRule | None, dow: DayOfWeekRule | None, year: int, month: int) -> tuple[int, ...]:
    days_in_month = calendar.monthrange(year, month)[1]
    found: set[int] = set()
    if dom is not None:
        found.update(d for d in dom.days if d <= days_in_month)
        if dom.last_day:
            found.add(days_in_month)
        if dom.last_weekday:
            found.add(_nearest_weekday(year, month, days_in_month, days_in_month))
        found.update(_nearest_weekday(year, month, d, days_in_month) for d in dom.nearest_weekday if d <= days_in_month)
    if dow is not None:
        by_weekday: dict[int, list[int]] = {}
        for day in range(1, days_in_month + 1):
            by_weekday.setdefault(_aws_weekday(date(year, month, day)), []).append(day)
        for weekday in dow.days:
            found.update(by_weekday[weekday])
        for weekday in dow.last_in_month:
            found.add(by_weekday[weekday][-1])
        for weekday, nth in dow.nth_in_month:
            if nth <= len(by_weekday[weekday]):
                found.add(by_weekday[weekday][nth - 1])
    return tuple(sorted(found))


# --------------------------------------------------------------------------- parsing


@dataclass(frozen=True)
class _Field:
    label: str
    low: int
    high: int
    names: dict = field(default_factory=dict)
    extras: str = ""

    @property
    def article(self) -> str:
        return "an" if self.label[0] in "aeiouh" else "a"

    def describe(self) -> str:
        named = ""
        if self.names:
            first, last = list(self.names)[0], list(self.names)[-1]
            named = f" or {first}-{last}"
        return f"{self.article} {self.label} of {self.low}-{self.high}{named}{self.extras}"


SECOND = _Field("second", 0, 59)
MINUTE = _Field("minute", 0, 59)
HOUR = _Field("hour", 0, 23)
DAY_OF_MONTH = _Field("day-of-month", 1, 31, extras=" (also L, LW, nW or ?)")
MONTH = _Field("month", 1, 12, MONTH_NAMES)
DAY_OF_WEEK = _Field("day-of-week", 1, 7, DAY_NAMES, extras=" with 1 = SUN (also L, nL, n#k or ?)")
YEAR = _Field("year", EARLIEST_YEAR, LATEST_YEAR)

_RANGE_STEP = re.compile(r"^(?:(\*)|([A-Z0-9]+)(?:-([A-Z0-9]+))?)(?:/([0-9]+))?$")
_CRON = re.compile(r"^cron\((.*)\)$", re.DOTALL)
_RATE = re.compile(r"^rate\((.*)\)$", re.DOTALL)
_AT = re.compile(r"^at\((.*)\)$", re.DOTALL)
_RATE_BODY = re.compile(r"^([1-9][0-9]*) (minute|minutes|hour|hours|day|days)$")
_RATE_UNITS = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1), "day": timedelta(days=1)}


def _number(token: str, spec: _Field, expression: str) -> int:
    if token in spec.names:
        return spec.names[token]
    if token.isdigit():
        value = int(token)
        if spec.low <= value <= spec.high:
            return value
    raise ScheduleError(f"expected {spec.describe()} in {expression}, got {token!r}")


def _values(text: str, spec: _Field, expression: str) -> frozenset[int]:
    values: set[int] = set()
    for item in text.split(","):
        match = _RANGE_STEP.match(item)
        if not match:
            raise ScheduleError(f"expected {spec.describe()} in {expression}, got {item!r}")
        star, first, last, step = match.groups()
        if star:
            low, high = spec.low, spec.high
        else:
            low = _number(first, spec, expression)
            # Quartz reads 'a/s' as 'from a to the end, every s'.
            high = _number(last, spec, expression) if last else (spec.high if step else low)
        if low > high:
            raise ScheduleError(f"expected {spec.article} {spec.label} range from low to high in {expression}, got {item!r}")
        stride = int(step) if step else 1
        if stride < 1:
            raise ScheduleError(f"expected a step of at least 1 in {expression}, got {item!r}")
        values.update(range(low, high + 1, stride))
    return frozenset(values)


def _day_of_month_rule(text: str, expression: str) -> DayOfMonthRule:
    plain, nearest, last_day, last_weekday = [], set(), False, False
    for item in text.split(","):
        if item == "L":
            last_day = True
        elif item == "LW":
            last_weekday = True
        elif item.endswith("W") and item[:-1].isdigit():
            nearest.add(_number(item[:-1], DAY_OF_MONTH, expression))
        else:
            plain.append(item)
    days = _values(",".join(plain), DAY_OF_MONTH, expression) if plain else frozenset()
    return DayOfMonthRule(days, last_day, last_weekday, frozenset(nearest))


def _day_of_week_rule(text: str, expression: str) -> DayOfWeekRule:
    plain, last_in_month, nth = [], set(), set()
    for item in text.split(","):
        if item == "L":
            plain.append(str(SATURDAY))  # 'L' alone is the last day of the week
        elif item.endswith("L"):
            last_in_month.add(_number(item[:-1], DAY_OF_WEEK, expression))
        elif "#" in item:
            weekday, _, which = item.partition("#")
            if not (which.isdigit() and 1 <= int(which) <= 5):
                raise ScheduleError(f"expected n#k with k of 1-5 in {expression}, got {item!r}")
            nth.add((_number(weekday, DAY_OF_WEEK, expression), int(which)))
        else:
            plain.append(item)
    days = _values(",".join(plain), DAY_OF_WEEK, expression) if plain else frozenset()
    return DayOfWeekRule(days, frozenset(last_in_month), frozenset(nth))


def _shortest_gap_minutes(minutes: tuple[int, ...], hours: tuple[int, ...]) -> int | None:
    gaps = [b - a for a, b in zip(minutes, minutes[1:])]
    hour_set = set(hours)
    if any((h + 1) % 24 in hour_set for h in hour_set):
        gaps.append(60 - minutes[-1] + minutes[0])
    return min(gaps) if gaps else None


def _parse_cron(body: str, expression: str, timezone: str) -> CronSchedule:
    fields = body.upper().split()
    if len(fields) == 7:
        seconds_text, fields = fields[0], fields[1:]
    elif len(fields) == 6:
        seconds_text = "0"
    else:
        raise ScheduleError(
            f"expected cron(minutes hours day-of-month month day-of-week year) with 6 fields (7 with leading seconds), got {expression!r} with {len(fields)}"
        )
    minute_text, hour_text, dom_text, month_text, dow_text, year_text = fields
    if (dom_text == "?") == (dow_text == "?"):
        raise ScheduleError(
            f"expected '?' in exactly one of day-of-month and day-of-week in {expression}, got {dom_text!r} and {dow_text!r}"
        )
    seconds = _values(seconds_text, SECOND, expression)
    minutes = tuple(sorted(_values(minute_text, MINUTE, expression)))
    hours = tuple(sorted(_values(hour_text, HOUR, expression)))
    dom = None if dom_text == "?" else _day_of_month_rule(dom_text, expression)
    months = _values(month_text, MONTH, expression)
    dow = None if dow_text == "?" else _day_of_week_rule(dow_text, expression)
    years = tuple(sorted(_values(year_text, YEAR, expression)))
    gap = 0 if len(seconds) > 1 else _shortest_gap_minutes(minutes, hours)
    if gap is not None and gap < MIN_INTERVAL_MINUTES:
        apart = "less than a minute" if gap == 0 else f"{gap} minute{'s' if gap != 1 else ''}"
        raise ScheduleError(f"expected a schedule no more often than every {MIN_INTERVAL_MINUTES} minutes, got {expression!r} (fires {apart} apart)")
    return CronSchedule(expression, timezone, min(seconds), minutes, hours, dom, months, dow, years)


def _parse_rate(body: str, expression: str, timezone: str) -> RateSchedule:
    match = _RATE_BODY.match(body.strip())
    if not match:
        raise ScheduleError(f"expected rate(N minutes|hours|days), e.g. rate(30 minutes) or rate(1 day), got {expression!r}")
    amount, unit = int(match.group(1)), match.group(2)
    if (amount == 1) != (not unit.endswith("s")):
        wanted = unit.rstrip("s") if amount == 1 else unit + "s"
        raise ScheduleError(f"expected rate({amount} {wanted}) (singular unit only when N is 1), got {expression!r}")
    interval = amount * _RATE_UNITS[unit.rstrip("s")]
    if interval < timedelta(minutes=MIN_INTERVAL_MINUTES):
        raise ScheduleError(f"expected a schedule no more often than every {MIN_INTERVAL_MINUTES} minutes, got {expression!r}")
    return RateSchedule(expression, timezone, interval)


def _parse_at(body: str, expression: str, timezone: str) -> AtSchedule:
    try:
        moment = datetime.strptime(body.strip(), "%Y-%m-%dT%H:%M:%S")
    except ValueError:
        raise ScheduleError(f"expected at(YYYY-MM-DDThh:mm:ss), got {expression!r}") from None
    return AtSchedule(expression, timezone, moment)


def parse_schedule(expr: str, timezone: str = "UTC") -> Schedule:
    """cron(...), rate(...) or at(...) in `timezone`; raises ScheduleError saying what is wrong."""
    zone_named(timezone)
    if not isinstance(expr, str):
        raise ScheduleError(f"expected a schedule expression cron(...), rate(...) or at(...), got {expr!r}")
    expression = expr.strip()
    for pattern, parse in ((_CRON, _parse_cron), (_RATE, _parse_rate), (_AT, _parse_at)):
        match = pattern.match(expression)
        if match:
            return parse(match.group(1).strip(), expression, timezone)
    raise ScheduleError(f"expected a schedule expression cron(...), rate(...) or at(...), got {expr!r}")
