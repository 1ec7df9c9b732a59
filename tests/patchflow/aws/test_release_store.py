from __future__ import annotations

from datetime import datetime, timedelta, timezone

import boto3
import pytest
from moto import mock_aws

from patchflow.aws.ledger import FileStore, S3Store, list_runs
from patchflow.aws.release_store import ReleaseStore
from patchflow.core.releases import Release, ReleaseEvent, ReleaseEventKind, release_id_for

CREATED = datetime(2026, 12, 8, 2, 30, tzinfo=timezone.utc)


def release(content_hash: str = "ab" * 32, run_id: str = "run-1") -> Release:
    return Release(
        id=release_id_for(content_hash), plan="weekly", source_stage="dev", source_dag_id="rollout_weekly", source_run_id=run_id,
        created_at=CREATED, content_hash=content_hash, size=2, manifest_location="s3://b/m.json", override_lists={"UBUNTU": "s3://b/u.yaml"},
    )


def passed(rel: Release, stage: str, at: datetime, run_id: str) -> ReleaseEvent:
    return ReleaseEvent(rel.id, ReleaseEventKind.PASSED, at, stage=stage, run_id=run_id)


@pytest.fixture(params=["file", "s3"], ids=["file-ledger", "s3-ledger"])
def store(request, tmp_path):
    if request.param == "file":
        yield FileStore(tmp_path)
        return
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="ledger")
        yield S3Store(s3, "ledger", "patchflow")


def test_a_release_is_written_once_and_every_event_is_kept(store):
    releases = ReleaseStore(store, "weekly")
    first = release()
    releases.record(first, passed(first, "dev", CREATED, "run-1"))
    again = release(run_id="run-2")  # the same patch set proved by a later dev run
    stored = releases.record(again, passed(again, "dev", CREATED + timedelta(days=7), "run-2"))
    releases.add_event(ReleaseEvent(first.id, ReleaseEventKind.REVOKED, CREATED + timedelta(days=8), by="ana", reason="breaks nginx"))

    (standing,) = releases.standings()
    assert stored == first
    assert standing.release == first  # immutable: the first evidence stays
    assert {stage: (e.run_id, e.at) for stage, e in standing.passed.items()} == {"dev": ("run-1", CREATED)}
    assert (standing.revocation.by, standing.revocation.reason) == ("ana", "breaks nginx")


def test_releases_are_listed_newest_first_and_kept_apart_per_plan(store):
    weekly, other = ReleaseStore(store, "weekly"), ReleaseStore(store, "other")
    older, newer = release("01" * 32), release("02" * 32)
    newer = Release.from_json({**newer.to_json(), "created_at": (CREATED + timedelta(days=1)).isoformat()})
    for rel in (older, newer):
        weekly.record(rel, passed(rel, "dev", rel.created_at, "r"))
    assert [s.release.id for s in weekly.standings()] == [newer.id, older.id]
    assert other.standings() == []
    assert weekly.release("r-ffffffffffffffff") is None


def test_releases_are_not_mistaken_for_runs(store):
    rel = release()
    ReleaseStore(store, "weekly").record(rel, passed(rel, "dev", CREATED, "run-1"))
    assert list_runs(store) == []
