"""`python -m patchflow sync` in every account and Region the plans patch, against the multi-account fleet.

Each scope of include/rollouts/multi-account.yaml gets the managed baselines and their patch groups, and the
hub (the environment's own account and Region), where no stage patches, gets nothing; a second sync changes nothing; an account whose role
cannot be assumed, whose Airflow connection is missing or reaches another account is reported while the
others are synced; a broken plan stops sync before any change.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
import yaml

from fleetsim.testing import fleetsim_fixture
from patchflow.aws.baseline_sync import plan_sync, read_actual_state
from patchflow.core.baselines import load_baselines
from patchflow.core.yamlfile import PROJECT_ROOT

MULTI_ACCOUNT_PLAN = PROJECT_ROOT / "include" / "rollouts" / "multi-account.yaml"
BASELINES = load_baselines(PROJECT_ROOT / "include" / "baselines")
OPERATING_SYSTEMS = sorted({b.operating_system for b in BASELINES})

# (label, name, account as fleetsim names it, Region) in the order sync reaches them.
HUB = ("default", "the rollout connection's account and Region", None, "us-east-1")
PLAN_SCOPES = [
    ("dev-us-east-1", "account dev (111111111111), Region us-east-1", "dev", "us-east-1"),
    ("test-us-east-1", "account test (222222222222), Region us-east-1", "test", "us-east-1"),
    ("prod-eu-west-1", "account prod (333333333333), Region eu-west-1", "prod", "eu-west-1"),
    ("prod-eu-central-1", "account prod (333333333333), Region eu-central-1", "prod", "eu-central-1"),
]
SHARED = ("shared-eu-west-1", "account shared (444444444444), Region eu-west-1", None, "eu-west-1")
SHARED_ROLE = "arn:aws:iam::444444444444:role/patchflow-target"

multi_account_fleet = fleetsim_fixture("include/fleets/multi-account.yaml", seed=1, scope="function")


def sync(sim, *options: str) -> tuple[int, str, str]:
    finished = subprocess.run([sys.executable, "-m", "patchflow", "sync", *options], env={**os.environ, **sim.env()},
                              cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300)
    return finished.returncode, finished.stdout, finished.stderr


def ssm_in(sim, account: str | None, region: str):
    return sim.client("ssm", account=account, region=region)


def planned_lines(sim, account: str | None, region: str) -> list[str]:
    """What sync should do in one scope as it is now: the planner's changes for that scope's own state."""
    return [str(change) for change in plan_sync(BASELINES, read_actual_state(ssm_in(sim, account, region), OPERATING_SYSTEMS)).changes]


def managed_setup(sim, account: str | None, region: str) -> tuple[list[str], list[tuple[str, str, str]]]:
    """The scope's own baselines (owner Self) and its patch group registrations (group, baseline, OS), sorted."""
    ssm = ssm_in(sim, account, region)
    owned = [identity["BaselineName"] for page in ssm.get_paginator("describe_patch_baselines").paginate(Filters=[{"Key": "OWNER", "Values": ["Self"]}])
             for identity in page["BaselineIdentities"]]
    groups = [(mapping["PatchGroup"], mapping["BaselineIdentity"]["BaselineName"], mapping["BaselineIdentity"]["OperatingSystem"])
              for page in ssm.get_paginator("describe_patch_groups").paginate() for mapping in page["Mappings"]]
    return sorted(owned), sorted(groups)


WANTED_SETUP = (
    sorted(b.name for b in BASELINES if not b.predefined),
    sorted((group, b.name, b.operating_system) for b in BASELINES for group in b.patch_groups),
)


@pytest.fixture
def plans(tmp_path):
    folder = tmp_path / "rollouts"
    folder.mkdir()
    shutil.copy(MULTI_ACCOUNT_PLAN, folder)
    return folder


def write_plan(folder, name: str, accounts: list[dict], stages: list[dict]) -> None:
    plan = {"name": name, "owner": "release-engineering", "ledger": "s3://patchflow-ledger/runs",
            "accounts": {"role": "arn:aws:iam::{account}:role/patchflow-target", "external_id": "patchflow", "list": accounts},
            "stages": stages}
    (folder / f"{name}.yaml").write_text(yaml.safe_dump(plan, sort_keys=False))


