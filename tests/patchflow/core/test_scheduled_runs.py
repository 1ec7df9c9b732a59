"""Scheduled runs (patchflow.core.scheduled_runs): which stages one patches, and when it starts too late to patch, as tables."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from patchflow.core.aws_schedules import parse_schedule
from patchflow.core.plan import load_plan, parse_plan
from patchflow.core.plan_model import RolloutPlan
from patchflow.core.scheduled_runs import (
    ScheduledSelection,
    calendar_conflicts,
    next_run_of_stage,
    next_scheduled_run,
    parse_late_start_limit,
    refused_start,
    scheduled_selection,
    stages_due,
)
from patchflow.core.yamlfile import PROJECT_ROOT

BERLIN = ZoneInfo("Europe/Berlin")


def berlin(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=BERLIN)


def calendar(*stages: tuple[str, str | None, str | None], **schedule) -> RolloutPlan:
    """A plan of (name, pin_to, cron) stages in Berlin time, the last one approved by a human; `schedule` adds top-level keys."""
    listed = [
        {"name": name, "patch_group": name, **({"pin_to": pin_to} if pin_to else {}), **({"schedule": {"cron": cron}} if cron else {})}
        for name, pin_to, cron in stages
    ]
    listed[-1]["approval"] = True
    plan = {"name": "calendar-probe", "owner": "release-engineering", "ledger": "s3://patchflow-ledger/runs",
            "schedule": {"timezone": "Europe/Berlin", **schedule}, "stages": listed}
    return parse_plan(plan, "plan.yaml")


# dev the evening of Patch Tuesday, test a week later, prod a week after that (include/rollouts/monthly.yaml).
MONTHLY = calendar(("dev", None, "cron(0 22 ? * TUE#2 *)"), ("test", "dev", "cron(0 22 ? * TUE#3 *)"), ("prod", "dev", "cron(0 9 ? * TUE#4 *)"))
# dev and test share a cron, so they run together; prod has a day of its own.
SHARED = calendar(("dev", None, "cron(0 22 ? * TUE#2 *)"), ("test", "dev", "cron(0 22 ? * TUE#2 *)"), ("prod", "dev", "cron(0 9 ? * TUE#4 *)"))
# Only prod has a schedule: dev and test run when somebody triggers them.
PROD_ONLY = calendar(("dev", None, None), ("test", "dev", None), ("prod", "dev", "cron(0 9 ? * TUE#4 *)"))
PLAN_CRON = parse_plan({"name": "plan-cron", "owner": "release-engineering", "schedule": {"cron": "cron(0 1 ? * SUN *)", "timezone": "Europe/Berlin"},
                        "stages": [{"name": "dev", "patch_group": "dev"}, {"name": "prod", "patch_group": "prod", "approval": True}]}, "plan.yaml")
MANUAL = parse_plan({"name": "manual", "owner": "release-engineering", "stages": [{"name": "dev", "patch_group": "dev", "approval": True}]}, "plan.yaml")


@pytest.mark.parametrize(
    ("plan", "moment", "due"),
    [
        pytest.param(MONTHLY, berlin(2026, 11, 10, 22), ("dev",), id="patch-tuesday-evening-dev"),
        pytest.param(MONTHLY, berlin(2026, 11, 17, 22), ("test",), id="a-week-later-test"),
        pytest.param(MONTHLY, berlin(2026, 11, 24, 9), ("prod",), id="two-weeks-later-prod"),
        pytest.param(MONTHLY, berlin(2026, 11, 10, 22, 1), (), id="a-minute-after-dev-none"),
        pytest.param(MONTHLY, berlin(2026, 11, 3, 22), (), id="first-tuesday-none"),
        pytest.param(MONTHLY, berlin(2026, 11, 10, 21).astimezone(timezone.utc) + timedelta(hours=1), ("dev",), id="the-same-instant-in-utc"),
        pytest.param(SHARED, berlin(2026, 11, 10, 22), ("dev", "test"), id="stages-sharing-a-cron-run-together"),
        pytest.param(PROD_ONLY, berlin(2026, 11, 24, 9), ("prod",), id="only-the-stage-with-a-schedule"),
        pytest.param(PLAN_CRON, berlin(2026, 11, 29, 1), ("dev", "prod"), id="plan-cron-every-stage"),
        pytest.param(PLAN_CRON, berlin(2026, 11, 29, 2), (), id="plan-cron-not-firing"),
        pytest.param(MANUAL, berlin(2026, 11, 29, 1), (), id="manual-plan"),
    ],
)
def test_stages_due(plan, moment, due):
    assert stages_due(plan, moment) == due


def scheduled_anyway(plan: RolloutPlan, **crons: str) -> RolloutPlan:
    """The plan with these stages' schedules set past plan validation, which refuses them (test_plan.py): what a run must still survive."""
    stages = tuple(replace(s, schedule=parse_schedule(crons[s.name], "Europe/Berlin")) if s.name in crons else s for s in plan.stages)
    return replace(plan, stages=stages)


