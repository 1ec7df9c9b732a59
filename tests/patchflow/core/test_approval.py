"""Patch approval against a baseline, as tables (ssm-reference section 2)."""
from datetime import datetime, timezone

import pytest

from patchflow.core.approval import Decision, approved_patches, evaluate
from patchflow.core.catalog import Patch, load_catalog

RELEASED = datetime(2025, 11, 9, 18, 0, tzinfo=timezone.utc)
SEVEN_DAYS_LATER = datetime(2025, 11, 16, 18, 0, tzinfo=timezone.utc)
ONE_MINUTE_EARLY = datetime(2025, 11, 16, 17, 59, tzinfo=timezone.utc)


def al2023(patch_id="openssl-libs.x86_64", **kwargs):
    values = dict(
        id=patch_id, title=patch_id, operating_system="AMAZON_LINUX_2023", product="AmazonLinux2023", classification="Security",
        severity="Important", release_date=RELEASED, cve_ids=("CVE-2025-1234",), kb_id="ALAS2023-2025-900", version="1:3.0.8-1.amzn2023.0.14",
    )
    values.update(kwargs)
    return Patch(**values)


def ubuntu(patch_id="libssl3", **kwargs):
    values = dict(
        id=patch_id, title=patch_id, operating_system="UBUNTU", product="Ubuntu22.04", classification="", severity="",
        release_date=RELEASED, priority="Important", section="libs", kb_id="USN-7000-1",
    )
    values.update(kwargs)
    return Patch(**values)


def windows(**kwargs):
    values = dict(
        id="KB5044281", title="2025-11 Cumulative Update (KB5044281)", operating_system="WINDOWS", product="WindowsServer2022",
        classification="SecurityUpdates", severity="Critical", release_date=RELEASED, kb_id="KB5044281", product_family="Windows",
    )
    values.update(kwargs)
    return Patch(**values)


def rule(filters, **kwargs):
    return {"PatchFilterGroup": {"PatchFilters": [{"Key": k, "Values": v} for k, v in filters.items()]}, **kwargs}


def baseline(rules=(), operating_system="AMAZON_LINUX_2023", **kwargs):
    return {"OperatingSystem": operating_system, "GlobalFilters": {"PatchFilters": []}, "ApprovalRules": {"PatchRules": list(rules)}, **kwargs}


def at(text):
    return datetime.strptime(text, "%Y-%m-%dT%H:%M").replace(tzinfo=timezone.utc)


SECURITY_AFTER_7 = baseline([rule({"CLASSIFICATION": ["Security"], "SEVERITY": ["Critical", "Important"]}, ApproveAfterDays=7, ComplianceLevel="HIGH")])
ANYTHING_NOW = rule({"PRODUCT": ["*"]}, ApproveAfterDays=0)
WINDOWS_DEFAULT = baseline(
    [rule({"MSRC_SEVERITY": ["Critical", "Important"], "CLASSIFICATION": ["SecurityUpdates", "CriticalUpdates"]}, ApproveAfterDays=7)],
    operating_system="WINDOWS",
)
TWO_RULES = baseline([
    rule({"SEVERITY": ["Critical"]}, ApproveAfterDays=0, ComplianceLevel="CRITICAL"),
    rule({"CLASSIFICATION": ["Security"]}, ApproveAfterDays=3, ComplianceLevel="MEDIUM"),
])
SLOW_THEN_FAST = baseline([
    rule({"CLASSIFICATION": ["Security"]}, ApproveAfterDays=14, ComplianceLevel="HIGH"),
    rule({"SEVERITY": ["Important"]}, ApproveAfterDays=2, ComplianceLevel="LOW"),
])

