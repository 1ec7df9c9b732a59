"""Where baseline sync reaches: every scope the plans' stages patch, once each, the default scope first when a stage patches there."""
from __future__ import annotations

import pytest

from patchflow.core.plan import parse_plan
from patchflow.core.scopes import DEFAULT_SCOPE, Account, Scope
from patchflow.core.sync_scopes import sync_scopes, sync_summary

ROLE = "arn:aws:iam::{account}:role/patchflow-target"


def account(account_id: str, alias: str) -> Account:
    return Account(account_id, alias, role_arn=ROLE.replace("{account}", account_id), external_id="patchflow")


DEV, TEST, PROD = account("111111111111", "dev"), account("222222222222", "test"), account("333333333333", "prod")
DEV_RENAMED = account("111111111111", "sandbox")


def plan(name: str, *stages: dict | None, accounts: tuple[Account, ...] = (DEV, TEST, PROD)):
    """A parsed plan whose stages patch the given targets (None: a stage without targets, the default scope)."""
    data = {
        "name": name,
        "owner": "release-engineering",
        "stages": [
            {"name": f"stage{index}", "patch_group": f"{name}-stage{index}", **({"targets": targets} if targets is not None else {})}
            for index, targets in enumerate(stages)
        ],
    }
    data["stages"][-1]["approval"] = True
    if any(targets is not None for targets in stages):
        data["accounts"] = {"role": ROLE, "external_id": "patchflow", "list": [{"id": a.id, "alias": a.alias} for a in accounts]}
    return parse_plan(data, f"include/rollouts/{name}.yaml")


def target(alias: str, *regions: str) -> dict:
    return {"account": alias, "regions": list(regions)}


@pytest.mark.parametrize(
    ("plans", "expected"),
    [
        pytest.param([], [DEFAULT_SCOPE], id="no-plans-still-the-default-scope"),
        pytest.param([plan("weekly", None, None), plan("monthly", None)], [DEFAULT_SCOPE], id="single-account-plans"),
        pytest.param(
            [plan("multi", target("dev", "us-east-1"), target("test", "us-east-1"), target("prod", "eu-west-1", "eu-central-1"))],
            [Scope(DEV, "us-east-1"), Scope(TEST, "us-east-1"), Scope(PROD, "eu-west-1"), Scope(PROD, "eu-central-1")],
            id="stage-order-then-written-region-order-and-the-hub-left-alone",
        ),
        pytest.param(
            [plan("multi", target("prod", "eu-central-1"), [target("dev", "us-east-1"), target("prod", "eu-west-1", "eu-central-1")])],
            [Scope(PROD, "eu-central-1"), Scope(DEV, "us-east-1"), Scope(PROD, "eu-west-1")],
            id="a-scope-of-two-stages-once",
        ),
        pytest.param(
            [plan("first", target("test", "us-west-2")), plan("weekly", None), plan("second", target("dev", "us-east-1"), target("test", "us-west-2"))],
            [DEFAULT_SCOPE, Scope(TEST, "us-west-2"), Scope(DEV, "us-east-1")],
            id="plan-order-and-a-scope-of-two-plans-once",
        ),
        pytest.param(
            [plan("first", target("dev", "us-east-1")), plan("second", target("sandbox", "us-east-1", "us-west-2"), accounts=(DEV_RENAMED,))],
            [Scope(DEV, "us-east-1"), Scope(DEV_RENAMED, "us-west-2")],
            id="same-account-id-and-region-under-another-alias-once-as-first-named",
        ),
        pytest.param(
            [plan("mixed", None, target("dev", "us-east-1"), None)],
            [DEFAULT_SCOPE, Scope(DEV, "us-east-1")],
            id="a-stage-without-targets-puts-the-default-scope-first",
        ),
    ],
)
def test_sync_scopes(plans, expected):
    assert sync_scopes(plans) == tuple(expected)


@pytest.mark.parametrize(
    ("changes", "conflicts", "scopes", "dry_run", "expected"),
    [
        pytest.param(0, 0, 1, False, "sync: made 0 changes, 0 conflicts", id="one-scope-as-before-accounts"),
        pytest.param(1, 1, 1, True, "sync: would make 1 change, 1 conflict", id="one-scope-dry-run-singular"),
        pytest.param(105, 2, 5, False, "sync: made 105 changes, 2 conflicts in 5 accounts and Regions", id="several-scopes"),
        pytest.param(0, 0, 2, True, "sync: would make 0 changes, 0 conflicts in 2 accounts and Regions", id="several-scopes-dry-run"),
    ],
)
def test_sync_summary(changes, conflicts, scopes, dry_run, expected):
    assert sync_summary(changes, conflicts, scopes=scopes, dry_run=dry_run) == expected
