"""What a running rollout waits for: the line people read, and which waits are still open, as tables."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from patchflow.core.waits import Wait, Waiting, current_waits, remaining

NOW = datetime(2026, 12, 2, 4, 0, tzinfo=timezone.utc)  # a Wednesday


@pytest.mark.parametrize(
    ("wait", "line"),
    [
        pytest.param(
            Wait("prod", Waiting.WINDOW, datetime(2026, 12, 6, 1, 0, tzinfo=timezone.utc), "Europe/Berlin"),
            "waiting for window, opens Sun 06 Dec 02:00 Europe/Berlin (in 3 d 21 h)",
            id="window-in-its-own-zone",
        ),
        pytest.param(
            Wait("dev", Waiting.SOAK, NOW + timedelta(minutes=52, seconds=10)),
            "soaking, ends Wed 02 Dec 04:52 UTC (in 52 min)",
            id="soak-in-utc",
        ),
        pytest.param(
            Wait("prod", Waiting.APPROVAL, NOW + timedelta(hours=23, minutes=10), detail="change ticket CHG-1"),
            "waiting for approval, deadline Thu 03 Dec 03:10 UTC (in 23 h 10 min): change ticket CHG-1",
            id="approval-with-detail",
        ),
        pytest.param(
            Wait("prod", Waiting.WINDOW, NOW - timedelta(seconds=5), "Nowhere/Atlantis"),
            "waiting for window, opens Wed 02 Dec 03:59 Nowhere/Atlantis (due now)",
            id="past-moment-and-unknown-zone-read-as-utc",
        ),
    ],
)
def test_a_wait_reads_as_one_line(wait, line):
    assert wait.line(NOW) == line


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        pytest.param(0, "due now", id="zero"),
        pytest.param(40, "in 40 s", id="seconds"),
        pytest.param(3900, "in 1 h 5 min", id="hours-and-minutes"),
        pytest.param(7200, "in 2 h", id="whole-hours"),
        pytest.param(86400 * 2 + 59, "in 2 d", id="days-drop-minutes"),
    ],
)
def test_remaining(seconds, text):
    assert remaining(timedelta(seconds=seconds)) == text


def record(kind: str, at: str, **fields) -> dict:
    return {"kind": kind, "at": f"2026-12-02T{at}Z", "dag_id": "rollout_weekly", "run_id": "r1", **fields}


def waiting(at: str, stage: str, what: str, **fields) -> dict:
    return record("waiting", at, stage=stage, what=what, until="2026-12-06T01:00:00Z", time_zone="UTC", detail="", **fields)


@pytest.mark.parametrize(
    ("records", "open_waits"),
    [
        pytest.param([], [], id="nothing-recorded"),
        pytest.param([waiting("01:00:00", "prod", "window")], [("prod", "window", "")], id="a-window-wait"),
        pytest.param(
            [waiting("01:00:00", "prod", "window"), record("preflight", "01:00:01", stage="prod")],
            [],
            id="ended-by-the-stage-s-next-record",
        ),
        pytest.param(
            [waiting("01:00:00", "prod", "approval"), waiting("01:00:01", "prod", "window")],
            [("prod", "window", "")],
            id="approval-then-window",
        ),
        pytest.param(
            [waiting("01:00:00", "dev", "soak"), record("preflight", "01:00:01", stage="test")],
            [("dev", "soak", "")],
            id="another-stage-s-record-leaves-it-open",
        ),
        pytest.param(
            [waiting("01:00:00", "prod", "window"), record("preflight", "01:00:01", stage="prod", account="333", account_alias="prod", region="eu-west-1")],
            [],
            id="a-scope-s-record-ends-the-stage-s-own-wait",
        ),
        pytest.param(
            [
                waiting("01:00:00", "prod", "soak", account="333", account_alias="prod", region="eu-west-1"),
                waiting("01:00:01", "prod", "soak", account="333", account_alias="prod", region="us-east-1"),
                record("health_check", "01:00:02", stage="prod", account="333", account_alias="prod", region="eu-west-1"),
            ],
            [("prod", "soak", "prod (us-east-1)")],
            id="scopes-end-their-own-waits",
        ),
        pytest.param(
            [waiting("01:00:00", "prod", "window"), record("run_finished", "01:00:01", outcome="failed")],
            [],
            id="the-run-finished",
        ),
        pytest.param(
            [record("preflight", "01:00:01", stage="prod"), waiting("01:00:00", "prod", "window")],
            [],
            id="read-in-time-order-not-key-order",
        ),
    ],
)
def test_current_waits(records, open_waits):
    assert [(w.stage, w.what.value, w.where) for w in current_waits(records)] == open_waits


def test_a_wait_goes_through_its_record_unchanged():
    wait = Wait("prod", Waiting.WINDOW, datetime(2026, 12, 6, 1, 0, tzinfo=timezone.utc), "Europe/Berlin", "maintenance window Weekly (mw-0123)")
    assert Wait.from_record(record("waiting", "01:00:00", **wait.to_fields())) == wait


@pytest.mark.parametrize(
    ("now", "open_waits"),
    [
        pytest.param(None, [("dev", "soak")], id="without-now-every-begun-wait"),
        pytest.param(datetime(2026, 12, 6, 0, 59, tzinfo=timezone.utc), [("dev", "soak")], id="before-its-moment"),
        pytest.param(datetime(2026, 12, 6, 1, 0, tzinfo=timezone.utc), [], id="at-its-moment"),
        pytest.param(datetime(2026, 12, 6, 1, 5, tzinfo=timezone.utc), [], id="a-soak-without-alarms-records-no-end"),
    ],
)
def test_a_wait_whose_moment_has_passed_is_over(now, open_waits):
    assert [(w.stage, w.what.value) for w in current_waits([waiting("01:00:00", "dev", "soak")], now)] == open_waits
