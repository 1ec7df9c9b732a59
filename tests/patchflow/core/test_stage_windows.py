"""The window a stage waits for in one run: the plan's own, or SSM's as read when the run started."""
from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from patchflow.core.aws_schedules import parse_schedule
from patchflow.core.maintenance_windows import MaintenanceWindow, SsmWindowRef
from patchflow.core.stage_windows import WindowDecision, answer_json, start_refusal, stage_window, window_decision

UTC = timezone.utc
BERLIN = ZoneInfo("Europe/Berlin")
WEEKLY_ID = "mw-0c50858d01e3a1b2c"
WEEKLY = SsmWindowRef("Weekly-Patch-Window")
BY_ID = SsmWindowRef(WEEKLY_ID)
LABEL = f"maintenance window Weekly-Patch-Window ({WEEKLY_ID})"
# A Wednesday noon (UTC); Berlin is on summer time (UTC+2).
NOW = datetime(2026, 5, 6, 12, 0, tzinfo=UTC)


def answer(**changes) -> dict:
    """A GetMaintenanceWindow answer as boto3 gives it, for Sunday 02:00 Berlin time, 4 hours, cutoff 1."""
    base = {
        "WindowId": WEEKLY_ID, "Name": "Weekly-Patch-Window", "Schedule": "cron(0 2 ? * SUN *)", "ScheduleTimezone": "Europe/Berlin",
        "Duration": 4, "Cutoff": 1, "AllowUnassociatedTargets": True, "Enabled": True, "NextExecutionTime": "2026-05-10T02:00+02:00",
        "CreatedDate": datetime(2026, 1, 5, 9, 30, tzinfo=UTC), "ModifiedDate": datetime(2026, 1, 5, 9, 30, tzinfo=UTC),
    }
    return {key: value for key, value in {**base, **changes}.items() if value is not None}


ANSWERS = {"Weekly-Patch-Window": answer()}
PLAN_WINDOW = MaintenanceWindow(parse_schedule("cron(0 13 ? * WED *)", "Europe/Berlin"), 4, 1)


@pytest.mark.parametrize(
    ("window", "answers", "now", "expected"),
    [
        pytest.param(None, {}, NOW, WindowDecision(message="stage prod has no window: always open"), id="always-open"),
        pytest.param(
            PLAN_WINDOW, {}, NOW,
            WindowDecision(last_start_at=datetime(2026, 5, 6, 16, 0, tzinfo=BERLIN),
                           message="stage prod: the plan's window cron(0 13 ? * WED *) is open; new work may start until 2026-05-06 16:00 CEST (Europe/Berlin)"),
            id="plan-window-open",
        ),
        pytest.param(
            WEEKLY, ANSWERS, NOW,
            WindowDecision(wait_until=datetime(2026, 5, 10, 2, 0, tzinfo=BERLIN),
                           message=f"stage prod: {LABEL} allows no new work now; waiting until it opens at 2026-05-10 02:00 CEST (Europe/Berlin), "
                                   "2026-05-10T00:00:00+00:00"),
            id="ssm-window-closed-waits-for-its-next-opening-in-its-own-zone",
        ),
        pytest.param(
            WEEKLY, ANSWERS, datetime(2026, 5, 10, 3, 30, tzinfo=UTC),
            WindowDecision(wait_until=datetime(2026, 5, 17, 2, 0, tzinfo=BERLIN),
                           message=f"stage prod: {LABEL} allows no new work now; waiting until it opens at 2026-05-17 02:00 CEST (Europe/Berlin), "
                                   "2026-05-17T00:00:00+00:00"),
            id="ssm-window-inside-its-cutoff-waits-a-week",
        ),
        pytest.param(
            WEEKLY, ANSWERS, datetime(2026, 5, 10, 0, 30, tzinfo=UTC),
            WindowDecision(last_start_at=datetime(2026, 5, 10, 5, 0, tzinfo=BERLIN),
                           message=f"stage prod: {LABEL} is open; new work may start until 2026-05-10 05:00 CEST (Europe/Berlin)"),
            id="ssm-window-open",
        ),
        pytest.param(
            BY_ID, {WEEKLY_ID: answer(Enabled=False, NextExecutionTime=None)}, NOW,
            WindowDecision(refusal=f"{LABEL} is disabled in SSM", message=f"{LABEL} is disabled in SSM"),
            id="disabled-by-id",
        ),
        pytest.param(
            WEEKLY, {"Weekly-Patch-Window": answer(EndDate="2026-05-06T11:00:00Z")}, NOW,
            WindowDecision(refusal=f"{LABEL} ended 2026-05-06T11:00:00Z", message=f"{LABEL} ended 2026-05-06T11:00:00Z"),
            id="ended-since-the-run-started",
        ),
        pytest.param(
            WEEKLY, {"Weekly-Patch-Window": answer(EndDate="2026-05-09T00:00:00Z")}, NOW,
            WindowDecision(refusal=f"{LABEL} does not open again", message=f"{LABEL} does not open again"),
            id="ends-before-its-next-opening",
        ),
        pytest.param(
            WEEKLY, {}, NOW,
            WindowDecision(refusal="the run's start read no answer from SSM for maintenance window Weekly-Patch-Window",
                           message="the run's start read no answer from SSM for maintenance window Weekly-Patch-Window"),
            id="not-read-at-the-start",
        ),
    ],
)
def test_window_decision(window, answers, now, expected):
    assert window_decision("prod", window, answers, now) == expected


