"""Patch baselines as code: one file per baseline in include/baselines/.

Two spellings of the same thing are accepted and normalised into one frozen
`Baseline` before any logic runs:

* the project's YAML, snake_case keys mirroring CreatePatchBaseline plus
  `patch_groups` and `default_for_os`::

      name: prod-al2023
      operating_system: AMAZON_LINUX_2023
      description: Production, security fixes after two weeks
      global_filters: [{key: PRODUCT, values: [AmazonLinux2023]}]
      approval_rules:
        - patch_filters:                       # a list of {key, values}, or key: values
            CLASSIFICATION: [Security]
            SEVERITY: [Critical, Important]
          approve_after_days: 14               # or approve_until_date: 2026-11-30
          compliance_level: HIGH
          enable_non_security: false
      approved_patches: [openssl-libs]
      approved_patches_compliance_level: HIGH
      rejected_patches: [telnet*]
      rejected_patches_action: BLOCK
      sources: [{name: internal, products: [AmazonLinux2023], configuration: "[internal]..."}]
      tags: {Owner: platform}
      patch_groups: [prod]
      default_for_os: false

* the JSON `aws ssm get-patch-baseline` prints, as is (BaselineId,
  CreatedDate and ModifiedDate are ignored, PatchGroups becomes patch_groups).

A predefined AWS baseline is referenced, never copied::

      predefined: AWS-UbuntuDefaultPatchBaseline
      patch_groups: [legacy-ubuntu]

Every constraint of ssm-reference sections 1 and 6 is checked, each problem
reported as `file: path: expected ..., got ...`, all of them in one pass.
Pure: no boto3, no clock.
"""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from patchflow.core.errors import MISSING, Entry, InvalidInput, Problem, join_path, read_bool
from patchflow.core.yamlfile import display_path, load_document

# --------------------------------------------------------------------------- the service's vocabulary

OPERATING_SYSTEMS = (
    "WINDOWS", "AMAZON_LINUX", "AMAZON_LINUX_2", "AMAZON_LINUX_2022", "AMAZON_LINUX_2023", "UBUNTU", "DEBIAN",
    "RASPBIAN", "REDHAT_ENTERPRISE_LINUX", "CENTOS", "ORACLE_LINUX", "ROCKY_LINUX", "ALMA_LINUX", "SUSE", "MACOS",
)
YUM_SYSTEMS = frozenset({
    "AMAZON_LINUX", "AMAZON_LINUX_2", "AMAZON_LINUX_2022", "AMAZON_LINUX_2023", "REDHAT_ENTERPRISE_LINUX", "CENTOS",
    "ORACLE_LINUX", "ROCKY_LINUX", "ALMA_LINUX",
})
APT_SYSTEMS = frozenset({"UBUNTU", "DEBIAN", "RASPBIAN"})
LINUX_SYSTEMS = YUM_SYSTEMS | APT_SYSTEMS | {"SUSE"}
COMPLIANCE_LEVELS = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "INFORMATIONAL", "UNSPECIFIED")
REJECTED_PATCHES_ACTIONS = ("ALLOW_AS_DEPENDENCY", "BLOCK")
SECURITY_UPDATE_STATUSES = ("COMPLIANT", "NON_COMPLIANT")

YUM_CLASSIFICATIONS = ("Security", "Bugfix", "Enhancement", "Recommended", "Newpackage")
YUM_SEVERITIES = ("Critical", "Important", "Medium", "Low")
APT_PRIORITIES = ("Required", "Important", "Standard", "Optional", "Extra")

# Filter key -> known values, or None for free text; per operating system (ssm-reference 1.3).
_YUM_KEYS = {"PRODUCT": None, "CLASSIFICATION": YUM_CLASSIFICATIONS, "SEVERITY": YUM_SEVERITIES}
FILTER_KEYS_BY_OS: dict[str, dict[str, tuple[str, ...] | None]] = {
    **{system: _YUM_KEYS for system in YUM_SYSTEMS},
    "AMAZON_LINUX_2023": {**_YUM_KEYS, "SEVERITY": YUM_SEVERITIES + ("None",)},
    "SUSE": {
        "PRODUCT": None,
        "CLASSIFICATION": ("Security", "Recommended", "Optional", "Feature", "Document", "Yast"),
        "SEVERITY": ("Critical", "Important", "Moderate", "Low"),
    },
    **{system: {"PRODUCT": None, "PRIORITY": APT_PRIORITIES, "SECTION": None} for system in APT_SYSTEMS},
    "MACOS": {"PRODUCT": None, "CLASSIFICATION": None},
    "WINDOWS": {
        "PRODUCT": None,
        "PRODUCT_FAMILY": None,
        "CLASSIFICATION": (
            "CriticalUpdates", "DefinitionUpdates", "Drivers", "FeaturePacks", "SecurityUpdates", "ServicePacks", "Tools",
            "UpdateRollups", "Updates", "Upgrades",
        ),
        "MSRC_SEVERITY": ("Critical", "Important", "Moderate", "Low", "Unspecified"),
        "PATCH_SET": ("OS", "APPLICATION"),
    },
}

