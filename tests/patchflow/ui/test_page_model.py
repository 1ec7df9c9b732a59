"""The Patch rollouts page as pure functions: plain dicts in, the whole page model (and its HTML) out."""
from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest

from patchflow.core.report import build_report
from patchflow.core.report_records import Report, RunOutcome, Stage, StageState, Verdict
from patchflow.core import links
from patchflow.ui import model, render
from patchflow.core.yamlfile import PROJECT_ROOT

NOW = datetime(2026, 11, 29, 12, 0, 0, tzinfo=timezone.utc)
PLAN = {
    "name": "demo",
    "dag_id": "rollout_demo",
    "ledger_uri": "s3://ledger/runs",
    "stages": [
        {"name": "dev", "patch_group": "dev", "pin_to": None},
        {"name": "test", "patch_group": "test", "pin_to": "dev"},
        {"name": "prod", "patch_group": "prod", "pin_to": "dev"},
    ],
}


def ago(**delta) -> str:
    return (NOW - timedelta(**delta)).isoformat()


# --------------------------------------------------------------------------- links


@pytest.mark.parametrize(
    "region, command_id, expected",
    [
        ("us-east-1", "abc-123", "https://us-east-1.console.aws.amazon.com/systems-manager/run-command/abc-123?region=us-east-1"),
        ("eu-central-1", "c1", "https://eu-central-1.console.aws.amazon.com/systems-manager/run-command/c1?region=eu-central-1"),
        ("cn-north-1", "c1", "https://cn-north-1.console.amazonaws.cn/systems-manager/run-command/c1?region=cn-north-1"),
        ("us-gov-west-1", "c1", "https://us-gov-west-1.console.amazonaws-us-gov.com/systems-manager/run-command/c1?region=us-gov-west-1"),
        ("us-east-1", "", ""),
        ("", "c1", ""),
    ],
)
def test_console_command_url_is_region_and_partition_aware(region, command_id, expected):
    assert links.console_command_url(region, command_id) == expected


@pytest.mark.parametrize(
    "base_url, expected_report, expected_run",
    [
        ("", "/rollouts/report?dag_id=rollout_demo&run_id=manual__2026-11-29T01%3A45%3A54%2B00%3A00", "/dags/rollout_demo/runs/manual__2026-11-29T01%3A45%3A54%2B00%3A00"),
        (None, "/rollouts/report?dag_id=rollout_demo&run_id=manual__2026-11-29T01%3A45%3A54%2B00%3A00", "/dags/rollout_demo/runs/manual__2026-11-29T01%3A45%3A54%2B00%3A00"),
        ("https://airflow.example.com/", "https://airflow.example.com/rollouts/report?dag_id=rollout_demo&run_id=manual__2026-11-29T01%3A45%3A54%2B00%3A00", "https://airflow.example.com/dags/rollout_demo/runs/manual__2026-11-29T01%3A45%3A54%2B00%3A00"),
        ("https://example.com/airflow", "https://example.com/airflow/rollouts/report?dag_id=rollout_demo&run_id=manual__2026-11-29T01%3A45%3A54%2B00%3A00", "https://example.com/airflow/dags/rollout_demo/runs/manual__2026-11-29T01%3A45%3A54%2B00%3A00"),
    ],
)
def test_report_and_dag_run_urls_follow_the_base_url_and_quote_the_run_id(base_url, expected_report, expected_run):
    run_id = "manual__2026-11-29T01:45:54+00:00"
    assert (links.report_url(base_url, "rollout_demo", run_id), links.dag_run_url(base_url, "rollout_demo", run_id)) == (expected_report, expected_run)


# --------------------------------------------------------------------------- small helpers


@pytest.mark.parametrize(
    "seconds, text",
    [(None, "no data"), (-5, "just now"), (59, "just now"), (60, "1 min ago"), (3599, "59 min ago"), (3600, "1 h ago"), (86399, "23 h ago"), (86400, "1 day ago"), (3 * 86400 + 5, "3 days ago")],
)
def test_humanize_age(seconds, text):
    assert model.humanize_age(seconds) == text


@pytest.mark.parametrize(
    "value, expected",
    [
        ("2026-11-29T01:46:01.821465Z", datetime(2026, 11, 29, 1, 46, 1, 821465, tzinfo=timezone.utc)),
        ("2026-11-29 01:46:09.808986+00:00", datetime(2026, 11, 29, 1, 46, 9, 808986, tzinfo=timezone.utc)),
        (datetime(2026, 11, 29, 1, 0), datetime(2026, 11, 29, 1, 0, tzinfo=timezone.utc)),
        ("yesterday", None),
        ("", None),
        (None, None),
        (1234, None),
    ],
)
def test_parse_time(value, expected):
    assert model.parse_time(value) == expected


