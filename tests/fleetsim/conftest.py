"""Shared pieces for the fleetsim tests: the API fleet and a command waiter."""
from __future__ import annotations

import time

import pytest

from fleetsim.testing import fleetsim_fixture

TERMINAL = {"Success", "Failed", "TimedOut", "Cancelled"}
GROUP = {"count": 1, "platform": "AMAZON_LINUX_2023"}

# Each test works on its own patch group, so tests sharing one server stay independent.
API_FLEET = {
    "throttling": {"GetDefaultPatchBaseline": 1},
    # These tests expect agents that are not Online to end Undeliverable, and read patch states as soon as a command
    # ends; the defaults (timeout, a 30 s compliance lag) have their own tests: test_delivery_timeouts.py,
    # test_compliance_data.py and test_delivery_and_reporting.py.
    "offline_delivery": "undeliverable",
    "compliance_lag_seconds": 0,
    "defaults": {"execution_seconds": [60, 180], "missing_share": 0.6},
    "groups": [
        {**GROUP, "name": "web", "count": 60, "tags": {"Patch Group": "web", "Role": "frontend"}},
        {**GROUP, "name": "win", "count": 6, "platform": "WINDOWS", "tags": {"Patch Group": "win"}},
        {**GROUP, "name": "ubu", "count": 4, "platform": "UBUNTU", "tags": {"PatchGroup": "ubu"}},
        {**GROUP, "name": "broken", "count": 10, "tags": {"Patch Group": "broken"}, "install_failure_probability": 1.0},
        {**GROUP, "name": "lost", "count": 4, "tags": {"Patch Group": "lost"}, "ping_status": "ConnectionLost"},
        {**GROUP, "name": "mixed-lost", "count": 2, "tags": {"Patch Group": "mixed"}, "ping_status": "ConnectionLost"},
        {**GROUP, "name": "mixed-ok", "count": 2, "tags": {"Patch Group": "mixed"}},
        {**GROUP, "name": "slow", "count": 5, "tags": {"Patch Group": "slow"}, "execution_seconds": [100, 100]},
        {**GROUP, "name": "flaky", "count": 2, "tags": {"Patch Group": "flaky"}, "offline_mid_run_share": 1.0},
        {**GROUP, "name": "reboot", "count": 3, "tags": {"Patch Group": "reboot"}},
        {**GROUP, "name": "override", "count": 3, "tags": {"Patch Group": "override"}, "missing_share": 1.0},
        {**GROUP, "name": "states", "count": 4, "tags": {"Patch Group": "states"}},
        {**GROUP, "name": "spare", "count": 3, "tags": {"Patch Group": "spare"}},
        {**GROUP, "name": "untagged", "count": 2, "tags": {"Owner": "nobody"}},
    ],
}

api_fleet = fleetsim_fixture(API_FLEET, seed=3, time_scale=3000)


def wait_for_command(ssm, command_id: str, timeout: float = 30.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        command = ssm.list_commands(CommandId=command_id)["Commands"][0]
        if command["Status"] in TERMINAL or time.monotonic() > deadline:
            return command
        time.sleep(0.05)


def all_invocations(ssm, command_id: str, details: bool = False) -> list[dict]:
    pages = ssm.get_paginator("list_command_invocations").paginate(CommandId=command_id, Details=details, PaginationConfig={"PageSize": 50})
    return [invocation for page in pages for invocation in page["CommandInvocations"]]


def instances_in(ssm, patch_group: str) -> list[str]:
    pages = ssm.get_paginator("describe_instance_information").paginate(Filters=[{"Key": "tag:Patch Group", "Values": [patch_group]}])
    return [i["InstanceId"] for page in pages for i in page["InstanceInformationList"]]


def send_patch(ssm, patch_group: str, operation: str = "Install", tag_key: str = "Patch Group", **kwargs) -> str:
    parameters = {"Operation": [operation], **kwargs.pop("Parameters", {})}
    response = ssm.send_command(DocumentName="AWS-RunPatchBaseline", Targets=[{"Key": f"tag:{tag_key}", "Values": [patch_group]}],
                                Parameters=parameters, **{"MaxConcurrency": "100%", "MaxErrors": "0", **kwargs})
    return response["Command"]["CommandId"]


@pytest.fixture
def ssm(api_fleet):
    return api_fleet.client("ssm")