# The predefined baselines AWS owns, by name -> operating system (ssm-reference 6).
PREDEFINED_BASELINES = {
    "AWS-DefaultPatchBaseline": "WINDOWS",
    "AWS-WindowsPredefinedPatchBaseline-OS": "WINDOWS",
    "AWS-WindowsPredefinedPatchBaseline-OS-Applications": "WINDOWS",
    "AWS-AmazonLinuxDefaultPatchBaseline": "AMAZON_LINUX",
    "AWS-AmazonLinux2DefaultPatchBaseline": "AMAZON_LINUX_2",
    "AWS-AmazonLinux2022DefaultPatchBaseline": "AMAZON_LINUX_2022",
    "AWS-AmazonLinux2023DefaultPatchBaseline": "AMAZON_LINUX_2023",
    "AWS-UbuntuDefaultPatchBaseline": "UBUNTU",
    "AWS-DebianDefaultPatchBaseline": "DEBIAN",
    "AWS-RaspbianDefaultPatchBaseline": "RASPBIAN",
    "AWS-RedHatDefaultPatchBaseline": "REDHAT_ENTERPRISE_LINUX",
    "AWS-CentOSDefaultPatchBaseline": "CENTOS",
    "AWS-OracleLinuxDefaultPatchBaseline": "ORACLE_LINUX",
    "AWS-RockyLinuxDefaultPatchBaseline": "ROCKY_LINUX",
    "AWS-AlmaLinuxDefaultPatchBaseline": "ALMA_LINUX",
    "AWS-SuseDefaultPatchBaseline": "SUSE",
    "AWS-MacOSDefaultPatchBaseline": "MACOS",
}

MAX_RULES, MAX_FILTERS, MAX_VALUES, MAX_PATCHES, MAX_SOURCES, MAX_PRODUCTS, MAX_TAGS = 10, 4, 20, 50, 20, 20, 1000

NAME = re.compile(r"^[a-zA-Z0-9_\-.]{3,128}$")
SOURCE_NAME = re.compile(r"^[a-zA-Z0-9_\-.]{3,50}$")
UNTIL_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# PatchGroup: ^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$, 1-256 characters.
PATCH_GROUP_PUNCTUATION = frozenset("_.:/=+-@")
WINDOWS_PATCH_ID = re.compile(r"^(KB\d{6,8}|MS\d{2}-\d{3})$")
CVE_ID = re.compile(r"^CVE-\d{4}-\d{4,}$")
ADVISORY_ID = re.compile(r"^[A-Z][A-Z0-9]*(-[A-Z0-9]+)?-\d{4}[:-]\d+$")
BUGZILLA_ID = re.compile(r"^\d+$")
RPM_NAME = re.compile(r"^[A-Za-z0-9_+.:~^-]+$")  # name, or name-version-release.arch, each without spaces
APT_NAME = re.compile(r"^[a-z0-9][a-z0-9+.-]+$")  # Debian policy: lower case, digits, + - .

NAME_RULE = "a name of 3-128 letters, digits, '_', '-' or '.'"
PATCH_GROUP_RULE = "a patch group of 1-256 letters, digits, spaces or _.:/=+-@"

# --------------------------------------------------------------------------- the canonical shape


@dataclass(frozen=True)
class PatchFilter:
    key: str
    values: tuple[str, ...]

    def to_api(self) -> dict:
        return {"Key": self.key, "Values": list(self.values)}


@dataclass(frozen=True)
class ApprovalRule:
    patch_filters: tuple[PatchFilter, ...]
    approve_after_days: int | None = None
    approve_until_date: str | None = None
    compliance_level: str = "UNSPECIFIED"
    enable_non_security: bool = False

    def to_api(self, linux: bool) -> dict:
        rule: dict[str, Any] = {
            "PatchFilterGroup": {"PatchFilters": [f.to_api() for f in self.patch_filters]},
            "ComplianceLevel": self.compliance_level,
        }
        if self.approve_after_days is not None:
            rule["ApproveAfterDays"] = self.approve_after_days
        if self.approve_until_date is not None:
            rule["ApproveUntilDate"] = self.approve_until_date
        rule["EnableNonSecurity"] = self.enable_non_security if linux else False
        return rule


@dataclass(frozen=True)
class PatchSource:
    name: str
    products: tuple[str, ...]
    configuration: str

    def to_api(self) -> dict:
        return {"Name": self.name, "Products": list(self.products), "Configuration": self.configuration}


