"""The pinned manifest: exactly what the source stage installed, per operating system.

Later stages install this set through AWS-RunPatchBaseline's InstallOverrideList
instead of whatever their baseline approves by then, so prod gets what dev
proved. The content hash covers the patches and the operating systems the
source stage patched (not the stage name), so two stages that installed the
same set have the same hash.

The set is built from evidence, not from timestamps: a patch is in it when
the source stage saw it missing on an instance before installing (its scan)
and installed on that instance afterwards. InstalledTime cannot say this:
Windows reports whole days and some Linux systems report no time at all.
An operating system the source stage patched with nothing new to install is
in the manifest with no patches: pinned stages install nothing there.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Iterable, Mapping

import yaml

from patchflow.core.errors import InvalidInput, Problem
from patchflow.core.patch_states import FAILED, INSTALLED_PENDING_REBOOT, INSTALLED_REJECTED, MISSING, NOT_INSTALLED_STATES


@dataclass(frozen=True, order=True)
class ManifestPatch:
    id: str  # Linux 'name.arch', Windows 'KB...'
    title: str = ""  # Linux '{name}.{arch}:{epoch}:{version}-{release}' pins the version; may be empty


def _canonical_patches(patches: Mapping[str, Iterable[ManifestPatch]]) -> dict[str, list[list[str]]]:
    return {os_name: [[p.id, p.title] for p in sorted(set(items))] for os_name, items in sorted(patches.items())}


def content_hash_of(patches: Mapping[str, Iterable[ManifestPatch]]) -> str:
    canonical = json.dumps(_canonical_patches(patches), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Manifest:
    source_stage: str
    # By OperatingSystem, sorted, no duplicates; an OS with no patches was patched with nothing new.
    patches: Mapping[str, tuple[ManifestPatch, ...]]
    content_hash: str = field(default="")

    def __post_init__(self):
        normalized = {os_name: tuple(sorted(set(items))) for os_name, items in sorted(self.patches.items())}
        object.__setattr__(self, "patches", normalized)
        expected = content_hash_of(normalized)
        if self.content_hash and self.content_hash != expected:
            raise ValueError(f"manifest content_hash: expected {expected} for these patches, got {self.content_hash!r}")
        object.__setattr__(self, "content_hash", expected)

    def ids(self, operating_system: str) -> frozenset[str]:
        return frozenset(p.id for p in self.patches.get(operating_system, ()))

    def covers(self, operating_system: str) -> bool:
        """Whether the source stage patched instances of this OS (possibly with nothing new to install)."""
        return operating_system in self.patches

    @property
    def size(self) -> int:
        return sum(len(items) for items in self.patches.values())

    def to_json(self) -> dict:
        return {
            "source_stage": self.source_stage,
            "content_hash": self.content_hash,
            "patches": {os_name: [{"id": p.id, "title": p.title} for p in items] for os_name, items in self.patches.items()},
        }

    @classmethod
    def from_json(cls, data: Mapping) -> "Manifest":
        """Raises ValueError if the stored hash does not match the patches (a tampered or corrupt manifest)."""
        patches = {
            os_name: tuple(ManifestPatch(str(item["id"]), str(item.get("title") or "")) for item in items)
            for os_name, items in data["patches"].items()
        }
        return cls(str(data["source_stage"]), patches, str(data.get("content_hash", "")))


def build_manifest(source_stage: str, installed: Mapping[str, Iterable[tuple[str, str]]]) -> Manifest:
    """installed: OperatingSystem -> (patch id, title) pairs seen on the stage's instances, duplicates welcome.

    An OS with no pairs stays in the manifest: the stage patched it and had nothing new to install.
    """
    patches = {
        os_name: tuple(ManifestPatch(str(patch_id), str(title or "")) for patch_id, title in pairs)
        for os_name, pairs in installed.items()
    }
    return Manifest(source_stage, patches)


@dataclass(frozen=True)
class InstanceEvidence:
    """What the source stage saw on one instance it patched successfully."""

    operating_system: str
    missing_before: frozenset[str]  # patch ids Missing or Failed in its scan, before the install
    installed_after: Mapping[str, str]  # patch id -> title, Installed or InstalledPendingReboot after the install


def manifest_from_evidence(source_stage: str, evidence: Iterable[InstanceEvidence]) -> Manifest:
    """Missing before and installed after, per instance, gathered per OS. Every OS seen gets an entry."""
    installed: dict[str, set[tuple[str, str]]] = {}
    for seen in evidence:
        pairs = installed.setdefault(seen.operating_system, set())
        pairs.update((patch_id, title) for patch_id, title in seen.installed_after.items() if patch_id in seen.missing_before)
    return build_manifest(source_stage, installed)


class _IndentedListDumper(yaml.SafeDumper):
    # PyYAML puts list items flush with their key by default; the override file reads better indented.
    def increase_indent(self, flow=False, indentless=False):
        return super().increase_indent(flow, False)


def install_override_document(manifest: Manifest, operating_system: str) -> str:
    """The YAML InstallOverrideList points at: `patches: [{id, title}]`. Empty title is left out.

    An operating system the manifest has no patches for gives `patches: []`: pinning means
    installing exactly the source stage's set, and that set is empty.
    """
    items = [{"id": p.id, **({"title": p.title} if p.title else {})} for p in manifest.patches.get(operating_system, ())]
    if not items:
        return "patches: []\n"
    return yaml.dump({"patches": items}, Dumper=_IndentedListDumper, sort_keys=False, default_flow_style=False, allow_unicode=True)


def drift(manifest: Manifest, operating_system: str, approved_ids: Iterable[str]) -> list[str]:
    """Patch ids approved for this OS now but not in the manifest (reported, never installed), sorted."""
    pinned = manifest.ids(operating_system)
    return sorted({i for i in approved_ids if i not in pinned})


@dataclass(frozen=True)
class ReportedPatch:
    """One DescribeInstancePatches item: the patch id (KBId), its title and its state in the service's spelling."""

    id: str
    title: str
    state: str


