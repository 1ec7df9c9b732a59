"""Patch Manager: baselines, patch groups, patch states and AWS-RunPatchBaseline parameters, through boto3."""
from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from fleetsim.build_catalog import CATALOG_REFERENCE_DATE
from fleetsim.catalog import load_catalog
from tests.fleetsim.conftest import all_invocations, instances_in, send_patch, wait_for_command

pytestmark = pytest.mark.fleetsim

AWS = "arn:aws:ssm:us-east-1:075727635805:patchbaseline/"
STATE_COUNTS = ("InstalledCount", "InstalledOtherCount", "InstalledPendingRebootCount", "InstalledRejectedCount", "MissingCount", "FailedCount")


def states(ssm, patch_group: str) -> dict[str, dict]:
    found = ssm.describe_instance_patch_states(InstanceIds=instances_in(ssm, patch_group), MaxResults=50)["InstancePatchStates"]
    return {s["InstanceId"]: s for s in found}


def patches(ssm, instance_id: str, **filters) -> list[dict]:
    pages = ssm.get_paginator("describe_instance_patches").paginate(
        InstanceId=instance_id, Filters=[{"Key": k, "Values": v} for k, v in filters.items()])
    return [p for page in pages for p in page["Patches"]]


@pytest.mark.parametrize(
    "operating_system, name, baseline_id",
    [
        ("WINDOWS", "AWS-DefaultPatchBaseline", "pb-09ca3fb51f0412ec3"),
        ("AMAZON_LINUX_2023", "AWS-AmazonLinux2023DefaultPatchBaseline", "pb-05c9c9bf778d4c4d0"),
        ("UBUNTU", "AWS-UbuntuDefaultPatchBaseline", "pb-0c7e89f711c3095f4"),
    ],
    ids=["windows", "al2023", "ubuntu"],
)
def test_predefined_baselines_are_the_defaults(ssm, operating_system, name, baseline_id):
    default = ssm.get_default_patch_baseline(OperatingSystem=operating_system)
    baseline = ssm.get_patch_baseline(BaselineId=default["BaselineId"])
    assert (default["BaselineId"], baseline["Name"], baseline["OperatingSystem"]) == (AWS + baseline_id, name, operating_system)
    listed = ssm.describe_patch_baselines(Filters=[{"Key": "OWNER", "Values": ["AWS"]}, {"Key": "NAME_PREFIX", "Values": [name]}])["BaselineIdentities"]
    assert [(b["BaselineId"], b["DefaultBaseline"]) for b in listed] == [(AWS + baseline_id, True)]


def test_baseline_lifecycle_and_tags(ssm):
    created = ssm.create_patch_baseline(
        Name="al2023-critical", OperatingSystem="AMAZON_LINUX_2023", Description="critical only",
        ApprovalRules={"PatchRules": [{"PatchFilterGroup": {"PatchFilters": [{"Key": "SEVERITY", "Values": ["Critical"]}]}, "ApproveAfterDays": 7}]},
        Tags=[{"Key": "Owner", "Value": "platform"}],
    )["BaselineId"]
    assert created.startswith("pb-") and len(created) == 20
    updated = ssm.update_patch_baseline(BaselineId=created, RejectedPatches=["htop.x86_64"], RejectedPatchesAction="BLOCK")
    assert (updated["Name"], updated["Description"], updated["RejectedPatches"], updated["RejectedPatchesAction"]) == ("al2023-critical", "critical only", ["htop.x86_64"], "BLOCK")
    replaced = ssm.update_patch_baseline(BaselineId=created, Name="al2023-replaced", ApprovedPatches=["sudo.x86_64"], Replace=True)
    assert (replaced["Name"], replaced["Description"], replaced["ApprovalRules"], replaced["ApprovedPatches"], replaced["RejectedPatches"]) == (
        "al2023-replaced", "", {"PatchRules": []}, ["sudo.x86_64"], [])
    ssm.add_tags_to_resource(ResourceType="PatchBaseline", ResourceId=created, Tags=[{"Key": "Stage", "Value": "dev"}])
    assert ssm.list_tags_for_resource(ResourceType="PatchBaseline", ResourceId=created)["TagList"] == [
        {"Key": "Owner", "Value": "platform"}, {"Key": "Stage", "Value": "dev"}]
    assert ssm.delete_patch_baseline(BaselineId=created)["BaselineId"] == created
    with pytest.raises(ClientError) as caught:
        ssm.get_patch_baseline(BaselineId=created)
    assert caught.value.response["Error"] == {"Code": "DoesNotExistException", "Message": f"Patch Baseline {created} does not exist."}


