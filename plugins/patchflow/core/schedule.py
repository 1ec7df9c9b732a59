"""AWS cron() as the unix cron Airflow's cron timetable runs (croniter's dialect).

Parsing and firing live in patchflow.core.aws_schedules; this module only decides
whether Airflow can run a schedule exactly as AWS would, and writes it for Airflow.
"""
from __future__ import annotations

import calendar

from patchflow.core.aws_schedules import EARLIEST_YEAR, LATEST_YEAR, CronSchedule, Schedule

# Years are never restricted here (unix cron has no year field), so common years always come.
DAYS_IN_COMMON_YEAR_MONTH = {month: calendar.monthrange(2001, month)[1] for month in range(1, 13)}


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
        if dom.last_weekday:
            return f"{schedule.expression} uses LW (the last weekday of the month); croniter has no LW"
        if dom.nearest_weekday and (dom.days or dom.last_day or len(dom.nearest_weekday) > 1):
            return f"{schedule.expression} mixes nW with other days of the month; croniter takes nW alone"
        if dom.nearest_weekday:
            (day,) = dom.nearest_weekday
            if day > min(DAYS_IN_COMMON_YEAR_MONTH[month] for month in schedule.months):
                return (
                    f"{schedule.expression} uses {day}W in months shorter than {day} days, where croniter fires on "
                    "the month's last weekday and this schedule skips the month"
                )
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
    """The 5-field unix cron (croniter dialect: L, nW, L<dow>, <dow>#k) for an AWS cron(), or None.

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
        if dom.last_day:
            day_of_month = "L"
        elif dom.nearest_weekday:
            day_of_month = f"{next(iter(dom.nearest_weekday))}W"
        else:
            day_of_month = _cron_list(dom.days, 1, 31)
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
