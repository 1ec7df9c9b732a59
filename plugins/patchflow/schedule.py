"""AWS schedule expressions (cron, rate, at) and maintenance-window arithmetic.

Times are computed on the wall clock of an IANA time zone and returned as
aware datetimes in that zone. Across daylight-saving changes:

- a local time the clock skips (spring forward) fires at the moment the clock
  jumps, so the job still runs that day, once;
- a local time that happens twice (fall back) fires at its first occurrence only.

AWS numbers days of the week 1-7 with 1 = SUN; unix cron (and croniter) uses
0-6 with 0 = SUN. Only `to_airflow_cron` converts between the two.
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


def _require_aware(moment: datetime, what: str) -> None:
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
        _require_aware(after, "after")
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
        _require_aware(at_or_before, "at_or_before")
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
        _require_aware(after, "after")
        if after < self.anchor:
            return self.anchor.astimezone(self.zone)
        steps = (after - self.anchor) // self.interval + 1
        return (self.anchor + steps * self.interval).astimezone(self.zone)

    def previous_fire(self, at_or_before: datetime) -> datetime | None:
        _require_aware(at_or_before, "at_or_before")
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
        _require_aware(after, "after")
        return self.instant if self.instant > after else None

    def previous_fire(self, at_or_before: datetime) -> datetime | None:
        _require_aware(at_or_before, "at_or_before")
        return self.instant if self.instant <= at_or_before else None


# --------------------------------------------------------------------------- day rules


def _aws_weekday(day: date) -> int:
    return (day.weekday() + 1) % 7 + 1


def _nearest_weekday(year: int, month: int, day: int, days_in_month: int) -> int:
    # Quartz semantics: never leaves the month, so the 1st on a Saturday becomes Monday the 3rd.
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


# --------------------------------------------------------------------------- durations

_ISO_DURATION = re.compile(r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$")
_SHORT_DURATION = re.compile(r"^(\d+)\s*(s|m|h|d)$")
_SHORT_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _iso_seconds(text: str) -> int | None:
    match = _ISO_DURATION.match(text)
    if not match or text in ("P", "PT") or text.endswith("T"):
        return None
    days, hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
    return days * 86400 + hours * 3600 + minutes * 60 + seconds


def parse_duration_seconds(value: object) -> int:
    """30 (seconds), '30s', '5m', '2h', '1d', 'PT30S', 'PT1H30M', 'P1D' -> whole seconds."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str):
        text = value.strip()
        short = _SHORT_DURATION.match(text)
        if short:
            return int(short.group(1)) * _SHORT_UNITS[short.group(2)]
        if text.isdigit():
            return int(text)
        seconds = _iso_seconds(text.upper())
        if seconds is not None:
            return seconds
    raise ScheduleError(f"expected a duration like 30s, 5m, 2h or PT30M, got {value!r}")


def parse_window_hours(value: object, low: int, high: int) -> int:
    """Whole hours for a maintenance-window Duration/Cutoff: an integer, or ISO 8601 like PT4H."""
    if isinstance(value, int) and not isinstance(value, bool):
        hours = value
    elif isinstance(value, str) and value.strip().isdigit():
        hours = int(value.strip())
    elif isinstance(value, str) and _iso_seconds(value.strip().upper()) is not None:
        seconds = _iso_seconds(value.strip().upper())
        if seconds % 3600:
            raise ScheduleError(
                f"expected whole hours {low}-{high}, got {value!r} ({_spoken(seconds)}; "
                "maintenance windows take integer hours, so sub-hour values are impossible)"
            )
        hours = seconds // 3600
    else:
        raise ScheduleError(f"expected whole hours {low}-{high} (an integer, or ISO 8601 like PT4H), got {value!r}")
    if not low <= hours <= high:
        raise ScheduleError(f"expected whole hours {low}-{high}, got {value!r}")
    return hours


def _spoken(seconds: int) -> str:
    parts = []
    for size, unit in ((86400, "day"), (3600, "hour"), (60, "minute"), (1, "second")):
        amount, seconds = divmod(seconds, size)
        if amount:
            parts.append(f"{amount} {unit}{'s' if amount != 1 else ''}")
    return " ".join(parts) or "0 seconds"


# --------------------------------------------------------------------------- maintenance windows


