"""Patch group membership rules, the membership file and tag-change planning, as tables. No server."""
from __future__ import annotations

import pytest

from patchflow.core.errors import InvalidInput, Problem
from patchflow.core.groups import (
    Assignment,
    Membership,
    Node,
    Registration,
    assignment_ending,
    assignment_notes,
    check_membership,
    instance_findings,
    load_membership,
    parse_membership,
    plan_assignment,
    render_report,
)
from patchflow.core.plan import load_plan
from patchflow.core.yamlfile import PROJECT_ROOT

AL = "AMAZON_LINUX_2023"


def node(instance_id, tags=None, operating_system=AL, ping="Online", ec2=True):
    return Node(instance_id, operating_system, "Amazon Linux", ping, dict(tags or {}), ec2)


# --------------------------------------------------------------------------- one instance

# (id, tags, operating system, expected findings as text)
INSTANCE_CASES = [
    ("patch-group-key", {"Patch Group": "dev"}, AL, []),
    ("patchgroup-key", {"PatchGroup": "dev"}, AL, []),
    ("both-keys-same-value", {"Patch Group": "dev", "PatchGroup": "dev"}, AL, [
        "i-1: tagged both 'Patch Group' and 'PatchGroup' ('dev'); keep one of the two keys"]),
    ("both-keys-conflicting-values", {"Patch Group": "dev", "PatchGroup": "prod"}, AL, [
        "i-1: tagged 'Patch Group'='dev' and 'PatchGroup'='prod'; a node belongs to one patch group, keep one tag"]),
    ("no-tag", {"Environment": "dev"}, AL, [
        "i-1: in no patch group: no 'Patch Group' or 'PatchGroup' tag; it gets the AMAZON_LINUX_2023 default baseline"]),
    ("key-in-wrong-case", {"patch group": "dev"}, AL, [
        "i-1: in no patch group: tag 'patch group' is neither 'Patch Group' nor 'PatchGroup', keys are case-sensitive; it gets the AMAZON_LINUX_2023 default baseline"]),
    ("key-with-underscore", {"Patch_Group": "dev"}, "WINDOWS", [
        "i-1: in no patch group: tag 'Patch_Group' is neither 'Patch Group' nor 'PatchGroup', keys are case-sensitive; it gets the WINDOWS default baseline"]),
    ("empty-value", {"Patch Group": ""}, AL, [
        "i-1: in no patch group: tag 'Patch Group' is empty; it gets the AMAZON_LINUX_2023 default baseline"]),
    ("unknown-os", {}, None, [
        "i-1: in no patch group: no 'Patch Group' or 'PatchGroup' tag; it gets its OS's default baseline"]),
]


@pytest.mark.parametrize("tags, operating_system, expected", [c[1:] for c in INSTANCE_CASES], ids=[c[0] for c in INSTANCE_CASES])
def test_instance_findings(tags, operating_system, expected):
    assert [str(f) for f in instance_findings(node("i-1", tags, operating_system))] == expected


# --------------------------------------------------------------------------- the whole fleet

DEMO_PLAN = load_plan(PROJECT_ROOT / "include" / "rollouts" / "demo.yaml")
FLEET = [
    node("i-0a", {"Patch Group": "dev"}),
    node("i-0b", {"PatchGroup": "dev"}, "UBUNTU"),
    node("i-0c", {"Patch Group": "dev", "PatchGroup": "test"}, "WINDOWS", ping="ConnectionLost"),
    node("i-0d", {"Owner": "nobody"}),
    node("i-0e", {"Patch Group": "legacy"}, None),
]
REGISTERED = {
    ("dev", AL): Registration("pb-0dev0al", "patchflow-dev-al2023"),
    ("dev", "WINDOWS"): Registration("pb-0dev0win", "patchflow-dev-windows"),
    ("prod", AL): Registration("pb-0prod0al", "patchflow-prod-al2023"),
}


