"""DescribeInstancePatches answers, and filters on, patch states in the AWS CLI examples' spelling."""
from __future__ import annotations

import pytest

from fleetsim.patching import PATCH_STATES, patch_filter_matches
from fleetsim.testing import fleetsim_fixture
from tests.fleetsim.conftest import instances_in, send_patch, wait_for_command

SERVICE_SPELLING = ("Installed", "InstalledOther", "InstalledPendingReboot", "InstalledRejected", "Missing", "Failed", "NotApplicable",
                    "AvailableSecurityUpdate")
BOTOCORE_ENUM = ("INSTALLED", "INSTALLED_OTHER", "INSTALLED_PENDING_REBOOT", "INSTALLED_REJECTED", "MISSING", "FAILED", "NOT_APPLICABLE",
                 "AVAILABLE_SECURITY_UPDATE")


def test_the_states_fleetsim_decides_are_the_service_spelling():
    assert PATCH_STATES == SERVICE_SPELLING


@pytest.mark.parametrize(
    ("key", "value", "wanted", "matches"),
    [
        ("State", "Installed", ["Installed"], True),
        ("State", "InstalledPendingReboot", ["Missing", "InstalledPendingReboot"], True),
        ("State", "Installed", ["INSTALLED"], False),
        ("State", "Installed", ["installed"], False),
        ("State", "Installed", ["InstalledOther"], False),
        ("Classification", "SecurityUpdates", ["securityupdates"], True),
        ("Severity", "Critical", ["Important"], False),
        ("KBId", "KB5044281", ["KB5044281"], True),
    ],
    ids=["state-exact", "state-one-of-several", "state-botocore-enum-spelling", "state-lower-case", "state-prefix-is-not-a-match",
         "classification-any-case", "severity-other-value", "kb-id"],
)
def test_patch_filter_matches(key, value, wanted, matches):
    assert patch_filter_matches(key, value, wanted) is matches


FLEET = {
    # Patch states are read the moment a command ends; the reporting lag has tests of its own.
    "compliance_lag_seconds": 0,
    "defaults": {"execution_seconds": [30, 60], "missing_share": 0.6},
    "groups": [
        {"name": "linux", "count": 1, "platform": "AMAZON_LINUX_2023", "tags": {"Patch Group": "linux"}},
        {"name": "windows", "count": 1, "platform": "WINDOWS", "tags": {"Patch Group": "windows"}, "not_applicable_share": 0.3},
    ],
}
vocabulary_fleet = fleetsim_fixture(FLEET, seed=4, time_scale=3000)


@pytest.fixture(scope="module")
def patched(vocabulary_fleet):
    """A Linux node after an Install with NoReboot, a Windows node after a Scan: six of the eight states between them."""
    ssm = vocabulary_fleet.client("ssm")
    assert wait_for_command(ssm, send_patch(ssm, "linux", Parameters={"RebootOption": ["NoReboot"]}))["Status"] == "Success"
    assert wait_for_command(ssm, send_patch(ssm, "windows", "Scan"))["Status"] == "Success"
    return ssm, instances_in(ssm, "linux") + instances_in(ssm, "windows")


def patches(ssm, instance_id: str, **filters) -> list[dict]:
    pages = ssm.get_paginator("describe_instance_patches").paginate(
        InstanceId=instance_id, Filters=[{"Key": k, "Values": v} for k, v in filters.items()])
    return [p for page in pages for p in page["Patches"]]


def test_states_answered_are_the_service_spelling(patched):
    ssm, instance_ids = patched
    answered = {p["State"] for instance_id in instance_ids for p in patches(ssm, instance_id)}
    assert answered == {"Installed", "InstalledOther", "InstalledPendingReboot", "Missing", "NotApplicable", "AvailableSecurityUpdate"}


def test_each_state_filter_selects_exactly_that_state(patched):
    ssm, instance_ids = patched
    for instance_id in instance_ids:
        everything = patches(ssm, instance_id)
        by_state = {state: sorted(p["KBId"] for p in everything if p["State"] == state) for state in SERVICE_SPELLING}
        assert {state: sorted(p["KBId"] for p in patches(ssm, instance_id, State=[state])) for state in SERVICE_SPELLING} == by_state


def test_botocores_enum_spelling_names_no_state_and_matches_nothing(patched):
    ssm, instance_ids = patched
    assert {instance_id: patches(ssm, instance_id, State=list(BOTOCORE_ENUM)) for instance_id in instance_ids} == {i: [] for i in instance_ids}


def test_the_cli_examples_missing_filter_returns_missing_patches(patched):
    ssm, instance_ids = patched
    windows = instance_ids[1]
    state = ssm.describe_instance_patch_states(InstanceIds=[windows])["InstancePatchStates"][0]
    missing = patches(ssm, windows, State=["Missing"])
    assert (len(missing), {p["State"] for p in missing}) == (state["MissingCount"], {"Missing"})
