"""SendCommand Targets keys as Run Command matches them, through boto3 and through the AWS CLI command lines users were given."""
from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from fleetsim.targets import KEY_PATTERN, canonical_target_key, satisfies_key_pattern
from fleetsim.testing import fleetsim_fixture
from tests.fleetsim.conftest import wait_for_command

AWS_CLI = Path(sys.executable).with_name("aws")
# The example commands the project's users were given that act on an instance, exactly as written,
# i-1234567890abcdef0 standing for the instance.
SEED_SEND_COMMAND = ('aws ssm send-command --document-name "AWS-RunPatchBaseline" '
                     '--targets "Key=instanceids,Values=i-1234567890abcdef0" --parameters "Operation=Install"')
SEED_CREATE_TAGS = "aws ec2 create-tags --resources i-1234567890abcdef0 --tags Key=Patch Group,Value=Production"
EXAMPLE_INSTANCE = "i-1234567890abcdef0"


@pytest.mark.parametrize(
    ("key", "canonical"),
    [
        ("InstanceIds", "InstanceIds"),
        ("instanceids", "InstanceIds"),
        ("INSTANCEIDS", "InstanceIds"),
        ("tag:Patch Group", "tag:Patch Group"),
        ("tag:patch group", "tag:patch group"),
        ("tag-key", "tag-key"),
        ("resource-groups:Name", "resource-groups:Name"),
        ("Tag:Env", None),
        ("tag:", None),
        ("Environment", None),
    ],
    ids=["canonical", "lower-case-as-in-aws-examples", "upper-case", "tag-key-case-kept", "tag-key-lower-case-kept", "tag-key-key",
         "resource-group", "capitalised-tag-prefix", "tag-prefix-without-key", "unknown-key"],
)
def test_canonical_target_key(key, canonical):
    assert canonical_target_key(key) == canonical


@pytest.mark.parametrize(
    ("key", "satisfies"),
    [("tag:Patch Group", True), ("tag:Ümlaut-1.2/x=y@z", True), ("Environment", True), ("resource-groups:ResourceTypeFilters", True),
     ("tag:a#b", False), ("tag:a,b", False)],
    ids=["space", "unicode-letters-and-punctuation", "unknown-but-well-formed", "resource-type-filters", "hash", "comma"],
)
def test_satisfies_key_pattern(key, satisfies):
    assert satisfies_key_pattern(key) is satisfies


FLEET = {
    "defaults": {"execution_seconds": [30, 60], "missing_share": 0.5},
    "groups": [
        {"name": "web", "count": 2, "platform": "AMAZON_LINUX_2023", "tags": {"Patch Group": "web"}},
        {"name": "spare", "count": 1, "platform": "AMAZON_LINUX_2023", "tags": {"Patch Group": "spare"}},
    ],
}
targets_fleet = fleetsim_fixture(FLEET, seed=9, time_scale=3000)


def ids_in(ssm, patch_group: str) -> list[str]:
    found = ssm.describe_instance_information(Filters=[{"Key": "tag:Patch Group", "Values": [patch_group]}])["InstanceInformationList"]
    return sorted(i["InstanceId"] for i in found)


def invocation_ids(ssm, command_id: str) -> list[str]:
    return sorted(i["InstanceId"] for i in ssm.list_command_invocations(CommandId=command_id)["CommandInvocations"])


@pytest.mark.parametrize("key", ["instanceids", "InstanceIds", "INSTANCEIDS"], ids=["lower-case", "canonical", "upper-case"])
def test_instance_ids_key_in_any_case_targets_those_instances_and_is_echoed_canonically(targets_fleet, key):
    ssm = targets_fleet.client("ssm")
    chosen = ids_in(ssm, "web")[:1]
    sent = ssm.send_command(DocumentName="AWS-RunShellScript", Targets=[{"Key": key, "Values": chosen}], Parameters={"commands": ["true"]})["Command"]
    assert (sent["Targets"], sent["InstanceIds"]) == ([{"Key": "InstanceIds", "Values": chosen}], [])
    final = wait_for_command(ssm, sent["CommandId"])
    assert (final["Status"], final["TargetCount"], invocation_ids(ssm, sent["CommandId"])) == ("Success", 1, chosen)