def test_report_lists_every_instance_every_group_and_every_problem():
    report = check_membership(reversed(FLEET), REGISTERED, [DEMO_PLAN])
    assert render_report(report) == "\n".join([
        "INSTANCE  OS                 PING            PATCH GROUP  TAG KEY",
        "i-0a      AMAZON_LINUX_2023  Online          dev          Patch Group",
        "i-0b      UBUNTU             Online          dev          PatchGroup",
        "i-0c      WINDOWS            ConnectionLost  dev, test    Patch Group, PatchGroup",
        "i-0d      AMAZON_LINUX_2023  Online          -            -",
        "i-0e      unknown            Online          legacy       Patch Group",
        "",
        "PATCH GROUP  OS                 INSTANCES  BASELINE",
        "dev          AMAZON_LINUX_2023  1          patchflow-dev-al2023",
        "dev          UBUNTU             1          (none: OS default)",
        "dev          WINDOWS            1          patchflow-dev-windows",
        "legacy       unknown            1          (none: OS default)",
        "test         WINDOWS            1          (none: OS default)",
        "",
        "5 problems:",
        "  i-0c: tagged 'Patch Group'='dev' and 'PatchGroup'='test'; a node belongs to one patch group, keep one tag",
        "  i-0d: in no patch group: no 'Patch Group' or 'PatchGroup' tag; it gets the AMAZON_LINUX_2023 default baseline",
        "  patch group 'dev': no baseline is registered for UBUNTU; its 1 UBUNTU instance (i-0b) gets the UBUNTU default baseline",
        "  patch group 'test': no baseline is registered for WINDOWS; its 1 WINDOWS instance (i-0c) gets the WINDOWS default baseline",
        # test is carried, by i-0c's second tag; prod has a baseline but no instance.
        "  include/rollouts/demo.yaml: stages[2] (prod).patch_group: 'prod' is not tagged on any managed instance",
    ])


def test_a_clean_fleet_says_so():
    report = check_membership([node("i-0a", {"Patch Group": "dev"})], {("dev", AL): Registration("pb-0dev0al", "")})
    assert render_report(report) == "\n".join([
        "INSTANCE  OS                 PING    PATCH GROUP  TAG KEY",
        "i-0a      AMAZON_LINUX_2023  Online  dev          Patch Group",
        "",
        "PATCH GROUP  OS                 INSTANCES  BASELINE",
        "dev          AMAZON_LINUX_2023  1          pb-0dev0al",
        "",
        "no problems",
    ])


def test_report_as_json():
    report = check_membership([node("i-0b", {"PatchGroup": "dev"}, "UBUNTU"), node("i-0a", {"Patch Group": "dev"})], REGISTERED)
    assert report.to_json() == {
        "instances": [
            {"instance_id": "i-0a", "operating_system": AL, "platform_name": "Amazon Linux", "ping_status": "Online", "patch_groups": ["dev"], "tag_keys": ["Patch Group"]},
            {"instance_id": "i-0b", "operating_system": "UBUNTU", "platform_name": "Amazon Linux", "ping_status": "Online", "patch_groups": ["dev"], "tag_keys": ["PatchGroup"]},
        ],
        "groups": [
            {"patch_group": "dev", "operating_system": AL, "instances": ["i-0a"], "baseline_id": "pb-0dev0al", "baseline_name": "patchflow-dev-al2023"},
            {"patch_group": "dev", "operating_system": "UBUNTU", "instances": ["i-0b"], "baseline_id": None, "baseline_name": None},
        ],
        "problems": [{
            "kind": "no-baseline", "subject": "patch group 'dev'",
            "message": "no baseline is registered for UBUNTU; its 1 UBUNTU instance (i-0b) gets the UBUNTU default baseline",
        }],
    }


# (id, nodes, registrations, expected findings of the demo plan's groups)
PLAN_CASES = [
    ("every-stage-group-carried", [node(f"i-0{g}", {"Patch Group": g}) for g in ("dev", "test", "prod")], {(g, AL): Registration("pb-1", "x") for g in ("dev", "test", "prod")}, []),
    ("untagged-group-with-a-baseline", [node("i-0a", {"Patch Group": "dev"}), node("i-0b", {"PatchGroup": "test"})], {(g, AL): Registration("pb-1", "x") for g in ("dev", "test", "prod")}, [
        "include/rollouts/demo.yaml: stages[2] (prod).patch_group: 'prod' is not tagged on any managed instance"]),
    ("untagged-group-without-a-baseline", [node("i-0a", {"Patch Group": "dev"})], {("dev", AL): Registration("pb-1", "x"), ("prod", "WINDOWS"): Registration("pb-2", "y")}, [
        "include/rollouts/demo.yaml: stages[1] (test).patch_group: 'test' is not tagged on any managed instance and no baseline is registered for it",
        "include/rollouts/demo.yaml: stages[2] (prod).patch_group: 'prod' is not tagged on any managed instance"]),
]


