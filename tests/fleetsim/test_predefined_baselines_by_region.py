"""Each Region answers its own predefined baselines: the owner account and ids AWS uses there."""
from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from fleetsim.baselines import OPERATING_SYSTEMS, predefined_baselines, recorded_baseline_arns
from fleetsim.testing import fleetsim_fixture

# Quoted from the AWS CLI's own examples, not from moto: describe-patch-baselines.rst (SUSE and
# Windows) and register-default-patch-baseline.rst (CentOS) list us-east-2's predefined baselines.
US_EAST_2_IN_CLI_EXAMPLES = {
    "SUSE": "arn:aws:ssm:us-east-2:733109147000:patchbaseline/pb-0123fdb36e334a3b2",
    "WINDOWS": "arn:aws:ssm:us-east-2:733109147000:patchbaseline/pb-020d361a05defe4ed",
    "CENTOS": "arn:aws:ssm:us-east-2:733109147000:patchbaseline/pb-0574b43a65ea646ed",
}
US_EAST_1_WINDOWS = "arn:aws:ssm:us-east-1:075727635805:patchbaseline/pb-09ca3fb51f0412ec3"
EU_WEST_1_WINDOWS = "arn:aws:ssm:eu-west-1:845259048710:patchbaseline/pb-03814a120a12d075c"
REGIONS = ("us-east-1", "us-east-2", "eu-west-1")


def test_the_cli_examples_us_east_2_baselines_are_the_ones_fleetsim_builds():
    built = {b["OperatingSystem"]: arn for arn, b in predefined_baselines("us-east-2").items()}
    assert {os_name: built[os_name] for os_name in US_EAST_2_IN_CLI_EXAMPLES} == US_EAST_2_IN_CLI_EXAMPLES


@pytest.mark.parametrize("region", REGIONS, ids=list(REGIONS))
def test_every_operating_system_has_its_recorded_arn_in_the_region(region):
    built = {b["OperatingSystem"]: arn for arn, b in predefined_baselines(region).items()}
    assert (sorted(built), built) == (sorted(OPERATING_SYSTEMS), recorded_baseline_arns(region))


def test_a_region_moto_has_no_record_of_keeps_us_east_1_ids_under_its_own_name():
    built = {b["OperatingSystem"]: arn for arn, b in predefined_baselines("xx-nowhere-1").items()}
    assert built["WINDOWS"] == "arn:aws:ssm:xx-nowhere-1:075727635805:patchbaseline/pb-09ca3fb51f0412ec3"


region_fleet = fleetsim_fixture({"groups": [{"count": 1, "platform": "AMAZON_LINUX_2023"}]}, seed=2, time_scale=600)


@pytest.mark.parametrize(
    ("region", "windows"),
    [("us-east-1", US_EAST_1_WINDOWS), ("us-east-2", US_EAST_2_IN_CLI_EXAMPLES["WINDOWS"]), ("eu-west-1", EU_WEST_1_WINDOWS)],
    ids=list(REGIONS),
)
def test_default_and_owned_by_aws_baselines_answer_the_regions_arns(region_fleet, region, windows):
    ssm = region_fleet.client("ssm", region_name=region)
    recorded = recorded_baseline_arns(region)
    assert ssm.get_default_patch_baseline()["BaselineId"] == windows
    assert {os_name: ssm.get_default_patch_baseline(OperatingSystem=os_name)["BaselineId"] for os_name in OPERATING_SYSTEMS} == recorded
    owned = ssm.describe_patch_baselines(Filters=[{"Key": "OWNER", "Values": ["AWS"]}])["BaselineIdentities"]
    assert sorted((b["OperatingSystem"], b["BaselineId"], b["DefaultBaseline"]) for b in owned) == sorted(
        (os_name, arn, True) for os_name, arn in recorded.items())
    assert ssm.get_patch_baseline(BaselineId=windows)["Name"] == "AWS-DefaultPatchBaseline"


@pytest.mark.parametrize("region", ["us-east-2", "eu-west-1"], ids=["us-east-2", "eu-west-1"])
def test_the_regions_real_arns_register_and_deregister(region_fleet, region):
    ssm = region_fleet.client("ssm", region_name=region)
    centos = recorded_baseline_arns(region)["CENTOS"]
    custom = ssm.create_patch_baseline(Name="centos-custom", OperatingSystem="CENTOS", ApprovedPatches=["bash.x86_64"])["BaselineId"]
    ssm.register_default_patch_baseline(BaselineId=custom)
    assert ssm.register_default_patch_baseline(BaselineId=centos)["BaselineId"] == centos
    assert ssm.get_default_patch_baseline(OperatingSystem="CENTOS")["BaselineId"] == centos
    registered = ssm.register_patch_baseline_for_patch_group(BaselineId=centos, PatchGroup="Production")
    assert (registered["BaselineId"], registered["PatchGroup"]) == (centos, "Production")
    assert ssm.get_patch_baseline_for_patch_group(PatchGroup="Production", OperatingSystem="CENTOS")["BaselineId"] == centos
    deregistered = ssm.deregister_patch_baseline_for_patch_group(BaselineId=centos, PatchGroup="Production")
    assert (deregistered["BaselineId"], deregistered["PatchGroup"]) == (centos, "Production")


def test_another_regions_arn_does_not_exist_here(region_fleet):
    ssm = region_fleet.client("ssm", region_name="us-east-2")
    with pytest.raises(ClientError) as caught:
        ssm.register_default_patch_baseline(BaselineId=US_EAST_1_WINDOWS)
    assert caught.value.response["Error"] == {"Code": "DoesNotExistException", "Message": f"Patch Baseline {US_EAST_1_WINDOWS} does not exist."}
