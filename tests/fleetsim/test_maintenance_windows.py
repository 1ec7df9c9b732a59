"""Maintenance windows through the API: the seed's commands, refusals with whole messages, every field of the CLI examples.

The oracle: the User Guide ("Reference: Cron and rate expressions for Systems Manager", "Maintenance window
scheduling and active period options", "View information about maintenance windows (AWS CLI)"), botocore's
model, the AWS CLI's examples (`awscli/examples/ssm/*maintenance-window*.rst`) and the service's answers
quoted in public reports (fleetsim/FIDELITY.md, "Maintenance windows", names each). fleetsim runs no window.
"""
from __future__ import annotations

import json
import re
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import awscli
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from fleetsim.api_maintenance_windows import MaintenanceWindowActions
from fleetsim.models import FleetSSMResponse
from fleetsim.testing import fleetsim_fixture
from fleetsim.window_rules import TARGET_FORMATS, TASK_TARGETS
from fleetsim.window_schedule import WindowTimes, execution_time_text, next_opening, parse_bound, parse_schedule, time_zone

pytestmark = pytest.mark.fleetsim

EXAMPLES = Path(awscli.__file__).parent / "examples" / "ssm"
UTC = timezone.utc
SEED_WINDOW = ["ssm", "create-maintenance-window", "--name", "Weekly-Patch-Window", "--schedule", "cron(0 2 ? * SUN *)",
               "--duration", "PT4H", "--allow-unassociated-targets", "--cutoff", "PT30M"]
SERVICE_LINKED_ROLE = "arn:aws:iam::123456789012:role/aws-service-role/ssm.amazonaws.com/AWSServiceRoleForAmazonSSM"

window_fleet = fleetsim_fixture({"groups": [
    {"name": "production", "count": 2, "platform": "WINDOWS", "tags": {"Patch Group": "Production"}},
]}, seed=5, time_scale=600)


def test_fleetsim_answers_with_every_method_of_the_maintenance_window_mixin():
    # The mixins share one class: a private method named like another mixin's is shadowed by whichever comes first.
    own = {name: value for name, value in vars(MaintenanceWindowActions).items() if callable(value)}
    assert [name for name, value in own.items() if getattr(FleetSSMResponse, name) is not value] == []


# ---- through the AWS CLI: the seed's commands ---------------------------------------------------------


def aws(sim, *args: str) -> subprocess.CompletedProcess:
    return sim.aws_cli(*args)


def aws_json(sim, *args: str) -> dict:
    finished = aws(sim, *args)
    assert finished.returncode == 0, finished.stderr
    return json.loads(finished.stdout)


def example_fields(action: str) -> set[str]:
    """Every field name the CLI example's outputs show (the examples are not always valid JSON, so by pattern)."""
    text = (EXAMPLES / f"{action}.rst").read_text(encoding="utf-8")
    blocks = re.findall(r"Output::\n(.*?)(?:\n\S|\Z)", text, flags=re.S)
    # Field names are PascalCase; the camelCase names in the examples are a document's parameters (data).
    return {name for block in blocks for name in re.findall(r'"(\w+)"\s*:', block) if name[0].isupper()}


def fields(answer: object) -> set[str]:
    """Every field name in an answer, leaving out the keys of maps (document parameters are data)."""
    if isinstance(answer, list):
        return set().union(*(fields(item) for item in answer)) if answer else set()
    if not isinstance(answer, dict):
        return set()
    return set(answer) | set().union(*(fields(value) for key, value in answer.items() if key not in ("Parameters", "TaskParameters")))


def opening_text(schedule: str, now: datetime, zone: str | None = None, offset: int = 0, start: str | None = None,
                 end: str | None = None) -> str | None:
    parsed, tz = parse_schedule(schedule), time_zone(zone)
    times = WindowTimes(tz, offset, parse_bound(start, tz) if start else None, parse_bound(end, tz) if end else None)
    opening = next_opening(parsed, times, now)
    return execution_time_text(opening, parsed) if opening else None


def expected_opening(schedule: str, before: datetime, after: datetime, **options) -> set[str | None]:
    """The NextExecutionTime due at either end of a request (the same unless an opening falls in between)."""
    return {opening_text(schedule, before, **options), opening_text(schedule, after, **options)}