@dataclass(frozen=True)
class Baseline:
    """One patch baseline as desired, whichever spelling it was written in."""

    name: str
    operating_system: str
    description: str = ""
    global_filters: tuple[PatchFilter, ...] = ()
    approval_rules: tuple[ApprovalRule, ...] = ()
    approved_patches: tuple[str, ...] = ()
    approved_patches_compliance_level: str = "UNSPECIFIED"
    approved_patches_enable_non_security: bool = False
    rejected_patches: tuple[str, ...] = ()
    rejected_patches_action: str = "ALLOW_AS_DEPENDENCY"
    sources: tuple[PatchSource, ...] = ()
    available_security_updates_compliance_status: str | None = None
    tags: tuple[tuple[str, str], ...] = ()
    patch_groups: tuple[str, ...] = ()
    default_for_os: bool = False
    predefined: bool = False  # an AWS-owned baseline referenced by name: registered, never created or changed
    source: str = field(default="", compare=False)
    # Where name, patch_groups and default_for_os were written, for problems found across files.
    paths: Mapping[str, str] = field(default_factory=dict, compare=False, hash=False, repr=False)

    @property
    def linux(self) -> bool:
        return self.operating_system in LINUX_SYSTEMS

    def path_of(self, field_name: str) -> str:
        return self.paths.get(field_name, field_name)

    def _request(self) -> dict[str, Any]:
        if self.predefined:
            raise ValueError(f"{self.name} is a predefined AWS baseline; it is registered, never created or updated")
        request: dict[str, Any] = {
            "Name": self.name,
            "GlobalFilters": {"PatchFilters": [f.to_api() for f in self.global_filters]},
            "ApprovalRules": {"PatchRules": [r.to_api(self.linux) for r in self.approval_rules]},
            "ApprovedPatches": list(self.approved_patches),
            "ApprovedPatchesComplianceLevel": self.approved_patches_compliance_level,
            "RejectedPatches": list(self.rejected_patches),
            "RejectedPatchesAction": self.rejected_patches_action,
        }
        if self.description:
            request["Description"] = self.description
        if self.linux:
            request["ApprovedPatchesEnableNonSecurity"] = self.approved_patches_enable_non_security
            request["Sources"] = [s.to_api() for s in self.sources]
        if self.available_security_updates_compliance_status:
            request["AvailableSecurityUpdatesComplianceStatus"] = self.available_security_updates_compliance_status
        return request

    def to_create_kwargs(self, extra_tags: Mapping[str, str] | None = None) -> dict[str, Any]:
        """Keyword arguments for ssm.create_patch_baseline()."""
        kwargs = {**self._request(), "OperatingSystem": self.operating_system}
        tags = {**dict(self.tags), **dict(extra_tags or {})}
        if tags:
            kwargs["Tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
        return kwargs

    def to_update_kwargs(self, baseline_id: str) -> dict[str, Any]:
        """Keyword arguments for ssm.update_patch_baseline(): a full replace, so nothing stale survives."""
        return {"BaselineId": baseline_id, **self._request(), "Replace": True}

    def to_api(self) -> dict[str, Any]:
        """The baseline as ssm.get_patch_baseline() returns it (without ids and timestamps): what approval evaluates."""
        if self.predefined:
            raise ValueError(f"{self.name} is a predefined AWS baseline; its rules live in AWS, not in this project")
        return {
            "Name": self.name,
            "OperatingSystem": self.operating_system,
            "GlobalFilters": {"PatchFilters": [f.to_api() for f in self.global_filters]},
            "ApprovalRules": {"PatchRules": [r.to_api(self.linux) for r in self.approval_rules]},
            "ApprovedPatches": list(self.approved_patches),
            "ApprovedPatchesComplianceLevel": self.approved_patches_compliance_level,
            "ApprovedPatchesEnableNonSecurity": self.approved_patches_enable_non_security if self.linux else False,
            "RejectedPatches": list(self.rejected_patches),
            "RejectedPatchesAction": self.rejected_patches_action,
            "Description": self.description,
            "Sources": [s.to_api() for s in self.sources],
            "PatchGroups": list(self.patch_groups),
            **(
                {"AvailableSecurityUpdatesComplianceStatus": self.available_security_updates_compliance_status}
                if self.available_security_updates_compliance_status
                else {}
            ),
        }


# --------------------------------------------------------------------------- spellings

# snake_case key -> get-patch-baseline key. Keys mapped to None have no API spelling.
TOP_KEYS = {
    "name": "Name",
    "operating_system": "OperatingSystem",
    "description": "Description",
    "global_filters": "GlobalFilters",
    "approval_rules": "ApprovalRules",
    "approved_patches": "ApprovedPatches",
    "approved_patches_compliance_level": "ApprovedPatchesComplianceLevel",
    "approved_patches_enable_non_security": "ApprovedPatchesEnableNonSecurity",
    "rejected_patches": "RejectedPatches",
    "rejected_patches_action": "RejectedPatchesAction",
    "sources": "Sources",
    "available_security_updates_compliance_status": "AvailableSecurityUpdatesComplianceStatus",
    "tags": "Tags",
    "patch_groups": "PatchGroups",
    "default_for_os": None,
}
PREDEFINED_KEYS = ("predefined", "operating_system", "patch_groups", "default_for_os")
API_READ_ONLY = ("BaselineId", "CreatedDate", "ModifiedDate", "ResponseMetadata")
RULE_KEYS = {
    "patch_filters": "PatchFilterGroup",
    "approve_after_days": "ApproveAfterDays",
    "approve_until_date": "ApproveUntilDate",
    "compliance_level": "ComplianceLevel",
    "enable_non_security": "EnableNonSecurity",
}
FILTER_FIELDS = {"key": "Key", "values": "Values"}
SOURCE_KEYS = {"name": "Name", "products": "Products", "configuration": "Configuration"}
REQUIRED_SOURCE_KEYS = ("name", "products", "configuration")

class Findings:
    """Problems of one file, collected so every one is reported together."""

    def __init__(self, source: str):
        self.source = source
        self.problems: list[Problem] = []

    def expected(self, path: str, what: str, got: object) -> None:
        if isinstance(got, date):
            got = got.isoformat()  # YAML turned an unquoted date into an object; show it as it was written
        self.problems.append(Problem.expected(self.source, path, what, got))

    def expected_described(self, path: str, what: str, got: str) -> None:
        """Like expected(), for a found value better described than shown (a count, an overlong text)."""
        self.problems.append(Problem(self.source, path, f"expected {what}, got {got}"))


def one_of(values: Sequence[str]) -> str:
    return "one of " + ", ".join(values)


def read_fields(found: Findings, value: Any, path: str, keys: Mapping[str, str | None], api: bool, what: str) -> dict[str, Entry] | None:
    """snake_case key -> (value, path) for one mapping, whichever spelling; unknown keys are problems."""
    if not isinstance(value, dict):
        found.expected(path, what, value)
        return None
    by_spelling = {(api_key if api else key): key for key, api_key in keys.items() if not api or api_key}
    fields: dict[str, Entry] = {}
    for raw_key, item in value.items():
        item_path = join_path(path, str(raw_key))
        if raw_key in by_spelling:
            fields[by_spelling[raw_key]] = (item, item_path)
        elif not (api and path == "" and raw_key in API_READ_ONLY):
            found.expected(item_path, known_key_hint(str(raw_key), list(by_spelling)), raw_key)
    return fields


def known_key_hint(key: str, allowed: Sequence[str]) -> str:
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.75)
    if close:
        return f"a known key (did you mean {close[0]!r}?)"
    return f"a known key ({', '.join(allowed)})"


