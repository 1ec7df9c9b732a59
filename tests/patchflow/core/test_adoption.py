"""Adopting an existing Patch Manager setup: SSM's answers in, a draft plan and baseline files out.

Inputs are shaped exactly as boto3 answers (the AWS CLI examples of get-maintenance-window,
describe-maintenance-window-targets, get-maintenance-window-task, describe-patch-baselines,
get-patch-baseline and describe-patch-groups). The draft plan must load with the project's own
loader and pass lint; test_adoption_baselines.py holds the baseline files' side.
"""
from __future__ import annotations

import copy
from datetime import datetime, timezone
from pathlib import Path

import pytest

from patchflow.cli.lint import lint
from patchflow.core.adoption import ImportOptions, PatchManagerSetup, adopt, stage_name_for
from patchflow.core.adoption_tasks import double_patching_warning
from patchflow.core.aws_schedules import parse_schedule
from patchflow.core.errors import InvalidInput
from patchflow.core.maintenance_windows import MaintenanceWindow, SsmWindowRef, window_from_ssm
from patchflow.core.plan import load_plan

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=timezone.utc)  # a Monday
REGION = "us-east-1"
SERVICE_ROLE = "arn:aws:iam::111222333444:role/aws-service-role/ssm.amazonaws.com/AWSServiceRoleForAmazonSSM"

WEEKLY, DEV, STAGING = "mw-0123456789abcdef0", "mw-0d0d0d0d0d0d0d0d0", "mw-05050505050505050"
WEEKLY_TARGET, DEV_TARGET, STAGING_TARGET = (
    "350d44e6-28cc-44e2-951f-4b2c9e0a0001", "350d44e6-28cc-44e2-951f-4b2c9e0a0002", "350d44e6-28cc-44e2-951f-4b2c9e0a0003")
WEEKLY_TASK, DEV_TASK, STAGING_TASK = (
    "0e842a8d-2d44-4886-bb62-af8dc0000001", "0e842a8d-2d44-4886-bb62-af8dc0000002", "0e842a8d-2d44-4886-bb62-af8dc0000003")


# --------------------------------------------------------------------------- SSM's answers


def window(name: str, window_id: str, schedule: str, **fields) -> dict:
    """A GetMaintenanceWindow answer (fields of the AWS CLI example)."""
    answer = {
        "AllowUnassociatedTargets": True, "CreatedDate": 1515006912.957, "Cutoff": 1, "Duration": 4, "Enabled": True,
        "ModifiedDate": "2020-01-01T10:04:04.099Z", "Name": name, "Schedule": schedule, "WindowId": window_id,
    }
    answer.update(fields)
    return {key: value for key, value in answer.items() if value is not None}


def target(window_id: str, target_id: str, *targets: tuple[str, list[str]], resource_type: str = "INSTANCE", name: str | None = None) -> dict:
    """An item of DescribeMaintenanceWindowTargets' Targets."""
    item = {"ResourceType": resource_type, "WindowId": window_id, "Targets": [{"Key": key, "Values": values} for key, values in targets],
            "WindowTargetId": target_id}
    if name:
        item["Name"] = name
    return item


def task(window_id: str, task_id: str, name: str, target_ids: list[str], parameters: dict | None = None, **fields) -> dict:
    """A GetMaintenanceWindowTask answer for a Run Command task (fields of the AWS CLI example)."""
    answer = {
        "ServiceRoleArn": SERVICE_ROLE, "MaxErrors": "1", "TaskArn": "AWS-RunPatchBaseline", "MaxConcurrency": "10%",
        "WindowTaskId": task_id, "TaskParameters": {}, "Priority": 1,
        "TaskInvocationParameters": {"RunCommand": {"Comment": "", "TimeoutSeconds": 600, "Parameters": parameters or {
            "Operation": ["Install"], "RebootOption": ["RebootIfNeeded"]}}},
        "WindowId": window_id, "TaskType": "RUN_COMMAND", "Targets": [{"Values": target_ids, "Key": "WindowTargetIds"}], "Name": name,
    }
    answer.update(fields)
    return {key: value for key, value in answer.items() if value is not None}