@pytest.mark.parametrize(
    "start, end, text",
    [("2026-11-29T01:00:00Z", "2026-11-29T01:00:42Z", "42 s"), ("2026-11-29T01:00:00Z", "2026-11-29T01:03:05Z", "3 min 5 s"), ("2026-11-29T01:00:00Z", "2026-11-29T03:10:00Z", "2 h 10 min"), ("2026-11-29T01:00:00Z", None, "")],
)
def test_humanize_duration(start, end, text):
    assert model.humanize_duration(start, end) == text


# --------------------------------------------------------------------------- patch groups


def test_group_summary_counts_instances_and_patches_and_says_what_is_off():
    members = [
        {"instance_id": "i-1", "operating_system": "AMAZON_LINUX_2023", "ping_status": "Online"},
        {"instance_id": "i-2", "operating_system": "UBUNTU", "ping_status": "ConnectionLost"},
        {"instance_id": "i-3", "operating_system": "UBUNTU", "ping_status": "Online"},
    ]
    states = {
        "i-1": {"MissingCount": 0, "FailedCount": 0, "InstalledPendingRebootCount": 0, "BaselineId": "pb-a", "OperationEndTime": ago(hours=2)},
        "i-2": {"MissingCount": 3, "FailedCount": 1, "InstalledPendingRebootCount": 1, "BaselineId": "pb-old", "OperationEndTime": ago(hours=30)},
    }
    baselines = {"AMAZON_LINUX_2023": {"id": "pb-a", "name": "dev-al2023", "default": False}, "UBUNTU": {"id": "pb-u", "name": "", "default": True}}
    assert model.group_summary("dev", members, states, baselines, NOW, ["demo/dev"]) == {
        "name": "dev",
        "used_by": ["demo/dev"],
        "instances": 3,
        "operating_systems": ["AMAZON_LINUX_2023", "UBUNTU"],
        "compliant": 1,
        "non_compliant": 1,
        "no_data": 1,
        "missing_patches": 3,
        "instances_missing": 1,
        "failed_patches": 1,
        "instances_failed": 1,
        "pending_reboot": 1,
        "offline": 1,
        "offline_ids": ["i-2"],
        "baselines": [
            {"os": "AMAZON_LINUX_2023", "id": "pb-a", "label": "dev-al2023", "default": False},
            {"os": "UBUNTU", "id": "pb-u", "label": "default pb-u", "default": True},
        ],
        "data_age": {"oldest_seconds": 30 * 3600.0, "newest_seconds": 2 * 3600.0, "text": "1 day ago", "stale": True},
        "bar": {"compliant": 33.3, "non_compliant": 33.3, "no_data": 33.3},
        "notes": [
            "1 instance has no compliance data yet: run the plan with dry_run (Scan) to collect it",
            "compliance data is 1 day old: schedule a daily Scan or run a dry run",
            "1 instance(s) were last patched with a baseline that is no longer in force",
        ],
    }


@pytest.mark.parametrize(
    "members, states, baselines, expected",
    [
        # an empty group: nothing to count, one note saying why
        ([], {}, {}, {"instances": 0, "compliant": 0, "no_data": 0, "bar": {"compliant": 0.0, "non_compliant": 0.0, "no_data": 0.0}, "age": "no data", "notes": ["no managed instance carries this patch group's tag"]}),
        # never scanned
        (
            [{"instance_id": "i-1", "operating_system": "WINDOWS", "ping_status": "Online"}, {"instance_id": "i-2", "operating_system": "WINDOWS", "ping_status": "Online"}],
            {},
            {"WINDOWS": None},
            {"instances": 2, "compliant": 0, "no_data": 2, "bar": {"compliant": 0.0, "non_compliant": 0.0, "no_data": 100.0}, "age": "no data", "notes": ["2 instances have no compliance data yet: run the plan with dry_run (Scan) to collect it"]},
        ),
        # all fresh and compliant: no notes at all
        (
            [{"instance_id": "i-1", "operating_system": "WINDOWS", "ping_status": "Online"}],
            {"i-1": {"BaselineId": "pb-w", "OperationEndTime": ago(minutes=5)}},
            {"WINDOWS": {"id": "pb-w", "name": "prod-windows"}},
            {"instances": 1, "compliant": 1, "no_data": 0, "bar": {"compliant": 100.0, "non_compliant": 0.0, "no_data": 0.0}, "age": "5 min ago", "notes": []},
        ),
        # non-compliant only because a rejected patch is installed
        (
            [{"instance_id": "i-1", "operating_system": "UBUNTU", "ping_status": "Online"}],
            {"i-1": {"InstalledRejectedCount": 1, "BaselineId": "pb-u", "OperationEndTime": ago(minutes=1)}},
            {"UBUNTU": {"id": "pb-u", "name": "prod-ubuntu"}},
            {"instances": 1, "compliant": 0, "no_data": 0, "bar": {"compliant": 0.0, "non_compliant": 100.0, "no_data": 0.0}, "age": "1 min ago", "notes": ["1 non-compliant instance(s) have a rejected patch installed"]},
        ),
    ],
)
def test_group_summary_cases(members, states, baselines, expected):
    row = model.group_summary("g", members, states, baselines, NOW)
    assert {"instances": row["instances"], "compliant": row["compliant"], "no_data": row["no_data"], "bar": row["bar"], "age": row["data_age"]["text"], "notes": row["notes"]} == expected