# dev every Tuesday evening, test on the third Wednesday, prod on the fourth Tuesday: with dev but without test.
WEEKLY_DEV = scheduled_anyway(calendar(("dev", None, "cron(0 22 ? * TUE *)"), ("test", "dev", "cron(0 22 ? * WED#3 *)"), ("prod", "dev", None)),
                              prod="cron(0 22 ? * TUE#4 *)")
# qa, test and prod pinned to dev: with qa left out, test goes, and then prod has lost the stage before it.
CHAINED = scheduled_anyway(calendar(("dev", None, "cron(0 22 ? * TUE *)"), ("qa", "dev", "cron(0 22 ? * WED *)"), ("test", "dev", None), ("prod", "dev", None)),
                           test="cron(0 22 ? * TUE *)", prod="cron(0 22 ? * TUE *)")


@pytest.mark.parametrize(
    ("plan", "moment", "selection"),
    [
        pytest.param(MONTHLY, berlin(2026, 11, 10, 22), ScheduledSelection(("dev",)), id="one-stage"),
        pytest.param(SHARED, berlin(2026, 11, 10, 22), ScheduledSelection(("dev", "test")), id="a-pinned-stage-with-its-source-and-the-stage-before"),
        pytest.param(WEEKLY_DEV, berlin(2026, 11, 3, 22), ScheduledSelection(("dev",)), id="dev-alone"),
        pytest.param(
            WEEKLY_DEV, berlin(2026, 11, 24, 22),
            ScheduledSelection(("dev",), ("prod is due, but test is not, and prod installs only a release that passed test",)),
            id="a-pinned-stage-with-its-source-but-without-the-stage-before-waits",
        ),
        pytest.param(
            CHAINED, berlin(2026, 11, 24, 22),
            ScheduledSelection(("dev",), ("test is due, but qa is not, and test installs only a release that passed qa",
                                          "prod is due, but test is not, and prod installs only a release that passed test")),
            id="left-out-in-turn",
        ),
        pytest.param(MONTHLY, berlin(2026, 11, 3, 22), ScheduledSelection(()), id="none-due"),
    ],
)
def test_scheduled_selection(plan, moment, selection):
    assert scheduled_selection(plan, moment) == selection


@pytest.mark.parametrize(
    ("plan", "after", "expected"),
    [
        pytest.param(MONTHLY, berlin(2026, 11, 10, 22), (berlin(2026, 11, 17, 22), ("test",)), id="the-next-stage"),
        pytest.param(MONTHLY, berlin(2026, 11, 24, 9), (berlin(2026, 12, 8, 22), ("dev",)), id="next-month"),
        pytest.param(SHARED, berlin(2026, 11, 1), (berlin(2026, 11, 10, 22), ("dev", "test")), id="shared"),
        pytest.param(PLAN_CRON, berlin(2026, 11, 29, 1), (berlin(2026, 12, 6, 1), ("dev", "prod")), id="plan-cron"),
        pytest.param(MANUAL, berlin(2026, 11, 29, 1), None, id="manual"),
    ],
)
def test_next_scheduled_run(plan, after, expected):
    assert next_scheduled_run(plan, after) == expected


# The last Sunday, and the second Wednesday: 29 Nov and 09 Dec 2026.
SUNDAY_AND_WEDNESDAY = calendar(("dev", None, "cron(0 2 ? * WED#2 *)"), ("prod", None, "cron(0 2 ? * 1L *)"))
SUNDAY_TICK = berlin(2026, 11, 29, 2)


