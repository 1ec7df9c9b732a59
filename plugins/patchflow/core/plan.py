"""Rollout plans: YAML in include/rollouts/, validated into plain frozen data.

The same validation runs when Airflow parses the DAG, in `patchflow lint`, and
in tests, and it reports every problem of a file in one pass. Keys are
snake_case; `defaults` is merged under every stage (mappings such as `gate`
merge key by key, anything else is replaced by the stage's own value; `health`
merges the same way, its `alarms` and `verify` each taken whole, see
patchflow.core.health_plan).

The model and the keys live in patchflow.core.plan_model and are importable
from here as well; each stage is read by patchflow.core.plan_stage, the plan's
accounts and the stages' targets by patchflow.core.plan_accounts, the trigger
form by patchflow.core.run_params.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Mapping

from patchflow.core.aws_schedules import Schedule
from patchflow.core.errors import MISSING, InvalidInput, Problem, join_path, named_item, raise_if_any
from patchflow.core.gates import GATE_KEYS  # noqa: F401  (a gate's keys, importable with the plan's others)
from patchflow.core.plan_accounts import CONNECTION_ID, accounts_dir_for, patch_group_clash, pinned_scope_problem, read_plan_accounts
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
    STAGE_SCHEDULE_KEYS,
    WINDOW_KEYS,
    Approval,
    Notifications,
    PlanSchedule,
    RolloutPlan,
    Stage,
    dag_id_for,
)
from patchflow.core.plan_stage import STAGE_NAME, checked_zone_name, is_absent, merge_defaults, read_cron, read_stage
from patchflow.core.scheduled_runs import DEFAULT_LATE_START_LIMIT, calendar_conflicts, parse_late_start_limit, spoken_moment
from patchflow.core.scopes import Scope
from patchflow.core.validation import Entry, Findings, entries_of, load_file, located, read_keys, read_mapping, read_text, read_with
from patchflow.core.yamlfile import PROJECT_ROOT, display_path, read_document

PLAN_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{2,62}$")
OWNER = re.compile(r"\s*\S")  # any text that is not blank
SNS_TOPIC_ARN = re.compile(r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$")

DEFAULT_LEDGER = "file://reports/ledger"
# Where the project keeps its rollout plans: one DAG each, and what the CLI finds by name.
PLANS_DIR = PROJECT_ROOT / "include" / "rollouts"
PROD_STAGE_NAMES = ("prod", "production")  # besides the last stage, these need an approval or a gate too


# --------------------------------------------------------------------------- plan


@dataclass(frozen=True)
class TopSchedule:
    """The plan's `schedule` as written at its top, before the stages say whether they have their own."""

    written: Any  # the value as written; None when absent
    zone: str | None  # the time zone every schedule of the plan runs in; None when unreadable
    cron: Schedule | None  # the plan's own cron(), if it names one that is valid
    names_cron: bool  # a cron is written, valid or not
    late_start_limit_seconds: int | None


def read_top_schedule(found: Findings, value: Any, path: str) -> TopSchedule:
    default_limit = parse_late_start_limit(DEFAULT_LATE_START_LIMIT)
    if is_absent(value) or value == "manual":
        return TopSchedule(value, "UTC", None, False, default_limit)
    items = read_mapping(found, (value, path), SCHEDULE_KEYS, "manual, or a mapping with cron, timezone and late_start_limit")
    if items is None:
        return TopSchedule(value, None, None, False, default_limit)
    zone = read_with(found, items.get("timezone", ("UTC", join_path(path, "timezone"))), checked_zone_name)
    limit = read_with(found, items.get("late_start_limit", (DEFAULT_LATE_START_LIMIT, join_path(path, "late_start_limit"))), parse_late_start_limit)
    cron = read_cron(found, items["cron"], zone) if "cron" in items else None
    return TopSchedule(value, zone, cron, "cron" in items, limit)


def plan_schedule(found: Findings, top: TopSchedule, path: str, scheduled_stages: list[str]) -> PlanSchedule | None:
    """The plan's calendar: its own cron, or its stages' (in the time zone written at the top), or none at all."""
    if scheduled_stages and top.names_cron:
        found.expected(join_path(path, "cron"), f"no cron when stages have schedules of their own ({', '.join(scheduled_stages)})", top.written["cron"])
        return None
    if scheduled_stages and top.written == "manual":
        found.expected(path, "a mapping with the time zone of the stage schedules, such as {timezone: Europe/Berlin}", top.written)
        return None
    if not scheduled_stages and isinstance(top.written, Mapping) and not top.names_cron:
        found.add(path, "expected a cron expression such as cron(0 2 ? * SUN *), or stages with schedules of their own, got nothing")
        return None
    if top.zone is None or top.late_start_limit_seconds is None or (top.names_cron and top.cron is None):
        return None
    if top.cron is not None:
        return PlanSchedule(top.cron.expression, top.zone, top.cron, top.late_start_limit_seconds)
    if scheduled_stages:
        return PlanSchedule(None, top.zone, None, top.late_start_limit_seconds)
    return None


def path_of_stage(index: int, stage: Any) -> str:
    """Where a stage is written, with its name when it has a valid one: stages[1] (staging)."""
    path = join_path("stages", index)
    name = stage.get("name") if isinstance(stage, Mapping) else None
    if isinstance(name, str) and STAGE_NAME.match(name):
        return named_item(path, name)
    return path


