"""Whether a patch baseline approves one catalog patch at one instant, as AWS documents Patch Manager.

`baseline` is shaped like boto3's get_patch_baseline() answer (OperatingSystem,
GlobalFilters, ApprovalRules, ApprovedPatches, ApprovedPatchesComplianceLevel,
ApprovedPatchesEnableNonSecurity, RejectedPatches, RejectedPatchesAction).
Pure: no clock and no I/O; `at` is the instant asked about, in UTC.

What decides, and where AWS says so:

- A baseline applies to the patches of its own OperatingSystem (WINDOWS when absent, as in
  CreatePatchBaseline).
- A patch on RejectedPatches is rejected, whatever else names it ("About predefined and custom
  patch baselines": listed as both approved and rejected means rejected).
- A patch that has not been released yet is in no repository, so nothing approves it.
- ApprovedPatches approve "even if they're discarded by GlobalFilters or if no approval rule ...
  grants it approval" ("How patches are installed"); on Linux only security updates, unless
  ApprovedPatchesEnableNonSecurity ("Indicates whether the list of approved patches includes
  non-security updates", API reference). Such a patch takes ApprovedPatchesComplianceLevel.
- Otherwise GlobalFilters keep what passes and any ApprovalRule may approve: every filter of
  the rule matches (PatchFilter: "exact values for the patch property ... or a wildcard (*),
  which matches all values"), on Linux the patch is a security update unless the rule sets
  EnableNonSecurity, and the rule's date condition holds (PatchRule, UTC):
  ApproveAfterDays N from release + N days, ApproveUntilDate D for releases on or before
  the whole of day D. Debian and Ubuntu support neither, so apt rules have no date condition.
  The first approving rule in list order gives the ComplianceLevel.
- On Windows a rule without a PATCH_SET filter covers operating system patches only: AWS's
  AWS-DefaultPatchBaseline names no PATCH_SET and "support[s] only operating system updates"
  ("About patching applications released by Microsoft on Windows Server").
- AMAZON_LINUX_2022/2023: a SEVERITY filter value Medium also matches patches of severity
  Moderate ("How patches are installed").

Entries of ApprovedPatches and RejectedPatches are matched in the formats of "Package name
formats for approved and rejected patch lists" (see `names_listed`). Choices where the text is
silent are listed in FIDELITY.md, "Behaviours AWS leaves open".
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable, Mapping

from fleetsim.catalog import Patch

UNSPECIFIED = "UNSPECIFIED"
APT_SYSTEMS = frozenset({"UBUNTU", "DEBIAN", "RASPBIAN"})
NOT_LINUX = frozenset({"WINDOWS", "MACOS"})
MEDIUM_ALSO_MATCHES_MODERATE = frozenset({"AMAZON_LINUX_2022", "AMAZON_LINUX_2023"})

# The PatchFilter keys each OS's patches have (DescribePatchProperties), and the Patch field each reads.
_APT_KEYS = {"PRODUCT": "product", "PRIORITY": "priority", "SECTION": "section"}
_WINDOWS_KEYS = {"PRODUCT": "product", "PRODUCT_FAMILY": "product_family", "CLASSIFICATION": "classification",
                 "MSRC_SEVERITY": "severity", "PATCH_SET": "patch_set"}
_MACOS_KEYS = {"PRODUCT": "product", "CLASSIFICATION": "classification"}
_RPM_KEYS = {"PRODUCT": "product", "CLASSIFICATION": "classification", "SEVERITY": "severity"}


@dataclass(frozen=True)
class Approval:
    approved: bool
    rejected: bool
    compliance_level: str
    why: str


def approval(baseline: Mapping[str, Any], patch: Patch, at: datetime) -> Approval:
    """The baseline's verdict on `patch` at instant `at` (a naive `at` is read as UTC)."""
    at = at.replace(tzinfo=timezone.utc) if at.tzinfo is None else at.astimezone(timezone.utc)
    operating_system = baseline.get("OperatingSystem") or "WINDOWS"
    if operating_system != patch.operating_system:
        return Approval(False, False, UNSPECIFIED, f"the baseline is for {operating_system}, the patch for {patch.operating_system}")
    global_filters = _filters(baseline.get("GlobalFilters"), "GlobalFilters")
    rules = _rules(baseline)

    rejecting_entry = _first_naming(baseline.get("RejectedPatches"), patch, approving=False)
    if rejecting_entry is not None:
        action = baseline.get("RejectedPatchesAction") or "ALLOW_AS_DEPENDENCY"
        return Approval(False, True, UNSPECIFIED, f"RejectedPatches names it ({rejecting_entry!r}, {action})")
    if at < patch.release_date:
        return Approval(False, False, UNSPECIFIED, f"not released until {patch.release_date:%Y-%m-%dT%H:%M:%SZ}")

    approving_entry = _first_naming(baseline.get("ApprovedPatches"), patch, approving=True)
    non_security_allowed = patch.operating_system in NOT_LINUX or patch.security or bool(baseline.get("ApprovedPatchesEnableNonSecurity"))
    if approving_entry is not None and non_security_allowed:
        level = baseline.get("ApprovedPatchesComplianceLevel") or UNSPECIFIED
        return Approval(True, False, level, f"ApprovedPatches names it ({approving_entry!r})")

    if not _all_match(global_filters, patch):
        return Approval(False, False, UNSPECIFIED, "GlobalFilters leave it out")
    for rule in rules:
        if rule.approves(global_filters, patch, at):
            return Approval(True, False, rule.compliance_level, f"approval rule {rule.number}")
    if approving_entry is not None:
        return Approval(False, False, UNSPECIFIED, f"ApprovedPatches names it ({approving_entry!r}), but it is no security update "
                                                   "and ApprovedPatchesEnableNonSecurity is false")
    return Approval(False, False, UNSPECIFIED, "no approval rule approves it")


