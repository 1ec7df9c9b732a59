"""Coming from Patch Manager, end to end: the seed's setup built in fleetsim through the AWS CLI, imported, linted,
synced as no change, and rolled out through Airflow.

The seed's own commands run as written (its `--duration "PT4H" --cutoff "PT30M"` and its unquoted
`--tags Key=Patch Group,...` are refused by the CLI itself, then run corrected), plus what a working
patch window needs: the baseline registered for the patch group, a window target by `tag:Patch Group`
and an AWS-RunPatchBaseline task. A Staging window in Seoul time comes first in the plan; the seed's
Production stage is pinned to it. `patchflow import` writes into a copy of include/ whose example
baselines and plans are left out, and an empty dags/ beside it: a project that starts from what the account has.
"""
from __future__ import annotations

import json
import os
import runpy
import shlex
import shutil
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from fleetsim.testing import fleetsim_fixture
from patchflow.core.yamlfile import PROJECT_ROOT
from tests.patchflow.rollout.conftest import LEDGER_BUCKET
from tests.patchflow.rollout.fleet_reads import commands_by_group

pytestmark = [pytest.mark.fleetsim, pytest.mark.airflow]

SEED_BASELINE = ('aws ssm create-patch-baseline --name "MyCustomPatchBaseline" --operating-system "WINDOWS" --approval-rules '
                 '"PatchRules=[{PatchFilterGroup={PatchFilters=[{Key=PRODUCT,Values=[WindowsServer2016]},'
                 '{Key=CLASSIFICATION,Values=[CriticalUpdates,SecurityUpdates]}]},ApproveAfterDays=7}]"')
SEED_CREATE_TAGS = "aws ec2 create-tags --resources i-1234567890abcdef0 --tags Key=Patch Group,Value=Production"
SEED_WINDOW = ('aws ssm create-maintenance-window --name "Weekly-Patch-Window" --schedule "cron(0 2 ? * SUN *)" --duration "PT4H" '
               '--allow-unassociated-targets --cutoff "PT30M"')
SEED_INSTANCE = "i-1234567890abcdef0"
LEDGER = f"s3://{LEDGER_BUCKET}/imported"
SEOUL = ZoneInfo("Asia/Seoul")

import_fleet = fleetsim_fixture({
    "defaults": {"execution_seconds": [60, 120], "reboot_share": 0.0, "missing_share": 0.5},
    "groups": [
        {"name": "staging", "count": 2, "platform": "WINDOWS", "tags": {"Patch Group": "Staging"}},
        # Moved into the Production patch group by the seed's create-tags.
        {"name": "production", "count": 2, "platform": "WINDOWS", "tags": {"Role": "production"}},
    ],
}, seed=20, time_scale=600)


def aws(sim, *args: str) -> subprocess.CompletedProcess:
    return sim.aws_cli(*args)


def aws_json(sim, *args: str) -> dict:
    finished = aws(sim, *args)
    assert finished.returncode == 0, finished.stderr
    return json.loads(finished.stdout) if finished.stdout.strip() else {}


def seed_line(line: str, **replaced: str) -> list[str]:
    """A seed command as the shell splits it, without `aws`, `i-1234567890abcdef0` standing for real instance ids."""
    words = shlex.split(line)[1:]
    return [part for word in words for part in (replaced[word].split() if word in replaced else [word])]


def patchflow(sim, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, **sim.env(), "PYTHONPATH": os.pathsep.join([str(PROJECT_ROOT / "plugins"), str(PROJECT_ROOT)])}
    return subprocess.run([sys.executable, "-m", "patchflow", *args], env=env, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120)


def daily_cron_opened_half_an_hour_ago(zone) -> str:
    opened = (datetime.now(timezone.utc) - timedelta(minutes=30)).astimezone(zone)
    return f"cron({opened.minute} {opened.hour} ? * * *)"


def run_command_install(reboot: str) -> str:
    return json.dumps({"RunCommand": {"TimeoutSeconds": 600, "Parameters": {"Operation": ["Install"], "RebootOption": [reboot]}}})


