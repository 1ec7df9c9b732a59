"""Patch state decisions for one instance, as tables (no server)."""
from dataclasses import dataclass
from datetime import datetime, timezone

import pytest

from fleetsim.patching import (
    HAVE_INSTALLED,
    HAVE_MISSING,
    HAVE_NOT_APPLICABLE,
    failure_draws,
    override_matches,
    run_patch_operation,
)
from fleetsim.catalog import Patch

RELEASED = datetime(2026, 10, 1, tzinfo=timezone.utc)


def linux_patch(patch_id, **kwargs):
    return Patch(id=patch_id, title=f"{patch_id}:0:1.0-1", operating_system="AMAZON_LINUX_2023", product="AmazonLinux2023",
                 classification=kwargs.pop("classification", "Security"), severity="Important", release_date=RELEASED, **kwargs)


@dataclass(frozen=True)
class Verdict:
    approved: bool
    rejected: bool = False
    compliance_level: str = "UNSPECIFIED"


A, B, C, D = (linux_patch(f"{name}.x86_64") for name in ("openssl", "kernel", "sudo", "htop"))
WIN = Patch(id="KB5044281", title="2026-10 Security Update (KB5044281)", operating_system="WINDOWS", product="WindowsServer2022",
            classification="SecurityUpdates", severity="Important", release_date=RELEASED, kb_id="KB5044281")

APPROVE_ABC = {A.id: Verdict(True), B.id: Verdict(True), C.id: Verdict(True), D.id: Verdict(False)}


def operate(have, decisions=APPROVE_ABC, patches=(A, B, C, D), **kwargs):
    options = dict(pending_reboot=frozenset(), operation="Scan", reboot_option="RebootIfNeeded", rejected_action="ALLOW_AS_DEPENDENCY",
                   override_ids=None, failing_ids=frozenset())
    options.update(kwargs)
    result = run_patch_operation(patches=patches, decisions=decisions, have=have, **options)
    return {o.patch.id: o.state for o in result.outcomes}, result


@pytest.mark.parametrize(
    "have, options, expected_states, expected_installed",
    [
        (
            {A.id: HAVE_MISSING, B.id: HAVE_INSTALLED, C.id: HAVE_NOT_APPLICABLE, D.id: HAVE_INSTALLED},
            {},
            {A.id: "Missing", B.id: "Installed", C.id: "NotApplicable", D.id: "InstalledOther"},
            set(),
        ),
        (
            {A.id: HAVE_MISSING, B.id: HAVE_MISSING, C.id: HAVE_INSTALLED, D.id: HAVE_MISSING},
            {"operation": "Install"},
            {A.id: "Installed", B.id: "Installed", C.id: "Installed"},
            {A.id, B.id},
        ),
        (
            {A.id: HAVE_MISSING, B.id: HAVE_MISSING, C.id: HAVE_INSTALLED, D.id: HAVE_MISSING},
            {"operation": "Install", "reboot_option": "NoReboot"},
            {A.id: "InstalledPendingReboot", B.id: "InstalledPendingReboot", C.id: "Installed"},
            {A.id, B.id},
        ),
        (
            {A.id: HAVE_MISSING, B.id: HAVE_MISSING, C.id: HAVE_INSTALLED, D.id: HAVE_MISSING},
            {"operation": "Install", "failing_ids": frozenset({B.id})},
            {A.id: "Installed", B.id: "Failed", C.id: "Installed"},
            {A.id},
        ),
        (
            {A.id: HAVE_MISSING, B.id: HAVE_MISSING, C.id: HAVE_MISSING, D.id: HAVE_MISSING},
            {"operation": "Install", "override_ids": (B.id, "htop.*")},
            {A.id: "Missing", B.id: "Installed", C.id: "Missing", D.id: "InstalledOther"},
            {B.id, D.id},
        ),
        (
            {A.id: HAVE_MISSING, B.id: HAVE_MISSING, C.id: HAVE_MISSING, D.id: HAVE_MISSING},
            {"operation": "Scan", "override_ids": (B.id,)},
            {A.id: "Missing", B.id: "Missing", C.id: "Missing"},
            set(),
        ),
    ],
    ids=["scan", "install", "install-no-reboot", "install-with-failure", "install-override-list", "scan-ignores-override-list"],
)
def test_operation_states(have, options, expected_states, expected_installed):
    if options.get("operation") == "Scan":
        options = {**options, "override_ids": None}
    states, result = operate(have, **options)
    assert states == expected_states
    assert set(result.installed_ids) == expected_installed