@pytest.mark.parametrize("nodes, registrations, expected", [c[1:] for c in PLAN_CASES], ids=[c[0] for c in PLAN_CASES])
def test_groups_a_plan_names_must_be_carried(nodes, registrations, expected):
    assert [str(f) for f in check_membership(nodes, registrations, [DEMO_PLAN]).findings] == expected


def test_a_broken_plan_is_a_problem_of_its_own():
    broken = [Problem("include/rollouts/x.yaml", "stages[0].patch_group", "expected a patch group name, got 42")]
    (finding,) = check_membership([], {}, [], broken).findings
    assert (finding.kind, str(finding)) == ("invalid-plan", "include/rollouts/x.yaml: stages[0].patch_group: expected a patch group name, got 42")


def test_a_large_group_lists_five_instances_then_counts():
    nodes = [node(f"i-0{n}", {"Patch Group": "web"}, "UBUNTU") for n in range(7)]
    assert [str(f) for f in check_membership(nodes, {}).findings] == [
        "patch group 'web': no baseline is registered for UBUNTU; its 7 UBUNTU instances (i-00, i-01, i-02, i-03, i-04 and 2 more) get the UBUNTU default baseline"
    ]


# --------------------------------------------------------------------------- the membership file

SOURCE = "membership.yaml"
GOOD = {"group": "dev", "tags": {"Environment": "dev"}}

