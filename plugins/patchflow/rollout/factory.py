"""One DAG per rollout plan, one TaskGroup per stage, both built from the plain plan model.

Parsing reads only the plan file: no AWS call happens at parse time.
"""
from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

from airflow.sdk import DAG, Param, TaskGroup, TriggerRule

from patchflow.core.durations import spoken_duration
from patchflow.core.maintenance_windows import window_summary
from patchflow.core.plan import PLANS_DIR, RolloutPlan, Stage, load_plan
from patchflow.core.api_pools import pool_name
from patchflow.core.run_params import CHANGE_TICKET, MAX_FAILED_SPELLING, max_failed_help
from patchflow.rollout.approval import StageApprovalOperator
from patchflow.rollout.health import HealthCheckOperator
from patchflow.rollout.notifiers import ApprovalRequestNotifier
from patchflow.rollout.stage import (
    DriftReportOperator,
    FinishRunOperator,
    MaintenanceWindowOperator,
    ManifestOperator,
    PreflightOperator,
    ScopePart,
    SoakOperator,
    StageGateOperator,
    StartRunOperator,
)
from patchflow.rollout.wave import PatchWaveOperator


def poll_interval() -> float:
    return float(os.environ.get("PATCHFLOW_POLL_INTERVAL", "15"))


def aws_conn_id() -> str | None:
    return os.environ.get("PATCHFLOW_AWS_CONN_ID", "aws_default") or None


def build_stage_group(plan: RolloutPlan, stage: Stage, *, pinned_by_later_stage: bool) -> TaskGroup:
    common = {"plan": plan, "stage": stage, "aws_conn_id": aws_conn_id()}
    with TaskGroup(group_id=stage.name, tooltip=f"patch group {stage.patch_group}") as group:
        chain = []
        if stage.approval is not None:
            chain.append(
                StageApprovalOperator(
                    task_id="approval",
                    plan=plan,
                    stage=stage,
                    aws_conn_id=aws_conn_id(),
                    # Written again when the task runs, from the run's ledger (patchflow.core.approval_request).
                    subject=f"Rollout {plan.name}: start stage {stage.name}?",
                    # Set again when the task runs: a later try keeps the first request's deadline.
                    response_timeout=timedelta(seconds=stage.approval.timeout_seconds),
                    # Fail closed: a reject must read as a stopped rollout, never as a skipped stage (the operator fails it).
                    fail_on_reject=True,
                    notifiers=[ApprovalRequestNotifier(plan=plan, stage=stage, aws_conn_id=aws_conn_id())],
                )
            )
        chain.append(MaintenanceWindowOperator(task_id="window", **common))
        if len(stage.scopes) == 1:
            scoped = {**common, "scope": stage.scopes[0], **pool_of(stage.scopes[0])}
            checked = scope_tasks(stage, scoped, pinned_by_later_stage=pinned_by_later_stage)
            chain.extend(checked)
            wave_ids = [t.task_id for t in checked if t.task_id.split(".")[-1].startswith(("wave_", "health_"))]
            chain.append(StageGateOperator(task_id="gate", wave_task_ids=wave_ids, **scoped))
            if pinned_by_later_stage:
                chain.append(ManifestOperator(task_id="manifest", wave_task_ids=[i for i in wave_ids if i.split(".")[-1].startswith("wave_")], **scoped))
            chain.append(SoakOperator(task_id="soak", poll_interval=poll_interval(), **scoped))
            link(chain)
            return group
        link(chain)
        # Several accounts or Regions: each scope patches, gates and soaks in a group of its own, side by side or
        # one after another (a block in one leaves the later ones untouched); the stage gate then judges them all.
        scope_groups, scope_parts = [], []
        for scope in stage.scopes:
            with TaskGroup(group_id=scope.label, tooltip=scope.name) as scope_group:
                scoped = {**common, "scope": scope, "scope_group": scope.label, **pool_of(scope)}
                tasks = scope_tasks(stage, scoped, pinned_by_later_stage=False)
                wave_ids = [t.task_id for t in tasks if t.task_id.split(".")[-1].startswith(("wave_", "health_"))]
                tasks.append(StageGateOperator(task_id="gate", wave_task_ids=wave_ids, **scoped))
                tasks.append(SoakOperator(task_id="soak", poll_interval=poll_interval(), **scoped))
                link(tasks)
            scope_groups.append(scope_group)
            scope_parts.append(ScopePart(scope, f"{stage.name}.{scope.label}.preflight", wave_ids))
        gate = StageGateOperator(task_id="gate", wave_task_ids=[], scope_parts=scope_parts, **common)
        if stage.order == "one_at_a_time":
            link([chain[-1], *scope_groups, gate])
        else:
            for scope_group in scope_groups:
                chain[-1] >> scope_group >> gate
    return group


def scope_tasks(stage: Stage, scoped: dict, *, pinned_by_later_stage: bool) -> list:
    """Preflight, the scan, the drift report and every wave with its health check, in one account and Region."""
    tasks = [PreflightOperator(task_id="preflight", **scoped)]
    # A stage later stages pin to always scans first: its scan is the evidence of what was
    # missing before its install, from which the manifest is built.
    if stage.scan_first or pinned_by_later_stage:
        tasks.append(PatchWaveOperator(task_id="scan", wave_index=1, operation="Scan", poll_interval=poll_interval(), record_evidence=pinned_by_later_stage, **scoped))
        if stage.pin_to:
            tasks.append(DriftReportOperator(task_id="drift", **scoped))
    # With a health gate each wave is checked before the next one starts; its rows (verification
    # failures marked) come after the wave's own in the gate, so they replace them there.
    for n in range(1, len(stage.waves) + 1):
        tasks.append(PatchWaveOperator(task_id=f"wave_{n}", wave_index=n, operation="Install", poll_interval=poll_interval(), **scoped))
        if stage.health is not None:
            tasks.append(HealthCheckOperator(task_id=f"health_{n}", wave_index=n, poll_interval=poll_interval(), **scoped))
    return tasks