def test_a_tag_key_keeps_its_case(targets_fleet):
    ssm = targets_fleet.client("ssm")
    sent = ssm.send_command(DocumentName="AWS-RunShellScript", Targets=[{"Key": "tag:patch group", "Values": ["web"]}],
                            Parameters={"commands": ["true"]})["Command"]
    final = wait_for_command(ssm, sent["CommandId"])
    assert (final["Status"], final["StatusDetails"], final["TargetCount"]) == ("Success", "No Instances In Tag", 0)


@pytest.mark.parametrize(
    ("key", "code", "message"),
    [
        ("Environment", "InvalidParameters",
         "Target key Environment is not valid for Run Command; expected InstanceIds, tag:<tag-key>, tag-key or resource-groups:Name."),
        ("Tag:Patch Group", "InvalidParameters",
         "Target key Tag:Patch Group is not valid for Run Command; expected InstanceIds, tag:<tag-key>, tag-key or resource-groups:Name."),
        ("tag:a#b", "ValidationException",
         f"1 validation error detected: Value 'tag:a#b' at 'targets.2.member.key' failed to satisfy constraint: "
         f"Member must satisfy regular expression pattern: {KEY_PATTERN}"),
    ],
    ids=["unknown-key", "capitalised-tag-prefix", "key-breaking-the-pattern"],
)
def test_a_key_run_command_does_not_know_is_refused_honestly(targets_fleet, key, code, message):
    ssm = targets_fleet.client("ssm")
    with pytest.raises(ClientError) as caught:
        ssm.send_command(DocumentName="AWS-RunShellScript", Parameters={"commands": ["true"]},
                         Targets=[{"Key": "tag:Patch Group", "Values": ["web"]}, {"Key": key, "Values": ["x"]}])
    assert caught.value.response["Error"] == {"Code": code, "Message": message}


def aws_cli(sim, command_line: str, instance_id: str) -> subprocess.CompletedProcess:
    """Run a command line as a user would type it, with the example instance id replaced."""
    argv = shlex.split(command_line.replace(EXAMPLE_INSTANCE, instance_id))
    assert argv[0] == "aws"
    env = {**os.environ, **sim.env(), "AWS_PAGER": ""}
    return subprocess.run([str(AWS_CLI), *argv[1:]], env=env, capture_output=True, text=True, timeout=120)


def test_the_seed_send_command_runs_unchanged_with_the_aws_cli(targets_fleet):
    ssm = targets_fleet.client("ssm")
    instance_id = ids_in(ssm, "spare")[0]
    finished = aws_cli(targets_fleet, SEED_SEND_COMMAND, instance_id)
    assert (finished.returncode, finished.stderr) == (0, "")
    sent = json.loads(finished.stdout)["Command"]
    assert (sent["DocumentName"], sent["Parameters"], sent["Targets"]) == (
        "AWS-RunPatchBaseline", {"Operation": ["Install"]}, [{"Key": "InstanceIds", "Values": [instance_id]}])
    final = wait_for_command(ssm, sent["CommandId"])
    assert (final["Status"], final["TargetCount"], invocation_ids(ssm, sent["CommandId"])) == ("Success", 1, [instance_id])
    state = ssm.describe_instance_patch_states(InstanceIds=[instance_id])["InstancePatchStates"][0]
    assert (state["Operation"], state["MissingCount"]) == ("Install", 0)


def test_the_seed_create_tags_line_is_split_by_the_shell_before_any_request(targets_fleet):
    # Unquoted, "Key=Patch Group,Value=Production" is two shell words; the AWS CLI rejects the second
    # before sending anything, whatever the endpoint. Quoted, the same tag moves the node into the group.
    ssm, ec2 = targets_fleet.client("ssm"), targets_fleet.client("ec2")
    instance_id = ids_in(ssm, "spare")[0]
    as_written = aws_cli(targets_fleet, SEED_CREATE_TAGS, instance_id)
    assert (as_written.returncode, as_written.stdout, as_written.stderr.strip().splitlines()[0]) == (
        255, "", "Error parsing parameter '--tags': Expected: '=', received: ',' for input:")
    quoted = aws_cli(targets_fleet, SEED_CREATE_TAGS.replace("Key=Patch Group,Value=Production", "'Key=Patch Group,Value=Production'"), instance_id)
    assert (quoted.returncode, quoted.stderr) == (0, "")
    tags = ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [instance_id]}])["Tags"]
    assert [(t["Key"], t["Value"]) for t in tags] == [("Patch Group", "Production")]
    deadline = time.monotonic() + 10
    while ids_in(ssm, "Production") != [instance_id] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert ids_in(ssm, "Production") == [instance_id]
