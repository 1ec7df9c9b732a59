"""Finding the SSM window a stage names, and the tasks it runs: against fleetsim's windows, and call shapes against a fake."""
from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from fleetsim.testing import fleetsim_fixture
from patchflow.aws.maintenance_windows import find_window, window_tasks
from patchflow.core.adoption_tasks import double_patching_warning
from patchflow.core.maintenance_windows import SsmWindowRef

window_fleet = fleetsim_fixture({"groups": [{"name": "one", "count": 1, "platform": "AMAZON_LINUX_2023", "tags": {"Patch Group": "one"}}]})

WEEKLY = {"Name": "Weekly-Patch-Window", "Schedule": "cron(0 2 ? * SUN *)", "ScheduleTimezone": "Europe/Berlin", "Duration": 4, "Cutoff": 1,
          "AllowUnassociatedTargets": True}


@pytest.fixture(scope="module")
def ssm(window_fleet):
    return window_fleet.client("ssm")


@pytest.fixture(scope="module")
def windows(ssm) -> dict[str, str]:
    """Name -> id of the windows these tests read; "Weekly-Patch-Window-Old" starts with the weekly window's name."""
    created = {}
    for name in ("Weekly-Patch-Window", "Weekly-Patch-Window-Old"):
        created[name] = ssm.create_maintenance_window(**{**WEEKLY, "Name": name})["WindowId"]
    created["Twice-1"] = ssm.create_maintenance_window(**{**WEEKLY, "Name": "Twice"})["WindowId"]
    created["Twice-2"] = ssm.create_maintenance_window(**{**WEEKLY, "Name": "Twice"})["WindowId"]
    return created


def got(ssm, window_id: str) -> dict:
    answer = ssm.get_maintenance_window(WindowId=window_id)
    answer.pop("ResponseMetadata")
    return answer


@pytest.mark.parametrize("by", [pytest.param("name", id="by-name"), pytest.param("id", id="by-id")])
def test_a_window_is_found_by_its_exact_name_or_its_id_and_read_whole(ssm, windows, by):
    window_id = windows["Weekly-Patch-Window"]
    found = find_window(ssm, SsmWindowRef("Weekly-Patch-Window" if by == "name" else window_id))
    assert found == got(ssm, window_id)
    assert (found["ScheduleTimezone"], found["Enabled"], "CreatedDate" in found) == ("Europe/Berlin", True, True)


@pytest.mark.parametrize(
    ("name_or_id", "expected"),
    [
        pytest.param("Monthly-Patch-Window", "no maintenance window named Monthly-Patch-Window in us-east-1", id="no-such-name"),
        pytest.param("Weekly-Patch", "no maintenance window named Weekly-Patch in us-east-1", id="a-prefix-is-no-name"),
        pytest.param("mw-0123456789abcdef0", "no maintenance window with id mw-0123456789abcdef0 in us-east-1", id="no-such-id"),
    ],
)
def test_a_window_ssm_does_not_have_is_a_reason(ssm, windows, name_or_id, expected):
    assert find_window(ssm, SsmWindowRef(name_or_id)) == expected


def test_a_name_two_windows_share_is_a_reason_naming_both(ssm, windows):
    ids = ", ".join(sorted((windows["Twice-1"], windows["Twice-2"])))
    assert find_window(ssm, SsmWindowRef("Twice")) == (
        f"2 maintenance windows are named Twice in us-east-1 ({ids}); name the stage's window by its id instead"
    )


def test_a_windows_patch_task_is_read_whole_so_its_operation_is_known(ssm, windows):
    window_id = windows["Weekly-Patch-Window"]
    target = ssm.register_target_with_maintenance_window(WindowId=window_id, ResourceType="INSTANCE",
                                                         Targets=[{"Key": "tag:Patch Group", "Values": ["one"]}])["WindowTargetId"]
    patch = ssm.register_task_with_maintenance_window(
        WindowId=window_id, Name="Install", TaskArn="AWS-RunPatchBaseline", TaskType="RUN_COMMAND", Priority=1, MaxConcurrency="1", MaxErrors="1",
        Targets=[{"Key": "WindowTargetIds", "Values": [target]}],
        TaskInvocationParameters={"RunCommand": {"Parameters": {"Operation": ["Install"], "RebootOption": ["RebootIfNeeded"]}}},
    )["WindowTaskId"]
    shell = ssm.register_task_with_maintenance_window(
        WindowId=window_id, TaskArn="AWS-RunShellScript", TaskType="RUN_COMMAND", Priority=2, MaxConcurrency="1", MaxErrors="1",
        Targets=[{"Key": "WindowTargetIds", "Values": [target]}],
        TaskInvocationParameters={"RunCommand": {"Parameters": {"commands": ["uptime"]}}},
    )["WindowTaskId"]

    tasks = window_tasks(ssm, window_id)

    (described_shell,) = ssm.describe_maintenance_window_tasks(WindowId=window_id, Filters=[{"Key": "WindowTaskId", "Values": [shell]}])["Tasks"]
    whole_patch = ssm.get_maintenance_window_task(WindowId=window_id, WindowTaskId=patch)
    whole_patch.pop("ResponseMetadata")
    assert sorted(tasks, key=lambda task: task["Priority"]) == [whole_patch, described_shell]
    assert "TaskInvocationParameters" not in described_shell  # as SSM's DescribeMaintenanceWindowTasks answers
    assert double_patching_warning(got(ssm, window_id), tasks) == (
        f"maintenance window Weekly-Patch-Window ({window_id}) still runs its own AWS-RunPatchBaseline Install (task Install ({patch})); "
        "it and this stage would both patch the same nodes (deregister the task, or keep patching in SSM only)"
    )


