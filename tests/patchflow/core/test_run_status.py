"""Where a run stands, as `patchflow runs status` prints it, what `runs follow` prints once, and the exit code it ends with."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from patchflow.core.run_status import ExitCode, changes, run_status

NOW = datetime(2026, 12, 6, 0, 58, 30, tzinfo=timezone.utc)
STAGES = ("dev", "prod")
RUN = {"dag_id": "rollout_weekly", "run_id": "weekly-1"}


def dag_run(state: str, conf: dict | None = None) -> dict:
    return {"dag_id": "rollout_weekly", "dag_run_id": "weekly-1", "state": state, "start_date": "2026-12-06T00:55:00Z", "conf": conf or {}}


def tasks(**states: str) -> list[dict]:
    """dev__window="deferred" -> the task instance dev.window, deferred."""
    return [{"task_id": name.replace("__", "."), "state": state} for name, state in states.items()]


def record(kind: str, second: int, **fields) -> dict:
    return {**RUN, "kind": kind, "at": f"2026-12-06T00:56:{second:02d}.000000Z", **fields}


STARTED = record("run_started", 0, plan="weekly", stages=["dev", "prod"], all_stages=["dev", "prod"], dry_run=False, change_ticket="CHG-7",
                 params={}, patch_groups={"dev": "dev", "prod": "prod"})
DRY_STARTED = {**STARTED, "dry_run": True, "change_ticket": ""}
WINDOW_WAIT = record("waiting", 1, stage="dev", what="window", until="2026-12-06T01:00:00Z", time_zone="UTC", detail="")
APPROVAL_WAIT = record("waiting", 20, stage="prod", what="approval", until="2026-12-06T04:56:00Z", time_zone="UTC", detail="")


def counts(succeeded: int, failed: int = 0) -> dict:
    return {"targets": succeeded + failed, "succeeded": succeeded, "failed": failed, "timed_out": 0, "unreachable": 0, "not_dispatched": 0}


def row(instance: str, outcome: str) -> dict:
    return {"instance_id": instance, "operating_system": "UBUNTU", "outcome": outcome, "status_details": "", "compliant": True,
            "pending_reboot": False, "missing": 0, "failed_patches": 0, "command_id": "c-1"}


def wave(second: int, stage: str, number: int, operation: str, rows: list[dict], passed: bool, reasons=()) -> dict:
    ok = sum(r["outcome"] == "succeeded" for r in rows)
    return record("wave_result", second, stage=stage, wave=number, operation=operation, command_ids=["c-1"], instances=rows,
                  verdict={"passed": passed, "reasons": list(reasons), "counts": counts(ok, len(rows) - ok)},
                  started_at="2026-12-06T01:00:01Z", finished_at="2026-12-06T01:00:05Z", polls=2)


def preflight(second: int, stage: str) -> dict:
    return record("preflight", second, stage=stage, patch_group=stage, targets=[], offline=[], baselines={}, default_baselines={})


def verdict(second: int, stage: str, passed: bool, reasons=()) -> dict:
    return record("stage_verdict", second, stage=stage, verdict={"passed": passed, "reasons": list(reasons), "counts": counts(2)})


def finished(second: int, outcome: str, stage=None, reason="") -> dict:
    return record("run_finished", second, outcome=outcome, blocking_stage=stage, reason=reason)


DEV_DONE = [preflight(10, "dev"), wave(11, "dev", 1, "Scan", [row("i-1", "succeeded"), row("i-2", "succeeded")], True),
            wave(12, "dev", 1, "Install", [row("i-1", "succeeded"), row("i-2", "succeeded")], True), verdict(13, "dev", True)]


@pytest.mark.parametrize(
    ("run", "task_instances", "records", "lines"),
    [
        pytest.param(
            dag_run("queued"), [], [],
            ["run weekly-1 of rollout_weekly: queued in Airflow since 2026-12-06T00:55:00Z", "  dev   not started", "  prod  not started"],
            id="queued-nothing-recorded",
        ),
        pytest.param(
            dag_run("running", {"stages": ["prod"]}), tasks(start="running"), [],
            ["run weekly-1 of rollout_weekly: running in Airflow since 2026-12-06T00:55:00Z", "  dev   not in this run", "  prod  not started"],
            id="stages-from-the-trigger-before-the-start-records-them",
        ),
        pytest.param(
            dag_run("running"), tasks(start="success", dev__window="deferred"), [STARTED, WINDOW_WAIT],
            ["run weekly-1 of rollout_weekly: running in Airflow since 2026-12-06T00:55:00Z", "  change ticket CHG-7",
             "  dev   waiting for window, opens Sun 06 Dec 01:00 UTC (in 1 min)", "  prod  not started"],
            id="window-wait-from-the-ledger-with-its-time",
        ),
        pytest.param(
            dag_run("running"), tasks(start="success", dev__window="deferred"), [STARTED],
            ["run weekly-1 of rollout_weekly: running in Airflow since 2026-12-06T00:55:00Z", "  change ticket CHG-7",
             "  dev   waiting for window (Airflow defers the window task)", "  prod  not started"],
            id="window-wait-only-airflow-shows",
        ),
        pytest.param(
            dag_run("running"), tasks(start="success", dev__gate="success", prod__approval="awaiting_input"), [STARTED, *DEV_DONE, APPROVAL_WAIT],
            ["run weekly-1 of rollout_weekly: running in Airflow since 2026-12-06T00:55:00Z", "  change ticket CHG-7",
             "  dev   promoted",
             "          scan: 2 instances, 2 succeeded; gate passed",
             "          wave 1: 2 instances, 2 succeeded; gate passed",
             "  prod  waiting for approval, deadline Sun 06 Dec 04:56 UTC (in 3 h 57 min)"],
            id="promoted-stage-with-waves-then-approval",
        ),
        pytest.param(
            dag_run("running"), tasks(dev__wave_1="deferred", dev__preflight="success"), [STARTED, preflight(10, "dev")],
            ["run weekly-1 of rollout_weekly: running in Airflow since 2026-12-06T00:55:00Z", "  change ticket CHG-7",
             "  dev   running: dev.wave_1 deferred", "  prod  not started"],
            id="running-names-its-active-tasks",
        ),
        pytest.param(
            dag_run("failed"), tasks(dev__gate="failed", finish="failed"),
            [STARTED, preflight(10, "dev"), wave(12, "dev", 1, "Install", [row("i-1", "succeeded"), row("i-2", "failed")], False, ["1 failed > max 0"]),
             verdict(13, "dev", False, ["1 failed > max 0"]), finished(14, "blocked", "dev", "1 failed > max 0")],
            ["run weekly-1 of rollout_weekly: failed in Airflow since 2026-12-06T00:55:00Z", "  change ticket CHG-7",
             "  dev   blocked: 1 failed > max 0",
             "          wave 1: 2 instances, 1 succeeded, 1 failed; gate blocked (1 failed > max 0)",
             "  prod  not started",
             "BLOCKED at stage dev: 1 failed > max 0. Change ticket: CHG-7."],
            id="blocked",
        ),
        pytest.param(
            dag_run("failed"), tasks(prod__approval="failed", prod__window="upstream_failed", finish="failed"),
            [STARTED, *DEV_DONE, APPROVAL_WAIT, finished(30, "failed", "prod", "stage prod was not approved")],
            ["run weekly-1 of rollout_weekly: failed in Airflow since 2026-12-06T00:55:00Z", "  change ticket CHG-7",
             "  dev   promoted",
             "          scan: 2 instances, 2 succeeded; gate passed",
             "          wave 1: 2 instances, 2 succeeded; gate passed",
             "  prod  stopped: prod.approval failed, prod.window upstream_failed",
             "FAILED: stage prod was not approved. Change ticket: CHG-7."],
            id="rejected-approval",
        ),
    ],
)
def test_status_lines(run, task_instances, records, lines):
    assert run_status(run, task_instances, records, STAGES).lines(NOW) == lines


@pytest.mark.parametrize(
    ("state", "task_instances", "records", "outcome", "line", "code"),
    [
        pytest.param("running", [], [STARTED], None, None, None, id="running-has-no-verdict"),
        pytest.param("success", [], [STARTED, *DEV_DONE, finished(30, "promoted")], "promoted",
                     "PROMOTED: every stage of weekly passed its gate. Change ticket: CHG-7.", ExitCode.PROMOTED, id="promoted"),
        pytest.param("failed", [], [STARTED, finished(30, "blocked", "dev", "health check failed")], "blocked",
                     "BLOCKED at stage dev: health check failed. Change ticket: CHG-7.", ExitCode.NOT_PROMOTED, id="blocked"),
        pytest.param("failed", [], [DRY_STARTED, finished(30, "dry_run")], "dry_run",
                     "DRY RUN: nothing was installed; every gate of weekly passed as a scan.", ExitCode.NOTHING_INSTALLED, id="dry-run"),
        pytest.param("success", [], [STARTED, finished(30, "skipped", None, "started 3 h late")], "skipped",
                     "SKIPPED: started 3 h late. Change ticket: CHG-7.", ExitCode.NOTHING_INSTALLED, id="scheduled-run-skipped"),
        pytest.param("failed", tasks(dev__wave_1="failed", dev__gate="upstream_failed"), [STARTED], "stopped",
                     "STOPPED in Airflow before the run finished: dev.wave_1 failed", ExitCode.NOT_PROMOTED, id="cancelled-mid-wave"),
        pytest.param("failed", tasks(dev__window="skipped"), [], "stopped",
                     "STOPPED in Airflow before the run finished: it was marked failed", ExitCode.NOT_PROMOTED, id="cancelled-before-start"),
        pytest.param("success", [], [STARTED], "unconfirmed",
                     "UNCONFIRMED: the run succeeded in Airflow, but its ledger records no promotion (outcome running)", ExitCode.NOT_PROMOTED,
                     id="airflow-success-without-ledger-outcome"),
        pytest.param("failed", tasks(finish="failed"), [STARTED, finished(30, "promoted")], "stopped",
                     "STOPPED: the run failed in Airflow after its ledger recorded promoted: finish failed", ExitCode.NOT_PROMOTED,
                     id="airflow-is-the-authority"),
    ],
)
def test_verdict_and_exit_code(state, task_instances, records, outcome, line, code):
    found = run_status(dag_run(state), task_instances, records, STAGES).verdict
    assert (found and (found.outcome, found.line, found.exit_code)) == (outcome and (outcome, line, code))


def test_follow_prints_each_change_once_in_order():
    polls = [
        (dag_run("queued"), [], []),
        (dag_run("running"), tasks(dev__window="deferred"), [STARTED, WINDOW_WAIT]),
        (dag_run("running"), tasks(dev__window="deferred"), [STARTED, WINDOW_WAIT]),
        (dag_run("running"), tasks(dev__wave_1="running"), [STARTED, WINDOW_WAIT, *DEV_DONE[:2]]),
        (dag_run("running"), tasks(prod__approval="awaiting_input"), [STARTED, WINDOW_WAIT, *DEV_DONE]),
        (dag_run("success"), tasks(finish="success"), [STARTED, WINDOW_WAIT, *DEV_DONE, preflight(40, "prod"), verdict(41, "prod", True), finished(42, "promoted")]),
    ]
    printed, seen = [], set()
    for run, task_instances, records in polls:
        for change in changes(run_status(run, task_instances, records, STAGES), NOW):
            if change.key not in seen:
                seen.add(change.key)
                printed.append(change.line)
    assert printed == [
        "run weekly-1: queued in Airflow",
        "run weekly-1: running in Airflow",
        "dev: waiting for window, opens Sun 06 Dec 01:00 UTC (in 1 min)",
        "dev: running",
        "dev scan: 2 instances, 2 succeeded; gate passed",
        "dev: promoted",
        "dev wave 1: 2 instances, 2 succeeded; gate passed",
        "prod: waiting for approval (Airflow awaits an answer)",
        "run weekly-1: success in Airflow",
        "prod: promoted",
        "PROMOTED: every stage of weekly passed its gate. Change ticket: CHG-7.",
    ]


def test_status_json_carries_the_wait_and_the_verdict():
    status = run_status(dag_run("running"), tasks(dev__window="deferred"), [STARTED, WINDOW_WAIT], STAGES).to_json(NOW)
    assert status == {
        "dag_id": "rollout_weekly", "run_id": "weekly-1", "state": "running", "started_at": "2026-12-06T00:55:00Z", "change_ticket": "CHG-7", "dry_run": False,
        "stages": [
            {"name": "dev", "state": "waiting", "detail": "", "waves": [],
             "waits": [{"stage": "dev", "what": "window", "until": "2026-12-06T01:00:00Z", "time_zone": "UTC", "detail": "", "where": "",
                        "line": "waiting for window, opens Sun 06 Dec 01:00 UTC (in 1 min)"}]},
            {"name": "prod", "state": "not started", "detail": "", "waits": [], "waves": []},
        ],
        "verdict": None,
    }
