"""A fault with accept_first: the call is carried out, then answered with the error (its answer lost)."""
from __future__ import annotations

import botocore.exceptions
import pytest
from botocore.config import Config

from fleetsim.faults import parse_fault
from fleetsim.testing import fleetsim_fixture
from fleetsim.errors import InvalidInput

accepting_fleet = fleetsim_fixture({"groups": [{"name": "web", "count": 2, "platform": "AMAZON_LINUX_2023", "tags": {"Patch Group": "web"}}]},
                                   scope="function")

NO_RETRIES = Config(retries={"total_max_attempts": 1, "mode": "standard"})


def test_accept_first_must_be_true_or_false():
    with pytest.raises(InvalidInput) as raised:
        parse_fault({"after": {"action": "SendCommand"}, "fail": {"action": "SendCommand"}, "accept_first": "yes"})
    assert str(raised.value) == "fault: accept_first: expected true or false, got 'yes'"


@pytest.mark.parametrize(
    ("accept_first", "commands_after_the_error"),
    [pytest.param(True, 1, id="carried-out-then-the-answer-fails"), pytest.param(False, 0, id="refused-before-anything-happens")],
)
def test_a_failed_send_command_created_a_command_only_with_accept_first(accepting_fleet, accept_first, commands_after_the_error):
    ssm = accepting_fleet.client("ssm", config=NO_RETRIES)
    accepting_fleet.inject_fault(after_action="SendCommand", after_count=0, fail_action="SendCommand", status=503,
                                 code="ServiceUnavailable", message="answer lost", accept_first=accept_first)
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        ssm.send_command(DocumentName="AWS-RunPatchBaseline", Parameters={"Operation": ["Scan"]},
                         Targets=[{"Key": "tag:Patch Group", "Values": ["web"]}], Comment="accept-first probe")
    assert (raised.value.response["ResponseMetadata"]["HTTPStatusCode"], raised.value.response["Error"]["Code"]) == (503, "ServiceUnavailable")
    assert [c["Comment"] for c in ssm.list_commands()["Commands"]] == ["accept-first probe"] * commands_after_the_error
    assert [(f["accept_first"], f["failed"]) for f in accepting_fleet.faults()] == [(accept_first, 1)]
    ssm.send_command(DocumentName="AWS-RunPatchBaseline", Parameters={"Operation": ["Scan"]},
                     Targets=[{"Key": "tag:Patch Group", "Values": ["web"]}], Comment="after the fault")
    assert len(ssm.list_commands()["Commands"]) == commands_after_the_error + 1
