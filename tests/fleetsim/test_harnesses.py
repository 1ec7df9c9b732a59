"""Test harnesses against a running fleetsim: moto's reset endpoint, SendCommand agreeing with ListCommands,
and the requests of moto's own SSM tests that fleetsim answers as AWS does rather than as moto does
(each listed in fleetsim/FIDELITY.md, "moto's own test suite and the reset endpoint").
"""
from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path

import pytest
from botocore.config import Config

from fleetsim.fleet import PLATFORMS
from fleetsim.testing import fleetsim_fixture

pytestmark = pytest.mark.fleetsim

TIME_SCALE = 60
RESET_FLEET = {
    "defaults": {"execution_seconds": [60, 60]},
    "groups": [{"count": 3, "platform": "AMAZON_LINUX_2023", "tags": {"Patch Group": "reset"}}],
}
reset_fleet = fleetsim_fixture(RESET_FLEET, seed=11, time_scale=TIME_SCALE)

# 0.05 simulated seconds per real second: targets resolve 40 s after SendCommand, so a ListCommands right after it
# always sees the command before resolution.
slow_fleet = fleetsim_fixture({"groups": [{"count": 3, "platform": "UBUNTU", "tags": {"Patch Group": "slow"}}]}, seed=2, time_scale=0.05)
SHELL = {"DocumentName": "AWS-RunShellScript", "Parameters": {"commands": ["true"]}}


