"""SendCommand is never repeated blindly: a failed send is resent only when SSM holds no command for it."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError, ReadTimeoutError

from patchflow.aws.commands import CommandNotSent, PatchCommandRequest, send_command_at_most_once, worth_sending_again

REQUEST = PatchCommandRequest(operation="Install", reboot_option="RebootIfNeeded", max_concurrency="50%", max_errors="0",
                              timeout_seconds=600, comment="patchflow 0123456789ab dev I1 all c1", instance_ids=("i-0123456789abcdef0",))
SINCE = datetime(2026, 11, 29, tzinfo=timezone.utc)


def client_error(status: int, code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}}, "SendCommand")


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        pytest.param(client_error(500, "InternalServerError"), True, id="5xx-may-have-been-accepted"),
        pytest.param(client_error(503, "ServiceUnavailable"), True, id="503"),
        pytest.param(client_error(400, "ThrottlingException"), True, id="throttled"),
        pytest.param(ReadTimeoutError(endpoint_url="https://ssm"), True, id="answer-timed-out"),
        pytest.param(ConnectionClosedError(endpoint_url="https://ssm"), True, id="connection-dropped"),
        pytest.param(EndpointConnectionError(endpoint_url="https://ssm"), True, id="never-connected"),
        pytest.param(client_error(400, "InvalidInstanceId"), False, id="refused-request"),
        pytest.param(client_error(400, "AccessDeniedException"), False, id="not-allowed"),
        pytest.param(ValueError("bug"), False, id="not-an-aws-error"),
    ],
)
def test_worth_sending_again(error, expected):
    assert worth_sending_again(error) is expected


class FakeSsm:
    """send_command answers from `sends` in turn (an exception is raised); list_commands answers `listed` in turn."""

    def __init__(self, sends, listed=()):
        self.sends = list(sends)
        self.listed = list(listed)
        self.calls: list[str] = []

    def send_command(self, **kwargs):
        self.calls.append("SendCommand")
        answer = self.sends.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return {"Command": {"CommandId": answer, "Comment": kwargs["Comment"]}}

    def list_commands(self, **kwargs):
        self.calls.append("ListCommands")
        comments = self.listed.pop(0) if self.listed else []
        return {"Commands": [{"CommandId": command_id, "Comment": comment, "Status": "InProgress"} for command_id, comment in comments]}


LOST = client_error(503, "ServiceUnavailable")
ACCEPTED = [("c-accepted", REQUEST.comment)]
# A command of the same wave whose comment starts with this one's: not this request's command.
LONGER = [("c-other", REQUEST.comment + "0")]


@pytest.mark.parametrize(
    ("sends", "listed", "expected", "calls"),
    [
        pytest.param(["c-1"], [], ("c-1", False), ["SendCommand"], id="sent-first-time"),
        pytest.param([LOST], [ACCEPTED], ("c-accepted", True), ["SendCommand", "ListCommands"], id="accepted-answer-lost-found-not-resent"),
        pytest.param([LOST], [[], [], ACCEPTED], ("c-accepted", True), ["SendCommand", "ListCommands", "ListCommands", "ListCommands"],
                     id="listed-only-after-a-moment"),
        pytest.param([LOST, "c-2"], [[], LONGER, []], ("c-2", False), ["SendCommand"] + ["ListCommands"] * 3 + ["SendCommand"],
                     id="not-accepted-sent-again"),
    ],
)
def test_send_at_most_once(sends, listed, expected, calls):
    ssm = FakeSsm(sends, listed)
    waits = []
    assert send_command_at_most_once(ssm, ssm, REQUEST, SINCE, sleep=waits.append) == expected
    assert ssm.calls == calls
    assert len(waits) == calls.count("ListCommands")


def test_a_send_that_keeps_failing_stops_after_the_bound_and_says_why():
    ssm = FakeSsm([LOST, LOST, LOST])
    with pytest.raises(CommandNotSent) as raised:
        send_command_at_most_once(ssm, ssm, REQUEST, SINCE, sleep=lambda _: None)
    assert str(raised.value) == (
        f"SendCommand for {REQUEST.comment!r} failed 3 times and SSM lists no command with that comment; "
        "last error: An error occurred (ServiceUnavailable) when calling the SendCommand operation: m"
    )
    assert ssm.calls == ["SendCommand"] + ["ListCommands"] * 3 + ["SendCommand"] + ["ListCommands"] * 3 + ["SendCommand"] + ["ListCommands"] * 3


def test_a_refused_send_is_raised_at_once_without_looking_or_resending():
    refused = client_error(400, "InvalidInstanceId")
    ssm = FakeSsm([refused])
    with pytest.raises(ClientError) as raised:
        send_command_at_most_once(ssm, ssm, REQUEST, SINCE, sleep=lambda _: None)
    assert raised.value is refused
    assert ssm.calls == ["SendCommand"]
