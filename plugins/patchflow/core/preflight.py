"""Which patch baseline each operating system of a patch group uses, and whether that blocks a stage.

Patch Manager gives a node the baseline registered for its patch group and
OS, else the OS default. GetPatchBaselineForPatchGroup names the baseline in
force either way, so its answer cannot tell a registration from the default;
DescribePatchGroups lists registrations only. Preflight reads both and
decides here.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping


@dataclass(frozen=True)
class BaselineInForce:
    baseline_id: str  # "" when SSM named none
    registered: bool  # False: nothing is registered for the group and OS, so the OS default applies


def registrations_for_group(patch_group: str, mappings: Iterable[Mapping]) -> dict[str, str]:
    """Operating system -> registered baseline id, from DescribePatchGroups mappings.

    A NAME_PREFIX filter also returns longer names ('dev' finds 'dev-legacy'),
    so only mappings for exactly this group count.
    """
    registered: dict[str, str] = {}
    for mapping in mappings:
        identity = mapping.get("BaselineIdentity") or {}
        if mapping.get("PatchGroup") == patch_group and identity.get("OperatingSystem"):
            registered[identity["OperatingSystem"]] = identity.get("BaselineId", "")
    return registered


def baselines_in_force(operating_systems: Iterable[str], registered: Mapping[str, str], answered: Mapping[str, str | None]) -> dict[str, BaselineInForce]:
    """Per OS of the group's nodes: the registered baseline, else the one SSM answers (the OS default)."""
    in_force = {}
    for operating_system in sorted(set(operating_systems)):
        if operating_system in registered:
            in_force[operating_system] = BaselineInForce(registered[operating_system], True)
        else:
            in_force[operating_system] = BaselineInForce(answered.get(operating_system) or "", False)
    return in_force


def ledger_baselines(in_force: Mapping[str, BaselineInForce]) -> dict[str, dict]:
    """The preflight record's fields: `baselines` (registered id, None for the OS default) and `default_baselines`."""
    return {
        "baselines": {os_name: (b.baseline_id if b.registered else None) for os_name, b in in_force.items()},
        "default_baselines": {os_name: b.baseline_id for os_name, b in in_force.items() if not b.registered and b.baseline_id},
    }


def unregistered_baseline_problem(patch_group: str, in_force: Mapping[str, BaselineInForce], required: bool) -> str | None:
    """The preflight problem when the stage requires a registered baseline and an OS of the group has none."""
    unregistered = [os_name for os_name, b in sorted(in_force.items()) if not b.registered]
    if not required or not unregistered:
        return None
    uses = ", ".join(
        f"{os_name} (its nodes would get the OS default {in_force[os_name].baseline_id})" if in_force[os_name].baseline_id else os_name
        for os_name in unregistered
    )
    return f"no patch baseline is registered for patch group '{patch_group}' and {uses}, and the stage sets require_registered_baseline"