def unwrap(found: Findings, entry: Entry, inner: str) -> Entry | None:
    """GlobalFilters.PatchFilters and friends: the API wraps each list in a one-key mapping."""
    value, path = entry
    if not isinstance(value, dict) or set(value) != {inner}:
        found.expected(path, f"a mapping with just {inner}", value)
        return None
    return value[inner], join_path(path, inner)


# --------------------------------------------------------------------------- field readers


def read_text(found: Findings, entry: Entry, what: str, pattern: re.Pattern | None = None, low: int = 1, high: int = 1024) -> str | None:
    value, path = entry
    if isinstance(value, str) and len(value) > high:
        found.expected_described(path, what, f"a text of {len(value)} characters")
        return None
    if not isinstance(value, str) or not low <= len(value) <= high or (pattern is not None and not pattern.match(value)):
        found.expected(path, what, value)
        return None
    return value


def read_choice(found: Findings, entry: Entry, choices: Sequence[str]) -> str | None:
    value, path = entry
    if value not in choices:
        found.expected(path, one_of(choices), value)
        return None
    return value


def read_list(found: Findings, entry: Entry, what: str, high: int, low: int = 0) -> list[Entry]:
    value, path = entry
    if value is None and low == 0:
        return []
    if not isinstance(value, list):
        found.expected(path, f"a list of {low}-{high} {what}", value)
        return []
    if not low <= len(value) <= high:
        found.expected_described(path, f"a list of {low}-{high} {what}", f"{len(value)} items")
        return []
    return [(item, join_path(path, index)) for index, item in enumerate(value)]


def read_days(found: Findings, entry: Entry) -> int | None:
    value, path = entry
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 360:
        found.expected(path, "an integer 0-360", value)
        return None
    return value


def read_until_date(found: Findings, entry: Entry) -> str | None:
    value, path = entry
    # YAML reads an unquoted 2026-11-30 as a date; that is what was meant.
    if isinstance(value, date) and not isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str) and UNTIL_DATE.match(value):
        try:
            date.fromisoformat(value)
            return value
        except ValueError:
            pass
    found.expected(path, "a date YYYY-MM-DD", value)
    return None


def is_patch_group(value: object) -> bool:
    return (
        isinstance(value, str)
        and 1 <= len(value) <= 256
        and all(ch.isalnum() or ch.isspace() or ch in PATCH_GROUP_PUNCTUATION for ch in value)
    )


def patch_id_rule(operating_system: str, rejected: bool) -> str:
    """What an ApprovedPatches/RejectedPatches entry must look like on this OS (ssm-reference 1.4)."""
    if operating_system == "WINDOWS":
        return "a KB id like KB2032276 or a bulletin id like MS10-048"
    if operating_system in APT_SYSTEMS:
        return "a bare package name (lower case, no version, architecture or wildcard)"
    if operating_system == "MACOS":
        return "a full package name without wildcards"
    if operating_system == "SUSE" or rejected:
        return "a full package name or a package name with one '*'"
    return "a package name (full, or with one '*'), a CVE id, an advisory id or a Bugzilla id"


