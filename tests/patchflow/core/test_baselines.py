"""Baseline files: two spellings into one Baseline, every constraint of ssm-reference sections 1 and 6."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from patchflow.core.yamlfile import PROJECT_ROOT
from patchflow.core.baselines import (
    ApprovalRule,
    Baseline,
    PatchFilter,
    PatchSource,
    baseline_files,
    check_baseline_set,
    load_baseline,
    load_baselines,
    parse_baseline,
)
from patchflow.core.errors import InvalidInput

EXAMPLES = PROJECT_ROOT / "include" / "baselines"
INVALID = Path(__file__).parent / "baselines_invalid"
INVALID_FILES = sorted(p for p in INVALID.iterdir() if p.suffix in (".yaml", ".json"))


# --------------------------------------------------------------------------- the invalid corpus


def test_invalid_corpus_is_large_and_complete():
    assert len(INVALID_FILES) >= 30
    assert sorted(p.stem for p in INVALID.glob("*.expected")) == sorted(p.stem for p in INVALID_FILES)


@pytest.mark.parametrize("path", INVALID_FILES, ids=[p.stem for p in INVALID_FILES])
def test_invalid_file_fails_with_exactly_the_expected_message(path):
    expected = path.with_suffix(".expected").read_text(encoding="utf-8").rstrip("\n")
    with pytest.raises(InvalidInput) as raised:
        load_baseline(path)
    assert str(raised.value) == expected


# --------------------------------------------------------------------------- the examples


EXAMPLE_FILES = baseline_files(EXAMPLES)


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=[p.name for p in EXAMPLE_FILES])
def test_every_example_is_valid(path):
    assert load_baseline(path).source == f"include/baselines/{path.name}"


def test_examples_are_valid_as_a_set():
    baselines = load_baselines(EXAMPLES)
    registered = sorted((group, b.operating_system) for b in baselines for group in b.patch_groups)
    assert registered == [
        ("dev", "AMAZON_LINUX_2023"), ("dev", "UBUNTU"), ("dev", "WINDOWS"),
        ("legacy-ubuntu", "UBUNTU"), ("legacy-windows", "WINDOWS"),
        ("prod", "AMAZON_LINUX_2023"), ("prod", "UBUNTU"), ("prod", "WINDOWS"),
        ("test", "AMAZON_LINUX_2023"), ("test", "UBUNTU"), ("test", "WINDOWS"),
    ]


def test_seed_baseline():
    seed = load_baseline(EXAMPLES / "legacy-windows-2016.yaml")
    assert seed.to_create_kwargs() == {
        "Name": "MyCustomPatchBaseline",
        "OperatingSystem": "WINDOWS",
        "Description": "Windows Server 2016 - critical and security updates after 7 days",
        "GlobalFilters": {"PatchFilters": []},
        "ApprovalRules": {"PatchRules": [{
            "PatchFilterGroup": {"PatchFilters": [
                {"Key": "PRODUCT", "Values": ["WindowsServer2016"]},
                {"Key": "CLASSIFICATION", "Values": ["CriticalUpdates", "SecurityUpdates"]},
            ]},
            "ComplianceLevel": "UNSPECIFIED",
            "ApproveAfterDays": 7,
            "EnableNonSecurity": False,
        }]},
        "ApprovedPatches": [],
        "ApprovedPatchesComplianceLevel": "UNSPECIFIED",
        "RejectedPatches": [],
        "RejectedPatchesAction": "ALLOW_AS_DEPENDENCY",
    }
    assert seed.patch_groups == ("legacy-windows",)


@pytest.mark.parametrize("path", [p for p in EXAMPLE_FILES if not load_baseline(p).predefined], ids=lambda p: p.name)
def test_to_api_round_trips_through_the_export_spelling(path):
    baseline = load_baseline(path)
    exported = {"BaselineId": "pb-0123456789abcdef0", **baseline.to_api(), "Tags": [{"Key": k, "Value": v} for k, v in baseline.tags]}
    assert parse_baseline(json.loads(json.dumps(exported)), baseline.source) == baseline


# --------------------------------------------------------------------------- one shape, two spellings

YAML_FORM = """
name: prod-al2023
operating_system: AMAZON_LINUX_2023
description: Prod
global_filters: {PRODUCT: [AmazonLinux2023]}
approval_rules:
  - patch_filters: {CLASSIFICATION: [Security], SEVERITY: [Critical, Important]}
    approve_after_days: 14
    compliance_level: HIGH
  - patch_filters: [{key: CLASSIFICATION, values: [Bugfix]}]
    approve_until_date: 2026-11-30
    enable_non_security: true