AWS_WINDOWS_DEFAULT = {
    "BaselineName": "AWS-DefaultPatchBaseline", "DefaultBaseline": True, "BaselineDescription": "Default Patch Baseline Provided by AWS.",
    "BaselineId": "arn:aws:ssm:us-east-1:733109147000:patchbaseline/pb-020d361a05defe4ed", "OperatingSystem": "WINDOWS",
}
AWS_UBUNTU_DEFAULT = {
    "BaselineName": "AWS-UbuntuDefaultPatchBaseline", "DefaultBaseline": True, "BaselineDescription": "Default Patch Baseline for Ubuntu Provided by AWS.",
    "BaselineId": "arn:aws:ssm:us-east-1:733109147000:patchbaseline/pb-09ca3fb51f0412ec3", "OperatingSystem": "UBUNTU",
}


def baseline_answer(baseline_id: str, name: str, operating_system: str, rules: list[dict], patch_groups: list[str], **fields) -> dict:
    """A GetPatchBaseline answer (fields of the AWS CLI example)."""
    answer = {
        "BaselineId": baseline_id, "Name": name, "OperatingSystem": operating_system, "GlobalFilters": {"PatchFilters": []},
        "ApprovalRules": {"PatchRules": rules}, "ApprovedPatches": [], "ApprovedPatchesComplianceLevel": "UNSPECIFIED",
        "ApprovedPatchesEnableNonSecurity": False, "RejectedPatches": [], "RejectedPatchesAction": "ALLOW_AS_DEPENDENCY",
        "PatchGroups": patch_groups, "CreatedDate": 1550244180.465, "ModifiedDate": 1550244180.465, "Sources": [],
    }
    answer.update(fields)
    return answer


def rule(*filters: tuple[str, list[str]], **fields) -> dict:
    return {"PatchFilterGroup": {"PatchFilters": [{"Key": key, "Values": values} for key, values in filters]},
            "ComplianceLevel": "UNSPECIFIED", "EnableNonSecurity": False, **fields}


def identity(answer: dict, default: bool = False) -> dict:
    """The DescribePatchBaselines item of a baseline."""
    return {"BaselineName": answer["Name"], "DefaultBaseline": default, "BaselineId": answer["BaselineId"], "OperatingSystem": answer["OperatingSystem"]}


# The seed's baseline, as `create-patch-baseline` made it and `get-patch-baseline` shows it.
SEED_BASELINE = baseline_answer(
    "pb-0123456789abcdef0", "MyCustomPatchBaseline", "WINDOWS",
    [rule(("PRODUCT", ["WindowsServer2016"]), ("CLASSIFICATION", ["CriticalUpdates", "SecurityUpdates"]), ApproveAfterDays=7)], [],
)


def seed_setup() -> PatchManagerSetup:
    """The seed: Weekly-Patch-Window (corrected to --duration 4 --cutoff 1), targets by tag:Patch Group=Production, one Install task."""
    return PatchManagerSetup(
        windows=[window("Weekly-Patch-Window", WEEKLY, "cron(0 2 ? * SUN *)")],
        window_targets={WEEKLY: [target(WEEKLY, WEEKLY_TARGET, ("tag:Patch Group", ["Production"]), name="Production-Servers")]},
        window_tasks={WEEKLY: [task(WEEKLY, WEEKLY_TASK, "Patch-Production", [WEEKLY_TARGET])]},
        baselines=[AWS_WINDOWS_DEFAULT, identity(SEED_BASELINE)],
        baseline_documents={SEED_BASELINE["BaselineId"]: SEED_BASELINE},
        region=REGION,
    )


SEED_PLAN = """\
# yaml-language-server: $schema=../schemas/rollout-plan.schema.json
# Drafted by `patchflow import` from the Patch Manager maintenance windows in us-east-1.
# Stages and where each came from:
#   production: patch group Production, from window Weekly-Patch-Window (mw-0123456789abcdef0),
#     task Patch-Production (0e842a8d-2d44-4886-bb62-af8dc0000001), window targets 350d44e6-28cc-44e2-951f-4b2c9e0a0001
# Order: by each window's next opening (give --order to choose another).
# Windows kept in SSM (ssm_window): each stage waits for its window's next opening, read from SSM when a run starts.
# SSM still runs each window's own AWS-RunPatchBaseline task: deregister it once this plan patches the group,
# or both patch the same nodes.
# Everything found was mapped.
# Review the owner, approvals and gates before the first run.
name: imported
description: Drafted from the Patch Manager maintenance windows in us-east-1
owner: release-engineering
stages:
  - name: production
    patch_group: Production
    max_concurrency: 10%
    max_errors: '1'
    reboot_option: RebootIfNeeded
    timeout_seconds: 600
    gate: {max_failed: '1'}
    window: {ssm_window: Weekly-Patch-Window}
"""

