"""require_registered_baseline through Airflow against fleetsim: the OS default is not a registration."""
from __future__ import annotations

import pytest

from fleetsim.testing import fleetsim_fixture

pytestmark = pytest.mark.airflow

AL2023 = {"platform": "AMAZON_LINUX_2023", "tags": {"Patch Group": "dev"}, "execution_seconds": [60, 180]}

dev_fleet = fleetsim_fixture({"groups": [{**AL2023, "count": 3}]}, time_scale=600, scope="function")


def test_a_stage_that_requires_a_registered_baseline_blocks_on_the_os_default_and_proceeds_once_registered(dev_fleet, run_rollout, demo_plan):
    ssm = dev_fleet.client("ssm")
    os_default = ssm.get_default_patch_baseline(OperatingSystem="AMAZON_LINUX_2023")["BaselineId"]
    # SSM answers the OS default for a group with nothing registered, as AWS does.
    assert ssm.get_patch_baseline_for_patch_group(PatchGroup="dev", OperatingSystem="AMAZON_LINUX_2023")["BaselineId"] == os_default
    # DescribePatchGroups' NAME_PREFIX 'dev' also lists this group: it must not count for 'dev'.
    ssm.register_patch_baseline_for_patch_group(BaselineId=os_default, PatchGroup="dev-legacy")
    plan = demo_plan(stages=[{"name": "dev", "patch_group": "dev", "expected_min_targets": 1, "scan_first": False, "require_registered_baseline": True}])

    blocked = run_rollout(dev_fleet, plan)

    assert blocked.state == "failed"
    unregistered = (f"no patch baseline is registered for patch group 'dev' and AMAZON_LINUX_2023 (its nodes would get the OS default {os_default}), "
                    "and the stage sets require_registered_baseline")
    assert blocked.report.reason == f"run start: stage dev: {unregistered}"
    # The run's start found it before any stage began: no preflight, nothing sent.
    assert [(r["stage"], r["reason"]) for r in blocked.kinds("stage_failed")] == [("dev", f"run start: {unregistered}")]
    assert (blocked.kinds("preflight"), ssm.list_commands()["Commands"]) == ([], [])

    # Registering even the baseline that is the OS default is a registration.
    ssm.register_patch_baseline_for_patch_group(BaselineId=os_default, PatchGroup="dev")
    promoted = run_rollout(dev_fleet, plan)

    assert promoted.state == "success"
    assert promoted.report.outcome == "promoted"
    (preflight,) = promoted.kinds("preflight")
    assert (preflight["baselines"], preflight["default_baselines"]) == ({"AMAZON_LINUX_2023": os_default}, {})
    assert len(ssm.list_commands()["Commands"]) == 1
