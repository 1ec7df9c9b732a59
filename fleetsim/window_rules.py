"""What SSM refuses in maintenance window requests, and the words it refuses them with.

Field constraints come from botocore's model (shapes MaintenanceWindowName, ...Duration, ...Cutoff,
...Offset, ...Id, ...TaskId, MaxConcurrency, MaxErrors, Target) and are worded as every SSM
ValidationException words them ("Value '25' at 'duration' failed to satisfy constraint: Member must
have value less than or equal to 24"). The rules between fields quote the service where a public
report does (fleetsim/FIDELITY.md names each source) and say plainly what is wrong where none does.
Pure: each check returns messages; fleetsim.api_maintenance_windows raises them.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping

from fleetsim.window_schedule import CronSchedule, ScheduleError, WindowTimes, parse_bound, parse_schedule, time_zone

NAME_PATTERN = re.compile(r"^[a-zA-Z0-9_\-.]{3,128}$")
WINDOW_ID_PATTERN = re.compile(r"^mw-[0-9a-f]{17}$")
UUID_PATTERN = re.compile(r"^[0-9a-fA-F]{8}\-[0-9a-fA-F]{4}\-[0-9a-fA-F]{4}\-[0-9a-fA-F]{4}\-[0-9a-fA-F]{12}$")
MAX_CONCURRENCY_PATTERN = re.compile(r"^([1-9][0-9]*|[1-9][0-9]%|[1-9]%|100%)$")
MAX_ERRORS_PATTERN = re.compile(r"^([1-9][0-9]*|[0]|[1-9][0-9]%|[0-9]%|100%)$")
NAME_RULE = "Member must satisfy regular expression pattern: ^[a-zA-Z0-9_\\-.]{3,128}$"
UUID_RULE = ("Member must satisfy regular expression pattern: "
             "^[0-9a-fA-F]{8}\\-[0-9a-fA-F]{4}\\-[0-9a-fA-F]{4}\\-[0-9a-fA-F]{4}\\-[0-9a-fA-F]{12}$")
RESOURCE_TYPES = ("INSTANCE", "RESOURCE_GROUP")
TASK_TYPES = ("RUN_COMMAND", "AUTOMATION", "STEP_FUNCTIONS", "LAMBDA")
CUTOFF_BEHAVIORS = ("CONTINUE_TASK", "CANCEL_TASK")

# RegisterTargetWithMaintenanceWindow's answer to any other key (quoted in hashicorp/terraform-provider-aws#9188).
TARGET_FORMATS = (
    'Targets must be specified in one of the following formats: 1) 1 target with "Key=InstanceIds" and "Values=" a list of '
    'up to 50 instance IDs, or 2) Up to 5 targets, each of which can be either "Key=tag:<key>,Values=<tag_values>" or '
    '"Key=tag-key,Values=<tag_keys>", and each with up to 5 unique tag keys/values.'
)
# RegisterTaskWithMaintenanceWindow's answer to another key (quoted in terraform-linters/tflint-ruleset-aws#524).
TASK_TARGETS = ("For Run Command tasks, you must specify at least one resource as the target of the task. "
                "You can specify between 1 and 50 instance IDs, or between 1 and 10 maintenance window target IDs")


def constraint(value: object, where: str, rule: str) -> str:
    shown = "null" if value is None else f"'{value}'"
    return f"Value {shown} at '{where}' failed to satisfy constraint: {rule}"


def member(name: str) -> str:
    return name[0].lower() + name[1:]


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def integer_errors(value: object, name: str, low: int, high: int | None) -> list[str]:
    if value is None:
        return []
    if not _is_int(value):
        return [constraint(value, member(name), "Member must be an integer")]
    if value < low:
        return [constraint(value, member(name), f"Member must have value greater than or equal to {low}")]
    if high is not None and value > high:
        return [constraint(value, member(name), f"Member must have value less than or equal to {high}")]
    return []


def string_errors(value: object, name: str, low: int, high: int | None, pattern: re.Pattern | None = None, rule: str = "") -> list[str]:
    if value is None:
        return []
    if not isinstance(value, str):
        return [constraint(value, member(name), "Member must be a string")]
    errors = []
    if len(value) < low:
        errors.append(constraint(value, member(name), f"Member must have length greater than or equal to {low}"))
    if high is not None and len(value) > high:
        errors.append(constraint(value, member(name), f"Member must have length less than or equal to {high}"))
    if pattern is not None and not pattern.match(value):
        errors.append(constraint(value, member(name), rule))
    return errors


def enum_errors(value: object, name: str, allowed: tuple[str, ...]) -> list[str]:
    if value is None or value in allowed:
        return []
    return [constraint(value, member(name), f"Member must satisfy enum value set: [{', '.join(allowed)}]")]


def required_errors(request: Mapping[str, Any], names: tuple[str, ...]) -> list[str]:
    return [constraint(None, member(name), "Member must not be null") for name in names if request.get(name) is None]


def window_id_errors(window_id: object) -> list[str]:
    if window_id is None:
        return required_errors({}, ("WindowId",))
    return string_errors(window_id, "WindowId", 20, 20, WINDOW_ID_PATTERN, "Member must satisfy regular expression pattern: ^mw-[0-9a-f]{17}$")


def uuid_errors(value: object, name: str) -> list[str]:
    if value is None:
        return required_errors({}, (name,))
    return string_errors(value, name, 36, 36, UUID_PATTERN, UUID_RULE)


# ---- windows -------------------------------------------------------------------------------------

WINDOW_REQUIRED = ("Name", "Schedule", "Duration", "Cutoff", "AllowUnassociatedTargets")
WINDOW_OPTIONAL = ("Description", "StartDate", "EndDate", "ScheduleTimezone", "ScheduleOffset")


def window_field_errors(request: Mapping[str, Any], *, every_required: bool) -> list[str]:
    """Model constraints of Create/UpdateMaintenanceWindow, in the model's member order."""
    errors = required_errors(request, WINDOW_REQUIRED) if every_required else []
    errors += string_errors(request.get("Name"), "Name", 3, 128, NAME_PATTERN, NAME_RULE)
    errors += string_errors(request.get("Description"), "Description", 1, 128)
    errors += string_errors(request.get("Schedule"), "Schedule", 1, 256)
    errors += integer_errors(request.get("ScheduleOffset"), "ScheduleOffset", 1, 6)
    errors += integer_errors(request.get("Duration"), "Duration", 1, 24)
    errors += integer_errors(request.get("Cutoff"), "Cutoff", 0, 23)
    return errors


