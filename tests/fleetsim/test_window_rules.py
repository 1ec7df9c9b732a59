"""What SSM refuses in maintenance window requests, table by table: window settings, targets, tasks.

The oracle: the User Guide, botocore's model and the service's words quoted in public reports
(fleetsim/FIDELITY.md, "Maintenance windows", names each). Pure: no server.
"""
from __future__ import annotations

import pytest

from fleetsim.window_rules import (
    TARGET_FORMATS,
    TASK_TARGETS,
    WindowSettings,
    window_settings_problem,
    window_target_problem,
    window_task_problem,
)


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        pytest.param(WindowSettings("cron(0 2 ? * SUN *)", 4, 1), None, id="the-corrected-seed-window"),
        pytest.param(WindowSettings("cron(0 2 ? * SUN *)", 2, 1), None, id="cutoff-one-below-duration"),
        # The service's words, quoted in awsdocs/aws-cloudformation-user-guide#891.
        pytest.param(WindowSettings("cron(0 2 ? * SUN *)", 6, 12), "Cutoff was 12 but must be smaller than 5 (Duration - 1 )", id="cutoff-12-duration-6"),
        pytest.param(WindowSettings("cron(0 2 ? * SUN *)", 4, 4), "Cutoff was 4 but must be smaller than 3 (Duration - 1 )", id="cutoff-equal-to-duration"),
        pytest.param(WindowSettings("cron(0 2 * * * *)", 4, 1),
                     "Schedule cron(0 2 * * * *) is not a valid schedule expression: exactly one of day-of-month and day-of-week must be ?.",
                     id="bad-schedule"),
        pytest.param(WindowSettings("cron(0 2 ? * SUN *)", 4, 1, schedule_timezone="Mars/Olympus_Mons"),
                     "ScheduleTimezone Mars/Olympus_Mons is not a time zone in IANA format, such as America/Chicago, Europe/Berlin or Asia/Tokyo.",
                     id="unknown-time-zone"),
        pytest.param(WindowSettings("rate(7 days)", 4, 1, schedule_offset=2),
                     "ScheduleOffset can only be used with a cron expression, and the schedule is rate(7 days).", id="offset-with-rate"),
        pytest.param(WindowSettings("cron(0 2 ? * SUN *)", 4, 1, start_date="next monday"),
                     "StartDate 'next monday' is not an ISO-8601 date and time, such as 2021-04-07T14:29:00-08:00.", id="start-date-not-iso"),
        pytest.param(WindowSettings("cron(0 2 ? * SUN *)", 4, 1, start_date="2027-01-01", end_date="2026-12-31"),
                     "EndDate 2026-12-31 must be later than StartDate 2027-01-01.", id="ends-before-it-starts"),
        pytest.param(WindowSettings("cron(0 2 ? * SUN *)", 4, 1, end_date="2021-12-31"), None, id="a-past-end-date-is-taken"),
    ],
)
def test_window_settings_problem(settings, problem):
    assert window_settings_problem(settings) == problem


@pytest.mark.parametrize(
    ("resource_type", "targets", "problem"),
    [
        pytest.param("INSTANCE", [{"Key": "tag:Patch Group", "Values": ["Production"]}], None, id="by-patch-group"),
        pytest.param("INSTANCE", [{"Key": "InstanceIds", "Values": ["i-0000293ffd8c57862", "i-0cb2b964d3e14fd9f"]}], None, id="instance-ids"),
        pytest.param("INSTANCE", [{"Key": "tag-key", "Values": ["Name", "Instance-Type", "CostCenter"]}], None, id="tag-keys"),
        # The register-target CLI example 3 pairs tag:Environment with Key=Role; the service's own message allows no such key.
        pytest.param("INSTANCE", [{"Key": "tag:Environment", "Values": ["Prod"]}, {"Key": "Role", "Values": ["Web"]}], TARGET_FORMATS,
                     id="a-key-that-is-no-tag"),
        pytest.param("INSTANCE", [{"Key": "instanceids", "Values": ["i-0000293ffd8c57862"]}], TARGET_FORMATS, id="instance-ids-in-lower-case"),
        pytest.param("INSTANCE", [{"Key": "InstanceIds", "Values": ["i-0000293ffd8c57862"]}, {"Key": "tag:Env", "Values": ["Prod"]}],
                     TARGET_FORMATS, id="instance-ids-and-tags"),
        pytest.param("INSTANCE", [{"Key": "tag:Env", "Values": ["a", "b", "c", "d", "e", "f"]}], TARGET_FORMATS, id="six-tag-values"),
        # Quoted in jparnaudeau/terraform-aws-ssm-patch-management#14.
        pytest.param("INSTANCE", [{"Key": "tag:Patch Group", "Values": []}],
                     "Please specify at least one target.  Filter values can't be null and tag:Patch Group is.", id="no-values"),
        pytest.param("RESOURCE_GROUP", [{"Key": "resource-groups:Name", "Values": ["MyResourceGroup"]}], None, id="resource-group"),
        pytest.param("RESOURCE_GROUP", [{"Key": "tag:Env", "Values": ["Prod"]}],
                     "A RESOURCE_GROUP target is one Key=resource-groups:Name target with the group's name, "
                     "optionally with a Key=resource-groups:ResourceTypeFilters target.", id="resource-group-by-tag"),
    ],
)
def test_window_target_problem(resource_type, targets, problem):
    assert window_target_problem(resource_type, targets) == problem


TARGET_ID = "e32eecb2-646c-4f4b-8ed1-205fbe000001"


@pytest.mark.parametrize(
    ("request_fields", "problem"),
    [
        pytest.param({"TaskType": "RUN_COMMAND", "Targets": [{"Key": "WindowTargetIds", "Values": [TARGET_ID]}], "MaxConcurrency": "1",
                      "MaxErrors": "1"}, None, id="by-window-target"),
        # Quoted in terraform-linters/tflint-ruleset-aws#524.
        pytest.param({"TaskType": "RUN_COMMAND", "Targets": [{"Key": "target-ks-scan-patch", "Values": [TARGET_ID]}]},
                     ("ValidationException", f"target-ks-scan-patch is an invalid window task target type, use WindowTargetIds or InstanceIds. {TASK_TARGETS}"),
                     id="neither-window-targets-nor-instances"),
        pytest.param({"TaskType": "RUN_COMMAND"}, ("ValidationException", TASK_TARGETS), id="run-command-without-targets"),
        pytest.param({"TaskType": "AUTOMATION"}, None, id="automation-without-targets"),
        # Quoted in hashicorp/terraform-provider-aws#18372.
        pytest.param({"TaskType": "RUN_COMMAND", "Targets": [{"Key": "WindowTargetIds", "Values": [TARGET_ID] * 11}]},
                     ("ValidationException", "The maximum number of window targets is 10"), id="eleven-window-targets"),
        pytest.param({"TaskType": "RUN_COMMAND", "Targets": [{"Key": "WindowTargetIds", "Values": ["e32eecb2-646c-4f4b-8ed1-205fbe000002"]}]},
                     ("DoesNotExistException", "Maintenance window target e32eecb2-646c-4f4b-8ed1-205fbe000002 does not exist in this maintenance window"),
                     id="a-target-of-another-window"),
        pytest.param({"TaskType": "RUN_COMMAND", "Targets": [{"Key": "WindowTargetIds", "Values": [TARGET_ID]}]},
                     ("ValidationException", "MaxConcurrency and MaxErrors are required for a task with targets."), id="no-rate-control"),
    ],
)
def test_window_task_problem(request_fields, problem):
    assert window_task_problem(request_fields, {TARGET_ID}) == problem
