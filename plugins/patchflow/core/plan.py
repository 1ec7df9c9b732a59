"""Rollout plans: YAML in include/rollouts/, validated into plain frozen data.

The same validation runs when Airflow parses the DAG, in `patchflow lint`, and
in tests, and it reports every problem of a file in one pass. Keys are
snake_case; `defaults` is merged under every stage (mappings such as `gate`
merge key by key, anything else is replaced by the stage's own value).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from patchflow.core.aws_schedules import Schedule, parse_schedule, zone_named
from patchflow.core.durations import parse_duration_seconds
from patchflow.core.errors import MISSING, Entry, InvalidInput, Problem, join_path, raise_if_any, read_bool, shown
from patchflow.core.gates import GateThresholds, normalize_limit, tighten
from patchflow.core.maintenance_windows import MaintenanceWindow, parse_window_hours
from patchflow.core.ratecontrol import parse_max_concurrency, parse_max_errors, parse_waves
from patchflow.core.schedule import airflow_cron_reason
from patchflow.core.yamlfile import PROJECT_ROOT, display_path, load_document

PLAN_KEYS = ("name", "description", "owner", "tags", "schedule", "ledger", "notifications", "defaults", "stages")
STAGE_KEYS = (
    "name",
    "patch_group",
    "scan_first",
    "reboot_option",
    "max_concurrency",
    "max_errors",
    "waves",
    "expected_min_targets",
    "timeout_seconds",
    "execution_timeout_seconds",
    "gate",
    "soak",
    "approval",
    "window",
    "pin_to",
    "notify",
    "allow_ungated",
    "require_registered_baseline",
)
PER_STAGE_ONLY = ("name", "patch_group")
GATE_KEYS = (
    "max_failed",
    "unreachable_counts_as_failed",
    "not_dispatched_counts_as_failed",
    "min_targets",
    "max_pending_reboot",
    "min_compliant_percent",
)
APPROVAL_KEYS = ("required", "timeout")
WINDOW_KEYS = ("schedule", "timezone", "duration", "cutoff")
NOTIFICATION_KEYS = ("sns_topic_arn", "slack_connection_id")
SCHEDULE_KEYS = ("cron", "timezone")
NOTIFY_EVENTS = ("block", "approval", "complete")
REBOOT_OPTIONS = ("RebootIfNeeded", "NoReboot")
RUN_PARAM_KEYS = ("dry_run", "stages", "max_failed", "change_ticket")

PLAN_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{2,62}$")
STAGE_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")
SNS_TOPIC_ARN = re.compile(r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$")
CONNECTION_ID = re.compile(r"^[A-Za-z0-9_.-]{1,250}$")
CHANGE_TICKET = re.compile(r"^[A-Z][A-Z0-9]{1,15}-?[0-9]{1,20}$")
PATCH_GROUP_PUNCTUATION = set("_.:/=+-@ ")

DEFAULT_LEDGER = "file://reports/ledger"
PROD_STAGE_NAMES = ("prod", "production")  # besides the last stage, these need an approval or a gate too
DEFAULT_APPROVAL_TIMEOUT = "4h"
APPROVAL_TIMEOUT_RANGE = (60, 7 * 86400)


# --------------------------------------------------------------------------- the model


@dataclass(frozen=True)
class Approval:
    timeout_seconds: int


@dataclass(frozen=True)
class Notifications:
    sns_topic_arn: str | None = None
    slack_connection_id: str | None = None


@dataclass(frozen=True)
class PlanSchedule:
    expression: str
    timezone: str
    schedule: Schedule


@dataclass(frozen=True)
class Stage:
    name: str
    patch_group: str
    scan_first: bool
    reboot_option: str
    max_concurrency: str
    max_errors: str
    waves: tuple[int | str, ...]
    expected_min_targets: int
    timeout_seconds: int
    execution_timeout_seconds: int
    gate: GateThresholds
    soak_seconds: int
    approval: Approval | None
    window: MaintenanceWindow | None
    pin_to: str | None
    notify: frozenset[str]
    gated: bool = True  # False for `gate: none` or no gate: `gate` then holds the permissive thresholds
    allow_ungated: bool = False
    require_registered_baseline: bool = False


@dataclass(frozen=True)
class RolloutPlan:
    name: str
    dag_id: str
    description: str
    owner: str
    tags: tuple[str, ...]
    schedule: PlanSchedule | None
    ledger_uri: str
    notifications: Notifications
    stages: tuple[Stage, ...]
    source: str

    def stage(self, name: str) -> Stage:
        for stage in self.stages:
            if stage.name == name:
                return stage
        raise KeyError(name)

    @property
    def stage_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.stages)


@dataclass(frozen=True)
class RunParams:
    """The Airflow trigger form, validated against the plan."""

    dry_run: bool
    stages: tuple[str, ...]
    max_failed: str  # "" keeps each stage's own limit
    change_ticket: str


def dag_id_for(plan_name: str) -> str:
    return "rollout_" + plan_name.replace("-", "_")


# --------------------------------------------------------------------------- reading


class Findings:
    """Problems of one source, collected so every one is reported together."""

    def __init__(self, source: str):
        self.source = source
        self.problems: list[Problem] = []

    def add(self, path: str, message: str) -> None:
        problem = Problem(self.source, path, message)
        if problem not in self.problems:  # a bad default would otherwise repeat once per stage
            self.problems.append(problem)

    def expected(self, path: str, what: str, got: object) -> None:
        self.add(path, f"expected {what}, got {shown(got)}")


class MergedMapping(dict):
    """Key -> Entry for a mapping whose keys came from more than one place."""


def entries_of(value: Any, path: str) -> dict[str, Entry]:
    if isinstance(value, MergedMapping):
        return dict(value)
    return {str(key): (item, join_path(path, str(key))) for key, item in value.items()}


def reject_unknown_keys(found: Findings, mapping: Mapping[str, Entry], allowed: Sequence[str], where: str) -> None:
    for key, (_, path) in mapping.items():
        if key not in allowed:
            owner = path.rsplit(".", 1)[0] if "." in path else ""
            found.add(owner, f"unknown key {key!r} in {where}; allowed keys: {', '.join(allowed)}")


def read_text(found: Findings, entry: Entry, what: str, pattern: re.Pattern | None = None) -> str | None:
    value, path = entry
    if not isinstance(value, str) or not value.strip() or (pattern is not None and not pattern.match(value)):
        found.expected(path, what, value)
        return None
    return value


def read_int(found: Findings, entry: Entry, low: int, high: int) -> int | None:
    value, path = entry
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        found.expected(path, f"an integer {low}-{high}", value)
        return None
    return value


def read_with(found: Findings, entry: Entry, parse, *args) -> Any:
    """Run a parser that raises ValueError('expected ..., got ...') and record its message."""
    value, path = entry
    try:
        return parse(value, *args)
    except ValueError as exc:
        found.add(path, str(exc))
        return None


def checked_zone_name(value: Any) -> str:
    zone_named(value)
    return value


def is_patch_group(value: object) -> bool:
    return (
        isinstance(value, str)
        and 1 <= len(value) <= 256
        and value.strip() == value
        and all(ch.isalnum() or ch in PATCH_GROUP_PUNCTUATION for ch in value)
    )


def is_absent(value: object) -> bool:
    return value is None or (isinstance(value, str) and value.strip().lower() == "none")


# --------------------------------------------------------------------------- stage parts


def read_gate(found: Findings, entry: Entry | None) -> tuple[GateThresholds, bool]:
    """(thresholds, gated). No gate at all, or `gate: none`, means ungated."""
    if entry is None or is_absent(entry[0]):
        return GateThresholds.permissive(), False
    value, path = entry
    if not isinstance(value, Mapping):
        found.expected(path, f"a mapping with any of {', '.join(GATE_KEYS)}, or none", value)
        return GateThresholds.permissive(), False
    items = entries_of(value, path)
    reject_unknown_keys(found, items, GATE_KEYS, "gate")
    values: dict[str, Any] = {}
    if "max_failed" in items:
        values["max_failed"] = read_with(found, items["max_failed"], normalize_limit)
    if "max_pending_reboot" in items and items["max_pending_reboot"][0] is not None:
        values["max_pending_reboot"] = read_with(found, items["max_pending_reboot"], normalize_limit)
    for flag in ("unreachable_counts_as_failed", "not_dispatched_counts_as_failed"):
        if flag in items:
            values[flag] = read_bool(found, items[flag])
    if "min_targets" in items:
        values["min_targets"] = read_int(found, items["min_targets"], 0, 100_000)
    if "min_compliant_percent" in items and items["min_compliant_percent"][0] is not None:
        percent, percent_path = items["min_compliant_percent"]
        if isinstance(percent, bool) or not isinstance(percent, (int, float)) or not 0 <= percent <= 100:
            found.expected(percent_path, "a number 0-100", percent)
            values["min_compliant_percent"] = None
        else:
            values["min_compliant_percent"] = float(percent)
    good = {k: v for k, v in values.items() if v is not None}
    return GateThresholds(**good), True


def read_approval(found: Findings, entry: Entry | None) -> Approval | None:
    if entry is None or entry[0] is None or entry[0] is False:
        return None
    value, path = entry
    if value is True:
        return Approval(parse_duration_seconds(DEFAULT_APPROVAL_TIMEOUT))
    if not isinstance(value, Mapping):
        found.expected(path, "true, false, or a mapping with required and timeout", value)
        return None
    items = entries_of(value, path)
    reject_unknown_keys(found, items, APPROVAL_KEYS, "approval")
    required = read_bool(found, items["required"]) if "required" in items else True
    timeout = read_with(found, items.get("timeout", (DEFAULT_APPROVAL_TIMEOUT, join_path(path, "timeout"))), parse_duration_seconds)
    if timeout is not None and not APPROVAL_TIMEOUT_RANGE[0] <= timeout <= APPROVAL_TIMEOUT_RANGE[1]:
        found.expected(items["timeout"][1], "a timeout from 1 minute to 7 days", items["timeout"][0])
        timeout = None
    if not required or timeout is None:
        return None
    return Approval(timeout)


def read_window(found: Findings, entry: Entry | None) -> MaintenanceWindow | None:
    if entry is None or is_absent(entry[0]):
        return None
    value, path = entry
    if not isinstance(value, Mapping):
        found.expected(path, "a mapping with schedule, timezone, duration and cutoff, or none (always open)", value)
        return None
    items = entries_of(value, path)
    reject_unknown_keys(found, items, WINDOW_KEYS, "window")
    for required in ("schedule", "duration"):
        if required not in items:
            found.add(path, f"expected a {required}, got nothing")
    zone = read_with(found, items.get("timezone", ("UTC", join_path(path, "timezone"))), checked_zone_name)
    schedule = None
    if "schedule" in items and zone is not None:
        schedule = read_with(found, items["schedule"], parse_schedule, zone)
    duration = read_with(found, items["duration"], parse_window_hours, 1, 24) if "duration" in items else None
    cutoff = read_with(found, items.get("cutoff", (0, join_path(path, "cutoff"))), parse_window_hours, 0, 23)
    if duration is not None and cutoff is not None and cutoff >= duration:
        found.add(items.get("cutoff", (0, join_path(path, "cutoff")))[1], f"expected a cutoff below the duration of {duration} hours, got {cutoff}")
        return None
    if schedule is None or duration is None or cutoff is None:
        return None
    return MaintenanceWindow(schedule, duration, cutoff)


def read_notify(found: Findings, entry: Entry | None) -> frozenset[str]:
    if entry is None:
        return frozenset(NOTIFY_EVENTS)
    value, path = entry
    if value is None:
        return frozenset()
    if not isinstance(value, list):
        found.expected(path, f"a list of events from {', '.join(NOTIFY_EVENTS)}", value)
        return frozenset()
    events = set()
    for index, event in enumerate(value):
        if event not in NOTIFY_EVENTS:
            found.expected(join_path(path, index), f"one of {', '.join(NOTIFY_EVENTS)}", event)
        else:
            events.add(event)
    return frozenset(events)


def merge_defaults(defaults: Mapping[str, Entry], stage: Mapping[str, Entry]) -> dict[str, Entry]:
    merged = dict(defaults)
    for key, (value, path) in stage.items():
        base = merged.get(key)
        if base is not None and isinstance(base[0], Mapping) and isinstance(value, Mapping):
            combined = MergedMapping(entries_of(base[0], base[1]))
            combined.update(entries_of(value, path))
            merged[key] = (combined, path)
        else:
            merged[key] = (value, path)
    return merged


def read_stage(found: Findings, items: Mapping[str, Entry], path: str, earlier: Sequence[str]) -> dict[str, Any]:
    """The fields of one stage; values that failed validation are None (their problems are recorded)."""
    reject_unknown_keys(found, items, STAGE_KEYS, "a stage")

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
        value, value_path = items["patch_group"]
        if not is_patch_group(value):
            found.expected(value_path, "a patch group name (1-256 letters, digits, spaces or _.:/=+-@)", value)
            fields["patch_group"] = None
        else:
            fields["patch_group"] = value
    fields["scan_first"] = read_bool(found, entry("scan_first", True))
    reboot = entry("reboot_option", "RebootIfNeeded")
    fields["reboot_option"] = reboot[0] if reboot[0] in REBOOT_OPTIONS else None
    if fields["reboot_option"] is None:
        found.expected(reboot[1], " or ".join(REBOOT_OPTIONS), reboot[0])
    fields["max_concurrency"] = read_with(found, entry("max_concurrency", "50"), parse_max_concurrency)
    fields["max_errors"] = read_with(found, entry("max_errors", "0"), parse_max_errors)
    fields["waves"] = read_with(found, entry("waves", ["100%"]), parse_waves)
    fields["expected_min_targets"] = read_int(found, entry("expected_min_targets", 1), 0, 100_000)
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
    return fields


# --------------------------------------------------------------------------- plan


def read_plan_schedule(found: Findings, value: Any, path: str) -> PlanSchedule | None:
    if is_absent(value) or value == "manual":
        return None
    if not isinstance(value, Mapping):
        found.expected(path, "manual, or a mapping with cron and timezone", value)
        return None
    items = entries_of(value, path)
    reject_unknown_keys(found, items, SCHEDULE_KEYS, "schedule")
    zone = read_with(found, items.get("timezone", ("UTC", join_path(path, "timezone"))), checked_zone_name)
    if "cron" not in items:
        found.add(path, "expected a cron expression such as cron(0 2 ? * SUN *), got nothing")
        return None
    expression, cron_path = items["cron"]
    if zone is None:
        return None
    if not (isinstance(expression, str) and expression.strip().startswith("cron(")):
        found.expected(cron_path, "a cron(...) expression such as cron(0 2 ? * SUN *)", expression)
        return None
    schedule = read_with(found, items["cron"], parse_schedule, zone)
    if schedule is None:
        return None
    reason = airflow_cron_reason(schedule)
    if reason:
        found.add(cron_path, f"expected a cron() schedule Airflow can run, got {expression!r} ({reason})")
        return None
    return PlanSchedule(schedule.expression, zone, schedule)


def read_ledger(found: Findings, value: Any, path: str) -> str | None:
    if isinstance(value, str):
        if re.match(r"^file://.+$", value) or re.match(r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/.*)?$", value):
            return value
    found.expected(path, "file://PATH or s3://BUCKET/PREFIX", value)
    return None


def read_notifications(found: Findings, value: Any, path: str) -> Notifications:
    if value is None:
        return Notifications()
    if not isinstance(value, Mapping):
        found.expected(path, f"a mapping with {', '.join(NOTIFICATION_KEYS)}", value)
        return Notifications()
    items = entries_of(value, path)
    reject_unknown_keys(found, items, NOTIFICATION_KEYS, "notifications")
    topic = items.get("sns_topic_arn", (None, ""))
    connection = items.get("slack_connection_id", (None, ""))
    if topic[0] is not None:
        read_text(found, topic, "an SNS topic ARN like arn:aws:sns:us-east-1:123456789012:patch-rollouts, or null", SNS_TOPIC_ARN)
    if connection[0] is not None:
        read_text(found, connection, "an Airflow connection id, or null", CONNECTION_ID)
    return Notifications(topic[0], connection[0])


def parse_plan(data: Any, source: str) -> RolloutPlan:
    """Validate a loaded plan document; raise InvalidInput listing every problem."""
    found = Findings(source)
    if not isinstance(data, Mapping):
        found.expected("", "a mapping with name, owner and stages", MISSING if data is None else data)
        raise_if_any(found.problems)
    top = entries_of(data, "")
    reject_unknown_keys(found, top, PLAN_KEYS, "a rollout plan")

    name = None
    if "name" not in top:
        found.add("", "expected a name, got nothing")
    else:
        name = read_text(found, top["name"], "a plan name matching ^[a-z0-9][a-z0-9_-]{2,62}$", PLAN_NAME)
    owner = None
    if "owner" not in top:
        found.add("", "expected an owner, got nothing")
    else:
        owner = read_text(found, top["owner"], "an owner (a team or person)")
    description = top.get("description", ("", "description"))
    if description[0] is None:
        description = ("", "description")
    if not isinstance(description[0], str):
        found.expected("description", "text", description[0])
    tags = top.get("tags", ([], "tags"))[0]
    if not isinstance(tags, list) or not all(isinstance(t, str) and t for t in tags):
        found.expected("tags", "a list of strings", tags)
        tags = []
    schedule = read_plan_schedule(found, top.get("schedule", ("manual", ""))[0], "schedule")
    ledger = read_ledger(found, top.get("ledger", (DEFAULT_LEDGER, ""))[0], "ledger")
    notifications = read_notifications(found, top.get("notifications", (None, ""))[0], "notifications")

    defaults_value = top.get("defaults", ({}, ""))[0]
    defaults: dict[str, Entry] = {}
    if defaults_value is None:
        defaults_value = {}
    if not isinstance(defaults_value, Mapping):
        found.expected("defaults", "a mapping of stage keys shared by every stage", defaults_value)
    else:
        defaults = entries_of(defaults_value, "defaults")
        for key in PER_STAGE_ONLY:
            if key in defaults:
                found.add(join_path("defaults", key), f"expected only keys stages can share, got {key!r}, which each stage sets itself")
                defaults.pop(key)

    stages_value = top.get("stages", (MISSING, ""))[0]
    stage_fields: list[dict[str, Any]] = []
    stage_paths: list[str] = []
    if not isinstance(stages_value, list) or not stages_value:
        found.expected("stages", "a list of at least one stage", stages_value)
    else:
        names: list[str] = []
        groups: dict[str, str] = {}
        for index, raw in enumerate(stages_value):
            path = join_path("stages", index)
            if not isinstance(raw, Mapping):
                found.expected(path, "a mapping with name and patch_group", raw)
                continue
            items = merge_defaults(defaults, entries_of(raw, path))
            fields = read_stage(found, items, path, list(names))
            if fields["pin_to"] and ledger and not ledger.startswith("s3://"):
                # The instances' agents download the InstallOverrideList from the ledger themselves:
                # they cannot read a file on the Airflow machine.
                default = "" if "ledger" in top else " (the default)"
                found.add(items["pin_to"][1], f"expected a ledger the instances can read (s3://BUCKET/PREFIX) for a pinned stage, got ledger {ledger!r}{default}")
            stage_name = fields["name"]
            if stage_name is not None:
                if stage_name in names:
                    found.expected(items["name"][1], "a stage name not used by an earlier stage", stage_name)
                else:
                    names.append(stage_name)
            group = fields["patch_group"]
            if group is not None:
                if group in groups:
                    found.expected(items["patch_group"][1], f"a patch group no other stage uses ({groups[group]} uses it)", group)
                else:
                    groups[group] = path
            stage_fields.append(fields)
            stage_paths.append(path)
        if stage_fields and len(stage_fields) == len(stages_value):
            last = stage_fields[-1]
            if last["approval"] is None and not last["gated"] and last["allow_ungated"] is False:
                found.add(stage_paths[-1], "expected an approval or a gate on the last stage (or allow_ungated: true), got neither")
            for fields, stage_path in zip(stage_fields[:-1], stage_paths):  # a prod stage that is not the last one
                if fields["name"] in PROD_STAGE_NAMES and fields["approval"] is None and not fields["gated"] and fields["allow_ungated"] is False:
                    found.add(stage_path, f"expected an approval or a gate on the {fields['name']} stage (or allow_ungated: true), got neither")

    raise_if_any(found.problems)
    stages = tuple(Stage(**fields) for fields in stage_fields)
    return RolloutPlan(
        name=name,
        dag_id=dag_id_for(name),
        description=description[0],
        owner=owner,
        tags=tuple(tags),
        schedule=schedule,
        ledger_uri=ledger,
        notifications=notifications,
        stages=stages,
        source=source,
    )


def load_plan(path: str | Path) -> RolloutPlan:
    source = display_path(path)
    try:
        data = load_document(path)
    except InvalidInput as exc:
        raise InvalidInput(Problem(source, p.path, p.message) for p in exc.problems) from None
    return parse_plan(data, source)


def load_plans(directory: str | Path) -> tuple[list[RolloutPlan], dict[Path, InvalidInput]]:
    """Every plan in a directory; a broken file lands in the second value and never hides the others."""
    plans: list[RolloutPlan] = []
    broken: dict[Path, InvalidInput] = {}
    seen: dict[str, str] = {}
    files = sorted(p for p in Path(directory).iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
    for path in files:
        try:
            plan = load_plan(path)
        except InvalidInput as exc:
            broken[path] = exc
            continue
        if plan.dag_id in seen:
            broken[path] = InvalidInput(
                [Problem(plan.source, "name", f"expected a plan name whose DAG id no other plan has, got {plan.name!r} ({plan.dag_id} is also {seen[plan.dag_id]})")]
            )
            continue
        seen[plan.dag_id] = plan.source
        plans.append(plan)
    return plans, broken


# --------------------------------------------------------------------------- trigger params


def _selected_stage_names(plan: RolloutPlan, names: Any, found: Findings) -> tuple[str, ...]:
    known = plan.stage_names
    if names is None:
        return known
    if isinstance(names, (str, bytes, Mapping)) or not isinstance(names, Iterable):
        found.expected("stages", f"a list of stage names from {', '.join(known)}", names)
        return ()
    names = list(names)
    if not names:
        found.add("stages", f"expected at least one of {', '.join(known)}, got an empty list")
        return ()
    for index, name in enumerate(names):
        if name not in known:
            found.expected(join_path("stages", index), f"one of {', '.join(known)}", name)
    wanted = {name for name in names if isinstance(name, str)}  # anything else was reported above (and may be unhashable)
    return tuple(n for n in known if n in wanted)


def validate_run_params(plan: RolloutPlan, params: Mapping) -> RunParams:
    """The trigger form: dry_run, stages, max_failed (tighter only), change_ticket. Raises InvalidInput."""
    found = Findings("params")
    for key in params:
        if key not in RUN_PARAM_KEYS:
            found.add(str(key), f"expected one of the params {', '.join(RUN_PARAM_KEYS)}, got an unknown param")

    dry_run = params.get("dry_run", False)
    if dry_run is None:
        dry_run = False
    if not isinstance(dry_run, bool):
        found.expected("dry_run", "true or false", dry_run)
        dry_run = False

    stages = _selected_stage_names(plan, params.get("stages"), found)
    if not dry_run:
        for name in stages:
            source = plan.stage(name).pin_to
            if source and source not in stages:
                found.add(
                    "stages",
                    f"expected {source} as well, because {name} installs exactly what {source} installed in the same run, got {', '.join(stages)}",
                )

    max_failed = params.get("max_failed")
    if max_failed is None or max_failed == "":  # 0 is a real (the strictest) limit
        max_failed = ""
    else:
        try:
            max_failed = normalize_limit(max_failed)
        except ValueError as exc:
            found.add("max_failed", str(exc))
            max_failed = ""
        else:
            refused: dict[str, list[str]] = {}
            for name in stages:
                try:
                    tighten(plan.stage(name).gate, {"max_failed": max_failed})
                except InvalidInput as exc:
                    for problem in exc.problems:
                        refused.setdefault(problem.message, []).append(name)
            for message, names in refused.items():
                found.add("max_failed", f"{message} for stage{'s' if len(names) > 1 else ''} {', '.join(names)}")

    ticket = params.get("change_ticket") or ""
    if not isinstance(ticket, str) or (ticket.strip() and not CHANGE_TICKET.match(ticket.strip())):
        found.expected("change_ticket", "a change ticket like CHG0012345, or nothing", ticket)
        ticket = ""

    raise_if_any(found.problems)
    return RunParams(dry_run=dry_run, stages=stages, max_failed=max_failed, change_ticket=ticket.strip())