def test_patch_group_registration_decides_the_baseline_nodes_use(ssm):
    recent = sorted(p.id for p in load_catalog("WINDOWS") if (CATALOG_REFERENCE_DATE - p.release_date).days < 6)
    baseline_id = ssm.create_patch_baseline(Name="win-recent-only", OperatingSystem="WINDOWS", ApprovedPatches=recent,
                                            ApprovedPatchesComplianceLevel="HIGH")["BaselineId"]
    registered = ssm.register_patch_baseline_for_patch_group(BaselineId=baseline_id, PatchGroup="win")
    assert (registered["BaselineId"], registered["PatchGroup"]) == (baseline_id, "win")
    with pytest.raises(ClientError) as caught:
        ssm.register_patch_baseline_for_patch_group(BaselineId=baseline_id, PatchGroup="win")
    assert caught.value.response["Error"] == {"Code": "AlreadyExistsException", "Message": "Patch Group win already has a baseline registered for OperatingSystem WINDOWS."}
    found = ssm.get_patch_baseline_for_patch_group(PatchGroup="win", OperatingSystem="WINDOWS")
    assert (found["BaselineId"], found["PatchGroup"], found["OperatingSystem"]) == (baseline_id, "win", "WINDOWS")
    other_os = ssm.get_patch_baseline_for_patch_group(PatchGroup="win", OperatingSystem="UBUNTU")
    assert other_os["BaselineId"] == AWS + "pb-0c7e89f711c3095f4"
    mappings = ssm.describe_patch_groups(Filters=[{"Key": "NAME_PREFIX", "Values": ["win"]}])["Mappings"]
    assert [(m["PatchGroup"], m["BaselineIdentity"]["BaselineId"]) for m in mappings] == [("win", baseline_id)]
    assert ssm.get_patch_baseline(BaselineId=baseline_id)["PatchGroups"] == ["win"]

    wait_for_command(ssm, send_patch(ssm, "win", "Scan"))
    for instance_id, state in states(ssm, "win").items():
        assert (state["BaselineId"], state["Operation"], state["PatchGroup"]) == (baseline_id, "Scan", "win")
        missing = {p["KBId"] for p in patches(ssm, instance_id, State=["Missing"])}
        assert missing <= set(recent) and state["MissingCount"] == len(missing)
    group_state = ssm.describe_patch_group_state(PatchGroup="win")
    assert group_state["Instances"] == 6

    with pytest.raises(ClientError) as caught:
        ssm.delete_patch_baseline(BaselineId=baseline_id)
    assert caught.value.response["Error"] == {"Code": "ResourceInUseException", "Message": f"Patch baseline {baseline_id} is registered with patch groups [win] and can't be deleted."}
    ssm.deregister_patch_baseline_for_patch_group(BaselineId=baseline_id, PatchGroup="win")
    assert ssm.get_patch_baseline_for_patch_group(PatchGroup="win", OperatingSystem="WINDOWS")["BaselineId"] == AWS + "pb-09ca3fb51f0412ec3"


def test_register_default_patch_baseline(ssm):
    baseline_id = ssm.create_patch_baseline(Name="ubuntu-everything", OperatingSystem="UBUNTU",
                                            ApprovalRules={"PatchRules": [{"PatchFilterGroup": {"PatchFilters": [{"Key": "PRIORITY", "Values": ["*"]}]}}]})["BaselineId"]
    ssm.register_default_patch_baseline(BaselineId=baseline_id)
    assert ssm.get_default_patch_baseline(OperatingSystem="UBUNTU")["BaselineId"] == baseline_id
    ssm.register_default_patch_baseline(BaselineId=AWS + "pb-0c7e89f711c3095f4")
    assert ssm.get_default_patch_baseline(OperatingSystem="UBUNTU")["BaselineId"] == AWS + "pb-0c7e89f711c3095f4"


