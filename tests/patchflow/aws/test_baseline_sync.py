"""Baseline sync: the pure planner as tables, the boto3 shell against moto and fleetsim."""
from __future__ import annotations

import copy
import os
import shutil
import subprocess
import sys
from dataclasses import replace

import boto3
import pytest
from moto import mock_aws

from patchflow.core.yamlfile import PROJECT_ROOT
from patchflow.core.baselines import ApprovalRule, Baseline, PatchFilter, load_baselines
from patchflow.aws.baseline_sync import ActualBaseline, ActualState, apply_changes, plan_sync, read_actual_state

MANAGED = {"managed-by": "patchflow"}
AWS_WINDOWS = ActualBaseline("arn:aws:ssm:us-east-1:075727635805:patchbaseline/pb-09ca3fb51f0412ec3", "AWS-DefaultPatchBaseline", "WINDOWS", owned_by_aws=True)
AWS_UBUNTU = ActualBaseline("arn:aws:ssm:us-east-1:075727635805:patchbaseline/pb-0c7e89f711c3095f4", "AWS-UbuntuDefaultPatchBaseline", "UBUNTU", owned_by_aws=True)


def desired(name="dev-windows", groups=("dev",), default=False, days=7, tags=(), operating_system="WINDOWS"):
    rule = ApprovalRule((PatchFilter("CLASSIFICATION", ("SecurityUpdates",)),), approve_after_days=days, compliance_level="HIGH")
    return Baseline(name=name, operating_system=operating_system, approval_rules=(rule,), patch_groups=tuple(groups), default_for_os=default, tags=tuple(tags), source=f"{name}.yaml")


def actual(baseline: Baseline, baseline_id: str, tags=MANAGED) -> ActualBaseline:
    return ActualBaseline(baseline_id, baseline.name, baseline.operating_system, tags=dict(tags), document={"BaselineId": baseline_id, **baseline.to_api()})


DEV = desired()
DEV_IN_SSM = actual(DEV, "pb-0000000000000dev")
PROD = desired("prod-windows", groups=("prod",), days=14)
PROD_IN_SSM = actual(PROD, "pb-000000000000prod")
STATE = ActualState((AWS_WINDOWS, AWS_UBUNTU, DEV_IN_SSM), {("dev", "WINDOWS"): DEV_IN_SSM.baseline_id}, {"WINDOWS": AWS_WINDOWS.baseline_id})

