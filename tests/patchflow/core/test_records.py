"""Wave rows built from what SSM answered, and read back from any ledger or XCom in the shape it always had."""
from __future__ import annotations

import json

import pytest

from patchflow.core.gates import InstanceResult, Outcome
from patchflow.core.manifest import PinnedCompliance, VersionMovedOn
from patchflow.core.records import RecordKind, WaveRow, not_sent_reason, patched_instances

AL = "AMAZON_LINUX_2023"
TARGET = {"instance_id": "i-1", "operating_system": AL, "ping_status": "Online"}
VERIFICATION = {"passed": False, "status_details": "Failed", "response_code": 1, "output_tail": "curl: (7) Failed to connect"}


def invocation(status: str, details: str) -> dict:
    return {"InstanceId": "i-1", "CommandId": "cmd-1", "Status": status, "StatusDetails": details}


@pytest.mark.parametrize(
    "target, found, expected",
    [
        pytest.param(TARGET, invocation("Success", "Success"), WaveRow("i-1", AL, Outcome.SUCCEEDED, "Success", command_id="cmd-1"), id="success"),
        pytest.param(TARGET, invocation("Failed", "Failed"), WaveRow("i-1", AL, Outcome.FAILED, "Failed", command_id="cmd-1"), id="failed"),
        pytest.param(TARGET, invocation("TimedOut", "DeliveryTimedOut"), WaveRow("i-1", AL, Outcome.UNREACHABLE, "DeliveryTimedOut", command_id="cmd-1"),
                     id="delivery-timed-out-is-unreachable"),
        pytest.param(TARGET, None, WaveRow("i-1", AL, Outcome.NOT_DISPATCHED, "NoInvocation"), id="online-without-invocation"),
        pytest.param({**TARGET, "ping_status": "ConnectionLost"}, None, WaveRow("i-1", AL, Outcome.UNREACHABLE, "NotSent: agent ConnectionLost at preflight"),
                     id="offline-not-sent"),
        pytest.param({**TARGET, "ping_status": "ConnectionLost"}, invocation("Success", "Success"),
                     WaveRow("i-1", AL, Outcome.SUCCEEDED, "Success", command_id="cmd-1"), id="offline-at-preflight-but-ran"),
        pytest.param({"instance_id": "i-1"}, None, WaveRow("i-1", None, Outcome.NOT_DISPATCHED, "NoInvocation"), id="target-from-before-ping-status"),
    ],
)
def test_row_from_invocation(target, found, expected):
    assert WaveRow.from_invocation(target, found, not_sent_reason(target, found)) == expected


@pytest.mark.parametrize(
    "state, compliant, pending_reboot, missing, failed",
    [
        pytest.param({"MissingCount": 0, "FailedCount": 0, "InstalledPendingRebootCount": 0}, True, False, 0, 0, id="compliant"),
        pytest.param({"MissingCount": 3, "FailedCount": 1}, False, False, 3, 1, id="missing-and-failed"),
        pytest.param({"InstalledPendingRebootCount": 2}, False, True, 0, 0, id="pending-reboot"),
        pytest.param({"InstalledRejectedCount": 1, "MissingCount": None}, False, False, 0, 0, id="rejected-installed"),
    ],
)
def test_row_with_patch_state(state, compliant, pending_reboot, missing, failed):
    row = WaveRow("i-1", AL, Outcome.SUCCEEDED, "Success", command_id="cmd-1").with_patch_state(state)
    assert row == WaveRow("i-1", AL, Outcome.SUCCEEDED, "Success", compliant, pending_reboot, missing, failed, "cmd-1")


def test_a_pinned_row_takes_compliance_from_the_manifest_and_carries_the_extras():
    judgement = PinnedCompliance(False, ("curl.x86_64",), (), (VersionMovedOn("curl.x86_64", "curl:8.5", "curl:8.6"),), ("zlib.x86_64", "vim.x86_64"))
    row = WaveRow("i-1", AL, Outcome.SUCCEEDED, "Success", True, command_id="cmd-1").judged(judgement)
    assert row.to_json() == {
        "instance_id": "i-1", "operating_system": AL, "outcome": "succeeded", "status_details": "Success", "compliant": False,
        "pending_reboot": False, "missing": 0, "failed_patches": 0, "command_id": "cmd-1",
        "not_installed": ["curl.x86_64"], "drift": 2, "moved_on": [{"id": "curl.x86_64", "pinned_title": "curl:8.5", "offered_title": "curl:8.6"}],
    }


