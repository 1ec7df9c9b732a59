"""Secrets and safety: no credentials in the repository, AWS access only through connections or the
default chain, and an S3 ledger that is written with server-side encryption.

The scan covers every file git knows or would add (tracked, plus untracked
files not ignored), so a key is caught before it is committed. The only
credential values allowed anywhere are the obvious fakes the tests and
fleetsim use.
"""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]
FAKE_VALUES = {"testing", "fleetsim"}

KEY_NAME = r"""["']?(?:aws_?)?(?:secret_?access_?key|secretaccesskey)["']?"""
PATTERNS = {
    "AWS access key id": re.compile(r"(?<![A-Z0-9])(?:AKIA|ASIA|ABIA|ACCA|AIDA|AROA)[A-Z0-9]{16}(?![A-Z0-9])"),
    "AWS secret access key": re.compile(KEY_NAME + r"""\s*[:=,]\s*["']?(?P<value>[A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])""", re.IGNORECASE),
    "AWS session token": re.compile(r"""["']?aws_?session_?token["']?\s*[:=,]\s*["']?(?P<value>[A-Za-z0-9/+=]{100,})""", re.IGNORECASE),
    "private key": re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"),
    "Slack webhook": re.compile(r"https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9_/-]{8,}"),
    "Slack token": re.compile(r"(?<![A-Za-z0-9])xox[abposr]-[A-Za-z0-9-]{10,}"),
    "Slack app token": re.compile(r"(?<![A-Za-z0-9])xapp-\d-[A-Za-z0-9-]{10,}"),
    "GitHub token": re.compile(r"(?<![A-Za-z0-9])(?:gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{60,})"),
}


def repository_files() -> list[Path]:
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=PROJECT_ROOT,
                            capture_output=True, check=True).stdout.decode().split("\0")
    return [PROJECT_ROOT / name for name in listed if name and (PROJECT_ROOT / name).is_file()]


def findings_in(text: str) -> list[tuple[str, str]]:
    found = []
    for kind, pattern in PATTERNS.items():
        for match in pattern.finditer(text):
            value = match.groupdict().get("value") or match.group(0)
            if value not in FAKE_VALUES:
                found.append((kind, value[:12] + "..."))
    return found


def test_no_credentials_anywhere_in_the_repository():
    files = repository_files()
    assert len(files) > 100  # the scan really saw the repository
    leaks = []
    for path in files:
        text = path.read_bytes().decode("utf-8", errors="replace")
        leaks.extend(f"{path.relative_to(PROJECT_ROOT)}: {kind} {shown}" for kind, shown in findings_in(text))
    assert leaks == []


# Built at run time so this file holds no literal that looks like a credential.
SAMPLES = {
    "AWS access key id": "key = " + "AKIA" + "Q" * 12 + "7Z3X",
    "AWS secret access key": "aws_secret_access_key = " + "z9Y8x7W6v5U4t3S2r1Q0/pOnMlKjIhGf" + "E" * 8,
    "AWS session token": '"AWS_SESSION_TOKEN": "' + "IQoJb3JpZ2luX2Vj" * 8 + '"',
    "private key": "-----" + "BEGIN RSA PRIVATE KEY" + "-----\nMIIE...",
    "Slack webhook": "https://hooks.slack.com/" + "services/T0000/B0000/" + "x" * 24,
    "Slack token": "token: " + "xoxb" + "-123456789012-abcdefABCDEF",
    "Slack app token": "xapp" + "-1-A0123456789-abcdef",
    "GitHub token": "ghp" + "_" + "a1" * 18,
}


@pytest.mark.parametrize("kind", sorted(SAMPLES))
def test_the_scanner_finds_each_kind_of_credential(kind):
    assert [found for found, _ in findings_in(SAMPLES[kind])] == [kind]


@pytest.mark.parametrize("text", [
    'AWS_SECRET_ACCESS_KEY: "testing"', "aws_secret_access_key=fleetsim", '"AWS_ACCESS_KEY_ID": "fleetsim"',
    "AWS_SECRET_ACCESS_KEY=x", "arn:aws:sns:us-east-1:123456789012:patch-rollouts", "ASIAN markets", "slack_connection_id: slack_default",
])
def test_the_fakes_and_look_alikes_pass(text):
    assert findings_in(text) == []


def test_aws_access_goes_through_connections_or_the_default_chain():
    # Only the demo passes keys explicitly, and only the fleetsim ones, to create the simulator's bucket and topic;
    # and a target account's session is made from the temporary keys STS AssumeRole answered, never from stored ones.
    allowed = {"plugins/patchflow/harness/demo.py", "plugins/patchflow/aws/scope_access.py"}
    explicit = sorted(
        str(path.relative_to(PROJECT_ROOT))
        for folder in ("plugins", "dags")
        for path in (PROJECT_ROOT / folder).rglob("*.py")
        if re.search(r"aws_(access_key_id|secret_access_key|session_token)\s*=", path.read_text(encoding="utf-8"))
    )
    assert set(explicit) <= allowed, explicit


# --------------------------------------------------------------------------- the ledger on S3


@pytest.mark.fleetsim
def test_s3_ledger_objects_are_written_with_server_side_encryption():
    from fleetsim import running
    from patchflow.aws.ledger import RunLedger, S3Store, open_store

    with running({"groups": [{"count": 1, "platform": "UBUNTU"}]}) as sim:
        s3 = sim.client("s3")
        sent = []
        s3.meta.events.register("provide-client-params.s3.PutObject", lambda params, **_: sent.append(params.get("ServerSideEncryption")))
        s3.create_bucket(Bucket="patchflow-ledger")
        store = open_store("s3://patchflow-ledger/runs", s3_client_factory=lambda: s3)
        assert isinstance(store, S3Store)
        ledger = RunLedger(store, "rollout_demo", "manual__2026-11-29T00:00:00+00:00")
        ledger.append("run_started", plan="demo", stages=["dev"], all_stages=["dev"], dry_run=False, change_ticket="", params={})
        ledger.put_artifact("manifest/AMAZON_LINUX_2023.yaml", "patches: []\n", "application/x-yaml")
        ledger.put_artifact("report.json", "{}", "application/json")
        keys = [item["Key"] for item in s3.list_objects_v2(Bucket="patchflow-ledger", Prefix="runs/")["Contents"]]
        encryption = {key: s3.head_object(Bucket="patchflow-ledger", Key=key).get("ServerSideEncryption") for key in keys}
        s3.put_object(Bucket="patchflow-ledger", Key="control/plain.txt", Body=b"x")  # the check can tell the difference
        control = s3.head_object(Bucket="patchflow-ledger", Key="control/plain.txt").get("ServerSideEncryption")
    assert len(keys) == 3 and all(key.startswith("runs/rollout_demo/") for key in keys)
    assert set(encryption.values()) == {"AES256"}, encryption
    assert sent == ["AES256", "AES256", "AES256", None] and control is None
