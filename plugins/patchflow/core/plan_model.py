"""A rollout plan as plain frozen data, and the keys its YAML and the trigger form may use.

A stage's `gate` takes the thresholds patchflow.core.gates lists as GATE_KEYS, its
`health` the keys patchflow.core.health lists as HEALTH_KEYS; the plan's `accounts` and
a stage's `targets` take the keys patchflow.core.scopes lists.

patchflow.core.plan reads a plan file into this model (patchflow.core.plan_stage
reads each stage); patchflow.core.run_params reads the trigger form.
"""
from __future__ import annotations

from dataclasses import dataclass

from patchflow.core.aws_schedules import Schedule
from patchflow.core.gates import GateThresholds
from patchflow.core.health import HealthSpec
from patchflow.core.maintenance_windows import MaintenanceWindow, SsmWindowRef
from patchflow.core.scopes import DEFAULT_SCOPE, Account, Scope

PLAN_KEYS = ("name", "description", "owner", "tags", "schedule", "ledger", "notifications", "accounts", "defaults", "stages")
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
    "min_bake",
    "max_age",
    "schedule",
    "health",
    "targets",
    "order",
)
PER_STAGE_ONLY = ("name", "patch_group", "schedule", "targets")
APPROVAL_KEYS = ("required", "timeout")
WINDOW_KEYS = ("schedule", "timezone", "duration", "cutoff", "ssm_window")  # ssm_window alone, or the others
NOTIFICATION_KEYS = ("sns_topic_arn", "slack_connection_id")
SCHEDULE_KEYS = ("cron", "timezone", "late_start_limit")
STAGE_SCHEDULE_KEYS = ("cron",)  # a stage's runs use the plan's time zone: Airflow runs one calendar per DAG
NOTIFY_EVENTS = ("block", "approval", "complete")
REBOOT_OPTIONS = ("RebootIfNeeded", "NoReboot")
RUN_PARAM_KEYS = ("dry_run", "stages", "max_failed", "change_ticket", "release")


@dataclass(frozen=True)
class Approval:
    timeout_seconds: int


@dataclass(frozen=True)
class Notifications:
    sns_topic_arn: str | None = None
    slack_connection_id: str | None = None


@dataclass(frozen=True)
class PlanSchedule:
    """When scheduled runs happen: on the plan's own cron (every stage), or on its stages' crons (`schedule` None)."""

    expression: str | None
    timezone: str
    schedule: Schedule | None
    # A scheduled run starting later than this after its time patches nothing (patchflow.core.scheduled_runs).
    late_start_limit_seconds: int


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
    window: MaintenanceWindow | SsmWindowRef | None  # None: always open
    pin_to: str | None
    notify: frozenset[str]
    gated: bool = True  # False for `gate: none` or no gate: `gate` then holds the permissive thresholds
    allow_ungated: bool = False
    require_registered_baseline: bool = False
    # A pinned stage installing a release from an earlier run: how long it must have passed the stage
    # before this one, and how old it may be at most (None: any age).
    min_bake_seconds: int = 0
    max_age_seconds: int | None = None
    # The runs that patch this stage (stages sharing a cron run together); in the plan's time zone.
    schedule: Schedule | None = None
    # Alarms that must stay quiet and a verification command for each wave (None: no health gate).
    health: HealthSpec | None = None
    # Where the stage patches: one scope per account and Region of its targets; without targets,
    # the rollout connection's own account and Region.
    scopes: tuple[Scope, ...] = (DEFAULT_SCOPE,)
    order: str = "parallel"  # patchflow.core.scopes.ORDERS: the scopes side by side, or one after another


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
    accounts: tuple[Account, ...] = ()  # the accounts its stages' targets name; none for a single-account plan

    def stage(self, name: str) -> Stage:
        for stage in self.stages:
            if stage.name == name:
                return stage
        raise KeyError(name)

    @property
    def stage_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.stages)


def dag_id_for(plan_name: str) -> str:
    return "rollout_" + plan_name.replace("-", "_")