@dataclass(frozen=True)
class VersionMovedOn:
    """A pinned Linux patch whose pinned version the instance's repositories no longer offer."""

    id: str
    pinned_title: str
    offered_title: str

    def sentence(self) -> str:
        return f"{self.id}: pinned {self.pinned_title}, the repositories now offer {self.offered_title}"

    def to_json(self) -> dict:
        return {"id": self.id, "pinned_title": self.pinned_title, "offered_title": self.offered_title}


@dataclass(frozen=True)
class PinnedCompliance:
    compliant: bool
    not_installed: tuple[str, ...]  # manifest patches still missing, failed, rejected or awaiting a reboot
    failed: tuple[str, ...]  # every patch the instance reports failed, in the manifest or not
    moved_on: tuple[VersionMovedOn, ...]
    drift: tuple[str, ...]  # missing patches outside the manifest: held back on purpose


NOT_YET_INSTALLED_STATES = (FAILED, INSTALLED_PENDING_REBOOT, INSTALLED_REJECTED, MISSING)


def judge_against_manifest(manifest: Manifest, operating_system: str, reported: Iterable[ReportedPatch]) -> PinnedCompliance:
    """A pinned instance is compliant when every manifest patch that applies to it is installed and nothing failed.

    A manifest patch the instance does not report does not apply to it. Patches its own baseline
    approves beyond the manifest are drift: held back by design, never a failure.
    """
    pinned = {p.id: p for p in manifest.patches.get(operating_system, ())}
    # On Linux the override list's title pins a version; Windows and macOS match by id alone.
    titles_pin_versions = operating_system not in ("WINDOWS", "MACOS")
    not_installed, failed, moved_on, drift_ids = set(), set(), [], set()
    for item in reported:
        if item.state == FAILED:
            failed.add(item.id)
        if item.id not in pinned:
            if item.state == MISSING:
                drift_ids.add(item.id)
            continue
        if item.state in NOT_YET_INSTALLED_STATES:
            not_installed.add(item.id)
            pin = pinned[item.id]
            if titles_pin_versions and item.state in NOT_INSTALLED_STATES and pin.title and item.title and item.title != pin.title:
                moved_on.append(VersionMovedOn(item.id, pin.title, item.title))
    return PinnedCompliance(
        compliant=not not_installed and not failed,
        not_installed=tuple(sorted(not_installed)),
        failed=tuple(sorted(failed)),
        moved_on=tuple(sorted(set(moved_on), key=lambda m: m.id)),
        drift=tuple(sorted(drift_ids)),
    )


# DescribeInstancePatchStates names each count after its state: FailedCount, InstalledPendingRebootCount, ...
NOT_YET_INSTALLED_COUNTS = tuple(f"{state}Count" for state in NOT_YET_INSTALLED_STATES)


def needs_patch_listing(patch_state: Mapping) -> bool:
    """Whether judging a pinned node needs its DescribeInstancePatches listing (one call per node) or its patch state says enough.

    The judgement reads only patches in NOT_YET_INSTALLED_STATES, and the patch state counts each of
    those states: when all four counts are 0 the listing would be empty. A count that is absent or not
    a whole number is unknown (the API makes every count optional), so the listing is read.
    """
    return not all(type(patch_state.get(key)) is int and patch_state[key] == 0 for key in NOT_YET_INSTALLED_COUNTS)


# --------------------------------------------------------------------------- evidence from the source stage


def missing_before_artifact(stage: str) -> str:
    """Where, in the run's ledger, the source stage's scan leaves what each instance was missing before the install."""
    return f"evidence/{stage}/missing-before.json"


def missing_before_json(missing: Mapping[str, Iterable[str]]) -> str:
    """The evidence file: {instance id: [patch id, ...]}, sorted, so the same scan writes the same bytes."""
    return json.dumps({instance_id: sorted(ids) for instance_id, ids in missing.items()}, indent=2, sort_keys=True)


def read_missing_before(text: str | bytes, where: str) -> dict[str, frozenset[str]]:
    """The evidence file back; anything else is reported naming the file and the entry."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise InvalidInput([Problem(where, "", f"expected JSON, got text that does not parse ({exc})")]) from None
    if not isinstance(data, dict):
        raise InvalidInput([Problem.expected(where, "", "a mapping of instance id to a list of patch ids", data)])
    problems = [
        Problem.expected(where, instance_id, "a list of patch ids", ids)
        for instance_id, ids in data.items()
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids)
    ]
    if problems:
        raise InvalidInput(problems)
    return {instance_id: frozenset(ids) for instance_id, ids in data.items()}


@dataclass(frozen=True)
class EvidenceSelection:
    """Which patched instances can say what the source stage installed."""

    with_scan: Mapping[str, str]  # instance id -> operating system: scanned before, so missing-before is known
    without_scan: tuple[str, ...]  # patched, but absent from the scan (tagged in after it): no evidence


def select_evidence(patched: Mapping[str, str], missing_before: Mapping[str, frozenset[str]]) -> EvidenceSelection:
    """patched: instance id -> operating system of every instance the stage's waves patched successfully."""
    return EvidenceSelection(
        with_scan={i: patched[i] for i in sorted(patched) if i in missing_before},
        without_scan=tuple(sorted(i for i in patched if i not in missing_before)),
    )
