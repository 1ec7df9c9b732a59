"""Reading what fleetsim did, the way a person checking a rollout would: through the AWS APIs only."""
from __future__ import annotations

import json
import time

from patchflow.core.patch_states import INSTALLED_STATES


def commands_by_group(sim) -> dict[str, list[dict]]:
    """Every command fleetsim ever accepted, by the patch group its instances carry."""
    ssm, ec2 = sim.client("ssm"), sim.client("ec2")
    group_of = {}
    for reservation in ec2.describe_instances()["Reservations"]:
        for instance in reservation["Instances"]:
            tags = {t["Key"]: t["Value"] for t in instance.get("Tags", [])}
            group_of[instance["InstanceId"]] = tags.get("Patch Group") or tags.get("PatchGroup")
    found: dict[str, list[dict]] = {}
    for page in ssm.get_paginator("list_commands").paginate():
        for command in page["Commands"]:
            groups = {group_of.get(i) for i in command["InstanceIds"]}
            for group in groups:
                found.setdefault(group, []).append(command)
    return found


def group_instances(ssm, group: str) -> list[str]:
    pages = ssm.get_paginator("describe_instance_information").paginate(Filters=[{"Key": "tag:Patch Group", "Values": [group]}])
    return [i["InstanceId"] for page in pages for i in page["InstanceInformationList"]]


def installed_by_scan(sim, group: str) -> dict[str, set[str]]:
    """What each instance of the group has installed, by a Scan of its own (InstalledTime cannot tell: Windows
    reports whole days, apt systems no time at all)."""
    ssm = sim.client("ssm")
    command_id = ssm.send_command(
        DocumentName="AWS-RunPatchBaseline", Targets=[{"Key": "tag:Patch Group", "Values": [group]}], Parameters={"Operation": ["Scan"]},
        MaxConcurrency="100%", MaxErrors="100%",
    )["Command"]["CommandId"]
    instance_ids = group_instances(ssm, group)
    deadline = time.monotonic() + 60
    while ssm.list_commands(CommandId=command_id)["Commands"][0]["Status"] not in ("Success", "Failed", "TimedOut", "Cancelled"):
        assert time.monotonic() < deadline, f"the scan of {group} did not finish"
        time.sleep(0.1)
    sent_at = ssm.list_commands(CommandId=command_id)["Commands"][0]["RequestedDateTime"]
    reported: set[str] = set()
    while len(reported) < len(instance_ids):  # compliance data arrives some time after the invocation ends
        assert time.monotonic() < deadline, f"the scan of {group} reported no compliance data"
        states = ssm.describe_instance_patch_states(InstanceIds=instance_ids)["InstancePatchStates"]
        reported = {s["InstanceId"] for s in states if s.get("Operation") == "Scan" and s["OperationStartTime"] >= sent_at}
        time.sleep(0.1)
    return {instance_id: {p["KBId"] for p in patches(ssm, instance_id, *INSTALLED_STATES)} for instance_id in instance_ids}


def manifest_ids(sim, location: str) -> set[str]:
    bucket, key = location.removeprefix("s3://").split("/", 1)
    manifest = json.loads(sim.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())
    return {p["id"] for patches in manifest["patches"].values() for p in patches}


def missing_ids(sim, group: str) -> set[str]:
    ssm = sim.client("ssm")
    return {p["KBId"] for instance_id in group_instances(ssm, group) for p in patches(ssm, instance_id, "Missing")}


def patches(ssm, instance_id: str, *states: str) -> list[dict]:
    pages = ssm.get_paginator("describe_instance_patches").paginate(InstanceId=instance_id, Filters=[{"Key": "State", "Values": list(states)}])
    return [patch for page in pages for patch in page["Patches"]]
