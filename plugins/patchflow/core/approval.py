"""Patch approval as Patch Manager evaluates a baseline (ssm-reference section 2).

`baseline` is shaped like boto3's get_patch_baseline() response. Order:

1. GlobalFilters keep what passes.
2. Any ApprovalRule may approve: its filters all match (keys ANDed, values
   ORed, `*` a wildcard), its date condition holds, and on Linux the patch is
   a security update unless the rule sets EnableNonSecurity.
3. ApprovedPatches are added even past the filters and rules.
4. RejectedPatches are removed; a patch on both lists is rejected.

When several rules approve a patch, the first in rule order names the reason
and gives the compliance level (the reference does not say which rule AWS
reports). An explicitly approved patch takes ApprovedPatchesComplianceLevel.
A patch that is pending names the rule that will approve it soonest, and when.

Pure: no clock, no I/O. `on` is the instant the question is asked, in UTC.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Iterable, Mapping

from patchflow.core.catalog import Patch

APT_SYSTEMS = frozenset({"UBUNTU", "DEBIAN", "RASPBIAN"})
UNSPECIFIED = "UNSPECIFIED"
# AL2023 names the middle severity Medium in filters and Moderate in some notices.
SEVERITY_SYNONYMS = {"AMAZON_LINUX_2023": {"medium": "moderate", "moderate": "medium"}}


@dataclass(frozen=True)
class Decision:
    patch: Patch
    approved: bool
    rejected: bool
    compliance_level: str
    reason: str


def evaluate(baseline: Mapping, patch: Patch, on: datetime) -> Decision:
    """Whether `baseline` approves `patch` at instant `on` (UTC), and why."""
    on = _as_utc(on)
    operating_system = baseline.get("OperatingSystem") or "WINDOWS"
    if operating_system != patch.operating_system:
        return Decision(patch, False, False, UNSPECIFIED, f"baseline is for {operating_system}, patch is for {patch.operating_system}")

    if _listed(patch, baseline.get("RejectedPatches") or (), for_rejection=True):
        action = baseline.get("RejectedPatchesAction") or "ALLOW_AS_DEPENDENCY"
        return Decision(patch, False, True, UNSPECIFIED, f"rejected patch list ({action})")

    listed = _listed(patch, baseline.get("ApprovedPatches") or (), for_rejection=False)
    if listed and (patch.security or not _is_linux(patch) or baseline.get("ApprovedPatchesEnableNonSecurity")):
        return Decision(patch, True, False, baseline.get("ApprovedPatchesComplianceLevel") or UNSPECIFIED, "approved patch list")
    by_rules = _by_rules(baseline, patch, on)
    if listed and not by_rules.approved:
        return Decision(patch, False, False, UNSPECIFIED, "approved patch list, but not a security update and ApprovedPatchesEnableNonSecurity is false")
    return by_rules


def approved_patches(baseline: Mapping, patches: Iterable[Patch], on: datetime) -> list[Decision]:
    """Decisions for the patches `baseline` approves at `on`, in the order given (catalog order)."""
    return [decision for decision in (evaluate(baseline, patch, on) for patch in patches) if decision.approved]


def _by_rules(baseline: Mapping, patch: Patch, on: datetime) -> Decision:
    global_filters = (baseline.get("GlobalFilters") or {}).get("PatchFilters") or ()
    if not _all_filters_match(patch, global_filters):
        return Decision(patch, False, False, UNSPECIFIED, "excluded by global filters")

    rules = (baseline.get("ApprovalRules") or {}).get("PatchRules") or ()
    waiting: list[tuple[datetime, int]] = []
    security_only_rule = 0
    for number, rule in enumerate(rules, start=1):
        rule_filters = (rule.get("PatchFilterGroup") or {}).get("PatchFilters") or ()
        if not _all_filters_match(patch, rule_filters):
            continue
        if not _patch_set_covered(patch, (*global_filters, *rule_filters)):
            continue
        if _is_linux(patch) and not patch.security and not rule.get("EnableNonSecurity"):
            security_only_rule = security_only_rule or number
            continue
        approved_from = _approved_from(rule, patch)
        if approved_from is None:
            continue
        if approved_from <= on:
            return Decision(patch, True, False, rule.get("ComplianceLevel") or UNSPECIFIED, f"approval rule {number}")
        waiting.append((approved_from, number))
    if waiting:
        approved_from, number = min(waiting)
        return Decision(patch, False, False, UNSPECIFIED, f"rule {number} approves on {approved_from:%Y-%m-%d}")
    if security_only_rule:
        return Decision(patch, False, False, UNSPECIFIED, f"rule {security_only_rule} matches, but not a security update and EnableNonSecurity is false")
    return Decision(patch, False, False, UNSPECIFIED, "no approval rule matches")


# --------------------------------------------------------------------------- dates


def _as_utc(moment: datetime) -> datetime:
    # A naive datetime is taken as UTC, the only zone approval dates are counted in.
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def _approved_from(rule: Mapping, patch: Patch) -> datetime | None:
    """The instant the rule's date condition starts to hold, or None if it never will."""
    released = _as_utc(patch.release_date)
    days = rule.get("ApproveAfterDays")
    if days is not None:
        return released + timedelta(days=int(days))
    until = rule.get("ApproveUntilDate")
    if until:
        end_of_day = datetime.strptime(str(until), "%Y-%m-%d").replace(tzinfo=timezone.utc) + timedelta(days=1)
        return released if released < end_of_day else None
    # apt rules carry no date condition: approved as soon as released.
    return released


