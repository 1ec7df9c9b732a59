"""Run-scoped wave tags: tagging in batches, reading what a tagged command reached, taking the tags off again."""
from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from patchflow.aws.commands import PatchCommandRequest, wave_requests
from patchflow.aws.wave_tags import TAG_BATCH, remove_wave_tags, sweep_run, tag_wave_nodes, untargeted_nodes

TEMPLATE = PatchCommandRequest(operation="Install", reboot_option="RebootIfNeeded", max_concurrency="10%", max_errors="5%", timeout_seconds=600,
                               comment="patchflow t0k3n prod I2")
TAGGED = [f"i-{n:05d}" for n in range(120)]


class ScriptedSSM:
    """ListCommands answers (TargetCount, Status) from a script, one per call, the last one for ever after;
    ListCommandInvocations lists `invoked` in pages of 50."""

    def __init__(self, script: list[tuple[int, str]], invoked: list[str]):
        self.script, self.invoked = list(script), invoked
        self.calls: list[str] = []

    def list_commands(self, CommandId):
        self.calls.append("ListCommands")
        count, status = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        return {"Commands": [{"CommandId": CommandId, "Status": status, "StatusDetails": status, "TargetCount": count}]}

    def list_command_invocations(self, CommandId, MaxResults, NextToken="0"):
        self.calls.append("ListCommandInvocations")
        start = int(NextToken)
        page = {"CommandInvocations": [{"InstanceId": i} for i in self.invoked[start:start + MaxResults]]}
        if start + MaxResults < len(self.invoked):
            page["NextToken"] = str(start + MaxResults)
        return page


@pytest.mark.parametrize(
    ("script", "invoked", "expected", "calls", "sleeps"),
    [
        pytest.param([(120, "InProgress")], TAGGED, [], ["ListCommands"], 0, id="every-tagged-node-reached-one-read"),
        pytest.param([(0, "Pending"), (0, "Pending"), (120, "InProgress")], TAGGED, [], ["ListCommands"] * 3, 2, id="waits-while-targets-resolve"),
        pytest.param([(0, "Pending"), (0, "Success")], [], TAGGED, ["ListCommands"] * 2, 1, id="no-instances-in-tag-none-reached"),
        pytest.param([(0, "Pending"), (70, "InProgress"), (70, "InProgress")], TAGGED[:70], TAGGED[70:],
                     ["ListCommands"] * 3 + ["ListCommandInvocations"] * 2, 2, id="part-reached-once-the-count-holds"),
        pytest.param([(70, "InProgress")], TAGGED[:60], None, ["ListCommands"] + ["ListCommands"] + ["ListCommandInvocations"] * 2 + (
                         ["ListCommands"] + ["ListCommandInvocations"] * 2) * 4, 5,
                     id="fewer-invocations-than-the-count-until-the-bound"),
        pytest.param([(0, "Pending")], [], None, ["ListCommands"] * 6, 5, id="unresolved-at-the-bound"),
    ],
)
def test_untargeted_nodes(script, invoked, expected, calls, sleeps):
    ssm, slept, clock = ScriptedSSM(script, invoked), [], [0.0]

    def sleep(seconds):
        slept.append(seconds)
        clock[0] += seconds

    found = untargeted_nodes(ssm, "c-1", TAGGED, timeout_seconds=10, poll_seconds=2, sleep=sleep, monotonic=lambda: clock[0])
    assert (found, ssm.calls, len(slept)) == (expected, calls, sleeps)


class RecordingEC2:
    def __init__(self):
        self.created: list[tuple[int, str]] = []

    def create_tags(self, Resources, Tags):
        self.created.append((len(Resources), Tags[0]["Value"]))


def test_only_tagged_requests_tag_their_nodes_in_batches():
    batch = [{"instance_id": f"i-{n:05d}", "operating_system": os_name, "tag_key": "Patch Group"}
             for n, os_name in enumerate(["AMAZON_LINUX_2023"] * 1200 + ["WINDOWS"] * 3)]
    requests = wave_requests(TEMPLATE, batch, patch_group="prod", whole_group=False, overrides={}, split_by_os=True)
    ec2 = RecordingEC2()
    assert tag_wave_nodes(ec2, requests) == ["t0k3n prod I2 AMAZON_LINUX_2023 w1"]
    assert ec2.created == [(TAG_BATCH, "t0k3n prod I2 AMAZON_LINUX_2023 w1"), (TAG_BATCH, "t0k3n prod I2 AMAZON_LINUX_2023 w1"),
                           (200, "t0k3n prod I2 AMAZON_LINUX_2023 w1")]


@pytest.fixture
def ec2():
    with mock_aws():
        client = boto3.client("ec2", region_name="us-east-1")
        image_id = client.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
        client.run_instances(ImageId=image_id, MinCount=6, MaxCount=6)
        yield client


def _nodes(ec2) -> list[str]:
    return sorted(i["InstanceId"] for r in ec2.describe_instances()["Reservations"] for i in r["Instances"])


def _wave_tags(ec2) -> dict[str, str]:
    return {t["ResourceId"]: t["Value"] for t in ec2.describe_tags(Filters=[{"Name": "key", "Values": ["patchflow:wave"]}])["Tags"]}


def _tag(ec2, nodes: list[str], value: str) -> None:
    ec2.create_tags(Resources=nodes, Tags=[{"Key": "patchflow:wave", "Value": value}])


def test_removing_a_waves_tags_leaves_other_waves_and_runs_theirs(ec2):
    nodes = _nodes(ec2)
    _tag(ec2, nodes[:3], "tok1 dev I2 UBUNTU w1")
    _tag(ec2, nodes[3:5], "tok1 dev I3 UBUNTU w1")
    _tag(ec2, nodes[5:], "tok2 dev I2 UBUNTU w1")
    assert remove_wave_tags(ec2, ["tok1 dev I2 UBUNTU w1"]) == 3
    assert _wave_tags(ec2) == {nodes[3]: "tok1 dev I3 UBUNTU w1", nodes[4]: "tok1 dev I3 UBUNTU w1", nodes[5]: "tok2 dev I2 UBUNTU w1"}


def test_the_sweep_removes_every_wave_tag_of_the_run_and_only_those(ec2):
    nodes = _nodes(ec2)
    _tag(ec2, nodes[:2], "tok1 dev I2 all w1")
    _tag(ec2, nodes[2:4], "tok1 prod I3 WINDOWS w2")
    _tag(ec2, nodes[4:5], "tok10 dev I2 all w1")  # another run whose token starts the same
    _tag(ec2, nodes[5:], "tok2 dev I2 all w1")
    warnings: list[str] = []
    assert sweep_run({"here": lambda: ec2}, "tok1", warnings.append) == 4
    assert (_wave_tags(ec2), warnings) == ({nodes[4]: "tok10 dev I2 all w1", nodes[5]: "tok2 dev I2 all w1"}, [])


def test_a_place_that_cannot_be_swept_is_named_and_the_others_are_swept(ec2):
    nodes = _nodes(ec2)
    _tag(ec2, nodes, "tok1 dev I2 all w1")

    def unreachable():
        raise RuntimeError("AssumeRole refused")

    warnings: list[str] = []
    assert sweep_run({"account prod (333333333333), Region eu-west-1": unreachable, "here": lambda: ec2}, "tok1", warnings.append) == 6
    assert (_wave_tags(ec2), warnings) == ({}, ["wave tags of this run not swept in account prod (333333333333), Region eu-west-1: AssumeRole refused"])