# (id, baseline, patch, on, (approved, rejected, compliance_level, reason))
CASES = [
    # dates: release timestamp + N days, UTC (reference 2.2 example)
    ("after-days-7-exactly-at-release-plus-7", SECURITY_AFTER_7, al2023(), SEVEN_DAYS_LATER, (True, False, "HIGH", "approval rule 1")),
    ("after-days-7-one-minute-early", SECURITY_AFTER_7, al2023(), ONE_MINUTE_EARLY, (False, False, "UNSPECIFIED", "rule 1 approves on 2025-11-16")),
    ("after-days-0-immediately", baseline([ANYTHING_NOW]), al2023(), RELEASED, (True, False, "UNSPECIFIED", "approval rule 1")),
    ("after-days-0-not-before-release", baseline([ANYTHING_NOW]), al2023(), at("2025-11-09T17:59"), (False, False, "UNSPECIFIED", "rule 1 approves on 2025-11-09")),
    ("naive-on-is-utc", SECURITY_AFTER_7, al2023(), datetime(2025, 11, 16, 18, 0), (True, False, "HIGH", "approval rule 1")),
    ("until-date-includes-whole-day", baseline([rule({"PRODUCT": ["*"]}, ApproveUntilDate="2025-11-09")]), al2023(), SEVEN_DAYS_LATER, (True, False, "UNSPECIFIED", "approval rule 1")),
    ("until-date-last-second-of-day", baseline([rule({"PRODUCT": ["*"]}, ApproveUntilDate="2025-11-09")]), al2023(release_date=at("2025-11-09T23:59")), SEVEN_DAYS_LATER, (True, False, "UNSPECIFIED", "approval rule 1")),
    ("until-date-before-release", baseline([rule({"PRODUCT": ["*"]}, ApproveUntilDate="2025-11-08")]), al2023(), SEVEN_DAYS_LATER, (False, False, "UNSPECIFIED", "no approval rule matches")),
    # rule order: any rule approves; the first approving rule names the reason and level
    ("rule-order-first-approving-rule-wins", TWO_RULES, al2023(severity="Critical"), SEVEN_DAYS_LATER, (True, False, "CRITICAL", "approval rule 1")),
    ("rule-order-second-rule-approves", TWO_RULES, al2023(), SEVEN_DAYS_LATER, (True, False, "MEDIUM", "approval rule 2")),
    ("rule-order-later-rule-approves-sooner", SLOW_THEN_FAST, al2023(), at("2025-11-12T18:00"), (True, False, "LOW", "approval rule 2")),
    ("rule-order-earlier-rule-once-both-approve", SLOW_THEN_FAST, al2023(), at("2025-11-23T18:00"), (True, False, "HIGH", "approval rule 1")),
    ("pending-names-the-soonest-rule", SLOW_THEN_FAST, al2023(), RELEASED, (False, False, "UNSPECIFIED", "rule 2 approves on 2025-11-11")),
    # filters: keys ANDed, values ORed, wildcard
    ("keys-anded-severity-not-listed", SECURITY_AFTER_7, al2023(severity="Low"), SEVEN_DAYS_LATER, (False, False, "UNSPECIFIED", "no approval rule matches")),
    ("values-ored", SECURITY_AFTER_7, al2023(severity="Critical"), SEVEN_DAYS_LATER, (True, False, "HIGH", "approval rule 1")),
    ("value-wildcard-prefix", baseline([rule({"PRODUCT": ["AmazonLinux*"]}, ApproveAfterDays=0)]), al2023(), RELEASED, (True, False, "UNSPECIFIED", "approval rule 1")),
    ("filter-values-case-insensitive", baseline([rule({"CLASSIFICATION": ["security"]}, ApproveAfterDays=0)]), al2023(), RELEASED, (True, False, "UNSPECIFIED", "approval rule 1")),
    ("al2023-medium-matches-moderate", baseline([rule({"SEVERITY": ["Medium"]}, ApproveAfterDays=0)]), al2023(severity="Moderate"), RELEASED, (True, False, "UNSPECIFIED", "approval rule 1")),
    ("global-filters-exclude", baseline([ANYTHING_NOW], GlobalFilters={"PatchFilters": [{"Key": "SEVERITY", "Values": ["Critical"]}]}), al2023(), RELEASED, (False, False, "UNSPECIFIED", "excluded by global filters")),
    ("global-filters-keep", baseline([ANYTHING_NOW], GlobalFilters={"PatchFilters": [{"Key": "PRODUCT", "Values": ["AmazonLinux2023"]}]}), al2023(), RELEASED, (True, False, "UNSPECIFIED", "approval rule 1")),
    ("no-rules-approves-nothing", baseline(), al2023(), RELEASED, (False, False, "UNSPECIFIED", "no approval rule matches")),
    # EnableNonSecurity on Linux
    ("non-security-needs-enable-non-security", baseline([ANYTHING_NOW]), al2023(security=False), RELEASED, (False, False, "UNSPECIFIED", "rule 1 matches, but not a security update and EnableNonSecurity is false")),
    ("enable-non-security", baseline([rule({"PRODUCT": ["*"]}, ApproveAfterDays=0, EnableNonSecurity=True)]), al2023(security=False), RELEASED, (True, False, "UNSPECIFIED", "approval rule 1")),
    ("ubuntu-no-date-condition", baseline([rule({"PRIORITY": ["Required", "Important"]})], "UBUNTU"), ubuntu(), RELEASED, (True, False, "UNSPECIFIED", "approval rule 1")),
    ("ubuntu-non-security-pocket", baseline([rule({"PRIORITY": ["Important"]})], "UBUNTU"), ubuntu(security=False), RELEASED, (False, False, "UNSPECIFIED", "rule 1 matches, but not a security update and EnableNonSecurity is false")),
    ("ubuntu-section-filter", baseline([rule({"SECTION": ["libs"]}, EnableNonSecurity=True)], "UBUNTU"), ubuntu(security=False), RELEASED, (True, False, "UNSPECIFIED", "approval rule 1")),
    ("windows-has-no-security-gate", baseline([rule({"CLASSIFICATION": ["Updates"]}, ApproveAfterDays=0)], "WINDOWS"), windows(classification="Updates", security=False), RELEASED, (True, False, "UNSPECIFIED", "approval rule 1")),
    # approved patch list: added regardless of filters, with its own compliance level
    ("approved-list-bypasses-global-filters", baseline(ApprovedPatches=["openssl-libs.x86_64"], ApprovedPatchesComplianceLevel="CRITICAL", GlobalFilters={"PatchFilters": [{"Key": "SEVERITY", "Values": ["Low"]}]}), al2023(), RELEASED, (True, False, "CRITICAL", "approved patch list")),
    ("approved-list-before-rule-date", baseline([rule({"PRODUCT": ["*"]}, ApproveAfterDays=30, ComplianceLevel="LOW")], ApprovedPatches=["openssl-libs"], ApprovedPatchesComplianceLevel="HIGH"), al2023(), RELEASED, (True, False, "HIGH", "approved patch list")),
    ("approved-list-one-wildcard", baseline(ApprovedPatches=["openssl-*"]), al2023(), RELEASED, (True, False, "UNSPECIFIED", "approved patch list")),
    ("approved-list-full-package-name", baseline(ApprovedPatches=["openssl-libs-3.0.8-1.amzn2023.0.14.x86_64"]), al2023(), RELEASED, (True, False, "UNSPECIFIED", "approved patch list")),
    # every construction of "Package name formats for approved and rejected patch lists", on both lists
    ("approved-list-name-version", baseline(ApprovedPatches=["openssl-libs-3.0.8"]), al2023(), RELEASED, (True, False, "UNSPECIFIED", "approved patch list")),
    ("approved-list-epoch-version-release", baseline(ApprovedPatches=["1:3.0.8-1.amzn2023.0.14"]), al2023(), RELEASED, (True, False, "UNSPECIFIED", "approved patch list")),
    ("approved-list-name-arch-epoch-version-release", baseline(ApprovedPatches=["openssl-libs.x86_64:1:3.0.8-1.amzn2023.0.14"]), al2023(), RELEASED, (True, False, "UNSPECIFIED", "approved patch list")),
    ("approved-list-wildcard-in-epoch-form", baseline(ApprovedPatches=["openssl-libs-*:3.0.8-1.amzn2023.0.14.x86_64"]), al2023(), RELEASED, (True, False, "UNSPECIFIED", "approved patch list")),
    ("approved-list-numbers-only-is-bugzilla", baseline(ApprovedPatches=["608"]), al2023("less.x86_64", version="0:608-2.amzn2023.0.4"), RELEASED, (False, False, "UNSPECIFIED", "no approval rule matches")),
    ("rejected-list-name-epoch-version-release-arch", baseline([ANYTHING_NOW], RejectedPatches=["openssl-libs-1:3.0.8-1.amzn2023.0.14.x86_64"]), al2023(), RELEASED, (False, True, "UNSPECIFIED", "rejected patch list (ALLOW_AS_DEPENDENCY)")),
    ("rejected-list-name-version-release", baseline([ANYTHING_NOW], RejectedPatches=["openssl-libs-3.0.8-1.amzn2023.0.14"]), al2023(), RELEASED, (False, True, "UNSPECIFIED", "rejected patch list (ALLOW_AS_DEPENDENCY)")),
    ("approved-list-cve", baseline(ApprovedPatches=["CVE-2025-1234"]), al2023(), RELEASED, (True, False, "UNSPECIFIED", "approved patch list")),
    ("approved-list-advisory", baseline(ApprovedPatches=["ALAS2023-2025-900"]), al2023(), RELEASED, (True, False, "UNSPECIFIED", "approved patch list")),
    ("approved-list-other-package", baseline(ApprovedPatches=["curl"]), al2023(), RELEASED, (False, False, "UNSPECIFIED", "no approval rule matches")),
    ("approved-list-non-security-blocked", baseline(ApprovedPatches=["openssl-libs"]), al2023(security=False), RELEASED, (False, False, "UNSPECIFIED", "approved patch list, but not a security update and ApprovedPatchesEnableNonSecurity is false")),
    ("approved-list-enable-non-security", baseline(ApprovedPatches=["openssl-libs"], ApprovedPatchesEnableNonSecurity=True), al2023(security=False), RELEASED, (True, False, "UNSPECIFIED", "approved patch list")),
    ("approved-list-apt-bare-name", baseline(ApprovedPatches=["libssl3"], operating_system="UBUNTU"), ubuntu(), RELEASED, (True, False, "UNSPECIFIED", "approved patch list")),
    ("approved-list-apt-no-wildcards", baseline(ApprovedPatches=["libssl*"], operating_system="UBUNTU"), ubuntu(), RELEASED, (False, False, "UNSPECIFIED", "no approval rule matches")),
    ("approved-list-windows-kb", baseline(ApprovedPatches=["KB5044281"], operating_system="WINDOWS", ApprovedPatchesComplianceLevel="MEDIUM"), windows(severity="Low"), RELEASED, (True, False, "MEDIUM", "approved patch list")),
    # rejected patch list: removes, wins over the approved list, reports its action
    ("rejected-wins-over-approved-list", baseline([ANYTHING_NOW], ApprovedPatches=["openssl-libs"], RejectedPatches=["openssl-libs"]), al2023(), RELEASED, (False, True, "UNSPECIFIED", "rejected patch list (ALLOW_AS_DEPENDENCY)")),
    ("rejected-block", baseline([ANYTHING_NOW], RejectedPatches=["openssl-*"], RejectedPatchesAction="BLOCK"), al2023(), RELEASED, (False, True, "UNSPECIFIED", "rejected patch list (BLOCK)")),
    ("rejected-allow-as-dependency-default", baseline([ANYTHING_NOW], RejectedPatches=["openssl-libs"]), al2023(), RELEASED, (False, True, "UNSPECIFIED", "rejected patch list (ALLOW_AS_DEPENDENCY)")),
    ("rejected-list-ignores-cve", baseline([ANYTHING_NOW], RejectedPatches=["CVE-2025-1234"]), al2023(), RELEASED, (True, False, "UNSPECIFIED", "approval rule 1")),
    ("rejected-windows-kb", baseline(RejectedPatches=["kb5044281"], operating_system="WINDOWS", RejectedPatchesAction="BLOCK"), windows(), SEVEN_DAYS_LATER, (False, True, "UNSPECIFIED", "rejected patch list (BLOCK)")),
    # Windows default rule
    ("windows-default-after-7-days", WINDOWS_DEFAULT, windows(), SEVEN_DAYS_LATER, (True, False, "UNSPECIFIED", "approval rule 1")),
    ("windows-low-severity", WINDOWS_DEFAULT, windows(severity="Low"), SEVEN_DAYS_LATER, (False, False, "UNSPECIFIED", "no approval rule matches")),
    # applications released by Microsoft: only rules (or global filters) naming PATCH_SET take them
    ("windows-default-skips-applications", WINDOWS_DEFAULT, windows(id="KB5044300", kb_id="KB5044300", product="MicrosoftEdge", product_family="Microsoft Edge", patch_set="APPLICATION"), SEVEN_DAYS_LATER, (False, False, "UNSPECIFIED", "no approval rule matches")),
    ("windows-patch-set-application", baseline([rule({"PATCH_SET": ["APPLICATION"], "PRODUCT": ["MicrosoftEdge"]}, ApproveAfterDays=0)], "WINDOWS"), windows(id="KB5044300", kb_id="KB5044300", product="MicrosoftEdge", product_family="Microsoft Edge", patch_set="APPLICATION"), RELEASED, (True, False, "UNSPECIFIED", "approval rule 1")),
    ("windows-patch-set-in-global-filters", baseline([rule({"PRODUCT": ["MicrosoftEdge"]}, ApproveAfterDays=0)], "WINDOWS", GlobalFilters={"PatchFilters": [{"Key": "PATCH_SET", "Values": ["APPLICATION"]}]}), windows(id="KB5044300", kb_id="KB5044300", product="MicrosoftEdge", product_family="Microsoft Edge", patch_set="APPLICATION"), RELEASED, (True, False, "UNSPECIFIED", "approval rule 1")),
    ("other-operating-system", WINDOWS_DEFAULT, al2023(), SEVEN_DAYS_LATER, (False, False, "UNSPECIFIED", "baseline is for WINDOWS, patch is for AMAZON_LINUX_2023")),
]