def post(sim, path: str, body: bytes = b"") -> dict:
    # text/plain: moto reads reset-auth's number from the raw body, which a form content type would hide
    request = urllib.request.Request(f"{sim.endpoint}{path}", data=body, method="POST", headers={"Content-Type": "text/plain"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def health(sim) -> dict:
    with urllib.request.urlopen(f"{sim.endpoint}/_fleetsim/health", timeout=30) as response:
        return json.loads(response.read())


def fleet_view(sim) -> dict:
    ssm, ec2 = sim.client("ssm"), sim.client("ec2")
    agents = {i["InstanceId"]: i["PingStatus"] for i in ssm.describe_instance_information()["InstanceInformationList"]}
    ec2_ids = sorted(i["InstanceId"] for r in ec2.describe_instances()["Reservations"] for i in r["Instances"])
    return {"agents": agents, "ec2": ec2_ids, "commands": len(ssm.list_commands()["Commands"])}


def wait_in_log(log_path: str, line: str, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if line in Path(log_path).read_text(encoding="utf-8", errors="replace"):
            return True
        time.sleep(0.1)
    return False


@pytest.mark.parametrize("reset_path", ["/moto-api/reset", "/moto-api/reset/"], ids=["reset", "reset-trailing-slash"])
def test_moto_reset_rebuilds_the_fleet_as_it_was_at_start(reset_fleet, reset_path):
    ssm = reset_fleet.client("ssm")
    at_start = fleet_view(reset_fleet)
    ids = sorted(at_start["agents"])
    ssm.send_command(InstanceIds=ids, **SHELL)
    reset_fleet.set_ping_status(ids[:1], "ConnectionLost")
    reset_fleet.inject_fault(after_action="ListCommands", fail_action="ListCommands", after_count=50)
    simulated_before_reset = health(reset_fleet)["simulated_seconds"]

    answer = post(reset_fleet, reset_path)
    after_reset = health(reset_fleet)
    simulated_after_reset = after_reset.pop("simulated_seconds")
    faults_after_reset = reset_fleet.faults()
    stats_after_reset = reset_fleet.api_calls()
    view_after_reset = fleet_view(reset_fleet)
    stats_after_one_view = reset_fleet.stats()

    assert answer == {"status": "ok"}
    assert after_reset == {"ok": True, "instances": 3, "commands": 0, "time_scale": float(TIME_SCALE)}
    assert simulated_after_reset < simulated_before_reset  # a fresh clock
    assert (faults_after_reset, stats_after_reset) == ([], {})
    assert view_after_reset == {"agents": dict.fromkeys(ids, "Online"), "ec2": ids, "commands": 0}
    assert stats_after_one_view == {"DescribeInstanceInformation": 1, "DescribeInstances": 1, "ListCommands": 1}


def test_after_a_reset_commands_run_at_the_fleet_time_scale_and_the_ticker_moves_them(reset_fleet):
    post(reset_fleet, "/moto-api/reset")
    ssm = reset_fleet.client("ssm")
    ids = sorted(i["InstanceId"] for i in ssm.describe_instance_information()["InstanceInformationList"])
    command_id = ssm.send_command(InstanceIds=ids, **SHELL)["Command"]["CommandId"]

    # No request until the command has finished: only the ticker can move the rebuilt fleet meanwhile.
    finished_without_requests = wait_in_log(reset_fleet.log_path, f"command {command_id} Success (Success): 3/3 complete")
    command = ssm.list_commands(CommandId=command_id)["Commands"][0]
    elapsed = {i: ssm.get_command_invocation(CommandId=command_id, InstanceId=i)["ExecutionElapsedTime"] for i in ids}

    assert finished_without_requests
    assert (command["Status"], command["TargetCount"], command["CompletedCount"]) == ("Success", 3, 3)
    # 60 simulated seconds of execution at time scale 60
    assert elapsed == dict.fromkeys(ids, "PT1.000S")


def test_after_a_reset_faults_can_be_armed_and_fire(reset_fleet):
    post(reset_fleet, "/moto-api/reset")
    ssm = reset_fleet.client("ssm", config=Config(retries={"max_attempts": 1}))
    reset_fleet.inject_fault(after_action="ListCommands", fail_action="ListCommands", status=400, code="AccessDeniedException", message="not now")
    ssm.list_commands()
    with pytest.raises(Exception) as caught:
        ssm.list_commands()
    assert caught.value.response["Error"] == {"Code": "AccessDeniedException", "Message": "not now"}


def test_other_moto_api_calls_keep_the_fleet_state_and_are_not_counted_as_aws_calls(reset_fleet):
    post(reset_fleet, "/moto-api/reset")
    ssm = reset_fleet.client("ssm")
    ids = sorted(i["InstanceId"] for i in ssm.describe_instance_information()["InstanceInformationList"])
    ssm.send_command(InstanceIds=ids, **SHELL)
    counted_before = reset_fleet.api_calls()

    answer = post(reset_fleet, "/moto-api/reset-auth", b"inf")

    assert answer == {"status": "ok", "PREVIOUS_INITIAL_NO_AUTH_ACTION_COUNT": "inf"}
    assert health(reset_fleet)["commands"] == 1
    assert reset_fleet.api_calls() == counted_before == {"ssm:DescribeInstanceInformation": 1, "ssm:SendCommand": 1}


@pytest.mark.parametrize(
    "addressing, expected_target_count",
    [({"InstanceIds": None}, 3), ({"Targets": [{"Key": "tag:Patch Group", "Values": ["slow"]}]}, 0)],
    ids=["instance-ids", "targets"],
)
def test_list_commands_right_after_send_command_repeats_its_answer(slow_fleet, addressing, expected_target_count):
    ssm = slow_fleet.client("ssm")
    ids = sorted(i["InstanceId"] for i in ssm.describe_instance_information()["InstanceInformationList"])
    sent = ssm.send_command(**{key: value or ids for key, value in addressing.items()}, **SHELL)["Command"]
    listed = ssm.list_commands(CommandId=sent["CommandId"])["Commands"]
    expected_instance_ids = ids if "InstanceIds" in addressing else []
    assert (sent["TargetCount"], sent["InstanceIds"]) == (expected_target_count, expected_instance_ids)
    assert listed == [sent]


PATTERN = "(^i-(\\w{8}|\\w{17})$)|(^mi-\\w{17}$)"


@pytest.mark.parametrize(
    "request_fields, expected_error",
    [
        ({"InstanceIds": ["i-123456"], **SHELL},
         {"Code": "ValidationException", "Message": "1 validation error detected: Value 'i-123456' at 'instanceIds.1.member' "
                                                    f"failed to satisfy constraint: Member must satisfy regular expression pattern: {PATTERN}"}),
        ({"DocumentName": "AWS-RunShellScript"},
         {"Code": "ValidationException", "Message": "1 validation error detected: Specify either InstanceIds or Targets."}),
        ({"DocumentName": "AWS-RunShellScript", "Targets": [{"Key": "tag:Name", "Values": ["test-tag"]}]},
         {"Code": "InvalidParameters", "Message": "Parameter commands is required for document AWS-RunShellScript."}),
    ],
    ids=["instance-id-breaking-the-pattern", "neither-instance-ids-nor-targets", "shell-script-without-commands"],
)
def test_send_command_refuses_requests_of_the_moto_suite_as_aws_does(reset_fleet, request_fields, expected_error):
    with pytest.raises(Exception) as caught:
        reset_fleet.client("ssm").send_command(**request_fields)
    assert caught.value.response["Error"] == expected_error


def test_an_ec2_instance_outside_the_fleet_is_not_a_managed_node(reset_fleet):
    post(reset_fleet, "/moto-api/reset")
    ec2, ssm = reset_fleet.client("ec2"), reset_fleet.client("ssm")
    launched = ec2.run_instances(ImageId=PLATFORMS["AMAZON_LINUX_2023"].image_id, MinCount=1, MaxCount=1,
                                 TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": "test-tag"}]}])
    command_id = ssm.send_command(Targets=[{"Key": "tag:Name", "Values": ["test-tag"]}], **SHELL)["Command"]["CommandId"]
    deadline = time.monotonic() + 30
    while (command := ssm.list_commands(CommandId=command_id)["Commands"][0])["Status"] == "Pending" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(launched["Instances"]) == 1
    assert (command["Status"], command["StatusDetails"], command["TargetCount"]) == ("Success", "No Instances In Tag", 0)
