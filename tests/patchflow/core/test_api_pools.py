"""One Airflow pool per account and Region the plans patch; the connection's own keeps the default pool."""
from __future__ import annotations

import pytest

from patchflow.core.api_pools import ApiPool, plan_pools, pool_name, ssm_calls_in_flight_budget
from patchflow.core.plan import load_plan
from patchflow.core.scopes import DEFAULT_SCOPE, Account, Scope
from patchflow.core.yamlfile import PROJECT_ROOT

PROD = Account("333333333333", "prod")


@pytest.mark.parametrize(
    ("scope", "name"),
    [
        pytest.param(DEFAULT_SCOPE, None, id="default-scope"),
        pytest.param(Scope(PROD, "eu-west-1"), "ssm-333333333333-eu-west-1", id="account-and-region"),
        pytest.param(Scope(None, "eu-west-1"), "ssm-own-account-eu-west-1", id="own-account-other-region"),
    ],
)
def test_pool_names(scope, name):
    assert pool_name(scope) == name


def test_the_plans_pools_are_each_scope_once_in_plan_order():
    plans = [load_plan(PROJECT_ROOT / "include/rollouts/multi-account.yaml"), load_plan(PROJECT_ROOT / "include/rollouts/demo.yaml"),
             load_plan(PROJECT_ROOT / "include/rollouts/multi-account.yaml")]
    assert plan_pools(plans) == (
        ApiPool("ssm-111111111111-us-east-1", 4, "patchflow: SSM calls in account dev (111111111111), Region us-east-1"),
        ApiPool("ssm-222222222222-us-east-1", 4, "patchflow: SSM calls in account test (222222222222), Region us-east-1"),
        ApiPool("ssm-333333333333-eu-west-1", 4, "patchflow: SSM calls in account prod (333333333333), Region eu-west-1"),
        ApiPool("ssm-333333333333-eu-central-1", 4, "patchflow: SSM calls in account prod (333333333333), Region eu-central-1"),
    )


@pytest.mark.parametrize(
    ("triggerers", "slots", "budget"),
    [
        pytest.param(1, 4, 18, id="default-pool-one-triggerer"),
        pytest.param(2, 2, 12, id="resized-pool-two-triggerers"),
    ],
)
def test_the_scope_budget_counts_four_reads_at_once_per_slot_and_two_polls_per_triggerer(triggerers, slots, budget):
    assert ssm_calls_in_flight_budget(triggerers=triggerers, slots=slots) == budget
