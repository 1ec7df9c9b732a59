"""EC2 instances are found by id through fleetsim's index (fleetsim.ec2_lookup): instances launched after start are
found, unknown ids are refused as EC2 refuses them, and state changes reach Run Command."""
from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from fleetsim.testing import fleetsim_fixture
from tests.fleetsim.conftest import wait_for_command

pytestmark = pytest.mark.fleetsim

FLEET = {"defaults": {"execution_seconds": [1, 2]},
         "groups": [{"count": 3, "platform": "AMAZON_LINUX_2023", "tags": {"Patch Group": "web"}},
                    {"count": 2, "platform": "UBUNTU", "tags": {"Patch Group": "spare"}}]}
UNKNOWN_ID = "i-0123456789abcdef0"
WAVE_KEY = "patchflow:wave"

lookup_fleet = fleetsim_fixture(FLEET, seed=5, time_scale=600)


def _nodes(sim, patch_group: str) -> list[str]:
    reservations = sim.client("ec2").describe_instances(Filters=[{"Name": "tag:Patch Group", "Values": [patch_group]}])["Reservations"]
    return sorted(i["InstanceId"] for r in reservations for i in r["Instances"])


def _launched_after_start(sim) -> str:
    image_id = sim.client("ec2").describe_images()["Images"][0]["ImageId"]
    return sim.client("ec2").run_instances(ImageId=image_id, MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]


def _tag_values(sim, instance_ids: list[str]) -> dict[str, str]:
    tags = sim.client("ec2").describe_tags(Filters=[{"Name": "key", "Values": [WAVE_KEY]}, {"Name": "resource-id", "Values": instance_ids}])["Tags"]
    return {t["ResourceId"]: t["Value"] for t in tags}


@pytest.mark.parametrize("which", [
    pytest.param(lambda sim: _nodes(sim, "web"), id="fleet-nodes"),
    pytest.param(lambda sim: [_launched_after_start(sim)], id="launched-after-start"),
    pytest.param(lambda sim: [_launched_after_start(sim), _nodes(sim, "web")[0], _launched_after_start(sim)], id="mixed-in-one-call"),
])
def test_create_and_delete_tags_find_every_instance(lookup_fleet, which):
    ec2, ids = lookup_fleet.client("ec2"), which(lookup_fleet)
    ec2.create_tags(Resources=ids, Tags=[{"Key": WAVE_KEY, "Value": "lookup"}])
    tagged = _tag_values(lookup_fleet, ids)
    ec2.delete_tags(Resources=ids, Tags=[{"Key": WAVE_KEY, "Value": "lookup"}])
    assert (tagged, _tag_values(lookup_fleet, ids)) == (dict.fromkeys(ids, "lookup"), {})


@pytest.mark.parametrize("where", [
    pytest.param(0, id="unknown-id-first"),
    pytest.param(1, id="unknown-id-between-fleet-nodes"),
    pytest.param(3, id="unknown-id-last"),
])
def test_create_tags_with_an_unknown_instance_id_is_refused_and_tags_nothing(lookup_fleet, where):
    ec2, nodes = lookup_fleet.client("ec2"), _nodes(lookup_fleet, "web")
    ids = [*nodes[:where], UNKNOWN_ID, *nodes[where:]]
    with pytest.raises(ClientError) as caught:
        ec2.create_tags(Resources=ids, Tags=[{"Key": WAVE_KEY, "Value": "refused"}])
    assert (caught.value.response["Error"], _tag_values(lookup_fleet, nodes)) == (
        {"Code": "InvalidInstanceID.NotFound", "Message": f"The instance ID '{UNKNOWN_ID}' does not exist"}, {})


def test_an_ec2_lookup_of_an_unknown_instance_id_is_refused(lookup_fleet):
    with pytest.raises(ClientError) as caught:
        lookup_fleet.client("ec2").describe_instance_attribute(InstanceId=UNKNOWN_ID, Attribute="instanceType")
    assert caught.value.response["Error"] == {"Code": "InvalidInstanceID.NotFound", "Message": f"The instance ID '{UNKNOWN_ID}' does not exist"}


def test_a_terminated_node_is_no_longer_a_target(lookup_fleet):
    ec2, ssm = lookup_fleet.client("ec2"), lookup_fleet.client("ssm")
    spare = _nodes(lookup_fleet, "spare")
    ec2.terminate_instances(InstanceIds=[spare[0]])
    command_id = ssm.send_command(DocumentName="AWS-RunShellScript", Parameters={"commands": ["true"]}, MaxConcurrency="100%", MaxErrors="0",
                                  Targets=[{"Key": "tag:Patch Group", "Values": ["spare"]}])["Command"]["CommandId"]
    final = wait_for_command(ssm, command_id)
    with pytest.raises(ClientError) as caught:
        ssm.send_command(DocumentName="AWS-RunShellScript", Parameters={"commands": ["true"]}, InstanceIds=[spare[0]])
    assert (final["TargetCount"], caught.value.response["Error"]) == (
        1, {"Code": "InvalidInstanceId", "Message": f"Instances [[{spare[0]}]] not in a valid state for account 123456789012"})
