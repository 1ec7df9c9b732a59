"""What an approver reads before a stage starts, and when a stage is not offered for approval at all, as tables."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from patchflow.core.approval_request import ApprovalLinks, ApprovalRequest, GroupRead, approval_request, why_not_ready
from patchflow.core.plan import parse_plan

NOW = datetime(2026, 12, 2, 4, 0, tzinfo=timezone.utc)
DEADLINE = NOW + timedelta(minutes=10)
HASH = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0"
LEDGER = "s3://patchflow-ledger/runs/rollout_demo/manual__1"
OLD_LEDGER = "s3://patchflow-ledger/runs/rollout_demo/manual__0"

PLAN = parse_plan(
    {
        "name": "demo",
        "owner": "release-engineering",
        "ledger": "s3://patchflow-ledger/runs",
        "defaults": {"gate": {"max_failed": "10%"}},
        "stages": [
            {"name": "dev", "patch_group": "dev", "approval": {"required": True, "timeout": "10m"}},
            {"name": "test", "patch_group": "test", "approval": {"required": True, "timeout": "10m"}},
            {"name": "prod", "patch_group": "prod", "pin_to": "dev", "approval": {"required": True, "timeout": "10m"}},
        ],
    },
    "include/rollouts/demo.yaml",
)
# test pinned to dev, prod after it: a run of test and prod installs in prod what test installs.
PINNED_TWICE = parse_plan(
    {
        "name": "demo",
        "owner": "release-engineering",
        "ledger": "s3://patchflow-ledger/runs",
        "stages": [
            {"name": "dev", "patch_group": "dev"},
            {"name": "test", "patch_group": "test", "pin_to": "dev"},
            {"name": "prod", "patch_group": "prod", "pin_to": "dev", "approval": {"required": True, "timeout": "10m"}},
        ],
    },
    "include/rollouts/demo.yaml",
)


def links(task_id: str) -> ApprovalLinks:
    return ApprovalLinks.for_task("https://airflow.example.com/", "rollout_demo", "manual__1", task_id)


def record(kind: str, minute: int, **fields) -> dict:
    return {"kind": kind, "at": f"2026-12-02T03:{minute:02d}:00.000000Z", "dag_id": "rollout_demo", "run_id": "manual__1", **fields}


def started(stages=("dev", "test", "prod"), dry_run=False, ticket="CHG-1") -> dict:
    return record("run_started", 0, plan="demo", stages=list(stages), all_stages=["dev", "test", "prod"], dry_run=dry_run,
                  change_ticket=ticket, params={})


COUNTS = {"targets": 6, "succeeded": 6, "failed": 0, "timed_out": 0, "unreachable": 0, "not_dispatched": 0, "cancelled": 0,
          "in_progress": 0, "pending_reboot": 1, "compliant": 5, "non_compliant": 0, "compliance_unknown": 1, "counted_as_failed": 0}


def passed(stage: str, minute: int = 20) -> dict:
    return record("stage_verdict", minute, stage=stage, verdict={
        "passed": True, "reasons": ["passed: 6 of 6 instances succeeded, 0 counted as failed (limit 10%)"], "counts": COUNTS, "thresholds": {}})


def failed_gate(stage: str) -> dict:
    counts = {**COUNTS, "succeeded": 4, "failed": 2, "counted_as_failed": 2}
    return record("stage_verdict", 20, stage=stage, verdict={
        "passed": False, "reasons": ["2 of 6 instances failed (33.3%), above the limit of 10%"], "counts": counts, "thresholds": {}})


def manifest(override_lists=("AMAZON_LINUX_2023", "WINDOWS")) -> dict:
    return record("manifest", 21, stage="dev", content_hash=HASH, size=14, location=f"{LEDGER}/manifest/dev/manifest.json",
                  override_lists={name: f"{LEDGER}/manifest/dev/{name}.yaml" for name in override_lists}, nothing_new_for=[],
                  without_scan_evidence=[], release_id="r-0f1e2d3c4b5a6978")


def chosen(stage: str) -> dict:
    release = {"id": "r-0f1e2d3c4b5a6978", "plan": "demo", "source_stage": "dev", "source_dag_id": "rollout_demo", "source_run_id": "manual__0",
               "created_at": "2026-11-29T03:00:00+00:00", "content_hash": HASH, "size": 1, "manifest_location": f"{OLD_LEDGER}/manifest/dev/manifest.json",
               "override_lists": {"AMAZON_LINUX_2023": f"{OLD_LEDGER}/manifest/dev/AMAZON_LINUX_2023.yaml"}, "gate_summary": ""}
    return record("release_chosen", 1, stage=stage, release=release, reason="the newest release that passed dev", age_seconds=259200,
                  standing="r-0f1e2d3c4b5a6978 (3 days old): dev passed Sun 29 Nov 03:40 UTC")


DEV_LINKS = """\
- **Run in Airflow:** https://airflow.example.com/dags/rollout_demo/runs/manual__1
- **Rollout report:** https://airflow.example.com/rollouts/report?dag_id=rollout_demo&run_id=manual__1
- **Answer:** https://airflow.example.com/dags/rollout_demo/runs/manual__1/tasks/dev.approval/required_actions"""
TEST_LINKS = DEV_LINKS.replace("dev.approval", "test.approval")
PROD_LINKS = DEV_LINKS.replace("dev.approval", "prod.approval")
CLOSING = "\n\nReject, or no answer before the deadline, stops the rollout as a failure."
COUNTS_TEXT = "6 targets: 6 succeeded, 0 failed, 0 timed out, 0 unreachable, 0 not dispatched; 5 compliant, 1 pending reboot"
DEV_PASSED = f"stage dev passed its gate: 6 of 6 instances succeeded, 0 counted as failed (limit 10%). {COUNTS_TEXT}"
TEST_PASSED = DEV_PASSED.replace("stage dev", "stage test")
PIN_LINES = f"""\
- **Installs:** release r-0f1e2d3c4b5a6978, made by stage dev in this run: 14 patches for AMAZON_LINUX_2023, WINDOWS, nothing else
- **Manifest:** content hash {HASH}
- **Patch list:** {LEDGER}/manifest/dev/manifest.json"""
FROM_THE_LEDGER = "chosen from earlier runs when this run started: r-0f1e2d3c4b5a6978 (3 days old): dev passed Sun 29 Nov 03:40 UTC"
LEDGER_PIN_LINES = f"""\
- **Installs:** release r-0f1e2d3c4b5a6978, {{origin}}: 1 patch for AMAZON_LINUX_2023, nothing else
- **Manifest:** content hash {HASH}
- **Patch list:** {OLD_LEDGER}/manifest/dev/manifest.json"""