SEED_BASELINE_FILE = """\
# yaml-language-server: $schema=../schemas/baseline.schema.json
# Imported from SSM patch baseline pb-0123456789abcdef0. From here on this file is the baseline:
# `patchflow sync` makes SSM match it (it updates the baselines tagged managed-by=patchflow).
name: MyCustomPatchBaseline
operating_system: WINDOWS
approval_rules:
  - patch_filters:
      PRODUCT: [WindowsServer2016]
      CLASSIFICATION: [CriticalUpdates, SecurityUpdates]
    approve_after_days: 7
    compliance_level: UNSPECIFIED
"""


def written(tmp_path: Path, adoption) -> tuple[Path, Path]:
    """The drafts where `import` writes them: include/rollouts and include/baselines."""
    rollouts, baselines = tmp_path / "include" / "rollouts", tmp_path / "include" / "baselines"
    rollouts.mkdir(parents=True)
    baselines.mkdir(parents=True)
    if adoption.plan_text is not None:
        (rollouts / adoption.plan_file).write_text(adoption.plan_text, encoding="utf-8")
    for baseline in adoption.baselines:
        (baselines / baseline.file_name).write_text(baseline.text, encoding="utf-8")
    return rollouts, baselines


# --------------------------------------------------------------------------- the seed


def test_the_seeds_setup_becomes_one_stage_and_one_baseline_file():
    adoption = adopt(seed_setup(), ImportOptions(), NOW)
    assert (adoption.plan_file, adoption.plan_text, [(b.file_name, b.text) for b in adoption.baselines], adoption.predefined, adoption.unmapped) == (
        "imported.yaml", SEED_PLAN, [("MyCustomPatchBaseline.yaml", SEED_BASELINE_FILE)], (), ())


def test_the_seeds_drafts_load_and_pass_lint(tmp_path):
    rollouts, baselines = written(tmp_path, adopt(seed_setup(), ImportOptions(), NOW))
    plan = load_plan(rollouts / "imported.yaml")
    stage = plan.stage("production")
    assert (plan.stage_names, stage.patch_group, stage.window, stage.max_concurrency, stage.max_errors, str(stage.gate.max_failed), stage.pin_to) == (
        ("production",), "Production", SsmWindowRef("Weekly-Patch-Window"), "10%", "1", "1", None)
    result = lint([rollouts, baselines])
    assert (result.problems, len(result.plans), [b.name for b in result.baselines]) == ([], 1, ["MyCustomPatchBaseline"])


# --------------------------------------------------------------------------- three windows


def three_windows(**production_fields) -> PatchManagerSetup:
    """Dev on Tuesdays, Staging on Wednesdays, Production on Sundays in Seoul; one Install task each."""
    return PatchManagerSetup(
        windows=[
            window("Production-Window", WEEKLY, "cron(0 2 ? * SUN *)", ScheduleTimezone="Asia/Seoul", Duration=6, Cutoff=2, **production_fields),
            window("Staging-Window", STAGING, "cron(0 2 ? * WED *)"),
            window("Dev-Window", DEV, "cron(0 2 ? * TUE *)", Duration=3, Cutoff=0),
        ],
        window_targets={
            WEEKLY: [target(WEEKLY, WEEKLY_TARGET, ("tag:Patch Group", ["Production"]))],
            STAGING: [target(STAGING, STAGING_TARGET, ("tag:PatchGroup", ["Staging"]))],
            DEV: [target(DEV, DEV_TARGET, ("tag:Patch Group", ["Dev"]))],
        },
        window_tasks={
            WEEKLY: [task(WEEKLY, WEEKLY_TASK, "Patch-Production", [WEEKLY_TARGET], MaxConcurrency="1", MaxErrors="0")],
            STAGING: [task(STAGING, STAGING_TASK, "Patch-Staging", [STAGING_TARGET], MaxErrors="5%")],
            DEV: [task(DEV, DEV_TASK, "Patch-Dev", [DEV_TARGET], {"Operation": ["Install"], "RebootOption": ["NoReboot"]}, MaxConcurrency="50%", MaxErrors="25%")],
        },
        region=REGION,
    )