def is_patch_id(value: str, operating_system: str, rejected: bool) -> bool:
    if operating_system == "WINDOWS":
        return bool(WINDOWS_PATCH_ID.match(value))
    if operating_system in APT_SYSTEMS:
        return bool(APT_NAME.match(value))
    if not rejected and operating_system in YUM_SYSTEMS and (CVE_ID.match(value) or ADVISORY_ID.match(value) or BUGZILLA_ID.match(value)):
        return True
    if CVE_ID.match(value) or ADVISORY_ID.match(value) or BUGZILLA_ID.match(value):
        return False
    wildcards = value.count("*")
    if operating_system == "MACOS" and wildcards:
        return False
    return wildcards <= 1 and value != "*" and bool(RPM_NAME.match(value.replace("*", "")))


def read_patch_list(found: Findings, entry: Entry, operating_system: str | None, rejected: bool) -> tuple[str, ...]:
    out = []
    for item, path in read_list(found, entry, "patch ids", MAX_PATCHES):
        if isinstance(item, str) and len(item) > 100:
            found.expected_described(path, "a patch id of 1-100 characters", f"a text of {len(item)} characters")
        elif not isinstance(item, str) or not item:
            found.expected(path, f"{patch_id_rule(operating_system, rejected)} for {operating_system}" if operating_system else "a patch id", item)
        elif operating_system and not is_patch_id(item, operating_system, rejected):
            found.expected(path, f"{patch_id_rule(operating_system, rejected)} for {operating_system}", item)
        else:
            out.append(item)
    return tuple(out)


def read_filters(found: Findings, entry: Entry, operating_system: str | None, api: bool) -> tuple[PatchFilter, ...]:
    value, path = entry
    if api:
        items = read_list(found, entry, "patch filters", MAX_FILTERS)
        raw = []
        for item, item_path in items:
            fields = read_fields(found, item, item_path, FILTER_FIELDS, True, "a mapping with Key and Values")
            if fields is not None:
                raw.append((fields.get("key", (MISSING, join_path(item_path, "Key"))), fields.get("values", (MISSING, join_path(item_path, "Values")))))
    elif isinstance(value, dict):
        # Shorthand: KEY: [values]. The key is reported at its own path.
        if len(value) > MAX_FILTERS:
            found.expected_described(path, f"a list of 0-{MAX_FILTERS} patch filters", f"{len(value)} items")
            return ()
        raw = [((key, join_path(path, str(key))), (values, join_path(path, str(key)))) for key, values in value.items()]
    else:
        raw = []
        for item, item_path in read_list(found, entry, "patch filters", MAX_FILTERS):
            fields = read_fields(found, item, item_path, {k: None for k in FILTER_FIELDS}, False, "a mapping with key and values")
            if fields is not None:
                raw.append((fields.get("key", (MISSING, join_path(item_path, "key"))), fields.get("values", (MISSING, join_path(item_path, "values")))))
    allowed = FILTER_KEYS_BY_OS.get(operating_system or "", {})
    seen: set[str] = set()
    filters = []
    for (key, key_path), values_entry in raw:
        if operating_system and not (isinstance(key, str) and key in allowed):
            found.expected(key_path, f"a filter key for {operating_system} ({', '.join(allowed)})", key)
            continue
        if not isinstance(key, str):  # no known OS to check it against, but a list or mapping is never a key
            found.expected(key_path, "a filter key such as PRODUCT or CLASSIFICATION", key)
            continue
        if key in seen:
            found.expected(key_path, "each filter key once per filter group", key)
            continue
        seen.add(key)
        values = read_filter_values(found, values_entry, allowed.get(key) if operating_system else None)
        if values is not None:
            filters.append(PatchFilter(key, values))
    return tuple(filters)


def read_filter_values(found: Findings, entry: Entry, known: tuple[str, ...] | None) -> tuple[str, ...] | None:
    items = read_list(found, entry, "values", MAX_VALUES, low=1)
    if not items:
        return None
    values = []
    for item, path in items:
        if isinstance(item, str) and len(item) > 64:
            found.expected_described(path, "a value of 1-64 characters", f"a text of {len(item)} characters")
        elif not isinstance(item, str) or not item:
            found.expected(path, "a value of 1-64 characters", item)
        elif known is not None and item != "*" and item not in known:
            found.expected(path, f"{one_of(known)} or *", item)
        else:
            values.append(item)
    return tuple(values) if len(values) == len(items) else None