@pytest.mark.parametrize("base, patch, on, expected", [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_evaluate(base, patch, on, expected):
    approved, rejected, level, reason = expected
    assert evaluate(base, patch, on) == Decision(patch, approved, rejected, level, reason)


def test_approved_patches_keeps_only_approved_in_catalog_order():
    patches = [al2023("a.x86_64"), al2023("b.x86_64", severity="Low"), al2023("c.x86_64")]
    assert [(d.patch.id, d.reason) for d in approved_patches(SECURITY_AFTER_7, patches, SEVEN_DAYS_LATER)] == [
        ("a.x86_64", "approval rule 1"),
        ("c.x86_64", "approval rule 1"),
    ]


@pytest.mark.parametrize("operating_system", ["AMAZON_LINUX_2023", "UBUNTU", "WINDOWS"])
def test_catalog_evaluates_without_errors(operating_system):
    catalog = load_catalog(operating_system)
    # On Windows, applications are approved only by rules that name PATCH_SET (see windows-default-skips-applications).
    filters = {"PRODUCT": ["*"], **({"PATCH_SET": ["*"]} if operating_system == "WINDOWS" else {})}
    everything = baseline([rule(filters, EnableNonSecurity=True)], operating_system)
    assert len(approved_patches(everything, catalog, datetime(2030, 1, 1, tzinfo=timezone.utc))) == len(catalog)
