"""Fleet spec validation: every problem in one pass, each naming file, path, expectation and value."""
from pathlib import Path

import pytest

from fleetsim.errors import InvalidInput
from fleetsim.spec import AlarmFires, AlarmSpec, load_fleet

PROJECT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name, count", [("demo", 30), ("failing-dev", 30), ("scale-10k", 10_000), ("scale-100k", 100_000)],
                         ids=["demo", "failing-dev", "scale-10k", "scale-100k"])
def test_shipped_fleets_are_valid(name, count):
    assert load_fleet(PROJECT / "include" / "fleets" / f"{name}.yaml").instance_count == count


def test_demo_fleet_mixes_every_os_in_every_patch_group():
    spec = load_fleet(PROJECT / "include" / "fleets" / "demo.yaml")
    seen = {(g.tags["Patch Group"], g.platform) for g in spec.groups}
    assert seen == {(group, os_) for group in ("dev", "test", "prod") for os_ in ("AMAZON_LINUX_2023", "UBUNTU", "WINDOWS")}
    assert all(g.install_failure_probability == 0 and g.ping_status == "Online" for g in spec.groups)


def test_failing_dev_fails_only_dev():
    spec = load_fleet(PROJECT / "include" / "fleets" / "failing-dev.yaml")
    assert {g.tags["Patch Group"]: g.install_failure_probability for g in spec.groups} == {"dev": 0.7, "test": 0.0, "prod": 0.0}


@pytest.mark.parametrize(
    "document, expected",
    [
        (
            {"groups": [{"count": 2, "platform": "UBUNTU"}, {"count": "ten", "platform": "AMAZON_LINUX_2023"}]},
            ["include/fleets/x.yaml: groups[1].count: expected an integer >= 1, got 'ten'"],
        ),
        (
            {"groups": [{"count": 0, "platform": "RHEL", "ping_status": "Up", "execution_seconds": [5, 1],
                         "install_failure_probability": 1.5, "patch_failure_probability": {"KB1": "often"}, "colour": "red"}]},
            [
                "include/fleets/x.yaml: groups[0].colour: unknown key; expected one of count, platform, name, tags, ping_status, missing_share, "
                "not_applicable_share, install_failure_probability, patch_failure_probability, execution_seconds, reboot_share, "
                "reboot_seconds, offline_mid_run_share, superseded, breaks_service, account, region",
                "include/fleets/x.yaml: groups[0].count: expected an integer >= 1, got 0",
                "include/fleets/x.yaml: groups[0].platform: expected one of AMAZON_LINUX_2023, UBUNTU, WINDOWS, got 'RHEL'",
                "include/fleets/x.yaml: groups[0].ping_status: expected one of Online, ConnectionLost, Inactive, got 'Up'",
                "include/fleets/x.yaml: groups[0].install_failure_probability: expected a number from 0 to 1, got 1.5",
                "include/fleets/x.yaml: groups[0].patch_failure_probability.KB1: expected a number from 0 to 1, got 'often'",
                "include/fleets/x.yaml: groups[0].execution_seconds: expected [min, max] simulated seconds with 0 <= min <= max, got a list",
            ],
        ),
        ({"groups": []}, ["include/fleets/x.yaml: groups: expected a non-empty list of instance groups, got a list"]),
        ({"fleet": 3}, [
            "include/fleets/x.yaml: fleet: unknown key; expected one of seed, throttling, offline_delivery, compliance_lag_seconds, defaults, groups, "
            "alarms, accounts",
            "include/fleets/x.yaml: groups: expected a non-empty list of instance groups, got nothing",
        ]),
        ({"seed": "x", "throttling": {"ListCommands": 0}, "groups": [{"count": 1, "platform": "WINDOWS", "tags": {"aws:x": "y"}}]}, [
            "include/fleets/x.yaml: seed: expected an integer, got 'x'",
            "include/fleets/x.yaml: throttling.ListCommands: expected a number of requests per second > 0, got 0",
            "include/fleets/x.yaml: groups[0].tags.aws:x: expected a tag key of 1-128 characters not starting with 'aws:', got 'aws:x'",
        ]),
    ],
    ids=["bad-count", "many-problems-one-group", "no-groups", "unknown-top-level-key", "seed-throttling-tags"],
)
def test_problems_are_reported_together(document, expected):
    with pytest.raises(InvalidInput) as caught:
        load_fleet(document, "include/fleets/x.yaml")
    assert str(caught.value).splitlines() == expected


def test_yaml_syntax_error_names_the_file(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("groups:\n  - count: [1\n")
    with pytest.raises(InvalidInput) as caught:
        load_fleet(path)
    assert str(caught.value) == f"{path}: line 3 column 1: expected valid YAML, got a syntax error (expected ',' or ']', but got '<stream end>')"


def test_aliases_and_defaults():
    spec = load_fleet({"defaults": {"execution_seconds": 30}, "groups": [{"count": 1, "platform": "al2023", "tags": {"PatchGroup": "web"}}]})
    (group,) = spec.groups
    assert (group.platform, group.execution_seconds, dict(group.tags)) == ("AMAZON_LINUX_2023", (30.0, 30.0), {"PatchGroup": "web"})


def test_readme_example_is_a_valid_spec():
    import yaml

    text = (PROJECT / "fleetsim" / "README.md").read_text()
    example = text.split("## Fleet spec", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    spec = load_fleet(yaml.safe_load(example), "README.md")
    assert (spec.instance_count, spec.throttling, spec.groups[0].patch_failure_probability, spec.groups[0].breaks_service, spec.alarms) == (
        4, {"ListCommandInvocations": 20.0, "*": 200.0}, {"KB5044281": 0.5}, {"openssh-server.x86_64": 0.3},
        (AlarmSpec("storefront-dev-5xx", {"Application": "storefront", "Environment": "dev"}, "OK",
                   AlarmFires("openssh-server.x86_64", "dev", 0.3, 600.0)),))


@pytest.mark.parametrize(
    ("fleet", "choice", "expected"),
    [
        pytest.param({"groups": []}, "undeliverable", {"offline_delivery": "undeliverable", "groups": []}, id="chosen-for-a-spec-without-one"),
        pytest.param({"offline_delivery": "timeout", "groups": []}, "undeliverable", {"offline_delivery": "timeout", "groups": []},
                     id="a-spec-keeps-its-own-choice"),
        pytest.param({"groups": []}, None, {"groups": []}, id="nothing-chosen"),
    ],
)
def test_a_suite_can_run_under_the_other_offline_delivery(fleet, choice, expected):
    from fleetsim.testing import with_offline_delivery

    assert with_offline_delivery(fleet, choice) == expected


def test_a_spec_file_gets_the_chosen_offline_delivery(tmp_path):
    from fleetsim.testing import with_offline_delivery

    path = tmp_path / "fleet.yaml"
    path.write_text("groups: [{count: 1, platform: UBUNTU}]\n")
    assert with_offline_delivery(path, "undeliverable") == {"offline_delivery": "undeliverable", "groups": [{"count": 1, "platform": "UBUNTU"}]}
