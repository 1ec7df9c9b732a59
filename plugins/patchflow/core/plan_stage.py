"""Reading one stage of a rollout plan, with the plan's `defaults` merged under it.

Every reader records its problems in the plan's Findings and returns None (or
a safe empty value) for what it could not read, so a plan's every problem is
reported in one pass.
"""
from __future__ import annotations

import re
from typing import Any, Mapping, Sequence

from patchflow.core.aws_schedules import Schedule, parse_schedule, zone_named
from patchflow.core.durations import parse_duration_seconds
from patchflow.core.errors import MISSING, join_path
from patchflow.core.gates import GATE_KEYS, MOST_TARGETS, GateThresholds, read_thresholds
from patchflow.core.health import HEALTH_KEYS, HealthSpec
from patchflow.core.health_plan import HEALTH_WHAT, read_health_items
from patchflow.core.maintenance_windows import MaintenanceWindow, SsmWindowRef, cutoff_problem, parse_window_hours
from patchflow.core.plan_accounts import read_targets
from patchflow.core.plan_model import APPROVAL_KEYS, NOTIFY_EVENTS, REBOOT_OPTIONS, STAGE_KEYS, STAGE_SCHEDULE_KEYS, WINDOW_KEYS, Approval
from patchflow.core.ratecontrol import parse_max_concurrency, parse_max_errors, parse_waves
from patchflow.core.schedule import airflow_cron_reason
from patchflow.core.scopes import ORDERS, Account
from patchflow.core.validation import (
    Entry,
    Findings,
    entries_of,
    is_absent,
    read_bool,
    read_choice,
    read_int,
    read_keys,
    read_mapping,
    read_patch_group,
    read_text,
    read_with,
)

STAGE_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,39}\Z")
DEFAULT_APPROVAL_TIMEOUT = "4h"
APPROVAL_TIMEOUT_RANGE = (60, 7 * 86400)


class MergedMapping(dict):
    """Key -> Entry for a mapping whose keys came from more than one place (a default and the stage)."""


def stage_entries(value: Mapping, path: str) -> dict[Any, Entry]:
    if isinstance(value, MergedMapping):
        return dict(value)
    return entries_of(value, path)


def read_stage_mapping(found: Findings, entry: Entry, known: Sequence[str], what: str) -> dict[str, Entry] | None:
    """A mapping inside a stage (gate, approval, window), which may have been merged with its default."""
    value, path = entry
    if not isinstance(value, Mapping):
        found.expected(path, what, value)
        return None
    return read_keys(found, stage_entries(value, path), known)


def checked_zone_name(value: Any) -> str:
    zone_named(value)
    return value


# --------------------------------------------------------------------------- stage parts


def read_gate(found: Findings, entry: Entry | None) -> tuple[GateThresholds, bool]:
    """(thresholds, gated). No gate at all, or `gate: none`, means ungated."""
    if entry is None or is_absent(entry[0]):
        return GateThresholds.permissive(), False
    items = read_stage_mapping(found, entry, GATE_KEYS, f"a mapping with any of {', '.join(GATE_KEYS)}, or none")
    if items is None:
        return GateThresholds.permissive(), False
    return GateThresholds(**read_thresholds(found, items)), True


def read_health(found: Findings, entry: Entry | None) -> HealthSpec | None:
    """Alarms and a verification command (patchflow.core.health_plan); absent or `health: none` is no health gate."""
    if entry is None or is_absent(entry[0]):
        return None
    items = read_stage_mapping(found, entry, HEALTH_KEYS, HEALTH_WHAT)
    if items is None:
        return None
    return read_health_items(found, items, entry[1])


def read_approval(found: Findings, entry: Entry | None) -> Approval | None:
    if entry is None or entry[0] is None or entry[0] is False:
        return None
    value, path = entry
    if value is True:
        return Approval(parse_duration_seconds(DEFAULT_APPROVAL_TIMEOUT))
    items = read_stage_mapping(found, entry, APPROVAL_KEYS, "true, false, or a mapping with required and timeout")
    if items is None:
        return None
    required = read_bool(found, items["required"]) if "required" in items else True
    timeout = read_with(found, items.get("timeout", (DEFAULT_APPROVAL_TIMEOUT, join_path(path, "timeout"))), parse_duration_seconds)
    if timeout is not None and not APPROVAL_TIMEOUT_RANGE[0] <= timeout <= APPROVAL_TIMEOUT_RANGE[1]:
        found.expected(items["timeout"][1], "a timeout from 1 minute to 7 days", items["timeout"][0])
        timeout = None
    if not required or timeout is None:
        return None
    return Approval(timeout)