@pytest.mark.parametrize(
    "row",
    [
        pytest.param(WaveRow("i-1", AL, Outcome.FAILED, "Failed", False, True, 2, 1, "cmd-1"), id="unpinned"),
        pytest.param(WaveRow("i-1", AL, Outcome.SUCCEEDED, "Success", True, command_id="cmd-1", not_installed=(), drift=0, moved_on=()), id="pinned"),
        pytest.param(WaveRow("i-2", None, Outcome.NOT_DISPATCHED, "NoInvocation"), id="unknown-os"),
        pytest.param(WaveRow("i-1", AL, Outcome.FAILED, "Success", True, command_id="cmd-1", verification=VERIFICATION), id="verified"),
        pytest.param(WaveRow("i-1", AL, Outcome.FAILED, "Failed", False, False, 0, 2, "cmd-1", failed_patch_ids=("KB5034441", "curl.x86_64")),
                     id="failed-patches-named"),
    ],
)
def test_json_round_trip(row):
    assert WaveRow.from_json(json.loads(json.dumps(row.to_json()))) == row


def test_a_verified_row_carries_the_health_check_after_the_keys_older_ledgers_hold():
    assert WaveRow("i-1", AL, Outcome.FAILED, "Success", True, command_id="cmd-1", verification=VERIFICATION).to_json() == {
        "instance_id": "i-1", "operating_system": AL, "outcome": "failed", "status_details": "Success", "compliant": True,
        "pending_reboot": False, "missing": 0, "failed_patches": 0, "command_id": "cmd-1", "verification": VERIFICATION,
    }


@pytest.mark.parametrize(
    "row, lists",
    [
        pytest.param(WaveRow("i-1", AL, Outcome.FAILED, "Failed", False, False, 0, 1, "cmd-1"), True, id="failed-with-failed-patches"),
        pytest.param(WaveRow("i-1", AL, Outcome.FAILED, "Failed", None, command_id="cmd-1"), False, id="failed-without-a-fresh-state"),
        pytest.param(WaveRow("i-1", AL, Outcome.SUCCEEDED, "Success", False, False, 0, 1, "cmd-1"), False, id="succeeded-with-an-old-failure"),
        pytest.param(WaveRow("i-1", AL, Outcome.TIMED_OUT, "ExecutionTimedOut", False, False, 0, 1, "cmd-1"), False, id="timed-out"),
        pytest.param(WaveRow("i-1", AL, Outcome.UNREACHABLE, "NotSent: agent ConnectionLost at preflight"), False, id="unreachable"),
    ],
)
def test_only_a_failed_node_that_failed_patches_has_them_listed(row, lists):
    assert row.lists_failed_patches is lists


def test_a_failed_row_names_its_failed_patches_sorted_once_after_the_keys_older_ledgers_hold():
    row = WaveRow("i-1", AL, Outcome.FAILED, "Failed", False, False, 0, 2, "cmd-1").with_failed_patch_ids(["curl.x86_64", "KB5034441", "curl.x86_64"])
    assert row.to_json() == {
        "instance_id": "i-1", "operating_system": AL, "outcome": "failed", "status_details": "Failed", "compliant": False,
        "pending_reboot": False, "missing": 0, "failed_patches": 2, "command_id": "cmd-1", "failed_patch_ids": ["KB5034441", "curl.x86_64"],
    }


def test_an_unpinned_row_writes_exactly_the_keys_older_ledgers_hold():
    assert WaveRow("i-1", AL, Outcome.TIMED_OUT, "ExecutionTimedOut", None, False, 0, 0, "cmd-1").to_json() == {
        "instance_id": "i-1", "operating_system": AL, "outcome": "timed_out", "status_details": "ExecutionTimedOut", "compliant": None,
        "pending_reboot": False, "missing": 0, "failed_patches": 0, "command_id": "cmd-1",
    }


def test_a_row_from_an_older_ledger_without_counts_reads_with_defaults():
    assert WaveRow.from_json({"instance_id": "i-1", "outcome": "not_dispatched", "compliant": None, "pending_reboot": False}) == WaveRow(
        "i-1", None, Outcome.NOT_DISPATCHED
    )


def test_the_gate_reads_a_row():
    row = WaveRow("i-1", AL, Outcome.FAILED, "Failed", False, True, 2, 1, "cmd-1")
    assert InstanceResult.from_row(row) == InstanceResult("i-1", Outcome.FAILED, False, True, 2, 1, AL)


def test_patched_instances_are_the_successes_of_known_operating_system():
    rows = [
        WaveRow("i-1", AL, Outcome.SUCCEEDED),
        WaveRow("i-2", AL, Outcome.FAILED),
        WaveRow("i-3", None, Outcome.SUCCEEDED),
        WaveRow("i-4", "WINDOWS", Outcome.SUCCEEDED),
    ]
    assert patched_instances(rows) == {"i-1": AL, "i-4": "WINDOWS"}


def test_record_kinds_are_stored_as_their_plain_names():
    assert [json.loads(json.dumps({"kind": kind}))["kind"] for kind in RecordKind] == [
        "run_started", "preflight", "command_sent", "wave_result", "wave_cancelled", "stage_verdict", "stage_failed", "manifest", "release_chosen", "drift",
        "health_check", "waiting", "approval_answered", "run_finished",
    ]
    assert f"{RecordKind.COMMAND_SENT}" == "command_sent"