def test_no_patch_state_before_the_first_operation(ssm):
    assert ssm.describe_instance_patch_states(InstanceIds=instances_in(ssm, "reboot"))["InstancePatchStates"] == []


def test_install_with_no_reboot_leaves_patches_pending_reboot_until_a_reboot(ssm):
    scan = wait_for_command(ssm, send_patch(ssm, "states", "Scan"))
    assert scan["Status"] == "Success"
    before = states(ssm, "states")
    install = wait_for_command(ssm, send_patch(ssm, "states", Parameters={"RebootOption": ["NoReboot"]}))
    assert install["Status"] == "Success"
    after = states(ssm, "states")
    for instance_id, state in after.items():
        was = before[instance_id]
        assert {k: state[k] for k in STATE_COUNTS} == {
            "InstalledCount": was["InstalledCount"], "InstalledOtherCount": was["InstalledOtherCount"],
            "InstalledPendingRebootCount": was["MissingCount"], "InstalledRejectedCount": 0, "MissingCount": 0, "FailedCount": 0}
        assert (state["Operation"], state["RebootOption"], "LastNoRebootInstallOperationTime" in state) == ("Install", "NoReboot", True)
        assert len(patches(ssm, instance_id, State=["InstalledPendingReboot"])) == was["MissingCount"]
    pending = ssm.describe_instance_patch_states_for_patch_group(
        PatchGroup="states", Filters=[{"Key": "InstalledPendingRebootCount", "Values": ["0"], "Type": "GreaterThan"}])["InstancePatchStates"]
    assert sorted(s["InstanceId"] for s in pending) == sorted(i for i, s in after.items() if s["InstalledPendingRebootCount"] > 0)
    group_state = ssm.describe_patch_group_state(PatchGroup="states")
    assert (group_state["Instances"], group_state["InstancesWithMissingPatches"], group_state["InstancesWithInstalledPendingRebootPatches"]) == (
        4, 0, sum(1 for s in after.values() if s["InstalledPendingRebootCount"]))

    wait_for_command(ssm, send_patch(ssm, "states", Parameters={"RebootOption": ["RebootIfNeeded"]}))
    for instance_id, state in states(ssm, "states").items():
        assert (state["InstalledPendingRebootCount"], state["InstalledCount"]) == (0, after[instance_id]["InstalledCount"] + after[instance_id]["InstalledPendingRebootCount"])


def test_scan_reports_missing_and_never_installs(ssm):
    wait_for_command(ssm, send_patch(ssm, "reboot", "Scan"))
    first = states(ssm, "reboot")
    wait_for_command(ssm, send_patch(ssm, "reboot", "Scan"))
    second = states(ssm, "reboot")
    assert {i: s["MissingCount"] for i, s in first.items()} == {i: s["MissingCount"] for i, s in second.items()}
    assert all(s["MissingCount"] > 0 and s["Operation"] == "Scan" for s in second.values())
    instance_id = next(iter(second))
    missing = patches(ssm, instance_id, State=["Missing"])
    assert len(missing) == second[instance_id]["MissingCount"]
    assert all(p["CVEIds"] for p in missing if p["Classification"] == "Security")


def test_install_override_list_installs_exactly_the_listed_patches(api_fleet, ssm):
    s3 = api_fleet.client("s3")
    s3.create_bucket(Bucket="manifests")
    wait_for_command(ssm, send_patch(ssm, "override", "Scan"))
    before = states(ssm, "override")
    instance_id = sorted(before)[0]
    missing = patches(ssm, instance_id, State=["Missing"])[0]
    chosen = missing["KBId"]
    # A Linux title pins the version; this one names the version the node is offered.
    s3.put_object(Bucket="manifests", Key="dev/manifest.yaml", Body=f"patches:\n  - id: {chosen}\n    title: '{missing['Title']}'\n".encode())
    url = "s3://manifests/dev/manifest.yaml"
    command_id = send_patch(ssm, "override", Parameters={"InstallOverrideList": [url]})
    assert wait_for_command(ssm, command_id)["Status"] == "Success"
    after = states(ssm, "override")
    assert after[instance_id]["InstallOverrideList"] == url
    assert after[instance_id]["MissingCount"] == before[instance_id]["MissingCount"] - 1
    assert [p["State"] for p in patches(ssm, instance_id, KBId=[chosen])] == ["Installed"]
    output = ssm.get_command_invocation(CommandId=command_id, InstanceId=instance_id, PluginName="PatchLinux")["StandardOutputContent"]
    assert f"Installed 1 patches: {chosen}\n" in output

    scan = send_patch(ssm, "override", "Scan", Parameters={"InstallOverrideList": ["s3://manifests/missing.yaml"]})
    assert wait_for_command(ssm, scan)["Status"] == "Success"  # Scan ignores the list, even an unreadable one


