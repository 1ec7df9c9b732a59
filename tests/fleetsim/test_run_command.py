"""Run Command through boto3 against a real fleetsim server process."""
from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.fleetsim.conftest import all_invocations, instances_in, send_patch, wait_for_command

pytestmark = pytest.mark.fleetsim


def counters(command: dict) -> dict:
    keys = ("Status", "StatusDetails", "TargetCount", "CompletedCount", "ErrorCount", "DeliveryTimedOutCount")
    return {key: command[key] for key in keys}


def test_targets_command_answers_with_empty_ids_and_zero_counters_then_fills_in(ssm):
    sent = ssm.send_command(DocumentName="AWS-RunPatchBaseline", Targets=[{"Key": "tag:Patch Group", "Values": ["web"]}],
                            Parameters={"Operation": ["Scan"]}, MaxConcurrency="100%", MaxErrors="0")["Command"]
    assert (sent["InstanceIds"], counters(sent)) == (
        [], {"Status": "Pending", "StatusDetails": "Pending", "TargetCount": 0, "CompletedCount": 0, "ErrorCount": 0, "DeliveryTimedOutCount": 0}
    )
    final = wait_for_command(ssm, sent["CommandId"])
    assert counters(final) == {"Status": "Success", "StatusDetails": "Success", "TargetCount": 60, "CompletedCount": 60, "ErrorCount": 0, "DeliveryTimedOutCount": 0}


def test_more_than_50_invocations_read_through_pagination(ssm):
    command_id = send_patch(ssm, "web", "Scan")
    wait_for_command(ssm, command_id)
    first = ssm.list_command_invocations(CommandId=command_id, MaxResults=50)
    second = ssm.list_command_invocations(CommandId=command_id, MaxResults=50, NextToken=first["NextToken"])
    assert (len(first["CommandInvocations"]), len(second["CommandInvocations"]), "NextToken" in second) == (50, 10, False)
    invocations = all_invocations(ssm, command_id)
    assert sorted(i["InstanceId"] for i in invocations) == sorted(instances_in(ssm, "web"))
    assert Counter((i["Status"], i["StatusDetails"]) for i in invocations) == {("Success", "Success"): 60}


def test_instance_ids_command_counts_its_targets_at_once(ssm):
    ids = instances_in(ssm, "spare")
    sent = ssm.send_command(DocumentName="AWS-RunPatchBaseline", InstanceIds=ids, Parameters={"Operation": ["Scan"]})["Command"]
    assert (sent["InstanceIds"], sent["TargetCount"], sent["Status"]) == (ids, 3, "Pending")
    assert counters(wait_for_command(ssm, sent["CommandId"]))["CompletedCount"] == 3


def test_max_errors_stops_dispatch_on_error_n_plus_one_and_terminates_the_rest(ssm):
    command_id = send_patch(ssm, "broken", MaxConcurrency="1", MaxErrors="1")
    final = wait_for_command(ssm, command_id)
    assert counters(final) == {"Status": "Failed", "StatusDetails": "Failed", "TargetCount": 10, "CompletedCount": 10, "ErrorCount": 2, "DeliveryTimedOutCount": 0}
    outcomes = Counter((i["Status"], i["StatusDetails"]) for i in all_invocations(ssm, command_id))
    assert outcomes == {("Failed", "Failed"): 2, ("Failed", "Terminated"): 8}


def test_connection_lost_agents_end_undeliverable(ssm):
    final = wait_for_command(ssm, send_patch(ssm, "lost", "Scan"))
    assert counters(final) == {"Status": "Failed", "StatusDetails": "Failed", "TargetCount": 4, "CompletedCount": 4, "ErrorCount": 0, "DeliveryTimedOutCount": 0}
    invocations = all_invocations(ssm, final["CommandId"], details=True)
    assert Counter((i["Status"], i["StatusDetails"]) for i in invocations) == {("Failed", "Undeliverable"): 4}
    assert {p["ResponseCode"] for i in invocations for p in i["CommandPlugins"] if p["Name"] == "PatchLinux"} == {-1}


def test_undeliverable_does_not_fail_a_command_that_succeeded_elsewhere(ssm):
    final = wait_for_command(ssm, send_patch(ssm, "mixed", "Scan"))
    assert counters(final) == {"Status": "Success", "StatusDetails": "Success", "TargetCount": 4, "CompletedCount": 4, "ErrorCount": 0, "DeliveryTimedOutCount": 0}
    assert Counter(i["StatusDetails"] for i in all_invocations(ssm, final["CommandId"])) == {"Success": 2, "Undeliverable": 2}


def test_instances_not_reached_within_timeout_seconds_are_delivery_timed_out(ssm):
    final = wait_for_command(ssm, send_patch(ssm, "slow", "Scan", MaxConcurrency="1", TimeoutSeconds=30))
    assert counters(final) == {"Status": "TimedOut", "StatusDetails": "Delivery Timed Out", "TargetCount": 5, "CompletedCount": 5, "ErrorCount": 0, "DeliveryTimedOutCount": 4}
    assert Counter((i["Status"], i["StatusDetails"]) for i in all_invocations(ssm, final["CommandId"])) == {("Success", "Success"): 1, ("TimedOut", "Delivery Timed Out"): 4}


