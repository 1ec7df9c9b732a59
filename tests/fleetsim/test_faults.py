"""Injected faults: pure counting rules, then one round trip through a server."""
from __future__ import annotations

import botocore.exceptions
import pytest

from fleetsim.errors import InvalidInput
from fleetsim.faults import Fault, parse_fault
from fleetsim.testing import fleetsim_fixture

fault_fleet = fleetsim_fixture({"groups": [{"name": "web", "count": 2, "platform": "AMAZON_LINUX_2023", "tags": {"Patch Group": "web"}}]})


def fault(after_count: int = 1, fail_count: int = 1) -> Fault:
    return Fault("SendCommand", after_count, "s3:PUT", fail_count, 403, "AccessDenied", "no")


@pytest.mark.parametrize(
    ("calls", "after_count", "fail_count", "failing"),
    [
        pytest.param(["s3:PUT", "SendCommand", "s3:PUT", "s3:PUT"], 1, 1, [False, False, True, False], id="only-after-the-trigger"),
        pytest.param(["SendCommand", "s3:PUT", "SendCommand", "s3:PUT"], 2, 1, [False, False, False, True], id="after-the-second-send"),
        pytest.param(["SendCommand", "s3:PUT", "s3:PUT", "s3:PUT"], 1, 2, [False, True, True, False], id="two-failures-then-healthy"),
        pytest.param(["s3:PUT", "s3:PUT"], 0, 1, [True, False], id="armed-at-once"),
    ],
)
def test_a_fault_fails_exactly_the_calls_it_names(calls, after_count, fail_count, failing):
    armed = fault(after_count, fail_count)
    assert [armed.observe(call) for call in calls] == failing


def test_a_malformed_fault_names_every_field():
    with pytest.raises(InvalidInput) as raised:
        parse_fault({"after": {"action": "", "count": -1}, "fail": "s3:PUT", "error": {"status": "403"}})
    assert str(raised.value) == (
        "fault: fail: expected an object, got 's3:PUT'\n"
        "fault: after.action: expected a non-empty string, got ''\n"
        "fault: after.count: expected a whole number, 0 or more, got -1\n"
        "fault: fail.action: expected a non-empty string, got nothing\n"
        "fault: error.status: expected a whole number, 0 or more, got '403'"
    )


def test_the_server_fails_the_named_call_with_the_named_error(fault_fleet):
    s3 = fault_fleet.client("s3")
    s3.create_bucket(Bucket="ledger")
    fault_fleet.inject_fault(after_action="s3:PUT", after_count=1, fail_action="s3:PUT", status=403, code="AccessDenied", message="injected")
    s3.put_object(Bucket="ledger", Key="first", Body=b"1")
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        s3.put_object(Bucket="ledger", Key="second", Body=b"2")
    assert raised.value.response["Error"]["Code"] == "AccessDenied"
    s3.put_object(Bucket="ledger", Key="third", Body=b"3")
    assert [f["failed"] for f in fault_fleet.faults()] == [1]