# (id, document, expected problems, every one)
INVALID_FILES = [
    ("empty-file", None, ["membership.yaml: expected a mapping with assignments, got nothing"]),
    ("a-list", [GOOD], ["membership.yaml: expected a mapping with assignments, got a list"]),
    ("no-assignments", {"tag_key": "Patch Group"}, ["membership.yaml: assignments: expected a non-empty list of assignments, got nothing"]),
    ("empty-assignments", {"assignments": []}, ["membership.yaml: assignments: expected a non-empty list of assignments, got nothing"]),
    ("assignments-a-mapping", {"assignments": GOOD}, ["membership.yaml: assignments: expected a non-empty list of assignments, got a mapping"]),
    ("unknown-top-level-key", {"assignments": [GOOD], "groups": []}, [
        "membership.yaml: groups: expected a known key (tag_key, assignments), got 'groups'"]),
    ("tag-key-in-wrong-case", {"tag_key": "patch group", "assignments": [GOOD]}, [
        "membership.yaml: tag_key: expected 'Patch Group' or 'PatchGroup', got 'patch group'"]),
    ("assignment-a-string", {"assignments": ["dev"]}, [
        "membership.yaml: assignments[0]: expected a mapping with group and tags or instance_ids, got 'dev'"]),
    ("group-missing", {"assignments": [GOOD, GOOD, {"tags": {"Environment": "qa"}}]}, [
        "membership.yaml: assignments[2].group: expected a patch group name, got nothing"]),
    ("group-null", {"assignments": [{"group": None, "tags": {"Environment": "qa"}}]}, [
        "membership.yaml: assignments[0].group: expected a patch group name, got nothing"]),
    ("group-a-number", {"assignments": [{"group": 42, "tags": {"Environment": "qa"}}]}, [
        "membership.yaml: assignments[0].group: expected a patch group name (1-256 letters, digits, spaces or _.:/=+-@; no space at either end), got 42"]),
    ("group-with-bad-characters", {"assignments": [{"group": "dev!", "tags": {"Environment": "qa"}}]}, [
        "membership.yaml: assignments[0].group: expected a patch group name (1-256 letters, digits, spaces or _.:/=+-@; no space at either end), got 'dev!'"]),
    ("group-with-a-space-at-the-start", {"assignments": [{"group": " dev", "tags": {"Environment": "qa"}}]}, [
        "membership.yaml: assignments[0].group: expected a patch group name (1-256 letters, digits, spaces or _.:/=+-@; no space at either end), got ' dev'"]),
    ("assignment-key-typo", {"assignments": [{"group": "dev", "instance_id": ["i-0123456789abcdef0"]}]}, [
        "membership.yaml: assignments[0].instance_id: expected a known key (did you mean 'instance_ids'?), got 'instance_id'",
        "membership.yaml: assignments[0]: expected one selector, tags or instance_ids, got nothing"]),
    ("no-selector", {"assignments": [{"group": "dev"}]}, [
        "membership.yaml: assignments[0]: expected one selector, tags or instance_ids, got nothing"]),
    ("two-selectors", {"assignments": [{"group": "dev", "tags": {"Environment": "dev"}, "instance_ids": ["i-0123456789abcdef0"]}]}, [
        "membership.yaml: assignments[0]: expected one selector, tags or instance_ids, got tags and instance_ids"]),
    ("unknown-assignment-key", {"assignments": [{**GOOD, "match": "all"}]}, [
        "membership.yaml: assignments[0].match: expected a known key (group, tags, instance_ids), got 'match'"]),
    ("tags-empty", {"assignments": [{"group": "dev", "tags": {}}]}, [
        "membership.yaml: assignments[0].tags: expected a mapping of tag key to value (or list of values), got nothing"]),
    ("tags-a-list", {"assignments": [{"group": "dev", "tags": ["Environment=dev"]}]}, [
        "membership.yaml: assignments[0].tags: expected a mapping of tag key to value (or list of values), got a list"]),
    ("tag-value-a-number", {"assignments": [{"group": "dev", "tags": {"Tier": 1}}]}, [
        "membership.yaml: assignments[0].tags.Tier: expected a tag value of up to 256 characters, or a non-empty list of them, got 1"]),
    ("tag-values-empty-list", {"assignments": [{"group": "dev", "tags": {"Tier": []}}]}, [
        "membership.yaml: assignments[0].tags.Tier: expected a tag value of up to 256 characters, or a non-empty list of them, got a list"]),
    ("tag-key-too-long", {"assignments": [{"group": "dev", "tags": {"k" * 129: "v"}}]}, [
        f"membership.yaml: assignments[0].tags: expected tag keys of 1-128 characters, got {'k' * 129!r}"]),
    ("instance-ids-empty", {"assignments": [{"group": "dev", "instance_ids": []}]}, [
        "membership.yaml: assignments[0].instance_ids: expected a non-empty list of instance ids, got nothing"]),
    ("instance-ids-a-string", {"assignments": [{"group": "dev", "instance_ids": "i-0123456789abcdef0"}]}, [
        "membership.yaml: assignments[0].instance_ids: expected a non-empty list of instance ids, got 'i-0123456789abcdef0'"]),
    ("instance-id-a-name", {"assignments": [{"group": "dev", "instance_ids": ["i-0123456789abcdef0", "web-1"]}]}, [
        "membership.yaml: assignments[0].instance_ids[1]: expected an instance id like i-0123456789abcdef0, got 'web-1'"]),
    ("every-problem-in-one-pass", {"tag_key": "Patch-Group", "assignments": [{"tags": {}}, {"group": "ok", "instance_ids": ["I-1"]}]}, [
        "membership.yaml: tag_key: expected 'Patch Group' or 'PatchGroup', got 'Patch-Group'",
        "membership.yaml: assignments[0].group: expected a patch group name, got nothing",
        "membership.yaml: assignments[0].tags: expected a mapping of tag key to value (or list of values), got nothing",
        "membership.yaml: assignments[1].instance_ids[0]: expected an instance id like i-0123456789abcdef0, got 'I-1'"]),
]


@pytest.mark.parametrize("document, expected", [c[1:] for c in INVALID_FILES], ids=[c[0] for c in INVALID_FILES])
def test_invalid_membership_files(document, expected):
    with pytest.raises(InvalidInput) as raised:
        parse_membership(document, SOURCE)
    assert str(raised.value).splitlines() == expected


