"""Least privilege: include/iam/patchflow-airflow-policy.json grants exactly the AWS actions the project calls.

The recording test runs, against one fleetsim serving include/fleets/multi-account.yaml,
everything the Airflow role does: `patchflow sync` (first run, then a run that
updates, tags, re-registers, sets a default and deletes), the whole
multi-account rollout through Airflow (`patchflow demo --endpoint --plan`), the
cancel call the operators make when a task is killed or times out (a healthy
rollout never reaches it), and the reads of a stage whose window stays in SSM
(the plan writes no such window). fleetsim counts every request as
`service:Action` per account; the test maps API operations to IAM actions and
compares the sets both ways: the hub account's calls with the hub policy, the
target accounts' with the target role policy, and all of them (less the
AssumeRole between the two) with the single-account policy. The static
tests keep the policy wildcard-free and its resource scoping in step with the
shipped plans (patch groups, ledger bucket and prefixes, SNS topics).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml

PROJECT_ROOT = Path(__file__).resolve().parents[1]
POLICY_PATH = PROJECT_ROOT / "include" / "iam" / "patchflow-airflow-policy.json"
ASSIGN_POLICY_PATH = PROJECT_ROOT / "include" / "iam" / "patchflow-groups-assign-policy.json"
IMPORT_POLICY_PATH = PROJECT_ROOT / "include" / "iam" / "patchflow-import-policy.json"
IAM_README = PROJECT_ROOT / "include" / "iam" / "README.md"
ROLLOUTS = PROJECT_ROOT / "include" / "rollouts"
BASELINES = PROJECT_ROOT / "include" / "baselines"
HUB_POLICY_PATH = PROJECT_ROOT / "include" / "iam" / "patchflow-hub-policy.json"
TARGET_POLICY_PATH = PROJECT_ROOT / "include" / "iam" / "patchflow-target-role-policy.json"
# The recording runs the multi-account rollout: every call lands in the hub (the ledger, the topic, AssumeRole) or in
# a stage's account through its assumed role, so one run proves the hub policy, the target role policy and, together,
# the single-account policy. sync reaches the scopes of the plans it is given.
MULTI_ACCOUNT_FLEET = PROJECT_ROOT / "include" / "fleets" / "multi-account.yaml"
MULTI_ACCOUNT_PLAN = str(ROLLOUTS / "multi-account.yaml")
HUB_ACCOUNT = "123456789012"
TARGET_ACCOUNTS = ("111111111111", "222222222222", "333333333333")
PROD_ACCOUNT = "333333333333"

# The IAM service prefix of a service whose endpoint prefix differs (CloudWatch's API is `monitoring`).
IAM_SERVICE_FOR = {"monitoring": "cloudwatch"}
# API operation -> the IAM action that authorizes it, where the names differ
# (Service Authorization Reference: ListObjectsV2 needs s3:ListBucket, HeadObject s3:GetObject).
IAM_ACTION_FOR = {
    "s3:ListObjectsV2": "s3:ListBucket",
    "s3:ListObjects": "s3:ListBucket",
    "s3:HeadObject": "s3:GetObject",
    "s3:HeadBucket": "s3:ListBucket",
}
# Calls that need no permission at all.
NO_PERMISSION_NEEDED = {"sts:GetCallerIdentity"}
# What `patchflow demo` creates because a fresh fleetsim lacks it and a real account already has it
# (demo.prepare_aws: the ledger bucket and the notification topic). Never called by the Airflow role.
DEMO_SETUP_ONLY = {"s3:CreateBucket", "sns:CreateTopic"}
# What the test itself creates so a stage has an SSM window with a patch task to read; a release manager made it.
WINDOW_SETUP_ONLY = {"ssm:CreateMaintenanceWindow", "ssm:RegisterTaskWithMaintenanceWindow"}


def load_policy(path: Path = POLICY_PATH) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def allowed_actions(policy: dict) -> set[str]:
    return {action for statement in policy["Statement"] if statement["Effect"] == "Allow" for action in as_list(statement["Action"])}


def statements_granting(policy: dict, action: str) -> list[dict]:
    return [s for s in policy["Statement"] if s["Effect"] == "Allow" and action in as_list(s["Action"])]


def iam_action(call: str) -> str:
    service, _, name = call.partition(":")
    call = f"{IAM_SERVICE_FOR.get(service, service)}:{name}"
    return IAM_ACTION_FOR.get(call, call)


def iam_actions(api_calls: dict[str, int]) -> set[str]:
    return {iam_action(call) for call in api_calls} - NO_PERMISSION_NEEDED


def shipped_plans() -> list[dict]:
    return [yaml.safe_load(path.read_text(encoding="utf-8")) for path in sorted(ROLLOUTS.glob("*.yaml"))]


# --------------------------------------------------------------------------- the policy itself


@pytest.mark.parametrize("path", [POLICY_PATH, ASSIGN_POLICY_PATH, IMPORT_POLICY_PATH], ids=lambda p: p.name)
def test_policy_is_well_formed_and_wildcard_free(path):
    policy = load_policy(path)
    assert policy["Version"] == "2012-10-17"
    sids = [s["Sid"] for s in policy["Statement"]]
    assert len(sids) == len(set(sids))
    for statement in policy["Statement"]:
        assert statement["Effect"] in ("Allow", "Deny")
        assert set(statement) <= {"Sid", "Effect", "Action", "Resource", "Condition"}
        for action in as_list(statement["Action"]):
            service, _, name = action.partition(":")
            assert service in ("ssm", "s3", "sns", "ec2", "cloudwatch") and name.isalnum() and name[0].isupper(), action
    assert allowed_actions(policy) and not any(set(a) & {"*", "?"} for a in allowed_actions(policy))


def test_only_read_and_track_actions_have_no_resource_scope():
    # The listed actions either have no resource-level permissions or act on commands, nodes and alarms found at
    # run time (DescribeAlarms answers about composite alarms only when allowed on *); everything that changes
    # something names its resources.
    unscoped = {a for s in load_policy()["Statement"] if s["Effect"] == "Allow" and "*" in as_list(s["Resource"]) for a in as_list(s["Action"])}
    assert unscoped == {
        "cloudwatch:DescribeAlarms", "ec2:DescribeTags", "ssm:CancelCommand", "ssm:DescribeInstanceInformation", "ssm:DescribeInstancePatchStates", "ssm:DescribeInstancePatches",
        "ssm:DescribeMaintenanceWindows", "ssm:DescribePatchBaselines", "ssm:DescribePatchGroups", "ssm:GetDefaultPatchBaseline", "ssm:GetPatchBaselineForPatchGroup",
        "ssm:ListCommandInvocations", "ssm:ListCommands",
    }


PATCH_GROUP_TAG_KEYS = ("Patch Group", "PatchGroup")
# The patch itself, and the health check's verification commands (Linux, Windows).
SEND_DOCUMENTS = [f"arn:aws:ssm:us-east-1::document/{name}" for name in ("AWS-RunPatchBaseline", "AWS-RunPowerShellScript", "AWS-RunShellScript")]


def send_command_scope_problems(policy: dict, managed_groups: list[str]) -> list[str]:
    """What is wrong with how the policy scopes SendCommand: the patch and health check documents only, and instances of
    managed groups only.

    A node joins a patch group through either tag key and carries one of them, so each key needs its own
    statement: two keys in one condition block must both match, which no such node does.
    """
    grants = statements_granting(policy, "ssm:SendCommand")
    problems = [f"{s['Sid']}: expected SendCommand alone, got {as_list(s['Action'])}" for s in grants if as_list(s["Action"]) != ["ssm:SendCommand"]]
    documents = [s for s in grants if all(":document/" in r for r in as_list(s["Resource"]))]
    instances = [s for s in grants if all(":instance/" in r for r in as_list(s["Resource"]))]
    if len(documents) + len(instances) != len(grants):
        problems.append("expected every SendCommand statement to name documents or instances only")
    if [as_list(s["Resource"]) for s in documents] != [SEND_DOCUMENTS]:
        problems.append(f"expected one statement for the documents {', '.join(SEND_DOCUMENTS)}, got {[as_list(s['Resource']) for s in documents]}")
    conditions = [s.get("Condition") for s in instances]
    expected = [{"StringEquals": {f"ssm:resourceTag/{key}": managed_groups}} for key in PATCH_GROUP_TAG_KEYS]
    for wanted in expected:
        if wanted not in conditions:
            problems.append(f"expected a SendCommand statement for instances with condition {wanted}, got {conditions}")
    for found in conditions:
        if found not in expected:
            problems.append(f"expected only the managed patch group conditions on instances, got {found}")
    return problems


def managed_patch_groups() -> list[str]:
    return sorted({stage["patch_group"] for plan in shipped_plans() for stage in plan["stages"]})


def test_send_command_only_runs_the_patch_and_health_check_documents_on_managed_patch_groups():
    assert send_command_scope_problems(load_policy(), managed_patch_groups()) == []
    assert managed_patch_groups() == ["dev", "prod", "test"]


def without_statement(sid: str) -> dict:
    policy = load_policy()
    policy["Statement"] = [s for s in policy["Statement"] if s["Sid"] != sid]
    return policy


def with_both_tag_keys_in_one_condition() -> dict:
    policy = without_statement("SendOnlyToManagedPatchGroupsTaggedPatchGroup")
    (statement,) = [s for s in policy["Statement"] if s["Sid"] == "SendOnlyToManagedPatchGroups"]
    statement["Condition"]["StringEquals"]["ssm:resourceTag/PatchGroup"] = ["dev", "prod", "test"]
    return policy


def with_send_documents(resources: list[str]) -> dict:
    policy = load_policy()
    (statement,) = [s for s in policy["Statement"] if s["Sid"] == "SendOnlyThePatchAndHealthCheckDocuments"]
    statement["Resource"] = resources
    return policy


GROUPS = ["dev", "prod", "test"]
PATCH_GROUP_ONLY = {"StringEquals": {"ssm:resourceTag/Patch Group": GROUPS}}
BOTH_KEYS_ANDED = {"StringEquals": {"ssm:resourceTag/Patch Group": GROUPS, "ssm:resourceTag/PatchGroup": GROUPS}}
MISSING_PATCH_GROUP_TAG = f"expected a SendCommand statement for instances with condition {{'StringEquals': {{'ssm:resourceTag/PatchGroup': {GROUPS}}}}}, got "


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        pytest.param(without_statement("SendOnlyToManagedPatchGroupsTaggedPatchGroup"), [MISSING_PATCH_GROUP_TAG + str([PATCH_GROUP_ONLY])],
                     id="nodes-tagged-PatchGroup-not-covered"),
        pytest.param(with_both_tag_keys_in_one_condition(),
                     [f"expected a SendCommand statement for instances with condition {PATCH_GROUP_ONLY}, got {[BOTH_KEYS_ANDED]}",
                      MISSING_PATCH_GROUP_TAG + str([BOTH_KEYS_ANDED]),
                      f"expected only the managed patch group conditions on instances, got {BOTH_KEYS_ANDED}"],
                     id="both-keys-in-one-condition-require-both-tags"),
        pytest.param(with_send_documents(["arn:aws:ssm:us-east-1::document/*"]),
                     ["expected one statement for the documents " + ", ".join(SEND_DOCUMENTS) + ", got [['arn:aws:ssm:us-east-1::document/*']]"],
                     id="any-document"),
        pytest.param(with_send_documents(SEND_DOCUMENTS[:1]),
                     ["expected one statement for the documents " + ", ".join(SEND_DOCUMENTS) + f", got [{SEND_DOCUMENTS[:1]}]"],
                     id="health-check-documents-missing"),
    ],
)
def test_a_policy_that_misses_a_patch_group_tag_key_or_widens_the_documents_is_caught(policy, expected):
    assert send_command_scope_problems(policy, GROUPS) == expected


def test_alarm_tags_are_read_from_the_accounts_alarms_only():
    (grant,) = statements_granting(load_policy(), "cloudwatch:ListTagsForResource")
    assert (as_list(grant["Action"]), as_list(grant["Resource"])) == (
        ["cloudwatch:ListTagsForResource"], ["arn:aws:cloudwatch:us-east-1:123456789012:alarm:*"],
    )


def test_maintenance_windows_are_only_read_and_only_the_accounts():
    window_actions = {a for a in allowed_actions(load_policy()) if "MaintenanceWindow" in a}
    assert window_actions == {"ssm:DescribeMaintenanceWindows", "ssm:DescribeMaintenanceWindowTasks", "ssm:GetMaintenanceWindow", "ssm:GetMaintenanceWindowTask"}
    scoped = [s for s in load_policy()["Statement"] if set(as_list(s["Action"])) & (window_actions - {"ssm:DescribeMaintenanceWindows"})]
    assert [(s["Sid"], as_list(s["Resource"])) for s in scoped] == [
        ("ReadStageMaintenanceWindows", ["arn:aws:ssm:us-east-1:123456789012:maintenancewindow/*"])]


def test_ledger_access_is_the_plans_bucket_and_prefixes_only_and_writes_must_be_encrypted():
    ledgers = {urlparse(plan["ledger"]) for plan in shipped_plans() if plan.get("ledger", "").startswith("s3://")}
    buckets = sorted({u.netloc for u in ledgers})
    prefixes = sorted(u.path.strip("/") for u in ledgers)
    objects = [f"arn:aws:s3:::{u.netloc}/{u.path.strip('/')}/*" for u in sorted(ledgers, key=lambda u: u.path)]
    policy = load_policy()
    (objects_grant,) = statements_granting(policy, "s3:PutObject")
    assert sorted(as_list(objects_grant["Action"])) == ["s3:GetObject", "s3:PutObject"]
    assert as_list(objects_grant["Resource"]) == objects
    (listing,) = statements_granting(policy, "s3:ListBucket")
    assert as_list(listing["Resource"]) == [f"arn:aws:s3:::{b}" for b in buckets]
    assert listing["Condition"] == {"StringLike": {"s3:prefix": [f"{p}/*" for p in prefixes]}}
    (deny,) = [s for s in policy["Statement"] if s["Effect"] == "Deny"]
    assert as_list(deny["Action"]) == ["s3:PutObject"] and as_list(deny["Resource"]) == objects
    assert deny["Condition"] == {"StringNotEquals": {"s3:x-amz-server-side-encryption": ["AES256", "aws:kms"]}}


def test_the_airflow_role_writes_only_wave_tags_and_only_the_assignment_policy_writes_patch_group_tags():
    from patchflow.aws.commands import WAVE_TAG_KEY

    instances = "arn:aws:ec2:us-east-1:123456789012:instance/*"
    only_the_wave_tag = {"ForAllValues:StringEquals": {"aws:TagKeys": [WAVE_TAG_KEY]}}
    writes = [s for s in load_policy()["Statement"] if any(a.startswith("ec2:") and not a.startswith("ec2:Describe") for a in as_list(s["Action"]))]
    # A wave tag selects nodes only together with their patch group tag (patchflow.aws.commands.wave_requests), and only
    # nodes of managed patch groups are tagged; removing one needs no patch group, since a node may have left it since.
    assert [(s["Sid"], as_list(s["Action"]), as_list(s["Resource"]), s["Condition"]) for s in writes] == [
        ("TagWaveNodesOfManagedPatchGroups", ["ec2:CreateTags"], [instances],
         {"StringEquals": {"ec2:ResourceTag/Patch Group": managed_patch_groups()}, **only_the_wave_tag, "Null": {"aws:TagKeys": "false"}}),
        ("TagWaveNodesOfManagedPatchGroupsTaggedPatchGroup", ["ec2:CreateTags"], [instances],
         {"StringEquals": {"ec2:ResourceTag/PatchGroup": managed_patch_groups()}, **only_the_wave_tag, "Null": {"aws:TagKeys": "false"}}),
        ("RemoveWaveTags", ["ec2:DeleteTags"], [instances],
         {**only_the_wave_tag, "Null": {"aws:TagKeys": "false", f"ec2:ResourceTag/{WAVE_TAG_KEY}": "false"}}),
    ]
    (grant,) = statements_granting(load_policy(ASSIGN_POLICY_PATH), "ec2:CreateTags")
    assert sorted(as_list(grant["Action"])) == ["ec2:CreateTags", "ec2:DeleteTags"]
    assert as_list(grant["Resource"]) == ["arn:aws:ec2:us-east-1:123456789012:instance/*"]
    assert grant["Condition"] == {"ForAllValues:StringEquals": {"aws:TagKeys": ["Patch Group", "PatchGroup"]}, "Null": {"aws:TagKeys": "false"}}


def test_notifications_publish_only_to_the_plans_topics():
    topics = sorted({plan["notifications"]["sns_topic_arn"] for plan in shipped_plans() if (plan.get("notifications") or {}).get("sns_topic_arn")})
    (grant,) = statements_granting(load_policy(), "sns:Publish")
    assert as_list(grant["Resource"]) == topics


def test_iam_readme_documents_every_statement():
    text = IAM_README.read_text(encoding="utf-8")
    for statement in load_policy()["Statement"] + load_policy(ASSIGN_POLICY_PATH)["Statement"] + load_policy(IMPORT_POLICY_PATH)["Statement"]:
        assert statement["Sid"] in text
    for phrase in ("ssm:resourceTag/Patch Group", "ssm:resourceTag/PatchGroup", "AWS-RunPatchBaseline", "AWS-RunShellScript", "AWS-RunPowerShellScript",
                   "cloudwatch:DescribeAlarms", "cloudwatch:ListTagsForResource", "patchflow-ledger", "patch-rollouts"):
        assert phrase in text


# --------------------------------------------------------------------------- what the project really calls


def run(command: list[str], env: dict[str, str], timeout: float) -> subprocess.CompletedProcess:
    finished = subprocess.run(command, env=env, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=timeout)
    assert finished.returncode == 0, f"{' '.join(command[2:])} exited {finished.returncode}\n{finished.stdout[-3000:]}\n{finished.stderr[-3000:]}"
    return finished


def changed_baselines(folder: Path) -> Path:
    """include/baselines with one of each kind of change sync can make (update, tag, default, delete)."""
    shutil.copytree(BASELINES, folder)
    dev = folder / "dev-al2023.yaml"
    data = yaml.safe_load(dev.read_text())
    data["description"] = data["description"] + " (edited)"
    data["default_for_os"] = True
    dev.write_text(yaml.safe_dump(data, sort_keys=False))
    test = folder / "test-al2023.yaml"
    data = yaml.safe_load(test.read_text())
    data["tags"] = {**(data.get("tags") or {}), "CostCenter": "1234"}
    test.write_text(yaml.safe_dump(data, sort_keys=False))
    (folder / "legacy-windows-2016.yaml").unlink()
    return folder


MEMBERSHIP = """\
# Moves the dev instances from the `Patch Group` key to `PatchGroup`: one CreateTags and one DeleteTags batch.
tag_key: PatchGroup
assignments:
  - group: dev
    tags: {Environment: dev}