@pytest.fixture(scope="module")
def seeded(import_fleet) -> dict:
    """The account: the seed's commands through the AWS CLI, and a Staging window (through boto3) that is open now."""
    sim, ssm = import_fleet, import_fleet.client("ssm")
    found = {"refused": {}}
    found["baseline"] = aws_json(sim, *seed_line(SEED_BASELINE))["BaselineId"]
    production = [i["InstanceId"] for i in ssm.describe_instance_information(Filters=[{"Key": "tag:Role", "Values": ["production"]}])["InstanceInformationList"]]
    found["refused"]["create-tags"] = aws(sim, *seed_line(SEED_CREATE_TAGS, **{SEED_INSTANCE: " ".join(production)}))
    aws_json(sim, *seed_line(SEED_CREATE_TAGS.replace("Key=Patch Group,Value=Production", "'Key=Patch Group,Value=Production'"),
                             **{SEED_INSTANCE: " ".join(production)}))
    found["refused"]["create-maintenance-window"] = aws(sim, *seed_line(SEED_WINDOW))
    found["weekly"] = aws_json(sim, *seed_line(SEED_WINDOW.replace('"PT4H"', "4").replace('"PT30M"', "1")))["WindowId"]
    aws_json(sim, "ssm", "register-patch-baseline-for-patch-group", "--baseline-id", found["baseline"], "--patch-group", "Production")
    found["weekly_target"] = aws_json(sim, "ssm", "register-target-with-maintenance-window", "--window-id", found["weekly"], "--resource-type", "INSTANCE",
                                      "--targets", "Key=tag:Patch Group,Values=Production", "--name", "Production-Servers")["WindowTargetId"]
    found["weekly_task"] = aws_json(sim, "ssm", "register-task-with-maintenance-window", "--window-id", found["weekly"],
                                    "--targets", f"Key=WindowTargetIds,Values={found['weekly_target']}", "--task-arn", "AWS-RunPatchBaseline",
                                    "--task-type", "RUN_COMMAND", "--priority", "1", "--max-concurrency", "50%", "--max-errors", "1",
                                    "--name", "Patch-Production", "--task-invocation-parameters", run_command_install("RebootIfNeeded"))["WindowTaskId"]
    # Staging: its own baseline (the products the fleet runs), a window in Seoul time, an Install task and a Scan task.
    found["staging_baseline"] = ssm.create_patch_baseline(
        Name="StagingPatchBaseline", OperatingSystem="WINDOWS", Description="Staging servers, Windows Server 2022",
        ApprovalRules={"PatchRules": [{"PatchFilterGroup": {"PatchFilters": [{"Key": "PRODUCT", "Values": ["WindowsServer2022"]}]},
                                       "ApproveAfterDays": 0, "ComplianceLevel": "HIGH"}]})["BaselineId"]
    ssm.register_patch_baseline_for_patch_group(BaselineId=found["staging_baseline"], PatchGroup="Staging")
    found["staging_schedule"] = daily_cron_opened_half_an_hour_ago(SEOUL)
    found["staging"] = ssm.create_maintenance_window(Name="Staging-Patch-Window", Schedule=found["staging_schedule"],
                                                     ScheduleTimezone="Asia/Seoul", Duration=4, Cutoff=1, AllowUnassociatedTargets=False)["WindowId"]
    found["staging_target"] = ssm.register_target_with_maintenance_window(
        WindowId=found["staging"], ResourceType="INSTANCE", Targets=[{"Key": "tag:Patch Group", "Values": ["Staging"]}])["WindowTargetId"]
    staging_targets = [{"Key": "WindowTargetIds", "Values": [found["staging_target"]]}]
    found["staging_task"] = ssm.register_task_with_maintenance_window(
        WindowId=found["staging"], Targets=staging_targets, TaskArn="AWS-RunPatchBaseline", TaskType="RUN_COMMAND", Priority=1,
        MaxConcurrency="50%", MaxErrors="1", Name="Patch-Staging", TaskInvocationParameters=json.loads(run_command_install("NoReboot")))["WindowTaskId"]
    found["scan_task"] = ssm.register_task_with_maintenance_window(
        WindowId=found["staging"], Targets=staging_targets, TaskArn="AWS-RunPatchBaseline", TaskType="RUN_COMMAND", Priority=0,
        MaxConcurrency="100%", MaxErrors="1", Name="Scan-Staging",
        TaskInvocationParameters={"RunCommand": {"Parameters": {"Operation": ["Scan"]}}})["WindowTaskId"]
    # A legacy group left on AWS's own baseline: named by import, never copied.
    found["aws_default"] = ssm.get_default_patch_baseline(OperatingSystem="WINDOWS")["BaselineId"]
    ssm.register_patch_baseline_for_patch_group(BaselineId=found["aws_default"], PatchGroup="Legacy")
    return found


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A copy of include/ without the example baselines and plans, and an empty dags/ beside it."""
    include = tmp_path_factory.mktemp("project") / "include"
    shutil.copytree(PROJECT_ROOT / "include", include)
    for folder in ("baselines", "rollouts"):
        shutil.rmtree(include / folder)
        (include / folder).mkdir()
    (include.parent / "dags").mkdir()
    return include


@pytest.fixture(scope="module")
def dags(project) -> Path:
    return project.parent / "dags"


def folders(project: Path, dags: Path) -> list[str]:
    return ["--baselines", str(project / "baselines"), "--rollouts", str(project / "rollouts"), "--dags", str(dags)]


@pytest.fixture(scope="module")
def imported(import_fleet, seeded, project, dags) -> subprocess.CompletedProcess:
    return patchflow(import_fleet, "import", "--order", "Staging,Production", "--ledger", LEDGER, *folders(project, dags))


def test_the_seeds_window_and_tags_are_refused_by_the_cli_as_written(seeded):
    window, tags = seeded["refused"]["create-maintenance-window"], seeded["refused"]["create-tags"]
    # Duration and Cutoff are whole hours: the CLI refuses PT4H before sending anything.
    assert (window.returncode, window.stdout, window.stderr) == (255, "", "\ninvalid literal for int() with base 10: 'PT4H'\n")
    # Unquoted, the shell splits `Key=Patch Group,Value=Production` in two.
    assert (tags.returncode, tags.stdout, tags.stderr.strip().splitlines()[0]) == (
        255, "", "Error parsing parameter '--tags': Expected: '=', received: ',' for input:")


def expected_plan(s: dict) -> str:
    return f"""\