@pytest.mark.parametrize(
    "baseline, label",
    [(None, "OS default (none registered)"), ({"id": ""}, "OS default (none registered)"), ({"id": "pb-1", "name": "prod-al2023"}, "prod-al2023"), ({"id": "pb-1"}, "pb-1"), ({"id": "pb-1", "name": "AWS-X", "default": True}, "default AWS-X")],
)
def test_baseline_labels(baseline, label):
    assert model._baseline_label(baseline) == label


def test_groups_come_in_plan_order_then_registered_groups_in_no_plan():
    other = {**PLAN, "name": "weekly", "dag_id": "rollout_weekly", "stages": [{"name": "canary", "patch_group": "prod", "pin_to": None}]}
    assert model.ordered_groups([PLAN, other], ["legacy", "dev"]) == [
        {"name": "dev", "used_by": ["demo/dev"]},
        {"name": "test", "used_by": ["demo/test"]},
        {"name": "prod", "used_by": ["demo/prod", "weekly/canary"]},
        {"name": "legacy", "used_by": []},
    ]


# --------------------------------------------------------------------------- rollout runs


def records_of_a_blocked_run() -> list[dict]:
    base = {"dag_id": "rollout_demo", "run_id": "manual__1"}
    passed = {"passed": True, "reasons": ["passed: 2 of 2 instances succeeded, 0 counted as failed (limit 10%)"], "counts": {"targets": 2, "succeeded": 2}}
    blocked = {"passed": False, "reasons": ["1 of 2 instances failed (limit 0)"], "counts": {"targets": 2, "succeeded": 1, "failed": 1}}
    return [
        {**base, "kind": "run_started", "at": "2026-11-29T10:00:00Z", "plan": "demo", "stages": ["dev", "test", "prod"], "dry_run": False, "change_ticket": "CHG-1"},
        {**base, "kind": "preflight", "at": "2026-11-29T10:00:01Z", "stage": "dev", "patch_group": "dev", "targets": [{}, {}], "offline": [], "baselines": {}},
        {**base, "kind": "wave_result", "at": "2026-11-29T10:01:00Z", "stage": "dev", "wave": 1, "operation": "Install", "command_ids": ["cmd-dev-1"], "instances": [{}, {}], "verdict": passed},
        {**base, "kind": "stage_verdict", "at": "2026-11-29T10:01:01Z", "stage": "dev", "verdict": passed},
        {**base, "kind": "manifest", "at": "2026-11-29T10:01:02Z", "stage": "dev", "content_hash": "0123456789abcdef0123", "size": 7},
        {**base, "kind": "preflight", "at": "2026-11-29T10:02:00Z", "stage": "test", "patch_group": "test", "targets": [{}, {}], "offline": ["i-9"], "baselines": {}},
        {**base, "kind": "wave_result", "at": "2026-11-29T10:03:00Z", "stage": "test", "wave": 1, "operation": "Install", "command_ids": ["cmd-test-1", "cmd-test-2"], "instances": [{}, {}], "verdict": blocked},
        {**base, "kind": "stage_verdict", "at": "2026-11-29T10:03:01Z", "stage": "test", "verdict": blocked},
        {**base, "kind": "run_finished", "at": "2026-11-29T10:03:02Z", "outcome": "blocked", "blocking_stage": "test", "reason": "install wave 1: 1 of 2 instances failed (limit 0)"},
    ]


