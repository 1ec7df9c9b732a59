from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError, NoCredentialsError
from moto import mock_aws

from patchflow.core.errors import InvalidInput
from patchflow.aws.inventory import ManagedInstance
from patchflow.aws.ledger import FileStore, RunLedger, S3Store, failure_line, list_runs, open_store
from patchflow.core.ledger_records import Target

RUN_STARTED = {"plan": "demo", "stages": ["dev"], "all_stages": ["dev", "test", "prod"], "dry_run": False, "change_ticket": "", "params": {"stages": ["dev"]}}
COMMAND_SENT = {
    "stage": "dev", "wave": 1, "operation": "Install", "command_ids": ["c-1"], "instance_count": 1, "not_sent": [], "reattached": [],
    "comments": ["patchflow 0123456789ab dev I1"], "install_override_lists": [], "pinned_to": None, "nothing_new_for": [],
}
STAGE_VERDICT = {"stage": "dev", "verdict": {"passed": True, "reasons": [], "counts": {"succeeded": 1}, "thresholds": {}}}


def test_file_ledger_appends_one_object_per_record_and_reads_them_in_order(tmp_path):
    ledger = RunLedger(FileStore(tmp_path), "rollout_demo", "manual__2026-11-28T10:00:00+00:00")
    ledger.append("run_started", **RUN_STARTED)
    ledger.append("command_sent", **COMMAND_SENT)
    ledger.append("stage_verdict", **STAGE_VERDICT)
    records = ledger.records()
    assert [r["kind"] for r in records] == ["run_started", "command_sent", "stage_verdict"]
    assert records[1]["command_ids"] == ["c-1"]
    assert len(list((tmp_path / "rollout_demo").rglob("*.json"))) == 3
    assert list_runs(FileStore(tmp_path)) == [("rollout_demo", "manual__2026-11-28T10_00_00_00_00")]


def test_a_second_ledger_object_for_the_same_run_sees_earlier_records(tmp_path):
    RunLedger(FileStore(tmp_path), "d", "r").append("run_started", **RUN_STARTED)
    assert [r["kind"] for r in RunLedger(FileStore(tmp_path), "d", "r").records()] == ["run_started"]


def test_relative_file_uri_is_resolved_from_the_project_root():
    store = open_store("file://reports/ledger")
    assert isinstance(store, FileStore)
    assert store.root.parts[-2:] == ("reports", "ledger")
    assert store.root.is_absolute()


@pytest.mark.parametrize(
    "uri",
    [pytest.param("ftp://x/y", id="unknown-scheme"), pytest.param("s3://", id="s3-without-bucket"), pytest.param("reports", id="no-scheme")],
)
def test_bad_ledger_uri_is_named(uri):
    with pytest.raises(InvalidInput) as caught:
        open_store(uri)
    assert str(caught.value) == f"ledger: uri: expected file://PATH or s3://BUCKET/PREFIX, got {uri!r}"


@mock_aws
def test_s3_ledger_writes_encrypted_objects_under_its_prefix():
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="ledger")
    ledger = RunLedger(S3Store(s3, "ledger", "rollouts"), "rollout_demo", "run-1")
    ledger.append("run_started", **RUN_STARTED)
    location = ledger.put_artifact("report.json", "{}", "application/json")
    assert location == "s3://ledger/rollouts/rollout_demo/run-1/report.json"
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="ledger")["Contents"]]
    assert all(k.startswith("rollouts/rollout_demo/run-1/") for k in keys)
    for key in keys:
        assert s3.head_object(Bucket="ledger", Key=key)["ServerSideEncryption"] == "AES256"
    assert [r["kind"] for r in ledger.records()] == ["run_started"]


@pytest.mark.parametrize(
    "kind, fields, message",
    [
        pytest.param(
            "command_sent",
            {**{k: v for k, v in COMMAND_SENT.items() if k != "command_ids"}, "commands_ids": ["c-1"]},
            "ledger record command_sent: expected a known field (did you mean 'command_ids'?), got 'commands_ids'\n"
            "ledger record command_sent: command_ids: expected a list, got nothing",
            id="misspelt-field",
        ),
        pytest.param(
            "run_finished", {"outcome": "promoted", "reason": ""}, "ledger record run_finished: blocking_stage: expected a string or None, got nothing",
            id="missing-required-field",
        ),
        pytest.param("run_started", {**RUN_STARTED, "dry_run": "no"}, "ledger record run_started: dry_run: expected true or false, got 'no'", id="wrong-type"),
    ],
)
def test_append_refuses_a_record_its_kind_does_not_declare_and_writes_nothing(tmp_path, kind, fields, message):
    ledger = RunLedger(FileStore(tmp_path), "rollout_demo", "manual__1")
    with pytest.raises(ValueError) as caught:
        ledger.append(kind, **fields)
    assert (str(caught.value), list(tmp_path.rglob("*"))) == (message, [])


def test_a_preflight_target_is_a_managed_instance_as_json():
    instance = ManagedInstance("i-1", "UBUNTU", "Ubuntu", "Online", "Patch Group")
    assert sorted(instance.to_json()) == sorted(Target.__annotations__) == sorted(Target.__required_keys__)


def test_a_referenced_record_reads_back_in_one_read_and_is_among_the_runs_records(tmp_path):
    ledger = RunLedger(FileStore(tmp_path), "rollout_demo", "manual__1")
    ledger.append("run_started", **RUN_STARTED)
    reference = ledger.append_referenced("command_sent", **COMMAND_SENT)
    assert "/" not in reference and reference.endswith(".json") and "-command_sent-dev-1-" in reference
    record = ledger.read_record(reference)
    assert {k: record[k] for k in COMMAND_SENT} == COMMAND_SENT and record["kind"] == "command_sent"
    assert [r["kind"] for r in ledger.records()] == ["run_started", "command_sent"]


@pytest.mark.parametrize(
    "reference",
    [
        pytest.param("", id="empty"),
        pytest.param("../other-run/records/x.json", id="another-runs-folder"),
        pytest.param("sub/x.json", id="a-folder"),
        pytest.param("x y.json", id="not-a-safe-name"),
    ],
)
def test_a_reference_outside_the_runs_records_is_refused(tmp_path, reference):
    with pytest.raises(ValueError) as refused:
        RunLedger(FileStore(tmp_path), "rollout_demo", "manual__1").read_record(reference)
    assert str(refused.value) == f"not a reference to a record of this run: {reference!r}"


@pytest.mark.parametrize(
    "error, line",
    [
        (ClientError({"Error": {"Code": "NoSuchBucket", "Message": "The specified bucket\n does not exist"}}, "ListObjectsV2"),
         "NoSuchBucket from ListObjectsV2: The specified bucket does not exist"),
        (ClientError({}, "GetObject"), "? from GetObject:"),
        (NoCredentialsError(), "NoCredentialsError: Unable to locate credentials"),
        (OSError("[Errno 13] Permission denied: 'ledger'"), "OSError: [Errno 13] Permission denied: 'ledger'"),
    ],
    ids=["aws-answer", "aws-answer-without-code", "no-credentials", "local-folder"],
)
def test_why_a_ledger_failed_fits_on_one_line(error, line):
    assert failure_line(error) == line