def read_rule(found: Findings, entry: Entry, operating_system: str | None, api: bool) -> ApprovalRule | None:
    value, path = entry
    fields = read_fields(found, value, path, RULE_KEYS, api, "an approval rule mapping")
    if fields is None:
        return None
    before = len(found.problems)
    filters_entry = fields.get("patch_filters")
    if filters_entry is None:
        found.expected(join_path(path, RULE_KEYS["patch_filters"] if api else "patch_filters"), "patch filters", MISSING)
        filters: tuple[PatchFilter, ...] = ()
    else:
        if api:
            filters_entry = unwrap(found, filters_entry, "PatchFilters")
        filters = read_filters(found, filters_entry, operating_system, api) if filters_entry else ()
    days = read_days(found, fields["approve_after_days"]) if _given(fields, "approve_after_days") else None
    until = read_until_date(found, fields["approve_until_date"]) if _given(fields, "approve_until_date") else None
    days_key = "ApproveAfterDays" if api else "approve_after_days"
    until_key = "ApproveUntilDate" if api else "approve_until_date"
    if operating_system in APT_SYSTEMS:
        for key in ("approve_after_days", "approve_until_date"):
            if _given(fields, key):
                found.expected(fields[key][1], f"nothing (approval delays are not supported on {operating_system})", fields[key][0])
    elif operating_system:
        if _given(fields, "approve_after_days") and _given(fields, "approve_until_date"):
            found.expected(join_path(path, until_key), f"either {days_key} or {until_key}, not both", until or fields["approve_until_date"][0])
        elif not _given(fields, "approve_after_days") and not _given(fields, "approve_until_date"):
            found.expected(join_path(path, days_key), f"{days_key} (0-360) or {until_key} (YYYY-MM-DD)", MISSING)
    level = read_choice(found, fields["compliance_level"], COMPLIANCE_LEVELS) if _given(fields, "compliance_level") else "UNSPECIFIED"
    non_security = read_bool(found, fields["enable_non_security"]) if _given(fields, "enable_non_security") else False
    if non_security and operating_system and operating_system not in LINUX_SYSTEMS:
        found.expected(fields["enable_non_security"][1], f"false or nothing (Linux only; this baseline is for {operating_system})", True)
    if len(found.problems) > before:
        return None
    return ApprovalRule(filters, days, until, level, bool(non_security))


def _given(fields: Mapping[str, Entry], key: str) -> bool:
    return key in fields and fields[key][0] is not None


def read_source(found: Findings, entry: Entry, api: bool) -> PatchSource | None:
    value, path = entry
    fields = read_fields(found, value, path, SOURCE_KEYS, api, "a patch source mapping with name, products and configuration")
    if fields is None:
        return None
    before = len(found.problems)
    for key in REQUIRED_SOURCE_KEYS:
        if key not in fields:
            found.expected(join_path(path, SOURCE_KEYS[key] if api else key), {"name": "a source name", "products": "a list of products", "configuration": "repository configuration text"}[key], MISSING)
    name = read_text(found, fields["name"], "a source name of 3-50 letters, digits, '_', '-' or '.'", SOURCE_NAME) if "name" in fields else None
    products = []
    if "products" in fields:
        for item, item_path in read_list(found, fields["products"], "products", MAX_PRODUCTS, low=1):
            product = read_text(found, (item, item_path), "a product name of 1-128 characters", high=128)
            if product:
                products.append(product)
    configuration = read_text(found, fields["configuration"], "repository configuration text of 1-1024 characters") if "configuration" in fields else None
    if len(found.problems) > before or name is None or configuration is None:
        return None
    return PatchSource(name, tuple(products), configuration)


def read_tags(found: Findings, entry: Entry, api: bool) -> tuple[tuple[str, str], ...]:
    value, path = entry
    pairs: list[tuple[Any, Any, str]] = []
    if api:
        for item, item_path in read_list(found, entry, "tags", MAX_TAGS):
            if not isinstance(item, dict) or set(item) != {"Key", "Value"}:
                found.expected(item_path, "a mapping with Key and Value", item)
            else:
                pairs.append((item["Key"], item["Value"], item_path))
    elif isinstance(value, dict):
        if len(value) > MAX_TAGS:
            found.expected_described(path, f"at most {MAX_TAGS} tags", f"{len(value)} tags")
        pairs = [(key, item, join_path(path, str(key))) for key, item in value.items()]
    elif value is not None:
        found.expected(path, "a mapping of tag keys to values", value)
    tags = []
    for key, item, item_path in pairs:
        if not isinstance(key, str) or not 1 <= len(key) <= 128 or key.lower().startswith("aws:"):
            found.expected(item_path, "a tag key of 1-128 characters not starting with 'aws:'", key)
        elif not isinstance(item, str) or len(item) > 256:
            found.expected(item_path, "a tag value of 0-256 characters", item)
        else:
            tags.append((key, item))
    return tuple(tags)


def read_patch_groups(found: Findings, entry: Entry) -> tuple[str, ...]:
    groups: list[str] = []
    for item, path in read_list(found, entry, "patch groups", 1000):
        if not is_patch_group(item):
            found.expected(path, PATCH_GROUP_RULE, item)
        elif item in groups:
            found.expected(path, "each patch group once", item)
        else:
            groups.append(item)
    return tuple(groups)


# --------------------------------------------------------------------------- one document