def test_agent_dropping_mid_run_leaves_the_invocation_in_progress_until_it_expires(ssm):
    command_id = send_patch(ssm, "flaky", "Scan", TimeoutSeconds=30)
    final = wait_for_command(ssm, command_id, timeout=60)
    assert counters(final) == {"Status": "TimedOut", "StatusDetails": "Delivery Timed Out", "TargetCount": 2, "CompletedCount": 2, "ErrorCount": 0, "DeliveryTimedOutCount": 2}
    info = ssm.describe_instance_information(Filters=[{"Key": "tag:Patch Group", "Values": ["flaky"]}])["InstanceInformationList"]
    assert [i["PingStatus"] for i in info] == ["ConnectionLost", "ConnectionLost"]


def test_cancel_command_cancels_what_has_not_finished(api_fleet, ssm):
    command_id = send_patch(ssm, "slow", "Scan", MaxConcurrency="1")
    ssm.cancel_command(CommandId=command_id)
    final = wait_for_command(ssm, command_id)
    assert (final["Status"], final["StatusDetails"], final["TargetCount"], final["CompletedCount"]) == ("Cancelled", "Cancelled", 5, 5)
    assert set(i["StatusDetails"] for i in all_invocations(ssm, command_id)) <= {"Cancelled", "Success"}


def test_no_instances_in_tag(ssm):
    final = wait_for_command(ssm, send_patch(ssm, "nobody-here", "Scan"))
    assert counters(final) == {"Status": "Success", "StatusDetails": "No Instances In Tag", "TargetCount": 0, "CompletedCount": 0, "ErrorCount": 0, "DeliveryTimedOutCount": 0}


def test_get_command_invocation_per_step_of_run_patch_baseline(ssm):
    command_id = send_patch(ssm, "win", "Scan")
    wait_for_command(ssm, command_id)
    instance_id = instances_in(ssm, "win")[0]
    windows = ssm.get_command_invocation(CommandId=command_id, InstanceId=instance_id, PluginName="PatchWindows")
    linux = ssm.get_command_invocation(CommandId=command_id, InstanceId=instance_id, PluginName="PatchLinux")
    default = ssm.get_command_invocation(CommandId=command_id, InstanceId=instance_id)
    assert (windows["Status"], windows["StatusDetails"], windows["ResponseCode"]) == ("Success", "Success", 0)
    assert "Operating system: WINDOWS\n" in windows["StandardOutputContent"]
    assert (linux["Status"], linux["StatusDetails"], linux["StandardOutputContent"]) == (
        "Success", "Skipped", "Step execution skipped due to unsatisfied preconditions. Step name: PatchLinux")
    assert (default["PluginName"], default["StandardOutputContent"]) == ("PatchWindows", windows["StandardOutputContent"])
    with pytest.raises(ClientError) as caught:
        ssm.get_command_invocation(CommandId=command_id, InstanceId=instance_id, PluginName="aws:runShellScript")
    assert caught.value.response["Error"] == {"Code": "InvalidPluginName", "Message": "The plugin name aws:runShellScript is not valid for document AWS-RunPatchBaseline."}


def test_output_goes_to_the_s3_bucket(api_fleet, ssm):
    s3 = api_fleet.client("s3")
    s3.create_bucket(Bucket="patch-logs")
    command_id = send_patch(ssm, "ubu", "Scan", tag_key="PatchGroup", OutputS3BucketName="patch-logs", OutputS3KeyPrefix="runs/scan")
    wait_for_command(ssm, command_id)
    instance_id = all_invocations(ssm, command_id)[0]["InstanceId"]
    invocation = ssm.get_command_invocation(CommandId=command_id, InstanceId=instance_id, PluginName="PatchLinux")
    key = f"runs/scan/{command_id}/{instance_id}/awsrunShellScript/PatchLinux/stdout"
    assert invocation["StandardOutputUrl"] == f"https://s3.us-east-1.amazonaws.com/patch-logs/{key}"
    assert s3.get_object(Bucket="patch-logs", Key=key)["Body"].read().decode() == invocation["StandardOutputContent"]


def test_list_commands_filters(ssm):
    before = datetime.now(timezone.utc) - timedelta(seconds=1)
    command_id = send_patch(ssm, "spare", "Scan")
    wait_for_command(ssm, command_id)
    def ids(*filters):
        return [c["CommandId"] for c in ssm.list_commands(Filters=[{"key": k, "value": v} for k, v in filters], MaxResults=50)["Commands"]]
    assert command_id in ids(("InvokedAfter", before.isoformat()), ("Status", "Success"), ("DocumentName", "AWS-RunPatchBaseline"), ("ExecutionStage", "Complete"))
    assert command_id not in ids(("Status", "Failed"))
    assert ids(("InvokedAfter", (datetime.now(timezone.utc) + timedelta(hours=1)).isoformat())) == []
    by_instance = ssm.list_commands(InstanceId=instances_in(ssm, "spare")[0])["Commands"]
    assert command_id in [c["CommandId"] for c in by_instance]


