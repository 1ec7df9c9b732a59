"""Maintenance windows: Duration and Cutoff in whole hours, and whether a window is open now.

A window opens when its schedule fires, lasts `duration_hours` of elapsed time,
and takes no new work in its last `cutoff_hours`, as CreateMaintenanceWindow's
Duration (1-24) and Cutoff (0-23, below Duration) describe.

A stage's window is written in the plan (MaintenanceWindow) or kept in SSM and
referenced by name or id (SsmWindowRef); window_from_ssm turns SSM's answer for
such a window into a MaintenanceWindow when a run starts, or says why it cannot.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import Mapping, Sequence

from patchflow.core.aws_schedules import RateSchedule, Schedule, ScheduleError, parse_schedule, require_aware, resolve_local
from patchflow.core.durations import iso_duration_seconds, spoken_duration
from patchflow.core.errors import shown


def parse_window_hours(value: object, low: int, high: int) -> int:
    """Whole hours for a maintenance-window Duration/Cutoff: an integer, or ISO 8601 like PT4H."""
    if isinstance(value, int) and not isinstance(value, bool):
        hours = value
    elif isinstance(value, str) and value.strip().isdigit():
        hours = int(value.strip())
    elif isinstance(value, str) and iso_duration_seconds(value.strip().upper()) is not None:
        seconds = iso_duration_seconds(value.strip().upper())
        if seconds % 3600:
            raise ScheduleError(
                f"expected whole hours {low}-{high}, got {value!r} ({spoken_duration(seconds)}; "
                "maintenance windows take integer hours, so sub-hour values are impossible)"
            )
        hours = seconds // 3600
    else:
        raise ScheduleError(f"expected whole hours {low}-{high} (an integer, or ISO 8601 like PT4H), got {value!r}")
    if not low <= hours <= high:
        raise ScheduleError(f"expected whole hours {low}-{high}, got {value!r}")
    return hours


@dataclass(frozen=True)
class MaintenanceWindow:
    schedule: Schedule
    duration_hours: int  # 1-24
    cutoff_hours: int  # 0-23, below duration: no new work in the last `cutoff` hours

    def __post_init__(self):
        for name, value, low, high in (("duration_hours", self.duration_hours, 1, 24), ("cutoff_hours", self.cutoff_hours, 0, 23)):
            if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
                raise ScheduleError(f"expected {name} as whole hours {low}-{high}, got {value!r}")
        problem = cutoff_problem(self.duration_hours, self.cutoff_hours)
        if problem:
            raise ScheduleError(problem)


def cutoff_problem(duration_hours: int, cutoff_hours: int) -> str | None:
    """Why a window's cutoff does not fit its duration (no new work in the last `cutoff` hours), or None."""
    if cutoff_hours >= duration_hours:
        return f"expected a cutoff below the duration of {duration_hours} hours, got {cutoff_hours}"
    return None


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
    require_aware(now, "now")
    started = window.schedule.previous_fire(now)
    following = window.schedule.next_fire(now)
    if started is None:
        return WindowState(False, None, None, None, following, False)
    # Durations are elapsed time, so a window spanning a DST change still lasts `duration` hours.
    closes_at = (started.astimezone(timezone.utc) + timedelta(hours=window.duration_hours)).astimezone(started.tzinfo)
    last_start_at = (closes_at.astimezone(timezone.utc) - timedelta(hours=window.cutoff_hours)).astimezone(started.tzinfo)
    is_open = started <= now < closes_at
    return WindowState(is_open, started, closes_at, last_start_at, following, is_open and now < last_start_at)


# --------------------------------------------------------------------------- windows kept in SSM

SSM_WINDOW_NAME = re.compile(r"[a-zA-Z0-9_\-.]{3,128}")
SSM_WINDOW_ID = re.compile(r"mw-[0-9a-f]{17}")
SSM_WINDOW_RULE = "a maintenance window name (3-128 letters, digits, _, - or .) or id (mw- and 17 hex digits)"


@dataclass(frozen=True)
class SsmWindowRef:
    """A stage's window that stays in SSM, by name or id: its schedule, time zone, duration and cutoff
    are read from SSM when a run starts (window_from_ssm), so the plan never repeats them."""

    name_or_id: str

    def __post_init__(self):
        if not isinstance(self.name_or_id, str) or not SSM_WINDOW_NAME.fullmatch(self.name_or_id):
            raise ScheduleError(f"expected {SSM_WINDOW_RULE}, got {shown(self.name_or_id)}")

    @property
    def is_id(self) -> bool:
        return SSM_WINDOW_ID.fullmatch(self.name_or_id) is not None


def window_summary(window: MaintenanceWindow | SsmWindowRef | None) -> str:
    """A stage's window in a few words, for DAG docs and previews."""
    if window is None:
        return "always"
    if isinstance(window, SsmWindowRef):
        return f"SSM window {window.name_or_id}"
    return f"{window.schedule.expression}, {window.duration_hours}h, cutoff {window.cutoff_hours}h"