@dataclass(frozen=True)
class MaintenanceWindow:
    schedule: Schedule
    duration_hours: int  # 1-24
    cutoff_hours: int  # 0-23, below duration: no new work in the last `cutoff` hours

    def __post_init__(self):
        for name, value, low, high in (("duration_hours", self.duration_hours, 1, 24), ("cutoff_hours", self.cutoff_hours, 0, 23)):
            if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
                raise ScheduleError(f"expected {name} as whole hours {low}-{high}, got {value!r}")
        if self.cutoff_hours >= self.duration_hours:
            raise ScheduleError(
                f"expected a cutoff below the duration of {self.duration_hours} hours, got {self.cutoff_hours}"
            )


@dataclass(frozen=True)
class WindowState:
    """The window around `now`. opened_at/closes_at/last_start_at describe the latest window that
    started at or before now (open or already closed); next_open_at is the next start after now."""

    open: bool
    opened_at: datetime | None
    closes_at: datetime | None
    last_start_at: datetime | None
    next_open_at: datetime | None
    can_start_work: bool

    def to_json(self) -> dict:
        return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in self.__dict__.items()}


def window_state(window: MaintenanceWindow, now: datetime) -> WindowState:
    _require_aware(now, "now")
    started = window.schedule.previous_fire(now)
    following = window.schedule.next_fire(now)
    if started is None:
        return WindowState(False, None, None, None, following, False)
    # Durations are elapsed time, so a window spanning a DST change still lasts `duration` hours.
    closes_at = (started.astimezone(UTC) + timedelta(hours=window.duration_hours)).astimezone(started.tzinfo)
    last_start_at = (closes_at.astimezone(UTC) - timedelta(hours=window.cutoff_hours)).astimezone(started.tzinfo)
    is_open = started <= now < closes_at
    return WindowState(is_open, started, closes_at, last_start_at, following, is_open and now < last_start_at)


# --------------------------------------------------------------------------- Airflow


def airflow_cron_reason(schedule: Schedule) -> str | None:
    """Why `to_airflow_cron` returns None for this schedule, or None when it does not."""
    if not isinstance(schedule, CronSchedule):
        return f"{schedule.expression} is not a cron() schedule; Airflow's cron timetable needs one"
    if schedule.second != 0:
        return f"{schedule.expression} fires at second {schedule.second}; unix cron has no seconds field"
    if schedule.years != tuple(range(EARLIEST_YEAR, LATEST_YEAR + 1)):
        return f"{schedule.expression} restricts the year; unix cron has no year field"
    dom = schedule.day_of_month
    if dom is not None:
        if dom.last_weekday or dom.nearest_weekday:
            return f"{schedule.expression} uses W (nearest weekday); croniter has no W"
        if dom.last_day and dom.days:
            return f"{schedule.expression} mixes L with other days of the month; croniter takes L alone"
    dow = schedule.day_of_week
    if dow is not None:
        specials = len(dow.last_in_month) + len(dow.nth_in_month)
        if specials > 1 or (specials and dow.days):
            return f"{schedule.expression} mixes nL or n#k with other days of the week; croniter takes one alone"
    return None


def _cron_list(values, low: int, high: int) -> str:
    values = sorted(values)
    if values == list(range(low, high + 1)):
        return "*"
    return ",".join(str(v) for v in values)


def to_airflow_cron(schedule: Schedule) -> str | None:
    """The 5-field unix cron (croniter dialect: L, L<dow>, <dow>#k) for an AWS cron(), or None.

    Days of the week shift from AWS 1-7 (1 = SUN) to unix 0-6 (0 = SUN).
    """
    if airflow_cron_reason(schedule) is not None:
        return None
    assert isinstance(schedule, CronSchedule)
    minutes = _cron_list(schedule.minutes, 0, 59)
    hours = _cron_list(schedule.hours, 0, 23)
    months = _cron_list(schedule.months, 1, 12)
    dom, dow = schedule.day_of_month, schedule.day_of_week
    if dom is not None:
        day_of_month = "L" if dom.last_day else _cron_list(dom.days, 1, 31)
        day_of_week = "*"
    else:
        day_of_month = "*"
        if dow.last_in_month:
            day_of_week = f"L{next(iter(dow.last_in_month)) - 1}"
        elif dow.nth_in_month:
            weekday, nth = next(iter(dow.nth_in_month))
            day_of_week = f"{weekday - 1}#{nth}"
        else:
            day_of_week = _cron_list((d - 1 for d in dow.days), 0, 6)
    return f"{minutes} {hours} {day_of_month} {months} {day_of_week}"