def test_the_example_file_reads_as_written():
    assert load_membership(PROJECT_ROOT / "include" / "membership" / "example.yaml") == Membership(
        "include/membership/example.yaml", "Patch Group", (
            Assignment("assignments[0]", "dev", {"Environment": ("dev",)}),
            Assignment("assignments[1]", "test", {"Environment": ("test", "staging")}),
            Assignment("assignments[2]", "prod", {"Environment": ("prod",), "Application": ("storefront",)}),
        ),
    )


def test_a_membership_file_with_broken_yaml_names_the_file(tmp_path):
    path = tmp_path / "membership.yaml"
    path.write_text("assignments: [\n")
    with pytest.raises(InvalidInput) as raised:
        load_membership(path)
    assert str(raised.value).startswith(f"{path}:2:1: expected valid YAML, got a syntax error (")


# --------------------------------------------------------------------------- planning tag changes


def membership(*assignments, tag_key="Patch Group"):
    return Membership(SOURCE, tag_key, tuple(
        Assignment(f"assignments[{i}]", group, {k: tuple(v) if isinstance(v, list) else (v,) for k, v in (tags or {}).items()}, tuple(ids))
        for i, (group, tags, ids) in enumerate(assignments)
    ))


def by_env(group, env):
    return (group, {"Environment": env}, ())


def by_ids(group, *ids):
    return (group, None, ids)


# (id, membership, nodes, (changes, refused, notes))
ASSIGN_CASES = [
    ("untagged-instance-is-tagged", membership(by_env("dev", "dev")), [node("i-01", {"Environment": "dev"})], (
        ["i-01: tag Patch Group=dev"], [], [])),
    ("already-in-the-group-is-left-alone", membership(by_env("dev", "dev")), [node("i-01", {"Environment": "dev", "Patch Group": "dev"})], ([], [], [])),
    ("moved-from-another-group", membership(by_env("test", "test")), [node("i-01", {"Environment": "test", "Patch Group": "qa"})], (
        ["i-01: tag Patch Group=test (was qa)"], [], [])),
    ("the-other-key-is-removed", membership(by_env("dev", "dev")), [node("i-01", {"Environment": "dev", "PatchGroup": "dev"})], (
        ["i-01: tag Patch Group=dev", "i-01: untag PatchGroup=dev"], [], [])),
    ("conflicting-keys-are-resolved", membership(by_env("dev", "dev")), [node("i-01", {"Environment": "dev", "Patch Group": "prod", "PatchGroup": "dev"})], (
        ["i-01: tag Patch Group=dev (was prod)", "i-01: untag PatchGroup=dev"], [], [])),
    ("tag-key-patchgroup-writes-patchgroup", membership(by_env("dev", "dev"), tag_key="PatchGroup"), [node("i-01", {"Environment": "dev", "Patch Group": "dev"})], (
        ["i-01: tag PatchGroup=dev", "i-01: untag Patch Group=dev"], [], [])),
    ("every-tag-must-match", membership(("web", {"Environment": "prod", "Role": "web"}, ())), [
        node("i-01", {"Environment": "prod", "Role": "web"}), node("i-02", {"Environment": "prod", "Role": "db"})], (
        ["i-01: tag Patch Group=web"], [], [])),
    ("a-list-of-values-matches-any", membership(by_env("test", ["test", "staging"])), [
        node("i-01", {"Environment": "staging"}), node("i-02", {"Environment": "test"}), node("i-03", {"Environment": "prod"})], (
        ["i-01: tag Patch Group=test", "i-02: tag Patch Group=test"], [], [])),
    ("by-instance-id", membership(by_ids("legacy", "i-0123456789abcdef0")), [node("i-0123456789abcdef0"), node("i-02")], (
        ["i-0123456789abcdef0: tag Patch Group=legacy"], [], [])),
    ("two-groups-are-refused", membership(by_env("dev", "dev"), ("web", {"Role": "web"}, ()), by_env("dev", "dev")), [
        node("i-01", {"Environment": "dev", "Role": "web"}), node("i-02", {"Environment": "dev"})], (
        ["i-02: tag Patch Group=dev"],
        ["i-01: would land in 2 patch groups (assignments[0] ('dev'), assignments[1] ('web'), assignments[2] ('dev')); an instance can be in one patch group only"], [])),
    ("same-group-twice-is-fine", membership(by_env("dev", "dev"), by_ids("dev", "i-01")), [node("i-01", {"Environment": "dev"})], (
        ["i-01: tag Patch Group=dev"], [], [])),
    ("unknown-instance-id-is-refused", membership(by_ids("legacy", "i-0123456789abcdef0", "i-02")), [node("i-02")], (
        ["i-02: tag Patch Group=legacy"], ["membership.yaml: assignments[0].instance_ids[0]: 'i-0123456789abcdef0' is not a managed instance"], [])),
    ("hybrid-node-is-refused", membership(by_env("dev", "dev")), [node("mi-01234567", {"Environment": "dev"}, ec2=False)], (
        [], ["mi-01234567: is a hybrid node; --assign tags EC2 instances only (tag it through SSM AddTagsToResource)"], [])),
    ("selector-matching-nothing-is-a-note", membership(by_env("qa", "qa")), [node("i-01", {"Environment": "dev"})], (
        [], [], ["membership.yaml: assignments[0]: selects no managed instance (group 'qa')"])),
    ("unselected-instances-are-never-touched", membership(by_env("dev", "dev")), [node("i-01", {"PatchGroup": "x", "Patch Group": "y"})], (
        [], [], ["membership.yaml: assignments[0]: selects no managed instance (group 'dev')"])),
    ("sets-come-before-removals-grouped-by-tag", membership(by_env("dev", "dev"), by_env("prod", "prod")), [
        node("i-03", {"Environment": "prod", "PatchGroup": "p"}), node("i-02", {"Environment": "dev"}), node("i-01", {"Environment": "prod"})], (
        ["i-02: tag Patch Group=dev", "i-01: tag Patch Group=prod", "i-03: tag Patch Group=prod", "i-03: untag PatchGroup=p"], [], [])),
]