def test_the_seeds_create_maintenance_window_is_refused_by_the_cli_before_any_request(window_fleet):
    window_fleet.reset_stats()
    refused = aws(window_fleet, *SEED_WINDOW)
    assert (refused.returncode, refused.stdout, refused.stderr, window_fleet.api_calls()) == (
        255, "", "\ninvalid literal for int() with base 10: 'PT4H'\n", {},
    )


def test_the_seeds_window_with_targets_and_a_patch_task_answers_every_field_of_the_cli_examples(window_fleet):
    before = datetime.now(UTC)
    corrected = [{"PT4H": "4", "PT30M": "1"}.get(arg, arg) for arg in SEED_WINDOW]
    window_id = aws_json(window_fleet, *corrected)["WindowId"]
    target_id = aws_json(window_fleet, "ssm", "register-target-with-maintenance-window", "--window-id", window_id,
                         "--resource-type", "INSTANCE", "--targets", "Key=tag:Patch Group,Values=Production",
                         "--owner-information", "Production servers", "--name", "Production")["WindowTargetId"]
    task_id = aws_json(window_fleet, "ssm", "register-task-with-maintenance-window", "--window-id", window_id,
                       "--targets", f"Key=WindowTargetIds,Values={target_id}", "--task-arn", "AWS-RunPatchBaseline",
                       "--task-type", "RUN_COMMAND", "--priority", "1", "--max-concurrency", "50%", "--max-errors", "1",
                       "--name", "Patch-Production", "--description", "Install approved patches on Production",
                       "--task-invocation-parameters",
                       '{"RunCommand":{"Comment":"","TimeoutSeconds":600,"Parameters":{"Operation":["Install"],"RebootOption":["RebootIfNeeded"]}}}',
                       )["WindowTaskId"]
    answers = {
        "get-maintenance-window": aws_json(window_fleet, "ssm", "get-maintenance-window", "--window-id", window_id),
        "describe-maintenance-windows": aws_json(window_fleet, "ssm", "describe-maintenance-windows", "--filters", "Key=Name,Values=Weekly-Patch-Window"),
        "describe-maintenance-window-targets": aws_json(window_fleet, "ssm", "describe-maintenance-window-targets", "--window-id", window_id),
        "describe-maintenance-window-tasks": aws_json(window_fleet, "ssm", "describe-maintenance-window-tasks", "--window-id", window_id),
        "get-maintenance-window-task": aws_json(window_fleet, "ssm", "get-maintenance-window-task", "--window-id", window_id,
                                                "--window-task-id", task_id),
    }
    after = datetime.now(UTC)

    # Field by field against the CLI examples: the same names, plus only what botocore's shapes have and the older
    # examples lack (CutoffBehavior), or what the example's task lacks (this one has a Description).
    assert {action: fields(answer) ^ example_fields(action) for action, answer in answers.items()} == {
        "get-maintenance-window": set(),
        "describe-maintenance-windows": set(),
        "describe-maintenance-window-targets": set(),
        "describe-maintenance-window-tasks": {"CutoffBehavior"},
        "get-maintenance-window-task": {"CutoffBehavior", "Description"},
    }
    window, listed = answers["get-maintenance-window"], answers["describe-maintenance-windows"]
    created = window.pop("CreatedDate")
    assert (window.pop("ModifiedDate"), before.timestamp() - 0.001 <= created <= after.timestamp()) == (created, True)
    assert window.pop("NextExecutionTime") in expected_opening("cron(0 2 ? * SUN *)", before, after)
    assert window == {"WindowId": window_id, "Name": "Weekly-Patch-Window", "Schedule": "cron(0 2 ? * SUN *)", "Duration": 4,
                      "Cutoff": 1, "AllowUnassociatedTargets": True, "Enabled": True}
    assert listed["WindowIdentities"][0].pop("NextExecutionTime") in expected_opening("cron(0 2 ? * SUN *)", before, after)
    assert listed == {"WindowIdentities": [{"WindowId": window_id, "Name": "Weekly-Patch-Window", "Enabled": True, "Duration": 4,
                                            "Cutoff": 1, "Schedule": "cron(0 2 ? * SUN *)"}]}
    assert answers["describe-maintenance-window-targets"] == {"Targets": [{
        "WindowId": window_id, "WindowTargetId": target_id, "ResourceType": "INSTANCE",
        "Targets": [{"Key": "tag:Patch Group", "Values": ["Production"]}], "OwnerInformation": "Production servers", "Name": "Production",
    }]}
    registered = {"WindowId": window_id, "WindowTaskId": task_id, "TaskArn": "AWS-RunPatchBaseline",
                  "Targets": [{"Key": "WindowTargetIds", "Values": [target_id]}], "TaskParameters": {}, "Priority": 1,
                  "ServiceRoleArn": SERVICE_LINKED_ROLE, "MaxConcurrency": "50%", "MaxErrors": "1", "Name": "Patch-Production",
                  "Description": "Install approved patches on Production", "CutoffBehavior": "CONTINUE_TASK"}
    assert answers["describe-maintenance-window-tasks"] == {"Tasks": [{**registered, "Type": "RUN_COMMAND"}]}
    assert answers["get-maintenance-window-task"] == {**registered, "TaskType": "RUN_COMMAND", "TaskInvocationParameters": {"RunCommand": {
        "Comment": "", "TimeoutSeconds": 600, "Parameters": {"Operation": ["Install"], "RebootOption": ["RebootIfNeeded"]}}}}


