"""Reading a baseline's fields, in the project's snake_case YAML or in get-patch-baseline's PascalCase JSON.

Each reader records its problems in the file's Findings (patchflow.core.validation)
and returns what it could read; patchflow.core.baselines puts a whole document together.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Any, Mapping

from patchflow.core.baseline_model import ApprovalRule, PatchFilter, PatchSource
from patchflow.core.baseline_rules import (
    APT_SYSTEMS,
    COMPLIANCE_LEVELS,
    FILTER_KEYS_BY_OS,
    LINUX_SYSTEMS,
    MAX_FILTERS,
    MAX_PATCHES,
    MAX_PRODUCTS,
    MAX_TAGS,
    MAX_TEXT,
    MAX_VALUES,
    SOURCE_NAME,
    UNTIL_DATE,
    is_patch_id,
    patch_id_rule,
)
from patchflow.core.errors import MISSING, join_path
from patchflow.core.validation import (
    Entry,
    Findings,
    one_of,
    read_bool,
    read_choice,
    read_int,
    read_list,
    read_mapping,
    read_patch_group,
    read_text,
)

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


def read_fields(found: Findings, entry: Entry, keys: Mapping[str, str | None], api: bool, what: str) -> dict[str, Entry] | None:
    """snake_case key -> (value, path) for one mapping, whichever spelling; unknown keys are problems."""
    spellings = {(api_key if api else key): key for key, api_key in keys.items() if not api or api_key}
    read_only = API_READ_ONLY if api and entry[1] == "" else ()
    return read_mapping(found, entry, spellings, what, ignored=read_only)


def unwrap(found: Findings, entry: Entry, inner: str) -> Entry | None:
    """GlobalFilters.PatchFilters and friends: the API wraps each list in a one-key mapping."""
    value, path = entry
    if not isinstance(value, dict) or set(value) != {inner}:
        found.expected(path, f"a mapping with just {inner}", value)
        return None
    return value[inner], join_path(path, inner)


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
            fields = read_fields(found, (item, item_path), FILTER_FIELDS, True, "a mapping with Key and Values")
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
            fields = read_fields(found, (item, item_path), FILTER_FIELDS, False, "a mapping with key and values")
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
        value = read_text(found, (item, path), "a value of 1-64 characters", high=64)
        if value is None:
            continue
        if known is not None and value != "*" and value not in known:
            found.expected(path, f"{one_of(known)} or *", value)
        else:
            values.append(value)
    return tuple(values) if len(values) == len(items) else None


def read_rule(found: Findings, entry: Entry, operating_system: str | None, api: bool) -> ApprovalRule | None:
    path = entry[1]
    fields = read_fields(found, entry, RULE_KEYS, api, "an approval rule mapping")
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
    days = read_int(found, fields["approve_after_days"], 0, 360) if is_given(fields, "approve_after_days") else None
    until = read_until_date(found, fields["approve_until_date"]) if is_given(fields, "approve_until_date") else None
    days_key = "ApproveAfterDays" if api else "approve_after_days"
    until_key = "ApproveUntilDate" if api else "approve_until_date"
    if operating_system in APT_SYSTEMS:
        for key in ("approve_after_days", "approve_until_date"):
            if is_given(fields, key):
                found.expected(fields[key][1], f"nothing (approval delays are not supported on {operating_system})", fields[key][0])
    elif operating_system:
        if is_given(fields, "approve_after_days") and is_given(fields, "approve_until_date"):
            found.expected(join_path(path, until_key), f"either {days_key} or {until_key}, not both", until or fields["approve_until_date"][0])
        elif not is_given(fields, "approve_after_days") and not is_given(fields, "approve_until_date"):
            found.expected(join_path(path, days_key), f"{days_key} (0-360) or {until_key} (YYYY-MM-DD)", MISSING)
    level = read_choice(found, fields["compliance_level"], COMPLIANCE_LEVELS) if is_given(fields, "compliance_level") else "UNSPECIFIED"
    non_security = read_bool(found, fields["enable_non_security"]) if is_given(fields, "enable_non_security") else False
    if non_security and operating_system and operating_system not in LINUX_SYSTEMS:
        found.expected(fields["enable_non_security"][1], f"false or nothing (Linux only; this baseline is for {operating_system})", True)
    if len(found.problems) > before:
        return None
    return ApprovalRule(filters, days, until, level, bool(non_security))


def is_given(fields: Mapping[str, Entry], key: str) -> bool:
    return key in fields and fields[key][0] is not None


def read_source(found: Findings, entry: Entry, api: bool) -> PatchSource | None:
    path = entry[1]
    fields = read_fields(found, entry, SOURCE_KEYS, api, "a patch source mapping with name, products and configuration")
    if fields is None:
        return None
    before = len(found.problems)
    for key in REQUIRED_SOURCE_KEYS:
        if key not in fields:
            found.expected(join_path(path, SOURCE_KEYS[key] if api else key), {"name": "a source name", "products": "a list of products", "configuration": "repository configuration text"}[key], MISSING)
    name = read_text(found, fields["name"], "a source name of 3-50 letters, digits, '_', '-' or '.'", SOURCE_NAME, high=MAX_TEXT) if "name" in fields else None
    products = []
    if "products" in fields:
        for item, item_path in read_list(found, fields["products"], "products", MAX_PRODUCTS, low=1):
            product = read_text(found, (item, item_path), "a product name of 1-128 characters", high=128)
            if product:
                products.append(product)
    configuration = read_text(found, fields["configuration"], f"repository configuration text of 1-{MAX_TEXT} characters", high=MAX_TEXT) if "configuration" in fields else None
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
        group = read_patch_group(found, (item, path))
        if group is not None and group in groups:
            found.expected(path, "each patch group once", group)
        elif group is not None:
            groups.append(group)
    return tuple(groups)