approved_patches: [openssl-libs, CVE-2026-1234]
approved_patches_compliance_level: CRITICAL
approved_patches_enable_non_security: true
rejected_patches: [telnet*]
rejected_patches_action: BLOCK
sources:
  - {name: internal, products: [AmazonLinux2023], configuration: "[internal]\\nname=internal\\nbaseurl=https://repo.example.com\\nenabled=1"}
tags: {Owner: platform}
patch_groups: [prod, prod-eu]
default_for_os: true
"""

EXPORT_FORM = {
    "BaselineId": "pb-0123456789abcdef0",
    "Name": "prod-al2023",
    "OperatingSystem": "AMAZON_LINUX_2023",
    "GlobalFilters": {"PatchFilters": [{"Key": "PRODUCT", "Values": ["AmazonLinux2023"]}]},
    "ApprovalRules": {"PatchRules": [
        {"PatchFilterGroup": {"PatchFilters": [{"Key": "CLASSIFICATION", "Values": ["Security"]}, {"Key": "SEVERITY", "Values": ["Critical", "Important"]}]},
         "ComplianceLevel": "HIGH", "ApproveAfterDays": 14, "EnableNonSecurity": False},
        {"PatchFilterGroup": {"PatchFilters": [{"Key": "CLASSIFICATION", "Values": ["Bugfix"]}]},
         "ComplianceLevel": "UNSPECIFIED", "ApproveUntilDate": "2026-11-30", "EnableNonSecurity": True},
    ]},
    "ApprovedPatches": ["openssl-libs", "CVE-2026-1234"],
    "ApprovedPatchesComplianceLevel": "CRITICAL",
    "ApprovedPatchesEnableNonSecurity": True,
    "RejectedPatches": ["telnet*"],
    "RejectedPatchesAction": "BLOCK",
    "PatchGroups": ["prod", "prod-eu"],
    "CreatedDate": "2026-10-02T09:14:21.512000+00:00",
    "ModifiedDate": "2026-10-02T09:14:21.512000+00:00",
    "Description": "Prod",
    "Sources": [{"Name": "internal", "Products": ["AmazonLinux2023"], "Configuration": "[internal]\nname=internal\nbaseurl=https://repo.example.com\nenabled=1"}],
    "Tags": [{"Key": "Owner", "Value": "platform"}],
}

CANONICAL = Baseline(
    name="prod-al2023",
    operating_system="AMAZON_LINUX_2023",
    description="Prod",
    global_filters=(PatchFilter("PRODUCT", ("AmazonLinux2023",)),),
    approval_rules=(
        ApprovalRule((PatchFilter("CLASSIFICATION", ("Security",)), PatchFilter("SEVERITY", ("Critical", "Important"))), approve_after_days=14, compliance_level="HIGH"),
        ApprovalRule((PatchFilter("CLASSIFICATION", ("Bugfix",)),), approve_until_date="2026-11-30", enable_non_security=True),
    ),
    approved_patches=("openssl-libs", "CVE-2026-1234"),
    approved_patches_compliance_level="CRITICAL",
    approved_patches_enable_non_security=True,
    rejected_patches=("telnet*",),
    rejected_patches_action="BLOCK",
    sources=(PatchSource("internal", ("AmazonLinux2023",), "[internal]\nname=internal\nbaseurl=https://repo.example.com\nenabled=1"),),
    tags=(("Owner", "platform"),),
    patch_groups=("prod", "prod-eu"),
    default_for_os=True,
)


def test_yaml_spelling_normalises_to_the_canonical_baseline():
    assert parse_baseline(yaml.safe_load(YAML_FORM), "prod.yaml") == CANONICAL


def test_export_spelling_normalises_to_the_same_baseline_except_default():
    from dataclasses import replace

    assert parse_baseline(EXPORT_FORM, "prod.json") == replace(CANONICAL, default_for_os=False)


def test_update_kwargs_replace_everything_but_the_operating_system_and_tags():
    kwargs = CANONICAL.to_update_kwargs("pb-0123456789abcdef0")
    create = CANONICAL.to_create_kwargs(extra_tags={"managed-by": "patchflow"})
    assert kwargs == {
        "BaselineId": "pb-0123456789abcdef0",
        "Replace": True,
        **{k: v for k, v in create.items() if k not in ("OperatingSystem", "Tags")},
    }
    assert create["Tags"] == [{"Key": "Owner", "Value": "platform"}, {"Key": "managed-by", "Value": "patchflow"}]
    assert create["OperatingSystem"] == "AMAZON_LINUX_2023"


def test_to_api_is_get_patch_baseline_shaped():
    api = CANONICAL.to_api()
    expected = {k: v for k, v in EXPORT_FORM.items() if k not in ("BaselineId", "CreatedDate", "ModifiedDate", "Tags")}
    assert api == expected


def test_predefined_reference_is_registered_never_created():
    baseline = parse_baseline({"predefined": "AWS-DefaultPatchBaseline", "patch_groups": ["legacy"], "default_for_os": True}, "aws.yaml")
    assert (baseline.name, baseline.operating_system, baseline.predefined, baseline.patch_groups, baseline.default_for_os) == (
        "AWS-DefaultPatchBaseline", "WINDOWS", True, ("legacy",), True)
    with pytest.raises(ValueError, match="predefined AWS baseline"):
        baseline.to_create_kwargs()


# --------------------------------------------------------------------------- accepted values, per operating system

VALID_VARIANTS = [
    pytest.param({"operating_system": "WINDOWS", "approved_patches": ["KB2032276", "MS10-048"]}, id="windows-kb-and-bulletin"),
    pytest.param({"operating_system": "AMAZON_LINUX_2", "approved_patches": ["1234567", "CVE-2017-1000", "ALAS-2018-123", "RHSA-2017:0864", "pkg-0.710.10-2.7.abcd.x86_64", "kernel*"]}, id="yum-approved-id-kinds"),
    pytest.param({"operating_system": "REDHAT_ENTERPRISE_LINUX", "approved_patches": ["bash"], "rejected_patches": ["example-pkg-*.abcd.x86_64"]}, id="yum-rejected-wildcard"),
    pytest.param({"operating_system": "DEBIAN", "approved_patches": ["libc6", "g++-12"]}, id="apt-bare-names"),
    pytest.param({"operating_system": "MACOS", "approved_patches": ["XProtectPlistConfigData-5.2.8"]}, id="macos-full-name"),
    pytest.param({"operating_system": "SUSE", "approval_rules": [{"patch_filters": {"CLASSIFICATION": ["Yast"], "SEVERITY": ["Moderate"]}, "approve_after_days": 0}]}, id="suse-values"),
    pytest.param({"operating_system": "AMAZON_LINUX_2023", "approval_rules": [{"patch_filters": {"SEVERITY": ["None"]}, "approve_after_days": 360}]}, id="al2023-severity-none-360-days"),
    pytest.param({"operating_system": "UBUNTU", "approval_rules": [{"patch_filters": {"SECTION": ["libs"], "PRIORITY": ["*"]}}]}, id="ubuntu-section-free-text"),
    pytest.param({"operating_system": "WINDOWS", "approval_rules": [{"patch_filters": {"PATCH_SET": ["APPLICATION"], "PRODUCT_FAMILY": ["Office"]}, "approve_until_date": "2026-12-31"}]}, id="windows-patch-set"),
    pytest.param({"operating_system": "WINDOWS", "approval_rules": [{"patch_filters": [], "approve_after_days": 0, "enable_non_security": False}], "sources": [], "approved_patches_enable_non_security": False}, id="windows-export-defaults"),
    pytest.param({"operating_system": "WINDOWS", "approved_patches": ["KB2032276"], "description": ""}, id="empty-description-is-none"),
]


@pytest.mark.parametrize("fields", VALID_VARIANTS)
def test_valid_variants(fields):
    assert parse_baseline({"name": "variant", **fields}, "v.yaml").name == "variant"


def test_limits_are_inclusive():
    fields = {
        "name": "n" * 128,
        "operating_system": "AMAZON_LINUX_2023",
        "global_filters": {"PRODUCT": ["*"], "CLASSIFICATION": ["Security"], "SEVERITY": ["Low"]},
        "approval_rules": [{"patch_filters": {"PRODUCT": [f"P{i}" for i in range(20)]}, "approve_after_days": i} for i in range(10)],
        "approved_patches": [f"pkg{i}" for i in range(50)],
        "rejected_patches": [f"bad{i}" for i in range(50)],
        "sources": [{"name": f"repo{i:02d}", "products": ["AmazonLinux2023"], "configuration": "[r]"} for i in range(20)],
        "description": "d" * 1024,
    }
    baseline = parse_baseline(fields, "limits.yaml")
    assert (len(baseline.approval_rules), len(baseline.approved_patches), len(baseline.sources)) == (10, 50, 20)


# --------------------------------------------------------------------------- across files


def baseline(name, operating_system="WINDOWS", groups=(), default=False, source=None):
    return Baseline(name=name, operating_system=operating_system, patch_groups=tuple(groups), default_for_os=default, source=source or f"{name}.yaml")


SET_CASES = [
    pytest.param([baseline("a", groups=["dev"]), baseline("b", "UBUNTU", groups=["dev"]), baseline("c", "AMAZON_LINUX_2023", groups=["dev"])], [], id="one-group-three-os"),
    pytest.param([baseline("a", default=True), baseline("b", "UBUNTU", default=True)], [], id="one-default-per-os"),
    pytest.param(
        [baseline("same", source="a.yaml"), baseline("same", source="b.yaml")],
        ["b.yaml: name: expected a baseline name no other file uses (a.yaml uses it), got 'same'"],
        id="duplicate-name",
    ),
    pytest.param(
        [baseline("a", groups=["dev"]), baseline("b", groups=["test", "dev"])],
        ["b.yaml: patch_groups[1]: expected a patch group with no other WINDOWS baseline (a.yaml is registered for it), got 'dev'"],
        id="group-registered-twice-for-os",
    ),
    pytest.param(
        [baseline("a", "UBUNTU", default=True), baseline("b", "UBUNTU", default=True), baseline("c", "UBUNTU", default=True)],
        [
            "b.yaml: default_for_os: expected false (one default per operating system; a.yaml is the UBUNTU default), got True",
            "c.yaml: default_for_os: expected false (one default per operating system; a.yaml is the UBUNTU default), got True",
        ],
        id="three-defaults-for-os",
    ),
]


@pytest.mark.parametrize("baselines, expected", SET_CASES)
def test_check_baseline_set(baselines, expected):
    assert [str(p) for p in check_baseline_set(baselines)] == expected


def test_cross_file_problems_use_the_export_spelling_paths():
    exported = parse_baseline(dict(EXPORT_FORM, Name="other"), "export.json")
    assert [str(p) for p in check_baseline_set([parse_baseline(yaml.safe_load(YAML_FORM), "prod.yaml"), exported])] == [
        "export.json: PatchGroups[0]: expected a patch group with no other AMAZON_LINUX_2023 baseline (prod.yaml is registered for it), got 'prod'",
        "export.json: PatchGroups[1]: expected a patch group with no other AMAZON_LINUX_2023 baseline (prod.yaml is registered for it), got 'prod-eu'",
    ]


def test_load_baselines_reports_every_problem_of_every_file(tmp_path):
    (tmp_path / "a.yaml").write_text("name: dev-one\noperating_system: WINDOWS\napproved_patches: [KB2032276]\npatch_groups: [dev]\n")
    (tmp_path / "b.yaml").write_text("name: dev-two\noperating_system: WINDOWS\napproved_patches: [KB2032276]\npatch_groups: [dev]\n")
    (tmp_path / "c.yaml").write_text("name: broken\noperating_system: WINDOWS\n")
    (tmp_path / "notes.txt").write_text("not a baseline")
    with pytest.raises(InvalidInput) as raised:
        load_baselines(tmp_path)
    assert str(raised.value).replace(f"{tmp_path}/", "") == "\n".join([
        "c.yaml: approval_rules: expected approval rules or approved patches (approved_patches), got nothing",
        "b.yaml: patch_groups[0]: expected a patch group with no other WINDOWS baseline (a.yaml is registered for it), got 'dev'",
    ])