class PagedSsm:
    """DescribeMaintenanceWindows / DescribeMaintenanceWindowTasks answering two pages; records every request."""

    meta = type("Meta", (), {"region_name": "eu-central-1"})()

    def __init__(self, refuse_get: str | None = None):
        self.requests: list[tuple[str, dict]] = []
        self.refuse_get = refuse_get

    def describe_maintenance_windows(self, **request):
        self.requests.append(("DescribeMaintenanceWindows", request))
        if "NextToken" not in request:
            return {"WindowIdentities": [{"WindowId": "mw-0aaaaaaaaaaaaaaaa", "Name": "Weekly-Patch-Window-Old"}], "NextToken": "page-2"}
        return {"WindowIdentities": [{"WindowId": "mw-0bbbbbbbbbbbbbbbb", "Name": "Weekly-Patch-Window"}]}

    def get_maintenance_window(self, **request):
        self.requests.append(("GetMaintenanceWindow", request))
        if self.refuse_get:
            raise ClientError({"Error": {"Code": self.refuse_get, "Message": "User: arn:aws:sts::123456789012:assumed-role/airflow is not authorized "
                                                                           "to perform: ssm:GetMaintenanceWindow"}}, "GetMaintenanceWindow")
        return {"WindowId": request["WindowId"], "Name": "Weekly-Patch-Window", "ResponseMetadata": {"HTTPStatusCode": 200}}

    def describe_maintenance_window_tasks(self, **request):
        self.requests.append(("DescribeMaintenanceWindowTasks", request))
        if "NextToken" not in request:
            return {"Tasks": [{"WindowTaskId": "t-1", "TaskArn": "AWS-RunShellScript", "Type": "RUN_COMMAND"}], "NextToken": "page-2"}
        return {"Tasks": [{"WindowTaskId": "t-2", "TaskArn": "AWS-RunPatchBaseline", "Type": "RUN_COMMAND"}]}

    def get_maintenance_window_task(self, **request):
        self.requests.append(("GetMaintenanceWindowTask", request))
        return {"WindowTaskId": request["WindowTaskId"], "TaskType": "RUN_COMMAND", "ResponseMetadata": {}}


NAME_FILTER = [{"Key": "Name", "Values": ["Weekly-Patch-Window"]}]


def test_every_page_of_windows_is_read_before_a_name_is_decided():
    ssm = PagedSsm()
    assert find_window(ssm, SsmWindowRef("Weekly-Patch-Window")) == {"WindowId": "mw-0bbbbbbbbbbbbbbbb", "Name": "Weekly-Patch-Window"}
    assert ssm.requests == [
        ("DescribeMaintenanceWindows", {"Filters": NAME_FILTER, "MaxResults": 100}),
        ("DescribeMaintenanceWindows", {"Filters": NAME_FILTER, "MaxResults": 100, "NextToken": "page-2"}),
        ("GetMaintenanceWindow", {"WindowId": "mw-0bbbbbbbbbbbbbbbb"}),
    ]


def test_every_page_of_tasks_is_read_and_only_patch_tasks_are_read_whole():
    ssm = PagedSsm()
    assert window_tasks(ssm, "mw-0bbbbbbbbbbbbbbbb") == [
        {"WindowTaskId": "t-1", "TaskArn": "AWS-RunShellScript", "Type": "RUN_COMMAND"}, {"WindowTaskId": "t-2", "TaskType": "RUN_COMMAND"}]
    assert ssm.requests == [
        ("DescribeMaintenanceWindowTasks", {"WindowId": "mw-0bbbbbbbbbbbbbbbb", "MaxResults": 100}),
        ("DescribeMaintenanceWindowTasks", {"WindowId": "mw-0bbbbbbbbbbbbbbbb", "MaxResults": 100, "NextToken": "page-2"}),
        ("GetMaintenanceWindowTask", {"WindowId": "mw-0bbbbbbbbbbbbbbbb", "WindowTaskId": "t-2"}),
    ]


@pytest.mark.parametrize("ref", [pytest.param("Weekly-Patch-Window", id="by-name"), pytest.param("mw-0bbbbbbbbbbbbbbbb", id="by-id")])
def test_ssm_refusing_to_answer_is_a_reason(ref):
    assert find_window(PagedSsm(refuse_get="AccessDeniedException"), SsmWindowRef(ref)) == (
        f"SSM refused to read maintenance window {ref} in eu-central-1: AccessDeniedException: "
        "User: arn:aws:sts::123456789012:assumed-role/airflow is not authorized to perform: ssm:GetMaintenanceWindow"
    )
