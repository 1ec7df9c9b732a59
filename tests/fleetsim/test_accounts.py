"""The fleet spec's accounts, and the account and Region of each group and alarm (fleetsim.accounts, fleetsim.spec)."""
from __future__ import annotations

import copy
from pathlib import Path

import pytest

from fleetsim.accounts import DEFAULT_ACCOUNT_ID, DEFAULT_REGION, AccountSpec, RoleSpec, account_id_of, ssm_regions
from fleetsim.errors import InvalidInput
from fleetsim.spec import load_fleet

from tests.schema_reading import read_schema, validator_for

PROJECT = Path(__file__).resolve().parents[2]
VALIDATOR = validator_for(read_schema("fleet"))
HUB = DEFAULT_ACCOUNT_ID


def test_the_default_account_is_the_one_moto_answers_unknown_keys_in():
    from moto.core import DEFAULT_ACCOUNT_ID as MOTO_DEFAULT

    assert (DEFAULT_ACCOUNT_ID, DEFAULT_REGION) == (MOTO_DEFAULT, "us-east-1")


def test_every_region_a_spec_may_name_is_one_moto_serves_ssm_ec2_and_cloudwatch_in():
    from moto.cloudwatch.models import cloudwatch_backends
    from moto.ec2.models import ec2_backends
    from moto.ssm.models import ssm_backends

    served = [set(backends[DEFAULT_ACCOUNT_ID].regions) for backends in (ssm_backends, ec2_backends, cloudwatch_backends)]
    assert {"us-east-1", "eu-west-1", "eu-central-1"} <= ssm_regions() <= set.intersection(*served)


@pytest.mark.parametrize(
    "value, expected",
    [
        pytest.param("111111111111", "111111111111", id="quoted"),
        pytest.param(111111111111, "111111111111", id="unquoted-yaml-number"),
        pytest.param(11111111111, None, id="eleven-digits"),
        pytest.param("11111111111a", None, id="not-digits"),
        pytest.param("111111111111\n", None, id="trailing-newline"),
        pytest.param(True, None, id="bool"),
    ],
)
def test_account_id_of(value, expected):
    assert account_id_of(value) == expected


def test_a_spec_without_accounts_keeps_everything_in_the_default_account_and_us_east_1():
    spec = load_fleet(PROJECT / "include" / "fleets" / "demo.yaml")
    assert ({g.scope for g in spec.groups}, {a.scope for a in spec.alarms}, spec.scopes, spec.accounts) == (
        {(HUB, "us-east-1")}, {(HUB, "us-east-1")}, ((HUB, "us-east-1"),), ())


def test_groups_and_alarms_name_their_account_by_id_or_alias_and_trusted_aliases_become_ids():
    spec = load_fleet({
        "accounts": [{"id": "111111111111", "alias": "dev", "roles": [{"name": "patchflow-target", "trusted_accounts": [HUB, "prod"],
                                                                        "external_id": "patchflow"}]},
                     {"id": 333333333333, "alias": "prod"}],
        "defaults": {"region": "eu-west-1"},
        "groups": [{"count": 1, "platform": "UBUNTU", "account": "dev", "tags": {"Patch Group": "dev"}},
                   {"count": 1, "platform": "WINDOWS", "account": 333333333333, "region": "eu-central-1"},
                   {"count": 1, "platform": "al2023", "account": HUB, "region": "us-east-1"}],
        "alarms": [{"name": "storefront-dev-5xx", "account": "111111111111", "region": "eu-west-1",
                    "fires": {"patch": "openssh-server", "patch_group": "dev"}},
                   {"name": "storefront-dev-5xx", "account": "prod"}],
    }, "fleet.yaml")
    assert ([g.scope for g in spec.groups], [a.scope for a in spec.alarms], spec.scopes, spec.accounts) == (
        [("111111111111", "eu-west-1"), ("333333333333", "eu-central-1"), (HUB, "us-east-1")],
        [("111111111111", "eu-west-1"), ("333333333333", "us-east-1")],
        ((HUB, "us-east-1"), ("111111111111", "eu-west-1"), ("333333333333", "eu-central-1"), ("333333333333", "us-east-1")),
        (AccountSpec("111111111111", "dev", (RoleSpec("patchflow-target", (HUB, "333333333333"), "patchflow"),)),
         AccountSpec("333333333333", "prod")),
    )


def fleet(**top) -> dict:
    return {"groups": [{"count": 1, "platform": "UBUNTU", "tags": {"Patch Group": "dev"}}], **top}