def parse_baseline(data: Any, source: str) -> Baseline:
    """Normalise one parsed document into a Baseline; raise InvalidInput listing every problem."""
    found = Findings(source)
    if data is None:
        found.expected_described("", "a mapping of baseline fields", "an empty document")
        raise InvalidInput(found.problems)
    if not isinstance(data, dict):
        found.expected("", "a mapping of baseline fields", data)
        raise InvalidInput(found.problems)
    if "predefined" in data:
        baseline = _parse_predefined(found, data)
    else:
        baseline = _parse_custom(found, data, api=_is_api_spelling(data))
    if found.problems or baseline is None:
        raise InvalidInput(found.problems)
    return baseline


def _is_api_spelling(data: Mapping) -> bool:
    """get-patch-baseline JSON is PascalCase; a stray capitalised key in YAML does not make it JSON."""
    upper = sum(1 for key in data if isinstance(key, str) and key[:1].isupper())
    return upper > len(data) - upper or (upper == len(data) - upper and "Name" in data)


def _parse_predefined(found: Findings, data: Mapping) -> Baseline | None:
    fields = read_fields(found, data, "", {key: None for key in PREDEFINED_KEYS}, False, "a mapping")
    name = fields["predefined"][0]
    operating_system = PREDEFINED_BASELINES.get(name) if isinstance(name, str) else None
    if operating_system is None:
        found.expected("predefined", f"the name of a predefined AWS baseline ({', '.join(PREDEFINED_BASELINES)})", name)
    if "operating_system" in fields and operating_system and fields["operating_system"][0] != operating_system:
        found.expected("operating_system", f"{operating_system} (the operating system of {name}) or nothing", fields["operating_system"][0])
    groups = read_patch_groups(found, fields["patch_groups"]) if "patch_groups" in fields else ()
    default = read_bool(found, fields["default_for_os"]) if "default_for_os" in fields else False
    if operating_system is None:
        return None
    return Baseline(
        name=name, operating_system=operating_system, patch_groups=groups, default_for_os=bool(default), predefined=True,
        source=found.source, paths={"name": "predefined", "patch_groups": "patch_groups", "default_for_os": "default_for_os"},
    )


def _parse_custom(found: Findings, data: Mapping, api: bool) -> Baseline | None:
    fields = read_fields(found, data, "", TOP_KEYS, api, "a mapping")

    def path(key: str) -> str:
        return TOP_KEYS[key] if api and TOP_KEYS[key] else key

    def given(key: str) -> bool:
        return _given(fields, key)

    name = read_text(found, fields.get("name", (MISSING, path("name"))), NAME_RULE, NAME, 3, 128)
    operating_system = read_choice(found, fields.get("operating_system", (MISSING, path("operating_system"))), OPERATING_SYSTEMS)
    linux = operating_system in LINUX_SYSTEMS
    # An export of a baseline without a description may carry "", which means none.
    description = read_text(found, fields["description"], "a description of 1-1024 characters") if given("description") and fields["description"][0] != "" else ""

    global_filters: tuple[PatchFilter, ...] = ()
    if given("global_filters"):
        entry = unwrap(found, fields["global_filters"], "PatchFilters") if api else fields["global_filters"]
        global_filters = read_filters(found, entry, operating_system, api) if entry else ()

    rules: list[ApprovalRule] = []
    if given("approval_rules"):
        entry = unwrap(found, fields["approval_rules"], "PatchRules") if api else fields["approval_rules"]
        for rule_entry in read_list(found, entry, "approval rules", MAX_RULES) if entry else ():
            rule = read_rule(found, rule_entry, operating_system, api)
            if rule:
                rules.append(rule)

    approved = read_patch_list(found, fields["approved_patches"], operating_system, rejected=False) if given("approved_patches") else ()
    rejected = read_patch_list(found, fields["rejected_patches"], operating_system, rejected=True) if given("rejected_patches") else ()
    approved_level = (
        read_choice(found, fields["approved_patches_compliance_level"], COMPLIANCE_LEVELS)
        if given("approved_patches_compliance_level") else "UNSPECIFIED"
    )
    approved_non_security = (
        read_bool(found, fields["approved_patches_enable_non_security"]) if given("approved_patches_enable_non_security") else False
    )
    rejected_action = (
        read_choice(found, fields["rejected_patches_action"], REJECTED_PATCHES_ACTIONS) if given("rejected_patches_action") else "ALLOW_AS_DEPENDENCY"
    )
    sources = []
    if given("sources"):
        for source_entry in read_list(found, fields["sources"], "patch sources", MAX_SOURCES):
            patch_source = read_source(found, source_entry, api)
            if patch_source:
                sources.append(patch_source)
    security_status = (
        read_choice(found, fields["available_security_updates_compliance_status"], SECURITY_UPDATE_STATUSES)
        if given("available_security_updates_compliance_status") else None
    )
    tags = read_tags(found, fields["tags"], api) if given("tags") else ()
    groups = read_patch_groups(found, fields["patch_groups"]) if given("patch_groups") else ()
    default = read_bool(found, fields["default_for_os"]) if given("default_for_os") else False

    if operating_system and not linux:
        # Exports of Windows baselines carry these as false/empty; only a real value is a mistake.
        if approved_non_security:
            found.expected(path("approved_patches_enable_non_security"), f"false or nothing (Linux only; this baseline is for {operating_system})", True)
        if given("sources") and fields["sources"][0]:
            found.expected(path("sources"), f"no sources (Linux only; this baseline is for {operating_system})", fields["sources"][0])
    if operating_system and operating_system != "WINDOWS" and security_status:
        found.expected(path("available_security_updates_compliance_status"), f"nothing (Windows only; this baseline is for {operating_system})", security_status)
    if not given("approval_rules") and not given("approved_patches"):
        found.expected(path("approval_rules"), f"approval rules or approved patches ({path('approved_patches')})", MISSING)
    elif not rules and not approved and not found.problems:
        found.problems.append(Problem(found.source, path("approval_rules"), f"expected at least one approval rule or approved patch ({path('approved_patches')}), got none"))

    if found.problems or name is None or operating_system is None:
        return None
    return Baseline(
        name=name,
        operating_system=operating_system,
        description=description or "",
        global_filters=global_filters,
        approval_rules=tuple(rules),
        approved_patches=approved,
        approved_patches_compliance_level=approved_level or "UNSPECIFIED",
        approved_patches_enable_non_security=bool(approved_non_security),
        rejected_patches=rejected,
        rejected_patches_action=rejected_action or "ALLOW_AS_DEPENDENCY",
        sources=tuple(sources),
        available_security_updates_compliance_status=security_status,
        tags=tags,
        patch_groups=groups,
        default_for_os=bool(default),
        source=found.source,
        paths={key: path(key) for key in ("name", "patch_groups", "default_for_os")},
    )


