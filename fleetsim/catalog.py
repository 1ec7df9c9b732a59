"""The patch catalog fleetsim's instances draw from: include/catalog/<OperatingSystem>.json.

One file per simulated operating system, written by `python -m fleetsim.build_catalog`:

    {"reference_date": "...", "generated_by": "...", "patches": [{"id": ..., "title": ..., ...}, ...]}

Each entry carries what Patch Manager filters on and reports (product,
classification, severity or priority, release date, advisory and CVE ids).
A file that does not have that shape is refused with one line per problem,
naming the file and the entry.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, fields
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any

from fleetsim.errors import MISSING, InvalidInput, Problem, join_path, unknown_keys

CATALOG_DIR = Path(__file__).resolve().parents[1] / "include" / "catalog"
RELEASE_DATE_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


@dataclass(frozen=True)
class Patch:
    id: str  # Windows: the KB ("KB5044281"); yum family: name.arch ("openssl-libs.x86_64"); apt: the package name
    title: str
    operating_system: str  # the OperatingSystem value of the baselines that apply to it
    product: str
    classification: str  # "" where the OS has no classifications (apt)
    severity: str  # yum family: SEVERITY; Windows: MSRC_SEVERITY; "" on apt
    release_date: datetime  # UTC; the instant approval delays count from
    cve_ids: tuple[str, ...] = ()
    requires_reboot: bool = False
    security: bool = True  # yum family: listed in an updateinfo.xml notice; apt: from the -security pocket
    priority: str = ""  # apt
    section: str = ""  # apt
    product_family: str = ""  # Windows
    patch_set: str = "OS"  # Windows: OS or APPLICATION
    kb_id: str = ""  # Windows: the KB; Linux: the advisory (ALAS2023-..., USN-...) or ""
    version: str = ""  # yum family: epoch:version-release; apt: the Debian version

    def to_json(self) -> dict[str, Any]:
        entry = {field.name: getattr(self, field.name) for field in fields(self)}
        entry["release_date"] = self.release_date.astimezone(timezone.utc).strftime(RELEASE_DATE_FORMAT)
        entry["cve_ids"] = list(self.cve_ids)
        return entry


# Field -> (type it must have in the file, whether an entry must carry it).
_FIELD_TYPES: dict[str, tuple[type, bool]] = {
    "id": (str, True), "title": (str, True), "operating_system": (str, True), "product": (str, True),
    "classification": (str, True), "severity": (str, True), "release_date": (str, True), "cve_ids": (list, False),
    "requires_reboot": (bool, False), "security": (bool, False), "priority": (str, False), "section": (str, False),
    "product_family": (str, False), "patch_set": (str, False), "kb_id": (str, False), "version": (str, False),
}
_TYPE_WORDS = {str: "a string", list: "a list of strings", bool: "true or false"}


def patch_from_entry(entry: Any, source: str, path: str, problems: list[Problem]) -> Patch | None:
    """One catalog entry as a Patch; what is wrong with it is added to `problems` (and None returned)."""
    if not isinstance(entry, dict):
        problems.append(Problem.expected(source, path, "an object with the patch's fields", entry))
        return None
    before = len(problems)
    problems += unknown_keys(source, path, entry, _FIELD_TYPES)
    values: dict[str, Any] = {}
    for name, (kind, required) in _FIELD_TYPES.items():
        value = entry.get(name, MISSING)
        if value is MISSING and not required:
            continue
        if not isinstance(value, kind) or (kind is list and not all(isinstance(item, str) for item in value)):
            problems.append(Problem.expected(source, join_path(path, name), _TYPE_WORDS[kind], value))
            continue
        values[name] = value
    if "release_date" in values:
        try:
            values["release_date"] = datetime.strptime(values["release_date"], RELEASE_DATE_FORMAT).replace(tzinfo=timezone.utc)
        except ValueError:
            problems.append(Problem.expected(source, join_path(path, "release_date"), "a UTC time like 2026-11-16T12:00:00Z", values["release_date"]))
    if len(problems) > before:
        return None
    if "cve_ids" in values:
        values["cve_ids"] = tuple(values["cve_ids"])
    return Patch(**values)


def parse_catalog(document: Any, source: str, operating_system: str) -> tuple[Patch, ...]:
    """The patches of one catalog document; every problem in it raised together as InvalidInput."""
    if not isinstance(document, dict) or not isinstance(document.get("patches", MISSING), list):
        found = document.get("patches", MISSING) if isinstance(document, dict) else document
        where = "patches" if isinstance(document, dict) else ""
        raise InvalidInput([Problem.expected(source, where, "a list of patches" if where else "an object with a 'patches' list", found)])
    problems: list[Problem] = []
    patches = []
    seen: set[str] = set()
    for index, entry in enumerate(document["patches"]):
        path = join_path("patches", index)
        patch = patch_from_entry(entry, source, path, problems)
        if patch is None:
            continue
        if patch.operating_system != operating_system:
            problems.append(Problem.expected(source, join_path(path, "operating_system"), repr(operating_system), patch.operating_system))
        elif patch.id in seen:
            problems.append(Problem.expected(source, join_path(path, "id"), "an id no other entry has", patch.id))
        seen.add(patch.id)
        patches.append(patch)
    if problems:
        raise InvalidInput(problems)
    return tuple(patches)


@lru_cache(maxsize=None)
def load_catalog(operating_system: str, directory: str | None = None) -> tuple[Patch, ...]:
    """The catalog for one OperatingSystem, in file order (read once per process)."""
    path = Path(directory) if directory else CATALOG_DIR
    path = path / f"{operating_system}.json"
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InvalidInput([Problem(str(path), "", "file not found")]) from None
    except UnicodeDecodeError as exc:
        raise InvalidInput([Problem(str(path), "", f"expected UTF-8 text, got undecodable byte at offset {exc.start}")]) from None
    except json.JSONDecodeError as exc:
        raise InvalidInput([Problem(str(path), f"line {exc.lineno} column {exc.colno}", f"expected valid JSON, got a syntax error ({exc.msg})")]) from None
    return parse_catalog(document, str(path), operating_system)