# --------------------------------------------------------------------------- approval rules


@dataclass(frozen=True)
class _Rule:
    number: int  # 1-based, as the console numbers rules
    filters: list[Mapping]
    after_days: int | None
    last_day: datetime | None  # ApproveUntilDate as the instant its day ends
    compliance_level: str
    enable_non_security: bool

    def approves(self, global_filters: list[Mapping], patch: Patch, at: datetime) -> bool:
        if not _all_match(self.filters, patch):
            return False
        if patch.operating_system == "WINDOWS" and patch.patch_set != "OS":
            # AWS-DefaultPatchBaseline names no PATCH_SET and covers operating system updates only.
            if not any(f.get("Key") == "PATCH_SET" for f in [*global_filters, *self.filters]):
                return False
        if patch.operating_system not in NOT_LINUX and not patch.security and not self.enable_non_security:
            return False
        if patch.operating_system in APT_SYSTEMS:
            return True  # no auto-approval delay or cutoff is supported: apt gives no reliable release dates
        if self.after_days is not None and at < patch.release_date + timedelta(days=self.after_days):
            return False
        return self.last_day is None or patch.release_date < self.last_day


def _rules(baseline: Mapping[str, Any]) -> list[_Rule]:
    """The baseline's ApprovalRules, read (and checked) in list order."""
    rules = []
    for index, rule in enumerate((baseline.get("ApprovalRules") or {}).get("PatchRules") or ()):
        where = f"ApprovalRules.PatchRules[{index}]"
        days = rule.get("ApproveAfterDays")
        if days is not None and (isinstance(days, bool) or not isinstance(days, int)):
            raise ValueError(f"{where}.ApproveAfterDays: expected a whole number of days, got {days!r}")
        until = rule.get("ApproveUntilDate")
        last_day = None
        if until is not None:
            try:
                last_day = datetime.strptime(str(until), "%Y-%m-%d").replace(tzinfo=timezone.utc) + timedelta(days=1)
            except ValueError:
                raise ValueError(f"{where}.ApproveUntilDate: expected a date YYYY-MM-DD, got {until!r}") from None
        rules.append(_Rule(
            number=index + 1,
            filters=_filters(rule.get("PatchFilterGroup"), f"{where}.PatchFilterGroup"),
            after_days=days,
            last_day=last_day,
            compliance_level=rule.get("ComplianceLevel") or UNSPECIFIED,
            enable_non_security=bool(rule.get("EnableNonSecurity")),
        ))
    return rules


# --------------------------------------------------------------------------- patch filters


