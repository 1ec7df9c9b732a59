"""Patch group membership: who is in which group, what breaks Patch Manager's rules, and tag moves.

Pure rules only; plugins/patchflow/aws/membership.py reads the fleet and
applies tag changes, plugins/patchflow/cli/groups.py is the CLI.

Patch Manager puts a node in a patch group through the EC2 tag `Patch Group`
or `PatchGroup` (exact keys, case-sensitive), one group per node. A node in
no group, or in a group with no baseline for its OS, gets the OS default
baseline, which is rarely what a release manager meant.

A membership file assigns groups by selector:

    tag_key: Patch Group            # optional: the key --assign writes (Patch Group or PatchGroup)
    assignments:
      - group: dev
        tags: {Environment: dev}    # every tag must match; a list of values means any of them
      - group: legacy-windows
        instance_ids: [i-0123456789abcdef0]
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from patchflow.core.errors import MISSING, InvalidInput, Problem, join_path, named_item, raise_if_any
from patchflow.core.plan_model import RolloutPlan
from patchflow.core.validation import Entry, Findings, entries_of, load_file, read_mapping, read_patch_group

PATCH_GROUP_TAG_KEYS = ("Patch Group", "PatchGroup")
MEMBERSHIP_KEYS = ("tag_key", "assignments")
ASSIGNMENT_KEYS = ("group", "tags", "instance_ids")
INSTANCE_ID = re.compile(r"^(i|mi)-[0-9a-f]{8}(?:[0-9a-f]{9})?$")
NO_GROUP = "-"

# Report order: what is wrong with an instance first, then with groups and plans.
FINDING_KINDS = ("both-tags", "conflicting-tags", "no-group", "no-baseline", "not-tagged", "invalid-plan")


# --------------------------------------------------------------------------- the fleet as plain data


@dataclass(frozen=True)
class Node:
    """A managed instance as DescribeInstanceInformation and its tags describe it."""

    instance_id: str
    operating_system: str | None
    platform_name: str
    ping_status: str
    tags: Mapping[str, str] = field(default_factory=dict)
    ec2: bool = True  # False for hybrid nodes (mi-...), which EC2 cannot tag

    @property
    def patch_group_tags(self) -> dict[str, str]:
        return {key: self.tags[key] for key in PATCH_GROUP_TAG_KEYS if key in self.tags}

    @property
    def patch_groups(self) -> tuple[str, ...]:
        """Every group a tag puts the node in; more than one is a problem, but tag targeting sees them all."""
        found: list[str] = []
        for value in self.patch_group_tags.values():
            if value and value not in found:
                found.append(value)
        return tuple(found)


@dataclass(frozen=True)
class Registration:
    baseline_id: str
    baseline_name: str


@dataclass(frozen=True)
class Finding:
    kind: str
    subject: str  # an instance id, "patch group 'x'", or "file: path"
    message: str

    def __str__(self) -> str:
        return f"{self.subject}: {self.message}"

    def to_json(self) -> dict:
        return {"kind": self.kind, "subject": self.subject, "message": self.message}


@dataclass(frozen=True)
class GroupRow:
    patch_group: str
    operating_system: str | None
    instance_ids: tuple[str, ...]
    registration: Registration | None

    def to_json(self) -> dict:
        return {
            "patch_group": self.patch_group,
            "operating_system": self.operating_system,
            "instances": list(self.instance_ids),
            "baseline_id": self.registration.baseline_id if self.registration else None,
            "baseline_name": self.registration.baseline_name if self.registration else None,
        }


@dataclass(frozen=True)
class MembershipReport:
    nodes: tuple[Node, ...]
    groups: tuple[GroupRow, ...]
    findings: tuple[Finding, ...]

    def to_json(self) -> dict:
        return {
            "instances": [
                {
                    "instance_id": n.instance_id,
                    "operating_system": n.operating_system,
                    "platform_name": n.platform_name,
                    "ping_status": n.ping_status,
                    "patch_groups": list(n.patch_groups),
                    "tag_keys": list(n.patch_group_tags),
                }
                for n in self.nodes
            ],
            "groups": [g.to_json() for g in self.groups],
            "problems": [f.to_json() for f in self.findings],
        }


# --------------------------------------------------------------------------- checking membership


def instance_findings(node: Node) -> list[Finding]:
    tags = node.patch_group_tags
    if len(tags) == 2:
        first, second = (tags[key] for key in PATCH_GROUP_TAG_KEYS)
        if first == second:
            return [Finding("both-tags", node.instance_id, f"tagged both 'Patch Group' and 'PatchGroup' ({first!r}); keep one of the two keys")]
        return [Finding(
            "conflicting-tags", node.instance_id,
            f"tagged 'Patch Group'={first!r} and 'PatchGroup'={second!r}; a node belongs to one patch group, keep one tag",
        )]
    if node.patch_groups:
        return []
    if tags:
        why = f"tag {next(iter(tags))!r} is empty"
    else:
        near_misses = sorted(key for key in node.tags if _looks_like_patch_group_key(key))
        why = (
            f"tag {near_misses[0]!r} is neither 'Patch Group' nor 'PatchGroup', keys are case-sensitive"
            if near_misses else "no 'Patch Group' or 'PatchGroup' tag"
        )
    default = f"the {node.operating_system} default baseline" if node.operating_system else "its OS's default baseline"
    return [Finding("no-group", node.instance_id, f"in no patch group: {why}; it gets {default}")]


def listed(ids: Sequence[str], shown: int = 5) -> str:
    more = len(ids) - shown
    return ", ".join(ids[:shown]) + (f" and {more} more" if more > 0 else "")


def _looks_like_patch_group_key(key: str) -> bool:
    return re.sub(r"[\s_-]", "", key).lower() == "patchgroup"


def check_membership(
    nodes: Iterable[Node],
    registrations: Mapping[tuple[str, str], Registration],
    plans: Sequence[RolloutPlan] = (),
    broken_plans: Iterable[Problem] = (),
) -> MembershipReport:
    """Every node's groups, one row per group and OS, and every rule the fleet breaks. Pure.

    `registrations` is DescribePatchGroups as (patch group, OS) -> baseline.
    """
    nodes = tuple(sorted(nodes, key=lambda n: n.instance_id))
    findings: list[Finding] = []
    members: dict[tuple[str, str | None], list[str]] = {}
    for node in nodes:
        findings.extend(instance_findings(node))
        for group in node.patch_groups:
            members.setdefault((group, node.operating_system), []).append(node.instance_id)

    rows = tuple(
        GroupRow(group, operating_system, tuple(ids), registrations.get((group, operating_system)) if operating_system else None)
        for (group, operating_system), ids in sorted(members.items(), key=lambda item: (item[0][0], item[0][1] or ""))
    )
    for row in rows:
        if row.operating_system and row.registration is None:
            count = len(row.instance_ids)
            them = f"its {count} {row.operating_system} instance{'s' if count != 1 else ''} ({listed(row.instance_ids)}) get{'s' if count == 1 else ''}"
            findings.append(Finding(
                "no-baseline", f"patch group {row.patch_group!r}",
                f"no baseline is registered for {row.operating_system}; {them} the {row.operating_system} default baseline",
            ))

    carried = {group for group, _ in members}
    registered = {group for group, _ in registrations}
    for plan in plans:
        for index, stage in enumerate(plan.stages):
            if stage.patch_group in carried:
                continue
            also = "" if stage.patch_group in registered else " and no baseline is registered for it"
            findings.append(Finding(
                "not-tagged", f"{plan.source}: {join_path(named_item(join_path('stages', index), stage.name), 'patch_group')}",
                f"{stage.patch_group!r} is not tagged on any managed instance{also}",
            ))
    findings.extend(Finding("invalid-plan", f"{p.source}: {p.path}" if p.path else p.source, p.message) for p in broken_plans)

    findings.sort(key=lambda f: FINDING_KINDS.index(f.kind))
    return MembershipReport(nodes, rows, tuple(findings))


# --------------------------------------------------------------------------- the membership file


@dataclass(frozen=True)
class Assignment:
    path: str  # where it sits in the file, e.g. assignments[2]
    group: str
    tags: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # key -> accepted values
    instance_ids: tuple[str, ...] = ()

    def selects(self, node: Node) -> bool:
        if self.instance_ids:
            return node.instance_id in self.instance_ids
        return all(node.tags.get(key) in values for key, values in self.tags.items())


@dataclass(frozen=True)
class Membership:
    source: str
    tag_key: str
    assignments: tuple[Assignment, ...]


def parse_membership(data: Any, source: str) -> Membership:
    """Validate a membership document; every problem of the file in one InvalidInput."""
    found = Findings(source)
    items = read_mapping(found, (MISSING if data is None else data, ""), MEMBERSHIP_KEYS, "a mapping with assignments")
    if items is None:  # not a mapping: there is nothing more to read
        raise InvalidInput(found.problems)
    tag_key, tag_key_path = items.get("tag_key", (PATCH_GROUP_TAG_KEYS[0], "tag_key"))
    if tag_key not in PATCH_GROUP_TAG_KEYS:
        found.expected(tag_key_path, "'Patch Group' or 'PatchGroup'", tag_key)
    raw, raw_path = items.get("assignments", (MISSING, "assignments"))
    assignments: list[Assignment] = []
    if not isinstance(raw, list) or not raw:
        found.expected(raw_path, "a non-empty list of assignments", MISSING if raw is None or raw == [] else raw)
        raw = []
    for index, item in enumerate(raw):
        assignment = _read_assignment(found, (item, join_path(raw_path, index)))
        if assignment is not None:
            assignments.append(assignment)
    raise_if_any(found.problems)
    return Membership(source, tag_key, tuple(assignments))


def load_membership(path: str | Path) -> Membership:
    return load_file(path, parse_membership)


def _read_assignment(found: Findings, entry: Entry) -> Assignment | None:
    path = entry[1]
    before = len(found.problems)
    items = read_mapping(found, entry, ASSIGNMENT_KEYS, "a mapping with group and tags or instance_ids")
    if items is None:
        return None
    group, group_path = items.get("group", (MISSING, join_path(path, "group")))
    if group is MISSING or group is None:
        found.expected(group_path, "a patch group name", MISSING)
    else:
        read_patch_group(found, (group, group_path))
    selectors = [key for key in ("tags", "instance_ids") if key in items]
    if len(selectors) != 1:
        found.add(path, f"expected one selector, tags or instance_ids, got {' and '.join(selectors) or 'nothing'}")
    tags = _read_tag_selector(found, items["tags"]) if "tags" in items else {}
    instance_ids = _read_instance_ids(found, items["instance_ids"]) if "instance_ids" in items else ()
    if len(found.problems) > before:
        return None
    return Assignment(path, group, tags, instance_ids)


def _read_tag_selector(found: Findings, entry: Entry) -> dict[str, tuple[str, ...]]:
    value, path = entry
    if not isinstance(value, Mapping) or not value:
        found.expected(path, "a mapping of tag key to value (or list of values)", MISSING if value is None or value == {} else value)
        return {}
    tags: dict[str, tuple[str, ...]] = {}
    for key, (wanted, key_path) in entries_of(value, path).items():
        if not isinstance(key, str) or not 1 <= len(key) <= 128:
            found.expected(path, "tag keys of 1-128 characters", key)
            continue
        values = wanted if isinstance(wanted, list) else [wanted]
        if not values or not all(isinstance(v, str) and len(v) <= 256 for v in values):
            found.expected(key_path, "a tag value of up to 256 characters, or a non-empty list of them", wanted)
            continue
        tags[key] = tuple(values)
    return tags


def _read_instance_ids(found: Findings, entry: Entry) -> tuple[str, ...]:
    value, path = entry
    if not isinstance(value, list) or not value:
        found.expected(path, "a non-empty list of instance ids", MISSING if value is None or value == [] else value)
        return ()
    ids = []
    for index, instance_id in enumerate(value):
        if not isinstance(instance_id, str) or not INSTANCE_ID.match(instance_id):
            found.expected(join_path(path, index), "an instance id like i-0123456789abcdef0", instance_id)
        else:
            ids.append(instance_id)
    return tuple(ids)


# --------------------------------------------------------------------------- planning tag changes


@dataclass(frozen=True)
class TagChange:
    instance_id: str
    action: str  # "set" or "remove"
    key: str
    value: str
    previous: str | None = None  # for "set": the value it replaces, None when the key was absent

    def __str__(self) -> str:
        if self.action == "remove":
            return f"{self.instance_id}: untag {self.key}={self.value}"
        was = "" if self.previous is None else f" (was {self.previous})"
        return f"{self.instance_id}: tag {self.key}={self.value}{was}"

    def to_json(self) -> dict:
        return {"instance_id": self.instance_id, "action": self.action, "key": self.key, "value": self.value, "previous": self.previous}


@dataclass(frozen=True)
class AssignmentPlan:
    changes: tuple[TagChange, ...]
    refused: tuple[str, ...]  # instances or selectors left alone; each needs a person
    notes: tuple[str, ...] = ()

    def to_json(self) -> dict:
        return {"changes": [c.to_json() for c in self.changes], "refused": list(self.refused), "notes": list(self.notes)}


def plan_assignment(membership: Membership, nodes: Iterable[Node]) -> AssignmentPlan:
    """The tag changes that put each selected node in exactly one group, under one key. Pure.

    A node two assignments send to different groups is refused and left as it
    is; so is a hybrid node (EC2 cannot tag it) and an instance id that is not
    a managed instance. Nodes no assignment selects are never touched.
    """
    nodes = sorted(nodes, key=lambda n: n.instance_id)
    known = {n.instance_id for n in nodes}
    source = membership.source
    changes: list[TagChange] = []
    refused: list[str] = []
    notes: list[str] = []
    for assignment in membership.assignments:
        for index, instance_id in enumerate(assignment.instance_ids):
            if instance_id not in known:
                refused.append(f"{source}: {join_path(assignment.path, 'instance_ids', index)}: {instance_id!r} is not a managed instance")
        if not assignment.instance_ids and not any(assignment.selects(n) for n in nodes):
            notes.append(f"{source}: {assignment.path}: selects no managed instance (group {assignment.group!r})")

    other_key = next(k for k in PATCH_GROUP_TAG_KEYS if k != membership.tag_key)
    for node in nodes:
        matched = [a for a in membership.assignments if a.selects(node)]
        groups = sorted({a.group for a in matched})
        if not groups:
            continue
        if len(groups) > 1:
            by = ", ".join(f"{a.path} ({a.group!r})" for a in matched)
            refused.append(f"{node.instance_id}: would land in {len(groups)} patch groups ({by}); an instance can be in one patch group only")
            continue
        if not node.ec2:
            refused.append(f"{node.instance_id}: is a hybrid node; --assign tags EC2 instances only (tag it through SSM AddTagsToResource)")
            continue
        group = groups[0]
        current = node.tags.get(membership.tag_key)
        if current != group:
            changes.append(TagChange(node.instance_id, "set", membership.tag_key, group, current))
        if other_key in node.tags:
            changes.append(TagChange(node.instance_id, "remove", other_key, node.tags[other_key]))
    # The order apply_tag_changes batches them in: all sets before any removal, then by tag.
    changes.sort(key=lambda c: (c.action != "set", c.key, c.value, c.instance_id))
    return AssignmentPlan(tuple(changes), tuple(refused), tuple(notes))


# --------------------------------------------------------------------------- rendering


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows)]
    return [
        "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip()
        for row in (header, *rows)
    ]


def render_report(report: MembershipReport) -> str:
    instance_rows = [
        (
            n.instance_id,
            n.operating_system or "unknown",
            n.ping_status,
            ", ".join(n.patch_groups) or NO_GROUP,
            ", ".join(n.patch_group_tags) or NO_GROUP,
        )
        for n in report.nodes
    ]
    lines = table(("INSTANCE", "OS", "PING", "PATCH GROUP", "TAG KEY"), instance_rows)
    group_rows = [
        (
            g.patch_group,
            g.operating_system or "unknown",
            str(len(g.instance_ids)),
            (g.registration.baseline_name or g.registration.baseline_id) if g.registration else "(none: OS default)",
        )
        for g in report.groups
    ]
    lines += [""] + table(("PATCH GROUP", "OS", "INSTANCES", "BASELINE"), group_rows)
    if report.findings:
        count = len(report.findings)
        lines += ["", f"{count} problem{'s' if count != 1 else ''}:"] + [f"  {finding}" for finding in report.findings]
    else:
        lines += ["", "no problems"]
    return "\n".join(lines)


def assignment_notes(plan: AssignmentPlan) -> list[str]:
    return [f"note: {note}" for note in plan.notes]


def assignment_ending(plan: AssignmentPlan, *, dry_run: bool) -> list[str]:
    instances = len({c.instance_id for c in plan.changes})
    return [f"refused: {reason}" for reason in plan.refused] + [
        f"assign: {'would make' if dry_run else 'made'} {len(plan.changes)} tag change{'s' if len(plan.changes) != 1 else ''} "
        f"on {instances} instance{'s' if instances != 1 else ''}, refused {len(plan.refused)}"
    ]
