"""Reading a stage's `health:` block into patchflow.core.health.HealthSpec.

`health` merges with the plan's `defaults` one level deep, like `gate`: a stage's
`alarms`, `insufficient_data` or `verify` replaces the default's, and `alarms` and
`verify` are each taken whole from whichever of the two sets them (a stage's
`verify: {windows_commands: [...]}` drops the default's Linux `commands`). A stage
opts out of a default health gate with `health: none`, or out of one part of it
with `alarms: []` or `verify: none`.

patchflow.core.plan_stage reads the mapping (merged with its default) and hands
its entries here; every problem is recorded in the plan's Findings.
"""
from __future__ import annotations

import re
from typing import Any, Mapping

from patchflow.core.errors import join_path
from patchflow.core.health import (
    ALARM_SELECTOR_KEYS,
    INSUFFICIENT_DATA_CHOICES,
    VERIFY_KEYS,
    AlarmSelector,
    HealthSpec,
    SelectorKind,
    Verification,
)
from patchflow.core.ratecontrol import parse_max_concurrency, parse_max_errors
from patchflow.core.validation import Entry, Findings, is_absent, read_choice, read_int, read_list, read_mapping, read_text, read_with

HEALTH_WHAT = "a mapping with alarms, insufficient_data and verify, or none"
VERIFY_WHAT = "a mapping with commands, windows_commands, max_concurrency, max_errors and timeout_seconds, or none"
SELECTOR_WHAT = "exactly one of name, prefix or tags"
MOST_SELECTORS = 100  # DescribeAlarms takes 100 alarm names a call; a plan naming more has lost track
MOST_COMMANDS = 100
MOST_TAGS = 50  # CloudWatch's own limit of tags on one alarm
VERIFY_TIMEOUT_RANGE = (30, 3600)
DEFAULT_VERIFY = Verification()
NO_VERIFY = object()  # `verify: none`, told apart from a verify that could not be read

# CloudWatch's AlarmName / AlarmNamePrefix (1-255 characters) and tag keys (1-128): no control characters.
ALARM_NAME = re.compile(r"^[^\x00-\x1f\x7f]+\Z")  # \Z: a trailing newline is a control character too
ALARM_NAME_RULE = "an alarm name of 1-255 characters (no control characters)"
ALARM_PREFIX_RULE = "an alarm name prefix of 1-255 characters (no control characters)"
COMMAND = re.compile(r"\s*\S")  # any text that is not blank


def read_health_items(found: Findings, items: Mapping[str, Entry], path: str) -> HealthSpec | None:
    """The HealthSpec of a stage's `health` entries (its keys already checked); None when any part is bad.

    Every reader returns None for a bad value rather than relying on a count of problems: a bad
    default is reported once, however many stages read it.
    """
    alarms = read_selectors(found, items["alarms"]) if "alarms" in items else ()
    insufficient = read_choice(found, items.get("insufficient_data", ("block", join_path(path, "insufficient_data"))), INSUFFICIENT_DATA_CHOICES, "block or allow")
    verify = read_verify(found, items["verify"]) if "verify" in items else NO_VERIFY
    if alarms is None or insufficient is None or verify is None:
        return None
    verify = None if verify is NO_VERIFY else verify
    if not alarms and verify is None:
        found.add(path, "expected alarms, verify or both (or none for no health gate), got neither")
        return None
    return HealthSpec(alarms=alarms, insufficient_data_allowed=insufficient == "allow", verify=verify)


# --------------------------------------------------------------------------- alarms


def read_selectors(found: Findings, entry: Entry) -> tuple[AlarmSelector, ...] | None:
    """`alarms`: a list of selectors; null or [] means no alarms (a stage dropping its default's)."""
    value = entry[0]
    items = read_list(found, entry, "alarm selectors (name, prefix or tags)", MOST_SELECTORS)
    if value is not None and not (isinstance(value, list) and len(items) == len(value)):
        return None
    selectors = [read_selector(found, item) for item in items]
    return None if None in selectors else tuple(selectors)


