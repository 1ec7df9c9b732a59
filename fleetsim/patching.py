"""What AWS-RunPatchBaseline does to one instance's patches: pure decisions, no clock and no I/O.

Inputs are the catalog entries for the instance's OS, the approval decisions
for its baseline (patchflow.approval), what the instance has installed, and
the document parameters. Output is the per-patch state Patch Manager reports
and what changed on the instance.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Iterable, Mapping

from patchflow.catalog import Patch

INSTALLED = "INSTALLED"
INSTALLED_OTHER = "INSTALLED_OTHER"
INSTALLED_PENDING_REBOOT = "INSTALLED_PENDING_REBOOT"
INSTALLED_REJECTED = "INSTALLED_REJECTED"
MISSING = "MISSING"
FAILED = "FAILED"
NOT_APPLICABLE = "NOT_APPLICABLE"
AVAILABLE_SECURITY_UPDATE = "AVAILABLE_SECURITY_UPDATE"

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


@dataclass(frozen=True)
class OperationResult:
    outcomes: tuple[PatchOutcome, ...]
    installed_ids: frozenset[str] = frozenset()
    failed_ids: frozenset[str] = frozenset()
    pending_reboot_ids: frozenset[str] = frozenset()
    rebooted: bool = False

    def counts(self) -> dict[str, int]:
        return {name: sum(1 for o in self.outcomes if o.state == state) for name, state in STATE_COUNT_FIELDS.items()}

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


def override_matches(patch: Patch, override_ids: Iterable[str]) -> bool:
    """InstallOverrideList ids: Windows KB numbers, Linux name.arch with wildcards (apt: bare name too)."""
    names = {patch.id, patch.kb_id} | ({f"{patch.id}.amd64"} if patch.operating_system in ("UBUNTU", "DEBIAN") else set())
    return any(fnmatchcase(name, pattern) for pattern in override_ids for name in names if name)


def run_patch_operation(
    *,
    patches: Iterable[Patch],
    decisions: Mapping[str, object],
    have: Mapping[str, str],
    pending_reboot: frozenset[str],
    operation: str,
    reboot_option: str,
    rejected_action: str,
    override_ids: tuple[str, ...] | None,
    failing_ids: frozenset[str],
    reboot_needed: bool = False,
) -> OperationResult:
    """The states one Scan or Install leaves behind.

    `decisions[patch.id]` has .approved, .rejected, .compliance_level.
    `failing_ids` are the patches whose installation fails this time.
    `override_ids` (Install only) replaces the baseline's approved set with the
    listed patches. With NoReboot, new installs stay INSTALLED_PENDING_REBOOT;
    with RebootIfNeeded, any install or earlier pending reboot means a reboot,
    which clears every pending-reboot state.
    """
    install = operation == "Install"
    block = rejected_action == "BLOCK"
    planned: list[tuple[Patch, object, str]] = []
    installed_now: set[str] = set()
    failed_now: set[str] = set()
    for patch in patches:
        decision = decisions[patch.id]
        approved = bool(decision.approved) and not decision.rejected
        state = have.get(patch.id, HAVE_NOT_APPLICABLE)
        if state == HAVE_MISSING and install:
            if override_ids is not None:
                wanted = override_matches(patch, override_ids) and not (decision.rejected and block)
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
        pending_after = frozenset()
    elif install and reboot_option == "NoReboot":
        pending_after = frozenset(pending_reboot | installed_now)
    else:
        pending_after = frozenset(pending_reboot)

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
            outcomes.append(PatchOutcome(patch, result, level, newly))
    return OperationResult(
        outcomes=tuple(outcomes),
        installed_ids=frozenset(installed_now),
        failed_ids=frozenset(failed_now),
        pending_reboot_ids=pending_after,
        rebooted=reboots,
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