def own_window_kind(items: dict[str, Entry]) -> dict[str, Entry]:
    """A stage's window of one kind replaces a default window of the other kind, whole.

    Merged key by key, a stage's {ssm_window: X} under a default {schedule: ..., duration: ...}
    would be both at once; where each key was written (defaults or the stage) tells which wins.
    """
    if "ssm_window" not in items:
        return items
    from_defaults = {key for key, (_, path) in items.items() if path.startswith("defaults")}
    if "ssm_window" not in from_defaults:
        return {key: entry for key, entry in items.items() if key not in from_defaults}
    if set(items) - from_defaults:
        return {key: entry for key, entry in items.items() if key not in from_defaults or key != "ssm_window"}
    return items


def read_window(found: Findings, entry: Entry | None) -> MaintenanceWindow | SsmWindowRef | None:
    if entry is None or is_absent(entry[0]):
        return None
    value, path = entry
    what = "a mapping with schedule, timezone, duration and cutoff, a mapping with just ssm_window, or none (always open)"
    items = read_stage_mapping(found, entry, WINDOW_KEYS, what)
    if items is None:
        return None
    items = own_window_kind(items)
    if "ssm_window" in items:
        for key, (beside, beside_path) in items.items():
            if key != "ssm_window":
                found.expected(beside_path, "nothing beside ssm_window (SSM gives the window's schedule, time zone, duration and cutoff)", beside)
        return read_with(found, items["ssm_window"], SsmWindowRef)
    for required in ("schedule", "duration"):
        if required not in items:
            found.add(path, f"expected a {required}, got nothing")
    zone = read_with(found, items.get("timezone", ("UTC", join_path(path, "timezone"))), checked_zone_name)
    schedule = None
    if "schedule" in items:
        # Read in UTC when the zone is unknown (reported already), so the schedule's own problems are reported too.
        schedule = read_with(found, items["schedule"], parse_schedule, zone or "UTC")
    duration = read_with(found, items["duration"], parse_window_hours, 1, 24) if "duration" in items else None
    cutoff = read_with(found, items.get("cutoff", (0, join_path(path, "cutoff"))), parse_window_hours, 0, 23)
    if duration is not None and cutoff is not None and cutoff_problem(duration, cutoff):
        found.add(items.get("cutoff", (0, join_path(path, "cutoff")))[1], cutoff_problem(duration, cutoff))
        return None
    if zone is None or schedule is None or duration is None or cutoff is None:
        return None
    return MaintenanceWindow(schedule, duration, cutoff)


def read_cron(found: Findings, entry: Entry, zone: str | None) -> Schedule | None:
    """A cron() expression Airflow's cron timetable can run exactly as AWS would; None when the zone is unknown
    (its problems reported all the same)."""
    expression, path = entry
    if not (isinstance(expression, str) and expression.strip().startswith("cron(")):
        found.expected(path, "a cron(...) expression such as cron(0 2 ? * SUN *)", expression)
        return None
    # Read in UTC when the zone is unknown (reported already), so the cron's own problems are reported too.
    schedule = read_with(found, entry, parse_schedule, zone or "UTC")
    if schedule is None:
        return None
    reason = airflow_cron_reason(schedule)
    if reason:
        found.add(path, f"expected a cron() schedule Airflow can run, got {expression!r} ({reason})")
        return None
    return schedule if zone is not None else None


def read_stage_schedule(found: Findings, entry: Entry | None, zone: str | None) -> Schedule | None:
    """A stage's own runs: a cron in the plan's time zone (`zone`, None when that zone was unreadable)."""
    if entry is None or is_absent(entry[0]):
        return None
    value, path = entry
    items = read_mapping(found, entry, STAGE_SCHEDULE_KEYS, "a mapping with cron, or none", ignored=("timezone",))
    if items is None:
        return None
    if "timezone" in value:
        found.expected(
            join_path(path, "timezone"),
            "no time zone here (every stage schedule runs in the plan's, written at the top as schedule: {timezone: ...}; Airflow runs one calendar per DAG)",
            value["timezone"],
        )
    if "cron" not in items:
        found.add(path, "expected a cron expression such as cron(0 2 ? * WED *), got nothing")
        return None
    return read_cron(found, items["cron"], zone)


def read_notify(found: Findings, entry: Entry | None) -> frozenset[str]:
    if entry is None:
        return frozenset(NOTIFY_EVENTS)
    value, path = entry
    if value is None:
        return frozenset()
    if not isinstance(value, list):
        found.expected(path, f"a list of events from {', '.join(NOTIFY_EVENTS)}", value)
        return frozenset()
    events = (read_choice(found, (event, join_path(path, index)), NOTIFY_EVENTS) for index, event in enumerate(value))
    return frozenset(event for event in events if event is not None)


