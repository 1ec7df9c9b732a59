"""The health check's SendCommand calls (pure, table-driven), and sending and reading one against fleetsim."""
from __future__ import annotations

import time
from datetime import datetime, timezone

import pytest

from fleetsim.testing import fleetsim_fixture
from patchflow.aws.commands import command_progress, find_commands_by_comment, send_command_at_most_once
from patchflow.aws.verification import VerificationRequest, verification_invocations, verification_requests
from patchflow.core.health import Verification, VerifiedNode

AL, WINDOWS = "AMAZON_LINUX_2023", "WINDOWS"
SPEC = Verification(commands=("curl -fsS http://localhost:8080/health",), windows_commands=("Get-Service storefront",), max_concurrency="25%",
                    max_errors="100%", timeout_seconds=120)
PREFIX = "patchflow t0k3n dev V2"


def nodes(count: int, operating_system: str, start: int = 0) -> dict[str, str]:
    return {f"i-{n:05d}": operating_system for n in range(start, start + count)}


def shape(requests: list[VerificationRequest]) -> list[tuple]:
    return [(r.comment, r.document_name, len(r.instance_ids)) for r in requests]


@pytest.mark.parametrize(
    ("spec", "targets", "expected"),
    [
        pytest.param(SPEC, nodes(3, AL), [(PREFIX, "AWS-RunShellScript", 3)], id="linux-only-one-command"),
        pytest.param(SPEC, nodes(2, WINDOWS), [(PREFIX, "AWS-RunPowerShellScript", 2)], id="windows-only-no-letter"),
        pytest.param(SPEC, {**nodes(3, AL), **nodes(2, WINDOWS, start=3)},
                     [(PREFIX + " L", "AWS-RunShellScript", 3), (PREFIX + " W", "AWS-RunPowerShellScript", 2)], id="both-families-each-with-its-letter"),
        pytest.param(SPEC, {**nodes(120, AL), **nodes(2, WINDOWS, start=120)},
                     [(PREFIX + " L c1", "AWS-RunShellScript", 50), (PREFIX + " L c2", "AWS-RunShellScript", 50),
                      (PREFIX + " L c3", "AWS-RunShellScript", 20), (PREFIX + " W", "AWS-RunPowerShellScript", 2)], id="chunks-of-50"),
        pytest.param(Verification(commands=("true",)), {**nodes(2, AL), **nodes(2, WINDOWS, start=2)}, [(PREFIX, "AWS-RunShellScript", 2)],
                     id="a-family-without-commands-is-left-out"),
    ],
)
def test_verification_requests(spec, targets, expected):
    requests = verification_requests(spec, targets, comment=PREFIX, timeout_seconds=600)
    assert shape(requests) == expected
    assert sorted(i for r in requests for i in r.instance_ids) == sorted(i for i, os_name in targets.items() if (spec.windows_commands if os_name == WINDOWS else spec.commands))


def test_a_request_carries_the_scripts_own_timeout_and_rate_control():
    (linux, windows) = verification_requests(SPEC, {"i-1": AL, "i-2": WINDOWS}, comment=PREFIX, timeout_seconds=600)
    assert linux.send_kwargs() == {
        "DocumentName": "AWS-RunShellScript",
        "Parameters": {"commands": ["curl -fsS http://localhost:8080/health"], "executionTimeout": ["120"]},
        "InstanceIds": ["i-1"],
        "MaxConcurrency": "25%",
        "MaxErrors": "100%",
        "TimeoutSeconds": 600,
        "Comment": PREFIX + " L",
    }
    assert windows.send_kwargs()["Parameters"] == {"commands": ["Get-Service storefront"], "executionTimeout": ["120"]}


check_fleet = fleetsim_fixture(
    {"groups": [
        {"name": "al", "count": 2, "platform": AL, "tags": {"Patch Group": "web"}, "execution_seconds": [30, 60]},
        {"name": "win", "count": 1, "platform": WINDOWS, "tags": {"Patch Group": "web"}, "execution_seconds": [30, 60]},
    ]},
    time_scale=600,
)


def test_a_check_sent_once_is_found_again_by_its_comment_and_read_with_its_output(check_fleet):
    ssm = check_fleet.client("ssm")
    instances = ssm.describe_instance_information()["InstanceInformationList"]
    targets = {i["InstanceId"]: (WINDOWS if i["PlatformType"] == "Windows" else AL) for i in instances}
    since = datetime.now(timezone.utc)
    requests = verification_requests(SPEC, targets, comment=PREFIX, timeout_seconds=600)
    sent = [send_command_at_most_once(ssm, ssm, request, since) for request in requests]
    assert [found for _, found in sent] == [False, False]
    command_ids = [command_id for command_id, _ in sent]

    # A retried task finds each of them by its comment, per document.
    found = {**find_commands_by_comment(ssm, PREFIX, since, "AWS-RunShellScript"), **find_commands_by_comment(ssm, PREFIX, since, "AWS-RunPowerShellScript")}
    assert {comment: progress.command_id for comment, progress in found.items()} == {r.comment: c for r, c in zip(requests, command_ids)}

    documents = ["AWS-RunPowerShellScript", "AWS-RunShellScript"]
    deadline = time.monotonic() + 60
    while not all(p.finished for p in command_progress(ssm, command_ids, since, documents).values()):
        assert time.monotonic() < deadline, "the checks did not finish"
        time.sleep(0.2)
    assert set(command_progress(ssm, command_ids, since, documents)) == set(command_ids)
    invocations = verification_invocations(ssm, command_ids)
    assert {i: VerifiedNode.from_invocation(item) for i, item in invocations.items()} == {i: VerifiedNode(i, True, "Success", 0, "") for i in targets}