# yaml-language-server: $schema=../schemas/rollout-plan.schema.json
# Drafted by `patchflow import` from the Patch Manager maintenance windows in us-east-1.
# Stages and where each came from:
#   staging: patch group Staging, from window Staging-Patch-Window ({s['staging']}),
#     task Patch-Staging ({s['staging_task']}), window targets {s['staging_target']}
#   production: patch group Production, from window Weekly-Patch-Window ({s['weekly']}),
#     task Patch-Production ({s['weekly_task']}), window targets {s['weekly_target']}
# Order as given (Staging, Production); any other stage follows by its window's next opening.
# Windows kept in SSM (ssm_window): each stage waits for its window's next opening, read from SSM when a run starts.
# SSM still runs each window's own AWS-RunPatchBaseline task: deregister it once this plan patches the group,
# or both patch the same nodes.
# Not mapped (left in SSM as it is):
#   - {not_mapped(s)}
# Review the owner, approvals and gates before the first run.
name: imported
description: Drafted from the Patch Manager maintenance windows in us-east-1
owner: release-engineering
ledger: {LEDGER}
stages:
  - name: staging
    patch_group: Staging
    max_concurrency: 50%
    max_errors: '1'
    reboot_option: NoReboot
    timeout_seconds: 600
    gate: {{max_failed: '1'}}
    window: {{ssm_window: Staging-Patch-Window}}
  - name: production
    patch_group: Production
    max_concurrency: 50%
    max_errors: '1'
    reboot_option: RebootIfNeeded
    timeout_seconds: 600
    gate: {{max_failed: '1'}}
    window: {{ssm_window: Weekly-Patch-Window}}
    pin_to: staging