def stage_rows(plan) -> list[tuple]:
    return [(s.name, s.patch_group, s.max_concurrency, s.max_errors, s.reboot_option, str(s.gate.max_failed), s.window, s.pin_to) for s in plan.stages]


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        pytest.param(ImportOptions(), [
            ("dev", "Dev", "50%", "25%", "NoReboot", "25%", SsmWindowRef("Dev-Window"), None),
            ("staging", "Staging", "10%", "5%", "RebootIfNeeded", "5%", SsmWindowRef("Staging-Window"), None),
            ("production", "Production", "1", "0", "RebootIfNeeded", "0", SsmWindowRef("Production-Window"), None),
        ], id="by-next-opening"),
        pytest.param(ImportOptions(order=("Production", " staging")), [
            ("production", "Production", "1", "0", "RebootIfNeeded", "0", SsmWindowRef("Production-Window"), None),
            ("staging", "Staging", "10%", "5%", "RebootIfNeeded", "5%", SsmWindowRef("Staging-Window"), None),
            ("dev", "Dev", "50%", "25%", "NoReboot", "25%", SsmWindowRef("Dev-Window"), None),
        ], id="by-order-of-groups-rest-by-opening"),
        pytest.param(ImportOptions(order=("Dev-Window", "Production-Window", "Staging-Window")), [
            ("dev", "Dev", "50%", "25%", "NoReboot", "25%", SsmWindowRef("Dev-Window"), None),
            ("production", "Production", "1", "0", "RebootIfNeeded", "0", SsmWindowRef("Production-Window"), None),
            ("staging", "Staging", "10%", "5%", "RebootIfNeeded", "5%", SsmWindowRef("Staging-Window"), None),
        ], id="by-order-of-window-names"),
        pytest.param(ImportOptions(plan_name="patch-manager", ledger="s3://patchflow-ledger/runs"), [
            ("dev", "Dev", "50%", "25%", "NoReboot", "25%", SsmWindowRef("Dev-Window"), None),
            ("staging", "Staging", "10%", "5%", "RebootIfNeeded", "5%", SsmWindowRef("Staging-Window"), "dev"),
            ("production", "Production", "1", "0", "RebootIfNeeded", "0", SsmWindowRef("Production-Window"), "dev"),
        ], id="pinned-to-the-first-with-an-s3-ledger"),
        pytest.param(ImportOptions(copy_windows=True), [
            ("dev", "Dev", "50%", "25%", "NoReboot", "25%", MaintenanceWindow(parse_schedule("cron(0 2 ? * TUE *)"), 3, 0), None),
            ("staging", "Staging", "10%", "5%", "RebootIfNeeded", "5%", MaintenanceWindow(parse_schedule("cron(0 2 ? * WED *)"), 4, 1), None),
            ("production", "Production", "1", "0", "RebootIfNeeded", "0", MaintenanceWindow(parse_schedule("cron(0 2 ? * SUN *)", "Asia/Seoul"), 6, 2), None),
        ], id="windows-copied-into-the-plan"),
    ],
)
def test_three_windows_become_three_stages(tmp_path, options, expected):
    adoption = adopt(three_windows(), options, NOW)
    rollouts, _ = written(tmp_path, adoption)
    assert stage_rows(load_plan(rollouts / adoption.plan_file)) == expected
    assert (stage_rows(adoption.plan), adoption.unmapped, lint([rollouts]).problems) == (expected, (), [])


def test_a_copied_window_opens_when_the_window_in_ssm_does():
    setup = three_windows()
    plan = adopt(setup, ImportOptions(copy_windows=True), NOW).plan
    assert [stage.window for stage in plan.stages] == [window_from_ssm(answer, NOW) for answer in reversed(setup.windows)]


