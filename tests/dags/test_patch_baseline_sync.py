"""The patch_baseline_sync DAG through real Airflow (dag.test) against fleetsim.

Dry run, apply, a console edit corrected, a second run that changes nothing,
and a conflict that fails the run: the DAG plans exactly what
`python -m patchflow sync --dry-run` prints, because both call the same code.
On the multi-account fleet it syncs every account and Region the plans patch,
and a dry run that cannot read an account fails.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
import yaml

from fleetsim.testing import aws_endpoint_env, fleetsim_fixture  # noqa: F401 (aws_endpoint_env is a fixture)
from patchflow.aws.baseline_sync import plan_sync, read_actual_state
from patchflow.core.baselines import load_baselines
from patchflow.core.yamlfile import PROJECT_ROOT

DAG_FILE = PROJECT_ROOT / "dags" / "patch_baseline_sync.py"

demo_fleet = fleetsim_fixture("include/fleets/demo.yaml", seed=7, time_scale=600)
multi_account_fleet = fleetsim_fixture("include/fleets/multi-account.yaml", seed=1)

DEMO_PLAN = PROJECT_ROOT / "include" / "rollouts" / "demo.yaml"
MULTI_ACCOUNT_PLAN = PROJECT_ROOT / "include" / "rollouts" / "multi-account.yaml"
DEFAULT_NAME = "the rollout connection's account and Region"


@pytest.fixture(scope="module")
def sync_dag():
    from airflow.dag_processing.dagbag import DagBag
    from airflow.utils.db import resetdb

    resetdb()  # the session's AIRFLOW_HOME is a fresh temp folder; dag.test() needs its tables
    bag = DagBag(dag_folder=str(DAG_FILE))
    assert bag.import_errors == {}
    return bag.get_dag("patch_baseline_sync")


def run_dag(dag, **conf) -> tuple[dict, dict]:
    """(task states, task return values) of one dag.test() run."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    dag_run = dag.test(run_conf={"dry_run": False, "delete_removed": False, **conf})
    states = {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}
    with create_session() as session:
        rows = session.query(XComModel).filter(
            XComModel.dag_id == dag.dag_id, XComModel.run_id == dag_run.run_id, XComModel.key == "return_value"
        ).all()
        returned = {row.task_id: row.value for row in rows}
    return states, returned


def cli_plan(fleet) -> list[str]:
    """What `python -m patchflow sync --dry-run` would do (a subprocess: Airflow's logging owns this one's stdout)."""
    finished = subprocess.run(
        [sys.executable, "-m", "patchflow", "sync", "--dry-run"],
        env={**os.environ, **fleet.env()}, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120,
    )
    assert (finished.returncode, finished.stderr) == (0, "")
    return [line.removeprefix("would ") for line in finished.stdout.splitlines()[:-1]]


def outcome(changes, applied, scope=DEFAULT_NAME):
    return {"scope": scope, "changes": changes, "conflicts": [], "notes": [], "applied": applied, "problem": None}


def in_default_scope(entry: dict) -> dict:
    """A task's return when the plans patch only the connection's own account and Region."""
    return {"default": entry}


@pytest.fixture
def demo_plans(monkeypatch):
    """The demo fleet serves one account: sync reads the plan that patches only there."""
    monkeypatch.setenv("PATCHFLOW_PLANS_DIR", str(DEMO_PLAN))