@pytest.mark.parametrize("wanted, nodes, expected", [c[1:] for c in ASSIGN_CASES], ids=[c[0] for c in ASSIGN_CASES])
def test_plan_assignment(wanted, nodes, expected):
    plan = plan_assignment(wanted, nodes)
    assert ([str(c) for c in plan.changes], list(plan.refused), list(plan.notes)) == expected


ASSIGN_OUTPUT_PLAN = plan_assignment(
    membership(by_env("dev", "dev"), by_env("qa", "qa"), ("web", {"Role": "web"}, ())),
    [node("i-01", {"Environment": "dev", "PatchGroup": "old"}), node("i-02", {"Environment": "dev", "Role": "web"})],
)


# `groups --assign` prints the notes, then each change as it lands ("would ..." with --dry-run), then this ending.
@pytest.mark.parametrize("dry_run, expected", [
    (True, (
        ["note: membership.yaml: assignments[1]: selects no managed instance (group 'qa')"],
        ["i-01: tag Patch Group=dev", "i-01: untag PatchGroup=old"],
        [
            "refused: i-02: would land in 2 patch groups (assignments[0] ('dev'), assignments[2] ('web')); an instance can be in one patch group only",
            "assign: would make 2 tag changes on 1 instance, refused 1",
        ],
    )),
    (False, (
        ["note: membership.yaml: assignments[1]: selects no managed instance (group 'qa')"],
        ["i-01: tag Patch Group=dev", "i-01: untag PatchGroup=old"],
        [
            "refused: i-02: would land in 2 patch groups (assignments[0] ('dev'), assignments[2] ('web')); an instance can be in one patch group only",
            "assign: made 2 tag changes on 1 instance, refused 1",
        ],
    )),
], ids=["dry-run", "applied"])
def test_assignment_output_lines(dry_run, expected):
    plan = ASSIGN_OUTPUT_PLAN
    assert (assignment_notes(plan), [str(c) for c in plan.changes], assignment_ending(plan, dry_run=dry_run)) == expected
