"""Adopting an existing Patch Manager setup: the account's patch baselines as include/baselines files.

Inputs are shaped exactly as boto3 answers (the AWS CLI examples of describe-patch-baselines,
get-patch-baseline and describe-patch-groups). Each file must read back as what SSM answered,
pass lint, and leave `sync` nothing to change against the same answers.
"""
from __future__ import annotations

import pytest

from patchflow.aws.baseline_sync import ActualBaseline, ActualState, comparable, plan_sync
from patchflow.cli.lint import lint
from patchflow.core.adoption import ImportOptions, PatchManagerSetup, adopt
from patchflow.core.adoption_baselines import PredefinedBaseline
from patchflow.core.baselines import load_baselines

from tests.patchflow.core.test_adoption import (
    AWS_UBUNTU_DEFAULT,
    AWS_WINDOWS_DEFAULT,
    NOW,
    REGION,
    SEED_BASELINE,
    baseline_answer,
    changed,
    identity,
    rule,
    written,
)

LINUX_BASELINE = baseline_answer(
    "pb-0a1b2c3d4e5f60718", "prod-al2023", "AMAZON_LINUX_2023",
    [rule(("CLASSIFICATION", ["Security"]), ("SEVERITY", ["Critical", "Important"]), ApproveAfterDays=7, ComplianceLevel="CRITICAL"),
     rule(("CLASSIFICATION", ["Bugfix"]), ApproveUntilDate="2026-11-30", ComplianceLevel="LOW", EnableNonSecurity=True)],
    ["Production"],
    Description="Prod, Amazon Linux 2023", GlobalFilters={"PatchFilters": [{"Key": "PRODUCT", "Values": ["AmazonLinux2023"]}]},
    ApprovedPatches=["openssl-libs"], ApprovedPatchesComplianceLevel="HIGH", ApprovedPatchesEnableNonSecurity=True,
    RejectedPatches=["telnet*"], RejectedPatchesAction="BLOCK",
    Sources=[{"Name": "internal", "Products": ["AmazonLinux2023"], "Configuration": "[internal]\nname=Internal\nbaseurl=https://repo.example.com/al2023\nenabled=1"}],
)
DEV_WINDOWS_BASELINE = baseline_answer(
    "pb-0f0e0d0c0b0a09080", "dev-windows", "WINDOWS",
    [rule(("PRODUCT", ["WindowsServer2022"]), ("MSRC_SEVERITY", ["Critical"]), ApproveAfterDays=0)], ["Dev", "Staging"],
    AvailableSecurityUpdatesComplianceStatus="NON_COMPLIANT",
)
LEGACY_GROUP = {"PatchGroup": "legacy-ubuntu", "BaselineIdentity": {
    "BaselineId": AWS_UBUNTU_DEFAULT["BaselineId"], "BaselineName": "AWS-UbuntuDefaultPatchBaseline", "OperatingSystem": "UBUNTU",
    "BaselineDescription": "Default Patch Baseline for Ubuntu Provided by AWS.", "DefaultBaseline": True}}


def account() -> PatchManagerSetup:
    """The seed's baseline, a Linux one using every field, a default Windows one, and AWS's Ubuntu baseline holding a group."""
    answers = [SEED_BASELINE, LINUX_BASELINE, DEV_WINDOWS_BASELINE]
    groups = [{"PatchGroup": group, "BaselineIdentity": {**identity(answer, answer is DEV_WINDOWS_BASELINE), "BaselineDescription": "x"}}
              for answer in answers for group in answer["PatchGroups"]] + [LEGACY_GROUP]
    return PatchManagerSetup(
        baselines=[AWS_WINDOWS_DEFAULT | {"DefaultBaseline": False}, AWS_UBUNTU_DEFAULT, *(identity(a, a is DEV_WINDOWS_BASELINE) for a in answers)],
        baseline_documents={answer["BaselineId"]: answer for answer in answers},
        patch_groups=groups,
        region=REGION,
    )


def test_predefined_baselines_holding_patch_groups_are_named_not_copied():
    adoption = adopt(account(), ImportOptions(), NOW)
    assert (adoption.predefined, [str(p) for p in adoption.predefined], [b.file_name for b in adoption.baselines]) == (
        (PredefinedBaseline("AWS-UbuntuDefaultPatchBaseline", AWS_UBUNTU_DEFAULT["BaselineId"], "UBUNTU", ("legacy-ubuntu",), True),),
        ["AWS-UbuntuDefaultPatchBaseline (UBUNTU, predefined by AWS): patch groups legacy-ubuntu; the UBUNTU default"],
        ["MyCustomPatchBaseline.yaml", "prod-al2023.yaml", "dev-windows.yaml"],
    )