"""


def read_a_stage_window(ssm) -> None:
    """What the rollout reads of a stage's SSM window: at the run's start (find_window), at preflight (window_tasks)."""
    from patchflow.aws.maintenance_windows import find_window, window_tasks
    from patchflow.core.maintenance_windows import SsmWindowRef

    window_id = ssm.create_maintenance_window(Name="Weekly-Patch-Window", Schedule="cron(0 2 ? * SUN *)", ScheduleTimezone="Europe/Berlin",
                                              Duration=4, Cutoff=1, AllowUnassociatedTargets=True)["WindowId"]
    ssm.register_task_with_maintenance_window(
        WindowId=window_id, TaskArn="AWS-RunPatchBaseline", TaskType="RUN_COMMAND", MaxConcurrency="1", MaxErrors="1",
        Targets=[{"Key": "InstanceIds", "Values": ["i-0123456789abcdef0"]}],
        TaskInvocationParameters={"RunCommand": {"Parameters": {"Operation": ["Install"]}}},
    )
    found = find_window(ssm, SsmWindowRef("Weekly-Patch-Window"))
    assert found["WindowId"] == window_id, found
    (task,) = window_tasks(ssm, window_id)
    assert task["TaskInvocationParameters"]["RunCommand"]["Parameters"] == {"Operation": ["Install"]}


def tag_and_untag_a_wave(ssm, ec2) -> None:
    """What a wave bigger than one InstanceIds list does with its nodes' wave tag (the demo's waves are smaller): puts it
    on, takes it off once the wave is recorded, and what the run's finish task sweeps of a wave that could not."""
    from patchflow.aws.commands import WAVE_TAG_KEY, PatchCommandRequest
    from patchflow.aws.wave_tags import remove_wave_tags, sweep_run, tag_wave_nodes

    pages = ssm.get_paginator("describe_instance_information").paginate(Filters=[{"Key": "tag:Patch Group", "Values": ["prod"]}])
    nodes = tuple(sorted(i["InstanceId"] for page in pages for i in page["InstanceInformationList"]))
    wave = PatchCommandRequest(operation="Install", reboot_option="RebootIfNeeded", max_concurrency="10%", max_errors="1", timeout_seconds=600,
                               comment="patchflow t0k3n prod I2 all w1", instance_ids=nodes, target_tag=("Patch Group", "prod"),
                               wave_tag=(WAVE_TAG_KEY, "t0k3n prod I2 all w1"))
    assert tag_wave_nodes(ec2, [wave]) == ["t0k3n prod I2 all w1"]
    assert remove_wave_tags(ec2, ["t0k3n prod I2 all w1"]) == len(nodes)
    tag_wave_nodes(ec2, [wave])
    warnings: list[str] = []
    assert (sweep_run({"prod": lambda: ec2}, "t0k3n", warnings.append), warnings) == (len(nodes), [])


