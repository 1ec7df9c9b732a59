"""What AWS-RunPatchBaseline does to one instance's patches: pure decisions, no clock and no I/O.

Inputs are the catalog entries for the instance's OS, the approval decisions
for its baseline (fleetsim.approval), what the instance has installed, and
the document parameters. Output is the per-patch state Patch Manager reports
and what changed on the instance.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field, replace
from fnmatch import fnmatchcase
from typing import Iterable, Mapping

from fleetsim.catalog import Patch

# Patch states as the service answers DescribeInstancePatches and takes them in its State filter:
# the spelling of the AWS CLI's examples (describe-instance-patches.rst: "Installed", "InstalledOther",
# "Missing", Key=State,Values=Missing). botocore's enum (INSTALLED, MISSING, ...) is not what goes on the wire.
INSTALLED = "Installed"
INSTALLED_OTHER = "InstalledOther"
INSTALLED_PENDING_REBOOT = "InstalledPendingReboot"
INSTALLED_REJECTED = "InstalledRejected"
MISSING = "Missing"
FAILED = "Failed"
NOT_APPLICABLE = "NotApplicable"
AVAILABLE_SECURITY_UPDATE = "AvailableSecurityUpdate"
PATCH_STATES = (INSTALLED, INSTALLED_OTHER, INSTALLED_PENDING_REBOOT, INSTALLED_REJECTED, MISSING, FAILED, NOT_APPLICABLE, AVAILABLE_SECURITY_UPDATE)
INSTALLED_STATES = frozenset({INSTALLED, INSTALLED_OTHER, INSTALLED_PENDING_REBOOT, INSTALLED_REJECTED})
# CVEIds are reported only for these (botocore's PatchComplianceData.CVEIds).
CVE_REPORTING_STATES = frozenset({MISSING, FAILED})

NON_COMPLIANT_STATES = frozenset({MISSING, FAILED, INSTALLED_REJECTED, INSTALLED_PENDING_REBOOT})

# DescribeInstancePatchStates count field -> the patch state it counts
STATE_COUNT_FIELDS = {
    "InstalledCount": INSTALLED,
    "InstalledOtherCount": INSTALLED_OTHER,
    "InstalledPendingRebootCount": INSTALLED_PENDING_REBOOT,
    "InstalledRejectedCount": INSTALLED_REJECTED,
    "MissingCount": MISSING,
    "FailedCount": FAILED,
    "NotApplicableCount": NOT_APPLICABLE,
    "AvailableSecurityUpdateCount": AVAILABLE_SECURITY_UPDATE,
}
SECURITY_CLASSIFICATIONS = frozenset({"Security", "SecurityUpdates", "CriticalUpdates"})

# The one empty set every result without installs, failures or pending reboots shares: CPython allocates
# 216 bytes for each frozenset() it builds, several per node and command at fleet scale.
NOTHING: frozenset[str] = frozenset()

# What an instance has, per patch id
HAVE_MISSING = "missing"
HAVE_INSTALLED = "installed"
HAVE_NOT_APPLICABLE = "not-applicable"


@dataclass(frozen=True)
class PatchOutcome:
    patch: Patch
    state: str
    compliance_level: str
    newly_installed: bool = False


# Every node of an OS reports the same few outcomes per patch: sharing one object per distinct outcome keeps a
# 100,000-node fleet's reports to a tuple of references each (a new object per node and patch was 2.7 kB a node).
_OUTCOMES: dict[tuple, PatchOutcome] = {}


def patch_outcome(patch: Patch, state: str, compliance_level: str, newly_installed: bool) -> PatchOutcome:
    """The PatchOutcome with these values, one shared object for equal values (outcomes are immutable)."""
    key = (patch.operating_system, patch.id, patch.version, patch.title, state, compliance_level, newly_installed)
    outcome = _OUTCOMES.get(key)
    if outcome is None or (outcome.patch is not patch and outcome.patch != patch):
        outcome = _OUTCOMES[key] = PatchOutcome(patch, state, compliance_level, newly_installed)
    return outcome


@dataclass(frozen=True)
class OperationResult:
    outcomes: tuple[PatchOutcome, ...]
    installed_ids: frozenset[str] = frozenset()
    failed_ids: frozenset[str] = frozenset()
    pending_reboot_ids: frozenset[str] = frozenset()
    rebooted: bool = False
    # Failed patch id -> the InstallOverrideList title it was pinned to, which no version the node is offered matches
    unavailable_titles: Mapping[str, str] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        tally = Counter(o.state for o in self.outcomes)
        return {name: tally[state] for name, state in STATE_COUNT_FIELDS.items()}

    def compliance_counts(self) -> dict[str, int]:
        critical = security = other = 0
        for outcome in self.outcomes:
            if outcome.state not in NON_COMPLIANT_STATES:
                continue
            if outcome.compliance_level == "CRITICAL":
                critical += 1
            elif outcome.patch.classification in SECURITY_CLASSIFICATIONS or (outcome.patch.security and not outcome.patch.classification):
                security += 1
            else:
                other += 1
        return {"CriticalNonCompliantCount": critical, "SecurityNonCompliantCount": security, "OtherNonCompliantCount": other}


def patch_filter_matches(key: str, value: str, wanted: Iterable[str]) -> bool:
    """Whether one DescribeInstancePatches field passes a filter's values (values ORed).

    State is compared exactly: the service reports and filters on the CLI examples' spelling, and the
    model types filter values as free strings, so botocore's enum names (Values=INSTALLED) name no state
    and match nothing. Classification, KBId and Severity keep a case-insensitive match.
    """
    if key == "State":
        return value in wanted
    return value.upper() in {w.upper() for w in wanted}


@dataclass(frozen=True)
class OverrideItem:
    """One `patches:` entry of an InstallOverrideList: its `id`, and its `title` when it has one."""

    id: str
    title: str | None = None


def _override_item(entry: str | OverrideItem) -> OverrideItem:
    return entry if isinstance(entry, OverrideItem) else OverrideItem(entry)


def _id_matches(patch: Patch, pattern: str) -> bool:
    """InstallOverrideList ids: Windows KB numbers, Linux name.arch with wildcards (apt: bare name too)."""
    names = {patch.id, patch.kb_id} | ({f"{patch.id}.amd64"} if patch.operating_system in ("UBUNTU", "DEBIAN") else set())
    return any(fnmatchcase(name, pattern) for name in names if name)


def _title_matches(patch: Patch, title: str | None) -> bool:
    """Whether an item's title accepts the version of `patch` on offer.

    Windows ignores titles. On Linux the title is `{name}.{arch}:{epoch}:{version}-{release}` (yum) or
    `{name}.{arch}:{version}` (apt), wildcards anywhere; the User Guide's sample lists also pin with the
    version part alone ('32:9.8.2-0.62.rc1.57.amzn1', '2.10.95-0ubuntu2.9'), so both forms are accepted.
    """
    if title is None or patch.operating_system == "WINDOWS":
        return True
    return any(fnmatchcase(form, title) for form in (patch.title, patch.version) if form)


def override_matches(patch: Patch, override_ids: Iterable[str | OverrideItem]) -> bool:
    """Whether an InstallOverrideList selects the version of `patch` on offer: an item's id matches and its title, if any, too.

    Plain strings are items without a title.
    """
    return any(_id_matches(patch, item.id) and _title_matches(patch, item.title) for item in map(_override_item, override_ids))


def pinned_titles_not_offered(patch: Patch, override_ids: Iterable[str | OverrideItem]) -> tuple[str, ...]:
    """The titles of the items naming `patch` by id whose pinned version is not the one on offer; () when an item selects it."""
    items = [item for item in map(_override_item, override_ids) if _id_matches(patch, item.id)]
    if any(_title_matches(patch, item.title) for item in items):
        return ()
    return tuple(item.title for item in items if item.title is not None)


class OverrideList:
    """An InstallOverrideList's items, with what they make of each version on offer remembered.

    Every node of a command reads the same list, and a fleet offers the same few hundred versions, so the
    wildcard matching is done once per version instead of once per node: at 45,000 nodes it was most of
    the simulation's time. The answers are `override_matches` and `pinned_titles_not_offered`'s.
    """

    def __init__(self, items: Iterable[str | OverrideItem]):
        self.items = tuple(map(_override_item, items))
        self._seen: dict[tuple, tuple[bool, tuple[str, ...]]] = {}

    def selection(self, patch: Patch) -> tuple[bool, tuple[str, ...]]:
        """(whether the list selects this version, the pinned titles naming it that are not this version)."""
        key = (patch.id, patch.kb_id, patch.operating_system, patch.title, patch.version)
        found = self._seen.get(key)
        if found is None:
            selects = override_matches(patch, self.items)
            found = self._seen[key] = (selects, () if selects else pinned_titles_not_offered(patch, self.items))
        return found


_NUMBER = re.compile(r"\d+")


def superseding_version(version: str) -> str:
    """The version a repository offers once it has moved on from `version`, as a rebuild or security update numbers it.

    The first number of the release (rpm) or Debian revision goes up by one; a version with no
    release has its last number raised instead: "0:6.1.112-122.189.amzn2023" -> "0:6.1.112-123.189.amzn2023",
    "2.4.0ubuntu4" -> "2.4.0ubuntu5".
    """
    upstream, dash, release = version.rpartition("-")
    found = _NUMBER.search(release) if dash else None
    if found is not None:
        return f"{upstream}-{release[:found.start()]}{int(found.group()) + 1}{release[found.end():]}"
    numbers = list(_NUMBER.finditer(version))
    if not numbers:
        return f"{version}.1"
    last = numbers[-1]
    return f"{version[:last.start()]}{int(last.group()) + 1}{version[last.end():]}"


def offered_by_newer_repository(patch: Patch) -> Patch:
    """`patch` as a repository offers it after replacing the catalog's version with the next one (title and version)."""
    newer = superseding_version(patch.version)
    title = patch.title[: -len(patch.version)] + newer if patch.version and patch.title.endswith(patch.version) else patch.title
    return replace(patch, version=newer, title=title)


