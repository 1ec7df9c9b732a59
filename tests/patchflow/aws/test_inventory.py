"""inventory.instance_patches: states in either spelling go out in the service's, and select what fleetsim reports."""
from __future__ import annotations

import time

import pytest

from fleetsim.testing import fleetsim_fixture
from patchflow.aws import inventory


class RecordingSsm:
    """DescribeInstancePatches that records each request and answers one page."""

    def __init__(self, patches: list[dict]):
        self.patches = patches
        self.requests: list[dict] = []

    def describe_instance_patches(self, **request):
        self.requests.append(request)
        return {"Patches": self.patches}


@pytest.mark.parametrize(
    ("states", "sent_filters"),
    [
        pytest.param(("Installed", "InstalledPendingReboot"), [{"Key": "State", "Values": ["Installed", "InstalledPendingReboot"]}], id="service-spelling"),
        pytest.param(("INSTALLED", "INSTALLED_PENDING_REBOOT"), [{"Key": "State", "Values": ["Installed", "InstalledPendingReboot"]}], id="botocore-enum-spelling"),
        pytest.param(("MISSING", "Missing"), [{"Key": "State", "Values": ["Missing"]}], id="both-spellings-sent-once"),
        pytest.param((), [], id="no-states-no-filter"),
    ],
)
def test_the_state_filter_is_sent_in_the_service_spelling(states, sent_filters):
    ssm = RecordingSsm([])
    inventory.instance_patches(ssm, "i-0123456789abcdef0", states=states)
    assert ssm.requests == [{"InstanceId": "i-0123456789abcdef0", "Filters": sent_filters, "MaxResults": 100}]


def test_items_are_read_in_either_spelling():
    ssm = RecordingSsm([{"KBId": "KB1", "State": "INSTALLED_PENDING_REBOOT"}, {"KBId": "KB2", "State": "Missing"}])
    assert inventory.instance_patches(ssm, "i-0123456789abcdef0") == [
        {"KBId": "KB1", "State": "InstalledPendingReboot"}, {"KBId": "KB2", "State": "Missing"}]


FLEET = {
    "defaults": {"execution_seconds": [30, 60], "missing_share": 0.6},
    "groups": [
        {"name": "installed", "count": 1, "platform": "AMAZON_LINUX_2023", "tags": {"Patch Group": "installed"}},
        {"name": "scanned", "count": 1, "platform": "WINDOWS", "tags": {"Patch Group": "scanned"}},
    ],
}
inventory_fleet = fleetsim_fixture(FLEET, seed=5, time_scale=3000)


def patch_once(ssm, patch_group: str, **parameters) -> str:
    command_id = ssm.send_command(DocumentName="AWS-RunPatchBaseline", Targets=[{"Key": "tag:Patch Group", "Values": [patch_group]}],
                                  Parameters={key: [value] for key, value in parameters.items()})["Command"]["CommandId"]
    deadline = time.monotonic() + 60
    while ssm.list_commands(CommandId=command_id)["Commands"][0]["Status"] != "Success":
        assert time.monotonic() < deadline, f"{patch_group}: {parameters} did not succeed"
        time.sleep(0.05)
    found = ssm.describe_instance_information(Filters=[{"Key": "tag:Patch Group", "Values": [patch_group]}])["InstanceInformationList"]
    return found[0]["InstanceId"]


@pytest.fixture(scope="module")
def nodes(inventory_fleet):
    ssm = inventory_fleet.client("ssm")
    # NoReboot leaves this install's patches InstalledPendingReboot next to the ones already Installed.
    installed = patch_once(ssm, "installed", Operation="Install", RebootOption="NoReboot")
    scanned = patch_once(ssm, "scanned", Operation="Scan")
    return ssm, installed, scanned


def every_patch(ssm, instance_id: str) -> list[dict]:
    pages = ssm.get_paginator("describe_instance_patches").paginate(InstanceId=instance_id)
    return [patch for page in pages for patch in page["Patches"]]


@pytest.mark.parametrize(
    "states",
    [("Installed", "InstalledPendingReboot"), ("INSTALLED", "INSTALLED_PENDING_REBOOT")],
    ids=["service-spelling", "botocore-enum-spelling"],
)
def test_installed_states_return_the_installed_patches(nodes, states):
    ssm, installed, _ = nodes
    reported = every_patch(ssm, installed)
    expected = sorted((p["KBId"], p["State"]) for p in reported if p["State"] in ("Installed", "InstalledPendingReboot"))
    assert {state for _, state in expected} == {"Installed", "InstalledPendingReboot"}
    assert sorted((p["KBId"], p["State"]) for p in inventory.instance_patches(ssm, installed, states=states)) == expected


def test_missing_returns_the_patches_a_scan_found_missing(nodes):
    ssm, _, scanned = nodes
    expected = sorted(p["KBId"] for p in every_patch(ssm, scanned) if p["State"] == "Missing")
    assert expected and sorted(p["KBId"] for p in inventory.instance_patches(ssm, scanned, states=("Missing",))) == expected
