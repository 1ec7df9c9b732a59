"""The window a stage waits for in one run: written in the plan, or kept in SSM and read when the run starts.

The run's start reads the SSM window of every selected stage once and passes SSM's answers on,
keyed by the reference as the plan writes it (`answers`); the window task and each wave build the
stage's MaintenanceWindow from those answers at their own moment, so a window whose EndDate
passed in the meantime stops the stage then. Pure: answers in, decisions out.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Mapping
from zoneinfo import ZoneInfo

from patchflow.core.maintenance_windows import MaintenanceWindow, SsmWindowRef, window_from_ssm, window_state

PlanWindow = MaintenanceWindow | SsmWindowRef | None


def answer_json(answer: Mapping) -> dict[str, Any]:
    """A GetMaintenanceWindow answer as JSON (boto3 gives CreatedDate and ModifiedDate as datetimes)."""
    return {key: value.isoformat() if isinstance(value, datetime) else value for key, value in answer.items()}


def stage_window(window: PlanWindow, answers: Mapping[str, Mapping], now: datetime) -> MaintenanceWindow | str | None:
    """The window the stage follows now: the plan's own, SSM's as read at the run's start, None for always open;
    or why the stage cannot follow its SSM window."""
    if not isinstance(window, SsmWindowRef):
        return window
    answer = answers.get(window.name_or_id)
    if answer is None:
        return f"the run's start read no answer from SSM for maintenance window {window.name_or_id}"
    return window_from_ssm(answer, now)


def window_label(window: MaintenanceWindow | SsmWindowRef, answers: Mapping[str, Mapping]) -> str:
    """The stage's window as people know it: the SSM window's name and id, or the plan's schedule."""
    if isinstance(window, SsmWindowRef):
        answer = answers.get(window.name_or_id) or {}
        return f"maintenance window {answer.get('Name', window.name_or_id)} ({answer.get('WindowId', '?')})"
    return f"the plan's window {window.schedule.expression}"


def local_time(moment: datetime, zone_name: str) -> str:
    """`moment` on the window's own wall clock, its zone named: 2026-05-10 02:00 CEST (Europe/Berlin)."""
    return f"{moment.astimezone(ZoneInfo(zone_name)).strftime('%Y-%m-%d %H:%M %Z')} ({zone_name})"


@dataclass(frozen=True)
class WindowDecision:
    """What the stage's window task does now: go on (until `last_start_at`, None when always open),
    wait until `wait_until`, or stop the stage for `refusal`. `message` says it to a person."""

    last_start_at: datetime | None = None
    wait_until: datetime | None = None
    refusal: str | None = None
    message: str = ""

    @property
    def can_start_work(self) -> bool:
        return self.wait_until is None and self.refusal is None


def window_decision(stage_name: str, window: PlanWindow, answers: Mapping[str, Mapping], now: datetime) -> WindowDecision:
    """Whether the stage may start work now, must wait for its window's next opening, or cannot use its window."""
    followed = stage_window(window, answers, now)
    if followed is None:
        return WindowDecision(message=f"stage {stage_name} has no window: always open")
    if isinstance(followed, str):
        return WindowDecision(refusal=followed, message=followed)
    label = window_label(window, answers)
    state = window_state(followed, now)
    zone = followed.schedule.timezone
    if state.can_start_work:
        return WindowDecision(
            last_start_at=state.last_start_at,
            message=f"stage {stage_name}: {label} is open; new work may start until {local_time(state.last_start_at, zone)}",
        )
    if state.next_open_at is None:
        reason = f"{label} does not open again"
        return WindowDecision(refusal=reason, message=reason)
    return WindowDecision(
        wait_until=state.next_open_at,
        message=(
            f"stage {stage_name}: {label} allows no new work now; waiting until it opens at {local_time(state.next_open_at, zone)}, "
            f"{state.next_open_at.astimezone(timezone.utc).isoformat()}"
        ),
    )


def start_refusal(window: PlanWindow, found: Mapping[str, Mapping | str], now: datetime) -> str | None:
    """Why a stage cannot run with the SSM window its plan names, as read at the run's start (`found`: the
    reference -> SSM's answer, or why there is none); None when it can, or when the plan writes its window."""
    if not isinstance(window, SsmWindowRef):
        return None
    read = found.get(window.name_or_id)
    if isinstance(read, str):
        return read
    answers = {window.name_or_id: read} if read is not None else {}
    decision = window_decision("", window, answers, now)
    return decision.refusal
