"""Maintenance window actions: windows, their targets and tasks, answered as SSM answers them.

moto keeps the windows, targets and tasks (moto.ssm.models FakeMaintenanceWindow and friends) and
fleetsim keeps them there; what moto has no place for (Enabled, AllowUnassociatedTargets, the
creation and modification times) is a WindowRecord in the backend's `window_records`. The requests
are checked as SSM checks them (fleetsim.window_rules) and the answers carry every field of the AWS
CLI's examples, NextExecutionTime computed from the schedule, time zone and offset
(fleetsim.window_schedule). fleetsim runs no window: nothing happens when one opens.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from moto.core.responses import ActionResult

from fleetsim.api_conventions import FleetActions, error, page, validation
from fleetsim.window_rules import (
    WINDOW_OPTIONAL,
    WINDOW_REQUIRED,
    WindowSettings,
    constraint,
    uuid_errors,
    window_field_errors,
    window_id_errors,
    window_settings_problem,
    window_target_errors,
    window_target_problem,
    window_task_errors,
    window_task_problem,
    window_times,
)
from fleetsim.window_schedule import ScheduleError, execution_time_text, next_opening, parse_schedule

DEFAULT_PAGE = 10  # the model's smallest MaxResults; AWS does not say its default
WINDOW_FIELDS = ("Name", "Description", "StartDate", "EndDate", "Schedule", "ScheduleTimezone", "ScheduleOffset", "Duration", "Cutoff")
# The moto FakeMaintenanceWindow attribute that holds each field.
WINDOW_ATTRIBUTES = {
    "Name": "name", "Description": "description", "StartDate": "start_date", "EndDate": "end_date", "Schedule": "schedule",
    "ScheduleTimezone": "schedule_timezone", "ScheduleOffset": "schedule_offset", "Duration": "duration", "Cutoff": "cutoff",
}


@dataclass
class WindowRecord:
    """What SSM keeps about a window that moto's FakeMaintenanceWindow does not."""

    allow_unassociated_targets: bool
    enabled: bool
    created: datetime
    modified: datetime
    schedule_set: datetime  # when the schedule was last set: a rate schedule counts from there


def _now() -> datetime:
    now = datetime.now(timezone.utc)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)  # SSM's dates have millisecond precision


def _settings(window: Any) -> WindowSettings:
    return WindowSettings(
        schedule=window.schedule, duration=window.duration, cutoff=window.cutoff, schedule_timezone=window.schedule_timezone,
        schedule_offset=window.schedule_offset, start_date=window.start_date, end_date=window.end_date,
    )


def next_execution_time(window: Any, record: WindowRecord, now: datetime) -> str | None:
    """NextExecutionTime of a window: none while it is disabled (the User Guide's example of a disabled window has
    none) or when it will not open again (past its EndDate: aws-solutions/instance-scheduler-on-aws#553)."""
    if not record.enabled:
        return None
    settings = _settings(window)
    try:
        schedule = parse_schedule(settings.schedule)
        opening = next_opening(schedule, window_times(settings, record.schedule_set), now)
    except ScheduleError:
        return None
    return execution_time_text(opening, schedule) if opening else None


def _refuse_unworkable_settings(fields: dict[str, Any]) -> None:
    """A window whose schedule, duration, cutoff and dates cannot work together is refused as SSM refuses it."""
    problem = window_settings_problem(WindowSettings(
        schedule=fields["Schedule"], duration=fields["Duration"], cutoff=fields["Cutoff"],
        schedule_timezone=fields["ScheduleTimezone"], schedule_offset=fields["ScheduleOffset"],
        start_date=fields["StartDate"], end_date=fields["EndDate"],
    ))
    if problem:
        raise error("ValidationException", problem)


def _without_none(fields: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in fields.items() if value is not None}