@pytest.mark.fleetsim
def test_sync_reaches_every_account_and_region_then_changes_nothing(multi_account_fleet, plans):
    sim = multi_account_fleet
    scopes = PLAN_SCOPES
    lines = {label: planned_lines(sim, account, region) for label, _, account, region in scopes}
    assert all(lines.values())  # every scope starts without the managed baselines

    code, out, err = sync(sim, "--plans", str(plans))
    changes = sum(len(found) for found in lines.values())
    expected = [line for label, name, _, _ in scopes for line in [f"== {label}: {name} ==", *lines[label]]]
    assert (code, out.splitlines(), err) == (0, [*expected, f"sync: made {changes} changes, 0 conflicts in 4 accounts and Regions"], "")
    assert {label: managed_setup(sim, account, region) for label, _, account, region in scopes} == {label: WANTED_SETUP for label, *_ in scopes}
    # The hub's role may not write baselines (include/iam/patchflow-hub-policy.json), and no stage patches there.
    assert managed_setup(sim, HUB[2], HUB[3]) == ([], [])

    headings = [f"== {label}: {name} ==" for label, name, _, _ in scopes]
    assert sync(sim, "--plans", str(plans)) == (0, "\n".join([*headings, "sync: made 0 changes, 0 conflicts in 4 accounts and Regions"]) + "\n", "")


@pytest.mark.fleetsim
def test_an_account_whose_role_cannot_be_assumed_is_reported_and_the_others_are_synced(multi_account_fleet, plans):
    sim = multi_account_fleet
    # Sorted before multi-account.yaml: the refused account comes before the plan's own, which are still synced.
    write_plan(plans, "extra", [{"id": "444444444444", "alias": "shared"}],
               [{"name": "shared", "patch_group": "shared", "targets": {"account": "shared", "regions": ["eu-west-1"]}, "approval": True}])
    scopes = PLAN_SCOPES
    lines = {label: planned_lines(sim, account, region) for label, _, account, region in scopes}

    code, out, err = sync(sim, "--plans", str(plans))
    changes = sum(len(found) for found in lines.values())
    expected = [line for label, name, _, _ in [SHARED, *PLAN_SCOPES] for line in [f"== {label}: {name} ==", *lines.get(label, [])]]
    assert (code, out.splitlines(), err) == (
        1,
        [*expected, f"sync: made {changes} changes, 0 conflicts in 5 accounts and Regions"],
        f"patchflow sync: account shared (444444444444), Region eu-west-1: cannot assume role {SHARED_ROLE}: AccessDenied: "
        f"User: arn:aws:sts::123456789012:user/moto is not authorized to perform: sts:AssumeRole on resource: {SHARED_ROLE}\n",
    )
    assert {label: managed_setup(sim, account, region) for label, _, account, region in scopes} == {label: WANTED_SETUP for label, *_ in scopes}


@pytest.mark.fleetsim
def test_a_broken_plan_stops_sync_before_any_change(multi_account_fleet, plans):
    sim = multi_account_fleet
    write_plan(plans, "extra", [{"id": "444444444444", "alias": "shared"}],
               [{"name": "shared", "patch_group": "shared", "targets": {"account": "staging", "regions": ["eu-west-1"]}, "approval": True}])

    assert sync(sim, "--plans", str(plans)) == (
        1,
        "",
        f"{plans / 'extra.yaml'}:14:5: stages[0] (shared).targets.account: expected an account the plan lists, by alias or id (shared), got 'staging'\n"
        "patchflow sync: --plans: expected rollout plans without problems, got 1; nothing was synced\n",
    )
    assert managed_setup(sim, None, "us-east-1") == ([], [])