# --------------------------------------------------------------------------- filters


def _patch_set_covered(patch: Patch, filters: Iterable[Mapping]) -> bool:
    """On Windows, filters that name no PATCH_SET cover operating system patches only.

    The user guide ("About patching applications released by Microsoft on Windows Server") says
    AWS-DefaultPatchBaseline, whose rule names no PATCH_SET, supports only operating system
    updates; applications need PATCH_SET APPLICATION.
    """
    if patch.operating_system != "WINDOWS" or patch.patch_set == "OS":
        return True
    return any(patch_filter.get("Key") == "PATCH_SET" for patch_filter in filters)


def _is_linux(patch: Patch) -> bool:
    return patch.operating_system not in ("WINDOWS", "MACOS")


@lru_cache(maxsize=4096)
def _wildcard(pattern: str) -> re.Pattern:
    return re.compile("".join(".*" if part == "*" else re.escape(part) for part in re.split(r"(\*)", pattern)), re.IGNORECASE)


def _matches(value: str, pattern: str) -> bool:
    return bool(_wildcard(pattern).fullmatch(value))


def _filter_values(patch: Patch, key: str) -> tuple[str, ...]:
    value = patch.filter_value(key)
    if not value:
        return ()
    if key == "SEVERITY":
        synonym = SEVERITY_SYNONYMS.get(patch.operating_system, {}).get(value.lower())
        return (value, synonym) if synonym else (value,)
    return (value,)


def _filter_matches(patch: Patch, patch_filter: Mapping) -> bool:
    patterns = patch_filter.get("Values") or ()
    if "*" in patterns:
        return True
    return any(_matches(value, pattern) for value in _filter_values(patch, patch_filter.get("Key", "")) for pattern in patterns)


def _all_filters_match(patch: Patch, filters: Iterable[Mapping]) -> bool:
    return all(_filter_matches(patch, patch_filter) for patch_filter in filters)


# --------------------------------------------------------------------------- patch lists


def _package_names(patch: Patch) -> set[str]:
    """The names a patch-list entry may use for a package.

    yum/dnf: every construction the user guide's "Package name formats for approved and rejected
    patch lists" lists for both lists, from name, arch, epoch, version and release: name, name.arch,
    name-version, name-version-release, name-version-release.arch, version, version-release,
    epoch:version-release, name-epoch:version-release, name-epoch:version-release.arch,
    epoch:name-version-release.arch and name.arch:epoch:version-release.
    """
    if patch.operating_system in APT_SYSTEMS:
        return {patch.id}
    name, _, arch = patch.id.rpartition(".")
    if not name:
        return {patch.id}
    names = {patch.id, name}
    epoch, _, version_release = patch.version.rpartition(":")
    version, _, release = version_release.rpartition("-")
    if version:
        epoch = epoch or "0"
        evr = f"{epoch}:{version}-{release}"
        names |= {
            f"{name}-{version}", f"{name}-{version}-{release}", f"{name}-{version}-{release}.{arch}", version, f"{version}-{release}",
            evr, f"{name}-{evr}", f"{name}-{evr}.{arch}", f"{epoch}:{name}-{version}-{release}.{arch}", f"{name}.{arch}:{evr}",
        }
    return names


def _listed(patch: Patch, entries: Iterable[str], *, for_rejection: bool) -> bool:
    entries = [entry for entry in entries if isinstance(entry, str)]
    if not entries:
        return False
    if patch.operating_system == "WINDOWS":
        ids = {patch.id.upper(), patch.kb_id.upper()} - {""}
        return any(entry.upper() in ids for entry in entries)
    if patch.operating_system in APT_SYSTEMS:
        return patch.id in entries
    names = _package_names(patch)
    # "The system processes numbers-only strings as Bugzilla IDs", never as a version.
    if any(_matches(name, entry) for entry in entries if not entry.isdigit() for name in names):
        return True
    if for_rejection:
        # The rejected list takes package names only; advisories and CVEs approve, never reject.
        return False
    advisories = {patch.kb_id, *patch.cve_ids} - {""}
    return any(entry.upper() in {a.upper() for a in advisories} for entry in entries)