def test_reboot_if_needed_clears_every_pending_reboot():
    have = {A.id: HAVE_INSTALLED, B.id: HAVE_MISSING, C.id: HAVE_INSTALLED, D.id: HAVE_INSTALLED}
    states, result = operate(have, operation="Install", pending_reboot=frozenset({A.id}))
    assert states == {A.id: "Installed", B.id: "Installed", C.id: "Installed", D.id: "InstalledOther"}
    assert result.rebooted and result.pending_reboot_ids == frozenset()


def test_scan_keeps_pending_reboot_and_never_reboots():
    have = {A.id: HAVE_INSTALLED, B.id: HAVE_MISSING, C.id: HAVE_INSTALLED, D.id: HAVE_INSTALLED}
    states, result = operate(have, pending_reboot=frozenset({A.id}))
    assert states[A.id] == "InstalledPendingReboot" and not result.rebooted


@pytest.mark.parametrize(
    "action, expected",
    [("ALLOW_AS_DEPENDENCY", {A.id: "InstalledOther", B.id: "Missing"}), ("BLOCK", {A.id: "InstalledRejected", B.id: "Missing"})],
    ids=["allow-as-dependency", "block"],
)
def test_rejected_installed_patch(action, expected):
    decisions = {A.id: Verdict(False, rejected=True), B.id: Verdict(True)}
    states, _ = operate({A.id: HAVE_INSTALLED, B.id: HAVE_MISSING}, decisions=decisions, patches=(A, B), rejected_action=action)
    assert states == expected


def test_windows_security_update_not_yet_approved_is_available():
    states, _ = operate({WIN.id: HAVE_MISSING}, decisions={WIN.id: Verdict(False)}, patches=(WIN,))
    assert states == {WIN.id: "AvailableSecurityUpdate"}


def test_counts_and_compliance_summary():
    have = {A.id: HAVE_MISSING, B.id: HAVE_MISSING, C.id: HAVE_NOT_APPLICABLE, D.id: HAVE_INSTALLED}
    decisions = {**APPROVE_ABC, A.id: Verdict(True, compliance_level="CRITICAL")}
    _, result = operate(have, decisions=decisions)
    assert result.counts() == {"InstalledCount": 0, "InstalledOtherCount": 1, "InstalledPendingRebootCount": 0, "InstalledRejectedCount": 0,
                               "MissingCount": 2, "FailedCount": 0, "NotApplicableCount": 1, "AvailableSecurityUpdateCount": 0}
    assert result.compliance_counts() == {"CriticalNonCompliantCount": 1, "SecurityNonCompliantCount": 1, "OtherNonCompliantCount": 0}


@pytest.mark.parametrize(
    "patterns, expected",
    [(("openssl.x86_64",), True), (("openssl.*",), True), (("open*",), True), (("kernel.x86_64",), False), (("OPENSSL.x86_64",), False)],
    ids=["exact", "arch-wildcard", "name-wildcard", "other", "case-sensitive"],
)
def test_override_list_matching(patterns, expected):
    assert override_matches(A, patterns) is expected


def test_failure_draws_fail_one_patch_when_the_instance_fails():
    draws = iter([0.9, 0.9, 0.5])
    assert failure_draws(["b", "a"], instance_failure=True, per_patch={}, draw=lambda: next(draws)) == frozenset({"b"})


def test_failure_draws_use_per_patch_probabilities():
    draws = iter([0.1, 0.9])
    assert failure_draws(["a", "b"], instance_failure=False, per_patch={"a": 0.5, "b": 0.5}, draw=lambda: next(draws)) == frozenset({"a"})
