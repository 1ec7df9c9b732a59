"""The plans' accounts and Regions get an Airflow pool each, and every task calling SSM there takes a slot of it."""
from __future__ import annotations

import argparse

import pytest

from patchflow.cli import pools as pools_command
from patchflow.core.plan import load_plan
from patchflow.core.yamlfile import PROJECT_ROOT
from patchflow.rollout.factory import build_dag

pytestmark = pytest.mark.airflow
MULTI_ACCOUNT = PROJECT_ROOT / "include/rollouts/multi-account.yaml"


def test_every_task_of_a_scope_takes_that_scopes_pool_and_the_rest_the_default():
    dag = build_dag(load_plan(MULTI_ACCOUNT))
    pools = {task.task_id: task.pool for task in dag.tasks}
    assert (pools["start"], pools["dev.window"], pools["dev.wave_1"], pools["prod.prod-eu-west-1.wave_2"], pools["prod.prod-eu-central-1.preflight"],
            pools["prod.gate"], pools["finish"]) == (
        "default_pool", "default_pool", "ssm-111111111111-us-east-1", "ssm-333333333333-eu-west-1", "ssm-333333333333-eu-central-1",
        "default_pool", "default_pool")


def test_apply_creates_the_missing_pools_and_leaves_a_resized_one_alone(airflow_db, capsys):
    from airflow.models.pool import Pool

    for name in ("ssm-111111111111-us-east-1", "ssm-222222222222-us-east-1", "ssm-333333333333-eu-west-1", "ssm-333333333333-eu-central-1"):
        if Pool.get_pool(name):  # the session's database is shared by the module's tests
            Pool.delete_pool(name)
    Pool.create_or_update_pool("ssm-333333333333-eu-west-1", 2, "sized by hand", include_deferred=False)
    exit_code = pools_command.run(argparse.Namespace(plans=str(MULTI_ACCOUNT), apply=True))
    assert (exit_code, capsys.readouterr().out.splitlines(), Pool.get_pool("ssm-333333333333-eu-west-1").slots,
            Pool.get_pool("ssm-333333333333-eu-central-1").slots) == (0, [
                "ssm-111111111111-us-east-1  created with 4 slots",
                "ssm-222222222222-us-east-1  created with 4 slots",
                "ssm-333333333333-eu-west-1  exists with 2 slots",
                "ssm-333333333333-eu-central-1  created with 4 slots",
            ], 2, 4)