def test_unreadable_install_override_list_fails_the_document(ssm):
    command_id = send_patch(ssm, "override", Parameters={"InstallOverrideList": ["s3://manifests/nope.yaml"]})
    final = wait_for_command(ssm, command_id)
    assert (final["Status"], final["ErrorCount"]) == ("Failed", 3)
    invocation = ssm.get_command_invocation(CommandId=command_id, InstanceId=instances_in(ssm, "override")[0], PluginName="PatchLinux")
    assert (invocation["Status"], invocation["ResponseCode"], invocation["StandardErrorContent"]) == (
        "Failed", 1, "Unable to download the InstallOverrideList file from s3://manifests/nope.yaml.")


def test_failed_installs_are_reported_as_failed_patches(ssm):
    command_id = send_patch(ssm, "broken", MaxConcurrency="100%", MaxErrors="100%")
    final = wait_for_command(ssm, command_id)
    assert (final["Status"], final["StatusDetails"], final["ErrorCount"], final["CompletedCount"]) == ("Failed", "Failed", 10, 10)
    for state in states(ssm, "broken").values():
        assert state["FailedCount"] >= 1 and state["Operation"] == "Install"


def test_baseline_override_replaces_the_registered_baseline(api_fleet, ssm):
    s3 = api_fleet.client("s3")
    s3.create_bucket(Bucket="overrides")
    override = [{"OperatingSystem": "AMAZON_LINUX_2023", "BaselineId": "pb-override0000000001", "Name": "approve-nothing",
                 "ApprovalRules": {"PatchRules": []}, "ApprovedPatches": [], "RejectedPatches": []}]
    s3.put_object(Bucket="overrides", Key="baselines.json", Body=__import__("json").dumps(override).encode())
    wait_for_command(ssm, send_patch(ssm, "spare", "Scan", Parameters={"BaselineOverride": ["s3://overrides/baselines.json"]}))
    for state in states(ssm, "spare").values():
        assert (state["BaselineId"], state["MissingCount"], state["InstalledCount"]) == ("pb-override0000000001", 0, 0)
    both = send_patch(ssm, "spare", Parameters={"BaselineOverride": ["s3://overrides/baselines.json"], "InstallOverrideList": ["s3://overrides/x.yaml"]})
    assert wait_for_command(ssm, both)["Status"] == "Failed"


def test_run_shell_script_runs_everywhere(ssm):
    command_id = ssm.send_command(DocumentName="AWS-RunShellScript", Targets=[{"Key": "tag:Patch Group", "Values": ["ubu"]}],
                                  Parameters={"commands": ["uptime"]})["Command"]["CommandId"]
    assert counters_of(wait_for_command(ssm, command_id)) == ("Success", 0, 0)  # ubu is tagged PatchGroup, not "Patch Group"
    command_id = ssm.send_command(DocumentName="AWS-RunShellScript", Targets=[{"Key": "tag:PatchGroup", "Values": ["ubu"]}],
                                  Parameters={"commands": ["uptime"]})["Command"]["CommandId"]
    final = wait_for_command(ssm, command_id)
    assert counters_of(final) == ("Success", 4, 4)
    assert [p["Name"] for p in all_invocations(ssm, command_id, details=True)[0]["CommandPlugins"]] == ["aws:runShellScript"]


def counters_of(command: dict) -> tuple:
    return command["Status"], command["TargetCount"], command["CompletedCount"]