def test_update_no_enabled_disables_the_window_and_enabled_opens_it_again(window_fleet):
    window_id = aws_json(window_fleet, "ssm", "create-maintenance-window", "--name", "Disable-Me", "--schedule", "cron(0 2 ? * SUN *)",
                         "--duration", "4", "--cutoff", "1", "--no-allow-unassociated-targets")["WindowId"]
    disabled = aws_json(window_fleet, "ssm", "update-maintenance-window", "--window-id", window_id, "--no-enabled")
    seen_disabled = aws_json(window_fleet, "ssm", "get-maintenance-window", "--window-id", window_id)
    listed = aws_json(window_fleet, "ssm", "describe-maintenance-windows", "--filters", "Key=Name,Values=Disable-Me", "Key=Enabled,Values=false")
    before = datetime.now(UTC)
    enabled = aws_json(window_fleet, "ssm", "update-maintenance-window", "--window-id", window_id, "--enabled")
    seen_enabled = aws_json(window_fleet, "ssm", "get-maintenance-window", "--window-id", window_id)
    after = datetime.now(UTC)
    window = {"WindowId": window_id, "Name": "Disable-Me", "Schedule": "cron(0 2 ? * SUN *)", "Duration": 4, "Cutoff": 1,
              "AllowUnassociatedTargets": False}
    assert (disabled, enabled) == ({**window, "Enabled": False}, {**window, "Enabled": True})
    assert set(disabled) == example_fields("update-maintenance-window")
    # The User Guide's disabled window has no NextExecutionTime; an enabled one gets it back.
    assert ({k: seen_disabled[k] for k in ("Enabled",)}, "NextExecutionTime" in seen_disabled) == ({"Enabled": False}, False)
    assert [(w["WindowId"], w["Enabled"], "NextExecutionTime" in w) for w in listed["WindowIdentities"]] == [(window_id, False, False)]
    assert seen_enabled["Enabled"] is True
    assert seen_enabled["NextExecutionTime"] in expected_opening("cron(0 2 ? * SUN *)", before, after)
    assert seen_enabled["ModifiedDate"] > seen_enabled["CreatedDate"]


# ---- through boto3: requests SSM refuses, with its whole messages ------------------------------------


@pytest.fixture(scope="module")
def ssm(window_fleet):
    return window_fleet.client("ssm")


@pytest.fixture(scope="module")
def unchecked_ssm(window_fleet):
    # botocore checks minimums and lengths before sending; these requests show what the service itself says.
    return window_fleet.client("ssm", config=Config(parameter_validation=False))


@pytest.fixture(scope="module")
def refusal_window(ssm) -> str:
    window_id = ssm.create_maintenance_window(Name="Refusals", Schedule="cron(0 2 ? * SUN *)", Duration=4, Cutoff=1,
                                              AllowUnassociatedTargets=False)["WindowId"]
    ssm.register_target_with_maintenance_window(WindowId=window_id, ResourceType="INSTANCE", Targets=[{"Key": "tag:Patch Group", "Values": ["Production"]}])
    return window_id


