"""A stage in several accounts and Regions passes only when all of them together and each on its own pass."""
from __future__ import annotations

import pytest

from patchflow.core.gates import GateThresholds, InstanceResult, Limit, Outcome
from patchflow.core.scope_gates import ScopeResults, evaluate_scopes

TEN_PERCENT = GateThresholds(max_failed=Limit.parse("10%"))
WEST = {"account": "333333333333", "account_alias": "prod", "region": "eu-west-1"}
CENTRAL = {"account": "333333333333", "account_alias": "prod", "region": "eu-central-1"}


def scope(where: dict, succeeded: int, failed: int = 0) -> ScopeResults:
    results = [InstanceResult(f"i-s{n}", Outcome.SUCCEEDED) for n in range(succeeded)] + [InstanceResult(f"i-f{n}", Outcome.FAILED) for n in range(failed)]
    return ScopeResults(f"Region {where['region']}", where, tuple(results))


@pytest.mark.parametrize(
    ("scopes", "passed", "reasons", "each"),
    [
        pytest.param(
            [scope(WEST, 10), scope(CENTRAL, 10)], True,
            ["all 2 accounts and Regions together: passed: 20 of 20 instances succeeded, 0 counted as failed (limit 10%)",
             "Region eu-west-1: passed: 10 of 10 instances succeeded, 0 counted as failed (limit 10%)",
             "Region eu-central-1: passed: 10 of 10 instances succeeded, 0 counted as failed (limit 10%)"],
            [("eu-west-1", True), ("eu-central-1", True)],
            id="both-healthy",
        ),
        pytest.param(
            # 2 of 20 (10%) is within the limit together, but 2 of 4 in one small Region is not.
            [scope(WEST, 16), scope(CENTRAL, 2, failed=2)], False,
            ["Region eu-central-1: 2 of 4 instances failed (50.0%), above the limit of 10%"],
            [("eu-west-1", True), ("eu-central-1", False)],
            id="one-small-region-broken",
        ),
        pytest.param(
            # Each Region alone is at its limit of one failure in ten; together 3 of 20 is not.
            [scope(WEST, 9, failed=1), scope(CENTRAL, 8, failed=2)], False,
            ["all 2 accounts and Regions together: 3 of 20 instances failed (15.0%), above the limit of 10%",
             "Region eu-central-1: 2 of 10 instances failed (20.0%), above the limit of 10%"],
            [("eu-west-1", True), ("eu-central-1", False)],
            id="together-too-many",
        ),
    ],
)
def test_scopes_are_judged_together_and_each_on_its_own(scopes, passed, reasons, each):
    verdict = evaluate_scopes(scopes, TEN_PERCENT)
    assert (verdict["passed"], verdict["reasons"], [(s["region"], s["passed"]) for s in verdict["scopes"]]) == (passed, reasons, each)