SOURCES = [
    "#   production: patch group Production, from window Production-Window (mw-0123456789abcdef0),",
    "#     task Patch-Production (0e842a8d-2d44-4886-bb62-af8dc0000001), window targets 350d44e6-28cc-44e2-951f-4b2c9e0a0001",
    "#   dev: patch group Dev, from window Dev-Window (mw-0d0d0d0d0d0d0d0d0),",
    "#     task Patch-Dev (0e842a8d-2d44-4886-bb62-af8dc0000002), window targets 350d44e6-28cc-44e2-951f-4b2c9e0a0002",
    "#   staging: patch group Staging, from window Staging-Window (mw-05050505050505050),",
    "#     task Patch-Staging (0e842a8d-2d44-4886-bb62-af8dc0000003), window targets 350d44e6-28cc-44e2-951f-4b2c9e0a0003",
]


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        pytest.param(ImportOptions(order=("Production",)), [
            "# Stages and where each came from:",
            *SOURCES,
            "# Order as given (Production); any other stage follows by its window's next opening.",
            "# Windows kept in SSM (ssm_window): each stage waits for its window's next opening, read from SSM when a run starts.",
            "# SSM still runs each window's own AWS-RunPatchBaseline task: deregister it once this plan patches the group,",
            "# or both patch the same nodes.",
            "# Not pinned: later stages install what their own baselines approve. Pinning them to production",
            "# (pin_to) needs a ledger the instances can read: ledger: s3://BUCKET/PREFIX.",
            "# Everything found was mapped.",
            "# Review the owner, approvals and gates before the first run.",
        ], id="kept-in-ssm-not-pinned"),
        pytest.param(ImportOptions(order=("Production",), copy_windows=True, ledger="s3://patchflow-ledger/runs"), [
            "# Stages and where each came from:",
            *SOURCES,
            "# Order as given (Production); any other stage follows by its window's next opening.",
            "# Windows copied from SSM (--copy-windows): each stage waits for the schedule written here; SSM's copy no longer counts.",
            "# SSM still runs each window's own AWS-RunPatchBaseline task: deregister it once this plan patches the group,",
            "# or both patch the same nodes.",
            "# Everything found was mapped.",
            "# Review the owner, approvals and gates before the first run.",
        ], id="copied-and-pinned"),
    ],
)
def test_the_header_says_where_each_stage_came_from(options, expected):
    text = adopt(three_windows(), options, NOW).plan_text
    assert text.split("\nname: ")[0].splitlines()[2:] == expected


@pytest.mark.parametrize(
    ("options", "message"),
    [
        pytest.param(ImportOptions(order=("Prod", "Staging", "QA")),
                     "--order: order[0]: expected a patch group or window name of a drafted stage (Dev, Dev-Window, Production, Production-Window, Staging, Staging-Window), got 'Prod'\n"
                     "--order: order[2]: expected a patch group or window name of a drafted stage (Dev, Dev-Window, Production, Production-Window, Staging, Staging-Window), got 'QA'",
                     id="order-names-no-stage"),
        pytest.param(ImportOptions(plan_name="Imported Plan"), "--name: expected a plan name matching ^[a-z0-9][a-z0-9_-]{2,62}$, got 'Imported Plan'", id="bad-plan-name"),
    ],
)
def test_bad_options_are_refused_with_every_problem(options, message):
    with pytest.raises(InvalidInput) as raised:
        adopt(three_windows(), options, NOW)
    assert str(raised.value) == message


# --------------------------------------------------------------------------- what is not mapped


def changed(setup: PatchManagerSetup, change) -> PatchManagerSetup:
    copied = copy.deepcopy(setup)
    change(copied)
    return copied


def add_task(setup: PatchManagerSetup, window_id: str, answer: dict) -> None:
    setup.window_tasks[window_id].append(answer)


EXTRA_TASK = "0e842a8d-2d44-4886-bb62-af8dc00000ff"
EXTRA_TARGET = "350d44e6-28cc-44e2-951f-4b2c9e0a00ff"
W = "window Weekly-Patch-Window (mw-0123456789abcdef0)"
T = f"{W}, task Patch-Production ({WEEKLY_TASK})"
SEED_TARGET = f"target Production-Servers ({WEEKLY_TARGET})"