# (id, desired, actual, delete_removed, (changes as text, conflicts, notes))
CASES = [
    ("empty-account-creates-then-registers", [DEV, PROD], ActualState((AWS_WINDOWS,)), False, (
        ["create dev-windows: WINDOWS", "create prod-windows: WINDOWS", "register dev-windows: patch group dev (WINDOWS)", "register prod-windows: patch group prod (WINDOWS)"], [], [])),
    ("in-sync-does-nothing", [DEV], STATE, False, ([], [], [])),
    ("drift-is-a-full-update", [desired(days=3)], STATE, False, (["update dev-windows: ApprovalRules differ"], [], [])),
    ("description-drift", [replace(DEV, description="new words")], STATE, False, (["update dev-windows: Description differ"], [], [])),
    ("missing-tag-is-added", [desired(tags=(("Owner", "platform"),))], STATE, False, (["tag dev-windows: Owner=platform"], [], [])),
    ("unmanaged-same-name-is-never-touched", [DEV], ActualState((replace(DEV_IN_SSM, tags={}),), {}), False, ([], [
        "dev-windows.yaml: baseline 'dev-windows' already exists (pb-0000000000000dev) without tag managed-by=patchflow; sync never touches it (tag it to adopt it, or rename the file's baseline)"], [])),
    ("operating-system-cannot-change", [desired(operating_system="UBUNTU", days=None)], STATE, False, ([], [
        "dev-windows.yaml: baseline 'dev-windows' exists for WINDOWS, the file says UBUNTU; the operating system of a baseline cannot change, delete it or rename the file's baseline"], [])),
    ("group-moves-from-managed-baseline", [desired(groups=()), desired("dev2-windows")], STATE, False, (
        ["create dev2-windows: WINDOWS", "deregister dev-windows: patch group dev (WINDOWS)", "register dev2-windows: patch group dev (WINDOWS)"], [], [])),
    ("group-moves-from-aws-baseline", [DEV], replace(STATE, registrations={("dev", "WINDOWS"): AWS_WINDOWS.baseline_id}), False, (
        ["deregister AWS-DefaultPatchBaseline: patch group dev (WINDOWS)", "register dev-windows: patch group dev (WINDOWS)"], [], [])),
    ("group-held-by-unmanaged-is-a-conflict", [DEV], ActualState((AWS_WINDOWS, DEV_IN_SSM, ActualBaseline("pb-00000000000hand", "by-hand", "WINDOWS")), {("dev", "WINDOWS"): "pb-00000000000hand"}), False, ([], [
        "patch group 'dev' is registered for WINDOWS to by-hand (pb-00000000000hand), which sync does not manage; deregister it to let dev-windows have the group"], [])),
    ("stale-group-of-managed-baseline", [desired(groups=("dev",))], replace(STATE, registrations={("dev", "WINDOWS"): DEV_IN_SSM.baseline_id, ("old", "WINDOWS"): DEV_IN_SSM.baseline_id}), False, (
        ["deregister dev-windows: patch group old (WINDOWS)"], [], [])),
    ("same-group-other-os-is-independent", [DEV, desired("dev-ubuntu", operating_system="UBUNTU", days=None)], STATE, False, (
        ["create dev-ubuntu: UBUNTU", "register dev-ubuntu: patch group dev (UBUNTU)"], [], [])),
    ("removed-without-flag-is-left-alone", [], STATE, False, ([], [], [
        "dev-windows (pb-0000000000000dev) has no file any more; left as it is (--delete-removed deletes it)"])),
    ("removed-with-flag-is-freed-then-deleted", [], STATE, True, (
        ["deregister dev-windows: patch group dev (WINDOWS)", "delete dev-windows: no file any more"], [], [])),
    ("removed-default-gets-aws-default-back", [], replace(STATE, defaults={"WINDOWS": DEV_IN_SSM.baseline_id}), True, (
        ["deregister dev-windows: patch group dev (WINDOWS)", "set-default AWS-DefaultPatchBaseline: default for WINDOWS again, instead of dev-windows", "delete dev-windows: no file any more"], [], [])),
    ("unmanaged-baselines-are-never-deleted", [], ActualState((ActualBaseline("pb-00000000000hand", "by-hand", "WINDOWS"),)), True, ([], [], [])),
    ("default-is-set", [desired(default=True)], STATE, False, (["set-default dev-windows: default for WINDOWS"], [], [])),
    ("default-of-new-baseline", [desired("new-windows", groups=(), default=True)], ActualState((AWS_WINDOWS,), {}, {"WINDOWS": AWS_WINDOWS.baseline_id}), False, (
        ["create new-windows: WINDOWS", "set-default new-windows: default for WINDOWS"], [], [])),
    ("default-already-set", [desired(default=True)], replace(STATE, defaults={"WINDOWS": DEV_IN_SSM.baseline_id}), False, ([], [], [])),
    ("default-dropped-from-file", [DEV], replace(STATE, defaults={"WINDOWS": DEV_IN_SSM.baseline_id}), False, (
        ["set-default AWS-DefaultPatchBaseline: default for WINDOWS again, instead of dev-windows"], [], [])),
    ("predefined-is-registered-not-created", [DEV, Baseline("AWS-UbuntuDefaultPatchBaseline", "UBUNTU", patch_groups=("legacy",), predefined=True, source="aws.yaml")], STATE, False, (
        ["register AWS-UbuntuDefaultPatchBaseline: patch group legacy (UBUNTU)"], [], [])),
    ("predefined-missing-is-a-conflict", [DEV, Baseline("AWS-SuseDefaultPatchBaseline", "SUSE", patch_groups=("legacy",), predefined=True, source="aws.yaml")], STATE, False, ([], [
        "aws.yaml: predefined baseline 'AWS-SuseDefaultPatchBaseline' is not offered in this account and region"], [])),
]