@pytest.mark.parametrize(
    ("plan", "stage", "records", "expected"),
    [
        pytest.param(PLAN, "dev", [started()], ApprovalRequest(
            "Rollout demo (CHG-1): start stage dev?",
            "Stage **dev** of rollout **demo** patches group `dev`.\n\n"
            "- **Before it:** nothing; dev is the plan's first stage\n"
            "- **Installs:** what the group's patch baselines approve (the stage is not pinned)\n"
            "- **Change ticket:** CHG-1\n"
            "- **Deadline:** 2026-12-02T04:10:00Z (in 10 min)\n" + DEV_LINKS + CLOSING,
        ), id="first-stage"),
        pytest.param(PLAN, "test", [started(), passed("dev")], ApprovalRequest(
            "Rollout demo (CHG-1): start stage test?",
            "Stage **test** of rollout **demo** patches group `test`.\n\n"
            f"- **Before it:** {DEV_PASSED}\n"
            "- **Installs:** what the group's patch baselines approve (the stage is not pinned)\n"
            "- **Change ticket:** CHG-1\n"
            "- **Deadline:** 2026-12-02T04:10:00Z (in 10 min)\n" + TEST_LINKS + CLOSING,
        ), id="after-a-passed-stage"),
        pytest.param(PLAN, "prod", [started(), passed("dev"), manifest(), passed("test", 40)], ApprovalRequest(
            "Rollout demo (CHG-1): start stage prod?",
            "Stage **prod** of rollout **demo** patches group `prod`.\n\n"
            f"- **Before it:** {TEST_PASSED}\n{PIN_LINES}\n"
            "- **Change ticket:** CHG-1\n"
            "- **Deadline:** 2026-12-02T04:10:00Z (in 10 min)\n" + PROD_LINKS + CLOSING,
        ), id="pinned-stage-with-its-manifest"),
        pytest.param(PLAN, "prod", [started(dry_run=True), passed("dev"), passed("test", 40)], ApprovalRequest(
            "Rollout demo (CHG-1): start stage prod (dry run, scan only)?",
            "Stage **prod** of rollout **demo** patches group `prod`.\n\n"
            f"- **Before it:** {TEST_PASSED}\n"
            "- **Installs:** nothing; a dry run only scans, and reports what an install would install\n"
            "- **Change ticket:** CHG-1\n"
            "- **Deadline:** 2026-12-02T04:10:00Z (in 10 min)\n" + PROD_LINKS + CLOSING,
        ), id="dry-run"),
        pytest.param(PLAN, "test", [started(ticket=""), passed("dev")], ApprovalRequest(
            "Rollout demo: start stage test?",
            "Stage **test** of rollout **demo** patches group `test`.\n\n"
            f"- **Before it:** {DEV_PASSED}\n"
            "- **Installs:** what the group's patch baselines approve (the stage is not pinned)\n"
            "- **Change ticket:** none given\n"
            "- **Deadline:** 2026-12-02T04:10:00Z (in 10 min)\n" + TEST_LINKS + CLOSING,
        ), id="no-ticket"),
        pytest.param(PLAN, "prod", [started(stages=["prod"]), chosen("prod")], ApprovalRequest(
            "Rollout demo (CHG-1): start stage prod?",
            "Stage **prod** of rollout **demo** patches group `prod`.\n\n"
            "- **Before it:** no stage in this run (dev, test not in it)\n"
            f"{LEDGER_PIN_LINES.format(origin=FROM_THE_LEDGER)}\n"
            "- **Change ticket:** CHG-1\n"
            "- **Deadline:** 2026-12-02T04:10:00Z (in 10 min)\n" + PROD_LINKS + CLOSING,
        ), id="pinned-stage-with-a-release-from-the-ledger"),
        pytest.param(PINNED_TWICE, "prod", [started(stages=["test", "prod"]), chosen("test"), passed("test", 40)], ApprovalRequest(
            "Rollout demo (CHG-1): start stage prod?",
            "Stage **prod** of rollout **demo** patches group `prod`.\n\n"
            f"- **Before it:** {TEST_PASSED}\n"
            f"{LEDGER_PIN_LINES.format(origin='the one stage test installs in this run, ' + FROM_THE_LEDGER)}\n"
            "- **Change ticket:** CHG-1\n"
            "- **Deadline:** 2026-12-02T04:10:00Z (in 10 min)\n" + PROD_LINKS + CLOSING,
        ), id="pinned-stage-installing-what-the-stage-before-it-installs"),
        pytest.param(PLAN, "prod", [started(), passed("dev"), passed("test", 40)], ApprovalRequest(
            "Rollout demo (CHG-1): start stage prod?",
            "Stage **prod** of rollout **demo** patches group `prod`.\n\n"
            f"- **Before it:** {TEST_PASSED}\n"
            "- **Installs:** unknown: stage is pinned to dev, whose manifest is missing (did dev pass its gate in this run?)\n"
            "- **Change ticket:** CHG-1\n"
            "- **Deadline:** 2026-12-02T04:10:00Z (in 10 min)\n" + PROD_LINKS + CLOSING,
        ), id="pinned-stage-without-its-release"),
    ],
)
def test_the_approval_request_carries_what_an_approver_needs(plan, stage, records, expected):
    request = approval_request(plan, plan.stage(stage), records, now=NOW, deadline=DEADLINE, links=links(f"{stage}.approval"))
    assert request == expected