def merge_defaults(defaults: Mapping[Any, Entry], stage: Mapping[Any, Entry]) -> dict[Any, Entry]:
    merged = dict(defaults)
    for key, (value, path) in stage.items():
        base = merged.get(key)
        if base is not None and isinstance(base[0], Mapping) and isinstance(value, Mapping):
            combined = MergedMapping(stage_entries(base[0], base[1]))
            combined.update(stage_entries(value, path))
            merged[key] = (combined, path)
        else:
            merged[key] = (value, path)
    return merged


def read_stage(found: Findings, merged: Mapping[Any, Entry], path: str, earlier: Sequence[str], zone: str | None = "UTC",
               accounts: tuple[Account, ...] | None = ()) -> dict[str, Any]:
    """The fields of one stage; values that failed validation are None (their problems are recorded).

    `zone` is the plan's time zone, which the stage's schedule runs in (None when it was unreadable);
    `accounts` the plan's, which its targets name (() when it has none, None when they were unreadable).
    """
    items = read_keys(found, merged, STAGE_KEYS)

    def entry(key: str, default: Any = MISSING) -> Entry | None:
        if key in items:
            return items[key]
        if default is MISSING:
            return None
        return (default, join_path(path, key))

    fields: dict[str, Any] = {}
    if "name" not in items:
        found.add(path, "expected a name, got nothing")
        fields["name"] = None
    else:
        fields["name"] = read_text(found, items["name"], "a stage name of lower-case letters, digits, _ and - (up to 40, starting with a letter)", STAGE_NAME)
    if "patch_group" not in items:
        found.add(path, "expected a patch_group, got nothing")
        fields["patch_group"] = None
    else:
        fields["patch_group"] = read_patch_group(found, items["patch_group"])
    fields["scan_first"] = read_bool(found, entry("scan_first", True))
    fields["reboot_option"] = read_choice(found, entry("reboot_option", "RebootIfNeeded"), REBOOT_OPTIONS, " or ".join(REBOOT_OPTIONS))
    fields["max_concurrency"] = read_with(found, entry("max_concurrency", "50"), parse_max_concurrency)
    fields["max_errors"] = read_with(found, entry("max_errors", "0"), parse_max_errors)
    fields["waves"] = read_with(found, entry("waves", ["100%"]), parse_waves)
    fields["expected_min_targets"] = read_int(found, entry("expected_min_targets", 1), 0, MOST_TARGETS)
    fields["timeout_seconds"] = read_int(found, entry("timeout_seconds", 600), 30, 2_592_000)
    fields["execution_timeout_seconds"] = read_int(found, entry("execution_timeout_seconds", 3600), 1, 172_800)
    fields["gate"], fields["gated"] = read_gate(found, entry("gate"))
    fields["soak_seconds"] = read_with(found, entry("soak", 0), parse_duration_seconds)
    fields["approval"] = read_approval(found, entry("approval"))
    fields["window"] = read_window(found, entry("window"))
    fields["notify"] = read_notify(found, entry("notify"))
    fields["allow_ungated"] = read_bool(found, entry("allow_ungated", False))
    fields["require_registered_baseline"] = read_bool(found, entry("require_registered_baseline", False))
    pin = entry("pin_to", None)
    fields["pin_to"] = None
    if pin[0] is not None:
        if not earlier:
            found.expected(pin[1], "null (the first stage has no earlier stage to pin to)", pin[0])
        elif pin[0] not in earlier:
            found.expected(pin[1], f"the name of an earlier stage ({', '.join(earlier)})", pin[0])
        else:
            fields["pin_to"] = pin[0]
    fields["min_bake_seconds"] = read_release_age(found, items.get("min_bake"), fields["pin_to"], "min_bake") or 0
    fields["max_age_seconds"] = read_release_age(found, items.get("max_age"), fields["pin_to"], "max_age")
    fields["schedule"] = read_stage_schedule(found, items.get("schedule"), zone)
    fields["health"] = read_health(found, items.get("health"))
    fields["scopes"] = read_targets(found, items.get("targets"), accounts)
    fields["order"] = read_choice(found, entry("order", "parallel"), ORDERS)
    return fields


def read_release_age(found: Findings, entry: Entry | None, pin_to: str | None, key: str) -> int | None:
    """min_bake / max_age: durations that apply to the release a pinned stage installs; from defaults they apply only there."""
    if entry is None or entry[0] is None:
        return None
    value, path = entry
    seconds = read_with(found, entry, parse_duration_seconds)
    if seconds is not None and pin_to is None and not path.startswith("defaults"):
        found.expected(path, f"{key} only on a stage with pin_to (it applies to the release a pinned stage installs)", value)
    return seconds