def read_selector(found: Findings, entry: Entry) -> AlarmSelector | None:
    value, path = entry
    items = read_mapping(found, entry, ALARM_SELECTOR_KEYS, f"a mapping with {SELECTOR_WHAT}")
    if items is None:
        return None
    if len(items) != 1:
        if items or not value:  # keys that are all unknown were reported as such already
            found.expected_described(path, SELECTOR_WHAT, " and ".join(items) if items else "an empty mapping")
        return None
    (key, item), = items.items()
    kind = SelectorKind(key)
    if kind is SelectorKind.TAGS:
        tags = read_tags(found, item)
        return None if tags is None else AlarmSelector(kind, tags=tags)
    rule = ALARM_NAME_RULE if kind is SelectorKind.NAME else ALARM_PREFIX_RULE
    name = read_text(found, item, rule, ALARM_NAME, high=255)
    return None if name is None else AlarmSelector(kind, name=name)


def read_tags(found: Findings, entry: Entry) -> tuple[tuple[str, str], ...] | None:
    """Tags every matching alarm carries: 1-50 keys of 1-128 characters, values of 0-256 characters, sorted by key."""
    value, path = entry
    what = f"a mapping of 1-{MOST_TAGS} tags such as {{Application: storefront}}"
    if not isinstance(value, Mapping):
        found.expected(path, what, value)
        return None
    if not 1 <= len(value) <= MOST_TAGS:
        found.expected_described(path, what, f"{len(value)} tags" if value else "an empty mapping")
        return None
    tags: list[tuple[str, str]] = []
    for key, tag_value in value.items():
        tag_path = join_path(path, str(key))
        if not (isinstance(key, str) and len(key) <= 128 and ALARM_NAME.match(key)):
            found.expected(tag_path, "a tag key of 1-128 characters", key)
        elif not (isinstance(tag_value, str) and len(tag_value) <= 256):
            found.expected(tag_path, "a tag value of 0-256 characters (quote numbers and true/false)", tag_value)
        else:
            tags.append((key, tag_value))
    return tuple(sorted(tags)) if len(tags) == len(value) else None


# --------------------------------------------------------------------------- verify


def read_verify(found: Findings, entry: Entry) -> Verification | object | None:
    """`verify`: the health check on each wave's patched nodes (NO_VERIFY for none, which drops a default's); None when bad."""
    value, path = entry
    if is_absent(value):
        return NO_VERIFY
    items = read_mapping(found, entry, VERIFY_KEYS, VERIFY_WHAT)
    if items is None:
        return None
    if "commands" not in items and "windows_commands" not in items:
        found.add(path, "expected commands, windows_commands or both, got neither")
    commands = read_commands(found, items["commands"]) if "commands" in items else ()
    windows_commands = read_commands(found, items["windows_commands"]) if "windows_commands" in items else ()
    fields: dict[str, Any] = {
        "max_concurrency": read_with(found, items.get("max_concurrency", (DEFAULT_VERIFY.max_concurrency, "")), parse_max_concurrency),
        "max_errors": read_with(found, items.get("max_errors", (DEFAULT_VERIFY.max_errors, "")), parse_max_errors),
        "timeout_seconds": read_int(found, items.get("timeout_seconds", (DEFAULT_VERIFY.timeout_seconds, "")), *VERIFY_TIMEOUT_RANGE),
    }
    if commands is None or windows_commands is None or None in fields.values() or not (commands or windows_commands):
        return None
    return Verification(commands=commands, windows_commands=windows_commands, **fields)


def read_commands(found: Findings, entry: Entry) -> tuple[str, ...] | None:
    """A non-empty list of commands, each a non-blank text; None when any is bad."""
    items = read_list(found, entry, "commands", MOST_COMMANDS, low=1)
    commands = [read_text(found, item, "a command (text that is not blank)", COMMAND) for item in items]
    if not items or None in commands:
        return None
    return tuple(commands)
