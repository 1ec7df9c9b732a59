"""A plan's accounts and its stages' targets: the accounts, Regions and order each stage patches in.

The bad plans are in plans_invalid/ (accounts-*, targets-*); these are the good ones, each
checked as the whole model it reads into, and the shared accounts file a plan may name.
"""
from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from patchflow.core.errors import InvalidInput
from patchflow.core.plan import load_plan, parse_plan
from patchflow.core.plan_accounts import load_accounts
from patchflow.core.scopes import DEFAULT_SCOPE, Account, Scope
from patchflow.core.yamlfile import PROJECT_ROOT

SOURCE = "include/rollouts/scoped.yaml"

ACCOUNTS = {
    "role": "arn:aws:iam::{account}:role/patchflow-target",
    "external_id": "patchflow",
    "list": [
        {"id": "111111111111", "alias": "dev"},
        {"id": "222222222222", "alias": "test", "external_id": "other", "role": "arn:aws:iam::{account}:role/ops/patching"},
        {"id": "333333333333", "alias": "prod", "connection": "aws_prod"},
        {"id": "444444444444"},
    ],
}
DEV = Account("111111111111", "dev", role_arn="arn:aws:iam::111111111111:role/patchflow-target", external_id="patchflow")
TEST = Account("222222222222", "test", role_arn="arn:aws:iam::222222222222:role/ops/patching", external_id="other")
PROD = Account("333333333333", "prod", connection_id="aws_prod")
SHARED = Account("444444444444", role_arn="arn:aws:iam::444444444444:role/patchflow-target", external_id="patchflow")

BASE = {
    "name": "scoped",
    "owner": "release-engineering",
    "ledger": "s3://patchflow-ledger/runs",
    "accounts": ACCOUNTS,
    "stages": [
        {"name": "dev", "patch_group": "dev", "targets": {"account": "dev", "regions": ["us-east-1"]}},
        {"name": "test", "patch_group": "test", "targets": [{"account": "222222222222", "regions": ["us-east-1", "us-west-2"]}]},
        {"name": "prod", "patch_group": "prod", "approval": True,
         "targets": [{"account": "prod", "regions": ["eu-west-1", "eu-central-1"]}, {"account": "444444444444", "regions": ["eu-west-1"]}]},
    ],
}


def changed(edit) -> dict:
    data = copy.deepcopy(BASE)
    edit(data)
    return data


def scopes_and_orders(plan) -> list[tuple[str, tuple[Scope, ...], str]]:
    return [(stage.name, stage.scopes, stage.order) for stage in plan.stages]


def test_accounts_read_into_whole_accounts_with_their_roles_external_ids_and_connections():
    assert parse_plan(BASE, SOURCE).accounts == (DEV, TEST, PROD, SHARED)