def seed_task(setup: PatchManagerSetup) -> dict:
    return setup.window_tasks[WEEKLY][0]


def seed_target(setup: PatchManagerSetup) -> dict:
    return setup.window_targets[WEEKLY][0]


@pytest.mark.parametrize(
    ("change", "stages", "unmapped"),
    [
        pytest.param(lambda s: seed_target(s).update(ResourceType="RESOURCE_GROUP", Targets=[{"Key": "resource-groups:Name", "Values": ["PatchMe"]}]), [],
                     [f"{T}: {SEED_TARGET} targets a resource group (resource-groups:Name=PatchMe), not a patch group"], id="resource-group-target"),
        pytest.param(lambda s: seed_target(s).update(Targets=[{"Key": "InstanceIds", "Values": ["i-0000293ffdEXAMPLE", "i-0cb2b964d3EXAMPLE"]}]), [],
                     [f"{T}: {SEED_TARGET} targets instances by id (InstanceIds=i-0000293ffdEXAMPLE,i-0cb2b964d3EXAMPLE), not a patch group"],
                     id="window-target-by-instance-ids"),
        pytest.param(lambda s: seed_target(s).update(Targets=[{"Key": "tag:Environment", "Values": ["Prod"]}]), [],
                     [f"{T}: {SEED_TARGET} targets tag:Environment=Prod, not a patch group (tag:Patch Group or tag:PatchGroup)"], id="no-patch-group-target"),
        pytest.param(lambda s: seed_target(s)["Targets"].append({"Key": "tag:Role", "Values": ["Web"]}), [],
                     [f"{T}: {SEED_TARGET} narrows patch group Production by tag:Role=Web as well; a stage patches the whole group"], id="patch-group-narrowed"),
        pytest.param(lambda s: seed_target(s).update(Targets=[{"Key": "tag:Patch Group", "Values": ["Production", "Staging"]}]), [],
                     [f"{T}: {SEED_TARGET} targets 2 patch groups at once (tag:Patch Group=Production,Staging); a stage patches one"], id="two-groups-in-one-target"),
        pytest.param(lambda s: (s.window_targets[WEEKLY].append(target(WEEKLY, EXTRA_TARGET, ("tag:Patch Group", ["Staging"]))),
                                seed_task(s)["Targets"][0]["Values"].append(EXTRA_TARGET)), [],
                     [f"{T}: patches 2 patch groups (Production, Staging); a stage patches one"], id="two-targets-two-groups"),
        pytest.param(lambda s: seed_task(s).update(Targets=[{"Key": "InstanceIds", "Values": ["i-1234567890abcdef0"]}]), [],
                     [f"{T}: targets InstanceIds=i-1234567890abcdef0 itself; a stage is drafted from a task that names the window's targets (WindowTargetIds)"],
                     id="task-targets-instances"),
        pytest.param(lambda s: seed_task(s).update(Targets=[{"Key": "WindowTargetIds", "Values": [EXTRA_TARGET]}]), [],
                     [f"{T}: names window target {EXTRA_TARGET}, which the window does not have"], id="task-names-unknown-target"),
        pytest.param(lambda s: add_task(s, WEEKLY, task(WEEKLY, EXTRA_TASK, "Restart", [WEEKLY_TARGET], TaskArn="AWS-RestartEC2Instance", TaskType="AUTOMATION",
                                                         TaskInvocationParameters={"Automation": {"DocumentVersion": "$LATEST"}})), ["production"],
                     [f"{W}, task Restart ({EXTRA_TASK}): runs AUTOMATION AWS-RestartEC2Instance, not a RUN_COMMAND of AWS-RunPatchBaseline"], id="automation-task"),
        pytest.param(lambda s: seed_task(s).update(TaskArn="AWS-RunShellScript", TaskInvocationParameters={"RunCommand": {"Parameters": {"commands": ["df"]}}}), [],
                     [f"{T}: runs RUN_COMMAND AWS-RunShellScript, not a RUN_COMMAND of AWS-RunPatchBaseline",
                      f"{W}: runs no AWS-RunPatchBaseline Install task, so no stage is drafted from it"], id="other-document"),
        pytest.param(lambda s: seed_task(s).update(TaskArn="arn:aws:ssm:us-east-1::document/AWS-RunPatchBaseline"), ["production"], [], id="document-by-arn"),
        pytest.param(lambda s: add_task(s, WEEKLY, task(WEEKLY, EXTRA_TASK, "Patch-Again", [WEEKLY_TARGET], Priority=2)), [],
                     [f"{W}: runs 2 AWS-RunPatchBaseline Install tasks (task Patch-Production ({WEEKLY_TASK}), task Patch-Again ({EXTRA_TASK})); "
                      "a stage is drafted from a window with one"], id="several-patch-tasks"),
        pytest.param(lambda s: add_task(s, WEEKLY, task(WEEKLY, EXTRA_TASK, "Scan-First", [WEEKLY_TARGET], {"Operation": ["Scan"]}, Priority=0)), ["production"],
                     [f"{W}, task Scan-First ({EXTRA_TASK}): scans only (Operation Scan); a patchflow stage scans before it installs (scan_first)"], id="scan-task-beside-install"),
        pytest.param(lambda s: seed_task(s)["TaskInvocationParameters"]["RunCommand"].update(Parameters={"Operation": ["Scan"]}), [],
                     [f"{T}: scans only (Operation Scan); a patchflow stage scans before it installs (scan_first)",
                      f"{W}: runs no AWS-RunPatchBaseline Install task, so no stage is drafted from it"], id="scan-only"),
        pytest.param(lambda s: seed_task(s)["TaskInvocationParameters"]["RunCommand"]["Parameters"].update(InstallOverrideList=["s3://bucket/patches.yaml"]), [],
                     [f"{T}: installs from its own InstallOverrideList; a patchflow stage installs what its baseline approves, or what the stage it is pinned to installed",
                      f"{W}: runs no AWS-RunPatchBaseline Install task, so no stage is drafted from it"], id="install-override-list"),
        pytest.param(lambda s: seed_task(s)["TaskInvocationParameters"]["RunCommand"]["Parameters"].update(BaselineOverride=["s3://bucket/baselines.json"]), [],
                     [f"{T}: installs from its own BaselineOverride; a patchflow stage installs what its baseline approves, or what the stage it is pinned to installed",
                      f"{W}: runs no AWS-RunPatchBaseline Install task, so no stage is drafted from it"], id="baseline-override"),
        pytest.param(lambda s: seed_task(s).update(TaskInvocationParameters={}, TaskParameters={"Operation": {"Values": ["Install"]}, "RebootOption": {"Values": ["NoReboot"]}}),
                     ["production"], [], id="deprecated-task-parameters"),
        pytest.param(lambda s: seed_task(s)["TaskInvocationParameters"]["RunCommand"].update(OutputS3BucketName="runcommandlogs", Parameters={
            "Operation": ["Install"], "SnapshotId": ["{{WINDOW_EXECUTION_ID}}"]}) or seed_task(s).update(CutoffBehavior="CANCEL_TASK"), ["production"],
                     [f"{T}: sets OutputS3BucketName, parameter SnapshotId, CutoffBehavior CANCEL_TASK, which the stage does not carry over"], id="settings-not-carried"),
        pytest.param(lambda s: s.windows[0].update(Enabled=False), [],
                     [f"{W}: it is disabled in SSM; no stage is drafted from it"], id="disabled-window"),
        pytest.param(lambda s: s.windows[0].update(EndDate="2025-12-31T00:00:00Z"), [],
                     [f"{W}: it ended 2025-12-31T00:00:00Z; no stage is drafted from it"], id="ended-window"),
        pytest.param(lambda s: s.windows.append(window("Weekly-Patch-Window-2", DEV, "cron(0 2 ? * SAT *)")) or s.window_targets.update(
            {DEV: [target(DEV, DEV_TARGET, ("tag:PatchGroup", ["Production"]))]}) or s.window_tasks.update({DEV: [task(DEV, DEV_TASK, "Patch-Again", [DEV_TARGET])]}),
                     ["production"],
                     [f"window Weekly-Patch-Window (mw-0123456789abcdef0), task Patch-Production ({WEEKLY_TASK}): patches patch group Production, "
                      "which window Weekly-Patch-Window-2 (mw-0d0d0d0d0d0d0d0d0) patches too; a plan patches each group in one stage"], id="group-in-two-windows"),
        pytest.param(lambda s: s.windows.append(window("Inventory", DEV, "rate(1 day)")), ["production"],
                     ["window Inventory (mw-0d0d0d0d0d0d0d0d0): runs no AWS-RunPatchBaseline Install task, so no stage is drafted from it"], id="window-without-tasks"),
    ],
)
def test_what_is_not_mapped_is_listed_with_its_reason(change, stages, unmapped):
    adoption = adopt(changed(seed_setup(), change), ImportOptions(), NOW)
    assert ([stage.name for stage in adoption.stages], [str(item) for item in adoption.unmapped]) == (stages, unmapped)
    if adoption.plan_text is not None:
        assert adoption.plan_text.split("\nname: ")[0].splitlines()[-2 - len(unmapped):-1] == (
            ["# Not mapped (left in SSM as it is):", *(f"#   - {item}" for item in unmapped)] if unmapped else ["# Everything found was mapped."])


