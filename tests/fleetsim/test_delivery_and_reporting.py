"""Offline agents, cancels, late compliance data, InstalledTime and pinned versions, through boto3 against a server.

The fleet keeps the defaults that matter here (offline_delivery: timeout) and sets a long compliance lag so a
test can see the old patch state after a command ends; test_delivery_timeouts.py, test_cancel_command.py and
test_compliance_data.py pin the exact timings on a hand-moved clock.
"""
from __future__ import annotations

import time
from collections import Counter
from datetime import datetime, timezone

import pytest

from fleetsim.testing import fleetsim_fixture
from tests.fleetsim.conftest import all_invocations, instances_in, send_patch, wait_for_command

pytestmark = pytest.mark.fleetsim

AL2023 = {"count": 1, "platform": "AMAZON_LINUX_2023", "execution_seconds": 60}
OPENSSH = "openssh-server.x86_64"
OPENSSH_TITLE = "openssh-server.x86_64:0:8.7p1-8.amzn2023.0.13"
TIME_SCALE = 3000
COMPLIANCE_LAG = 9000  # simulated seconds: 3 s of real time at this time scale
FLEET = {
    "compliance_lag_seconds": COMPLIANCE_LAG,
    "groups": [
        {**AL2023, "name": "lost", "count": 2, "tags": {"Patch Group": "offline"}, "ping_status": "ConnectionLost"},
        {**AL2023, "name": "online", "tags": {"Patch Group": "offline"}},
        {**AL2023, "name": "dropping", "tags": {"Patch Group": "cancel"}, "offline_mid_run_share": 1.0},
        {**AL2023, "name": "unreachable", "tags": {"Patch Group": "cancel"}, "ping_status": "ConnectionLost"},
        {**AL2023, "name": "lagging", "tags": {"Patch Group": "lag"}},
        {**AL2023, "name": "windows", "platform": "WINDOWS", "tags": {"Patch Group": "windows"}},
        {**AL2023, "name": "moved-on", "tags": {"Patch Group": "moved-on"}, "missing_share": 1.0, "not_applicable_share": 0,
         "superseded": {OPENSSH: 1.0}},
    ],
}
defaults_fleet = fleetsim_fixture(FLEET, seed=2, time_scale=TIME_SCALE)


@pytest.fixture
def ssm(defaults_fleet):
    return defaults_fleet.client("ssm")


