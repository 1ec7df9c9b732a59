"""The pinned manifest: exactly what the source stage installed, per operating system.

Later stages install this set through AWS-RunPatchBaseline's InstallOverrideList
instead of whatever their baseline approves by then, so prod gets what dev
proved. The content hash covers the patches only (not the stage name), so two
stages that installed the same set have the same hash.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Iterable, Mapping

import yaml


@dataclass(frozen=True, order=True)
class ManifestPatch:
    id: str  # Linux 'name.arch', Windows 'KB...'
    title: str = ""  # Linux '{name}.{arch}:{epoch}:{version}-{release}' pins the version; may be empty


def _canonical_patches(patches: Mapping[str, Iterable[ManifestPatch]]) -> dict[str, list[list[str]]]:
    return {os_name: [[p.id, p.title] for p in sorted(set(items))] for os_name, items in sorted(patches.items()) if items}


def content_hash_of(patches: Mapping[str, Iterable[ManifestPatch]]) -> str:
    canonical = json.dumps(_canonical_patches(patches), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Manifest:
    source_stage: str
    patches: Mapping[str, tuple[ManifestPatch, ...]]  # by OperatingSystem, sorted, no duplicates
    content_hash: str = field(default="")

    def __post_init__(self):
        normalized = {os_name: tuple(sorted(set(items))) for os_name, items in sorted(self.patches.items()) if items}
        object.__setattr__(self, "patches", normalized)
        expected = content_hash_of(normalized)
        if self.content_hash and self.content_hash != expected:
            raise ValueError(f"manifest content_hash: expected {expected} for these patches, got {self.content_hash!r}")
        object.__setattr__(self, "content_hash", expected)

    def ids(self, operating_system: str) -> frozenset[str]:
        return frozenset(p.id for p in self.patches.get(operating_system, ()))

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
    """installed: OperatingSystem -> (patch id, title) pairs seen on the stage's instances, duplicates welcome."""
    patches = {
        os_name: tuple(ManifestPatch(str(patch_id), str(title or "")) for patch_id, title in pairs)
        for os_name, pairs in installed.items()
    }
    return Manifest(source_stage, patches)


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