@pytest.mark.parametrize("wanted, state, delete_removed, expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_plan_sync(wanted, state, delete_removed, expected):
    plan = plan_sync(wanted, state, delete_removed=delete_removed)
    assert ([str(c) for c in plan.changes], list(plan.conflicts), list(plan.notes)) == expected


def test_update_is_a_full_replace_of_the_managed_baseline():
    (change,) = plan_sync([replace(DEV, description="new words")], STATE).changes
    assert change.kwargs == replace(DEV, description="new words").to_update_kwargs("pb-0000000000000dev")
    assert change.kwargs["Replace"] is True


def test_create_carries_the_managed_tag():
    (change, _) = plan_sync([desired(tags=(("Owner", "platform"),))], ActualState()).changes
    assert change.kwargs["Tags"] == [{"Key": "Owner", "Value": "platform"}, {"Key": "managed-by", "Value": "patchflow"}]


def test_export_defaults_do_not_read_as_drift():
    exported = {**DEV.to_api(), "GlobalFilters": None, "Description": None, "Sources": None, "AvailableSecurityUpdatesComplianceStatus": "COMPLIANT"}
    exported["ApprovalRules"]["PatchRules"][0].pop("EnableNonSecurity")
    state = replace(STATE, baselines=(replace(DEV_IN_SSM, document=exported),))
    assert plan_sync([DEV], state).changes == ()


# --------------------------------------------------------------------------- the executor on moto


@mock_aws
def test_apply_changes_on_moto_creates_registers_deregisters_and_deletes():
    ssm = boto3.client("ssm", region_name="us-east-1")
    # moto 5.2.5 cannot tag a patch baseline (InvalidResourceId), so creates go out untagged here; fleetsim covers tags.
    changes = [
        replace(c, kwargs={k: v for k, v in c.kwargs.items() if k != "Tags"}) for c in plan_sync([DEV, PROD], ActualState()).changes
    ]
    created = apply_changes(ssm, changes, report=lambda line: None)
    assert sorted(created) == ["dev-windows", "prod-windows"]
    assert ssm.get_patch_baseline_for_patch_group(PatchGroup="dev", OperatingSystem="WINDOWS")["BaselineId"] == created["dev-windows"]

    # moto has no GetPatchBaseline or DescribePatchGroups either, so the state is written out here.
    state = ActualState(
        (actual(DEV, created["dev-windows"]), actual(PROD, created["prod-windows"])),
        {("dev", "WINDOWS"): created["dev-windows"], ("prod", "WINDOWS"): created["prod-windows"]},
    )
    lines: list[str] = []
    apply_changes(ssm, plan_sync([PROD], state, delete_removed=True).changes, report=lines.append)
    assert lines == ["deregister dev-windows: patch group dev (WINDOWS)", "delete dev-windows: no file any more"]
    assert [b["BaselineName"] for b in ssm.describe_patch_baselines()["BaselineIdentities"]] == ["prod-windows"]


# --------------------------------------------------------------------------- the whole command on fleetsim


@pytest.fixture(scope="module")
def fleet():
    from fleetsim import running

    with running("include/fleets/demo.yaml", seed=7, time_scale=600) as sim:
        yield sim


def sync(fleet, *options, baselines=None):
    env = {**os.environ, **fleet.env()}
    # The demo plan: one account and Region, the fleet's own.
    argv = [sys.executable, "-m", "patchflow", "sync", "--plans", "include/rollouts/demo.yaml", *options] + (["--baselines", str(baselines)] if baselines else [])
    finished = subprocess.run(argv, env=env, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120)
    return finished.returncode, finished.stdout, finished.stderr


@pytest.mark.fleetsim
def test_sync_on_fleetsim_converges_then_follows_edits(fleet, tmp_path):
    folder = tmp_path / "baselines"
    shutil.copytree(PROJECT_ROOT / "include" / "baselines", folder)
    baselines = load_baselines(folder)
    changes = len([b for b in baselines if not b.predefined]) + sum(len(b.patch_groups) for b in baselines)

    assert sync(fleet, "--dry-run", baselines=folder)[2] == ""
    assert sync(fleet, baselines=folder)[0] == 0
    assert sync(fleet, baselines=folder) == (0, "sync: made 0 changes, 0 conflicts\n", "")
    ssm = fleet.client("ssm")
    state = read_actual_state(ssm, ["WINDOWS"])
    assert sum(1 for b in state.baselines if b.managed) == len([b for b in baselines if not b.predefined])
    assert len(state.registrations) == changes - len([b for b in baselines if not b.predefined])

    (folder / "prod-windows.yaml").write_text((folder / "prod-windows.yaml").read_text().replace("approve_after_days: 14", "approve_after_days: 21"))
    (folder / "legacy-windows-2016.yaml").unlink()
    code, out, err = sync(fleet, "--delete-removed", baselines=folder)
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        "update patchflow-prod-windows: ApprovalRules differ",
        "deregister MyCustomPatchBaseline: patch group legacy-windows (WINDOWS)",
        "delete MyCustomPatchBaseline: no file any more",
        "sync: made 3 changes, 0 conflicts",
    ]
    prod_id = ssm.get_patch_baseline_for_patch_group(PatchGroup="prod", OperatingSystem="WINDOWS")["BaselineId"]
    rules = ssm.get_patch_baseline(BaselineId=prod_id)["ApprovalRules"]["PatchRules"]
    assert [r.get("ApproveAfterDays") for r in rules] == [21, 7]


