"""The run ledger: an append-only record of every send, verdict and manifest.

One object per record, never rewritten, so a crash loses at most the record
being written and two writers never clobber each other. The same layout
serves a local folder (file://...) and S3 (s3://bucket/prefix); S3 objects
are written with server-side encryption.
"""
from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping, Protocol
from urllib.parse import urlparse

from patchflow.core.errors import InvalidInput, Problem
from patchflow.core.ledger_records import LedgerRecord, record_problems
from patchflow.core.records import RecordKind
from patchflow.core.yamlfile import PROJECT_ROOT



def safe_segment(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.=-]+", "_", text)


def now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Store(Protocol):
    def put(self, key: str, body: bytes, content_type: str) -> str: ...
    def get(self, key: str) -> bytes: ...
    def keys(self, prefix: str) -> list[str]: ...
    def location(self, key: str) -> str: ...


@dataclass(frozen=True)
class FileStore:
    root: Path

    def put(self, key: str, body: bytes, content_type: str) -> str:
        path = self.root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(path.suffix + ".partial")
        temporary.write_bytes(body)
        temporary.replace(path)
        return self.location(key)

    def get(self, key: str) -> bytes:
        return (self.root / key).read_bytes()

    def keys(self, prefix: str) -> list[str]:
        base = self.root / prefix
        if not base.exists():
            return []
        return sorted(str(p.relative_to(self.root)) for p in base.rglob("*") if p.is_file() and not p.name.endswith(".partial"))

    def location(self, key: str) -> str:
        return (self.root / key).as_uri()


@dataclass(frozen=True)
class S3Store:
    client: Any
    bucket: str
    prefix: str

    def _full(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def put(self, key: str, body: bytes, content_type: str) -> str:
        self.client.put_object(
            Bucket=self.bucket, Key=self._full(key), Body=body, ContentType=content_type, ServerSideEncryption="AES256"
        )
        return self.location(key)

    def get(self, key: str) -> bytes:
        return self.client.get_object(Bucket=self.bucket, Key=self._full(key))["Body"].read()

    def keys(self, prefix: str) -> list[str]:
        found = []
        paginator = self.client.get_paginator("list_objects_v2")
        strip = len(self._full(""))
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self._full(prefix)):
            found.extend(item["Key"][strip:] for item in page.get("Contents", []))
        return sorted(found)

    def location(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._full(key)}"


def failure_line(exc: Exception) -> str:
    """Why a ledger could not be read or written, on one line: 'NoSuchBucket from ListObjectsV2: ...' for an AWS
    answer, 'NoCredentialsError: ...' otherwise."""
    from botocore.exceptions import ClientError

    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        text = f"{error.get('Code', '?')} from {exc.operation_name}: {error.get('Message', '')}"
    else:
        text = f"{type(exc).__name__}: {exc}"
    return " ".join(text.split())


def open_store(uri: str, s3_client_factory=None) -> Store:
    """file://relative/or/absolute or s3://bucket/prefix. Relative file paths are from the project root."""
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        raw = (parsed.netloc + parsed.path) if parsed.netloc else parsed.path
        path = Path(raw)
        return FileStore(path if path.is_absolute() else PROJECT_ROOT / path)
    if parsed.scheme == "s3" and parsed.netloc:
        if s3_client_factory is None:
            from patchflow.aws.client import aws_client

            s3_client_factory = lambda: aws_client("s3")  # noqa: E731
        return S3Store(s3_client_factory(), parsed.netloc, parsed.path.strip("/"))
    raise InvalidInput([Problem.expected("ledger", "uri", "file://PATH or s3://BUCKET/PREFIX", uri)])


@dataclass(frozen=True)
class RunLedger:
    """The records of one DAG run of one plan."""

    store: Store
    dag_id: str
    run_id: str
    # Added to every record this ledger writes: the account and Region of the stage's scope it writes for.
    where: Mapping[str, Any] = field(default_factory=dict)

    @property
    def run_prefix(self) -> str:
        return f"{safe_segment(self.dag_id)}/{safe_segment(self.run_id)}"

    def append(self, kind: RecordKind, **fields: Any) -> LedgerRecord:
        """Write one record. A field its kind does not declare, a required one left out or a value of another JSON type
        is refused before anything is written: a misspelt field would otherwise show only as an empty report."""
        return self._write(kind, fields)[1]

    def append_referenced(self, kind: RecordKind, **fields: Any) -> str:
        """Write one record, as append does, and return its reference for read_record: what a task passes on through
        Airflow's XCom instead of the record's per-instance rows, which would grow Airflow's database with the fleet."""
        return self._write(kind, fields)[0]

    def _write(self, kind: RecordKind, fields: Mapping[str, Any]) -> tuple[str, LedgerRecord]:
        fields = {**fields, **self.where}
        problems = record_problems(kind, fields)
        if problems:
            raise ValueError("\n".join(problems))
        at = now_iso()
        record = {"kind": kind, "at": at, "dag_id": self.dag_id, "run_id": self.run_id, **fields}
        label = "-".join(safe_segment(str(fields[k])) for k in ("stage", "wave") if fields.get(k) is not None)
        reference = f"{at.replace(':', '')}-{kind}{'-' + label if label else ''}-{uuid.uuid4().hex[:8]}.json"
        self.store.put(self._record_key(reference), json.dumps(record, sort_keys=True, default=str).encode(), "application/json")
        return reference, record

    def read_record(self, reference: str) -> LedgerRecord:
        """The record append_referenced wrote under `reference`, in one read."""
        return json.loads(self.store.get(self._record_key(reference)))

    def _record_key(self, reference: str) -> str:
        # A reference names a record of this run only: one naming a folder would read outside it.
        if not reference or "/" in reference or reference != safe_segment(reference):
            raise ValueError(f"not a reference to a record of this run: {reference!r}")
        return f"{self.run_prefix}/records/{reference}"

    def records(self) -> list[LedgerRecord]:
        return [json.loads(self.store.get(key)) for key in self.store.keys(f"{self.run_prefix}/records/")]

    def put_artifact(self, name: str, body: str, content_type: str) -> str:
        return self.store.put(f"{self.run_prefix}/{name}", body.encode(), content_type)

    def read_artifact(self, name: str) -> bytes:
        return self.store.get(f"{self.run_prefix}/{name}")

    def artifact_location(self, name: str) -> str:
        return self.store.location(f"{self.run_prefix}/{name}")


def list_runs(store: Store) -> list[tuple[str, str]]:
    """(dag_id, run_id) pairs present in a store, newest keys last."""
    runs = set()
    for key in store.keys(""):
        parts = key.split("/")
        if len(parts) >= 4 and parts[2] == "records":
            runs.add((parts[0], parts[1]))
    return sorted(runs)
