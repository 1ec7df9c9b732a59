"""AWS cron() to the unix cron Airflow runs: what converts, what cannot and why, and that both fire alike."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from croniter import croniter

from patchflow.core.aws_schedules import parse_schedule
from patchflow.core.schedule import airflow_cron_reason, to_airflow_cron

UTC = timezone.utc


def iso(moments) -> list[str]:
    return [m.isoformat() for m in moments]


@pytest.mark.parametrize(
    ("expression", "cron"),
    [
        pytest.param("cron(0 2 ? * SUN *)", "0 2 * * 0", id="sunday-shifts-to-0"),
        pytest.param("cron(0 2 ? * SAT *)", "0 2 * * 6", id="saturday-shifts-to-6"),
        pytest.param("cron(0 18 ? * MON-FRI *)", "0 18 * * 1,2,3,4,5", id="weekdays"),
        pytest.param("cron(30 23 ? * TUE#3 *)", "30 23 * * 2#3", id="nth"),
        pytest.param("cron(0 2 ? * 6L *)", "0 2 * * L5", id="last-friday"),
        pytest.param("cron(0 2 L * ? *)", "0 2 L * *", id="last-day"),
        pytest.param("cron(0/15 * 1,15 * ? *)", "0,15,30,45 * 1,15 * *", id="steps-expanded"),
        pytest.param("cron(0 2 ? JAN,JUL * *)", "0 2 * 1,7 *", id="months-and-every-day"),
        pytest.param("cron(0 2 15W * ? *)", "0 2 15W * *", id="nearest-weekday"),
        pytest.param("cron(0 2 28W * ? *)", "0 2 28W * *", id="nearest-weekday-every-month-has-the-day"),
        pytest.param("cron(0 2 31W JAN,MAR ? *)", "0 2 31W 1,3 *", id="nearest-weekday-late-day-in-long-months-only"),
    ],
)
def test_to_airflow_cron(expression, cron):
    schedule = parse_schedule(expression)
    assert (to_airflow_cron(schedule), airflow_cron_reason(schedule)) == (cron, None)


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        pytest.param("cron(0 2 ? * SUN 2027)", "cron(0 2 ? * SUN 2027) restricts the year; unix cron has no year field", id="year"),
        pytest.param("cron(10 0 2 ? * SUN *)", "cron(10 0 2 ? * SUN *) fires at second 10; unix cron has no seconds field", id="seconds"),
        pytest.param("cron(0 2 LW * ? *)", "cron(0 2 LW * ? *) uses LW (the last weekday of the month); croniter has no LW", id="last-weekday"),
        pytest.param("cron(0 2 1W,15W * ? *)", "cron(0 2 1W,15W * ? *) mixes nW with other days of the month; croniter takes nW alone", id="two-nearest-weekdays"),
        pytest.param("cron(0 2 1,15W * ? *)", "cron(0 2 1,15W * ? *) mixes nW with other days of the month; croniter takes nW alone", id="nearest-weekday-and-a-day"),
        pytest.param("cron(0 2 L,15W * ? *)", "cron(0 2 L,15W * ? *) mixes nW with other days of the month; croniter takes nW alone", id="nearest-weekday-and-last-day"),
        pytest.param(
            "cron(0 2 31W * ? *)",
            "cron(0 2 31W * ? *) uses 31W in months shorter than 31 days, where croniter fires on the month's last weekday and this schedule skips the month",
            id="nearest-weekday-past-the-end-of-short-months",
        ),
        pytest.param(
            "cron(0 2 29W FEB ? *)",
            "cron(0 2 29W FEB ? *) uses 29W in months shorter than 29 days, where croniter fires on the month's last weekday and this schedule skips the month",
            id="nearest-weekday-february-29",
        ),
        pytest.param("cron(0 2 ? * 2#1,6L *)", "cron(0 2 ? * 2#1,6L *) mixes nL or n#k with other days of the week; croniter takes one alone", id="mixed-specials"),
        pytest.param("rate(1 day)", "rate(1 day) is not a cron() schedule; Airflow's cron timetable needs one", id="rate"),
        pytest.param("at(2026-01-01T00:00:00)", "at(2026-01-01T00:00:00) is not a cron() schedule; Airflow's cron timetable needs one", id="at"),
    ],
)
def test_to_airflow_cron_none_with_reason(expression, reason):
    schedule = parse_schedule(expression)
    assert (to_airflow_cron(schedule), airflow_cron_reason(schedule)) == (None, reason)


@pytest.mark.parametrize(
    "expression",
    [
        pytest.param("cron(0 2 ? * SUN *)", id="weekly"),
        pytest.param("cron(30 23 ? * TUE#3 *)", id="nth-weekday"),
        pytest.param("cron(0 2 ? * 6L *)", id="last-friday"),
        pytest.param("cron(0 2 L * ? *)", id="last-day"),
        pytest.param("cron(0/15 8-17 ? * MON-FRI *)", id="working-hours"),
        pytest.param("cron(5 4 1,15 */2 ? *)", id="days-every-other-month"),
        # 40 months from January 2026 hold every case of W: a 1st on a Saturday (August 2026)
        # and on a Sunday, a 15th on either, a 28th or 31st at a weekend.
        pytest.param("cron(0 2 1W * ? *)", id="nearest-weekday-first"),
        pytest.param("cron(0 2 15W * ? *)", id="nearest-weekday-fifteenth"),
        pytest.param("cron(0 2 28W * ? *)", id="nearest-weekday-twenty-eighth"),
        pytest.param("cron(0 2 31W JAN,MAR,MAY,JUL,AUG,OCT,DEC ? *)", id="nearest-weekday-thirty-first"),
    ],
)
def test_airflow_cron_fires_when_the_aws_schedule_does(expression):
    schedule = parse_schedule(expression)
    ours = iso(schedule.next_fires(datetime(2026, 1, 1, tzinfo=UTC), 40))
    runner = croniter(to_airflow_cron(schedule), datetime(2026, 1, 1, tzinfo=UTC))
    theirs = [runner.get_next(datetime).isoformat() for _ in range(40)]
    assert ours == theirs