@dataclass(frozen=True)
class WindowSettings:
    """A window's schedule fields, as created or as an update leaves them."""

    schedule: str
    duration: int
    cutoff: int
    schedule_timezone: str | None = None
    schedule_offset: int | None = None
    start_date: str | None = None
    end_date: str | None = None


def window_settings_problem(settings: WindowSettings) -> str | None:
    """The first rule between a window's fields that the settings break, as a message; None when they are sound."""
    try:
        schedule = parse_schedule(settings.schedule)
    except ScheduleError as exc:
        return f"Schedule {settings.schedule} is not a valid schedule expression: {exc}."
    try:
        zone = time_zone(settings.schedule_timezone)
    except ScheduleError:
        return (f"ScheduleTimezone {settings.schedule_timezone} is not a time zone in IANA format, "
                "such as America/Chicago, Europe/Berlin or Asia/Tokyo.")
    if settings.schedule_offset is not None and not isinstance(schedule, CronSchedule):
        return f"ScheduleOffset can only be used with a cron expression, and the schedule is {settings.schedule}."
    if settings.cutoff >= settings.duration:
        # The service's words, quoted in awsdocs/aws-cloudformation-user-guide#891 for Cutoff 12, Duration 6.
        return f"Cutoff was {settings.cutoff} but must be smaller than {settings.duration - 1} (Duration - 1 )"
    bounds: dict[str, datetime] = {}
    for name, text in (("StartDate", settings.start_date), ("EndDate", settings.end_date)):
        if text is not None:
            try:
                bounds[name] = parse_bound(text, zone)
            except ScheduleError as exc:
                return f"{name} {exc}."
    if len(bounds) == 2 and bounds["EndDate"] <= bounds["StartDate"]:
        return f"EndDate {settings.end_date} must be later than StartDate {settings.start_date}."
    return None


def window_times(settings: WindowSettings, schedule_set: datetime) -> WindowTimes:
    """What decides the openings of a window whose settings are sound (window_settings_problem said None)."""
    zone = time_zone(settings.schedule_timezone)
    return WindowTimes(
        zone=zone,
        offset_days=settings.schedule_offset or 0,
        start=parse_bound(settings.start_date, zone) if settings.start_date else None,
        end=parse_bound(settings.end_date, zone) if settings.end_date else None,
        anchor=schedule_set,
    )


# ---- targets and tasks -------------------------------------------------------------------------------


