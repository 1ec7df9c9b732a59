"""The patch_baseline_sync DAG through real Airflow (dag.test) against fleetsim.

Dry run, apply, a console edit corrected, a second run that changes nothing,
and a conflict that fails the run: the DAG plans exactly what
`python -m patchflow sync --dry-run` prints, because both call the same code.
"""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from fleetsim.testing import aws_endpoint_env, fleetsim_fixture  # noqa: F401 (aws_endpoint_env is a fixture)
from patchflow.aws.baseline_sync import read_actual_state
from patchflow.core.yamlfile import PROJECT_ROOT

DAG_FILE = PROJECT_ROOT / "dags" / "patch_baseline_sync.py"

demo_fleet = fleetsim_fixture("include/fleets/demo.yaml", seed=7, time_scale=600)


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


def outcome(changes, applied):
    return {"changes": changes, "conflicts": [], "notes": [], "applied": applied}


@pytest.mark.airflow
@pytest.mark.fleetsim
def test_dry_run_apply_drift_and_idempotence(sync_dag, demo_fleet, aws_endpoint_env):
    aws_endpoint_env(demo_fleet)
    ssm = demo_fleet.client("ssm")
    first_plan = cli_plan(demo_fleet)
    # A fresh account: every file's baseline is created and registered, nothing else.
    assert first_plan and {line.split()[0] for line in first_plan} == {"create", "register"}

    assert run_dag(sync_dag, dry_run=True) == ({"plan": "success", "apply": "skipped"}, {"plan": outcome(first_plan, False)})
    assert not [b for b in read_actual_state(ssm, ["WINDOWS"]).baselines if b.managed]

    assert run_dag(sync_dag) == ({"plan": "success", "apply": "success"}, {"plan": outcome(first_plan, False), "apply": outcome(first_plan, True)})

    # A console edit: reword the prod Windows baseline and take its patch group away.
    prod_id = ssm.get_patch_baseline_for_patch_group(PatchGroup="prod", OperatingSystem="WINDOWS")["BaselineId"]
    description = ssm.get_patch_baseline(BaselineId=prod_id)["Description"]
    ssm.update_patch_baseline(BaselineId=prod_id, Description="edited in the console")
    ssm.deregister_patch_baseline_for_patch_group(BaselineId=prod_id, PatchGroup="prod")
    drift = ["update patchflow-prod-windows: Description differ", "register patchflow-prod-windows: patch group prod (WINDOWS)"]
    assert run_dag(sync_dag) == ({"plan": "success", "apply": "success"}, {"plan": outcome(drift, False), "apply": outcome(drift, True)})
    restored = ssm.get_patch_baseline(BaselineId=prod_id)
    assert (restored["Description"], restored["PatchGroups"]) == (description, ["prod"])

    assert run_dag(sync_dag) == ({"plan": "success", "apply": "success"}, {"plan": outcome([], False), "apply": outcome([], True)})


@pytest.mark.airflow
@pytest.mark.fleetsim
def test_a_conflict_fails_the_apply_task_after_the_rest_is_applied(sync_dag, demo_fleet, aws_endpoint_env):
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
    planned = {"changes": ["update patchflow-dev-ubuntu: Description differ"], "conflicts": [conflict], "notes": [], "applied": False}

    assert run_dag(sync_dag) == ({"plan": "success", "apply": "failed"}, {"plan": planned})
    assert ssm.get_patch_baseline(BaselineId=dev_ubuntu)["Description"] == description
    assert ssm.get_patch_baseline_for_patch_group(PatchGroup="dev", OperatingSystem="UBUNTU")["BaselineId"] == by_hand
