"""Rollout plans: YAML in include/rollouts/, validated into plain frozen data.

The same validation runs when Airflow parses the DAG, in `patchflow lint`, and
in tests, and it reports every problem of a file in one pass. Keys are
snake_case; `defaults` is merged under every stage (mappings such as `gate`
merge key by key, anything else is replaced by the stage's own value).

The model and the keys live in patchflow.core.plan_model and are importable
from here as well; each stage is read by patchflow.core.plan_stage, the
trigger form by patchflow.core.run_params.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Mapping

from patchflow.core.aws_schedules import parse_schedule
from patchflow.core.errors import MISSING, InvalidInput, Problem, join_path, raise_if_any
from patchflow.core.gates import GATE_KEYS  # noqa: F401  (a gate's keys, importable with the plan's others)
from patchflow.core.plan_model import (  # noqa: F401  (the plan's vocabulary and model, importable from here)
    APPROVAL_KEYS,
    NOTIFICATION_KEYS,
    NOTIFY_EVENTS,
    PER_STAGE_ONLY,
    PLAN_KEYS,
    REBOOT_OPTIONS,
    RUN_PARAM_KEYS,
    SCHEDULE_KEYS,
    STAGE_KEYS,
    WINDOW_KEYS,
    Approval,
    Notifications,
    PlanSchedule,
    RolloutPlan,
    Stage,
    dag_id_for,
)
from patchflow.core.plan_stage import checked_zone_name, is_absent, merge_defaults, read_stage
from patchflow.core.schedule import airflow_cron_reason
from patchflow.core.validation import Entry, Findings, entries_of, load_file, read_keys, read_mapping, read_text, read_with

PLAN_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{2,62}$")
OWNER = re.compile(r"\s*\S")  # any text that is not blank
SNS_TOPIC_ARN = re.compile(r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$")
CONNECTION_ID = re.compile(r"^[A-Za-z0-9_.-]{1,250}$")

DEFAULT_LEDGER = "file://reports/ledger"
PROD_STAGE_NAMES = ("prod", "production")  # besides the last stage, these need an approval or a gate too


# --------------------------------------------------------------------------- plan


def read_plan_schedule(found: Findings, value: Any, path: str) -> PlanSchedule | None:
    if is_absent(value) or value == "manual":
        return None
    items = read_mapping(found, (value, path), SCHEDULE_KEYS, "manual, or a mapping with cron and timezone")
    if items is None:
        return None
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
    items = read_mapping(found, (value, path), NOTIFICATION_KEYS, f"a mapping with {', '.join(NOTIFICATION_KEYS)}")
    if items is None:
        return Notifications()
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
    top = read_keys(found, entries_of(data, ""), PLAN_KEYS)

    name = None
    if "name" not in top:
        found.add("", "expected a name, got nothing")
    else:
        name = read_text(found, top["name"], "a plan name matching ^[a-z0-9][a-z0-9_-]{2,62}$", PLAN_NAME)
    owner = None
    if "owner" not in top:
        found.add("", "expected an owner, got nothing")
    else:
        owner = read_text(found, top["owner"], "an owner (a team or person)", OWNER)
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
    defaults: dict[Any, Entry] = {}
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
    return load_file(path, parse_plan)


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