def test_run_summary_of_a_blocked_run():
    summary = model.run_summary(build_report(records_of_a_blocked_run()), PLAN, base_url="", region="eu-west-1")
    console = "https://eu-west-1.console.aws.amazon.com/systems-manager/run-command/{}?region=eu-west-1"
    assert summary == {
        "plan": "demo",
        "dag_id": "rollout_demo",
        "run_id": "manual__1",
        "started_at": "2026-11-29T10:00:00Z",
        "finished_at": "2026-11-29T10:03:02Z",
        "when": "2026-11-29 10:00:00 UTC",
        "took": "3 min 2 s",
        "outcome": "blocked",
        "outcome_text": "Blocked",
        "tone": "bad",
        "headline": "stopped at test: install wave 1: 1 of 2 instances failed (limit 0)",
        "dry_run": False,
        "change_ticket": "CHG-1",
        "dag_run_url": "/dags/rollout_demo/runs/manual__1",
        "report_url": "/rollouts/report?dag_id=rollout_demo&run_id=manual__1",
        "instances_url": "/rollouts/runs/rollout_demo/manual__1/instances.csv",
        # The records' rows are empty: no outcome recorded, so each wave's one node (no id) needs attention.
        "attention": {"heading": "Needs attention: 2 instances did not succeed", "more": 0, "rows": [
            {"stage": "dev", "wave": "Install wave 1", "instance": "", "os": "-", "outcome": "-", "reason": "no reason recorded"},
            {"stage": "test", "wave": "Install wave 1", "instance": "", "os": "-", "outcome": "-", "reason": "no reason recorded"},
        ]},
        "stages": [
            {
                "name": "dev", "patch_group": "dev", "state": "promoted", "gate": "PASS",
                "reasons": ["passed: 2 of 2 instances succeeded, 0 counted as failed (limit 10%)"], "health": None,
                "targets": 2, "succeeded": 2, "failed": 0, "unreachable": 0, "offline": [], "pinned_to": None,
                "waves": [{"label": "Install wave 1", "targets": 2, "verdict": "PASS", "reasons": ["passed: 2 of 2 instances succeeded, 0 counted as failed (limit 10%)"], "commands": [{"id": "cmd-dev-1", "short": "cmd-dev-", "url": console.format("cmd-dev-1")}], "more_commands": 0}], "scopes": [], "would_install": None,
                "waits": [],
            },
            {
                "name": "test", "patch_group": "test", "state": "blocked", "gate": "BLOCK",
                "reasons": ["1 of 2 instances failed (limit 0)"], "health": None,
                "targets": 2, "succeeded": 1, "failed": 1, "unreachable": 0, "offline": ["i-9"], "pinned_to": "dev",
                "waves": [{"label": "Install wave 1", "targets": 2, "verdict": "BLOCK", "reasons": ["1 of 2 instances failed (limit 0)"], "commands": [
                    {"id": "cmd-test-1", "short": "cmd-test", "url": console.format("cmd-test-1")},
                    {"id": "cmd-test-2", "short": "cmd-test", "url": console.format("cmd-test-2")},
                ], "more_commands": 0}], "scopes": [], "would_install": None, "waits": [],
            },
            {
                "name": "prod", "patch_group": "prod", "state": "not started", "gate": "-", "reasons": [], "health": None,
                "targets": 0, "succeeded": 0, "failed": 0, "unreachable": 0, "offline": [], "pinned_to": "dev", "waves": [], "scopes": [], "would_install": None,
                "waits": [],
            },
        ],
        "manifests": [{"stage": "dev", "hash": "0123456789abcdef0123", "short": "0123456789ab", "size": 7}],
        "path": [
            {"name": "dev", "patch_group": "dev", "state": "promoted", "label": "passed", "tone": "ok"},
            {"name": "test", "patch_group": "test", "state": "blocked", "label": "blocked", "tone": "bad"},
            {"name": "prod", "patch_group": "prod", "state": "not started", "label": "not reached", "tone": "idle"},
        ],
        "airflow": None,
    }