def run_groups_report(env: dict[str, str]) -> None:
    """`patchflow groups` exits 1 when it finds membership problems; either way it must have read the fleet."""
    finished = subprocess.run([sys.executable, "-m", "patchflow", "groups"], env=env, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120)
    assert finished.returncode in (0, 1) and "Traceback" not in finished.stderr, f"groups exited {finished.returncode}\n{finished.stderr[-3000:]}"


# `make demo PLAN=include/rollouts/multi-account.yaml FLEET=include/fleets/multi-account.yaml`, as report.json tells it:
# each stage's state and gate verdict and the account and Region of each of its scopes, waves and instance rows (none without).
WHERE_THE_MULTI_ACCOUNT_DEMO_RAN = {
    "outcome": "promoted",
    "dev": ("promoted", True, [("dev", "us-east-1")], {("111111111111", "us-east-1")}, {("111111111111", "us-east-1")}),
    "test": ("promoted", True, [("test", "us-east-1")], {("222222222222", "us-east-1")}, {("222222222222", "us-east-1")}),
    "prod": ("promoted", True, [("prod", "eu-west-1"), ("prod", "eu-central-1")], {("333333333333", "eu-west-1"), ("333333333333", "eu-central-1")},
             {("333333333333", "eu-west-1"), ("333333333333", "eu-central-1")}),
}