def window_target_errors(request: Mapping[str, Any]) -> list[str]:
    """Model constraints of RegisterTargetWithMaintenanceWindow."""
    errors = required_errors(request, ("ResourceType", "Targets"))
    errors += enum_errors(request.get("ResourceType"), "ResourceType", RESOURCE_TYPES)
    targets = request.get("Targets")
    if isinstance(targets, list) and len(targets) > 5:
        errors.append(constraint(targets, "targets", "Member must have length less than or equal to 5"))
    errors += string_errors(request.get("OwnerInformation"), "OwnerInformation", 1, 128)
    errors += string_errors(request.get("Name"), "Name", 3, 128, NAME_PATTERN, NAME_RULE)
    errors += string_errors(request.get("Description"), "Description", 1, 128)
    return errors


def window_target_problem(resource_type: str, targets: list[Mapping[str, Any]]) -> str | None:
    """Why SSM would not register these targets for a window; None when it would."""
    for target in targets:
        if not target.get("Values"):
            return f"Please specify at least one target.  Filter values can't be null and {target.get('Key')} is."
    keys = [target.get("Key") for target in targets]
    if resource_type == "RESOURCE_GROUP":
        if keys.count("resource-groups:Name") != 1 or set(keys) - {"resource-groups:Name", "resource-groups:ResourceTypeFilters"}:
            return ("A RESOURCE_GROUP target is one Key=resource-groups:Name target with the group's name, "
                    "optionally with a Key=resource-groups:ResourceTypeFilters target.")
        return None
    if keys == ["InstanceIds"]:
        return None if len(targets[0]["Values"]) <= 50 else TARGET_FORMATS
    by_tag = all(isinstance(key, str) and (key.startswith("tag:") or key == "tag-key") for key in keys)
    if by_tag and all(len(set(target["Values"])) <= 5 for target in targets):
        return None
    return TARGET_FORMATS


def window_task_errors(request: Mapping[str, Any]) -> list[str]:
    """Model constraints of RegisterTaskWithMaintenanceWindow."""
    errors = required_errors(request, ("TaskArn", "TaskType"))
    targets = request.get("Targets")
    if isinstance(targets, list) and len(targets) > 5:
        errors.append(constraint(targets, "targets", "Member must have length less than or equal to 5"))
    errors += string_errors(request.get("TaskArn"), "TaskArn", 1, 1600)
    errors += enum_errors(request.get("TaskType"), "TaskType", TASK_TYPES)
    errors += integer_errors(request.get("Priority"), "Priority", 0, None)
    errors += string_errors(request.get("MaxConcurrency"), "MaxConcurrency", 1, 7, MAX_CONCURRENCY_PATTERN,
                            "Member must satisfy regular expression pattern: ^([1-9][0-9]*|[1-9][0-9]%|[1-9]%|100%)$")
    errors += string_errors(request.get("MaxErrors"), "MaxErrors", 1, 7, MAX_ERRORS_PATTERN,
                            "Member must satisfy regular expression pattern: ^([1-9][0-9]*|[0]|[1-9][0-9]%|[0-9]%|100%)$")
    errors += string_errors(request.get("Name"), "Name", 3, 128, NAME_PATTERN, NAME_RULE)
    errors += string_errors(request.get("Description"), "Description", 1, 128)
    errors += enum_errors(request.get("CutoffBehavior"), "CutoffBehavior", CUTOFF_BEHAVIORS)
    return errors


def window_task_problem(request: Mapping[str, Any], window_target_ids: set[str]) -> tuple[str, str] | None:
    """(error code, message) for a task SSM would not register in a window with these target ids; None when it would."""
    targets = request.get("Targets") or []
    if request.get("TaskType") == "RUN_COMMAND" and not targets:
        return "ValidationException", TASK_TARGETS
    for target in targets:
        key, values = target.get("Key"), target.get("Values") or []
        if key not in ("WindowTargetIds", "InstanceIds"):
            return "ValidationException", f"{key} is an invalid window task target type, use WindowTargetIds or InstanceIds. {TASK_TARGETS}"
        if key == "WindowTargetIds" and len(values) > 10:
            return "ValidationException", "The maximum number of window targets is 10"
        if key == "InstanceIds" and len(values) > 50:
            return "ValidationException", TASK_TARGETS
        unknown = [value for value in values if key == "WindowTargetIds" and value not in window_target_ids]
        if unknown:
            return "DoesNotExistException", f"Maintenance window target {unknown[0]} does not exist in this maintenance window"
    if targets and (request.get("MaxConcurrency") is None or request.get("MaxErrors") is None):
        return "ValidationException", "MaxConcurrency and MaxErrors are required for a task with targets."
    return None