@pytest.mark.parametrize(
    "document, expected",
    [
        pytest.param(fleet(accounts="dev"), ["accounts: expected a list of accounts, each with an id, got 'dev'"], id="accounts-not-a-list"),
        pytest.param(fleet(accounts=[{"id": "111111111111", "alias": "a"}]), [
            "accounts[0].alias: expected an account alias of 3-63 lower-case letters, digits and single hyphens, starting and ending with a "
            "letter or digit, got 'a'"], id="alias-too-short"),
        pytest.param(fleet(accounts=[{"id": "111111111111", "alias": "dev--1"}]), [
            "accounts[0].alias: expected an account alias of 3-63 lower-case letters, digits and single hyphens, starting and ending with a "
            "letter or digit, got 'dev--1'"], id="alias-double-hyphen"),
        pytest.param(fleet(accounts=[{"id": "111111111111", "roles": [{"name": "t", "trusted_accounts": "123456789012"}]}]), [
            "accounts[0].roles[0].trusted_accounts: expected a non-empty list of account ids or aliases, got '123456789012'"],
            id="trusted-accounts-not-a-list"),
        pytest.param(fleet(accounts=[{"id": "111111111111", "roles": [{"name": "t", "trusted_accounts": [HUB]},
                                                                       {"name": "t", "trusted_accounts": [HUB]}]}]), [
            "accounts[0].roles[1].name: expected a name no other role of this account has (accounts[0].roles[0] has it), got 't'"],
            id="role-names-unique-per-account"),
        pytest.param(fleet(accounts=[{"id": "111111111111", "roles": [{"name": "t", "trusted_accounts": [HUB], "external_id": "a b"}]}]), [
            "accounts[0].roles[0].external_id: expected an external id of 2-1224 letters, digits and +=,.@:/_-, got 'a b'"], id="external-id-space"),
        pytest.param(fleet(defaults={"account": "dev"}, groups=[{"count": 1, "platform": "UBUNTU"}, {"count": 1, "platform": "WINDOWS"}]), [
            "defaults.account: expected the default account 123456789012 (accounts declares no other), got 'dev'"], id="bad-default-reported-once"),
        pytest.param(fleet(groups=[{"count": 1, "platform": "UBUNTU", "region": "cn-north-1"}]), [
            "groups[0].region: expected an AWS Region of the aws partition that SSM is offered in, such as us-east-1 or eu-west-1, "
            "got 'cn-north-1'"], id="region-of-another-partition"),
        pytest.param(fleet(groups=[{"count": 1, "platform": "UBUNTU", "region": None}]), [
            "groups[0].region: expected an AWS Region of the aws partition that SSM is offered in, such as us-east-1 or eu-west-1, "
            "got None"], id="region-null"),
        pytest.param(fleet(alarms=[{"name": "a", "region": "eu-west-1", "fires": {"patch": "openssh-server", "patch_group": "dev"}}]), [
            "alarms[0].fires.patch_group: expected a patch group some group's 'Patch Group' or 'PatchGroup' tag names in account 123456789012 "
            "and Region eu-west-1 (none: no group there has a 'Patch Group' or 'PatchGroup' tag), got 'dev'"], id="alarm-in-a-region-without-the-group"),
    ],
)
def test_spec_problem(document, expected):
    with pytest.raises(InvalidInput) as raised:
        load_fleet(document, "fleet.yaml")
    assert str(raised.value).splitlines() == [f"fleet.yaml: {line}" for line in expected]


@pytest.mark.parametrize(
    "document, verdict",
    [
        pytest.param(fleet(groups=[{"count": 1, "platform": "UBUNTU", "account": 123456789012}]), True, id="default-account-unquoted"),
        pytest.param(fleet(groups=[{"count": 1, "platform": "UBUNTU", "region": "eu-central-1"}]), True, id="region"),
        pytest.param(fleet(groups=[{"count": 1, "platform": "UBUNTU", "region": "EU-WEST-1"}]), False, id="region-upper-case"),
        pytest.param(fleet(accounts=None), True, id="accounts-null"),
        pytest.param(fleet(accounts=[{"id": "111111111111", "alias": None, "roles": None}]), True, id="alias-and-roles-null"),
        pytest.param(fleet(accounts=[{"id": "111111111111", "roles": [{"name": "r", "trusted_accounts": []}]}]), False, id="trusted-nobody"),
        pytest.param(fleet(accounts=[{"id": "111111111111", "roles": [{"name": "r" * 65, "trusted_accounts": [HUB]}]}]), False,
                     id="role-name-too-long"),
        pytest.param(fleet(accounts=[{"id": "111111111111", "roles": [{"name": "r", "trusted_accounts": [HUB], "external_id": "e" * 1224}]}]),
                     True, id="external-id-longest"),
    ],
)
def test_the_schema_and_the_loader_agree_on(document, verdict):
    try:
        load_fleet(copy.deepcopy(document), "fleet.yaml")
        accepted = True
    except InvalidInput:
        accepted = False
    assert (VALIDATOR.is_valid(document), accepted) == (verdict, verdict)


def test_the_shipped_multi_account_fleet():
    spec = load_fleet(PROJECT / "include" / "fleets" / "multi-account.yaml")
    target = RoleSpec("patchflow-target", (HUB,), "patchflow")
    per_scope = {}
    for group in spec.groups:
        per_scope.setdefault((group.account, group.region, group.tags["Patch Group"]), []).append((group.platform, group.count))
    assert (spec.accounts, per_scope, sorted((a.account, a.region, a.name) for a in spec.alarms)) == (
        (AccountSpec("111111111111", "dev", (target,)), AccountSpec("222222222222", "test", (target,)), AccountSpec("333333333333", "prod", (target,))),
        {(account, region, stage): [("AMAZON_LINUX_2023", 3), ("UBUNTU", 2), ("WINDOWS", 2)]
         for account, region, stage in (("111111111111", "us-east-1", "dev"), ("222222222222", "us-east-1", "test"),
                                        ("333333333333", "eu-west-1", "prod"), ("333333333333", "eu-central-1", "prod"))},
        [("111111111111", "us-east-1", "storefront-dev-5xx"), ("222222222222", "us-east-1", "storefront-test-5xx"),
         ("333333333333", "eu-central-1", "storefront-prod-5xx"), ("333333333333", "eu-central-1", "storefront-prod-latency"),
         ("333333333333", "eu-west-1", "storefront-prod-5xx"), ("333333333333", "eu-west-1", "storefront-prod-latency")],
    )