GOOD_WINDOW = {"Name": "Refused-Window", "Schedule": "cron(0 2 ? * SUN *)", "Duration": 4, "Cutoff": 1, "AllowUnassociatedTargets": True}
UNKNOWN_WINDOW = "mw-0123456789abcdef0"
UNKNOWN_TASK = "0e842a8d-2d44-4886-bb62-af8dc0000000"


@pytest.mark.parametrize(
    ("action", "arguments", "code", "message"),
    [
        pytest.param("create_maintenance_window", {**GOOD_WINDOW, "Duration": 25}, "ValidationException",
                     "1 validation error detected: Value '25' at 'duration' failed to satisfy constraint: Member must have value less than or equal to 24",
                     id="duration-25"),
        pytest.param("create_maintenance_window", {**GOOD_WINDOW, "Name": "a!", "Duration": 0, "Cutoff": 24}, "ValidationException",
                     "4 validation errors detected: "
                     "Value 'a!' at 'name' failed to satisfy constraint: Member must have length greater than or equal to 3; "
                     "Value 'a!' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9_\\-.]{3,128}$; "
                     "Value '0' at 'duration' failed to satisfy constraint: Member must have value greater than or equal to 1; "
                     "Value '24' at 'cutoff' failed to satisfy constraint: Member must have value less than or equal to 23",
                     id="every-constraint-at-once"),
        pytest.param("create_maintenance_window", {**GOOD_WINDOW, "ScheduleOffset": 7}, "ValidationException",
                     "1 validation error detected: Value '7' at 'scheduleOffset' failed to satisfy constraint: Member must have value less than or equal to 6",
                     id="offset-7"),
        pytest.param("create_maintenance_window", {**GOOD_WINDOW, "Cutoff": 4}, "ValidationException",
                     "Cutoff was 4 but must be smaller than 3 (Duration - 1 )", id="cutoff-not-below-duration"),
        pytest.param("create_maintenance_window", {**GOOD_WINDOW, "Schedule": "rate(7 days)", "ScheduleOffset": 2}, "ValidationException",
                     "ScheduleOffset can only be used with a cron expression, and the schedule is rate(7 days).", id="offset-with-rate"),
        pytest.param("create_maintenance_window", {**GOOD_WINDOW, "ScheduleTimezone": "Korea Standard Time"}, "ValidationException",
                     "ScheduleTimezone Korea Standard Time is not a time zone in IANA format, such as America/Chicago, Europe/Berlin or Asia/Tokyo.",
                     id="not-an-iana-zone"),
        pytest.param("create_maintenance_window", {**GOOD_WINDOW, "Schedule": "cron(0 2 * * SUN *)"}, "ValidationException",
                     "Schedule cron(0 2 * * SUN *) is not a valid schedule expression: exactly one of day-of-month and day-of-week must be ?.",
                     id="both-day-fields"),
        pytest.param("get_maintenance_window", {"WindowId": "mw-123"}, "ValidationException",
                     "2 validation errors detected: "
                     "Value 'mw-123' at 'windowId' failed to satisfy constraint: Member must have length greater than or equal to 20; "
                     "Value 'mw-123' at 'windowId' failed to satisfy constraint: Member must satisfy regular expression pattern: ^mw-[0-9a-f]{17}$",
                     id="malformed-window-id"),
        # The service's words, quoted in aws-samples/aws-security-reference-architecture-examples#288.
        pytest.param("get_maintenance_window", {"WindowId": UNKNOWN_WINDOW}, "DoesNotExistException",
                     f"Maintenance window {UNKNOWN_WINDOW} does not exist", id="unknown-window"),
        pytest.param("update_maintenance_window", {"WindowId": "{window}", "Cutoff": 4}, "ValidationException",
                     "Cutoff was 4 but must be smaller than 3 (Duration - 1 )", id="update-checks-the-window-it-leaves"),
        pytest.param("update_maintenance_window", {"WindowId": "{window}", "Replace": True, "Name": "Refusals"}, "ValidationException",
                     "4 validation errors detected: Value null at 'schedule' failed to satisfy constraint: Member must not be null; "
                     "Value null at 'duration' failed to satisfy constraint: Member must not be null; "
                     "Value null at 'cutoff' failed to satisfy constraint: Member must not be null; "
                     "Value null at 'allowUnassociatedTargets' failed to satisfy constraint: Member must not be null",
                     id="replace-needs-every-required-field"),
        pytest.param("describe_maintenance_windows", {"Filters": [{"Key": "Owner", "Values": ["me"]}]}, "ValidationException",
                     "1 validation error detected: Value 'Owner' at 'filters.1.member.key' failed to satisfy constraint: "
                     "Member must satisfy enum value set: [Name, Enabled]", id="unknown-filter"),
        pytest.param("register_target_with_maintenance_window",
                     {"WindowId": "{window}", "ResourceType": "INSTANCE", "Targets": [{"Key": "tag:Environment", "Values": ["Prod"]}, {"Key": "Role", "Values": ["Web"]}]},
                     "ValidationException", TARGET_FORMATS, id="target-key-that-is-no-tag"),
        pytest.param("register_target_with_maintenance_window",
                     {"WindowId": "{window}", "ResourceType": "INSTANCES", "Targets": [{"Key": "tag:Patch Group", "Values": ["Production"]}]},
                     "ValidationException", "1 validation error detected: Value 'INSTANCES' at 'resourceType' failed to satisfy constraint: "
                     "Member must satisfy enum value set: [INSTANCE, RESOURCE_GROUP]", id="resource-type"),
        pytest.param("register_task_with_maintenance_window",
                     {"WindowId": "{window}", "TaskArn": "AWS-RunPatchBaseline", "TaskType": "RUN_COMMAND", "MaxConcurrency": "0", "MaxErrors": "1",
                      "Targets": [{"Key": "tag:Patch Group", "Values": ["Production"]}]},
                     "ValidationException", "1 validation error detected: Value '0' at 'maxConcurrency' failed to satisfy constraint: "
                     "Member must satisfy regular expression pattern: ^([1-9][0-9]*|[1-9][0-9]%|[1-9]%|100%)$", id="max-concurrency-0"),
        pytest.param("register_task_with_maintenance_window",
                     {"WindowId": "{window}", "TaskArn": "AWS-RunPatchBaseline", "TaskType": "RUN_COMMAND", "MaxConcurrency": "1", "MaxErrors": "1",
                      "Targets": [{"Key": "tag:Patch Group", "Values": ["Production"]}]},
                     "ValidationException", f"tag:Patch Group is an invalid window task target type, use WindowTargetIds or InstanceIds. {TASK_TARGETS}",
                     id="task-targets-a-tag"),
        pytest.param("get_maintenance_window_task", {"WindowId": "{window}", "WindowTaskId": UNKNOWN_TASK}, "DoesNotExistException",
                     f"Maintenance window task {UNKNOWN_TASK} does not exist", id="unknown-task"),
    ],
)
def test_requests_ssm_refuses_get_its_code_and_whole_message(unchecked_ssm, refusal_window, action, arguments, code, message):
    arguments = {key: refusal_window if value == "{window}" else value for key, value in arguments.items()}
    with pytest.raises(ClientError) as refused:
        getattr(unchecked_ssm, action)(**arguments)
    assert (refused.value.response["Error"]["Code"], refused.value.response["Error"]["Message"]) == (code, message)