def test_a_scheduled_run_that_started_too_late_shows_as_skipped_not_as_a_failure():
    base = {"dag_id": "rollout_demo", "run_id": "scheduled__2026-11-29T01:00:00+00:00"}
    why = "scheduled for Sun 29 Nov 02:00 Europe/Berlin, started 3 days 4 hours late (limit 1 hour); nothing patched — the next scheduled run is Wed 09 Dec 02:00 (dev)"
    records = [
        {**base, "kind": "run_started", "at": "2026-12-02T05:00:00Z", "plan": "demo", "stages": ["prod"], "dry_run": False, "change_ticket": ""},
        {**base, "kind": "run_finished", "at": "2026-12-02T05:00:01Z", "outcome": "skipped", "blocking_stage": None, "reason": why},
    ]
    summary = model.run_summary(build_report(records), PLAN, base_url="", region="eu-west-1")
    assert {key: summary[key] for key in ("outcome", "outcome_text", "tone", "headline")} == {
        "outcome": "skipped", "outcome_text": "Skipped", "tone": "warn", "headline": why}


def records_of_a_run_that_recorded_its_pins() -> list[dict]:
    """dev, then test pinned to dev's manifest; prod (pinned in the plan of the day) never reached."""
    base = {"dag_id": "rollout_demo", "run_id": "manual__2"}
    return [
        {**base, "kind": "run_started", "at": "2026-11-29T10:00:00Z", "plan": "demo", "stages": ["dev", "test", "prod"], "dry_run": False},
        {**base, "kind": "command_sent", "at": "2026-11-29T10:00:02Z", "stage": "dev", "wave": 1, "command_ids": ["cmd-dev-1"], "pinned_to": None},
        {**base, "kind": "manifest", "at": "2026-11-29T10:01:02Z", "stage": "dev", "content_hash": "0123456789abcdef0123", "size": 7},
        {**base, "kind": "command_sent", "at": "2026-11-29T10:02:02Z", "stage": "test", "wave": 1, "command_ids": ["cmd-test-1"],
         "pinned_to": {"stage": "dev", "hash": "0123456789abcdef0123"}},
        {**base, "kind": "run_finished", "at": "2026-11-29T10:03:02Z", "outcome": "blocked", "blocking_stage": "test", "reason": "gate"},
    ]


@pytest.mark.parametrize(
    "plan_now",
    [
        pytest.param(PLAN, id="plan-unchanged"),
        pytest.param({**PLAN, "stages": [{**s, "pin_to": None} for s in PLAN["stages"]]}, id="pin-removed-since"),
        pytest.param({**PLAN, "stages": [PLAN["stages"][0], {"name": "qa", "patch_group": "qa", "pin_to": "dev"},
                                         {"name": "test", "patch_group": "test", "pin_to": "qa"}, PLAN["stages"][2]]}, id="pin-pointed-elsewhere-since"),
        pytest.param(None, id="plan-gone"),
    ],
)
def test_the_page_shows_what_the_run_pinned_to_whatever_the_plan_says_now(plan_now):
    summary = model.run_summary(build_report(records_of_a_run_that_recorded_its_pins()), plan_now, base_url="", region="eu-west-1")
    assert [(s["name"], s["pinned_to"]) for s in summary["stages"]] == [("dev", None), ("test", "dev"), ("prod", None)]


def test_a_run_recorded_before_pins_were_recorded_falls_back_to_the_plan():
    older = [{k: v for k, v in r.items() if k != "pinned_to"} for r in records_of_a_run_that_recorded_its_pins()]
    plan_now = {**PLAN, "stages": [PLAN["stages"][0], {**PLAN["stages"][1], "pin_to": None}, PLAN["stages"][2]]}
    summary = model.run_summary(build_report(older), plan_now, base_url="", region="eu-west-1")
    assert [(s["name"], s["pinned_to"]) for s in summary["stages"]] == [("dev", None), ("test", None), ("prod", "dev")]


@pytest.mark.parametrize(
    "report_stages, plan, expected",
    [
        # a subset run: stages the trigger form left out say so
        ([Stage("prod", state=StageState.RUNNING, patch_group="prod")], PLAN, [("dev", "not selected", "not in this run"), ("test", "not selected", "not in this run"), ("prod", "running", "running")]),
        # a failed stage
        ([Stage("dev", state=StageState.FAILED, patch_group="dev")], PLAN, [("dev", "failed", "failed"), ("test", "not selected", "not in this run"), ("prod", "not selected", "not in this run")]),
        # the plan is gone from include/rollouts: the report's own stages, in its order
        ([Stage("b", state=StageState.PROMOTED), Stage("a", state=StageState.BLOCKED)], None, [("b", "promoted", "passed"), ("a", "blocked", "blocked")]),
    ],
)
def test_promotion_path(report_stages, plan, expected):
    path = model.promotion_path(Report(stages=tuple(report_stages)), plan)
    assert [(s["name"], s["state"], s["label"]) for s in path] == expected


