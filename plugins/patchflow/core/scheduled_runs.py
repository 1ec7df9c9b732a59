"""Scheduled runs: which stages one patches, and when it starts too late to patch at all.

A plan's calendar is its own cron (every scheduled run patches every stage) or its stages'
crons (a run patches the stages whose cron fires at the run's time; stages sharing a cron run
together). Manual runs patch what their trigger form says and are never refused for lateness.

With catchup off, Airflow's cron trigger timetables still create a run for the latest fire
already past when the scheduler first sees the DAG or comes back after downtime
(`next_dagrun_info` takes the latest of `_align_to_prev(now)` and the next fire), so a
deployment on a Wednesday would at once patch for last Sunday. A scheduled run that starts
more than the plan's `late_start_limit` after its time therefore patches nothing and says why.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from patchflow.core.aws_schedules import Schedule
from patchflow.core.durations import parse_duration_seconds, spoken_duration
from patchflow.core.plan_model import RolloutPlan
from patchflow.core.promotion import skipped_between

DEFAULT_LATE_START_LIMIT = "1h"
LATE_START_LIMIT_RANGE = (5 * 60, 7 * 86400)
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

# Where plan validation looks for stage schedules that would run a pinned stage without the stage
# before it: a fixed stretch, so lint gives the same answer every day, long enough for monthly
# calendars to meet. A run that meets such a moment beyond it still patches nothing unproven.
CONFLICT_SEARCH_FROM = datetime(2026, 1, 1, tzinfo=timezone.utc)
CONFLICT_SEARCH_DAYS = 2 * 366
CONFLICT_SEARCH_FIRES = 500


def parse_late_start_limit(value: object) -> int:
    seconds = parse_duration_seconds(value)
    if not LATE_START_LIMIT_RANGE[0] <= seconds <= LATE_START_LIMIT_RANGE[1]:
        raise ValueError(f"expected a late_start_limit from 5 minutes to 7 days, got {value!r}")
    return seconds


def fires_at(schedule: Schedule, moment: datetime) -> bool:
    return schedule.previous_fire(moment) == moment


def has_stage_schedules(plan: RolloutPlan) -> bool:
    return any(stage.schedule is not None for stage in plan.stages)


def stages_due(plan: RolloutPlan, moment: datetime) -> tuple[str, ...]:
    """The stages whose schedule fires at `moment`, in plan order (all of them when the plan's own cron fires)."""
    if plan.schedule is None:
        return ()
    if plan.schedule.schedule is not None:
        return plan.stage_names if fires_at(plan.schedule.schedule, moment) else ()
    return tuple(stage.name for stage in plan.stages if stage.schedule is not None and fires_at(stage.schedule, moment))


@dataclass(frozen=True)
class ScheduledSelection:
    stages: tuple[str, ...]  # what the run patches
    left_out: tuple[str, ...] = ()  # why each stage that was due is not patched


def scheduled_selection(plan: RolloutPlan, moment: datetime) -> ScheduledSelection:
    """What a scheduled run at `moment` patches: the stages due, less any pinned stage that would install an unproven set.

    A pinned stage due with its source but without the stage before it would install what the
    source makes in this very run, which never passed that stage: it waits for a run of its own
    (a manual run of it installs the newest release that did). Plan validation refuses calendars
    where this happens in CONFLICT_SEARCH_DAYS; this keeps it safe beyond them.
    """
    stages = stages_due(plan, moment)
    left_out: list[str] = []
    while unproven := skipped_between(plan, stages):
        dropped = {stage for stage, _ in unproven}
        left_out += [
            f"{stage} is due, but {before} is not, and {stage} installs only a release that passed {before}" for stage, before in unproven
        ]
        stages = tuple(name for name in stages if name not in dropped)
    return ScheduledSelection(stages, tuple(left_out))


def next_scheduled_run(plan: RolloutPlan, after: datetime) -> tuple[datetime, tuple[str, ...]] | None:
    """The first scheduled run after `after` and the stages it patches, or None if the calendar never fires again."""
    if plan.schedule is None:
        return None
    schedules = [plan.schedule.schedule] if plan.schedule.schedule is not None else [s.schedule for s in plan.stages if s.schedule is not None]
    fires = [fire for fire in (schedule.next_fire(after) for schedule in schedules) if fire is not None]
    if not fires:
        return None
    moment = min(fires)
    return moment, scheduled_selection(plan, moment).stages


def next_run_of_stage(plan: RolloutPlan, stage_name: str, after: datetime) -> datetime | None:
    """When the calendar next patches the stage: its own cron, else the plan's; None for a stage only people trigger."""
    stage = plan.stage(stage_name)
    schedule = stage.schedule or (plan.schedule.schedule if plan.schedule is not None else None)
    return schedule.next_fire(after) if schedule is not None else None


def spoken_moment(moment: datetime, zone: str) -> str:
    """'Sun 29 Nov 02:00' on the wall clock of `zone`."""
    local = moment.astimezone(ZoneInfo(zone))
    return f"{WEEKDAYS[local.weekday()]} {local.day:02d} {MONTHS[local.month - 1]} {local:%H:%M}"


def _next_run_text(plan: RolloutPlan, after: datetime, zone: str) -> str:
    found = next_scheduled_run(plan, after)
    if found is None:
        return "the schedule fires no more"
    moment, stages = found
    for_stages = f" ({', '.join(stages)})" if plan.schedule.schedule is None else ""
    return f"the next scheduled run is {spoken_moment(moment, zone)}{for_stages}"


def refused_start(plan: RolloutPlan, scheduled_at: datetime, started_at: datetime) -> str | None:
    """Why a scheduled run for `scheduled_at` starting at `started_at` patches nothing, or None when it patches.

    It patches nothing when it starts more than the plan's late_start_limit after its time, or
    when no stage is due then (the plan changed after Airflow scheduled the run).
    """
    zone = plan.schedule.timezone if plan.schedule else "UTC"
    limit = plan.schedule.late_start_limit_seconds if plan.schedule else parse_duration_seconds(DEFAULT_LATE_START_LIMIT)
    scheduled = f"scheduled for {spoken_moment(scheduled_at, zone)} {zone}"
    late = started_at - scheduled_at
    if late > timedelta(seconds=limit):
        whole_minutes = int(late.total_seconds()) // 60 * 60
        why = f"{scheduled}, started {spoken_duration(whole_minutes)} late (limit {spoken_duration(limit)})"
    elif not scheduled_selection(plan, scheduled_at).stages:
        why = f"{scheduled}, when no stage is due (the plan's schedules changed since)"
    else:
        return None
    return f"{why}; nothing patched — {_next_run_text(plan, started_at, zone)}"


@dataclass(frozen=True)
class CalendarConflict:
    stage: str  # a pinned stage
    source: str  # what it is pinned to
    before: str  # the stage its release must have passed
    moment: datetime  # the first time it would run with its source but without `before`


def calendar_conflicts(plan: RolloutPlan) -> list[CalendarConflict]:
    """Pinned stages whose schedule runs them with their source but without the stage before them (see scheduled_selection)."""
    conflicts: list[CalendarConflict] = []
    until = CONFLICT_SEARCH_FROM + timedelta(days=CONFLICT_SEARCH_DAYS)
    for stage in plan.stages:
        if stage.schedule is None or stage.pin_to is None:
            continue
        moment = CONFLICT_SEARCH_FROM
        for _ in range(CONFLICT_SEARCH_FIRES):
            moment = stage.schedule.next_fire(moment)
            if moment is None or moment > until:
                break
            unproven = dict(skipped_between(plan, stages_due(plan, moment)))
            if stage.name in unproven:
                conflicts.append(CalendarConflict(stage.name, stage.pin_to, unproven[stage.name], moment))
                break
    return conflicts