@pytest.mark.parametrize(
    ("window", "found", "expected"),
    [
        pytest.param(None, {}, None, id="always-open"),
        pytest.param(PLAN_WINDOW, {}, None, id="plan-window"),
        pytest.param(WEEKLY, ANSWERS, None, id="ssm-window-closed-is-no-refusal"),
        pytest.param(WEEKLY, {"Weekly-Patch-Window": "no maintenance window named Weekly-Patch-Window in us-east-1"},
                     "no maintenance window named Weekly-Patch-Window in us-east-1", id="missing"),
        pytest.param(WEEKLY, {"Weekly-Patch-Window": answer(Enabled=False)}, f"{LABEL} is disabled in SSM", id="disabled"),
        pytest.param(WEEKLY, {"Weekly-Patch-Window": answer(EndDate="2026-05-01T00:00:00Z")}, f"{LABEL} ended 2026-05-01T00:00:00Z", id="ended"),
        pytest.param(WEEKLY, {"Weekly-Patch-Window": answer(Schedule="cron(0 2 * * SUN *)")},
                     f"{LABEL} has a schedule patchflow cannot follow: expected '?' in exactly one of day-of-month and day-of-week in cron(0 2 * * SUN *), "
                     "got '*' and 'SUN'", id="unreadable-schedule"),
        pytest.param(WEEKLY, {"Weekly-Patch-Window": answer(EndDate="2026-05-09T00:00:00Z")}, f"{LABEL} does not open again", id="never-opens-again"),
    ],
)
def test_start_refusal(window, found, expected):
    assert start_refusal(window, found, NOW) == expected


def test_stage_window_is_ssms_answer_as_it_runs_now():
    assert stage_window(WEEKLY, ANSWERS, NOW) == MaintenanceWindow(parse_schedule("cron(0 2 ? * SUN *)", "Europe/Berlin"), 4, 1)
    assert stage_window(PLAN_WINDOW, {}, NOW) is PLAN_WINDOW


def test_an_answer_goes_into_the_ledger_and_xcom_as_json():
    assert answer_json(answer()) == {
        "WindowId": WEEKLY_ID, "Name": "Weekly-Patch-Window", "Schedule": "cron(0 2 ? * SUN *)", "ScheduleTimezone": "Europe/Berlin",
        "Duration": 4, "Cutoff": 1, "AllowUnassociatedTargets": True, "Enabled": True, "NextExecutionTime": "2026-05-10T02:00+02:00",
        "CreatedDate": "2026-01-05T09:30:00+00:00", "ModifiedDate": "2026-01-05T09:30:00+00:00",
    }
    # The window read back from that JSON is the one read from boto3's answer.
    assert stage_window(WEEKLY, {"Weekly-Patch-Window": answer_json(answer())}, NOW) == stage_window(WEEKLY, ANSWERS, NOW)