def test_nothing_to_draft_gives_no_plan():
    adoption = adopt(PatchManagerSetup(region=REGION), ImportOptions(), NOW)
    assert (adoption.plan_text, adoption.plan, adoption.stages, adoption.unmapped) == (None, None, (), ())


def test_a_window_whose_name_another_window_shares_is_referenced_by_id():
    setup = changed(seed_setup(), lambda s: s.windows.append(window("Weekly-Patch-Window", DEV, "cron(0 2 ? * SAT *)")))
    adoption = adopt(setup, ImportOptions(), NOW)
    assert ([stage.window for stage in adoption.plan.stages], [str(item) for item in adoption.unmapped]) == (
        [SsmWindowRef(WEEKLY)], ["window Weekly-Patch-Window (mw-0d0d0d0d0d0d0d0d0): runs no AWS-RunPatchBaseline Install task, so no stage is drafted from it"])


def test_a_window_that_cannot_be_copied_stays_in_ssm():
    setup = changed(seed_setup(), lambda s: s.windows[0].update(Schedule="cron(0 23 ? * TUE#2 *)", ScheduleOffset=2))
    adoption = adopt(setup, ImportOptions(copy_windows=True), NOW)
    assert ([stage.window for stage in adoption.plan.stages], [str(item) for item in adoption.unmapped]) == (
        [SsmWindowRef("Weekly-Patch-Window")],
        [f"{W}: has ScheduleOffset, which a plan's window cannot hold; its stage references it in SSM instead (ssm_window)"])