def run_patch_operation(
    *,
    patches: Iterable[Patch],
    decisions: Mapping[str, object],
    have: Mapping[str, str],
    pending_reboot: frozenset[str],
    operation: str,
    reboot_option: str,
    rejected_action: str,
    override_ids: tuple[str | OverrideItem, ...] | OverrideList | None,
    failing_ids: frozenset[str],
    reboot_needed: bool = False,
) -> OperationResult:
    """The states one Scan or Install leaves behind.

    `patches` are the versions this node is offered. `decisions[patch.id]` has
    .approved, .rejected, .compliance_level. `failing_ids` are the patches whose
    installation fails this time. `override_ids` (Install only) replaces the
    baseline's approved set with the listed patches; a listed patch whose every
    item pins a version the node is not offered is not installed and is FAILED
    (an Install reports what it could not install as failed, never as missing).
    With NoReboot, new installs stay INSTALLED_PENDING_REBOOT; with
    RebootIfNeeded, any install or earlier pending reboot means a reboot, which
    clears every pending-reboot state.
    """
    install = operation == "Install"
    block = rejected_action == "BLOCK"
    if override_ids is not None and not isinstance(override_ids, OverrideList):
        override_ids = OverrideList(override_ids)
    planned: list[tuple[Patch, object, str]] = []
    installed_now: set[str] = set()
    failed_now: set[str] = set()
    unavailable_titles: dict[str, str] = {}
    for patch in patches:
        decision = decisions[patch.id]
        approved = bool(decision.approved) and not decision.rejected
        state = have.get(patch.id, HAVE_NOT_APPLICABLE)
        if state == HAVE_MISSING and install:
            blocked = bool(decision.rejected and block)
            if override_ids is not None:
                selects, not_offered = override_ids.selection(patch)
                wanted = selects and not blocked
                pins = () if wanted or blocked else not_offered
                if pins:
                    unavailable_titles[patch.id] = pins[0]
                    failed_now.add(patch.id)
            else:
                wanted = approved
            if wanted:
                if patch.id in failing_ids:
                    failed_now.add(patch.id)
                else:
                    installed_now.add(patch.id)
        planned.append((patch, decision, state))

    reboots = install and reboot_option != "NoReboot" and bool(installed_now or pending_reboot or reboot_needed)
    if reboots:
        pending_after = NOTHING
    elif install and reboot_option == "NoReboot":
        pending_after = frozenset(pending_reboot | installed_now) or NOTHING
    else:
        pending_after = frozenset(pending_reboot) or NOTHING

    outcomes = []
    for patch, decision, state in planned:
        approved = bool(decision.approved) and not decision.rejected
        level = decision.compliance_level or "UNSPECIFIED"
        newly = patch.id in installed_now
        if patch.id in failed_now:
            result = FAILED
        elif state == HAVE_INSTALLED or newly:
            if decision.rejected:
                result = INSTALLED_REJECTED if block else INSTALLED_OTHER
            elif patch.id in pending_after:
                result = INSTALLED_PENDING_REBOOT
            else:
                result = INSTALLED if approved else INSTALLED_OTHER
        elif state == HAVE_NOT_APPLICABLE:
            result = NOT_APPLICABLE if approved else None
        elif approved:
            result = MISSING
        elif patch.operating_system == "WINDOWS" and patch.classification == "SecurityUpdates" and not decision.rejected:
            result = AVAILABLE_SECURITY_UPDATE
        else:
            result = None
        if result:
            outcomes.append(patch_outcome(patch, result, level, newly))
    return OperationResult(
        outcomes=tuple(outcomes),
        installed_ids=frozenset(installed_now) or NOTHING,
        failed_ids=frozenset(failed_now) or NOTHING,
        pending_reboot_ids=pending_after,
        rebooted=reboots,
        unavailable_titles=unavailable_titles,
    )


def failure_draws(patch_ids: Iterable[str], *, instance_failure: bool, per_patch: Mapping[str, float], draw) -> frozenset[str]:
    """Which of the patches to install fail: every per-patch probability drawn, plus one patch when the instance fails.

    `draw()` returns a float in [0, 1); passing it in keeps this deterministic for a seeded caller.
    """
    ordered = sorted(patch_ids)
    failing = {pid for pid in ordered if draw() < per_patch.get(pid, 0.0)}
    if instance_failure and ordered and not failing:
        failing.add(ordered[int(draw() * len(ordered))])
    return frozenset(failing)
