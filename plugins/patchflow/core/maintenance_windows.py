"""Maintenance windows: Duration and Cutoff in whole hours, and whether a window is open now.

A window opens when its schedule fires, lasts `duration_hours` of elapsed time,
and takes no new work in its last `cutoff_hours`, as CreateMaintenanceWindow's
Duration (1-24) and Cutoff (0-23, below Duration) describe.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from patchflow.core.aws_schedules import Schedule, ScheduleError, require_aware
from patchflow.core.durations import iso_duration_seconds, spoken_duration


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