def where_the_demo_ran(report: dict) -> dict:
    where = {"outcome": report["outcome"]}
    for stage in report["stages"]:
        waves = {(wave["account"], wave["region"]) for wave in stage["waves"]}
        rows = {(row["account"], row["region"]) for wave in stage["waves"] for row in wave["instances"]}
        where[stage["name"]] = (stage["state"], stage["verdict"]["passed"], [(s["account_alias"], s["region"]) for s in stage["scopes"]], waves, rows)
    return where


@pytest.mark.fleetsim
@pytest.mark.airflow
def test_policies_grant_exactly_the_actions_the_project_calls(tmp_path):
    from fleetsim import running
    from patchflow.aws.commands import cancel_commands

    python = sys.executable
    with running(MULTI_ACCOUNT_FLEET, seed=7, time_scale=600) as sim:
        env = {**os.environ, **sim.env(), "PYTHONPATH": os.pathsep.join([str(PROJECT_ROOT / "plugins"), str(PROJECT_ROOT)])}
        env.pop("AWS_SESSION_TOKEN", None)
        # --- the Airflow role in the hub, and the role it assumes in each target account
        run([python, "-m", "patchflow", "sync", "--plans", MULTI_ACCOUNT_PLAN], env, timeout=120)
        first_sync = set(sim.api_calls())
        demo = run([python, "-m", "patchflow", "demo", "--endpoint", sim.endpoint, "--plan", MULTI_ACCOUNT_PLAN,
                    "--airflow-home", str(tmp_path / "airflow"), "--reports", str(tmp_path / "reports")], env, timeout=900)
        assert "PROMOTED" in demo.stdout
        assert where_the_demo_ran(json.loads((tmp_path / "reports" / "report.json").read_text())) == WHERE_THE_MULTI_ACCOUNT_DEMO_RAN
        lifecycle = run([python, "-m", "patchflow", "sync", "--plans", MULTI_ACCOUNT_PLAN, "--baselines", str(changed_baselines(tmp_path / "baselines")),
                         "--delete-removed"], env, timeout=120)
        for verb in ("update", "tag", "deregister", "set-default", "delete"):
            assert any(line.startswith(verb + " ") for line in lifecycle.stdout.splitlines()), (verb, lifecycle.stdout)
        # In a stage's account, as its assumed role: the cancel the operators and the trigger make on kill or time-out
        # (a healthy demo never reaches it), the wave tags of a wave too big for one InstanceIds list (the demo's are smaller), the
        # reads of a stage whose window stays in SSM, the groups report.
        cancel_commands(sim.client("ssm", account=PROD_ACCOUNT, region="eu-west-1"), ["00000000-0000-0000-0000-000000000000"])
        tag_and_untag_a_wave(sim.client("ssm", account=PROD_ACCOUNT, region="eu-west-1"), sim.client("ec2", account=PROD_ACCOUNT, region="eu-west-1"))
        read_a_stage_window(sim.client("ssm", account=PROD_ACCOUNT, region="eu-west-1"))
        run_groups_report({**env, **sim.env(account=PROD_ACCOUNT, region="eu-west-1")})
        calls = {account: sim.api_calls(account=account) for account in (HUB_ACCOUNT, *TARGET_ACCOUNTS)}
        airflow_calls = sim.api_calls()
        # --- whoever assigns patch groups, in dev's account
        sim.reset_stats()
        membership = tmp_path / "membership.yaml"
        membership.write_text(MEMBERSHIP)
        run([python, "-m", "patchflow", "groups", "--assign", str(membership)], {**env, **sim.env(account=TARGET_ACCOUNTS[0])}, timeout=120)
        assign_calls = sim.api_calls()

    assert first_sync <= {"sts:AssumeRole", "sts:GetCallerIdentity", "ssm:CreatePatchBaseline", "ssm:DescribePatchBaselines", "ssm:DescribePatchGroups",
                          "ssm:GetDefaultPatchBaseline", "ssm:RegisterPatchBaselineForPatchGroup"}
    assert DEMO_SETUP_ONLY <= set(calls[HUB_ACCOUNT]), "the demo no longer creates the bucket and topic: update DEMO_SETUP_ONLY"
    assert WINDOW_SETUP_ONLY <= set(calls[PROD_ACCOUNT])
    setup = DEMO_SETUP_ONLY | WINDOW_SETUP_ONLY
    # Every call was made in one of the fleet's accounts, and each account's calls are exactly what its role grants.
    assert sum(sum(counted.values()) for counted in calls.values()) == sum(airflow_calls.values())
    hub_used = iam_actions({call: n for call, n in calls[HUB_ACCOUNT].items() if call not in setup})
    assert sorted(hub_used ^ allowed_actions(load_policy(HUB_POLICY_PATH))) == [], "the hub policy and the hub's calls differ"
    target_used = set().union(*(iam_actions({call: n for call, n in calls[account].items() if call not in setup}) for account in TARGET_ACCOUNTS))
    assert sorted(target_used ^ allowed_actions(load_policy(TARGET_POLICY_PATH))) == [], "the target role policy and the target accounts' calls differ"
    # One account does everything itself: the single-account policy is the two less the AssumeRole between them.
    used = iam_actions({call: n for call, n in airflow_calls.items() if call not in setup}) - {"sts:AssumeRole"}
    granted = allowed_actions(load_policy())
    assert sorted(used - granted) == [], "the project calls actions the Airflow policy does not grant"
    assert sorted(granted - used) == [], "the Airflow policy grants actions the project never calls"
    assert sorted(iam_actions(assign_calls)) == sorted(allowed_actions(load_policy(ASSIGN_POLICY_PATH)))


