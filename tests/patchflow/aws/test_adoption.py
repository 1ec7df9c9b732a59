"""The boto3 shell of `patchflow import` against fleetsim: every page of the account read, the right calls made, the tag written."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from fleetsim.testing import fleetsim_fixture
from patchflow.aws.adoption import read_setup, tag_adopted
from patchflow.aws.baseline_sync import read_actual_state
from patchflow.core.adoption import ImportOptions, adopt

pytestmark = pytest.mark.fleetsim

adoption_fleet = fleetsim_fixture({"groups": [{"name": "production", "count": 1, "platform": "WINDOWS", "tags": {"Patch Group": "Production"}}]},
                                  seed=3)

INSTALL = {"RunCommand": {"TimeoutSeconds": 600, "Parameters": {"Operation": ["Install"], "RebootOption": ["NoReboot"]}}}
SEED_RULES = {"PatchRules": [{"PatchFilterGroup": {"PatchFilters": [
    {"Key": "PRODUCT", "Values": ["WindowsServer2016"]}, {"Key": "CLASSIFICATION", "Values": ["CriticalUpdates", "SecurityUpdates"]}]},
    "ApproveAfterDays": 7}]}


def build_account(ssm) -> dict:
    """The seed's baseline for Production, a patch window, a window running a Lambda, and ten empty windows (two pages of windows)."""
    baseline_id = ssm.create_patch_baseline(Name="MyCustomPatchBaseline", OperatingSystem="WINDOWS", ApprovalRules=SEED_RULES)["BaselineId"]
    ssm.register_patch_baseline_for_patch_group(BaselineId=baseline_id, PatchGroup="Production")
    patch = ssm.create_maintenance_window(Name="Weekly-Patch-Window", Schedule="cron(0 2 ? * SUN *)", Duration=4, Cutoff=1,
                                          AllowUnassociatedTargets=True)["WindowId"]
    target = ssm.register_target_with_maintenance_window(WindowId=patch, ResourceType="INSTANCE",
                                                         Targets=[{"Key": "tag:Patch Group", "Values": ["Production"]}])["WindowTargetId"]
    task = ssm.register_task_with_maintenance_window(
        WindowId=patch, Targets=[{"Key": "WindowTargetIds", "Values": [target]}], TaskArn="AWS-RunPatchBaseline", TaskType="RUN_COMMAND",
        MaxConcurrency="50%", MaxErrors="1", Name="Patch-Production", TaskInvocationParameters=INSTALL)["WindowTaskId"]
    lambda_window = ssm.create_maintenance_window(Name="Cleanup-Window", Schedule="cron(0 3 ? * SAT *)", Duration=2, Cutoff=0,
                                                  AllowUnassociatedTargets=True)["WindowId"]
    lambda_task = ssm.register_task_with_maintenance_window(
        WindowId=lambda_window, TaskArn="arn:aws:lambda:us-east-1:123456789012:function:cleanup", TaskType="LAMBDA", Name="Cleanup")["WindowTaskId"]
    for number in range(10):
        ssm.create_maintenance_window(Name=f"Empty-{number:02}", Schedule="cron(0 4 ? * MON *)", Duration=1, Cutoff=0, AllowUnassociatedTargets=True)
    return {"baseline": baseline_id, "patch": patch, "target": target, "task": task, "lambda_window": lambda_window, "lambda_task": lambda_task}


@pytest.fixture(scope="module")
def made(adoption_fleet) -> dict:
    return build_account(adoption_fleet.client("ssm"))


def test_read_setup_reads_every_page_and_only_the_patch_tasks_again(adoption_fleet, made):
    ssm = adoption_fleet.client("ssm")
    adoption_fleet.reset_stats()

    setup = read_setup(ssm)

    # One GetMaintenanceWindow per window; GetMaintenanceWindowTask only for the task running AWS-RunPatchBaseline.
    assert adoption_fleet.api_calls() == {
        "ssm:DescribePatchBaselines": 1, "ssm:GetPatchBaseline": 1, "ssm:DescribePatchGroups": 1,
        "ssm:DescribeMaintenanceWindows": 2, "ssm:GetMaintenanceWindow": 12,
        "ssm:DescribeMaintenanceWindowTargets": 12, "ssm:DescribeMaintenanceWindowTasks": 12, "ssm:GetMaintenanceWindowTask": 1,
    }
    assert (sorted(w["Name"] for w in setup.windows), setup.region) == (
        sorted(["Weekly-Patch-Window", "Cleanup-Window", *(f"Empty-{n:02}" for n in range(10))]), "us-east-1")
    assert all("CreatedDate" in window and "ResponseMetadata" not in window for window in setup.windows)
    (patch_task,), (lambda_task,) = setup.window_tasks[made["patch"]], setup.window_tasks[made["lambda_window"]]
    assert (patch_task["TaskType"], patch_task["TaskInvocationParameters"]) == ("RUN_COMMAND", INSTALL)
    assert (lambda_task["Type"], "TaskInvocationParameters" in lambda_task) == ("LAMBDA", False)
    assert [t["WindowTargetId"] for t in setup.window_targets[made["patch"]]] == [made["target"]]
    assert list(setup.baseline_documents) == [made["baseline"]]
    assert [(m["PatchGroup"], m["BaselineIdentity"]["BaselineId"]) for m in setup.patch_groups] == [("Production", made["baseline"])]
    assert any(i["BaselineId"].startswith("arn:") and i["DefaultBaseline"] for i in setup.baselines)


def test_what_read_setup_reads_drafts_the_seeds_stage_and_lists_the_lambda(adoption_fleet, made):
    ssm = adoption_fleet.client("ssm")
    adoption = adopt(read_setup(ssm), ImportOptions(), datetime.now(timezone.utc))
    stage = adoption.plan.stage("production")
    assert ((stage.patch_group, stage.max_concurrency, stage.max_errors, stage.reboot_option, stage.timeout_seconds),
            [b.file_name for b in adoption.baselines], [str(item) for item in adoption.unmapped][:2]) == (
        ("Production", "50%", "1", "NoReboot", 600), ["MyCustomPatchBaseline.yaml"],
        [f"window Cleanup-Window ({made['lambda_window']}), task Cleanup ({made['lambda_task']}): "
         "runs LAMBDA arn:aws:lambda:us-east-1:123456789012:function:cleanup, not a RUN_COMMAND of AWS-RunPatchBaseline",
         f"window Cleanup-Window ({made['lambda_window']}): runs no AWS-RunPatchBaseline Install task, so no stage is drafted from it"])


def test_tag_adopted_makes_the_baseline_one_sync_manages(adoption_fleet, made):
    ssm = adoption_fleet.client("ssm")
    before = {b.baseline_id: b.managed for b in read_actual_state(ssm, ["WINDOWS"]).baselines if not b.owned_by_aws}
    reported: list[str] = []
    tag_adopted(ssm, [made["baseline"]], report=reported.append)
    after = read_actual_state(ssm, ["WINDOWS"])
    assert (before, reported) == ({made["baseline"]: False}, [made["baseline"]])
    assert [(b.baseline_id, b.tags, b.managed) for b in after.baselines if not b.owned_by_aws] == [(made["baseline"], {"managed-by": "patchflow"}, True)]