@pytest.mark.parametrize(
    "stage, gate, reasons",
    [
        (Stage("dev", state=StageState.FAILED, error="preflight: no instances", verdict=None), "ERROR", ["preflight: no instances"]),
        (Stage("dev", state=StageState.RUNNING, verdict=None), "-", []),
        (Stage("dev", state=StageState.BLOCKED, verdict=Verdict(False, ("too many failed",))), "BLOCK", ["too many failed"]),
    ],
)
def test_stage_gate_words(stage, gate, reasons):
    summary = model.run_summary(Report(dag_id="d", run_id="r", outcome=RunOutcome.FAILED, stages=(stage,)), None, base_url="", region="us-east-1")
    assert (summary["stages"][0]["gate"], summary["stages"][0]["reasons"]) == (gate, reasons)


def test_runs_are_newest_first_and_runs_with_no_start_record_last():
    from patchflow.ui.runs_model import run_entries

    reports = [Report(run_id="a", started_at="2026-11-01T00:00:00Z"), Report(run_id="b", started_at=None), Report(run_id="c", started_at="2026-11-03T00:00:00Z"), Report(run_id="d", started_at="2026-11-02T00:00:00Z")]
    assert [report.run_id for report, _ in run_entries(reports, [], [])] == ["c", "d", "a", "b"]


# --------------------------------------------------------------------------- failures and the whole page


@pytest.mark.parametrize(
    "failure, title, level, action_starts",
    [
        ({"source": "ssm", "kind": "unreachable", "where": "http://x", "detail": "no connection could be made"}, "The fleet is unreachable", "error", "Check the API server's network route"),
        ({"source": "ledger", "kind": "unreachable", "where": "s3://b/p", "detail": "the connection timed out"}, "The run ledger is unreachable", "error", "Check that the API server can reach S3"),
        ({"source": "ssm", "kind": "no_permission", "detail": "AccessDeniedException: nope"}, "No permission to read the fleet (AWS Systems Manager)", "error", "Grant the API server's role ssm:DescribeInstanceInformation"),
        ({"source": "ledger", "kind": "no_permission", "detail": "AccessDenied: nope"}, "No permission to read the run ledger", "error", "Grant the API server's role s3:ListBucket, s3:GetObject"),
        ({"source": "ssm", "kind": "not_configured", "detail": "Unable to locate credentials"}, "No AWS credentials or region for the fleet (AWS Systems Manager)", "error", "Give the API server an AWS role"),
        ({"source": "ssm", "kind": "throttled", "detail": "ThrottlingException: Rate exceeded"}, "The fleet (AWS Systems Manager) is throttling requests", "warning", "Wait a minute and reload"),
        ({"source": "ledger", "kind": "missing", "where": "s3://b/p", "detail": "NoSuchBucket"}, "No rollouts yet", "warning", "Trigger a rollout DAG"),
        ({"source": "ssm", "kind": "error", "detail": "ValidationException: bad"}, "Could not read the fleet (AWS Systems Manager)", "error", "Reload; if it persists"),
    ],
)
def test_failure_notices_say_what_happened_and_what_to_do(failure, title, level, action_starts):
    notice = model.failure_notice(failure)
    assert (notice["title"], notice["level"], notice["action"].startswith(action_starts)) == (title, level, True)
    assert "Traceback" not in notice["detail"]


def _fleet_ok() -> dict:
    members = [{"instance_id": f"i-{n}", "operating_system": "UBUNTU", "ping_status": "Online"} for n in range(2)]
    states = {"i-0": {"OperationEndTime": ago(minutes=3), "BaselineId": "pb-u"}, "i-1": {"MissingCount": 2, "OperationEndTime": ago(minutes=3), "BaselineId": "pb-u"}}
    group = {"members": members, "states": states, "baselines": {"UBUNTU": {"id": "pb-u", "name": "u"}}}
    return {"ok": True, "region": "us-east-1", "registered": ["dev"], "groups": {"dev": group, "test": group, "prod": group}}


UNREACHABLE = {"ok": False, "region": "us-east-1", "failure": {"kind": "unreachable", "where": "http://127.0.0.1:1", "detail": "no connection could be made"}}


