"""EC2 tag writes through fleetsim's endpoint decide what Run Command's tag targets reach, at once by default or
after the delay `--tag-visibility-seconds` gives them (fleetsim/FIDELITY.md, "Behaviours AWS leaves open")."""
from __future__ import annotations

import time

import pytest

from fleetsim.testing import fleetsim_fixture
from tests.fleetsim.conftest import all_invocations, wait_for_command

pytestmark = pytest.mark.fleetsim

TIME_SCALE = 600
VISIBILITY_SECONDS = 1200  # simulated: 2 real seconds at TIME_SCALE
WAVE_KEY = "patchflow:wave"
FLEET = {"defaults": {"execution_seconds": [1, 2]}, "groups": [{"count": 4, "platform": "AMAZON_LINUX_2023", "tags": {"Patch Group": "web"}}]}

at_once = fleetsim_fixture(FLEET, seed=4, time_scale=TIME_SCALE)
delayed = fleetsim_fixture(FLEET, seed=4, time_scale=TIME_SCALE, tag_visibility_seconds=VISIBILITY_SECONDS)


def _web_nodes(sim) -> list[str]:
    reservations = sim.client("ec2").describe_instances(Filters=[{"Name": "tag:Patch Group", "Values": ["web"]}])["Reservations"]
    return sorted(i["InstanceId"] for r in reservations for i in r["Instances"])


def _reached(sim, wave: str) -> tuple[int, list[str], str]:
    """(TargetCount, the nodes invoked, StatusDetails) of a shell command aimed at the web group's nodes tagged into `wave`."""
    ssm = sim.client("ssm")
    command_id = ssm.send_command(
        DocumentName="AWS-RunShellScript", Parameters={"commands": ["true"]}, MaxConcurrency="100%", MaxErrors="0",
        Targets=[{"Key": "tag:Patch Group", "Values": ["web"]}, {"Key": f"tag:{WAVE_KEY}", "Values": [wave]}],
    )["Command"]["CommandId"]
    final = wait_for_command(ssm, command_id)
    return final["TargetCount"], sorted(i["InstanceId"] for i in all_invocations(ssm, command_id)), final["StatusDetails"]


def _wave_tags(sim) -> dict[str, str]:
    tags = sim.client("ec2").describe_tags(Filters=[{"Name": "key", "Values": [WAVE_KEY]}])["Tags"]
    return {t["ResourceId"]: t["Value"] for t in tags}


def test_by_default_a_tag_write_changes_what_the_next_command_reaches_at_once(at_once):
    ec2, nodes = at_once.client("ec2"), _web_nodes(at_once)
    ec2.create_tags(Resources=nodes[:2], Tags=[{"Key": WAVE_KEY, "Value": "run-1 web I2"}])
    assert (_wave_tags(at_once), _reached(at_once, "run-1 web I2")) == (
        {nodes[0]: "run-1 web I2", nodes[1]: "run-1 web I2"}, (2, nodes[:2], "Success"))

    ec2.delete_tags(Resources=nodes[:2], Tags=[{"Key": WAVE_KEY, "Value": "run-1 web I2"}])
    assert (_wave_tags(at_once), _reached(at_once, "run-1 web I2")) == ({}, (0, [], "No Instances In Tag"))


def test_both_tag_targets_must_match(at_once):
    ec2, nodes = at_once.client("ec2"), _web_nodes(at_once)
    ec2.create_tags(Resources=nodes[2:], Tags=[{"Key": WAVE_KEY, "Value": "run-2 web I2"}])
    ec2.create_tags(Resources=[nodes[3]], Tags=[{"Key": "Patch Group", "Value": "elsewhere"}])
    try:
        assert _reached(at_once, "run-2 web I2") == (1, [nodes[2]], "Success")
    finally:
        ec2.create_tags(Resources=[nodes[3]], Tags=[{"Key": "Patch Group", "Value": "web"}])
        ec2.delete_tags(Resources=nodes[2:], Tags=[{"Key": WAVE_KEY}])


def test_with_delayed_visibility_ec2_shows_the_write_at_once_and_run_command_only_after_the_delay(delayed):
    ec2, nodes = delayed.client("ec2"), _web_nodes(delayed)
    ec2.create_tags(Resources=nodes[:3], Tags=[{"Key": WAVE_KEY, "Value": "run-3 web I2"}])
    written = time.monotonic()
    assert (_wave_tags(delayed), _reached(delayed, "run-3 web I2")) == (
        dict.fromkeys(nodes[:3], "run-3 web I2"), (0, [], "No Instances In Tag"))

    time.sleep(max(0.0, written + VISIBILITY_SECONDS / TIME_SCALE + 0.5 - time.monotonic()))
    assert _reached(delayed, "run-3 web I2") == (3, nodes[:3], "Success")

    ec2.delete_tags(Resources=nodes[:3], Tags=[{"Key": WAVE_KEY, "Value": "run-3 web I2"}])
    removed = time.monotonic()
    assert (_wave_tags(delayed), _reached(delayed, "run-3 web I2")) == ({}, (3, nodes[:3], "Success"))

    time.sleep(max(0.0, removed + VISIBILITY_SECONDS / TIME_SCALE + 0.5 - time.monotonic()))
    assert _reached(delayed, "run-3 web I2") == (0, [], "No Instances In Tag")


def test_a_write_the_delay_hides_still_leaves_the_earlier_visible_writes_in_view(delayed):
    ec2, nodes = delayed.client("ec2"), _web_nodes(delayed)
    ec2.create_tags(Resources=[nodes[3]], Tags=[{"Key": WAVE_KEY, "Value": "run-4 web I1"}])
    time.sleep(VISIBILITY_SECONDS / TIME_SCALE + 0.5)
    ec2.create_tags(Resources=[nodes[3]], Tags=[{"Key": WAVE_KEY, "Value": "run-4 web I2"}])
    assert (_reached(delayed, "run-4 web I1"), _reached(delayed, "run-4 web I2")) == ((1, [nodes[3]], "Success"), (0, [], "No Instances In Tag"))
