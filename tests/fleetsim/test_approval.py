"""fleetsim's approval of a patch by a baseline, as tables; every case cites the AWS text it follows
(or, for the choices AWS leaves open, the row of FIDELITY.md's "Behaviours AWS leaves open")."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone

import pytest

from fleetsim.approval import Approval, approval, rpm_names
from fleetsim.catalog import Patch
from fleetsim.clock import SimClock
from fleetsim.runcommand import RunCommand

# The instants of the PatchRule reference's own example: released 2025-11-09T18:00:00Z, ApproveAfterDays 7.
RELEASED = datetime(2025, 11, 9, 18, 0, tzinfo=timezone.utc)
SEVEN_DAYS_ON = datetime(2025, 11, 16, 18, 0, tzinfo=timezone.utc)
A_SECOND_EARLY = datetime(2025, 11, 16, 17, 59, 59, tzinfo=timezone.utc)
MUCH_LATER = datetime(2026, 6, 1, tzinfo=timezone.utc)


def at(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)


# The package the "Package name formats" page builds its examples from: dbus.x86_64:1:1.12.28-1.amzn2023.0.1.
DBUS = Patch(id="dbus.x86_64", title="dbus.x86_64:1:1.12.28-1.amzn2023.0.1", operating_system="AMAZON_LINUX_2023",
             product="AmazonLinux2023", classification="Security", severity="Important", release_date=RELEASED,
             cve_ids=("CVE-2025-1111",), kb_id="ALAS2023-2025-123", version="1:1.12.28-1.amzn2023.0.1")
BUGFIX = replace(DBUS, id="chrony.x86_64", classification="Bugfix", severity="None", security=False, kb_id="", cve_ids=(),
                 version="0:4.3-1.amzn2023.0.5")
MODERATE = replace(DBUS, severity="Moderate")
LESS = replace(DBUS, id="less.x86_64", version="0:608-2.amzn2023.0.4", kb_id="ALAS2023-2025-124", cve_ids=())
LIBSSL = Patch(id="libssl3", title="libssl3.amd64:3.0.2-0ubuntu1.18", operating_system="UBUNTU", product="Ubuntu22.04",
               classification="", severity="", release_date=RELEASED, priority="Important", section="libs", kb_id="USN-7001-1",
               version="3.0.2-0ubuntu1.18")
SNAPD = replace(LIBSSL, id="snapd", priority="Optional", section="devel", security=False, kb_id="")
CUMULATIVE = Patch(id="KB5044281", title="2025-11 Cumulative Update (KB5044281)", operating_system="WINDOWS",
                   product="WindowsServer2022", classification="SecurityUpdates", severity="Critical", release_date=RELEASED,
                   product_family="Windows", kb_id="KB5044281")
EDGE = replace(CUMULATIVE, id="KB5044300", kb_id="KB5044300", product="MicrosoftEdge", product_family="Microsoft Edge",
               patch_set="APPLICATION", severity="Moderate")
TOOL = replace(CUMULATIVE, id="KB5044310", kb_id="KB5044310", classification="Updates", severity="Unspecified", security=False)


def rule(filters: dict, **fields) -> dict:
    return {"PatchFilterGroup": {"PatchFilters": [{"Key": key, "Values": values} for key, values in filters.items()]}, **fields}


def baseline(rules=(), operating_system="AMAZON_LINUX_2023", **fields) -> dict:
    return {"OperatingSystem": operating_system, "GlobalFilters": {"PatchFilters": []}, "ApprovalRules": {"PatchRules": list(rules)}, **fields}


SECURITY_AFTER_7 = baseline([rule({"CLASSIFICATION": ["Security"], "SEVERITY": ["Critical", "Important"]}, ApproveAfterDays=7, ComplianceLevel="HIGH")])
EVERYTHING_AT_ONCE = rule({"PRODUCT": ["*"]}, ApproveAfterDays=0)
UNTIL_16TH = baseline([rule({"PRODUCT": ["*"]}, ApproveUntilDate="2025-11-16")])
SLOW_THEN_FAST = baseline([
    rule({"CLASSIFICATION": ["Security"]}, ApproveAfterDays=14, ComplianceLevel="HIGH"),
    rule({"SEVERITY": ["Important"]}, ApproveAfterDays=2, ComplianceLevel="LOW"),
])
WINDOWS_CRITICAL_SECURITY = baseline([rule({"CLASSIFICATION": ["SecurityUpdates"], "MSRC_SEVERITY": ["Critical", "Moderate"]},
                                           ApproveAfterDays=0, ComplianceLevel="CRITICAL")], "WINDOWS")

APPROVED_BY_RULE_1 = Approval(True, False, "UNSPECIFIED", "approval rule 1")
NO_RULE = Approval(False, False, "UNSPECIFIED", "no approval rule approves it")

# (id, baseline, patch, at, expected)
CASES = [
    # PatchRule.ApproveAfterDays: "released at 2025-11-09T18:00:00Z ... approved after 2025-11-16T18:00:00Z" (UTC).
    ("after-days-7-approved-at-release-plus-7-days", SECURITY_AFTER_7, DBUS, SEVEN_DAYS_ON, Approval(True, False, "HIGH", "approval rule 1")),
    ("after-days-7-not-a-second-earlier", SECURITY_AFTER_7, DBUS, A_SECOND_EARLY, NO_RULE),
    ("naive-instant-is-utc", SECURITY_AFTER_7, DBUS, SEVEN_DAYS_ON.replace(tzinfo=None), Approval(True, False, "HIGH", "approval rule 1")),
    ("after-days-0-at-release", baseline([EVERYTHING_AT_ONCE]), DBUS, RELEASED, APPROVED_BY_RULE_1),
    ("unreleased-patch-is-in-no-repository", baseline([EVERYTHING_AT_ONCE], ApprovedPatches=["dbus"]), DBUS, at("2025-11-09T17:59:59"),
     Approval(False, False, "UNSPECIFIED", "not released until 2025-11-09T18:00:00Z")),
    # PatchRule.ApproveUntilDate: "2025-11-16 ... patches released between 2025-11-16T00:00:00Z and 2025-11-16T23:59:59Z".
    ("until-date-includes-its-first-second", UNTIL_16TH, replace(DBUS, release_date=at("2025-11-16T00:00:00")), MUCH_LATER, APPROVED_BY_RULE_1),
    ("until-date-includes-its-last-second", UNTIL_16TH, replace(DBUS, release_date=at("2025-11-16T23:59:59")), MUCH_LATER, APPROVED_BY_RULE_1),
    ("until-date-excludes-the-next-day", UNTIL_16TH, replace(DBUS, release_date=at("2025-11-17T00:00:00")), MUCH_LATER, NO_RULE),
    ("until-date-approves-from-release", UNTIL_16TH, DBUS, RELEASED, APPROVED_BY_RULE_1),
    # "About predefined and custom patch baselines": on both lists means rejected; RejectedPatchesAction is only reported.
    ("rejected-wins-over-approved-list", baseline([EVERYTHING_AT_ONCE], ApprovedPatches=["dbus"], RejectedPatches=["dbus"]), DBUS, MUCH_LATER,
     Approval(False, True, "UNSPECIFIED", "RejectedPatches names it ('dbus', ALLOW_AS_DEPENDENCY)")),
    ("rejected-block", baseline([EVERYTHING_AT_ONCE], RejectedPatches=["dbus*"], RejectedPatchesAction="BLOCK"), DBUS, MUCH_LATER,
     Approval(False, True, "UNSPECIFIED", "RejectedPatches names it ('dbus*', BLOCK)")),
    ("rejected-allow-as-dependency", baseline([EVERYTHING_AT_ONCE], RejectedPatches=["dbus.x86_64"], RejectedPatchesAction="ALLOW_AS_DEPENDENCY"),
     DBUS, MUCH_LATER, Approval(False, True, "UNSPECIFIED", "RejectedPatches names it ('dbus.x86_64', ALLOW_AS_DEPENDENCY)")),
    ("rejected-before-release-too", baseline(RejectedPatches=["dbus"]), DBUS, at("2025-01-01T00:00:00"),
     Approval(False, True, "UNSPECIFIED", "RejectedPatches names it ('dbus', ALLOW_AS_DEPENDENCY)")),
    # "Package name formats": rejected lists take package names only, not CVE or advisory ids.
    ("rejected-list-takes-no-cve", baseline([EVERYTHING_AT_ONCE], RejectedPatches=["CVE-2025-1111"]), DBUS, MUCH_LATER, APPROVED_BY_RULE_1),
    ("rejected-list-takes-no-advisory", baseline([EVERYTHING_AT_ONCE], RejectedPatches=["ALAS2023-2025-123"]), DBUS, MUCH_LATER, APPROVED_BY_RULE_1),
    # EnableNonSecurity: "enables a patch baseline to apply non-security updates ... Applies to Linux managed nodes only."
    ("linux-non-security-needs-enable-non-security", baseline([EVERYTHING_AT_ONCE]), BUGFIX, MUCH_LATER, NO_RULE),
    ("linux-enable-non-security", baseline([rule({"PRODUCT": ["*"]}, ApproveAfterDays=0, EnableNonSecurity=True)]), BUGFIX, MUCH_LATER, APPROVED_BY_RULE_1),
    ("ubuntu-non-security-pocket-needs-enable-non-security", baseline([rule({"PRIORITY": ["Optional"]})], "UBUNTU"), SNAPD, MUCH_LATER, NO_RULE),
    ("windows-is-not-subject-to-the-security-restriction", baseline([rule({"CLASSIFICATION": ["Updates"]}, ApproveAfterDays=0)], "WINDOWS"),
     TOOL, MUCH_LATER, APPROVED_BY_RULE_1),
    # "How patches are installed": ApprovedPatches are approved even when GlobalFilters or no rule would; Linux: security only
    # unless ApprovedPatchesEnableNonSecurity; they take ApprovedPatchesComplianceLevel.
    ("approved-list-past-global-filters", baseline(ApprovedPatches=["dbus"], ApprovedPatchesComplianceLevel="CRITICAL",
                                                   GlobalFilters={"PatchFilters": [{"Key": "SEVERITY", "Values": ["Low"]}]}),
     DBUS, RELEASED, Approval(True, False, "CRITICAL", "ApprovedPatches names it ('dbus')")),
    ("approved-list-level-over-rule-level", baseline([rule({"PRODUCT": ["*"]}, ApproveAfterDays=0, ComplianceLevel="LOW")],
                                                     ApprovedPatches=["CVE-2025-1111"], ApprovedPatchesComplianceLevel="HIGH"),
     DBUS, MUCH_LATER, Approval(True, False, "HIGH", "ApprovedPatches names it ('CVE-2025-1111')")),
    ("approved-list-advisory", baseline(ApprovedPatches=["ALAS2023-2025-123"]), DBUS, MUCH_LATER,
     Approval(True, False, "UNSPECIFIED", "ApprovedPatches names it ('ALAS2023-2025-123')")),
    ("approved-list-non-security-refused", baseline(ApprovedPatches=["chrony"]), BUGFIX, MUCH_LATER,
     Approval(False, False, "UNSPECIFIED", "ApprovedPatches names it ('chrony'), but it is no security update and ApprovedPatchesEnableNonSecurity is false")),
    ("approved-list-non-security-allowed", baseline(ApprovedPatches=["chrony"], ApprovedPatchesEnableNonSecurity=True), BUGFIX, MUCH_LATER,
     Approval(True, False, "UNSPECIFIED", "ApprovedPatches names it ('chrony')")),
    ("approved-list-non-security-still-approved-by-a-rule", baseline([rule({"PRODUCT": ["*"]}, ApproveAfterDays=0, EnableNonSecurity=True, ComplianceLevel="LOW")],
                                                                     ApprovedPatches=["chrony"], ApprovedPatchesComplianceLevel="HIGH"),
     BUGFIX, MUCH_LATER, Approval(True, False, "LOW", "approval rule 1")),
    ("numbers-only-entry-is-a-bugzilla-id-not-a-version", baseline(ApprovedPatches=["608"]), LESS, MUCH_LATER, NO_RULE),
    ("version-release-entry-of-a-numbers-only-version", baseline(ApprovedPatches=["608-2.amzn2023.0.4"]), LESS, MUCH_LATER,
     Approval(True, False, "UNSPECIFIED", "ApprovedPatches names it ('608-2.amzn2023.0.4')")),
    ("approved-list-apt-bare-name", baseline(ApprovedPatches=["libssl3"], operating_system="UBUNTU"), LIBSSL, MUCH_LATER,
     Approval(True, False, "UNSPECIFIED", "ApprovedPatches names it ('libssl3')")),
    ("approved-list-apt-no-architecture", baseline(ApprovedPatches=["libssl3.amd64"], operating_system="UBUNTU"), LIBSSL, MUCH_LATER, NO_RULE),
    ("approved-list-windows-kb", baseline(ApprovedPatches=["KB5044281"], ApprovedPatchesComplianceLevel="MEDIUM", operating_system="WINDOWS"),
     CUMULATIVE, MUCH_LATER, Approval(True, False, "MEDIUM", "ApprovedPatches names it ('KB5044281')")),
    # PatchFilter: "exact values for the patch property ... or a wildcard (*), which matches all values"; keys ANDed, values ORed.
    ("filter-keys-anded", SECURITY_AFTER_7, replace(DBUS, severity="Low"), MUCH_LATER, NO_RULE),
    ("filter-values-ored", SECURITY_AFTER_7, replace(DBUS, severity="Critical"), MUCH_LATER, Approval(True, False, "HIGH", "approval rule 1")),
    ("filter-star-matches-all", baseline([rule({"SEVERITY": ["*"]}, ApproveAfterDays=0)]), replace(BUGFIX, security=True),
     MUCH_LATER, APPROVED_BY_RULE_1),
    ("filter-value-is-exact-case", baseline([rule({"CLASSIFICATION": ["security"]}, ApproveAfterDays=0)]), DBUS, MUCH_LATER, NO_RULE),
    ("filter-value-partial-wildcard-is-literal", baseline([rule({"PRODUCT": ["AmazonLinux*"]}, ApproveAfterDays=0)]), DBUS, MUCH_LATER, NO_RULE),
    ("filter-key-the-os-lacks-approves-nothing", baseline([rule({"MSRC_SEVERITY": ["*"]}, ApproveAfterDays=0)]), DBUS, MUCH_LATER, NO_RULE),
    ("global-filters-leave-out", baseline([EVERYTHING_AT_ONCE], GlobalFilters={"PatchFilters": [{"Key": "SEVERITY", "Values": ["Critical"]}]}),
     DBUS, MUCH_LATER, Approval(False, False, "UNSPECIFIED", "GlobalFilters leave it out")),
    ("global-filters-keep", baseline([EVERYTHING_AT_ONCE], GlobalFilters={"PatchFilters": [{"Key": "PRODUCT", "Values": ["AmazonLinux2023"]}]}),
     DBUS, MUCH_LATER, APPROVED_BY_RULE_1),
    ("no-rules-approve-nothing", baseline(), DBUS, MUCH_LATER, NO_RULE),
    # "How patches are installed" (Amazon Linux 2022/2023): a Medium severity filter also takes Moderate patches.
    ("al2023-medium-filter-takes-moderate", baseline([rule({"SEVERITY": ["Medium"]}, ApproveAfterDays=0)]), MODERATE, MUCH_LATER, APPROVED_BY_RULE_1),
    ("al2023-moderate-filter-takes-only-moderate", baseline([rule({"SEVERITY": ["Moderate"]}, ApproveAfterDays=0)]), replace(DBUS, severity="Medium"),
     MUCH_LATER, NO_RULE),
    # Any rule may approve; the first approving one in list order gives the level (FIDELITY.md, open behaviours).
    ("later-rule-approves-sooner", SLOW_THEN_FAST, DBUS, at("2025-11-11T18:00:00"), Approval(True, False, "LOW", "approval rule 2")),
    ("first-rule-once-both-approve", SLOW_THEN_FAST, DBUS, at("2025-11-23T18:00:00"), Approval(True, False, "HIGH", "approval rule 1")),
    # "About predefined and custom patch baselines": Debian/Ubuntu support no auto-approval delay; apt rules have no date condition.
    ("ubuntu-approved-on-release", baseline([rule({"PRIORITY": ["Important"]})], "UBUNTU"), LIBSSL, RELEASED, APPROVED_BY_RULE_1),
    ("ubuntu-ignores-a-date-condition", baseline([rule({"PRIORITY": ["Important"]}, ApproveAfterDays=30)], "UBUNTU"), LIBSSL, RELEASED, APPROVED_BY_RULE_1),
    # "About patching applications released by Microsoft": a rule without PATCH_SET covers the operating system only.
    ("windows-rule-without-patch-set-skips-applications", WINDOWS_CRITICAL_SECURITY, EDGE, MUCH_LATER, NO_RULE),
    ("windows-rule-without-patch-set-covers-os", WINDOWS_CRITICAL_SECURITY, CUMULATIVE, MUCH_LATER, Approval(True, False, "CRITICAL", "approval rule 1")),
    ("windows-patch-set-application", baseline([rule({"PATCH_SET": ["APPLICATION"], "PRODUCT": ["MicrosoftEdge"]}, ApproveAfterDays=0)], "WINDOWS"),
     EDGE, MUCH_LATER, APPROVED_BY_RULE_1),
    ("windows-patch-set-in-global-filters", baseline([rule({"PRODUCT": ["MicrosoftEdge"]}, ApproveAfterDays=0)], "WINDOWS",
                                                     GlobalFilters={"PatchFilters": [{"Key": "PATCH_SET", "Values": ["APPLICATION"]}]}),
     EDGE, MUCH_LATER, APPROVED_BY_RULE_1),
    ("other-operating-system", WINDOWS_CRITICAL_SECURITY, DBUS, MUCH_LATER,
     Approval(False, False, "UNSPECIFIED", "the baseline is for WINDOWS, the patch for AMAZON_LINUX_2023")),
    ("operating-system-defaults-to-windows", {"ApprovedPatches": ["KB5044281"]}, CUMULATIVE, MUCH_LATER,
     Approval(True, False, "UNSPECIFIED", "ApprovedPatches names it ('KB5044281')")),
]


@pytest.mark.parametrize(("base", "patch", "instant", "expected"), [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_approval(base, patch, instant, expected):
    assert approval(base, patch, instant) == expected


# "Package name formats for approved and rejected patch lists", Amazon Linux 2023 / yum and dnf: every construction,
# the page's own examples, and its single-wildcard examples, for dbus.x86_64:1:1.12.28-1.amzn2023.0.1.
DBUS_CONSTRUCTIONS = [
    ("name", "dbus"), ("name.arch", "dbus.x86_64"), ("name-version", "dbus-1.12.28"), ("name-version-release", "dbus-1.12.28-1.amzn2023.0.1"),
    ("name-version-release.arch", "dbus-1.12.28-1.amzn2023.0.1.x86_64"), ("version", "1.12.28"), ("version-release", "1.12.28-1.amzn2023.0.1"),
    ("epoch:version-release", "1:1.12.28-1.amzn2023.0.1"), ("name-epoch:version-release", "dbus-1:1.12.28-1.amzn2023.0.1"),
    ("name-epoch:version-release.arch", "dbus-1:1.12.28-1.amzn2023.0.1.x86_64"),
    ("epoch:name-version-release.arch", "1:dbus-1.12.28-1.amzn2023.0.1.x86_64"), ("name.arch:epoch:version-release", "dbus.x86_64:1:1.12.28-1.amzn2023.0.1"),
]
LIST_ENTRIES = [
    *[(f"construction-{form}", entry, True, True) for form, entry in DBUS_CONSTRUCTIONS],
    ("wildcard-example-name", "dbus*", True, True),
    ("wildcard-example-version", "dbus-1.12.2*", True, True),
    ("wildcard-example-epoch", "dbus-*:1.12.28-1.amzn2023.0.1.x86_64", True, True),
    ("cve-approves-only", "CVE-2025-1111", True, False),
    ("advisory-approves-only", "ALAS2023-2025-123", True, False),
    ("two-wildcards-name-nothing", "db*s*", False, False),
    ("numbers-only-is-a-bugzilla-id", "1", False, False),
    ("other-package", "dbus-libs", False, False),
    ("other-version", "dbus-1.12.29", False, False),
    ("other-arch", "dbus.aarch64", False, False),
    ("name-is-case-sensitive", "DBus", False, False),
]


@pytest.mark.parametrize(("entry", "approves", "rejects"), [case[1:] for case in LIST_ENTRIES], ids=[case[0] for case in LIST_ENTRIES])
def test_yum_patch_list_entries(entry, approves, rejects):
    approved = approval(baseline(ApprovedPatches=[entry]), DBUS, MUCH_LATER)
    rejected = approval(baseline([EVERYTHING_AT_ONCE], RejectedPatches=[entry]), DBUS, MUCH_LATER)
    assert (approved.approved, rejected.rejected) == (approves, rejects)


def test_rpm_names_are_the_documented_constructions_in_order():
    assert rpm_names(DBUS) == tuple(entry for _, entry in DBUS_CONSTRUCTIONS)


@pytest.mark.parametrize(
    ("entry", "approves"),
    [pytest.param("KB5044281", True, id="kb"), pytest.param("kb5044281", False, id="kb-is-case-sensitive"),
     pytest.param("KB504428*", False, id="no-wildcards"), pytest.param("MS10-048", False, id="bulletin-of-no-catalog-patch")],
)
def test_windows_patch_list_entries(entry, approves):
    assert approval(baseline(ApprovedPatches=[entry], operating_system="WINDOWS"), CUMULATIVE, MUCH_LATER).approved is approves


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        pytest.param([rule({"PRODUCT": ["*"]}, ApproveUntilDate="16/11/2025")],
                     "ApprovalRules.PatchRules[0].ApproveUntilDate: expected a date YYYY-MM-DD, got '16/11/2025'", id="until-date-format"),
        pytest.param([rule({"PRODUCT": ["*"]}, ApproveAfterDays="7")],
                     "ApprovalRules.PatchRules[0].ApproveAfterDays: expected a whole number of days, got '7'", id="after-days-text"),
        pytest.param([EVERYTHING_AT_ONCE, {"PatchFilterGroup": {"PatchFilters": [{"Key": "PRODUCT", "Values": "*"}]}}],
                     "ApprovalRules.PatchRules[1].PatchFilterGroup.PatchFilters: expected a list of {Key, Values} filters, "
                     "got [{'Key': 'PRODUCT', 'Values': '*'}]", id="filter-values-not-a-list"),
    ],
)
def test_a_malformed_baseline_is_refused_naming_the_field(rules, message):
    with pytest.raises(ValueError) as raised:
        approval(baseline(rules), replace(BUGFIX, security=True), MUCH_LATER)
    assert str(raised.value) == message


def test_a_run_command_judges_each_baseline_once_per_simulated_minute():
    # Released at 12:00:30 and approved from release: judged at the start of each simulated minute, a node sees it
    # approved from 12:01:00, so every node of one OS patching in the same minute gets the same approved set.
    half_past = replace(DBUS, release_date=at("2026-11-16T12:00:30"))
    judge = RunCommand(world=None, clock=SimClock(1.0), seed=0)
    everything = baseline([EVERYTHING_AT_ONCE])
    verdicts = [judge._decisions(everything, (half_past,), at(instant))["dbus.x86_64"].approved
                for instant in ("2026-11-16T12:00:29", "2026-11-16T12:00:45", "2026-11-16T12:01:00")]
    assert (approval(everything, half_past, at("2026-11-16T12:00:45")).approved, verdicts) == (True, [False, False, True])