def test_nothing_is_left_behind_by_a_refused_create(ssm):
    with pytest.raises(ClientError):
        ssm.create_maintenance_window(**{**GOOD_WINDOW, "Name": "Never-Created", "Cutoff": 4})
    assert ssm.describe_maintenance_windows(Filters=[{"Key": "Name", "Values": ["Never-Created"]}])["WindowIdentities"] == []


# ---- through boto3: what the answers say --------------------------------------------------------------


def test_next_execution_time_follows_the_schedule_its_time_zone_and_offset(ssm):
    window = {"Schedule": "cron(0 23 ? * TUE#2 *)", "ScheduleTimezone": "America/Chicago", "ScheduleOffset": 1}
    before = datetime.now(UTC)
    window_id = ssm.create_maintenance_window(Name="Second-Tuesday-Chicago", Duration=3, Cutoff=0, AllowUnassociatedTargets=False,
                                              Description="Patch Wednesday", StartDate="2026-01-01T00:00:00-06:00",
                                              EndDate="2099-12-31T00:00:00-06:00", **window)["WindowId"]
    answer = ssm.get_maintenance_window(WindowId=window_id)
    after = datetime.now(UTC)
    options = {"zone": "America/Chicago", "offset": 1, "start": "2026-01-01T00:00:00-06:00", "end": "2099-12-31T00:00:00-06:00"}
    assert answer["NextExecutionTime"] in expected_opening(window["Schedule"], before, after, **options)
    assert {k: answer[k] for k in ("ScheduleTimezone", "ScheduleOffset", "StartDate", "EndDate", "Description")} == {
        "ScheduleTimezone": "America/Chicago", "ScheduleOffset": 1, "StartDate": "2026-01-01T00:00:00-06:00",
        "EndDate": "2099-12-31T00:00:00-06:00", "Description": "Patch Wednesday"}