@pytest.mark.parametrize(
    "edit, expected",
    [
        pytest.param(lambda d: None, [
            ("dev", (Scope(DEV, "us-east-1"),), "parallel"),
            ("test", (Scope(TEST, "us-east-1"), Scope(TEST, "us-west-2")), "parallel"),
            ("prod", (Scope(PROD, "eu-west-1"), Scope(PROD, "eu-central-1"), Scope(SHARED, "eu-west-1")), "parallel"),
        ], id="by-alias-and-id-in-written-order"),
        pytest.param(lambda d: (d["stages"][2].update(order="one_at_a_time"), d["stages"][0].update(order="one_at_a_time")), [
            ("dev", (Scope(DEV, "us-east-1"),), "one_at_a_time"),
            ("test", (Scope(TEST, "us-east-1"), Scope(TEST, "us-west-2")), "parallel"),
            ("prod", (Scope(PROD, "eu-west-1"), Scope(PROD, "eu-central-1"), Scope(SHARED, "eu-west-1")), "one_at_a_time"),
        ], id="one-at-a-time-even-with-one-scope"),
        pytest.param(lambda d: (d.update(defaults={"order": "one_at_a_time"}), d["stages"][1].update(order="parallel")), [
            ("dev", (Scope(DEV, "us-east-1"),), "one_at_a_time"),
            ("test", (Scope(TEST, "us-east-1"), Scope(TEST, "us-west-2")), "parallel"),
            ("prod", (Scope(PROD, "eu-west-1"), Scope(PROD, "eu-central-1"), Scope(SHARED, "eu-west-1")), "one_at_a_time"),
        ], id="order-from-defaults"),
        pytest.param(lambda d: (d["stages"][0].pop("targets"), d["stages"][1].update(targets=None)), [
            ("dev", (DEFAULT_SCOPE,), "parallel"),
            ("test", (DEFAULT_SCOPE,), "parallel"),
            ("prod", (Scope(PROD, "eu-west-1"), Scope(PROD, "eu-central-1"), Scope(SHARED, "eu-west-1")), "parallel"),
        ], id="stages-without-targets-patch-the-connections-own"),
        pytest.param(lambda d: (d["stages"][1].update(patch_group="dev", targets={"account": "dev", "regions": ["eu-west-1"]}),
                                d["stages"][2].update(patch_group="dev", targets={"account": "test", "regions": ["us-east-1"]})), [
            ("dev", (Scope(DEV, "us-east-1"),), "parallel"),
            ("test", (Scope(DEV, "eu-west-1"),), "parallel"),
            ("prod", (Scope(TEST, "us-east-1"),), "parallel"),
        ], id="one-patch-group-in-other-regions-and-accounts"),
        pytest.param(lambda d: (d["stages"][0].update(targets=[{"account": "dev", "regions": ["us-gov-west-1"]}, {"account": "test", "regions": ["cn-north-1"]}]),
                                d["stages"][1].update(targets=" None ")), [
            ("dev", (Scope(DEV, "us-gov-west-1"), Scope(TEST, "cn-north-1")), "parallel"),
            ("test", (DEFAULT_SCOPE,), "parallel"),
            ("prod", (Scope(PROD, "eu-west-1"), Scope(PROD, "eu-central-1"), Scope(SHARED, "eu-west-1")), "parallel"),
        ], id="other-partitions-and-none"),
        pytest.param(lambda d: (d["stages"][1].update(pin_to="dev"), d["stages"][2].update(pin_to="dev")), [
            ("dev", (Scope(DEV, "us-east-1"),), "parallel"),
            ("test", (Scope(TEST, "us-east-1"), Scope(TEST, "us-west-2")), "parallel"),
            ("prod", (Scope(PROD, "eu-west-1"), Scope(PROD, "eu-central-1"), Scope(SHARED, "eu-west-1")), "parallel"),
        ], id="pinned-to-a-stage-of-one-scope"),
    ],
)
def test_targets_become_the_stages_scopes(edit, expected):
    assert scopes_and_orders(parse_plan(changed(edit), SOURCE)) == expected


def test_a_plan_without_accounts_patches_the_connections_own_account_and_region():
    plan = parse_plan(changed(lambda d: (d.pop("accounts"), [stage.pop("targets") for stage in d["stages"]])), SOURCE)
    assert (plan.accounts, scopes_and_orders(plan)) == ((), [("dev", (DEFAULT_SCOPE,), "parallel"), ("test", (DEFAULT_SCOPE,), "parallel"),
                                                          ("prod", (DEFAULT_SCOPE,), "parallel")])


def test_the_shipped_multi_account_plan_reads_as_the_fleet_lays_out_its_accounts():
    plan = load_plan(PROJECT_ROOT / "include" / "rollouts" / "multi-account.yaml")
    dev, test, prod = (Account(account_id, alias, role_arn=f"arn:aws:iam::{account_id}:role/patchflow-target", external_id="patchflow")
                       for account_id, alias in (("111111111111", "dev"), ("222222222222", "test"), ("333333333333", "prod")))
    assert (plan.accounts, scopes_and_orders(plan), [stage.pin_to for stage in plan.stages]) == (
        (dev, test, prod),
        [("dev", (Scope(dev, "us-east-1"),), "parallel"), ("test", (Scope(test, "us-east-1"),), "parallel"),
         ("prod", (Scope(prod, "eu-west-1"), Scope(prod, "eu-central-1")), "one_at_a_time")],
        [None, "dev", "dev"],
    )