@pytest.mark.airflow
@pytest.mark.fleetsim
def test_dry_run_apply_drift_and_idempotence(sync_dag, demo_fleet, aws_endpoint_env, demo_plans):
    aws_endpoint_env(demo_fleet)
    ssm = demo_fleet.client("ssm")
    first_plan = cli_plan(demo_fleet)
    # A fresh account: every file's baseline is created and registered, nothing else.
    assert first_plan and {line.split()[0] for line in first_plan} == {"create", "register"}

    assert run_dag(sync_dag, dry_run=True) == ({"plan": "success", "apply": "skipped"}, {"plan": in_default_scope(outcome(first_plan, False))})
    assert not [b for b in read_actual_state(ssm, ["WINDOWS"]).baselines if b.managed]

    assert run_dag(sync_dag) == (
        {"plan": "success", "apply": "success"},
        {"plan": in_default_scope(outcome(first_plan, False)), "apply": in_default_scope(outcome(first_plan, True))},
    )

    # A console edit: reword the prod Windows baseline and take its patch group away.
    prod_id = ssm.get_patch_baseline_for_patch_group(PatchGroup="prod", OperatingSystem="WINDOWS")["BaselineId"]
    description = ssm.get_patch_baseline(BaselineId=prod_id)["Description"]
    ssm.update_patch_baseline(BaselineId=prod_id, Description="edited in the console")
    ssm.deregister_patch_baseline_for_patch_group(BaselineId=prod_id, PatchGroup="prod")
    drift = ["update patchflow-prod-windows: Description differ", "register patchflow-prod-windows: patch group prod (WINDOWS)"]
    assert run_dag(sync_dag) == (
        {"plan": "success", "apply": "success"}, {"plan": in_default_scope(outcome(drift, False)), "apply": in_default_scope(outcome(drift, True))}
    )
    restored = ssm.get_patch_baseline(BaselineId=prod_id)
    assert (restored["Description"], restored["PatchGroups"]) == (description, ["prod"])

    assert run_dag(sync_dag) == (
        {"plan": "success", "apply": "success"}, {"plan": in_default_scope(outcome([], False)), "apply": in_default_scope(outcome([], True))}
    )


@pytest.mark.airflow
@pytest.mark.fleetsim
def test_a_conflict_fails_the_apply_task_after_the_rest_is_applied(sync_dag, demo_fleet, aws_endpoint_env, demo_plans):
    aws_endpoint_env(demo_fleet)
    ssm = demo_fleet.client("ssm")
    run_dag(sync_dag)  # converge, whatever the test before left
    # By hand: dev's Ubuntu group goes to a baseline sync does not manage, and a description drifts.
    dev_ubuntu = ssm.get_patch_baseline_for_patch_group(PatchGroup="dev", OperatingSystem="UBUNTU")["BaselineId"]
    description = ssm.get_patch_baseline(BaselineId=dev_ubuntu)["Description"]
    ssm.deregister_patch_baseline_for_patch_group(BaselineId=dev_ubuntu, PatchGroup="dev")
    by_hand = ssm.create_patch_baseline(Name="by-hand-ubuntu", OperatingSystem="UBUNTU", ApprovedPatches=["openssl"])["BaselineId"]
    ssm.register_patch_baseline_for_patch_group(BaselineId=by_hand, PatchGroup="dev")
    ssm.update_patch_baseline(BaselineId=dev_ubuntu, Description="edited in the console")
    conflict = (
        f"patch group 'dev' is registered for UBUNTU to by-hand-ubuntu ({by_hand}), which sync does not manage; "
        "deregister it to let patchflow-dev-ubuntu have the group"
    )
    planned = {"scope": DEFAULT_NAME, "changes": ["update patchflow-dev-ubuntu: Description differ"], "conflicts": [conflict], "notes": [],
               "applied": False, "problem": None}

    assert run_dag(sync_dag) == ({"plan": "success", "apply": "failed"}, {"plan": in_default_scope(planned)})
    assert ssm.get_patch_baseline(BaselineId=dev_ubuntu)["Description"] == description
    assert ssm.get_patch_baseline_for_patch_group(PatchGroup="dev", OperatingSystem="UBUNTU")["BaselineId"] == by_hand


# --------------------------------------------------------------------------- every account and Region the plans patch

BASELINES = load_baselines(PROJECT_ROOT / "include" / "baselines")
# (label, name, account as fleetsim names it, Region) in the order sync reaches them; the hub, where no stage of
# the multi-account plan patches, is left alone.
HUB_SCOPE = ("default", DEFAULT_NAME, None, "us-east-1")
MULTI_ACCOUNT_SCOPES = [
    ("dev-us-east-1", "account dev (111111111111), Region us-east-1", "dev", "us-east-1"),
    ("test-us-east-1", "account test (222222222222), Region us-east-1", "test", "us-east-1"),
    ("prod-eu-west-1", "account prod (333333333333), Region eu-west-1", "prod", "eu-west-1"),
    ("prod-eu-central-1", "account prod (333333333333), Region eu-central-1", "prod", "eu-central-1"),
]
SHARED_ROLE = "arn:aws:iam::444444444444:role/patchflow-target"