@pytest.mark.fleetsim
def test_sync_on_fleetsim_reports_and_corrects_a_console_edit(fleet):
    # Converge first: the other fleetsim test may have left this server in any state.
    assert sync(fleet)[0] == 0
    assert sync(fleet) == (0, "sync: made 0 changes, 0 conflicts\n", "")
    ssm = fleet.client("ssm")
    prod_id = ssm.get_patch_baseline_for_patch_group(PatchGroup="prod", OperatingSystem="WINDOWS")["BaselineId"]
    as_committed = ssm.get_patch_baseline(BaselineId=prod_id)

    # What someone does in the console: loosen the rules, reword it, take the group away.
    rules = copy.deepcopy(as_committed["ApprovalRules"])
    rules["PatchRules"][0]["ApproveAfterDays"] = 0
    ssm.update_patch_baseline(BaselineId=prod_id, ApprovalRules=rules, Description="hotfix, approve at once")
    ssm.deregister_patch_baseline_for_patch_group(BaselineId=prod_id, PatchGroup="prod")
    drift = [
        "update patchflow-prod-windows: Description, ApprovalRules differ",
        "register patchflow-prod-windows: patch group prod (WINDOWS)",
    ]

    assert sync(fleet, "--dry-run") == (0, "".join(f"would {line}\n" for line in drift) + "sync: would make 2 changes, 0 conflicts\n", "")
    assert sync(fleet) == (0, "".join(f"{line}\n" for line in drift) + "sync: made 2 changes, 0 conflicts\n", "")
    restored = ssm.get_patch_baseline(BaselineId=prod_id)
    assert {key: restored[key] for key in ("Description", "ApprovalRules", "PatchGroups")} == {
        key: as_committed[key] for key in ("Description", "ApprovalRules", "PatchGroups")
    }
    assert sync(fleet) == (0, "sync: made 0 changes, 0 conflicts\n", "")
