"""A wave that is only part of its patch group costs a constant number of SendCommands whatever its size, through
real Airflow task execution against fleetsim: its nodes get a run-scoped wave tag, one command per OS targets the
group's tag and that tag, and the tags come off again. Under fleetsim's delayed tag visibility the tagged commands
reach nobody, and the nodes they missed are sent to by InstanceIds: every node is still patched exactly once."""
from __future__ import annotations

from collections import Counter

import pytest

from fleetsim.testing import fleetsim_fixture

pytestmark = pytest.mark.airflow

AL, UBUNTU = "AMAZON_LINUX_2023", "UBUNTU"
FLEET = {
    "compliance_lag_seconds": 0,
    "defaults": {"missing_share": 1.0, "not_applicable_share": 0.0, "execution_seconds": [30, 60], "reboot_share": 0.0},
    "groups": [
        {"name": f"{stage}-{platform.lower()}", "count": count, "platform": platform, "tags": {"Patch Group": stage}}
        for stage, platform, count in (("dev", AL, 2), ("dev", UBUNTU, 2), ("prod", AL, 80), ("prod", UBUNTU, 70))
    ],
}
TAG_SEEN_AFTER = 3600  # simulated seconds: far longer than the wave takes to send, so the tagged commands reach nobody

at_once = fleetsim_fixture(FLEET, seed=11, time_scale=600, scope="function")
delayed = fleetsim_fixture(FLEET, seed=11, time_scale=600, scope="function", tag_visibility_seconds=TAG_SEEN_AFTER)

WAVE_1 = ["AMAZON_LINUX_2023 c1", "UBUNTU c1"]  # 15 nodes: one InstanceIds command per OS


def _plan(demo_plan) -> dict:
    return demo_plan(stages=[
        {"name": "dev", "patch_group": "dev", "expected_min_targets": 1},
        {"name": "prod", "patch_group": "prod", "pin_to": "dev", "waves": ["10%", "100%"], "expected_min_targets": 1, "max_concurrency": "100%"},
    ])


def _prod_installs(sim) -> dict[int, list[dict]]:
    """prod's Install commands by wave, each as (what its comment adds to the wave's, its Targets, TargetCount)."""
    waves: dict[int, list[dict]] = {}
    for page in sim.client("ssm").get_paginator("list_commands").paginate():
        for command in page["Commands"]:
            words = command["Comment"].split(" ")
            if words[2] == "prod" and words[3].startswith("I"):
                waves.setdefault(int(words[3][1:]), []).append(command)
    return {wave: sorted(commands, key=lambda c: c["Comment"]) for wave, commands in waves.items()}


def _suffixes(commands: list[dict]) -> list[str]:
    return [command["Comment"].split(" ", 4)[4] for command in commands]


def _patched(sim, commands: list[dict]) -> Counter:
    """How many times each node ran a successful Install among `commands`."""
    ssm, runs = sim.client("ssm"), Counter()
    for command in commands:
        for page in ssm.get_paginator("list_command_invocations").paginate(CommandId=command["CommandId"]):
            runs.update(i["InstanceId"] for i in page["CommandInvocations"] if i["StatusDetails"] == "Success")
    return runs


def _prod_nodes(sim) -> list[str]:
    reservations = sim.client("ec2").describe_instances(Filters=[{"Name": "tag:Patch Group", "Values": ["prod"]}])["Reservations"]
    return sorted(i["InstanceId"] for r in reservations for i in r["Instances"])


def _wave_tags_left(sim) -> list[dict]:
    return sim.client("ec2").describe_tags(Filters=[{"Name": "key", "Values": ["patchflow:wave"]}])["Tags"]


def test_a_partial_wave_of_135_nodes_is_one_tagged_command_per_os_and_leaves_no_tag(at_once, run_rollout, demo_plan):
    run = run_rollout(at_once, _plan(demo_plan))

    assert (run.state, run.report.outcome) == ("success", "promoted")
    installs = _prod_installs(at_once)
    assert {wave: _suffixes(commands) for wave, commands in installs.items()} == {1: WAVE_1, 2: ["AMAZON_LINUX_2023 w1", "UBUNTU w1"]}
    token = run.kinds("command_sent")[0]["comments"][0].split(" ")[1]
    assert [(c["Targets"], c["TargetCount"]) for c in installs[2]] == [
        ([{"Key": "tag:Patch Group", "Values": ["prod"]}, {"Key": "tag:patchflow:wave", "Values": [f"{token} prod I2 {os_name} w1"]}], count)
        for os_name, count in zip((AL, UBUNTU), _per_os(installs[1], {AL: 80, UBUNTU: 70}))
    ]
    assert _patched(at_once, installs[1] + installs[2]) == Counter(dict.fromkeys(_prod_nodes(at_once), 1))
    assert _wave_tags_left(at_once) == []


def test_when_run_command_sees_the_tag_late_the_nodes_it_missed_are_sent_to_by_instance_ids_once(delayed, run_rollout, demo_plan):
    run = run_rollout(delayed, _plan(demo_plan))

    assert (run.state, run.report.outcome) == ("success", "promoted")
    installs = _prod_installs(delayed)
    assert {wave: _suffixes(commands) for wave, commands in installs.items()} == {
        1: WAVE_1,
        2: ["AMAZON_LINUX_2023 w1", "AMAZON_LINUX_2023 w1 f1", "AMAZON_LINUX_2023 w1 f2", "UBUNTU w1", "UBUNTU w1 f1", "UBUNTU w1 f2"],
    }
    tagged = [c for c in installs[2] if c["Targets"] and c["Targets"][0]["Key"] == "tag:Patch Group"]
    assert [(c["StatusDetails"], c["TargetCount"]) for c in tagged] == [("No Instances In Tag", 0)] * 2
    assert _patched(delayed, installs[1] + installs[2]) == Counter(dict.fromkeys(_prod_nodes(delayed), 1))
    (wave_2,) = [r for r in run.kinds("wave_result") if (r["stage"], r["wave"]) == ("prod", 2)]
    assert wave_2["verdict"]["counts"]["succeeded"] == 135
    assert _wave_tags_left(delayed) == []


def _per_os(wave_1: list[dict], group_sizes: dict[str, int]) -> list[int]:
    """Each OS's nodes left for wave 2: the group's, less those wave 1's InstanceIds commands sent to."""
    first = {c["Comment"].split(" ")[4]: len(c["InstanceIds"]) for c in wave_1}
    return [group_sizes[os_name] - first.get(os_name, 0) for os_name in (AL, UBUNTU)]
