"""The page agrees with Airflow: its DagRun state overrules the ledger, a finished run shows no stage running, runs the
ledger holds nothing of are listed, a retried wave is listed once, and a stage that waits says for what and until when."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from patchflow.core.report import build_report
from patchflow.core.waits import Wait, Waiting, current_waits
from patchflow.ui import model, render

NOW = datetime(2026, 12, 2, 4, 0, tzinfo=timezone.utc)  # a Wednesday
PLAN = {
    "name": "demo", "dag_id": "rollout_demo", "ledger_uri": "s3://ledger/runs",
    "stages": [{"name": "dev", "patch_group": "dev", "pin_to": None}, {"name": "test", "patch_group": "test", "pin_to": None},
               {"name": "prod", "patch_group": "prod", "pin_to": None}],
}
FLEET = {"ok": True, "region": "eu-west-1", "registered": [], "groups": {}}
PASSED = {"passed": True, "reasons": [], "counts": {"targets": 2, "succeeded": 2}}
BLOCKED = {"passed": False, "reasons": ["1 of 2 instances failed (limit 0)"], "counts": {"targets": 2, "succeeded": 1, "failed": 1}}


def record(kind: str, at: str, run_id: str = "manual__1", **fields) -> dict:
    return {"kind": kind, "at": f"2026-12-02T{at}Z", "dag_id": "rollout_demo", "run_id": run_id, **fields}


def started(at: str = "01:00:00", **fields) -> dict:
    return record("run_started", at, plan="demo", stages=["dev", "test", "prod"], dry_run=False, change_ticket="", **fields)


def preflight(at: str, stage: str, **where) -> dict:
    return record("preflight", at, stage=stage, patch_group=stage, targets=[{}, {}], offline=[], baselines={}, **where)


def wave(at: str, stage: str, number: int, verdict: dict, **where) -> dict:
    return record("wave_result", at, stage=stage, wave=number, operation="Install", command_ids=[f"cmd-{stage}-{at}"], instances=[{}, {}], verdict=verdict, **where)


def airflow(state: str, run_id: str = "manual__1", failed: tuple = (), start: str = "2026-12-02T01:00:00+00:00", **fields) -> dict:
    return {"dag_id": "rollout_demo", "run_id": run_id, "state": state, "start_date": start, "end_date": None, "run_after": start, "conf": {},
            "failed_tasks": list(failed), **fields}


DEV_PASSED = [started(), preflight("01:00:01", "dev"), wave("01:01:00", "dev", 1, PASSED), record("stage_verdict", "01:01:01", stage="dev", verdict=PASSED)]
TEST_RUNNING = [*DEV_PASSED, preflight("01:02:00", "test")]


def page(records_by_run: list[list[dict]], airflow_runs: list[dict] | None = None, waits: dict | None = None) -> dict:
    reports = [build_report(records) for records in records_by_run]
    ledger = {"ok": True, "reports": reports, "waits": waits or {}, "failures": []}
    return model.build_page(plans=[PLAN], fleet=FLEET, ledger=ledger, now=NOW, airflow=None if airflow_runs is None else {"ok": True, "runs": airflow_runs})


def states(run: dict) -> list[tuple[str, str]]:
    return [(stage["name"], stage["state"]) for stage in run["stages"]]


@pytest.mark.parametrize(
    ("records", "airflow_runs", "outcome", "headline", "stage_states"),
    [
        pytest.param(TEST_RUNNING, None, ("running", "Running"), "in progress", [("dev", "promoted"), ("test", "running"), ("prod", "not started")],
                     id="airflow-not-read-the-ledger-stands"),
        pytest.param(TEST_RUNNING, [airflow("running")], ("running", "Running"), "in progress",
                     [("dev", "promoted"), ("test", "running"), ("prod", "not started")], id="running-in-both"),
        pytest.param(TEST_RUNNING, [airflow("failed", failed=("test.wave_1",))], ("failed", "Failed"),
                     "Airflow marks the run failed (test.wave_1 failed); its ledger recorded no end",
                     [("dev", "promoted"), ("test", "stopped"), ("prod", "not started")], id="marked-failed-in-airflow-mid-stage"),
        pytest.param([*DEV_PASSED, record("run_finished", "01:03:00", outcome="promoted", blocking_stage=None, reason="")], [airflow("failed")],
                     ("failed", "Failed"), "Airflow marks the run failed; its ledger says promoted",
                     [("dev", "promoted"), ("test", "not started"), ("prod", "not started")], id="marked-failed-after-the-ledger-ended"),
        pytest.param(TEST_RUNNING, [airflow("success")], ("success", "Succeeded in Airflow"), "Airflow marks the run success; its ledger recorded no end",
                     [("dev", "promoted"), ("test", "stopped"), ("prod", "not started")], id="marked-success-is-no-promotion"),
        pytest.param(
            # prod in two Regions side by side: eu-west-1 blocked, us-east-1's preflight came after; the stages after the block not reached
            [*DEV_PASSED, preflight("01:02:00", "test", region="eu-west-1"), wave("01:03:00", "test", 1, BLOCKED, region="eu-west-1"),
             record("stage_verdict", "01:03:01", stage="test", verdict=BLOCKED, region="eu-west-1"), preflight("01:03:02", "test", region="us-east-1"),
             record("run_finished", "01:03:03", outcome="blocked", blocking_stage="test", reason="eu-west-1: 1 of 2 instances failed (limit 0)")],
            [airflow("failed", failed=("test.eu_west_1.gate",))], ("blocked", "Blocked"), "stopped at test: eu-west-1: 1 of 2 instances failed (limit 0)",
            [("dev", "promoted"), ("test", "blocked"), ("prod", "not started")], id="blocked-with-a-scope-still-at-preflight"),
        pytest.param(
            [*DEV_PASSED, preflight("01:02:00", "test"), preflight("01:02:30", "prod"),
             record("run_finished", "01:03:00", outcome="blocked", blocking_stage="test", reason="an alarm fired")],
            [airflow("failed")], ("blocked", "Blocked"), "stopped at test: an alarm fired",
            [("dev", "promoted"), ("test", "blocked"), ("prod", "not started")], id="blocked-run-shows-nothing-after-the-block-running"),
        pytest.param(
            # the start failed after opening the ledger: no run_started record, the finish task recorded the end
            [record("run_finished", "01:00:05", outcome="failed", blocking_stage="dev", reason="dev: the run's start failed")],
            [airflow("failed", failed=("start",))], ("failed", "Failed"), "stopped at dev: dev: the run's start failed",
            [("dev", "failed"), ("test", "not started"), ("prod", "not started")],
            id="start-failed-without-run-started"),
    ],
)
def test_airflow_s_run_state_is_the_authority(records, airflow_runs, outcome, headline, stage_states):
    (run,) = page([records], airflow_runs)["runs"]
    assert ((run["outcome"], run["outcome_text"]), run["headline"], states(run)) == (outcome, headline, stage_states)
    assert [(box["name"], box["state"]) for box in run["path"]] == [(name, state) for name, state in stage_states] + [
        (name, "not selected") for name in ("dev", "test", "prod") if name not in dict(stage_states)]


def test_a_run_whose_start_failed_before_any_record_is_listed_as_airflow_has_it():
    built = page([], [airflow("failed", failed=("start",), start="2026-12-02T01:00:00+00:00")])
    (run,) = built["runs"]
    assert {key: run[key] for key in ("run_id", "when", "outcome", "outcome_text", "tone", "headline", "report_url", "airflow")} == {
        "run_id": "manual__1", "when": "2026-12-02 01:00:00 UTC", "outcome": "failed", "outcome_text": "Failed", "tone": "bad",
        "headline": "start failed before the run wrote a ledger record", "report_url": "", "airflow": {"state": "failed", "failed_tasks": ["start"]},
    }
    assert [(box["name"], box["label"]) for box in run["path"]] == [("dev", "not reached"), ("test", "not reached"), ("prod", "not reached")]
    # it patched nothing: the plan's promotion path still says no run got anywhere
    assert built["promotions"][0]["outcome_text"] == "No runs yet"
    assert "start failed before the run wrote a ledger record" in render.render_page(built)


@pytest.mark.parametrize(
    ("airflow_run", "outcome_text", "headline"),
    [
        pytest.param(airflow("success", run_id="manual__demo"), "Succeeded in Airflow", "success in Airflow; the ledger holds no record of this run",
                     id="a-make-demo-run-whose-ledger-stopped-with-its-fleet"),
        pytest.param(airflow("running", run_id="manual__demo"), "Running", "running in Airflow; no ledger record yet", id="just-started"),
        pytest.param(airflow("queued", run_id="manual__demo", start=None), "Queued", "queued in Airflow; no ledger record yet", id="queued"),
    ],
)
def test_runs_the_ledger_holds_nothing_of_are_listed_beside_the_ledger_s_newest_first(airflow_run, outcome_text, headline):
    older = [started("00:10:00", ), record("run_finished", "00:20:00", outcome="promoted", blocking_stage=None, reason="")]
    airflow_run = {**airflow_run, "run_after": "2026-12-02T02:00:00+00:00"}
    runs = page([[{**r, "run_id": "manual__0"} for r in older]], [airflow_run, airflow("success", run_id="manual__0")])["runs"]
    assert [(run["run_id"], run["outcome_text"], run["headline"]) for run in runs] == [
        ("manual__demo", outcome_text, headline), ("manual__0", "Promoted", "every stage passed its gate")]


def test_a_retried_wave_is_listed_once_with_its_last_try_s_result():
    failed_try = {"passed": False, "reasons": ["the task failed before judging"], "counts": {"targets": 2, "failed": 2}}
    records = [started(), preflight("01:00:01", "dev"), wave("01:01:00", "dev", 1, failed_try), wave("01:02:00", "dev", 1, PASSED),
               wave("01:03:00", "dev", 2, PASSED)]
    (run,) = page([records], [airflow("running")])["runs"]
    dev = run["stages"][0]
    assert [(w["label"], w["verdict"], [c["id"] for c in w["commands"]]) for w in dev["waves"]] == [
        ("Install wave 1", "PASS", ["cmd-dev-01:02:00"]), ("Install wave 2", "PASS", ["cmd-dev-01:03:00"])]
    assert (dev["targets"], dev["succeeded"], dev["failed"]) == (4, 4, 0)


WINDOW_WAIT = Wait("test", Waiting.WINDOW, datetime(2026, 12, 6, 1, 0, tzinfo=timezone.utc), "Europe/Berlin", "maintenance window Weekly (mw-0123)")
WINDOW_LINE = "waiting for window, opens Sun 06 Dec 02:00 Europe/Berlin (in 3 d 21 h): maintenance window Weekly (mw-0123)"


@pytest.mark.parametrize(
    ("records", "airflow_runs", "stage_states", "waits", "box"),
    [
        pytest.param([*DEV_PASSED, record("waiting", "01:02:00", **WINDOW_WAIT.to_fields())], [airflow("running")],
                     [("dev", "promoted"), ("test", "waiting"), ("prod", "not started")], {"test": [WINDOW_LINE]},
                     ("waiting", "waiting for window", [WINDOW_LINE]), id="a-stage-waiting-for-its-window"),
        pytest.param([*DEV_PASSED, record("waiting", "01:01:02", stage="dev", what="soak", until="2026-12-02T04:52:10Z", time_zone="UTC", detail="watching its alarms")],
                     [airflow("running")], [("dev", "waiting"), ("test", "not started"), ("prod", "not started")],
                     {"dev": ["soaking, ends Wed 02 Dec 04:52 UTC (in 52 min): watching its alarms"]}, None, id="a-passed-stage-soaking"),
        pytest.param([started(), record("waiting", "01:00:01", stage="dev", what="approval", until="2026-12-03T03:10:00Z", time_zone="UTC", detail="change ticket CHG-1")],
                     [airflow("running")], [("dev", "waiting"), ("test", "not started"), ("prod", "not started")],
                     {"dev": ["waiting for approval, deadline Thu 03 Dec 03:10 UTC (in 23 h 10 min): change ticket CHG-1"]}, None, id="an-approval-with-its-deadline"),
        pytest.param([*DEV_PASSED, record("waiting", "01:02:00", **WINDOW_WAIT.to_fields())], [airflow("failed", failed=("test.window",))],
                     [("dev", "promoted"), ("test", "not started"), ("prod", "not started")], {}, None, id="no-wait-once-airflow-ended-the-run"),
        pytest.param([*DEV_PASSED, record("waiting", "01:02:00", stage="test", what="soak", until="2026-12-02T03:00:00Z", time_zone="UTC", detail="")],
                     [airflow("running")], [("dev", "promoted"), ("test", "not started"), ("prod", "not started")], {}, None, id="a-soak-whose-end-passed"),
    ],
)
def test_a_waiting_stage_says_what_it_waits_for_and_until_when(records, airflow_runs, stage_states, waits, box):
    report_waits = {("rollout_demo", "manual__1"): current_waits(records, NOW)}
    built = page([records], airflow_runs, report_waits)
    (run,) = built["runs"]
    assert states(run) == stage_states
    assert {stage["name"]: [wait["line"] for wait in stage["waits"]] for stage in run["stages"] if stage["waits"]} == waits
    if box is not None:
        (shown,) = [b for b in run["path"] if b["state"] == "waiting"]
        assert (shown["state"], shown["label"], shown["waits"]) == box
    html = render.render_page(built)
    assert all(line in html for lines in waits.values() for line in lines)


def test_a_scope_s_soak_names_its_account_and_region():
    records = [*DEV_PASSED, record("waiting", "01:01:02", stage="dev", what="soak", until="2026-12-02T04:52:10Z", time_zone="UTC", detail="",
                                   account="333333333333", account_alias="prod", region="eu-west-1")]
    (run,) = page([records], [airflow("running")], {("rollout_demo", "manual__1"): current_waits(records, NOW)})["runs"]
    assert run["stages"][0]["waits"] == [{"what": "soak", "where": "prod (eu-west-1)", "short": "soaking",
                                          "line": "prod (eu-west-1): soaking, ends Wed 02 Dec 04:52 UTC (in 52 min)"}]


def test_when_airflow_cannot_be_read_the_page_says_so_and_shows_the_ledger_s_runs():
    ledger = {"ok": True, "reports": [build_report(TEST_RUNNING)], "waits": {}, "failures": []}
    failure = {"kind": "error", "where": "Airflow's metadata database", "detail": "OperationalError: no such table: dag_run"}
    built = model.build_page(plans=[PLAN], fleet=FLEET, ledger=ledger, now=NOW, airflow={"ok": False, "failure": failure})
    assert [run["outcome"] for run in built["runs"]] == ["running"]
    assert [n for n in built["notices"] if n["source"] == "airflow"] == [{
        "level": "warning", "source": "airflow", "kind": "error", "title": "Airflow's run states could not be read",
        "detail": "OperationalError: no such table: dag_run; runs show what their ledger says, and runs without ledger records are missing.",
        "action": "Check the API server's metadata database connection (the API server log names the cause), then reload.",
    }]