def test_the_import_policy_writes_only_tags_on_the_accounts_patch_baselines():
    policy = load_policy(IMPORT_POLICY_PATH)
    writes = {a for a in allowed_actions(policy) if not a.split(":")[1].startswith(("Describe", "Get"))}
    (grant,) = statements_granting(policy, "ssm:AddTagsToResource")
    assert (writes, as_list(grant["Resource"])) == ({"ssm:AddTagsToResource"}, ["arn:aws:ssm:us-east-1:123456789012:patchbaseline/*"])


@pytest.mark.fleetsim
def test_the_import_policy_grants_exactly_the_actions_an_import_calls(tmp_path):
    """`patchflow import` is run by a person, never the Airflow role: its calls against an account with a custom
    baseline and a patch window, recorded and compared with patchflow-import-policy.json both ways."""
    from fleetsim import running

    fleet = {"groups": [{"name": "production", "count": 1, "platform": "WINDOWS", "tags": {"Patch Group": "Production"}}]}
    with running(fleet, seed=3, time_scale=120) as sim:
        env = {**os.environ, **sim.env(), "PYTHONPATH": os.pathsep.join([str(PROJECT_ROOT / "plugins"), str(PROJECT_ROOT)])}
        ssm = sim.client("ssm")
        baseline_id = ssm.create_patch_baseline(Name="MyCustomPatchBaseline", OperatingSystem="WINDOWS", ApprovedPatches=["KB5044735"])["BaselineId"]
        ssm.register_patch_baseline_for_patch_group(BaselineId=baseline_id, PatchGroup="Production")
        window_id = ssm.create_maintenance_window(Name="Weekly-Patch-Window", Schedule="cron(0 2 ? * SUN *)", Duration=4, Cutoff=1,
                                                  AllowUnassociatedTargets=True)["WindowId"]
        target_id = ssm.register_target_with_maintenance_window(
            WindowId=window_id, ResourceType="INSTANCE", Targets=[{"Key": "tag:Patch Group", "Values": ["Production"]}])["WindowTargetId"]
        ssm.register_task_with_maintenance_window(
            WindowId=window_id, Targets=[{"Key": "WindowTargetIds", "Values": [target_id]}], TaskArn="AWS-RunPatchBaseline", TaskType="RUN_COMMAND",
            MaxConcurrency="1", MaxErrors="0", TaskInvocationParameters={"RunCommand": {"Parameters": {"Operation": ["Install"]}}})
        folders = []
        for name in ("baselines", "rollouts", "dags"):
            (tmp_path / name).mkdir()
            folders += [f"--{name}", str(tmp_path / name)]
        sim.reset_stats()
        run([sys.executable, "-m", "patchflow", "import", "--dry-run", *folders], env, timeout=120)
        dry_run_calls = sim.api_calls()
        sim.reset_stats()
        run([sys.executable, "-m", "patchflow", "import", *folders], env, timeout=120)
        import_calls = sim.api_calls()

    assert sorted(p.name for p in tmp_path.rglob("*.*")) == ["MyCustomPatchBaseline.yaml", "imported.yaml", "rollout_imported.py"]
    assert sorted(iam_actions(dry_run_calls)) == sorted(iam_actions(import_calls) - {"ssm:AddTagsToResource"})
    assert sorted(iam_actions(import_calls)) == sorted(allowed_actions(load_policy(IMPORT_POLICY_PATH)))