def test_baseline_files_read_back_as_what_ssm_answered(tmp_path):
    _, directory = written(tmp_path, adopt(account(), ImportOptions(), NOW))
    loaded = {baseline.name: baseline for baseline in load_baselines(directory)}
    answers = {answer["Name"]: answer for answer in account().baseline_documents.values()}
    assert {name: comparable(baseline.to_api(), baseline.operating_system) for name, baseline in loaded.items()} == {
        name: comparable(answer, answer["OperatingSystem"]) for name, answer in answers.items()}
    assert {name: (baseline.patch_groups, baseline.default_for_os) for name, baseline in loaded.items()} == {
        "MyCustomPatchBaseline": ((), False), "prod-al2023": (("Production",), False), "dev-windows": (("Dev", "Staging"), True)}
    assert lint([directory]).problems == []


def test_sync_finds_nothing_to_change_after_import(tmp_path):
    setup = account()
    _, directory = written(tmp_path, adopt(setup, ImportOptions(), NOW))
    managed = {"managed-by": "patchflow"}  # what `import` tags the baselines it adopts with
    actual = ActualState(
        baselines=tuple(
            ActualBaseline(i["BaselineId"], i["BaselineName"], i["OperatingSystem"], i["BaselineId"].startswith("arn:"),
                           {} if i["BaselineId"].startswith("arn:") else managed, setup.baseline_documents.get(i["BaselineId"]))
            for i in setup.baselines),
        registrations={(m["PatchGroup"], m["BaselineIdentity"]["OperatingSystem"]): m["BaselineIdentity"]["BaselineId"] for m in setup.patch_groups},
        defaults={"WINDOWS": DEV_WINDOWS_BASELINE["BaselineId"], "UBUNTU": AWS_UBUNTU_DEFAULT["BaselineId"],
                  "AMAZON_LINUX_2023": "arn:aws:ssm:us-east-1:733109147000:patchbaseline/pb-0c10e2ec3c3e5e8e4"},
    )
    planned = plan_sync(load_baselines(directory), actual)
    assert ([str(change) for change in planned.changes], planned.conflicts, planned.notes) == ([], (), ())


@pytest.mark.parametrize(
    ("change", "files", "unmapped"),
    [
        pytest.param(lambda s: s.baseline_documents[LINUX_BASELINE["BaselineId"]].update(ApprovedPatches=["openssl-libs", "not a patch id!"]),
                     ["MyCustomPatchBaseline.yaml", "dev-windows.yaml"],
                     [f"baseline prod-al2023 ({LINUX_BASELINE['BaselineId']}): its file would not pass lint "
                      "(approved_patches[1]: expected a package name (full, or with one '*'), "
                      "a CVE id, an advisory id or a Bugzilla id for AMAZON_LINUX_2023, got 'not a patch id!')"], id="loader-refuses"),
        pytest.param(lambda s: s.baselines.append({**identity(SEED_BASELINE), "BaselineId": "pb-0999999999999999a"}),
                     ["prod-al2023.yaml", "dev-windows.yaml"],
                     [f"baseline MyCustomPatchBaseline ({SEED_BASELINE['BaselineId']}): 2 baselines are named MyCustomPatchBaseline "
                      f"({SEED_BASELINE['BaselineId']}, pb-0999999999999999a); patchflow knows a baseline by its name, so rename all but one in SSM",
                      "baseline MyCustomPatchBaseline (pb-0999999999999999a): 2 baselines are named MyCustomPatchBaseline "
                      f"({SEED_BASELINE['BaselineId']}, pb-0999999999999999a); patchflow knows a baseline by its name, so rename all but one in SSM"],
                     id="name-used-twice"),
        pytest.param(lambda s: s.baseline_documents.pop(SEED_BASELINE["BaselineId"]), ["prod-al2023.yaml", "dev-windows.yaml"],
                     [f"baseline MyCustomPatchBaseline ({SEED_BASELINE['BaselineId']}): GetPatchBaseline gave no answer for it"], id="no-answer"),
    ],
)
def test_a_baseline_the_files_cannot_hold_is_listed_not_written(change, files, unmapped):
    adoption = adopt(changed(account(), change), ImportOptions(), NOW)
    assert ([b.file_name for b in adoption.baselines], [str(item) for item in adoption.unmapped]) == (files, unmapped)
