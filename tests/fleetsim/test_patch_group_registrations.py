"""Patch group lookups: the baseline in force for an unregistered group, and what DescribePatchGroups lists."""
from __future__ import annotations

from fleetsim.testing import fleetsim_fixture

registration_fleet = fleetsim_fixture({"groups": [{"name": "dev", "count": 1, "platform": "AMAZON_LINUX_2023", "tags": {"Patch Group": "dev"}}]},
                                      scope="function")


def test_an_unregistered_group_gets_the_os_default_and_describe_patch_groups_lists_registrations_only(registration_fleet):
    ssm = registration_fleet.client("ssm")
    os_default = ssm.get_default_patch_baseline(OperatingSystem="AMAZON_LINUX_2023")["BaselineId"]
    answer = ssm.get_patch_baseline_for_patch_group(PatchGroup="dev", OperatingSystem="AMAZON_LINUX_2023")
    assert (answer["BaselineId"], answer["PatchGroup"], answer["OperatingSystem"]) == (os_default, "dev", "AMAZON_LINUX_2023")
    assert ssm.describe_patch_groups()["Mappings"] == []

    ssm.register_patch_baseline_for_patch_group(BaselineId=os_default, PatchGroup="dev-legacy")
    ssm.register_patch_baseline_for_patch_group(BaselineId=os_default, PatchGroup="dev")
    mappings = ssm.describe_patch_groups(Filters=[{"Key": "NAME_PREFIX", "Values": ["dev"]}])["Mappings"]
    assert sorted((m["PatchGroup"], m["BaselineIdentity"]["BaselineId"], m["BaselineIdentity"]["DefaultBaseline"]) for m in mappings) == [
        ("dev", os_default, True), ("dev-legacy", os_default, True)]