# --------------------------------------------------------------------------- files and sets of files

BASELINE_SUFFIXES = (".yaml", ".yml", ".json")


def load_baseline(path: str | Path) -> Baseline:
    """One baseline file, either spelling; raises InvalidInput naming the file."""
    source = display_path(path)
    try:
        data = load_document(path)
    except InvalidInput as exc:
        raise InvalidInput(Problem(source, p.path, p.message) for p in exc.problems) from None
    return parse_baseline(data, source)


def baseline_files(directory_or_paths: str | Path | Iterable[str | Path]) -> list[Path]:
    """A directory means its *.yaml, *.yml and *.json files, sorted; files are taken as given."""
    entries = [directory_or_paths] if isinstance(directory_or_paths, (str, Path)) else list(directory_or_paths)
    files: list[Path] = []
    for entry in map(Path, entries):
        if entry.is_dir():
            files.extend(sorted(p for p in entry.iterdir() if p.is_file() and p.suffix in BASELINE_SUFFIXES))
        else:
            files.append(entry)
    return files


def load_baselines(directory_or_paths: str | Path | Iterable[str | Path]) -> list[Baseline]:
    """Every baseline, checked one by one and as a set; raises InvalidInput with every problem of every file."""
    baselines: list[Baseline] = []
    problems: list[Problem] = []
    for path in baseline_files(directory_or_paths):
        try:
            baselines.append(load_baseline(path))
        except InvalidInput as exc:
            problems.extend(exc.problems)
    problems.extend(check_baseline_set(baselines))
    if problems:
        raise InvalidInput(problems)
    return baselines


def check_baseline_set(baselines: Sequence[Baseline]) -> list[Problem]:
    """Rules across files: unique names, one baseline per patch group and OS, one default per OS.

    The first file (in the order given) keeps its claim; every later one is reported.
    """
    problems: list[Problem] = []
    names: dict[str, Baseline] = {}
    groups: dict[tuple[str, str], Baseline] = {}
    defaults: dict[str, Baseline] = {}
    for baseline in baselines:
        earlier = names.setdefault(baseline.name, baseline)
        if earlier is not baseline:
            problems.append(Problem.expected(
                baseline.source, baseline.path_of("name"), f"a baseline name no other file uses ({earlier.source} uses it)", baseline.name))
        for index, group in enumerate(baseline.patch_groups):
            earlier = groups.setdefault((group, baseline.operating_system), baseline)
            if earlier is not baseline:
                problems.append(Problem.expected(
                    baseline.source, join_path(baseline.path_of("patch_groups"), index),
                    f"a patch group with no other {baseline.operating_system} baseline ({earlier.source} is registered for it)", group))
        if baseline.default_for_os:
            earlier = defaults.setdefault(baseline.operating_system, baseline)
            if earlier is not baseline:
                problems.append(Problem.expected(
                    baseline.source, baseline.path_of("default_for_os"),
                    f"false (one default per operating system; {earlier.source} is the {baseline.operating_system} default)", True))
    return problems


def find_baseline(baselines: Iterable[Baseline], wanted: str) -> Baseline | None:
    """A baseline by name, or by its file's path or stem."""
    for baseline in baselines:
        if wanted in (baseline.name, baseline.source, Path(baseline.source).stem, Path(baseline.source).name):
            return baseline
    return None
