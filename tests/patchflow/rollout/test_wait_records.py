"""What a stage waits for is recorded before its task defers: dev's soak, then test's closed window, in one short rollout."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from tests.patchflow.rollout.test_ssm_windows import AWS_DAY_NAMES, BERLIN, create_window, sim, stop_at_the_window_wait  # noqa: F401 (sim: a fixture)

pytestmark = pytest.mark.airflow


def test_the_soak_and_the_window_each_record_what_they_wait_for_until_when_and_in_which_zone(sim, run_rollout, demo_plan, monkeypatch):  # noqa: F811
    opening_day = (datetime.now(BERLIN) + timedelta(days=3)).date()
    window_id = create_window(sim.client("ssm"), "Wait-Record-Window", f"cron(30 9 ? * {AWS_DAY_NAMES[opening_day.weekday()]} *)", "Europe/Berlin")
    waits = stop_at_the_window_wait(monkeypatch)
    plan = demo_plan(stages=[{"name": "dev", "patch_group": "dev", "scan_first": False},
                             {"name": "test", "patch_group": "test", "scan_first": False, "window": {"ssm_window": "Wait-Record-Window"}}])
    plan["defaults"]["soak"] = "1s"
    before = datetime.now(timezone.utc)

    run = run_rollout(sim, plan)

    soak, window = run.kinds("waiting")
    opening = datetime(opening_day.year, opening_day.month, opening_day.day, 9, 30, tzinfo=BERLIN)
    assert waits == [("test.window", "DateTimeTrigger", opening)]
    assert {key: window[key] for key in ("stage", "what", "until", "time_zone", "detail")} == {
        "stage": "test", "what": "window", "until": opening.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), "time_zone": "Europe/Berlin",
        "detail": f"maintenance window Wait-Record-Window ({window_id})",
    }
    assert {key: soak[key] for key in ("stage", "what", "time_zone", "detail")} == {"stage": "dev", "what": "soak", "time_zone": "UTC", "detail": ""}
    soaked_until = datetime.fromisoformat(soak["until"].replace("Z", "+00:00"))
    assert before < soaked_until <= datetime.fromisoformat(soak["at"].replace("Z", "+00:00")) + timedelta(seconds=2)