def pool_of(scope) -> dict:
    """The scope's API budget (patchflow.core.api_pools); none for the connection's own account and Region."""
    name = pool_name(scope)
    return {"pool": name} if name else {}


def link(tasks: list) -> None:
    for upstream, downstream in zip(tasks, tasks[1:]):
        upstream >> downstream


def plan_doc(plan: RolloutPlan) -> str:
    lines = [f"# Rollout plan `{plan.name}`", "", plan.description or "", "", f"Source: `{plan.source}`", ""]
    lines += ["| stage | patch group | waves | max failed | approval | window | pinned to |", "|---|---|---|---|---|---|---|"]
    for stage in plan.stages:
        window = window_summary(stage.window)
        approval = "no" if stage.approval is None else f"yes, {stage.approval.timeout_seconds // 60} min"
        lines.append(
            f"| {stage.name} | {stage.patch_group} | {', '.join(str(w) for w in stage.waves)} | {stage.gate.max_failed} | {approval} | {window} | {stage.pin_to or '-'} |"
        )
    lines += ["", "Trigger params: `dry_run` (scan only), `stages` (a subset), `max_failed` (tighter only), `change_ticket`, `release` (for pinned stages run without their source)."]
    if plan.schedule is not None:
        runs = f"`{plan.schedule.expression}`, every stage" if plan.schedule.expression else "; ".join(f"{s.name} `{s.schedule.expression}`" for s in plan.stages if s.schedule is not None)
        lines += ["", f"Scheduled runs ({plan.schedule.timezone}): {runs}. A scheduled run that starts more than "
                      f"{spoken_duration(plan.schedule.late_start_limit_seconds)} after its time patches nothing."]
    return "\n".join(lines)


def dag_schedule(plan: RolloutPlan):
    """The plan's calendar as one Airflow timetable: its own cron, or one firing at every stage's cron.

    Airflow runs one calendar per DAG; a run at a stage's time patches the stages due then
    (patchflow.core.scheduled_runs, applied in RolloutOperator.rollout). With catchup off,
    these timetables still create a run for the latest time already past when the scheduler
    first sees the DAG; StartRunOperator lets such a late run patch nothing.
    """
    if plan.schedule is None:
        return None
    from airflow.timetables.trigger import CronTriggerTimetable, MultipleCronTriggerTimetable

    from patchflow.core.schedule import to_airflow_cron

    if plan.schedule.schedule is not None:
        return CronTriggerTimetable(to_airflow_cron(plan.schedule.schedule), timezone=plan.schedule.timezone)
    crons = dict.fromkeys(to_airflow_cron(stage.schedule) for stage in plan.stages if stage.schedule is not None)
    return MultipleCronTriggerTimetable(*crons, timezone=plan.schedule.timezone)


def build_dag(plan: RolloutPlan) -> DAG:
    stage_names = [s.name for s in plan.stages]
    pinned_sources = {s.pin_to for s in plan.stages if s.pin_to}
    with DAG(
        dag_id=plan.dag_id,
        description=plan.description[:200] if plan.description else None,
        schedule=dag_schedule(plan),
        start_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
        catchup=False,
        max_active_runs=1,
        tags=sorted({"patching", "rollout", *plan.tags}),
        doc_md=plan_doc(plan),
        default_args={"owner": plan.owner, "retries": 2, "retry_delay": timedelta(seconds=10)},
        params={
            "dry_run": Param(False, type="boolean", title="Dry run", description="Scan only: report what would be installed, install nothing."),
            "stages": Param(stage_names, type="array", items={"type": "string", "enum": stage_names}, title="Stages", description="Run only these stages, in plan order."),
            # Airflow's form marks a param required unless its type allows null; these two may be left empty.
            "max_failed": Param(None, type=["null", "string"], pattern=MAX_FAILED_SPELLING, title="Tighter failure limit", description=max_failed_help(plan)),
            "change_ticket": Param(
                None, type=["null", "string"], pattern=CHANGE_TICKET.pattern, title="Change ticket",
                description="Optional: a reference like CHG0012345 or OPS-12, recorded in the ledger and the report.",
            ),
            "release": Param(
                None, type=["null", "string"], title="Release",
                description="Optional, for a run of pinned stages without their source stage: the release to install (r-...; see `patchflow releases PLAN`). "
                            "Empty: the newest release that passed the stage before.",
            ),
        },
    ) as dag:
        start = StartRunOperator(task_id="start", plan=plan, aws_conn_id=aws_conn_id(), retries=0)
        upstream = start
        for stage in plan.stages:
            group = build_stage_group(plan, stage, pinned_by_later_stage=stage.name in pinned_sources)
            upstream >> group
            upstream = group
        finish = FinishRunOperator(task_id="finish", plan=plan, aws_conn_id=aws_conn_id(), trigger_rule=TriggerRule.ALL_DONE, retries=1)
        upstream >> finish
    return dag


def dag_from_plan_file(path: str | Path) -> DAG:
    """For a dags/ stub: a broken plan raises here, so it shows as that stub's import error."""
    path = Path(path)
    if not path.is_absolute():
        path = PLANS_DIR / path
    return build_dag(load_plan(path))