def calendar_problems(found: Findings, plan: RolloutPlan) -> None:
    """Stage schedules under which a pinned stage would run with its source but without the stage before it."""
    zone = plan.schedule.timezone if plan.schedule else "UTC"
    for conflict in calendar_conflicts(plan):
        index = plan.stage_names.index(conflict.stage)
        found.add(
            join_path(path_of_stage(index, {"name": conflict.stage}), "schedule", "cron"),
            f"expected a schedule that never runs {conflict.stage} with {conflict.source} but without {conflict.before} "
            f"({conflict.stage} installs only a release that passed {conflict.before}), got {plan.stages[index].schedule.expression!r}, "
            f"which runs with {conflict.source} on {spoken_moment(conflict.moment, zone)} {zone}",
        )


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


def pinned_stage_problems(found: Findings, stage_fields: list[dict[str, Any]], stage_paths: list[str]) -> None:
    """A stage later stages pin to makes its release from one scan, so it patches one account and Region."""
    pinned = {fields["pin_to"] for fields in stage_fields if fields["pin_to"]}
    for fields, path in zip(stage_fields, stage_paths):
        problem = pinned_scope_problem(fields["scopes"]) if fields["name"] in pinned and fields["scopes"] else None
        if problem:
            found.expected_described(join_path(path, "targets"), *problem)


def parse_plan(data: Any, source: str, accounts_dir: Path | None = None) -> RolloutPlan:
    """Validate a loaded plan document; raise InvalidInput listing every problem.

    `accounts: NAME` reads NAME.yaml in `accounts_dir`; by default the accounts folder beside
    the folder of `source` (a path in the project, as it is shown).
    """
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
    top_schedule = read_top_schedule(found, top.get("schedule", (None, ""))[0], "schedule")
    ledger = read_ledger(found, top.get("ledger", (DEFAULT_LEDGER, ""))[0], "ledger")
    notifications = read_notifications(found, top.get("notifications", (None, ""))[0], "notifications")
    accounts = read_plan_accounts(found, top.get("accounts", (None, "accounts")), accounts_dir or accounts_dir_for(PROJECT_ROOT / source))

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
    scheduled_stages: list[str] = []  # stages that name a schedule of their own, valid or not
    if not isinstance(stages_value, list) or not stages_value:
        found.expected("stages", "a list of at least one stage", stages_value)
    else:
        names: list[str] = []
        groups: dict[tuple[str, Scope], str] = {}  # (patch group, scope) -> the stage that uses it there
        for index, raw in enumerate(stages_value):
            path = path_of_stage(index, raw)
            if not isinstance(raw, Mapping):
                found.expected(path, "a mapping with name and patch_group", raw)
                continue
            items = merge_defaults(defaults, entries_of(raw, path))
            fields = read_stage(found, items, path, list(names), top_schedule.zone, accounts)
            if not is_absent(raw.get("schedule")):
                scheduled_stages.append(fields["name"] or path)
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
            if group is not None and fields["scopes"] is not None:
                clash = patch_group_clash(groups, group, fields["scopes"], path)
                if clash:
                    found.expected(items["patch_group"][1], clash, group)
            stage_fields.append(fields)
            stage_paths.append(path)
        pinned_stage_problems(found, stage_fields, stage_paths)
        if stage_fields and len(stage_fields) == len(stages_value):
            last = stage_fields[-1]
            if last["approval"] is None and not last["gated"] and last["allow_ungated"] is False:
                found.add(stage_paths[-1], "expected an approval or a gate on the last stage (or allow_ungated: true), got neither")
            for fields, stage_path in zip(stage_fields[:-1], stage_paths):  # a prod stage that is not the last one
                if fields["name"] in PROD_STAGE_NAMES and fields["approval"] is None and not fields["gated"] and fields["allow_ungated"] is False:
                    found.add(stage_path, f"expected an approval or a gate on the {fields['name']} stage (or allow_ungated: true), got neither")

    schedule = plan_schedule(found, top_schedule, "schedule", scheduled_stages)
    raise_if_any(found.problems)
    stages = tuple(Stage(**fields) for fields in stage_fields)
    plan = RolloutPlan(
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
        accounts=accounts,
    )
    calendar_problems(found, plan)
    raise_if_any(found.problems)
    return plan


def load_plan(path: str | Path) -> RolloutPlan:
    return load_file(path, partial(parse_plan, accounts_dir=accounts_dir_for(path)))


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
            clash = Problem(plan.source, "name", f"expected a plan name whose DAG id no other plan has, got {plan.name!r} ({plan.dag_id} is also {seen[plan.dag_id]})")
            broken[path] = InvalidInput([located(clash, plan.source, read_document(path).positions)])
            continue
        seen[plan.dag_id] = plan.source
        plans.append(plan)
    return plans, broken


def load_plans_at(path: str | Path) -> list[RolloutPlan]:
    """Every plan in a folder, or the one plan file; InvalidInput lists every problem of every broken plan,
    or says nothing is there. For commands that act on what the plans name (sync, pools): acting on fewer
    plans than were given would look like success."""
    path = Path(path)
    if path.is_file():
        return [load_plan(path)]
    if not path.is_dir():
        raise InvalidInput([Problem(display_path(path), "", "expected a folder of rollout plans or a plan file, got nothing there")])
    found, broken = load_plans(path)
    problems = [problem for exc in broken.values() for problem in exc.problems]
    if problems:
        raise InvalidInput(problems)
    return found