def test_counts_an_approver_rarely_sees_are_read_out_only_when_there_are_any():
    verdict = passed("dev")
    verdict["verdict"]["counts"] = {**COUNTS, "cancelled": 1, "in_progress": 2}
    request = approval_request(PLAN, PLAN.stage("test"), [started(), verdict], now=NOW, deadline=DEADLINE, links=links("test.approval"))
    assert request.body.splitlines()[2] == (
        "- **Before it:** stage dev passed its gate: 6 of 6 instances succeeded, 0 counted as failed (limit 10%). "
        "6 targets: 6 succeeded, 0 failed, 0 timed out, 1 cancelled, 2 in progress, 0 unreachable, 0 not dispatched; 5 compliant, 1 pending reboot"
    )


LINUX_AND_WINDOWS = GroupRead(operating_systems=frozenset({"AMAZON_LINUX_2023", "WINDOWS"}))
PINNED_PREFIX = "not offered for approval: stage is pinned to dev"


@pytest.mark.parametrize(
    ("plan", "stage", "records", "group", "expected"),
    [
        pytest.param(PLAN, "dev", [started()], GroupRead(), None, id="first-stage-ready"),
        pytest.param(PLAN, "prod", [started(), passed("dev"), manifest(), passed("test", 40)], LINUX_AND_WINDOWS, None, id="pinned-stage-ready"),
        pytest.param(PLAN, "prod", [started(), passed("dev"), manifest(override_lists=("AMAZON_LINUX_2023", "WINDOWS", "UBUNTU")), passed("test", 40)],
                     LINUX_AND_WINDOWS, None, id="an-operating-system-with-nothing-new-is-covered"),
        pytest.param(PLAN, "prod", [started(dry_run=True), passed("dev"), passed("test", 40)], LINUX_AND_WINDOWS, None,
                     id="a-dry-run-needs-no-manifest"),
        pytest.param(PLAN, "test", [started(), passed("dev"), record("run_finished", 30, outcome="blocked", blocking_stage="dev",
                                                                        reason="health: alarm storefront-dev-5xx is ALARM")],
                     GroupRead(), "not offered for approval: stage dev before it blocked: health: alarm storefront-dev-5xx is ALARM",
                     id="the-stage-before-blocked-after-its-gate"),
        pytest.param(PLAN, "test", [started(), record("stage_failed", 10, stage="dev", reason="wave 1: the command's wait ended in an error")],
                     GroupRead(), "not offered for approval: stage dev before it failed: wave 1: the command's wait ended in an error",
                     id="the-stage-before-failed"),
        pytest.param(PLAN, "test", [started(), failed_gate("dev")], GroupRead(),
                     "not offered for approval: stage dev before it did not pass its gate: 2 of 6 instances failed (33.3%), above the limit of 10%",
                     id="the-stage-before-did-not-pass"),
        pytest.param(PLAN, "test", [started(), passed("dev"), {**failed_gate("dev"), "account": "111111111111", "region": "eu-west-1"}], GroupRead(),
                     "not offered for approval: stage dev before it did not pass its gate: 2 of 6 instances failed (33.3%), above the limit of 10%",
                     id="the-stage-before-did-not-pass-in-one-account"),
        pytest.param(PLAN, "test", [started()], GroupRead(), "not offered for approval: stage dev before it has no gate verdict in this run",
                     id="the-stage-before-has-no-verdict"),
        pytest.param(PLAN, "test", [started(stages=["test"])], GroupRead(), None, id="the-stage-before-is-not-in-the-run"),
        pytest.param(PLAN, "test", [started(), passed("dev"), record("stage_failed", 1, stage="test",
                                                                        reason="run start: patch group 'test' has 1 managed instance, fewer than the 2 the plan expects")],
                     GroupRead(), "not offered for approval: run start: patch group 'test' has 1 managed instance, fewer than the 2 the plan expects",
                     id="what-the-run-start-found"),
        pytest.param(PLAN, "test", [started(), passed("dev")],
                     GroupRead(problems=("stage test: patch group 'test' has no managed instances (tag 'Patch Group' or 'PatchGroup')",
                                         "stage test: cannot tell the operating system of i-0abc")),
                     "not offered for approval: stage test: patch group 'test' has no managed instances (tag 'Patch Group' or 'PatchGroup'); "
                     "stage test: cannot tell the operating system of i-0abc",
                     id="what-preflight-would-stop-at"),
        pytest.param(PLAN, "prod", [started(), passed("dev"), passed("test", 40)], LINUX_AND_WINDOWS,
                     f"{PINNED_PREFIX}, whose manifest is missing (did dev pass its gate in this run?)", id="manifest-missing"),
        pytest.param(PLAN, "prod", [started(stages=["prod"])], LINUX_AND_WINDOWS,
                     f"{PINNED_PREFIX}, which is not in this run, and the run's start chose no release for it", id="no-release-chosen"),
        pytest.param(PLAN, "prod", [started(), passed("dev"), manifest(override_lists=("AMAZON_LINUX_2023",)), passed("test", 40)],
                     GroupRead(operating_systems=frozenset({"AMAZON_LINUX_2023", "UBUNTU", "WINDOWS"})),
                     f"{PINNED_PREFIX}, which patched no UBUNTU, WINDOWS instances, so there is no tried patch set to install on them",
                     id="manifest-without-an-operating-system-the-group-has"),
        pytest.param(PLAN, "prod", [started(stages=["prod"]), chosen("prod")], LINUX_AND_WINDOWS,
                     f"{PINNED_PREFIX}, which patched no WINDOWS instances, so there is no tried patch set to install on them",
                     id="release-from-the-ledger-without-an-operating-system-the-group-has"),
    ],
)
def test_a_stage_that_cannot_go_ahead_is_not_offered_for_approval(plan, stage, records, group, expected):
    assert why_not_ready(plan, plan.stage(stage), records, group) == expected
