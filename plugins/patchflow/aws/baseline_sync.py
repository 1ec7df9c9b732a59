"""Make SSM's patch baselines, patch groups and defaults match include/baselines.

Two halves. `plan_sync` is pure: desired Baselines and a snapshot of what SSM
has (ActualState) in, an ordered list of Changes out. `read_actual_state` and
`apply_changes` are the thin boto3 shell around it; they take a client, so
they run against AWS, fleetsim or moto alike.

What sync will and will not do:

* A baseline it created carries the tag `managed-by: patchflow`. Only those
  are ever updated, tagged or deleted. A baseline with a desired name but
  without the tag is a conflict, never touched.
* Any difference between a managed baseline and its file is drift and gets a
  full replace (UpdatePatchBaseline with Replace=True), so fields removed from
  the file are removed in SSM too.
* Patch groups are registered as the files say; a group held by a managed or
  AWS-owned baseline is moved, a group held by an unmanaged one is a conflict.
* A managed baseline whose file is gone is deleted only with
  `delete_removed`; otherwise it is left as it is and named in the notes.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

from patchflow.core.baselines import PREDEFINED_BASELINES, Baseline

MANAGED_TAG_KEY, MANAGED_TAG_VALUE = "managed-by", "patchflow"
RESOURCE_TYPE = "PatchBaseline"

# Order matters: a group must be free before it is registered elsewhere, and a
# baseline must stop being a default and lose its groups before it is deleted.
ACTIONS = ("create", "update", "tag", "deregister", "register", "set-default", "delete")
API_CALLS = {
    "create": "create_patch_baseline",
    "update": "update_patch_baseline",
    "tag": "add_tags_to_resource",
    "deregister": "deregister_patch_baseline_for_patch_group",
    "register": "register_patch_baseline_for_patch_group",
    "set-default": "register_default_patch_baseline",
    "delete": "delete_patch_baseline",
}
# The AWS baseline that is every OS's default when no one has chosen another.
AWS_DEFAULT_NAMES = {
    os_: name for name, os_ in PREDEFINED_BASELINES.items()
    if not name.startswith("AWS-WindowsPredefinedPatchBaseline")
}


@dataclass(frozen=True)
class ActualBaseline:
    baseline_id: str
    name: str
    operating_system: str
    owned_by_aws: bool = False
    tags: Mapping[str, str] = field(default_factory=dict)
    document: Mapping[str, Any] | None = None  # get_patch_baseline(), read for managed baselines only

    @property
    def managed(self) -> bool:
        return not self.owned_by_aws and self.tags.get(MANAGED_TAG_KEY) == MANAGED_TAG_VALUE


@dataclass(frozen=True)
class ActualState:
    baselines: tuple[ActualBaseline, ...] = ()
    registrations: Mapping[tuple[str, str], str] = field(default_factory=dict)  # (patch group, OS) -> baseline id
    defaults: Mapping[str, str] = field(default_factory=dict)  # OS -> baseline id


@dataclass(frozen=True)
class Change:
    action: str
    name: str  # the baseline's name
    baseline_id: str | None  # None for a baseline this sync creates; resolved by name when applied
    kwargs: Mapping[str, Any]
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.action} {self.name}" + (f": {self.detail}" if self.detail else "")


@dataclass(frozen=True)
class SyncPlan:
    changes: tuple[Change, ...]
    conflicts: tuple[str, ...] = ()  # what sync refuses to do; each needs a person
    notes: tuple[str, ...] = ()  # what sync deliberately leaves alone


# --------------------------------------------------------------------------- comparing


def comparable(document: Mapping[str, Any], operating_system: str) -> dict[str, Any]:
    """A get_patch_baseline()-shaped dict with defaults filled in, so equal baselines compare equal."""

    def filters(group: Mapping | None) -> list:
        return [{"Key": f["Key"], "Values": list(f["Values"])} for f in (group or {}).get("PatchFilters") or []]

    rules = [
        {
            "PatchFilters": filters(rule.get("PatchFilterGroup")),
            "ComplianceLevel": rule.get("ComplianceLevel") or "UNSPECIFIED",
            "ApproveAfterDays": rule.get("ApproveAfterDays"),
            "ApproveUntilDate": rule.get("ApproveUntilDate") or None,
            "EnableNonSecurity": bool(rule.get("EnableNonSecurity")),
        }
        for rule in (document.get("ApprovalRules") or {}).get("PatchRules") or []
    ]
    status = document.get("AvailableSecurityUpdatesComplianceStatus")
    return {
        "Name": document.get("Name"),
        "Description": document.get("Description") or "",
        "GlobalFilters": filters(document.get("GlobalFilters")),
        "ApprovalRules": rules,
        "ApprovedPatches": list(document.get("ApprovedPatches") or []),
        "ApprovedPatchesComplianceLevel": document.get("ApprovedPatchesComplianceLevel") or "UNSPECIFIED",
        "ApprovedPatchesEnableNonSecurity": bool(document.get("ApprovedPatchesEnableNonSecurity")),
        "RejectedPatches": list(document.get("RejectedPatches") or []),
        "RejectedPatchesAction": document.get("RejectedPatchesAction") or "ALLOW_AS_DEPENDENCY",
        "Sources": [dict(s) for s in document.get("Sources") or []],
        # COMPLIANT is what Windows reports when the field was never set.
        "AvailableSecurityUpdatesComplianceStatus": (status or "COMPLIANT") if operating_system == "WINDOWS" else None,
    }


def drifted_fields(desired: Baseline, actual: ActualBaseline) -> list[str]:
    wanted = comparable(desired.to_api(), desired.operating_system)
    found = comparable(actual.document or {}, actual.operating_system)
    return [key for key in wanted if wanted[key] != found[key]]


# --------------------------------------------------------------------------- planning


def plan_sync(desired: Sequence[Baseline], actual: ActualState, *, delete_removed: bool = False) -> SyncPlan:
    """The ordered changes that make `actual` match `desired`. Pure."""
    changes: list[Change] = []
    conflicts: list[str] = []
    notes: list[str] = []
    aws_by_name = {b.name: b for b in actual.baselines if b.owned_by_aws}
    custom_by_name: dict[str, list[ActualBaseline]] = {}
    for baseline in actual.baselines:
        if not baseline.owned_by_aws:
            custom_by_name.setdefault(baseline.name, []).append(baseline)
    by_id = {b.baseline_id: b for b in actual.baselines}

    # name -> id in SSM (None: created by this sync). Baselines in conflict get no entry and no registrations.
    ids: dict[str, str | None] = {}
    # SSM baselines that share a name with a file in conflict: left exactly as they are until a person decides.
    held: set[str] = set()
    for wanted in desired:
        if wanted.predefined:
            found = aws_by_name.get(wanted.name)
            if found is None:
                conflicts.append(f"{wanted.source}: predefined baseline {wanted.name!r} is not offered in this account and region")
            else:
                ids[wanted.name] = found.baseline_id
            continue
        same_name = custom_by_name.get(wanted.name, [])
        managed = [b for b in same_name if b.managed]
        if not same_name:
            changes.append(Change("create", wanted.name, None, wanted.to_create_kwargs({MANAGED_TAG_KEY: MANAGED_TAG_VALUE}), wanted.operating_system))
            ids[wanted.name] = None
            continue
        conflict = None
        if not managed:
            conflict = (
                f"{wanted.source}: baseline {wanted.name!r} already exists ({same_name[0].baseline_id}) without tag "
                f"{MANAGED_TAG_KEY}={MANAGED_TAG_VALUE}; sync never touches it (tag it to adopt it, or rename the file's baseline)"
            )
        elif len(managed) > 1:
            conflict = f"{wanted.source}: {len(managed)} managed baselines are named {wanted.name!r} ({', '.join(b.baseline_id for b in managed)}); delete all but one"
        elif managed[0].operating_system != wanted.operating_system:
            conflict = (
                f"{wanted.source}: baseline {wanted.name!r} exists for {managed[0].operating_system}, the file says {wanted.operating_system}; "
                "the operating system of a baseline cannot change, delete it or rename the file's baseline"
            )
        if conflict:
            conflicts.append(conflict)
            held.update(b.baseline_id for b in same_name)
        else:
            current = managed[0]
            ids[wanted.name] = current.baseline_id
            drift = drifted_fields(wanted, current)
            if drift:
                changes.append(Change("update", wanted.name, current.baseline_id, wanted.to_update_kwargs(current.baseline_id), f"{', '.join(drift)} differ"))
            missing_tags = {k: v for k, v in {**dict(wanted.tags), MANAGED_TAG_KEY: MANAGED_TAG_VALUE}.items() if current.tags.get(k) != v}
            if missing_tags:
                changes.append(Change(
                    "tag", wanted.name, current.baseline_id,
                    {"ResourceType": RESOURCE_TYPE, "ResourceId": current.baseline_id, "Tags": [{"Key": k, "Value": v} for k, v in missing_tags.items()]},
                    ", ".join(f"{k}={v}" for k, v in missing_tags.items()),
                ))

    desired_names = {b.name for b in desired}
    removed = [b for b in actual.baselines if b.managed and b.name not in desired_names]
    removed_ids = {b.baseline_id for b in removed}
    for baseline in removed:
        if not delete_removed:
            notes.append(f"{baseline.name} ({baseline.baseline_id}) has no file any more; left as it is (--delete-removed deletes it)")

    # Patch groups.
    wanted_groups = {
        (group, baseline.operating_system): baseline.name
        for baseline in desired if baseline.name in ids for group in baseline.patch_groups
    }
    freed: set[tuple[str, str]] = set()
    for (group, operating_system), name in sorted(wanted_groups.items()):
        want_id = ids[name]
        holder_id = actual.registrations.get((group, operating_system))
        if holder_id is not None and holder_id == want_id:
            continue
        if holder_id is not None:
            holder = by_id.get(holder_id)
            if holder is None or not (holder.managed or holder.owned_by_aws):
                holder_name = holder.name if holder else holder_id
                conflicts.append(
                    f"patch group {group!r} is registered for {operating_system} to {holder_name} ({holder_id}), which sync does not manage; "
                    f"deregister it to let {name} have the group"
                )
                continue
            changes.append(Change("deregister", holder.name, holder_id, {"BaselineId": holder_id, "PatchGroup": group}, f"patch group {group} ({operating_system})"))
            freed.add((group, operating_system))
        changes.append(Change("register", name, want_id, {"PatchGroup": group}, f"patch group {group} ({operating_system})"))
    for (group, operating_system), holder_id in sorted(actual.registrations.items()):
        holder = by_id.get(holder_id)
        if (group, operating_system) in wanted_groups or (group, operating_system) in freed or holder is None or not holder.managed:
            continue
        if holder_id in held:
            continue
        if holder.baseline_id in removed_ids and not delete_removed:
            continue
        changes.append(Change("deregister", holder.name, holder_id, {"BaselineId": holder_id, "PatchGroup": group}, f"patch group {group} ({operating_system})"))

    # Defaults.
    wanted_defaults = {b.operating_system: b.name for b in desired if b.default_for_os and b.name in ids}
    for operating_system, name in sorted(wanted_defaults.items()):
        if actual.defaults.get(operating_system) != ids[name] or ids[name] is None:
            changes.append(Change("set-default", name, ids[name], {}, f"default for {operating_system}"))
    for operating_system, holder_id in sorted(actual.defaults.items()):
        holder = by_id.get(holder_id)
        if operating_system in wanted_defaults or holder is None or not holder.managed or holder_id in held:
            continue
        if holder.baseline_id in removed_ids and not delete_removed:
            continue
        aws_default = aws_by_name.get(AWS_DEFAULT_NAMES.get(operating_system, ""))
        if aws_default is None:
            conflicts.append(f"{holder.name} is the {operating_system} default and no file asks for that, but no AWS default baseline was found to restore")
            continue
        changes.append(Change("set-default", aws_default.name, aws_default.baseline_id, {}, f"default for {operating_system} again, instead of {holder.name}"))

    if delete_removed:
        for baseline in removed:
            changes.append(Change("delete", baseline.name, baseline.baseline_id, {"BaselineId": baseline.baseline_id}, "no file any more"))

    changes.sort(key=lambda change: ACTIONS.index(change.action))
    return SyncPlan(tuple(changes), tuple(conflicts), tuple(notes))


# --------------------------------------------------------------------------- the boto3 shell


def _pages(ssm, operation: str, key: str, **kwargs) -> Iterable[dict]:
    if ssm.can_paginate(operation):
        for page in ssm.get_paginator(operation).paginate(**kwargs):
            yield from page.get(key, [])
    else:
        yield from getattr(ssm, operation)(**kwargs).get(key, [])


def read_actual_state(ssm, operating_systems: Iterable[str]) -> ActualState:
    """What SSM has now: every baseline (documents of managed ones), group registrations, defaults."""
    baselines = []
    for identity in _pages(ssm, "describe_patch_baselines", "BaselineIdentities"):
        baseline_id = identity["BaselineId"]
        owned_by_aws = baseline_id.startswith("arn:") or identity.get("BaselineName", "").startswith("AWS-")
        tags: dict[str, str] = {}
        document = None
        if not owned_by_aws:
            tag_list = ssm.list_tags_for_resource(ResourceType=RESOURCE_TYPE, ResourceId=baseline_id).get("TagList", [])
            tags = {t["Key"]: t["Value"] for t in tag_list}
            if tags.get(MANAGED_TAG_KEY) == MANAGED_TAG_VALUE:
                document = ssm.get_patch_baseline(BaselineId=baseline_id)
        baselines.append(ActualBaseline(
            baseline_id, identity.get("BaselineName", ""), identity.get("OperatingSystem", "WINDOWS"), owned_by_aws, tags, document,
        ))
    registrations = {
        (mapping["PatchGroup"], mapping["BaselineIdentity"]["OperatingSystem"]): mapping["BaselineIdentity"]["BaselineId"]
        for mapping in _pages(ssm, "describe_patch_groups", "Mappings")
    }
    systems = set(operating_systems) | {b.operating_system for b in baselines if b.managed}
    defaults = {os_: ssm.get_default_patch_baseline(OperatingSystem=os_)["BaselineId"] for os_ in sorted(systems)}
    return ActualState(tuple(baselines), registrations, defaults)


def apply_changes(ssm, changes: Iterable[Change], report=print) -> dict[str, str]:
    """Make each call in order; returns the ids of the baselines it created, by name."""
    created: dict[str, str] = {}
    for change in changes:
        call = getattr(ssm, API_CALLS[change.action])
        if change.action == "create":
            created[change.name] = call(**change.kwargs)["BaselineId"]
        else:
            baseline_id = change.baseline_id or created[change.name]
            call(**{**change.kwargs, **({} if change.action == "tag" else {"BaselineId": baseline_id})})
        report(str(change))
    return created
