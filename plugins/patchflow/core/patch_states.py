"""Patch compliance states as Patch Manager spells them, in one place.

botocore's model lists the DescribeInstancePatches State enum in upper snake
case (INSTALLED, INSTALLED_PENDING_REBOOT, ...), but the service answers, and
its State filter takes, the spelling of the AWS CLI's own examples
(`"State": "Installed"`, `--filters Key=State,Values=Missing`). Filters are
sent in the service's spelling; answers are read in either.
"""
from __future__ import annotations

import re
from typing import Mapping

INSTALLED = "Installed"
INSTALLED_OTHER = "InstalledOther"
INSTALLED_PENDING_REBOOT = "InstalledPendingReboot"
INSTALLED_REJECTED = "InstalledRejected"
MISSING = "Missing"
FAILED = "Failed"
NOT_APPLICABLE = "NotApplicable"
AVAILABLE_SECURITY_UPDATE = "AvailableSecurityUpdate"

ALL_STATES = (
    INSTALLED,
    INSTALLED_OTHER,
    INSTALLED_PENDING_REBOOT,
    INSTALLED_REJECTED,
    MISSING,
    FAILED,
    NOT_APPLICABLE,
    AVAILABLE_SECURITY_UPDATE,
)
# On disk, whoever installed it: what the manifest counts as installed after the source stage's install.
INSTALLED_STATES = (INSTALLED, INSTALLED_OTHER, INSTALLED_PENDING_REBOOT)
# What a scan reports as still to install: the evidence of "missing before".
NOT_INSTALLED_STATES = (MISSING, FAILED)

_BY_SQUEEZED = {state.lower(): state for state in ALL_STATES}


def canonical_state(value: str) -> str:
    """'INSTALLED_PENDING_REBOOT', 'InstalledPendingReboot' -> 'InstalledPendingReboot'; unknown values are kept as given."""
    return _BY_SQUEEZED.get(re.sub(r"[\s_\-]", "", value or "").lower(), value)


def is_compliant(state: Mapping) -> bool:
    """Patch Manager's node compliance: nothing missing, failed, rejected-installed or awaiting reboot."""
    return not any(
        int(state.get(key, 0) or 0) > 0
        for key in ("MissingCount", "FailedCount", "InstalledRejectedCount", "InstalledPendingRebootCount")
    )
