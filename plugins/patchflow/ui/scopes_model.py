"""The accounts and Regions on the Patch rollouts page, as plain data: which patch groups to read where,
each account and Region's section of the groups table, and where each plan's stages patch.

Pure, like patchflow.ui.model. A plan's stage (as `gather.plan_view` hands it over) lists its
`scopes`, one per account and Region of its targets, or none when it patches the rollout
connection's own account and Region; only plans with targets add anything here, so a page
without them looks as it always did.
"""
from __future__ import annotations

from datetime import datetime
from typing import Mapping, Sequence

from patchflow.ui.model import group_summary

# How a failure (gather.classify_failure's kinds) reads in the one line that stands for an account and Region.
FAILURE_WORDS = {
    "unreachable": "unreachable",
    "no_permission": "no permission",
    "not_configured": "no AWS credentials or Region",
    "throttled": "throttled",
    "missing": "not found",
    "error": "error",
}
ORDER_WORDS = {"parallel": "in parallel", "one_at_a_time": "one at a time"}


def stage_scopes(stage: Mapping) -> list[Mapping]:
    """The stage's accounts and Regions; none for a stage in the connection's own (plans read before targets existed have no key)."""
    return list(stage.get("scopes") or [])


def has_scopes(plans: Sequence[Mapping]) -> bool:
    return any(stage_scopes(stage) for plan in plans for stage in plan.get("stages", []))


def scope_key(where: Mapping) -> tuple:
    """An account and Region as a scope, a scoped fleet read and a report row name it."""
    return where.get("account"), where.get("region")


def scopes_to_read(plans: Sequence[Mapping]) -> list[dict]:
    """Each account and Region a plan's stage targets, once, in plan and stage order, with the patch groups to read there."""
    found: dict[tuple, dict] = {}
    for plan in plans:
        for stage in plan.get("stages", []):
            for scope in stage_scopes(stage):
                entry = found.setdefault(scope_key(scope), {"scope": scope, "groups": {}})
                group = entry["groups"].setdefault(stage["patch_group"], {"name": stage["patch_group"], "used_by": []})
                group["used_by"].append(f"{plan['name']}/{stage['name']}")
    return [{"scope": entry["scope"], "groups": list(entry["groups"].values())} for entry in found.values()]


def failure_line(title: str, failure: Mapping) -> str:
    """`account prod (333333333333), Region eu-west-1 could not be read: no permission: cannot assume role ...`."""
    kind = failure.get("kind", "error")
    detail = failure.get("detail") or "no reason given"
    return f"{title} could not be read: {FAILURE_WORDS.get(kind, kind)}: {detail}"


def scope_sections(plans: Sequence[Mapping], scoped_fleets: Sequence[Mapping], now: datetime) -> list[dict]:
    """One section per account and Region that was read: its patch groups' rows, or the one line saying why it could not be read.

    scoped_fleets: what gather.read_scoped_fleet returned, one per account and Region, in any order;
    an account and Region it does not hold was not read and has no section.
    """
    read = {scope_key(fleet): fleet for fleet in scoped_fleets}
    sections = []
    for entry in scopes_to_read(plans):
        scope = entry["scope"]
        fleet = read.get(scope_key(scope))
        if fleet is None:
            continue
        section = {
            "label": scope["label"], "title": scope["name"],
            "account": scope.get("account"), "account_alias": scope.get("account_alias"), "region": scope.get("region"),
            "groups": [], "failure": None,
        }
        if fleet.get("ok"):
            for group in entry["groups"]:
                data = fleet.get("groups", {}).get(group["name"], {})
                section["groups"].append(
                    group_summary(group["name"], data.get("members", []), data.get("states", {}), data.get("baselines", {}), now, group["used_by"])
                )
        else:
            section["failure"] = failure_line(scope["name"], fleet.get("failure", {}))
        sections.append(section)
    return sections


def plan_where(plan: Mapping) -> list[dict]:
    """Where each stage with targets patches: its scopes' labels and names, and their order when there is more than one."""
    rows = []
    for stage in plan.get("stages", []):
        scopes = stage_scopes(stage)
        if not scopes:
            continue
        order = stage.get("order") or "parallel"
        rows.append({
            "stage": stage["name"],
            "labels": [scope["label"] for scope in scopes],
            "names": [scope["name"] for scope in scopes],
            "order": ORDER_WORDS.get(order, order) if len(scopes) > 1 else "",
        })
    return rows