class MaintenanceWindowActions(FleetActions):
    """Create/Get/Update/Describe/DeleteMaintenanceWindow(s), Register/Describe/Deregister targets and tasks,
    GetMaintenanceWindowTask."""

    # ---- reading the request -------------------------------------------------------------------

    def _find_window(self, window_id: Any) -> Any:
        errors = window_id_errors(window_id)
        if errors:
            raise validation(*errors)
        window = self.fleet.windows.get(window_id)
        if window is None:
            raise error("DoesNotExistException", f"Maintenance window {window_id} does not exist")
        return window

    def _window_record(self, window: Any) -> WindowRecord:
        records = self.fleet.window_records
        if window.id not in records:
            # A window fleetsim did not create (moto's own models): SSM's defaults for what moto does not keep.
            created = datetime(1970, 1, 1, tzinfo=timezone.utc)
            records[window.id] = WindowRecord(False, True, created, created, created)
        return records[window.id]

    def _window_filters(self, allowed: tuple[str, ...]) -> list[tuple[str, list[str]]]:
        found = []
        for index, entry in enumerate(self._get_param("Filters") or [], start=1):
            key, values = entry.get("Key"), entry.get("Values") or []
            if key not in allowed:
                raise validation(constraint(key, f"filters.{index}.member.key", f"Member must satisfy enum value set: [{', '.join(allowed)}]"))
            found.append((key, [str(value) for value in values]))
        return found

    def _window_page(self, items: list, field: str) -> ActionResult:
        chunk, token = page(items, self._get_param("NextToken"), self._int("MaxResults", DEFAULT_PAGE, 10, 100))
        return ActionResult({field: chunk, **({"NextToken": token} if token else {})})

    # ---- windows ------------------------------------------------------------------------------------

    def _window_fields(self, window: Any) -> dict[str, Any]:
        return {field: getattr(window, WINDOW_ATTRIBUTES[field]) for field in WINDOW_FIELDS}

    def _window_view(self, window: Any, now: datetime) -> dict[str, Any]:
        record = self._window_record(window)
        return _without_none({
            "WindowId": window.id, **self._window_fields(window), "NextExecutionTime": next_execution_time(window, record, now),
            "AllowUnassociatedTargets": record.allow_unassociated_targets, "Enabled": record.enabled,
            "CreatedDate": record.created, "ModifiedDate": record.modified,
        })

    def _window_identity(self, window: Any, now: datetime) -> dict[str, Any]:
        record = self._window_record(window)
        return _without_none({
            "WindowId": window.id, **self._window_fields(window), "Enabled": record.enabled,
            "NextExecutionTime": next_execution_time(window, record, now),
        })

    def create_maintenance_window(self) -> ActionResult:
        request = {name: self._get_param(name) for name in WINDOW_REQUIRED + WINDOW_OPTIONAL}
        errors = window_field_errors(request, every_required=True)
        if errors:
            raise validation(*errors)
        _refuse_unworkable_settings(request)
        window_id = self.fleet.create_maintenance_window(
            name=request["Name"], description=request["Description"], duration=request["Duration"], cutoff=request["Cutoff"],
            schedule=request["Schedule"], schedule_timezone=request["ScheduleTimezone"], schedule_offset=request["ScheduleOffset"],
            start_date=request["StartDate"], end_date=request["EndDate"], tags=self._get_param("Tags"),
        )
        now = _now()
        self.fleet.window_records[window_id] = WindowRecord(bool(request["AllowUnassociatedTargets"]), True, now, now, now)
        return ActionResult({"WindowId": window_id})

    def get_maintenance_window(self) -> ActionResult:
        return ActionResult(self._window_view(self._find_window(self._get_param("WindowId")), _now()))

    def update_maintenance_window(self) -> ActionResult:
        window = self._find_window(self._get_param("WindowId"))
        record = self._window_record(window)
        replace = bool(self._get_param("Replace"))
        request = {name: self._get_param(name) for name in WINDOW_REQUIRED + WINDOW_OPTIONAL + ("Enabled",)}
        errors = window_field_errors(request, every_required=replace)
        if errors:
            raise validation(*errors)
        # Replace: "Optional fields that aren't specified are set to null" (API Reference, UpdateMaintenanceWindow).
        fields = {field: request[field] if request[field] is not None or replace else current
                  for field, current in self._window_fields(window).items()}
        _refuse_unworkable_settings(fields)
        now = _now()
        if any(fields[f] != getattr(window, WINDOW_ATTRIBUTES[f]) for f in ("Schedule", "ScheduleTimezone", "StartDate")):
            record.schedule_set = now
        for field, value in fields.items():
            setattr(window, WINDOW_ATTRIBUTES[field], value)
        if request["AllowUnassociatedTargets"] is not None:
            record.allow_unassociated_targets = bool(request["AllowUnassociatedTargets"])
        if request["Enabled"] is not None:
            record.enabled = bool(request["Enabled"])
        record.modified = now
        return ActionResult(_without_none({
            "WindowId": window.id, **self._window_fields(window),
            "AllowUnassociatedTargets": record.allow_unassociated_targets, "Enabled": record.enabled,
        }))

    def describe_maintenance_windows(self) -> ActionResult:
        windows = list(self.fleet.windows.values())
        for key, values in self._window_filters(("Name", "Enabled")):
            if key == "Name":
                # "names that start with a certain prefix" (User Guide, "View information about maintenance windows (AWS CLI)").
                windows = [w for w in windows if any(w.name.startswith(value) for value in values)]
            else:
                wanted = {value.lower() for value in values}
                windows = [w for w in windows if str(self._window_record(w).enabled).lower() in wanted]
        now = _now()
        return self._window_page([self._window_identity(w, now) for w in windows], "WindowIdentities")

    def delete_maintenance_window(self) -> ActionResult:
        window = self._find_window(self._get_param("WindowId"))
        self.fleet.delete_maintenance_window(window.id)
        self.fleet.window_records.pop(window.id, None)
        return ActionResult({"WindowId": window.id})

    # ---- targets ----------------------------------------------------------------------------------

    def _target_view(self, target: Any) -> dict[str, Any]:
        return _without_none({
            "WindowId": target.window_id, "WindowTargetId": target.window_target_id, "ResourceType": target.resource_type,
            "Targets": target.targets, "OwnerInformation": target.owner_information, "Name": target.name,
            "Description": target.description,
        })

    def register_target_with_maintenance_window(self) -> ActionResult:
        window = self._find_window(self._get_param("WindowId"))
        request = {name: self._get_param(name) for name in ("ResourceType", "Targets", "OwnerInformation", "Name", "Description")}
        errors = window_target_errors(request)
        if errors:
            raise validation(*errors)
        problem = window_target_problem(request["ResourceType"], request["Targets"])
        if problem:
            raise error("ValidationException", problem)
        target_id = self.fleet.register_target_with_maintenance_window(
            window_id=window.id, resource_type=request["ResourceType"], targets=request["Targets"],
            owner_information=request["OwnerInformation"], name=request["Name"], description=request["Description"],
        )
        return ActionResult({"WindowTargetId": target_id})

    def describe_maintenance_window_targets(self) -> ActionResult:
        window = self._find_window(self._get_param("WindowId"))
        targets = list(window.targets.values())
        # "The supported filter keys are Type, WindowTargetId and OwnerInformation" (User Guide, same page as above).
        attribute = {"Type": "resource_type", "WindowTargetId": "window_target_id", "OwnerInformation": "owner_information"}
        for key, values in self._window_filters(tuple(attribute)):
            targets = [t for t in targets if getattr(t, attribute[key]) in values]
        return self._window_page([self._target_view(t) for t in targets], "Targets")

    def deregister_target_from_maintenance_window(self) -> ActionResult:
        window = self._find_window(self._get_param("WindowId"))
        target_id = self._get_param("WindowTargetId")
        errors = uuid_errors(target_id, "WindowTargetId")
        if errors:
            raise validation(*errors)
        if target_id not in window.targets:
            raise error("DoesNotExistException", f"Maintenance window target {target_id} does not exist")
        users = [task.window_task_id for task in window.tasks.values()
                 if any(t.get("Key") == "WindowTargetIds" and target_id in (t.get("Values") or []) for t in task.targets or [])]
        if self._get_param("Safe") and users:
            raise error("TargetInUseException", f"Maintenance window target {target_id} is used by task {users[0]}.")
        del window.targets[target_id]
        return ActionResult({"WindowId": window.id, "WindowTargetId": target_id})

    # ---- tasks ------------------------------------------------------------------------------------------

    def _service_role(self, task: Any) -> str:
        # "If you don't specify a service role ARN, Systems Manager uses a service-linked role in your account"
        # (API Reference, RegisterTaskWithMaintenanceWindow); the CLI examples answer that role's ARN.
        return task.service_role_arn or f"arn:aws:iam::{self.fleet.account_id}:role/aws-service-role/ssm.amazonaws.com/AWSServiceRoleForAmazonSSM"

    def _task_fields(self, task: Any) -> dict[str, Any]:
        return {
            "WindowId": task.window_id, "WindowTaskId": task.window_task_id, "TaskArn": task.task_arn, "Targets": task.targets,
            "TaskParameters": task.task_parameters or {}, "Priority": task.priority, "LoggingInfo": task.logging_info,
            "ServiceRoleArn": self._service_role(task), "MaxConcurrency": task.max_concurrency, "MaxErrors": task.max_errors,
            "Name": task.name, "Description": task.description, "CutoffBehavior": task.cutoff_behavior or "CONTINUE_TASK",
            "AlarmConfiguration": task.alarm_configurations,
        }

    def register_task_with_maintenance_window(self) -> ActionResult:
        window = self._find_window(self._get_param("WindowId"))
        request = {name: self._get_param(name) for name in (
            "Targets", "TaskArn", "ServiceRoleArn", "TaskType", "TaskParameters", "TaskInvocationParameters", "Priority",
            "MaxConcurrency", "MaxErrors", "LoggingInfo", "Name", "Description", "CutoffBehavior", "AlarmConfiguration",
        )}
        errors = window_task_errors(request)
        if errors:
            raise validation(*errors)
        problem = window_task_problem(request, set(window.targets))
        if problem:
            raise error(*problem)
        task_id = self.fleet.register_task_with_maintenance_window(
            window_id=window.id, targets=request["Targets"], task_arn=request["TaskArn"], service_role_arn=request["ServiceRoleArn"],
            task_type=request["TaskType"], task_parameters=request["TaskParameters"],
            task_invocation_parameters=request["TaskInvocationParameters"], priority=request["Priority"],
            max_concurrency=request["MaxConcurrency"], max_errors=request["MaxErrors"], logging_info=request["LoggingInfo"],
            name=request["Name"], description=request["Description"], cutoff_behavior=request["CutoffBehavior"],
            alarm_configurations=request["AlarmConfiguration"],
        )
        return ActionResult({"WindowTaskId": task_id})

    def describe_maintenance_window_tasks(self) -> ActionResult:
        window = self._find_window(self._get_param("WindowId"))
        tasks = list(window.tasks.values())
        attribute = {"WindowTaskId": "window_task_id", "TaskArn": "task_arn", "Priority": "priority", "TaskType": "task_type"}
        for key, values in self._window_filters(tuple(attribute)):
            tasks = [t for t in tasks if str(getattr(t, attribute[key])) in values]
        return self._window_page([_without_none({**self._task_fields(t), "Type": t.task_type}) for t in tasks], "Tasks")

    def _find_task(self, window: Any) -> Any:
        task_id = self._get_param("WindowTaskId")
        errors = uuid_errors(task_id, "WindowTaskId")
        if errors:
            raise validation(*errors)
        if task_id not in window.tasks:
            raise error("DoesNotExistException", f"Maintenance window task {task_id} does not exist")
        return window.tasks[task_id]

    def get_maintenance_window_task(self) -> ActionResult:
        task = self._find_task(self._find_window(self._get_param("WindowId")))
        return ActionResult(_without_none({
            **self._task_fields(task), "TaskType": task.task_type, "TaskInvocationParameters": task.task_invocation_parameters,
        }))

    def deregister_task_from_maintenance_window(self) -> ActionResult:
        window = self._find_window(self._get_param("WindowId"))
        task = self._find_task(window)
        del window.tasks[task.window_task_id]
        return ActionResult({"WindowId": window.id, "WindowTaskId": task.window_task_id})
