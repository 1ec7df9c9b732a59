"""Where a stage patches: STS session names made from run ids, role ARNs, and how scopes are named."""
from __future__ import annotations

import re

import pytest

from patchflow.core.scopes import DEFAULT_ROLE_TEMPLATE, DEFAULT_SCOPE, Account, Scope, role_arn_for, session_name

# STS AssumeRole's RoleSessionName: 2-64 characters of [\w+=,.@-].
STS_SESSION_NAME = re.compile(r"[\w+=,.@-]{2,64}\Z", re.ASCII)


@pytest.mark.parametrize(
    "run_id, prefix, expected",
    [
        pytest.param("manual__2026-12-02T10:00:00.123456+00:00", "patchflow", "patchflow-manual__2026-12-02T10-00-00.123456+00-00", id="manual"),
        pytest.param("scheduled__2026-12-06T02:00:00+00:00", "patchflow", "patchflow-scheduled__2026-12-06T02-00-00+00-00", id="scheduled"),
        pytest.param("r" * 200, "patchflow", "patchflow-" + "r" * 54, id="long-run-id-cut-to-64"),
        pytest.param("manual__2026-12-02T10:00:00+00:00", "preflight", "preflight-manual__2026-12-02T10-00-00+00-00", id="own-prefix"),
        pytest.param("change 4711/prod#2", "patchflow", "patchflow-change-4711-prod-2", id="spaces-slashes-and-hashes"),
    ],
)
def test_session_name_is_one_sts_takes(run_id, prefix, expected):
    name = session_name(run_id, prefix)
    assert (name, bool(STS_SESSION_NAME.match(name))) == (expected, True)


@pytest.mark.parametrize(
    "template, account_id, expected",
    [
        pytest.param(DEFAULT_ROLE_TEMPLATE, "111111111111", "arn:aws:iam::111111111111:role/patchflow-target", id="default"),
        pytest.param("arn:aws-us-gov:iam::{account}:role/ops/patching", "222222222222", "arn:aws-us-gov:iam::222222222222:role/ops/patching", id="govcloud-with-path"),
    ],
)
def test_role_arn_for_puts_the_account_id_in_the_template(template, account_id, expected):
    assert role_arn_for(template, account_id) == expected


PROD = Account("333333333333", "prod", role_arn="arn:aws:iam::333333333333:role/patchflow-target", external_id="patchflow")
UNNAMED = Account("444444444444", connection_id="aws_shared")


@pytest.mark.parametrize(
    "scope, label, name, as_json",
    [
        pytest.param(DEFAULT_SCOPE, "default", "the rollout connection's account and Region", {"account": None, "account_alias": None, "region": None},
                     id="default"),
        pytest.param(Scope(PROD, "eu-west-1"), "prod-eu-west-1", "account prod (333333333333), Region eu-west-1",
                     {"account": "333333333333", "account_alias": "prod", "region": "eu-west-1"}, id="alias-and-region"),
        pytest.param(Scope(UNNAMED, "us-east-1"), "444444444444-us-east-1", "account 444444444444, Region us-east-1",
                     {"account": "444444444444", "account_alias": None, "region": "us-east-1"}, id="id-without-alias"),
        pytest.param(Scope(None, "eu-central-1"), "hub-eu-central-1", "Region eu-central-1", {"account": None, "account_alias": None, "region": "eu-central-1"},
                     id="connection-account-other-region"),
    ],
)
def test_a_scope_is_named_the_same_way_everywhere(scope, label, name, as_json):
    assert (scope.label, scope.name, scope.to_json(), scope.is_default) == (label, name, as_json, scope == DEFAULT_SCOPE)