# --------------------------------------------------------------------------- the shared accounts file


def project_with(tmp_path: Path, accounts_text: str | None, name: str = "org") -> Path:
    """A plan in tmp_path/rollouts naming `accounts: NAME`, and tmp_path/accounts/NAME.yaml holding accounts_text (None: no file)."""
    (tmp_path / "rollouts").mkdir()
    (tmp_path / "accounts").mkdir()
    if accounts_text is not None:
        (tmp_path / "accounts" / f"{name}.yaml").write_text(accounts_text, encoding="utf-8")
    plan = tmp_path / "rollouts" / "scoped.yaml"
    plan.write_text(yaml.safe_dump(changed(lambda d: d.update(accounts=name)), sort_keys=False), encoding="utf-8")
    return plan


def test_accounts_named_by_file_read_as_if_written_in_the_plan(tmp_path):
    plan = load_plan(project_with(tmp_path, yaml.safe_dump(ACCOUNTS)))
    assert (plan.accounts, scopes_and_orders(plan)) == ((DEV, TEST, PROD, SHARED), scopes_and_orders(parse_plan(BASE, SOURCE)))


def test_an_accounts_file_reads_alone(tmp_path):
    path = tmp_path / "org.yaml"
    path.write_text(yaml.safe_dump(ACCOUNTS), encoding="utf-8")
    assert load_accounts(path) == (DEV, TEST, PROD, SHARED)


def test_a_broken_accounts_file_reports_its_own_problems_under_its_own_path(tmp_path):
    plan = project_with(tmp_path, 'external_id: "x"\nlist:\n  - {id: 111111111111, alias: dev}\n')
    accounts_file = tmp_path.resolve() / "accounts" / "org.yaml"
    with pytest.raises(InvalidInput) as raised:
        load_plan(plan)
    assert str(raised.value).splitlines() == [
        f"{accounts_file}:1:1: external_id: expected an external id of 2-1224 letters, digits or +=,.@:/-, got 'x'",
        f"{accounts_file}:3:6: list[0].id: expected a 12-digit account id in quotes, got 111111111111",
    ]


@pytest.mark.parametrize(
    "text, where, problem",
    [
        pytest.param("", "", "expected a mapping with role, external_id and list, got nothing", id="empty"),
        pytest.param("list: [\n", ":2:1", "expected valid YAML, got a syntax error (expected the node content, but found '<stream end>')", id="not-yaml"),
        pytest.param("- {id: '111111111111'}\n", "", "expected a mapping with role, external_id and list, got a list", id="a-list"),
    ],
)
def test_an_unreadable_accounts_file_names_itself(tmp_path, text, where, problem):
    plan = project_with(tmp_path, text)
    with pytest.raises(InvalidInput) as raised:
        load_plan(plan)
    assert str(raised.value) == f"{tmp_path.resolve() / 'accounts' / 'org.yaml'}{where}: {problem}"


def test_a_missing_accounts_file_is_named_by_its_path(tmp_path):
    plan = project_with(tmp_path, None)
    with pytest.raises(InvalidInput) as raised:
        load_plan(plan)
    assert str(raised.value) == (f"{plan}:4:1: accounts: expected the name of a file of accounts, got 'org' "
                                 f"({tmp_path.resolve() / 'accounts' / 'org.yaml'} does not exist)")


def test_a_plan_read_from_its_project_path_looks_in_include_accounts():
    with pytest.raises(InvalidInput) as raised:
        parse_plan(changed(lambda d: d.update(accounts="no-such-org")), SOURCE)
    assert str(raised.value) == (f"{SOURCE}: accounts: expected the name of a file of accounts, got 'no-such-org' "
                                 "(include/accounts/no-such-org.yaml does not exist)")