@pytest.mark.parametrize(
    "fleet, ledger, sources, notice_titles, runs, promotion",
    [
        (_fleet_ok(), {"ok": True, "reports": [build_report(records_of_a_blocked_run())], "failures": []}, {"fleet": "ok", "ledger": "ok"}, [], ["manual__1"], ("Blocked", ["passed", "blocked", "not reached"])),
        (_fleet_ok(), {"ok": True, "reports": [], "failures": []}, {"fleet": "ok", "ledger": "ok"}, ["No rollouts yet"], [], ("No runs yet", ["no runs yet"] * 3)),
        (
            _fleet_ok(),
            {"ok": True, "reports": [], "failures": [{"kind": "missing", "where": "s3://ledger/runs", "detail": "NoSuchBucket"}, {"kind": "missing", "where": "s3://ledger/other", "detail": "NoSuchBucket"}]},
            {"fleet": "ok", "ledger": "ok"}, ["No rollouts yet"], [], ("No runs yet", ["no runs yet"] * 3),
        ),
        (UNREACHABLE, {"ok": True, "reports": [build_report(records_of_a_blocked_run())], "failures": []}, {"fleet": "unreachable", "ledger": "ok"}, ["The fleet is unreachable"], ["manual__1"], ("Blocked", ["passed", "blocked", "not reached"])),
        (UNREACHABLE, {"ok": False, "failure": {"kind": "unreachable", "where": "s3://ledger/runs", "detail": "no connection could be made"}}, {"fleet": "unreachable", "ledger": "unreachable"}, ["The fleet is unreachable", "The run ledger is unreachable"], [], ("History unavailable", ["unknown"] * 3)),
        (
            {"ok": False, "failure": {"kind": "no_permission", "detail": "AccessDeniedException: not allowed"}},
            {"ok": False, "failure": {"kind": "no_permission", "where": "s3://ledger/runs", "detail": "AccessDenied: Access Denied"}},
            {"fleet": "no_permission", "ledger": "no_permission"},
            ["No permission to read the fleet (AWS Systems Manager)", "No permission to read the run ledger"], [], ("History unavailable", ["unknown"] * 3),
        ),
    ],
)
def test_build_page_states(fleet, ledger, sources, notice_titles, runs, promotion):
    page = model.build_page(plans=[PLAN], fleet=fleet, ledger=ledger, now=NOW, base_url="", user="admin")
    assert page["sources"] == sources
    assert [n["title"] for n in page["notices"]] == notice_titles
    assert [r["run_id"] for r in page["runs"]] == runs
    assert (page["promotions"][0]["outcome_text"], [s["label"] for s in page["promotions"][0]["path"]]) == promotion
    assert [g["name"] for g in page["groups"]] == (["dev", "test", "prod"] if sources["fleet"] == "ok" else [])


def test_build_page_without_plans_and_with_a_broken_plan_says_what_to_fix():
    page = model.build_page(plans=[], plan_problems=["include/rollouts/x.yaml: stages[0].patch_group: expected a patch group name, got 42"], fleet={"ok": True, "groups": {}, "registered": []}, ledger={"ok": True, "reports": [], "failures": []}, now=NOW)
    assert [(n["title"], n["detail"]) for n in page["notices"]] == [
        ("A rollout plan has problems", "include/rollouts/x.yaml: stages[0].patch_group: expected a patch group name, got 42"),
        ("No rollout plans", "include/rollouts/ holds no valid plan, so no patch group is known."),
        ("No rollouts yet", "The run ledger holds no rollout runs."),
    ]
    assert page["groups"] == [] and page["promotions"] == []


# --------------------------------------------------------------------------- HTML


def test_rendered_page_shows_what_a_person_reads():
    page = model.build_page(plans=[PLAN], fleet=_fleet_ok(), ledger={"ok": True, "reports": [build_report(records_of_a_blocked_run())], "failures": []}, now=NOW, base_url="", user="admin")
    html = render.render_page(page)
    for text in ("Patch rollouts", "Patch groups", "Recent rollout runs", "signed in as admin", "BLOCK", "PASS", "Blocked",
                 "stopped at test: install wave 1: 1 of 2 instances failed (limit 0)", "0123456789ab", "(7 patches)",
                 "href='/dags/rollout_demo/runs/manual__1'", "href='/rollouts/report?dag_id=rollout_demo&amp;run_id=manual__1'",
                 "data-stage='test' data-state='blocked'", "50% compliant", "3 min ago"):
        assert text in html, text
    assert "<script" not in html


