"""`python -m patchflow groups` and `groups --assign` against fleetsim: every flag, whole outputs."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from fleetsim.testing import fleetsim_fixture
from patchflow.cli.main import main
from patchflow.core.yamlfile import PROJECT_ROOT

AL, UBUNTU, WINDOWS = "AMAZON_LINUX_2023", "UBUNTU", "WINDOWS"


def groups(fleet, *options):
    env = {**os.environ, **fleet.env()}
    finished = subprocess.run(
        [sys.executable, "-m", "patchflow", "groups", *options], env=env, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120
    )
    return finished.returncode, finished.stdout, finished.stderr


def ids_tagged(ssm, key: str, value: str) -> list[str]:
    pages = ssm.get_paginator("describe_instance_information").paginate(Filters=[{"Key": f"tag:{key}", "Values": [value]}])
    return sorted(i["InstanceId"] for page in pages for i in page["InstanceInformationList"])


def instance_tags(ec2) -> dict[str, dict[str, str]]:
    tags: dict[str, dict[str, str]] = {}
    for tag in ec2.describe_tags(Filters=[{"Name": "resource-type", "Values": ["instance"]}])["Tags"]:
        tags.setdefault(tag["ResourceId"], {})[tag["Key"]] = tag["Value"]
    return tags


def instance_row(instance_id, operating_system, ping, group, keys, ping_width=14):
    # Instance ids are 19 characters; the other widths are those of the longest cell in these fleets.
    return f"{instance_id}  {operating_system:<17}  {ping:<{ping_width}}  {group:<11}  {keys}".rstrip()


def group_row(group, operating_system, count, baseline):
    return f"{group:<11}  {operating_system:<17}  {count:<9}  {baseline}"


# --------------------------------------------------------------------------- the report

REPORT_FLEET = {"groups": [
    {"name": "dev-al", "count": 2, "platform": AL, "tags": {"Patch Group": "dev", "Tier": "dev-al"}},
    {"name": "dev-ubuntu", "count": 1, "platform": UBUNTU, "tags": {"PatchGroup": "dev", "Tier": "dev-ubuntu"}},
    {"name": "both-keys", "count": 1, "platform": WINDOWS, "tags": {"Patch Group": "test", "PatchGroup": "test", "Tier": "both-keys"}},
    {"name": "conflicting", "count": 1, "platform": WINDOWS, "tags": {"Patch Group": "test", "PatchGroup": "prod", "Tier": "conflicting"}},
    {"name": "lost", "count": 1, "platform": AL, "tags": {"Patch Group": "test", "Tier": "lost"}, "ping_status": "ConnectionLost"},
    {"name": "untagged", "count": 1, "platform": UBUNTU, "tags": {"Tier": "untagged"}},
    {"name": "wrong-case", "count": 1, "platform": AL, "tags": {"patch group": "dev", "Tier": "wrong-case"}},
]}
report_fleet = fleetsim_fixture(REPORT_FLEET, seed=11)


@pytest.fixture(scope="module")
def report_setup(report_fleet, tmp_path_factory):
    """Baselines for dev on AL2023 and test on Windows only, and a plan whose last stage names 'qa'."""
    ssm = report_fleet.client("ssm")
    for name, operating_system, group in (("dev-al", AL, "dev"), ("test-windows", WINDOWS, "test")):
        baseline_id = ssm.create_patch_baseline(Name=name, OperatingSystem=operating_system, ApprovedPatches=["example"])["BaselineId"]
        ssm.register_patch_baseline_for_patch_group(BaselineId=baseline_id, PatchGroup=group)
    rollouts = tmp_path_factory.mktemp("rollouts")
    plan = (PROJECT_ROOT / "include" / "rollouts" / "demo.yaml").read_text().replace("patch_group: prod", "patch_group: qa")
    (rollouts / "demo.yaml").write_text(plan)
    tier = {t: ids_tagged(ssm, "Tier", t) for t in (g["tags"]["Tier"] for g in REPORT_FLEET["groups"])}
    return rollouts, tier


@pytest.mark.fleetsim
def test_report_flags_every_rule_the_fleet_breaks(report_fleet, report_setup):
    rollouts, tier = report_setup
    (both,), (conflicting,), (lost,), (untagged,), (wrong_case,), (ubuntu,) = (
        tier["both-keys"], tier["conflicting"], tier["lost"], tier["untagged"], tier["wrong-case"], tier["dev-ubuntu"])
    rows = {
        **{i: (AL, "Online", "dev", "Patch Group") for i in tier["dev-al"]},
        ubuntu: (UBUNTU, "Online", "dev", "PatchGroup"),
        both: (WINDOWS, "Online", "test", "Patch Group, PatchGroup"),
        conflicting: (WINDOWS, "Online", "test, prod", "Patch Group, PatchGroup"),
        lost: (AL, "ConnectionLost", "test", "Patch Group"),
        untagged: (UBUNTU, "Online", "-", "-"),
        wrong_case: (AL, "Online", "-", "-"),
    }
    no_group = {
        untagged: f"  {untagged}: in no patch group: no 'Patch Group' or 'PatchGroup' tag; it gets the UBUNTU default baseline",
        wrong_case: f"  {wrong_case}: in no patch group: tag 'patch group' is neither 'Patch Group' nor 'PatchGroup', keys are case-sensitive; it gets the AMAZON_LINUX_2023 default baseline",
    }
    expected = [
        instance_row("INSTANCE".ljust(19), "OS", "PING", "PATCH GROUP", "TAG KEY"),
        *(instance_row(i, *rows[i]) for i in sorted(rows)),
        "",
        group_row("PATCH GROUP", "OS", "INSTANCES", "BASELINE"),
        group_row("dev", AL, 2, "dev-al"),
        group_row("dev", UBUNTU, 1, "(none: OS default)"),
        group_row("prod", WINDOWS, 1, "(none: OS default)"),
        group_row("test", AL, 1, "(none: OS default)"),
        group_row("test", WINDOWS, 2, "test-windows"),
        "",
        "8 problems:",
        f"  {both}: tagged both 'Patch Group' and 'PatchGroup' ('test'); keep one of the two keys",
        f"  {conflicting}: tagged 'Patch Group'='test' and 'PatchGroup'='prod'; a node belongs to one patch group, keep one tag",
        *(no_group[i] for i in sorted(no_group)),
        f"  patch group 'dev': no baseline is registered for UBUNTU; its 1 UBUNTU instance ({ubuntu}) gets the UBUNTU default baseline",
        f"  patch group 'prod': no baseline is registered for WINDOWS; its 1 WINDOWS instance ({conflicting}) gets the WINDOWS default baseline",
        f"  patch group 'test': no baseline is registered for AMAZON_LINUX_2023; its 1 AMAZON_LINUX_2023 instance ({lost}) gets the AMAZON_LINUX_2023 default baseline",
        f"  {rollouts / 'demo.yaml'}: stages[2] (prod).patch_group: 'qa' is not tagged on any managed instance and no baseline is registered for it",
    ]
    assert groups(report_fleet, "--rollouts", str(rollouts)) == (1, "\n".join(expected) + "\n", "")


@pytest.mark.fleetsim
def test_report_as_json_for_scripts(report_fleet, report_setup):
    rollouts, tier = report_setup
    code, out, err = groups(report_fleet, "--json", "--rollouts", str(rollouts))
    document = json.loads(out)
    (conflicting,) = tier["conflicting"]
    (wrong_case,) = tier["wrong-case"]
    assert (code, err, sorted(document)) == (1, "", ["groups", "instances", "problems"])
    assert [i["instance_id"] for i in document["instances"]] == sorted(i for ids in tier.values() for i in ids)
    assert [i for i in document["instances"] if i["instance_id"] in (conflicting, wrong_case)] == sorted([
        {"instance_id": conflicting, "operating_system": WINDOWS, "platform_name": "Microsoft Windows Server 2022 Datacenter",
         "ping_status": "Online", "patch_groups": ["test", "prod"], "tag_keys": ["Patch Group", "PatchGroup"]},
        {"instance_id": wrong_case, "operating_system": AL, "platform_name": "Amazon Linux",
         "ping_status": "Online", "patch_groups": [], "tag_keys": []},
    ], key=lambda i: i["instance_id"])
    assert [(g["patch_group"], g["operating_system"], len(g["instances"]), g["baseline_name"]) for g in document["groups"]] == [
        ("dev", AL, 2, "dev-al"), ("dev", UBUNTU, 1, None), ("prod", WINDOWS, 1, None), ("test", AL, 1, None), ("test", WINDOWS, 2, "test-windows"),
    ]
    assert [p["kind"] for p in document["problems"]] == [
        "both-tags", "conflicting-tags", "no-group", "no-group", "no-baseline", "no-baseline", "no-baseline", "not-tagged",
    ]


demo_fleet = fleetsim_fixture("include/fleets/demo.yaml", seed=7)


@pytest.mark.fleetsim
def test_the_demo_fleet_after_sync_has_no_problems(demo_fleet):
    env = {**os.environ, **demo_fleet.env()}
    synced = subprocess.run([sys.executable, "-m", "patchflow", "sync", "--plans", "include/rollouts/demo.yaml"], env=env, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120)
    assert (synced.returncode, synced.stderr) == (0, "")
    ssm, ec2 = demo_fleet.client("ssm"), demo_fleet.client("ec2")
    pages = ssm.get_paginator("describe_instance_information").paginate()
    platform_of = {i["InstanceId"]: i["PlatformName"] for page in pages for i in page["InstanceInformationList"]}
    operating_system = {"Amazon Linux": AL, "Ubuntu": UBUNTU, "Microsoft Windows Server 2022 Datacenter": WINDOWS}
    group_of = {i: tags["Patch Group"] for i, tags in instance_tags(ec2).items()}
    suffix = {AL: "al2023", UBUNTU: "ubuntu", WINDOWS: "windows"}
    expected = [
        instance_row("INSTANCE".ljust(19), "OS", "PING", "PATCH GROUP", "TAG KEY", ping_width=6),
        *(instance_row(i, operating_system[platform_of[i]], "Online", group_of[i], "Patch Group", ping_width=6) for i in sorted(platform_of)),
        "",
        group_row("PATCH GROUP", "OS", "INSTANCES", "BASELINE"),
        *(
            group_row(group, os_, count, f"patchflow-{group}-{suffix[os_]}")
            for group in ("dev", "prod", "test") for os_, count in ((AL, 4), (UBUNTU, 3), (WINDOWS, 3))
        ),
        "",
        "no problems",
    ]
    assert len(platform_of) == 30
    assert groups(demo_fleet) == (0, "\n".join(expected) + "\n", "")


# --------------------------------------------------------------------------- --assign

# One server for every --assign test: each test selects only the instances tagged with its own Suite.
SUITES = ("dry-run", "apply", "refuse", "json", "invalid")
ASSIGN_FLEET = {"groups": [
    {**group, "name": f"{suite}-{group['name']}", "tags": {**group["tags"], "Suite": suite}}
    for suite in SUITES
    for group in (
        {"name": "web", "count": 3, "platform": AL, "tags": {"Role": "web", "Environment": "staging"}},
        {"name": "db", "count": 2, "platform": UBUNTU, "tags": {"Role": "db", "Environment": "staging", "PatchGroup": "old"}},
        {"name": "win", "count": 1, "platform": WINDOWS, "tags": {"Role": "web", "Environment": "qa", "Patch Group": "test"}},
        {"name": "batch", "count": 1, "platform": WINDOWS, "tags": {"Role": "batch", "Patch Group": "batch"}},
    )
]}
assign_fleet = fleetsim_fixture(ASSIGN_FLEET, seed=5)


def membership_file(tmp_path, suite: str, extra: str = "") -> str:
    path = tmp_path / "membership.yaml"
    path.write_text(
        "assignments:\n"
        f"  - group: staging-web\n    tags: {{Role: web, Suite: {suite}}}\n"
        f"  - group: staging-db\n    tags: {{Role: db, Environment: [staging, qa], Suite: {suite}}}\n" + extra
    )
    return str(path)


def suite_tags(ec2, suite: str) -> dict[str, dict[str, str]]:
    return {i: tags for i, tags in instance_tags(ec2).items() if tags.get("Suite") == suite}


def expected_changes(tags: dict[str, dict[str, str]]) -> list[str]:
    db = sorted(i for i, t in tags.items() if t["Role"] == "db")
    web = sorted(i for i, t in tags.items() if t["Role"] == "web")
    return [
        *(f"{i}: tag Patch Group=staging-db" for i in db),
        *(f"{i}: tag Patch Group=staging-web" + (" (was test)" if tags[i].get("Patch Group") == "test" else "") for i in web),
        *(f"{i}: untag PatchGroup=old" for i in db),
    ]


@pytest.mark.fleetsim
def test_assign_dry_run_shows_the_changes_and_makes_none(assign_fleet, tmp_path):
    ec2 = assign_fleet.client("ec2")
    before = suite_tags(ec2, "dry-run")
    assert groups(assign_fleet, "--assign", membership_file(tmp_path, "dry-run"), "--dry-run") == (
        0, "".join(f"would {c}\n" for c in expected_changes(before)) + "assign: would make 8 tag changes on 6 instances, refused 0\n", "")
    assert suite_tags(ec2, "dry-run") == before


@pytest.mark.fleetsim
def test_assign_moves_instances_and_a_second_run_changes_nothing(assign_fleet, tmp_path):
    ec2 = assign_fleet.client("ec2")
    before = suite_tags(ec2, "apply")
    path = membership_file(tmp_path, "apply")
    assert groups(assign_fleet, "--assign", path) == (
        0, "".join(f"{c}\n" for c in expected_changes(before)) + "assign: made 8 tag changes on 6 instances, refused 0\n", "")

    after = {i: {k: v for k, v in tags.items() if k in ("Patch Group", "PatchGroup")} for i, tags in suite_tags(ec2, "apply").items()}
    assert after == {
        i: {"Patch Group": {"web": "staging-web", "db": "staging-db", "batch": "batch"}[tags["Role"]]} for i, tags in before.items()
    }
    assert groups(assign_fleet, "--assign", path) == (0, "assign: made 0 tag changes on 0 instances, refused 0\n", "")


@pytest.mark.fleetsim
def test_assign_refuses_an_instance_two_groups_claim_and_assigns_the_rest(assign_fleet, tmp_path):
    ec2 = assign_fleet.client("ec2")
    before = suite_tags(ec2, "refuse")
    path = membership_file(
        tmp_path, "refuse", "  - group: qa\n    tags: {Environment: qa, Suite: refuse}\n  - group: legacy\n    instance_ids: [i-0000000000000dead]\n"
    )
    (win,) = [i for i, tags in before.items() if tags.get("Environment") == "qa"]
    changes = [c for c in expected_changes(before) if not c.startswith(win)]
    refused = [
        f"refused: {path}: assignments[3].instance_ids[0]: 'i-0000000000000dead' is not a managed instance",
        f"refused: {win}: would land in 2 patch groups (assignments[0] ('staging-web'), assignments[2] ('qa')); an instance can be in one patch group only",
    ]
    assert groups(assign_fleet, "--assign", path) == (
        1, "".join(f"{c}\n" for c in changes) + "assign: made 7 tag changes on 5 instances, refused 2\n", "".join(f"{r}\n" for r in refused))
    assert suite_tags(ec2, "refuse")[win] == before[win]


@pytest.mark.fleetsim
def test_assign_as_json(assign_fleet, tmp_path):
    path = tmp_path / "membership.yaml"
    path.write_text("tag_key: PatchGroup\nassignments:\n  - group: nightly\n    tags: {Role: batch, Suite: json}\n")
    (batch,) = [i for i, tags in suite_tags(assign_fleet.client("ec2"), "json").items() if tags["Role"] == "batch"]
    code, out, err = groups(assign_fleet, "--assign", str(path), "--json", "--dry-run")
    assert (code, json.loads(out), err) == (0, {
        "changes": [
            {"instance_id": batch, "action": "set", "key": "PatchGroup", "value": "nightly", "previous": None},
            {"instance_id": batch, "action": "remove", "key": "Patch Group", "value": "batch", "previous": None},
        ],
        "refused": [], "notes": [], "applied": False,
    }, "")


@pytest.mark.fleetsim
def test_an_invalid_membership_file_changes_nothing(assign_fleet, tmp_path):
    path = tmp_path / "membership.yaml"
    path.write_text("assignments:\n  - group: web\n    tags: {Suite: invalid}\n  - tags: {Role: db}\n  - group: x\n    instance_ids: [web-1]\n")
    ec2 = assign_fleet.client("ec2")
    before = suite_tags(ec2, "invalid")
    assert groups(assign_fleet, "--assign", str(path)) == (1, "", (
        f"{path}:4:5: assignments[1].group: expected a patch group name, got nothing\n"
        f"{path}:6:20: assignments[2].instance_ids[0]: expected an instance id like i-0123456789abcdef0, got 'web-1'\n"
    ))
    assert suite_tags(ec2, "invalid") == before


@pytest.mark.parametrize("argv, expected", [
    (["groups", "--dry-run"], "patchflow groups: --dry-run: expected --assign FILE with it, got --dry-run alone\n"),
    (["groups", "--rollouts", "no/such/dir"], "patchflow groups: --rollouts: expected an existing folder, got 'no/such/dir'\n"),
    (["groups", "--assign"], "patchflow groups: --assign: expected a value, got nothing\n"),
], ids=["dry-run-without-assign", "missing-rollouts-folder", "assign-without-file"])
def test_bad_arguments(argv, expected, capsys):
    try:
        code = main(argv)
    except SystemExit as exit_:
        code = exit_.code
    assert (code, capsys.readouterr().err) == (2, expected)


class StubSSM:
    """Just enough of SSM for a hybrid node, which fleetsim does not simulate."""

    def describe_instance_information(self, **kwargs):
        return {"InstanceInformationList": [
            {"InstanceId": "mi-0123456789abcdef0", "PlatformType": "Linux", "PlatformName": "Ubuntu", "PlatformVersion": "22.04",
             "PingStatus": "Online", "ResourceType": "ManagedInstance"},
            {"InstanceId": "i-0123456789abcdef0", "PlatformType": "Windows", "PlatformName": "Microsoft Windows Server 2022 Datacenter",
             "PingStatus": "Online", "ResourceType": "EC2Instance"},
        ]}

    def list_tags_for_resource(self, ResourceType, ResourceId):
        assert (ResourceType, ResourceId) == ("ManagedInstance", "mi-0123456789abcdef0")
        return {"TagList": [{"Key": "Patch Group", "Value": "on-prem"}]}


class StubEC2:
    def get_paginator(self, operation):
        assert operation == "describe_tags"
        return self

    def paginate(self, Filters, PaginationConfig):
        yield {"Tags": [
            {"ResourceId": "i-0123456789abcdef0", "ResourceType": "instance", "Key": "PatchGroup", "Value": "prod"},
            {"ResourceId": "i-0fffffffffffffff0", "ResourceType": "instance", "Key": "PatchGroup", "Value": "not managed"},
        ]}


def test_hybrid_nodes_are_read_with_their_ssm_tags():
    from patchflow.core.groups import Node
    from patchflow.aws.membership import managed_nodes

    assert managed_nodes(StubSSM(), StubEC2()) == [
        Node("mi-0123456789abcdef0", UBUNTU, "Ubuntu", "Online", {"Patch Group": "on-prem"}, ec2=False),
        Node("i-0123456789abcdef0", WINDOWS, "Microsoft Windows Server 2022 Datacenter", "Online", {"PatchGroup": "prod"}, ec2=True),
    ]