def wait_until(check, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while not (found := check()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return found


def outcomes(ssm, command_id: str) -> Counter:
    return Counter((i["Status"], i["StatusDetails"]) for i in all_invocations(ssm, command_id))


def test_an_agent_that_is_not_online_leaves_its_invocation_pending_then_delivery_timed_out(ssm):
    command_id = send_patch(ssm, "offline", "Scan", TimeoutSeconds=30)
    assert wait_until(lambda: outcomes(ssm, command_id).get(("Success", "Success")) == 1)
    command = ssm.list_commands(CommandId=command_id)["Commands"][0]
    assert (command["Status"], outcomes(ssm, command_id)) == ("InProgress", {("Success", "Success"): 1, ("Pending", "Pending"): 2})
    final = wait_for_command(ssm, command_id)
    assert ({k: final[k] for k in ("Status", "StatusDetails", "CompletedCount", "ErrorCount", "DeliveryTimedOutCount")},
            outcomes(ssm, command_id)) == (
        {"Status": "TimedOut", "StatusDetails": "Delivery Timed Out", "CompletedCount": 3, "ErrorCount": 0, "DeliveryTimedOutCount": 2},
        {("Success", "Success"): 1, ("TimedOut", "Delivery Timed Out"): 2})


def test_cancel_answers_cancelling_until_every_invocation_settles(defaults_fleet, ssm):
    dropping, unreachable = instances_in(ssm, "cancel")
    command_id = send_patch(ssm, "cancel", "Scan", TimeoutSeconds=30)
    assert wait_until(lambda: ssm.describe_instance_information(
        Filters=[{"Key": "InstanceIds", "Values": [dropping]}])["InstanceInformationList"][0]["PingStatus"] == "ConnectionLost")
    ssm.cancel_command(CommandId=command_id)
    # The dropped agent never hears the cancel; the Pending invocation is settled by the service.
    assert wait_until(lambda: outcomes(ssm, command_id) == {("Cancelling", "Cancelling"): 1, ("Cancelled", "Cancelled"): 1})
    assert ssm.list_commands(CommandId=command_id)["Commands"][0]["Status"] == "Cancelling"
    assert ssm.get_command_invocation(CommandId=command_id, InstanceId=unreachable, PluginName="PatchLinux")["Status"] == "Cancelled"
    final = wait_for_command(ssm, command_id)
    assert ((final["Status"], final["StatusDetails"]), outcomes(ssm, command_id)) == (
        ("Cancelled", "Cancelled"), {("Cancelled", "Cancelled"): 1, ("TimedOut", "Delivery Timed Out"): 1})


def test_patch_states_arrive_after_the_command_ends(ssm):
    (instance_id,) = instances_in(ssm, "lag")
    command_id = send_patch(ssm, "lag", "Scan")
    assert wait_for_command(ssm, command_id)["Status"] == "Success"
    ended = ssm.get_command_invocation(CommandId=command_id, InstanceId=instance_id, PluginName="PatchLinux")["ExecutionEndDateTime"]
    assert (ssm.describe_instance_patch_states(InstanceIds=[instance_id])["InstancePatchStates"],
            ssm.describe_patch_group_state(PatchGroup="lag")["Instances"],
            ssm.describe_instance_patches(InstanceId=instance_id)["Patches"]) == ([], 0, [])
    states = wait_until(lambda: ssm.describe_instance_patch_states(InstanceIds=[instance_id])["InstancePatchStates"])
    # GetCommandInvocation writes milliseconds; the patch state carries the same instant.
    lag_after_end = (states[0]["OperationEndTime"] - datetime.fromisoformat(ended.replace("Z", "+00:00"))).total_seconds()
    assert (states[0]["Operation"], 0 <= lag_after_end < 0.001) == ("Scan", True)
    assert ssm.describe_patch_group_state(PatchGroup="lag")["Instances"] == 1


def test_windows_reports_whole_days_and_patches_present_at_start_were_installed_before_it(ssm):
    (instance_id,) = instances_in(ssm, "windows")
    command_id = send_patch(ssm, "windows", Parameters={"RebootOption": ["NoReboot"]})
    requested = ssm.list_commands(CommandId=command_id)["Commands"][0]["RequestedDateTime"]
    assert wait_for_command(ssm, command_id)["Status"] == "Success"
    pages = wait_until(lambda: ssm.describe_instance_patches(InstanceId=instance_id, MaxResults=100)["Patches"])
    installed = {p["KBId"]: (p["State"], p["InstalledTime"]) for p in pages if p["State"].startswith("Installed")}
    assert installed and all(t.astimezone(timezone.utc).time() == datetime.min.time() for _, t in installed.values())
    assert all(t <= requested for state, t in installed.values() if state != "InstalledPendingReboot")
    assert {p["InstalledTime"].timestamp() for p in pages if p["State"] in ("Missing", "NotApplicable")} <= {0.0}


def test_a_pinned_version_the_repository_no_longer_offers_fails(defaults_fleet, ssm):
    s3 = defaults_fleet.client("s3")
    s3.create_bucket(Bucket="pinned-manifests")
    s3.put_object(Bucket="pinned-manifests", Key="openssh.yaml", Body=f"patches:\n  - id: {OPENSSH}\n    title: '{OPENSSH_TITLE}'\n".encode())
    (instance_id,) = instances_in(ssm, "moved-on")
    command_id = send_patch(ssm, "moved-on", Parameters={"InstallOverrideList": ["s3://pinned-manifests/openssh.yaml"]})
    assert wait_for_command(ssm, command_id)["Status"] == "Failed"
    invocation = ssm.get_command_invocation(CommandId=command_id, InstanceId=instance_id, PluginName="PatchLinux")
    assert (invocation["Status"], invocation["StandardErrorContent"]) == (
        "Failed", f"Failed to install package {OPENSSH}: version {OPENSSH_TITLE} was not found in the repositories of this node.\n")
    failed = wait_until(lambda: ssm.describe_instance_patches(InstanceId=instance_id, Filters=[{"Key": "State", "Values": ["Failed"]}])["Patches"])
    assert [(p["KBId"], p["Title"]) for p in failed] == [(OPENSSH, "openssh-server.x86_64:0:8.7p1-9.amzn2023.0.13")]