@pytest.mark.fleetsim
def test_one_plan_file_names_the_scopes(multi_account_fleet, plans, tmp_path):
    sim = multi_account_fleet
    # A plan in a folder of plans the fleet does not serve: --plans FILE reaches only what that one patches.
    write_plan(plans, "extra", [{"id": "444444444444", "alias": "shared"}],
               [{"name": "shared", "patch_group": "shared", "targets": {"account": "shared", "regions": ["eu-west-1"]}, "approval": True}])

    scopes = PLAN_SCOPES
    lines = {label: planned_lines(sim, account, region) for label, _, account, region in scopes}

    code, out, err = sync(sim, "--dry-run", "--plans", str(plans / "multi-account.yaml"))
    changes = sum(len(found) for found in lines.values())
    expected = [line for label, name, _, _ in scopes for line in [f"== {label}: {name} ==", *(f"would {change}" for change in lines[label])]]
    assert (code, out.splitlines(), err) == (0, [*expected, f"sync: would make {changes} changes, 0 conflicts in 4 accounts and Regions"], "")
    assert {label: managed_setup(sim, account, region) for label, _, account, region in scopes} == {label: ([], []) for label, *_ in scopes}


def test_plans_that_do_not_exist_stop_sync(tmp_path):
    missing = tmp_path / "nowhere"
    finished = subprocess.run([sys.executable, "-m", "patchflow", "sync", "--plans", str(missing)], cwd=PROJECT_ROOT,
                              capture_output=True, text=True, timeout=120)
    assert (finished.returncode, finished.stdout, finished.stderr) == (
        2, "", f"patchflow sync: --plans: expected an existing folder or plan file, got {str(missing)!r}\n")


@pytest.mark.fleetsim
def test_accounts_reached_through_their_own_airflow_connections(multi_account_fleet, plans):
    sim = multi_account_fleet
    (plans / "multi-account.yaml").unlink()
    write_plan(plans, "connected", [{"id": "333333333333", "alias": "prod", "connection": "aws_prod"},
                                     {"id": "222222222222", "alias": "test", "connection": "aws_hub_keys"},
                                     {"id": "111111111111", "alias": "dev", "connection": "aws_nowhere"}],
               [{"name": "dev", "patch_group": "dev", "targets": {"account": "dev", "regions": ["us-east-1"]}},
                {"name": "test", "patch_group": "test", "targets": {"account": "test", "regions": ["us-east-1"]}},
                {"name": "prod", "patch_group": "prod", "targets": {"account": "prod", "regions": ["eu-west-1"]}, "approval": True}])
    scopes = [PLAN_SCOPES[2]]
    lines = {label: planned_lines(sim, account, region) for label, _, account, region in scopes}

    def connection(account: str | None) -> str:
        keys = sim.env(account=account)
        return json.dumps({"conn_type": "aws", "login": keys["AWS_ACCESS_KEY_ID"], "password": keys["AWS_SECRET_ACCESS_KEY"],
                           "extra": {"endpoint_url": sim.endpoint}})

    # aws_hub_keys holds the hub's own keys: without the account check, test's baselines would land in the hub.
    connections = {"AIRFLOW_CONN_AWS_PROD": connection("prod"), "AIRFLOW_CONN_AWS_HUB_KEYS": connection(None)}
    finished = subprocess.run([sys.executable, "-m", "patchflow", "sync", "--plans", str(plans)], cwd=PROJECT_ROOT, capture_output=True, text=True,
                              timeout=300, env={**os.environ, **sim.env(), **connections})
    changes = sum(len(found) for found in lines.values())
    dev, test = PLAN_SCOPES[0], PLAN_SCOPES[1]
    expected = [f"== {dev[0]}: {dev[1]} ==", f"== {test[0]}: {test[1]} ==",
                f"== {PLAN_SCOPES[2][0]}: {PLAN_SCOPES[2][1]} ==", *lines["prod-eu-west-1"]]
    assert (finished.returncode, finished.stdout.splitlines(), finished.stderr.splitlines()) == (
        1,
        [*expected, f"sync: made {changes} changes, 0 conflicts in 3 accounts and Regions"],
        [f"patchflow sync: {dev[1]}: cannot use Airflow connection 'aws_nowhere': The conn_id `aws_nowhere` isn't defined",
         f"patchflow sync: {test[1]}: the credentials reached account 123456789012 (arn:aws:sts::123456789012:user/moto), not 222222222222"],
    )
    assert {label: managed_setup(sim, account, region) for label, _, account, region in [HUB, *PLAN_SCOPES]} == {
        "default": ([], []), "dev-us-east-1": ([], []), "test-us-east-1": ([], []), "prod-eu-west-1": WANTED_SETUP, "prod-eu-central-1": ([], [])}