def test_a_rate_window_opens_one_interval_after_it_was_created(ssm):
    window_id = ssm.create_maintenance_window(Name="Every-Week", Schedule="rate(7 days)", Duration=2, Cutoff=1, AllowUnassociatedTargets=False)["WindowId"]
    answer = ssm.get_maintenance_window(WindowId=window_id)
    created = answer["CreatedDate"].astimezone(UTC)
    assert answer["NextExecutionTime"] == (created + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%S.") + f"{created.microsecond // 1000:03d}Z"


def test_a_window_past_its_end_date_has_no_next_execution_time(ssm):
    # moto's own suite creates this window; real answers leave NextExecutionTime out once EndDate has passed.
    window_id = ssm.create_maintenance_window(Name="Ended-Window", Schedule="cron(15 12 * * ? *)", ScheduleTimezone="Europe/London",
                                              ScheduleOffset=1, Duration=5, Cutoff=4, AllowUnassociatedTargets=False,
                                              StartDate="2021-11-01", EndDate="2021-12-31")["WindowId"]
    answer = ssm.get_maintenance_window(WindowId=window_id)
    assert ("NextExecutionTime" in answer, answer["StartDate"], answer["EndDate"], answer["Enabled"]) == (False, "2021-11-01", "2021-12-31", True)


def test_describe_maintenance_windows_pages_and_filters_by_name_prefix_and_enabled(ssm):
    ids = [ssm.create_maintenance_window(Name=f"Paged-Window-{n:02d}", Schedule="cron(0 3 ? * SAT *)", Duration=2, Cutoff=0,
                                         AllowUnassociatedTargets=False)["WindowId"] for n in range(12)]
    ssm.update_maintenance_window(WindowId=ids[3], Enabled=False)
    by_prefix = [{"Key": "Name", "Values": ["Paged-Window-"]}]
    first = ssm.describe_maintenance_windows(Filters=by_prefix)
    second = ssm.describe_maintenance_windows(Filters=by_prefix, NextToken=first["NextToken"])
    every = [w["WindowId"] for page in ssm.get_paginator("describe_maintenance_windows").paginate(Filters=by_prefix) for w in page["WindowIdentities"]]
    disabled = ssm.describe_maintenance_windows(Filters=by_prefix + [{"Key": "Enabled", "Values": ["false"]}])["WindowIdentities"]
    enabled = ssm.describe_maintenance_windows(Filters=by_prefix + [{"Key": "Enabled", "Values": ["true"]}], MaxResults=100)["WindowIdentities"]
    assert ([w["WindowId"] for w in first["WindowIdentities"]], [w["WindowId"] for w in second["WindowIdentities"]], "NextToken" in second) == (
        ids[:10], ids[10:], False)
    assert (every, [w["WindowId"] for w in disabled], [w["WindowId"] for w in enabled]) == (ids, [ids[3]], ids[:3] + ids[4:])


def test_update_with_replace_clears_the_optional_fields_it_does_not_name(ssm):
    window_id = ssm.create_maintenance_window(Name="Replace-Me", Schedule="cron(0 2 ? * SUN *)", Duration=4, Cutoff=1, AllowUnassociatedTargets=True,
                                              Description="old", ScheduleTimezone="Asia/Seoul", ScheduleOffset=1, EndDate="2099-01-01")["WindowId"]
    updated = ssm.update_maintenance_window(WindowId=window_id, Replace=True, Name="Replaced", Schedule="rate(1 day)", Duration=3, Cutoff=0,
                                            AllowUnassociatedTargets=False)
    kept = ssm.update_maintenance_window(WindowId=window_id, Description="new")
    updated.pop("ResponseMetadata"), kept.pop("ResponseMetadata")
    replaced = {"WindowId": window_id, "Name": "Replaced", "Schedule": "rate(1 day)", "Duration": 3, "Cutoff": 0,
                "AllowUnassociatedTargets": False, "Enabled": True}
    assert (updated, kept) == (replaced, {**replaced, "Description": "new"})


def test_targets_and_tasks_are_filtered_deregistered_and_guarded_as_ssm_does(ssm):
    window_id = ssm.create_maintenance_window(Name="Register-Things", Schedule="cron(0 2 ? * SUN *)", Duration=4, Cutoff=1,
                                              AllowUnassociatedTargets=False, Tags=[{"Key": "Team", "Value": "Ops"}])["WindowId"]
    production = ssm.register_target_with_maintenance_window(WindowId=window_id, ResourceType="INSTANCE", OwnerInformation="CostCenter1",
                                                             Targets=[{"Key": "tag:Patch Group", "Values": ["Production"]}])["WindowTargetId"]
    staging = ssm.register_target_with_maintenance_window(WindowId=window_id, ResourceType="INSTANCE",
                                                          Targets=[{"Key": "tag:Patch Group", "Values": ["Staging"]}])["WindowTargetId"]
    task = ssm.register_task_with_maintenance_window(WindowId=window_id, TaskArn="AWS-RunPatchBaseline", TaskType="RUN_COMMAND", Priority=1,
                                                     ServiceRoleArn="arn:aws:iam::123456789012:role/MaintenanceWindows", CutoffBehavior="CANCEL_TASK",
                                                     Targets=[{"Key": "WindowTargetIds", "Values": [production]}], MaxConcurrency="1", MaxErrors="0")["WindowTaskId"]
    owned = ssm.describe_maintenance_window_targets(WindowId=window_id, Filters=[{"Key": "OwnerInformation", "Values": ["CostCenter1"]}])["Targets"]
    first_priority = ssm.describe_maintenance_window_tasks(WindowId=window_id, Filters=[{"Key": "Priority", "Values": ["1"]},
                                                                                        {"Key": "TaskType", "Values": ["RUN_COMMAND"]}])["Tasks"]
    with pytest.raises(ClientError) as in_use:
        ssm.deregister_target_from_maintenance_window(WindowId=window_id, WindowTargetId=production, Safe=True)
    gone = ssm.deregister_target_from_maintenance_window(WindowId=window_id, WindowTargetId=staging, Safe=True)
    removed = ssm.deregister_task_from_maintenance_window(WindowId=window_id, WindowTaskId=task)
    freed = ssm.deregister_target_from_maintenance_window(WindowId=window_id, WindowTargetId=production, Safe=True)
    deleted = ssm.delete_maintenance_window(WindowId=window_id)
    with pytest.raises(ClientError) as after_delete:
        ssm.get_maintenance_window(WindowId=window_id)
    assert ([t["WindowTargetId"] for t in owned], [(t["WindowTaskId"], t["ServiceRoleArn"], t["CutoffBehavior"]) for t in first_priority]) == (
        [production], [(task, "arn:aws:iam::123456789012:role/MaintenanceWindows", "CANCEL_TASK")])
    assert (in_use.value.response["Error"]["Code"], in_use.value.response["Error"]["Message"]) == (
        "TargetInUseException", f"Maintenance window target {production} is used by task {task}.")
    assert [{k: v for k, v in answer.items() if k != "ResponseMetadata"} for answer in (gone, removed, freed, deleted)] == [
        {"WindowId": window_id, "WindowTargetId": staging}, {"WindowId": window_id, "WindowTaskId": task},
        {"WindowId": window_id, "WindowTargetId": production}, {"WindowId": window_id}]
    assert after_delete.value.response["Error"]["Message"] == f"Maintenance window {window_id} does not exist"


def test_tags_given_at_creation_are_the_windows_tags(ssm):
    window_id = ssm.create_maintenance_window(Name="Tagged-Window", Schedule="cron(0 2 ? * SUN *)", Duration=4, Cutoff=1,
                                              AllowUnassociatedTargets=False, Tags=[{"Key": "Purpose", "Value": "Tutorial"}])["WindowId"]
    assert ssm.list_tags_for_resource(ResourceType="MaintenanceWindow", ResourceId=window_id)["TagList"] == [{"Key": "Purpose", "Value": "Tutorial"}]