"""


def not_mapped(s: dict) -> str:
    return (f"window Staging-Patch-Window ({s['staging']}), task Scan-Staging ({s['scan_task']}): "
            "scans only (Operation Scan); a patchflow stage scans before it installs (scan_first)")


def expected_baselines(s: dict) -> dict[str, str]:
    def header(baseline_id: str) -> str:
        return ("# yaml-language-server: $schema=../schemas/baseline.schema.json\n"
                f"# Imported from SSM patch baseline {baseline_id}. From here on this file is the baseline:\n"
                "# `patchflow sync` makes SSM match it (it updates the baselines tagged managed-by=patchflow).\n")

    return {
        "MyCustomPatchBaseline.yaml": header(s["baseline"]) + """\
name: MyCustomPatchBaseline
operating_system: WINDOWS
approval_rules:
  - patch_filters:
      PRODUCT: [WindowsServer2016]
      CLASSIFICATION: [CriticalUpdates, SecurityUpdates]
    approve_after_days: 7
    compliance_level: UNSPECIFIED
patch_groups: [Production]
""",
        "StagingPatchBaseline.yaml": header(s["staging_baseline"]) + """\
name: StagingPatchBaseline
operating_system: WINDOWS
description: Staging servers, Windows Server 2022
approval_rules:
  - patch_filters:
      PRODUCT: [WindowsServer2022]
    approve_after_days: 0
    compliance_level: HIGH
patch_groups: [Staging]
""",
    }


def expected_stub(project: Path) -> str:
    """The plan is outside the project's include/rollouts: the stub names it by its absolute path."""
    plan = (project / "rollouts" / "imported.yaml").resolve()
    return (f'"""Airflow DAG for the rollout plan {plan} (built by patchflow\'s DAG factory)."""\n'
            "from patchflow.rollout.factory import dag_from_plan_file\n"
            "\n"
            f'dag = dag_from_plan_file("{plan}")\n')


def test_import_writes_the_baselines_the_plan_and_its_dag_stub_and_says_what_it_left_out(seeded, project, dags, imported):
    s = seeded
    assert (imported.returncode, imported.stderr) == (0, "")
    assert imported.stdout == (
        f"tagged baseline MyCustomPatchBaseline ({s['baseline']}) managed-by=patchflow\n"
        f"tagged baseline StagingPatchBaseline ({s['staging_baseline']}) managed-by=patchflow\n"
        f"wrote {project}/baselines/MyCustomPatchBaseline.yaml: baseline MyCustomPatchBaseline ({s['baseline']})\n"
        f"wrote {project}/baselines/StagingPatchBaseline.yaml: baseline StagingPatchBaseline ({s['staging_baseline']})\n"
        f"wrote {project}/rollouts/imported.yaml: plan imported, stages staging, production\n"
        f"wrote {dags}/rollout_imported.py: DAG rollout_imported for plan imported\n"
        f"predefined, referenced by AWS and not copied: AWS-DefaultPatchBaseline (WINDOWS, predefined by AWS): patch groups Legacy; the WINDOWS default\n"
        f"not mapped: {not_mapped(s)}\n"
        "import: wrote 4 files, tagged 2 baselines; 1 item not mapped (left in SSM as it is)\n"
        "next: patchflow lint, then patchflow sync --dry-run (it reports no change for the adopted baselines)\n"
    )
    assert {p.name: p.read_text() for p in sorted((project / "baselines").iterdir())} == expected_baselines(s)
    assert {p.name: p.read_text() for p in (project / "rollouts").iterdir()} == {"imported.yaml": expected_plan(s)}
    assert {p.name: p.read_text() for p in dags.iterdir()} == {"rollout_imported.py": expected_stub(project)}


def test_the_written_dag_stub_builds_the_plans_dag(project, dags, imported):
    assert imported.returncode == 0
    # As Airflow's DAG processor does: run the stub file, then take its DAG. No run, no AWS call.
    dag = runpy.run_path(str(dags / "rollout_imported.py"))["dag"]
    assert (dag.dag_id, list(dag.task_group.children), dag.default_args["owner"]) == (
        "rollout_imported", ["start", "staging", "production", "finish"], "release-engineering")


