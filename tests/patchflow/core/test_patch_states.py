"""Patch states in the service's spelling, read in either spelling."""
from __future__ import annotations

import pytest

from patchflow.core.patch_states import ALL_STATES, canonical_state


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        pytest.param("Installed", "Installed", id="service-spelling"),
        pytest.param("INSTALLED_PENDING_REBOOT", "InstalledPendingReboot", id="botocore-enum-spelling"),
        pytest.param("NOT_APPLICABLE", "NotApplicable", id="not-applicable"),
        pytest.param("AVAILABLE_SECURITY_UPDATE", "AvailableSecurityUpdate", id="available-security-update"),
        pytest.param("missing", "Missing", id="lower-case"),
        pytest.param("Superseded", "Superseded", id="unknown-kept-as-given"),
        pytest.param("", "", id="empty"),
    ],
)
def test_canonical_state(given, expected):
    assert canonical_state(given) == expected


def test_every_state_is_its_own_canonical_form():
    assert [canonical_state(s) for s in ALL_STATES] == list(ALL_STATES)
