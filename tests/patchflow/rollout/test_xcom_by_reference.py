"""What a stage's tasks pass each other through Airflow's XCom does not grow with the fleet, through real Airflow task
execution against fleetsim: the per-instance rows stay in the run ledger and the tasks pass a reference to the record
holding them, so a run over ten times the instances leaves XCom values of the same size, and its report still lists
every instance."""
from __future__ import annotations

import json

import pytest

from fleetsim.testing import fleetsim_fixture
from tests.patchflow.rollout.fleet_reads import group_instances

pytestmark = pytest.mark.airflow

# A whole run's largest XCom value stays under this, whatever the fleet's size: counts, references, command ids.
XCOM_LIMIT = 2048
# What the larger fleet may add to the largest value: a count's extra digit, not a row per instance.
SIZE_GROWTH_ALLOWED = 32


def fleet_of(per_group: int) -> dict:
    return {
        "compliance_lag_seconds": 0,
        "defaults": {"execution_seconds": [30, 60], "reboot_share": 0.0, "missing_share": 0.5},
        "groups": [
            {"name": f"{stage}-al", "count": per_group, "platform": "AMAZON_LINUX_2023", "tags": {"Patch Group": stage}}
            for stage in ("dev", "test")
        ],
    }


small_fleet = fleetsim_fixture(fleet_of(4), seed=13, time_scale=600, scope="function")
large_fleet = fleetsim_fixture(fleet_of(40), seed=13, time_scale=600, scope="function")


def _plan(demo_plan) -> dict:
    """dev in two waves, each checked by a verification command; test pinned to dev: every kind of task that passes rows."""
    return demo_plan(stages=[
        {"name": "dev", "patch_group": "dev", "expected_min_targets": 1, "waves": [1, "100%"],
         "health": {"verify": {"commands": ["systemctl is-system-running"], "max_concurrency": "100%"}}},
        {"name": "test", "patch_group": "test", "pin_to": "dev", "expected_min_targets": 1},
    ])


def xcom_sizes(dag_id: str, run_id: str) -> dict[tuple[str, str], int]:
    """(task id, key) -> the JSON size in bytes of every XCom value the run left in Airflow's metadata database."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.query(XComModel).filter(XComModel.dag_id == dag_id, XComModel.run_id == run_id).all()
        return {(row.task_id, row.key): len(row.value if isinstance(row.value, str) else json.dumps(row.value)) for row in rows}


def reported_instances(run) -> dict[str, set[str]]:
    """Stage -> every instance its waves' rows in the report name."""
    return {stage.name: {row.instance_id for wave in stage.waves for row in wave.instances} for stage in run.report.stages}


def fleet_instances(sim) -> dict[str, set[str]]:
    return {group: set(group_instances(sim.client("ssm"), group)) for group in ("dev", "test")}


def test_xcom_values_stay_the_same_size_for_a_fleet_ten_times_larger(small_fleet, large_fleet, run_rollout, demo_plan):
    outcomes, largest = {}, {}
    for name, sim, per_group in (("small", small_fleet, 4), ("large", large_fleet, 40)):
        run = run_rollout(sim, _plan(demo_plan))
        sizes = xcom_sizes(run.report.dag_id, run.run_id)
        expected = fleet_instances(sim)
        outcomes[name] = (run.state, str(run.report.outcome), reported_instances(run) == expected, [len(ids) for ids in expected.values()])
        largest[name] = max(sizes.values())
        assert largest[name] < XCOM_LIMIT, f"{name} fleet: largest XCom values {sorted(sizes.items(), key=lambda item: -item[1])[:3]}"

    assert outcomes == {"small": ("success", "promoted", True, [4, 4]), "large": ("success", "promoted", True, [40, 40])}
    assert largest["large"] - largest["small"] <= SIZE_GROWTH_ALLOWED, largest