@pytest.mark.parametrize(
    ("plan", "scheduled_at", "started_at", "refused"),
    [
        pytest.param(SUNDAY_AND_WEDNESDAY, SUNDAY_TICK, SUNDAY_TICK, None, id="on-time"),
        pytest.param(SUNDAY_AND_WEDNESDAY, SUNDAY_TICK, SUNDAY_TICK + timedelta(minutes=59), None, id="59-minutes-late"),
        pytest.param(SUNDAY_AND_WEDNESDAY, SUNDAY_TICK, SUNDAY_TICK + timedelta(hours=1), None, id="exactly-the-limit"),
        pytest.param(SUNDAY_AND_WEDNESDAY, SUNDAY_TICK, SUNDAY_TICK - timedelta(seconds=5), None, id="early-by-a-clock-skew"),
        pytest.param(
            SUNDAY_AND_WEDNESDAY, SUNDAY_TICK, SUNDAY_TICK + timedelta(hours=2, seconds=30),
            "scheduled for Sun 29 Nov 02:00 Europe/Berlin, started 2 hours late (limit 1 hour); nothing patched — "
            "the next scheduled run is Wed 09 Dec 02:00 (dev)",
            id="2-hours-late",
        ),
        pytest.param(
            SUNDAY_AND_WEDNESDAY, SUNDAY_TICK, SUNDAY_TICK + timedelta(days=3, hours=4, minutes=12),
            "scheduled for Sun 29 Nov 02:00 Europe/Berlin, started 3 days 4 hours 12 minutes late (limit 1 hour); nothing patched — "
            "the next scheduled run is Wed 09 Dec 02:00 (dev)",
            id="3-days-late",
        ),
        pytest.param(
            calendar(("dev", None, "cron(0 2 ? * WED#2 *)"), ("prod", None, "cron(0 2 ? * 1L *)"), late_start_limit="6h"),
            SUNDAY_TICK, SUNDAY_TICK + timedelta(hours=5), None, id="within-a-longer-limit",
        ),
        pytest.param(
            calendar(("dev", None, "cron(0 2 ? * WED#2 *)"), ("prod", None, "cron(0 2 ? * 1L *)"), late_start_limit="PT6H"),
            SUNDAY_TICK, SUNDAY_TICK + timedelta(hours=7),
            "scheduled for Sun 29 Nov 02:00 Europe/Berlin, started 7 hours late (limit 6 hours); nothing patched — "
            "the next scheduled run is Wed 09 Dec 02:00 (dev)",
            id="beyond-a-longer-limit",
        ),
        pytest.param(
            PLAN_CRON, berlin(2026, 11, 29, 1), berlin(2026, 12, 2, 9),
            "scheduled for Sun 29 Nov 01:00 Europe/Berlin, started 3 days 8 hours late (limit 1 hour); nothing patched — "
            "the next scheduled run is Sun 06 Dec 01:00",
            id="plan-cron-late",
        ),
        pytest.param(
            MONTHLY, berlin(2026, 11, 3, 22), berlin(2026, 11, 3, 22, 1),
            "scheduled for Tue 03 Nov 22:00 Europe/Berlin, when no stage is due (the plan's schedules changed since); nothing patched — "
            "the next scheduled run is Tue 10 Nov 22:00 (dev)",
            id="no-stage-due",
        ),
        pytest.param(
            MANUAL, berlin(2026, 11, 3, 22), berlin(2026, 11, 3, 22, 1),
            "scheduled for Tue 03 Nov 21:00 UTC, when no stage is due (the plan's schedules changed since); nothing patched — "
            "the schedule fires no more",
            id="plan-made-manual-since",
        ),
    ],
)
def test_refused_start(plan, scheduled_at, started_at, refused):
    assert refused_start(plan, scheduled_at, started_at) == refused


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        pytest.param("1h", 3600, id="short"),
        pytest.param("PT90M", 5400, id="iso"),
        pytest.param(300, 300, id="five-minutes-in-seconds"),
        pytest.param("7d", 604800, id="a-week"),
    ],
)
def test_parse_late_start_limit(value, seconds):
    assert parse_late_start_limit(value) == seconds


@pytest.mark.parametrize(
    ("value", "message"),
    [
        pytest.param("4m", "expected a late_start_limit from 5 minutes to 7 days, got '4m'", id="too-short"),
        pytest.param("8d", "expected a late_start_limit from 5 minutes to 7 days, got '8d'", id="too-long"),
        pytest.param("soon", "expected a duration like 30s, 5m, 2h or PT30M, got 'soon'", id="not-a-duration"),
    ],
)
def test_parse_late_start_limit_refuses(value, message):
    with pytest.raises(ValueError) as caught:
        parse_late_start_limit(value)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("plan", "conflicts"),
    [
        pytest.param(MONTHLY, [], id="monthly-never-meets"),
        pytest.param(SHARED, [], id="with-the-stage-before-too"),
        pytest.param(PROD_ONLY, [], id="source-without-a-schedule"),
        pytest.param(
            WEEKLY_DEV, [("prod", "dev", "test", berlin(2026, 1, 27, 22))], id="weekly-source-meets-monthly-prod",
        ),
    ],
)
def test_calendar_conflicts(plan, conflicts):
    assert [(c.stage, c.source, c.before, c.moment) for c in calendar_conflicts(plan)] == conflicts


@pytest.mark.parametrize(
    ("plan_file", "after", "expected"),
    [
        pytest.param("monthly.yaml", datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc),
                     {"dev": datetime(2026, 12, 8, 21, 0, tzinfo=timezone.utc), "test": datetime(2026, 12, 15, 21, 0, tzinfo=timezone.utc),
                      "prod": datetime(2026, 12, 22, 8, 0, tzinfo=timezone.utc)}, id="each-stage-on-its-own-cron"),
        pytest.param("weekly.yaml", datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc),
                     {name: datetime(2026, 12, 6, 0, 0, tzinfo=timezone.utc) for name in ("dev", "test", "prod")}, id="every-stage-on-the-plan-cron"),
        pytest.param("demo.yaml", datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc), {"dev": None, "test": None, "prod": None}, id="manual-plan"),
    ],
)
def test_next_run_of_stage(plan_file, after, expected):
    plan = load_plan(PROJECT_ROOT / "include" / "rollouts" / plan_file)
    found = {stage: next_run_of_stage(plan, stage, after) for stage in plan.stage_names}
    assert {stage: moment.astimezone(timezone.utc) if moment else None for stage, moment in found.items()} == expected