@pytest.mark.parametrize(
    ("patch_group", "taken", "name"),
    [
        pytest.param("Production", [], "production", id="lower-cased"),
        pytest.param("Web Servers:EU/1", [], "web-servers-eu-1", id="other-characters-as-dashes"),
        pytest.param("2024 fleet", [], "fleet", id="starts-with-a-letter"),
        pytest.param("@@@", [], "stage", id="nothing-left"),
        pytest.param("prod", ["prod", "prod-2"], "prod-3", id="unique"),
        pytest.param("x" * 60, [], "x" * 36, id="short-enough"),
    ],
)
def test_stage_name_for(patch_group, taken, name):
    assert stage_name_for(patch_group, taken) == name


@pytest.mark.parametrize(
    ("tasks", "warning"),
    [
        pytest.param([task(WEEKLY, WEEKLY_TASK, "Patch-Production", [WEEKLY_TARGET])],
                     "maintenance window Weekly-Patch-Window (mw-0123456789abcdef0) still runs its own AWS-RunPatchBaseline Install "
                     "(task Patch-Production (0e842a8d-2d44-4886-bb62-af8dc0000001)); it and this stage would both patch the same nodes "
                     "(deregister the task, or keep patching in SSM only)", id="own-install-task"),
        pytest.param([task(WEEKLY, WEEKLY_TASK, "Scan", [WEEKLY_TARGET], {"Operation": ["Scan"]})], None, id="scan-only"),
        pytest.param([], None, id="no-tasks"),
    ],
)
def test_double_patching_warning(tasks, warning):
    assert double_patching_warning(seed_setup().windows[0], tasks) == warning
