"""What each ledger record kind declares, and the check that refuses a record its kind does not declare."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from patchflow.core.gates import GateVerdict, Outcome
from patchflow.core.health import AlarmState, HealthCheck, HealthPhase, VerificationRun, VerifiedNode
from patchflow.core.ledger_records import (
    COMMON_FIELDS,
    RECORD_FIELDS,
    AlarmStateJson,
    GateVerdictJson,
    HealthCheckRecord,
    MovedOnJson,
    ReleaseJson,
    RowVerificationJson,
    VerificationJson,
    VerifiedNodeJson,
    WaveRowJson,
    json_types,
    record_problems,
)
from patchflow.core.manifest import PinnedCompliance, VersionMovedOn
from patchflow.core.records import RecordKind, WaveRow
from patchflow.core.releases import Release

COMMAND_SENT = {
    "stage": "test", "wave": 1, "operation": "Install", "command_ids": ["c-1"], "instance_count": 2, "not_sent": [], "reattached": [],
    "comments": ["patchflow 0123456789ab test I1"], "install_override_lists": ["s3://ledger/runs/rollout_demo/r/manifest/dev/UBUNTU.yaml"],
    "pinned_to": {"stage": "dev", "hash": "9f2c", "release": "r-9f2c"}, "nothing_new_for": [],
}
WAVE_RESULT = {
    "stage": "dev", "wave": 1, "operation": "Install", "command_ids": ["c-1"], "instances": [], "verdict": {"passed": True, "reasons": [], "counts": {}, "thresholds": {}},
    "started_at": "2026-12-01T02:00:00+00:00", "finished_at": "2026-12-01T02:09:00+00:00", "polls": None,
}


@pytest.mark.parametrize(
    "kind, fields, expected",
    [
        pytest.param(RecordKind.COMMAND_SENT, COMMAND_SENT, [], id="complete"),
        pytest.param("command_sent", COMMAND_SENT, [], id="kind-as-plain-text"),
        pytest.param(RecordKind.COMMAND_SENT, {**COMMAND_SENT, "pinned_to": None}, [], id="null-where-declared"),
        pytest.param(RecordKind.COMMAND_SENT, {**COMMAND_SENT, "command_ids": ("c-1",)}, [], id="tuple-is-a-json-list"),
        pytest.param(
            RecordKind.COMMAND_SENT,
            {**{k: v for k, v in COMMAND_SENT.items() if k != "command_ids"}, "commands_ids": ["c-1"]},
            [
                "ledger record command_sent: expected a known field (did you mean 'command_ids'?), got 'commands_ids'",
                "ledger record command_sent: command_ids: expected a list, got nothing",
            ],
            id="misspelt-field",
        ),
        pytest.param(
            RecordKind.DRIFT,
            {"stage": "prod", "drift": {}, "patches": 3},
            ["ledger record drift: expected a known field (stage, drift, drift_read), got 'patches'"],
            id="unknown-field-like-no-known-one",
        ),
        pytest.param(
            RecordKind.DRIFT, {"stage": "prod", "drift": {"UBUNTU": ["openssl"]}, "drift_read": {"UBUNTU": [50, 45000]}}, [], id="drift-with-what-it-read",
        ),
        pytest.param(
            RecordKind.DRIFT,
            {"stage": "prod", "drift": {}, "drift_read": [50, 45000]},
            ["ledger record drift: drift_read: expected a mapping, got a list"],
            id="drift-read-not-per-os",
        ),
        pytest.param(
            RecordKind.RUN_FINISHED,
            {"outcome": "blocked", "reason": "gate: 1 instance failed"},
            ["ledger record run_finished: blocking_stage: expected a string or None, got nothing"],
            id="missing-required-field",
        ),
        pytest.param(
            RecordKind.STAGE_FAILED, {"stage": "dev", "reason": "preflight: patch group 'dev' has no managed instances"}, [], id="optional-fields-left-out",
        ),
        pytest.param(
            RecordKind.STAGE_FAILED, {"stage": "dev", "wave": 2, "reason": "SSM answered AccessDenied", "command_ids": ["c-1"]}, [], id="optional-fields-given",
        ),
        pytest.param(
            RecordKind.STAGE_FAILED,
            {"stage": "dev", "reason": "no release to install", "outcome": "blocked", "blocking_stage": "dev"},
            [],
            id="stage-failed-written-by-block",
        ),
        pytest.param(
            RecordKind.COMMAND_SENT,
            {**COMMAND_SENT, "wave": True, "instance_count": "2", "pinned_to": "dev", "not_sent": {"i-1": "ConnectionLost"}},
            [
                "ledger record command_sent: wave: expected an integer, got True",
                "ledger record command_sent: instance_count: expected an integer, got '2'",
                "ledger record command_sent: not_sent: expected a list, got a mapping",
                "ledger record command_sent: pinned_to: expected a mapping or None, got 'dev'",
            ],
            id="wrong-json-types",
        ),
        pytest.param(
            RecordKind.WAVE_RESULT,
            {**WAVE_RESULT, "finished_at": datetime(2026, 12, 1, 2, 9, tzinfo=timezone.utc), "polls": 3},
            ["ledger record wave_result: finished_at: expected a string, got datetime.datetime(2026, 12, 1, 2, 9, tzinfo=datetime.timezone.utc)"],
            id="a-datetime-is-not-its-iso-text",
        ),
        pytest.param(
            RecordKind.RUN_STARTED,
            {"plan": "demo", "stages": ["dev"], "all_stages": ["dev"], "dry_run": False, "change_ticket": "", "params": {}, "run_id": "manual__1"},
            ["ledger record run_started: expected a field the ledger does not add itself (kind, at, dag_id, run_id), got 'run_id'"],
            id="field-the-ledger-adds-itself",
        ),
        pytest.param(
            "run_stopped",
            {},
            [
                "ledger record: kind: expected one of run_started, preflight, command_sent, wave_result, wave_cancelled, stage_verdict, stage_failed,"
                " manifest, release_chosen, drift, health_check, waiting, approval_answered, run_finished, got 'run_stopped'"
            ],
            id="unknown-kind",
        ),
    ],
)
def test_record_problems(kind, fields, expected):
    assert record_problems(kind, fields) == expected


def test_every_record_kind_declares_its_fields():
    assert list(RECORD_FIELDS) == list(RecordKind)


@pytest.mark.parametrize(
    "kind, required",
    [
        pytest.param(RecordKind.RUN_STARTED, "plan stages all_stages dry_run change_ticket params", id="run_started"),
        pytest.param(RecordKind.PREFLIGHT, "stage patch_group targets offline baselines default_baselines warnings", id="preflight"),
        pytest.param(
            RecordKind.COMMAND_SENT,
            "stage wave operation command_ids instance_count not_sent reattached comments install_override_lists pinned_to nothing_new_for",
            id="command_sent",
        ),
        pytest.param(RecordKind.WAVE_RESULT, "stage wave operation command_ids instances verdict started_at finished_at polls", id="wave_result"),
        pytest.param(RecordKind.WAVE_CANCELLED, "stage wave command_ids reason settled instances", id="wave_cancelled"),
        pytest.param(RecordKind.STAGE_VERDICT, "stage verdict", id="stage_verdict"),
        pytest.param(RecordKind.STAGE_FAILED, "stage reason", id="stage_failed"),
        pytest.param(
            RecordKind.MANIFEST, "stage content_hash size location override_lists nothing_new_for without_scan_evidence release_id", id="manifest",
        ),
        pytest.param(RecordKind.RELEASE_CHOSEN, "stage release reason age_seconds standing", id="release_chosen"),
        pytest.param(RecordKind.DRIFT, "stage drift", id="drift"),
        pytest.param(RecordKind.HEALTH_CHECK, "stage phase wave passed reasons alarms verification polls checked_at", id="health_check"),
        pytest.param(RecordKind.APPROVAL_ANSWERED, "stage answer answered_at by", id="approval_answered"),
        pytest.param(RecordKind.RUN_FINISHED, "outcome blocking_stage reason", id="run_finished"),
    ],
)
def test_required_fields_are_the_ones_every_writer_writes(kind, required):
    declared = RECORD_FIELDS[kind]
    assert sorted(declared.__required_keys__ - set(COMMON_FIELDS)) == sorted(required.split())
    assert sorted(declared.__required_keys__ & set(COMMON_FIELDS)) == sorted(COMMON_FIELDS)


def test_a_record_with_no_fields_names_every_required_one():
    assert record_problems(RecordKind.STAGE_VERDICT, {}) == [
        "ledger record stage_verdict: stage: expected a string, got nothing",
        "ledger record stage_verdict: verdict: expected a mapping, got nothing",
    ]


def _keys(declared) -> tuple[list[str], list[str]]:
    return sorted(declared.__annotations__), sorted(declared.__required_keys__)


def test_nested_shapes_are_the_json_their_types_write():
    node = VerifiedNode("i-1", True, "Success", 0, "ok")
    judged = (WaveRow("i-1", "UBUNTU", Outcome.FAILED, "Failed", failed_patches=1, verification=node.row_verification())
              .judged(PinnedCompliance(True, (), (), (), ())).with_failed_patch_ids(("curl",)))
    unpinned = WaveRow("i-1", "UBUNTU", Outcome.SUCCEEDED, "Success")
    verification = VerificationRun(("AWS-RunShellScript",), ("c-1",), (node,))
    assert _keys(RowVerificationJson) == (sorted(node.row_verification()),) * 2
    assert _keys(VerifiedNodeJson) == (sorted(node.to_json()),) * 2
    assert _keys(VerificationJson) == (sorted(verification.to_json()),) * 2
    assert _keys(AlarmStateJson) == (sorted(AlarmState("storefront-dev-5xx", "OK").to_json()),) * 2
    release = Release("r-1", "demo", "dev", "rollout_demo", "manual__1", datetime(2026, 12, 1, tzinfo=timezone.utc), "9f2c", 3, "file:///m.json", {})
    assert _keys(WaveRowJson) == (sorted(judged.to_json()), sorted(unpinned.to_json()))
    assert _keys(GateVerdictJson) == (sorted(GateVerdict(True, (), {}).to_json()),) * 2
    assert _keys(ReleaseJson) == (sorted(release.to_json()),) * 2
    assert _keys(MovedOnJson) == (sorted(VersionMovedOn("curl", "curl:8.5", "curl:8.6").to_json()),) * 2


def test_a_health_check_writes_exactly_the_fields_its_record_declares():
    check = HealthCheck(
        "dev", HealthPhase.WAVE, False, ("alarm storefront-dev-5xx is in ALARM since 2026-12-02T10:41:07Z: Threshold Crossed",),
        "2026-12-02T10:41:09+00:00", wave=1, alarms=(AlarmState("storefront-dev-5xx", "ALARM", "Threshold Crossed", "2026-12-02T10:41:07+00:00"),),
        verification=VerificationRun(("AWS-RunShellScript",), ("c-1",), (VerifiedNode("i-1", False, "Failed", 1, "down"),)),
    )
    assert (record_problems(RecordKind.HEALTH_CHECK, check.to_json()), sorted(check.to_json())) == (
        [], sorted(set(HealthCheckRecord.__annotations__) - set(COMMON_FIELDS)))


def test_a_field_declared_with_a_type_json_does_not_have_is_refused():
    with pytest.raises(TypeError) as caught:
        json_types(set[str])
    assert str(caught.value) == "a ledger record field must be declared with JSON types (str, int, bool, list, dict, NoneType), got set[str]"