def test_rendered_page_escapes_everything_it_is_given():
    hostile = "<img src=x onerror=alert(1)>"
    fleet = _fleet_ok()
    fleet["groups"] = {hostile: fleet["groups"]["dev"]}
    plan = {**PLAN, "stages": [{"name": hostile, "patch_group": hostile, "pin_to": None}]}
    page = model.build_page(plans=[plan], fleet=fleet, ledger={"ok": True, "reports": [], "failures": []}, now=NOW, user=hostile)
    html = render.render_page(page)
    assert hostile not in html and "&lt;img src=x onerror=alert(1)&gt;" in html


@pytest.mark.parametrize(
    "bar, widths",
    [({"compliant": 100.0, "non_compliant": 0.0, "no_data": 0.0}, {"compliant": "220.0"}), ({"compliant": 50.0, "non_compliant": 25.0, "no_data": 25.0}, {"compliant": "110.0", "non_compliant": "55.0", "no_data": "55.0"}), ({"compliant": 0.0, "non_compliant": 0.0, "no_data": 0.0}, {})],
)
def test_compliance_bar_segments(bar, widths):
    svg = render.compliance_bar({"bar": bar, "compliant": 1, "instances": 2, "non_compliant": 0, "no_data": 1})
    for key in ("compliant", "non_compliant", "no_data"):
        assert (f"class='bar-{key}'" in svg) == (key in widths)
        if key in widths:
            assert f"width='{widths[key]}'" in svg.split(f"class='bar-{key}'")[1].split("/>")[0]


@pytest.mark.parametrize(
    "tones, width, boxes",
    [
        pytest.param([], 154, [], id="no stages"),
        pytest.param(["ok"], 154, [(2, 77.0, "#dafbe1", "#1a7f37", None)], id="one stage, no arrow"),
        pytest.param(
            ["ok", "bad", "unheard-of"], 542,
            [(2, 77.0, "#dafbe1", "#1a7f37", {"x1": 155, "x2": 193}), (196, 271.0, "#ffebe9", "#cf222e", {"x1": 349, "x2": 387}), (390, 465.0, "#f6f8fa", "#6e7781", None)],
            id="three stages, an unknown tone drawn idle",
        ),
    ],
)
def test_promotion_layout_puts_boxes_left_to_right_with_arrows_between(tones, width, boxes):
    layout = render.promotion_layout([{"name": f"s{n}", "tone": tone} for n, tone in enumerate(tones)])
    assert (layout["width"], layout["height"], layout["arrow_y"]) == (width, 62, 31.0)
    assert [(b["x"], b["centre"], b["fill"], b["stroke"], b["arrow"]) for b in layout["boxes"]] == boxes


def test_message_page_says_what_to_do():
    html = render.render_message_page("No permission to see patch rollouts", "You are signed in as bob.", "Ask an admin.")
    assert "No permission to see patch rollouts" in html and "What to do: Ask an admin." in html


def test_model_render_and_links_import_without_airflow_or_boto3():
    probe = (
        "import sys\n"
        "for name in ('airflow', 'boto3', 'botocore'): sys.modules[name] = None\n"
        "import patchflow.ui.model, patchflow.ui.render, patchflow.core.links\n"
        "print('ok')\n"
    )
    finished = subprocess.run([sys.executable, "-c", probe], cwd=PROJECT_ROOT, env={"PYTHONPATH": f"{PROJECT_ROOT / 'plugins'}:{PROJECT_ROOT}", "PATH": "/usr/bin:/bin"}, capture_output=True, text=True, timeout=60)
    assert (finished.returncode, finished.stdout.strip(), finished.stderr) == (0, "ok", "")


@pytest.mark.parametrize(
    "members, states, caption",
    [
        ([], {}, "no instances"),
        ([{"instance_id": "i-1", "ping_status": "Online"}], {}, "no compliance data"),
        ([{"instance_id": "i-1", "ping_status": "Online"}, {"instance_id": "i-2", "ping_status": "Online"}], {"i-1": {"OperationEndTime": ago(minutes=1)}}, "50% compliant"),
    ],
)
def test_compliance_caption_for_empty_unscanned_and_scanned_groups(members, states, caption):
    fleet = {"ok": True, "region": "us-east-1", "registered": [], "groups": {"dev": {"members": members, "states": states, "baselines": {}}}}
    plan = {**PLAN, "stages": [PLAN["stages"][0]]}
    html = render.render_page(model.build_page(plans=[plan], fleet=fleet, ledger={"ok": True, "reports": [], "failures": []}, now=NOW))
    row = html.split("data-group='dev'")[1].split("</tr>")[0]
    assert caption in row