def _filters(group: Any, where: str) -> list[Mapping]:
    """The PatchFilters of a PatchFilterGroup (absent: none); a malformed group fails, naming where it is."""
    filters = (group or {}).get("PatchFilters", []) if isinstance(group, (Mapping, type(None))) else group
    if not isinstance(filters, list) or not all(isinstance(f, Mapping) and isinstance(f.get("Values"), list) for f in filters):
        raise ValueError(f"{where}.PatchFilters: expected a list of {{Key, Values}} filters, got {filters!r}")
    return filters


def _all_match(filters: Iterable[Mapping], patch: Patch) -> bool:
    return all(_filter_matches(patch_filter, patch) for patch_filter in filters)


def _filter_matches(patch_filter: Mapping, patch: Patch) -> bool:
    field = _filter_keys(patch.operating_system).get(patch_filter.get("Key"))
    if field is None:
        return False  # a property this OS's patches do not have
    wanted = patch_filter["Values"]
    if "*" in wanted:
        return True
    value = getattr(patch, field)
    if patch_filter["Key"] == "SEVERITY" and value == "Moderate" and patch.operating_system in MEDIUM_ALSO_MATCHES_MODERATE:
        return value in wanted or "Medium" in wanted
    return value in wanted


def _filter_keys(operating_system: str) -> Mapping[str, str]:
    if operating_system == "WINDOWS":
        return _WINDOWS_KEYS
    if operating_system == "MACOS":
        return _MACOS_KEYS
    if operating_system in APT_SYSTEMS:
        return _APT_KEYS
    return _RPM_KEYS


# --------------------------------------------------------------------------- approved and rejected patch lists


def _first_naming(entries: Any, patch: Patch, *, approving: bool) -> str | None:
    for entry in entries or ():
        if isinstance(entry, str) and names_listed(entry, patch, approving=approving):
            return entry
    return None


def names_listed(entry: str, patch: Patch, *, approving: bool) -> bool:
    """Whether one ApprovedPatches (approving) or RejectedPatches entry names `patch`.

    Windows: a KB id (Microsoft bulletin ids name no catalog patch). Debian/Ubuntu: the bare
    package name, no architecture or version. macOS: the full name, no wildcards. The yum/dnf
    family: a name built from the package's name, arch, epoch, version and release in one of
    the documented constructions, with at most one `*`; and, for approval only, its advisory
    or one of its CVE ids. Numbers-only entries are Bugzilla ids, which the catalog has none of.
    """
    if patch.operating_system == "WINDOWS":
        return entry in {patch.id, patch.kb_id} - {""}
    if patch.operating_system in APT_SYSTEMS or patch.operating_system == "MACOS":
        return entry == patch.id
    if entry.isdigit():
        return False
    if approving and (entry == patch.kb_id or entry in patch.cve_ids):
        return True
    return _matches_one_of(entry, rpm_names(patch))


def rpm_names(patch: Patch) -> tuple[str, ...]:
    """Every documented construction of a yum/dnf package's name, e.g. for dbus.x86_64:1:1.12.28-1.amzn2023.0.1:
    dbus, dbus.x86_64, dbus-1.12.28, dbus-1.12.28-1.amzn2023.0.1, ..., dbus.x86_64:1:1.12.28-1.amzn2023.0.1."""
    name, dot, arch = patch.id.rpartition(".")
    epoch, _, version_release = patch.version.rpartition(":")
    version, dash, release = version_release.rpartition("-")
    if not (dot and dash and name and version):
        return (patch.id,)
    epoch = epoch or "0"
    evr = f"{epoch}:{version}-{release}"
    return (
        name, f"{name}.{arch}", f"{name}-{version}", f"{name}-{version}-{release}", f"{name}-{version}-{release}.{arch}",
        version, f"{version}-{release}", evr, f"{name}-{evr}", f"{name}-{evr}.{arch}",
        f"{epoch}:{name}-{version}-{release}.{arch}", f"{name}.{arch}:{evr}",
    )


def _matches_one_of(entry: str, names: Iterable[str]) -> bool:
    parts = entry.split("*")
    if len(parts) == 1:
        return entry in names
    if len(parts) > 2:
        return False  # AWS documents a single wildcard per entry
    head, tail = parts
    return any(len(name) >= len(head) + len(tail) and name.startswith(head) and name.endswith(tail) for name in names)
