"""The patch catalog: what patches exist per operating system.

A catalog entry carries what Patch Manager filters and reports on. The model
is used by the approval evaluator (patchflow.core.approval) and by `patchflow
preview`. Catalog data lives in include/catalog/<OPERATING_SYSTEM>.json, which
fleetsim generates and reads with its own code (fleetsim/catalog.py). That
bundled catalog is synthetic: package names, versions and update titles follow
real ones, while release dates, advisory and KB numbers and CVE ids are drawn
from a seed; each file names its generator under "generated_by".
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path

CATALOG_DIR = Path(__file__).resolve().parents[3] / "include" / "catalog"

# Patch filter keys (PatchFilter.Key) -> the Patch attribute they match.
FILTER_ATTRIBUTES = {
    "PRODUCT": "product",
    "PRODUCT_FAMILY": "product_family",
    "CLASSIFICATION": "classification",
    "SEVERITY": "severity",
    "MSRC_SEVERITY": "severity",
    "PRIORITY": "priority",
    "SECTION": "section",
    "PATCH_SET": "patch_set",
}


@dataclass(frozen=True)
class Patch:
    id: str  # Windows: a KB id ("KB5031361"); Linux: "name.arch" ("openssl-libs.x86_64")
    title: str
    operating_system: str  # SSM OperatingSystem enum value, e.g. "AMAZON_LINUX_2023"
    product: str  # e.g. "AmazonLinux2023", "Ubuntu22.04", "WindowsServer2022"
    classification: str  # Linux: Security/Bugfix/...; Windows: SecurityUpdates/CriticalUpdates/...; "" on apt
    severity: str  # Linux SEVERITY or Windows MSRC_SEVERITY; "" on apt
    release_date: datetime  # UTC, the date approval rules count from
    cve_ids: tuple[str, ...] = ()
    requires_reboot: bool = False
    security: bool = True  # comes from a security notice / -security pocket (EnableNonSecurity=false sees only these)
    priority: str = ""  # apt PRIORITY (Required/Important/Standard/Optional/Extra)
    section: str = ""  # apt SECTION
    product_family: str = ""  # Windows PRODUCT_FAMILY
    patch_set: str = "OS"  # Windows PATCH_SET: OS or APPLICATION
    kb_id: str = ""  # Windows KB; Linux: advisory id (ALAS2023-..., USN-...)
    version: str = ""  # Linux: epoch:version-release

    def filter_value(self, key: str) -> str | None:
        attribute = FILTER_ATTRIBUTES.get(key)
        return getattr(self, attribute) if attribute else None

    def to_json(self) -> dict:
        data = {k: getattr(self, k) for k in self.__dataclass_fields__}
        data["release_date"] = self.release_date.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        data["cve_ids"] = list(self.cve_ids)
        return data

    @classmethod
    def from_json(cls, data: dict) -> "Patch":
        values = dict(data)
        values["release_date"] = datetime.strptime(values["release_date"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
        values["cve_ids"] = tuple(values.get("cve_ids", ()))
        return cls(**values)


# The "generated_by" of the catalog files fleetsim writes (fleetsim/build_catalog.py).
SIMULATED_CATALOG_GENERATOR = "python -m fleetsim.build_catalog"


@lru_cache(maxsize=None)
def _catalog_file(operating_system: str, directory: str | None) -> dict:
    path = Path(directory) if directory else CATALOG_DIR
    return json.loads((path / f"{operating_system}.json").read_text(encoding="utf-8"))


@lru_cache(maxsize=None)
def load_catalog(operating_system: str, directory: str | None = None) -> tuple[Patch, ...]:
    return tuple(Patch.from_json(item) for item in _catalog_file(operating_system, directory)["patches"])


def is_simulated_catalog(operating_system: str, directory: str | None = None) -> bool:
    """Whether the catalog is the synthetic one fleetsim generated, not what a real account's Patch Manager reported."""
    return _catalog_file(operating_system, directory).get("generated_by") == SIMULATED_CATALOG_GENERATOR
