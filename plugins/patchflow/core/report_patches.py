"""Patch lists in the report: what a dry run would install, and what a pin-source stage installed, per operating system.

Both come from the ledger alone. A scan's wave_result carries `missing_patches` (each operating system
it scanned -> the patches DescribeInstancePatches reported Missing or Failed there, with their severity
and CVE ids); a pin-source stage's manifest record carries `patches` (what it installed: id and title).
Patch Manager reports CVE ids only for a patch that is missing or failed, so an installed patch's severity
and CVE ids are the ones the stage's own scan saw before its install; where that scan recorded no list,
the report has none to show and says `-`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

from patchflow.core.errors import join_path
from patchflow.core.report_fields import LIST, TEXT, TEXTS, FieldReader


@dataclass(frozen=True)
class ListedPatch:
    """One patch of a list: its id (KBId), title, severity ("" where none is reported) and CVE ids."""

    id: str
    title: str = ""
    severity: str = ""
    cve_ids: tuple[str, ...] = ()

    @classmethod
    def from_reported(cls, item: Mapping[str, Any]) -> "ListedPatch":
        """A DescribeInstancePatches item; its CVEIds is one comma-separated string, absent when there are none."""
        cves = tuple(cve.strip() for cve in str(item.get("CVEIds") or "").split(",") if cve.strip())
        return cls(str(item.get("KBId", "")), str(item.get("Title", "")), str(item.get("Severity") or ""), cves)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "ListedPatch":
        return cls(str(data.get("id", "")), str(data.get("title", "")), str(data.get("severity", "")), tuple(data.get("cve_ids", ())))

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "severity": self.severity, "cve_ids": list(self.cve_ids)}


PatchLists = Mapping[str, tuple[ListedPatch, ...]]  # operating system -> patches, sorted by id


def missing_by_os(scanned: Iterable[tuple[str | None, Iterable[Mapping[str, Any]]]]) -> dict[str, list[dict[str, Any]]]:
    """What a scan records as `missing_patches`: (a node's operating system, its Missing and Failed items) -> each OS once,
    each patch once (the first node's answer), sorted by id; an OS whose nodes miss nothing keeps an empty list."""
    found: dict[str, dict[str, ListedPatch]] = {}
    for operating_system, items in scanned:
        patches = found.setdefault(operating_system or "unknown", {})
        for item in items:
            patch = ListedPatch.from_reported(item)
            patches.setdefault(patch.id, patch)
    return {os_name: [patches[i].to_json() for i in sorted(patches)] for os_name, patches in sorted(found.items())}


def scans_found_missing(wave_records: Sequence[Mapping[str, Any]]) -> dict[str, tuple[ListedPatch, ...]] | None:
    """A stage's scans together: each operating system -> every patch any scan found missing, once; None when no scan recorded a list."""
    lists = [record["missing_patches"] for record in wave_records if record.get("missing_patches") is not None]
    if not lists:
        return None
    merged: dict[str, dict[str, ListedPatch]] = {}
    for by_os in lists:
        for os_name, items in by_os.items():
            patches = merged.setdefault(os_name, {})
            for item in items:
                patches.setdefault(item["id"], ListedPatch.from_json(item))
    return {os_name: tuple(patches[i] for i in sorted(patches)) for os_name, patches in sorted(merged.items())}


def installed_patches(manifest: Mapping[str, Any] | None, wave_records: Sequence[Mapping[str, Any]]) -> dict[str, tuple[ListedPatch, ...]]:
    """A pin-source stage's manifest, per operating system, with each patch's severity and CVE ids from the stage's scan
    (its wave_result records); {} when its manifest record has no list."""
    if not manifest or manifest.get("patches") is None:
        return {}
    seen = scans_found_missing(wave_records) or {}
    listed = {}
    for os_name, items in sorted(manifest["patches"].items()):
        scanned = {patch.id: patch for patch in seen.get(os_name, ())}
        listed[os_name] = tuple(
            ListedPatch(item["id"], item.get("title", ""), scanned[item["id"]].severity, scanned[item["id"]].cve_ids)
            if item["id"] in scanned else ListedPatch(item["id"], item.get("title", ""))
            for item in sorted(items, key=lambda item: item["id"])
        )
    return listed


def lists_to_json(lists: PatchLists) -> dict[str, list[dict[str, Any]]]:
    return {os_name: [patch.to_json() for patch in patches] for os_name, patches in lists.items()}


# --------------------------------------------------------------------------- in words


def patch_count(lists: PatchLists) -> int:
    return sum(len(patches) for patches in lists.values())


def list_heading(title: str, lists: PatchLists) -> str:
    """`Would install: 5 patches (AMAZON_LINUX_2023 3, UBUNTU 2, WINDOWS none)` or `Installed: nothing`."""
    count = patch_count(lists)
    if not count:
        return f"{title}: nothing" + (f" ({', '.join(lists)} scanned, nothing missing)" if lists else "")
    per_os = ", ".join(f"{os_name} {len(patches) or 'none'}" for os_name, patches in lists.items())
    return f"{title}: {count} patch{'es' if count != 1 else ''} ({per_os})"


PATCH_COLUMNS = ("os", "patch", "title", "severity", "CVEs")


def patch_rows(lists: PatchLists) -> list[tuple[str, ...]]:
    """One row per patch, in operating system order: severity and CVEs `-` where none is known."""
    return [
        (os_name, patch.id, patch.title or "-", patch.severity or "-", ", ".join(patch.cve_ids) or "-")
        for os_name, patches in lists.items() for patch in patches
    ]


# --------------------------------------------------------------------------- reading report.json


def read_patch_lists(read: FieldReader, value: Any, path: str) -> dict[str, tuple[ListedPatch, ...]]:
    """A stage's `would_install` or `installed`: operating system -> [{id, title, severity, cve_ids}]."""
    data = read.mapping(value, path)
    if data is None:
        return {}
    lists = {}
    for os_name, items in data.items():
        at = join_path(path, os_name)
        if not LIST[0](items):
            read.found.expected(at, LIST[1], items)
            continue
        lists[os_name] = read.each(items, at, lambda item, where: _read_patch(read, item, where))
    return lists


def _read_patch(read: FieldReader, value: Any, path: str) -> ListedPatch:
    data = read.mapping(value, path)
    if data is None:
        return ListedPatch("")
    return ListedPatch(read.take(data, path, "id", TEXT), read.take(data, path, "title", TEXT), read.take(data, path, "severity", TEXT),
                       tuple(read.take(data, path, "cve_ids", TEXTS) or ()))