def test_the_imported_files_lint_clean_and_sync_as_no_change(import_fleet, project, imported):
    assert imported.returncode == 0
    lint = patchflow(import_fleet, "lint", str(project / "baselines"), str(project / "rollouts"))
    sync = patchflow(import_fleet, "sync", "--dry-run", "--baselines", str(project / "baselines"), "--plans", str(project / "rollouts"))
    assert (lint.returncode, lint.stdout, lint.stderr) == (0, "OK: 2 baselines and 1 rollout plans in 3 files\n", "")
    assert (sync.returncode, sync.stdout, sync.stderr) == (0, "sync: would make 0 changes, 0 conflicts\n", "")


def test_copy_windows_writes_the_windows_schedules_into_the_plan(import_fleet, seeded, project, dags, imported):
    dry = patchflow(import_fleet, "import", "--copy-windows", "--dry-run", "--name", "copied", "--order", "Staging,Production", *folders(project, dags))
    # The baselines are there already (the import above): a dry run refuses as the real one would.
    assert (dry.returncode, dry.stdout, dry.stderr) == (1, "", "".join(
        f"patchflow import: {project}/baselines/{name}.yaml: expected no file there (--force overwrites it), got an existing file\n"
        for name in ("MyCustomPatchBaseline", "StagingPatchBaseline")) + "patchflow import: nothing written, nothing tagged\n")
    forced = patchflow(import_fleet, "import", "--copy-windows", "--dry-run", "--force", "--name", "copied", "--order", "Staging,Production",
                       *folders(project, dags))
    plan = yaml.safe_load(forced.stdout.split(f"would write {project}/rollouts/copied.yaml:\n")[1].split(f"would write {dags}/rollout_copied.py:\n")[0])
    assert (forced.returncode, [(stage["name"], stage["window"]) for stage in plan["stages"]]) == (0, [
        ("staging", {"schedule": seeded["staging_schedule"], "timezone": "Asia/Seoul", "duration": 4, "cutoff": 1}),
        ("production", {"schedule": "cron(0 2 ? * SUN *)", "duration": 4, "cutoff": 1}),
    ])
    assert (sorted(p.name for p in (project / "rollouts").iterdir()), sorted(p.name for p in dags.iterdir())) == (["imported.yaml"], ["rollout_imported.py"])


def test_the_imported_plan_promotes_through_airflow(import_fleet, seeded, project, imported, run_rollout):
    ssm = import_fleet.client("ssm")
    # The plan keeps the windows in SSM: moving the seed's Sunday window to now is all a rollout today needs.
    ssm.update_maintenance_window(WindowId=seeded["weekly"], Schedule=daily_cron_opened_half_an_hour_ago(timezone.utc))
    # Run as rollout_demo, the DAG the test bundle serializes; the imported stages and ledger are unchanged.
    plan = {**yaml.safe_load((project / "rollouts" / "imported.yaml").read_text()), "name": "demo"}

    run = run_rollout(import_fleet, plan)

    assert (run.state, str(run.report.outcome)) == ("success", "promoted")
    installs = {group: [c["Parameters"] for c in commands if c["Parameters"].get("Operation") == ["Install"]]
                for group, commands in commands_by_group(import_fleet).items()}
    stages = {stage.name: stage for stage in run.report.stages}
    staging, production = stages["staging"], stages["production"]
    assert (sorted(installs), staging.targets, production.targets) == (["Production", "Staging"], 2, 2)
    # Production installs exactly what Staging installed and its gate proved.
    assert (production.pinned_to.stage, production.pinned_to.hash) == ("staging", staging.manifest.hash)
    assert {p["InstallOverrideList"][0] for p in installs["Production"]} == set(production.install_override_lists)
    # The windows still run their own patch tasks: each stage's preflight says so, and the run goes on.
    assert [stage.warnings for stage in (staging, production)] == [(
        f"maintenance window {name} ({seeded[window]}) still runs its own AWS-RunPatchBaseline Install (task {task} ({seeded[task_id]})); "
        "it and this stage would both patch the same nodes (deregister the task, or keep patching in SSM only)",
    ) for name, window, task, task_id in (("Staging-Patch-Window", "staging", "Patch-Staging", "staging_task"),
                                          ("Weekly-Patch-Window", "weekly", "Patch-Production", "weekly_task"))]