def test_tag_changes_in_ec2_move_instances_between_targets(api_fleet, ssm):
    ec2 = api_fleet.client("ec2")
    total = sum(len(r["Instances"]) for page in ec2.get_paginator("describe_instances").paginate() for r in page["Reservations"])
    assert total == sum(g["count"] for g in __import__("tests.fleetsim.conftest", fromlist=["API_FLEET"]).API_FLEET["groups"])
    moved = instances_in(ssm, "spare")[0]
    ec2.create_tags(Resources=[moved], Tags=[{"Key": "Patch Group", "Value": "moved"}])
    final = wait_for_command(ssm, send_patch(ssm, "moved", "Scan"))
    assert (final["TargetCount"], [i["InstanceId"] for i in all_invocations(ssm, final["CommandId"])]) == (1, [moved])
    assert instances_in(ssm, "moved") == [moved]
    assert ssm.describe_instance_patch_states(InstanceIds=[moved])["InstancePatchStates"][0]["PatchGroup"] == "moved"


def test_throttling_answers_throttling_exception(api_fleet):
    ssm = api_fleet.client("ssm", config=Config(retries={"max_attempts": 1, "mode": "standard"}))
    outcomes = []
    for _ in range(6):
        try:
            ssm.get_default_patch_baseline(OperatingSystem="WINDOWS")
            outcomes.append("ok")
        except ClientError as exc:
            outcomes.append((exc.response["Error"], exc.response["ResponseMetadata"]["HTTPStatusCode"]))
    assert outcomes[0] == "ok"
    assert ({"Code": "ThrottlingException", "Message": "Rate exceeded"}, 400) in outcomes


def test_stats_count_calls_per_action_and_reset(api_fleet, ssm):
    api_fleet.reset_stats()
    for _ in range(3):
        ssm.list_commands(MaxResults=5)
    ssm.describe_instance_information(MaxResults=5)
    assert api_fleet.stats() == {"ListCommands": 3, "DescribeInstanceInformation": 1}
    api_fleet.reset_stats()
    assert api_fleet.stats() == {}


def test_agents_endpoint_changes_ping_status(api_fleet, ssm):
    instance_id = instances_in(ssm, "spare")[-1]
    api_fleet.set_ping_status([instance_id], "ConnectionLost")
    lost = [i["InstanceId"] for i in ssm.describe_instance_information(Filters=[{"Key": "PingStatus", "Values": ["ConnectionLost"]}], MaxResults=50)["InstanceInformationList"]]
    final = wait_for_command(ssm, ssm.send_command(DocumentName="AWS-RunPatchBaseline", InstanceIds=[instance_id], Parameters={"Operation": ["Scan"]})["Command"]["CommandId"])
    api_fleet.set_ping_status([instance_id], "Online")
    assert instance_id in lost
    assert [i["StatusDetails"] for i in all_invocations(ssm, final["CommandId"])] == ["Undeliverable"]
    with pytest.raises(ValueError) as caught:
        api_fleet.set_ping_status(["i-00000000000000000"], "Online")
    assert str(caught.value) == "instance_ids: not in the fleet: i-00000000000000000"


def test_describe_instance_information_pages_and_filters(ssm):
    pages = ssm.get_paginator("describe_instance_information").paginate(PaginationConfig={"PageSize": 50})
    everyone = [i for page in pages for i in page["InstanceInformationList"]]
    windows = ssm.describe_instance_information(Filters=[{"Key": "PlatformTypes", "Values": ["Windows"]}], MaxResults=50)["InstanceInformationList"]
    assert len(everyone) == len({i["InstanceId"] for i in everyone}) == 110
    assert {(i["PlatformName"], i["PlatformVersion"]) for i in windows} == {("Microsoft Windows Server 2022 Datacenter", "10.0.20348")}
    assert len(windows) == 6
    assert {(i["PlatformName"], i["PlatformVersion"]) for i in everyone} == {
        ("Amazon Linux", "2023"), ("Ubuntu", "22.04"), ("Microsoft Windows Server 2022 Datacenter", "10.0.20348")}


def test_what_moto_already_served_keeps_working(ssm):
    ssm.put_parameter(Name="/patchflow/window", Value="sun-02", Type="String")
    assert ssm.get_parameter(Name="/patchflow/window")["Parameter"]["Value"] == "sun-02"
    window_id = ssm.create_maintenance_window(Name="weekly", Schedule="cron(0 2 ? * SUN *)", Duration=3, Cutoff=1, AllowUnassociatedTargets=False)["WindowId"]
    assert ssm.get_maintenance_window(WindowId=window_id)["Name"] == "weekly"