def ssm_window_identity(ref: SsmWindowRef, identities: Sequence[Mapping], region: str) -> Mapping | str:
    """The one window `ref` names among DescribeMaintenanceWindows' WindowIdentities, or why there is none."""
    if ref.is_id:
        found = [w for w in identities if w.get("WindowId") == ref.name_or_id]
        return found[0] if found else f"no maintenance window with id {ref.name_or_id} in {region}"
    found = [w for w in identities if w.get("Name") == ref.name_or_id]
    if not found:
        return f"no maintenance window named {ref.name_or_id} in {region}"
    if len(found) > 1:
        ids = ", ".join(sorted(w.get("WindowId", "?") for w in found))
        return f"{len(found)} maintenance windows are named {ref.name_or_id} in {region} ({ids}); name the stage's window by its id instead"
    return found[0]


@dataclass(frozen=True)
class SsmWindowSchedule(Schedule):
    """A window's openings as SSM runs them: the fires of `inner`, each `offset_days` later on the wall clock
    (ScheduleOffset, cron only), and only those from `starts` (StartDate) until before `ends` (EndDate)."""

    inner: Schedule | None = None
    offset_days: int = 0
    starts: datetime | None = None
    ends: datetime | None = None

    def _opening(self, fire: datetime) -> datetime:
        if not self.offset_days:
            return fire
        return resolve_local(fire.astimezone(self.zone).replace(tzinfo=None) + timedelta(days=self.offset_days), self.zone)

    def next_fire(self, after: datetime) -> datetime | None:
        require_aware(after, "after")
        floor = max(after, self.starts - timedelta(microseconds=1)) if self.starts else after
        # An offset moves wall-clock days, so across a clock change an opening lies up to an hour
        # off the fire plus whole days: look from a little earlier and step forward.
        fire = self.inner.next_fire(floor - timedelta(days=self.offset_days, hours=2))
        while fire is not None and self._opening(fire) <= floor:
            fire = self.inner.next_fire(fire)
        if fire is None or (self.ends is not None and self._opening(fire) >= self.ends):
            return None
        return self._opening(fire)

    def previous_fire(self, at_or_before: datetime) -> datetime | None:
        require_aware(at_or_before, "at_or_before")
        ceiling = min(at_or_before, self.ends - timedelta(microseconds=1)) if self.ends else at_or_before
        fire = self.inner.previous_fire(ceiling - timedelta(days=self.offset_days) + timedelta(hours=2))
        while fire is not None and self._opening(fire) > ceiling:
            fire = self.inner.previous_fire(fire - timedelta(microseconds=1))
        if fire is None or (self.starts is not None and self._opening(fire) < self.starts):
            return None
        return self._opening(fire)


def ssm_moment(value: object) -> datetime | None:
    """A date and time as boto3 or the AWS CLI gives it: a datetime, ISO 8601 text, or epoch seconds."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, timezone.utc)
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f"expected an ISO 8601 date and time, got {value!r}") from None
    else:
        raise ValueError(f"expected an ISO 8601 date and time, got {value!r}")
    # SSM's dates without an offset are UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


def window_from_ssm(window: Mapping, now: datetime) -> MaintenanceWindow | str:
    """A GetMaintenanceWindow answer as the MaintenanceWindow it runs as now, or why a stage cannot use it.

    Pure: the caller reads the answer from SSM when the run starts. A StartDate in the future is fine
    (the window first opens after it); a disabled window or one past its EndDate is refused.
    """
    require_aware(now, "now")
    label = f"maintenance window {window.get('Name', '?')} ({window.get('WindowId', '?')})"
    if window.get("Enabled") is False:
        return f"{label} is disabled in SSM"
    try:
        starts, ends = ssm_moment(window.get("StartDate")), ssm_moment(window.get("EndDate"))
    except ValueError as exc:
        return f"{label} has a StartDate or EndDate patchflow cannot read: {exc}"
    if ends is not None and ends <= now:
        return f"{label} ended {window['EndDate']}"
    zone = window.get("ScheduleTimezone") or "UTC"
    expression = window.get("Schedule")
    try:
        schedule = parse_schedule(expression, zone)
    except ScheduleError as exc:
        return f"{label} has a schedule patchflow cannot follow: {exc}"
    offset = window.get("ScheduleOffset") or 0
    if offset and schedule.kind != "cron":
        return f"{label} has ScheduleOffset {offset} on {expression}; SSM takes an offset with cron() schedules only"
    if isinstance(schedule, RateSchedule):
        # Where SSM starts counting a rate is not part of its answer; the next execution it
        # names is one of the fires, so the count starts there (never before the window existed).
        try:
            following = ssm_moment(window.get("NextExecutionTime"))
        except ValueError as exc:
            return f"{label} has a NextExecutionTime patchflow cannot read: {exc}"
        if following is None:
            return f"{label} runs on {expression} and SSM names no NextExecutionTime, so patchflow cannot tell when it opens"
        anchor = following - schedule.interval
        try:
            created = ssm_moment(window.get("CreatedDate"))
        except ValueError:
            created = None
        schedule = replace(schedule, anchor=following if created is not None and anchor < created else anchor)
    try:
        built = MaintenanceWindow(schedule, window.get("Duration"), window.get("Cutoff", 0))
    except ScheduleError as exc:
        return f"{label} cannot be followed: {exc}"
    if offset or starts or ends:
        built = replace(built, schedule=SsmWindowSchedule(schedule.expression, schedule.timezone, schedule, offset, starts, ends))
    return built