def planned_in_each_scope(sim) -> dict[str, list[str]]:
    """What sync should do in each scope as it is now: the planner's changes for that scope's own state."""
    systems = sorted({b.operating_system for b in BASELINES})
    return {label: [str(c) for c in plan_sync(BASELINES, read_actual_state(sim.client("ssm", account=account, region=region), systems)).changes]
            for label, _, account, region in MULTI_ACCOUNT_SCOPES}


def managed_setup(sim, account, region) -> tuple[list[str], list[tuple[str, str, str]]]:
    """The scope's own baselines (owner Self) and its patch group registrations (group, baseline, OS), sorted."""
    ssm = sim.client("ssm", account=account, region=region)
    owned = [identity["BaselineName"] for page in ssm.get_paginator("describe_patch_baselines").paginate(Filters=[{"Key": "OWNER", "Values": ["Self"]}])
             for identity in page["BaselineIdentities"]]
    groups = [(mapping["PatchGroup"], mapping["BaselineIdentity"]["BaselineName"], mapping["BaselineIdentity"]["OperatingSystem"])
              for page in ssm.get_paginator("describe_patch_groups").paginate() for mapping in page["Mappings"]]
    return sorted(owned), sorted(groups)


def per_scope(planned: dict[str, list[str]], applied: bool) -> dict:
    return {label: outcome(planned[label], applied, name) for label, name, _, _ in MULTI_ACCOUNT_SCOPES}


@pytest.mark.airflow
@pytest.mark.fleetsim
def test_sync_reaches_every_account_and_region_the_plans_patch(sync_dag, multi_account_fleet, aws_endpoint_env, monkeypatch):
    aws_endpoint_env(multi_account_fleet)
    monkeypatch.setenv("PATCHFLOW_PLANS_DIR", str(MULTI_ACCOUNT_PLAN))
    planned = planned_in_each_scope(multi_account_fleet)
    assert all(planned.values())  # every scope starts without the managed baselines

    assert run_dag(sync_dag) == ({"plan": "success", "apply": "success"}, {"plan": per_scope(planned, False), "apply": per_scope(planned, True)})
    wanted = (sorted(b.name for b in BASELINES if not b.predefined),
              sorted((group, b.name, b.operating_system) for b in BASELINES for group in b.patch_groups))
    assert {label: managed_setup(multi_account_fleet, account, region) for label, _, account, region in MULTI_ACCOUNT_SCOPES} == {
        label: wanted for label, *_ in MULTI_ACCOUNT_SCOPES}
    assert managed_setup(multi_account_fleet, HUB_SCOPE[2], HUB_SCOPE[3]) == ([], [])

    nothing = {label: [] for label, *_ in MULTI_ACCOUNT_SCOPES}
    assert run_dag(sync_dag) == ({"plan": "success", "apply": "success"}, {"plan": per_scope(nothing, False), "apply": per_scope(nothing, True)})


@pytest.mark.airflow
@pytest.mark.fleetsim
def test_a_dry_run_that_cannot_read_an_account_fails(sync_dag, multi_account_fleet, aws_endpoint_env, monkeypatch, tmp_path):
    aws_endpoint_env(multi_account_fleet)
    shutil.copy(MULTI_ACCOUNT_PLAN, tmp_path)
    extra = {"name": "extra", "owner": "release-engineering",
             "accounts": {"role": "arn:aws:iam::{account}:role/patchflow-target", "external_id": "patchflow",
                          "list": [{"id": "444444444444", "alias": "shared"}]},
             "stages": [{"name": "shared", "patch_group": "shared", "targets": {"account": "shared", "regions": ["eu-west-1"]}, "approval": True}]}
    (tmp_path / "extra.yaml").write_text(yaml.safe_dump(extra, sort_keys=False))
    monkeypatch.setenv("PATCHFLOW_PLANS_DIR", str(tmp_path))
    planned = planned_in_each_scope(multi_account_fleet)

    refused = (f"cannot assume role {SHARED_ROLE}: AccessDenied: "
               f"User: arn:aws:sts::123456789012:user/moto is not authorized to perform: sts:AssumeRole on resource: {SHARED_ROLE}")
    shared = {"scope": "account shared (444444444444), Region eu-west-1", "changes": [], "conflicts": [], "notes": [], "applied": False,
              "problem": refused}
    assert run_dag(sync_dag, dry_run=True) == (
        {"plan": "success", "apply": "failed"}, {"plan": {"shared-eu-west-1": shared, **per_scope(planned, False)}})
