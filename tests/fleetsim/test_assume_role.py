"""STS AssumeRole's answers for the roles a fleet spec declares, decided without a server (fleetsim.assume_role)."""
from __future__ import annotations

import pytest

from fleetsim.accounts import AccountSpec, RoleSpec
from fleetsim.assume_role import Refusal, refusal, role_of, trust_policy

HUB, DEV, PROD = "123456789012", "111111111111", "333333333333"
ACCOUNTS = {
    DEV: AccountSpec(DEV, "dev", (RoleSpec("patchflow-target", (HUB,), "patchflow"), RoleSpec("reader", (HUB, PROD)))),
    PROD: AccountSpec(PROD, "prod", (RoleSpec("patchflow-target", (HUB,), "patchflow"),)),
}
DEV_ROLE = f"arn:aws:iam::{DEV}:role/patchflow-target"
HUB_CALLER = f"arn:aws:sts::{HUB}:user/moto"


def denied(caller: str, role_arn: str) -> Refusal:
    return Refusal(403, "AccessDenied", f"User: {caller} is not authorized to perform: sts:AssumeRole on resource: {role_arn}")


def invalid(*errors: str) -> Refusal:
    count = len(errors)
    return Refusal(400, "ValidationError", f"{count} validation error{'s' if count > 1 else ''} detected: " + "; ".join(errors))


@pytest.mark.parametrize(
    "params, caller_account, created_by_a_client, expected",
    [
        pytest.param({"RoleArn": DEV_ROLE, "RoleSessionName": "patchflow-run-1", "ExternalId": "patchflow"}, HUB, False, None,
                     id="trusted-account-with-the-external-id"),
        pytest.param({"RoleArn": DEV_ROLE, "RoleSessionName": "patchflow-run-1"}, HUB, False, denied(HUB_CALLER, DEV_ROLE),
                     id="external-id-missing"),
        pytest.param({"RoleArn": DEV_ROLE, "RoleSessionName": "patchflow-run-1", "ExternalId": "patchflow-2"}, HUB, False,
                     denied(HUB_CALLER, DEV_ROLE), id="external-id-different"),
        pytest.param({"RoleArn": DEV_ROLE, "RoleSessionName": "s1", "ExternalId": "patchflow"}, PROD, False,
                     denied(f"arn:aws:sts::{PROD}:assumed-role/patchflow-target/s0", DEV_ROLE), id="caller-account-not-trusted"),
        pytest.param({"RoleArn": f"arn:aws:iam::{DEV}:role/reader", "RoleSessionName": "s1", "ExternalId": "anything"}, PROD, False, None,
                     id="an-external-id-the-role-does-not-ask-for-is-ignored"),
        pytest.param({"RoleArn": f"arn:aws:iam::{DEV}:role/ops/patchflow-target", "RoleSessionName": "s1", "ExternalId": "patchflow"}, HUB, False,
                     denied(HUB_CALLER, f"arn:aws:iam::{DEV}:role/ops/patchflow-target"), id="the-spec-roles-path-is-slash-so-no-other-arn-names-it"),
        pytest.param({"RoleArn": f"arn:aws:iam::{DEV}:role/admin", "RoleSessionName": "s1"}, HUB, False,
                     denied(HUB_CALLER, f"arn:aws:iam::{DEV}:role/admin"), id="role-the-account-does-not-have"),
        pytest.param({"RoleArn": "arn:aws:iam::222222222222:role/patchflow-target", "RoleSessionName": "s1", "ExternalId": "patchflow"}, HUB, False,
                     denied(HUB_CALLER, "arn:aws:iam::222222222222:role/patchflow-target"), id="account-the-spec-does-not-have"),
        pytest.param({"RoleArn": f"arn:aws:iam::{DEV}:role/made-by-a-test", "RoleSessionName": "s1"}, HUB, True, None,
                     id="role-a-client-created-through-iam-is-granted-as-moto-grants-it"),
        pytest.param({"RoleArn": f"arn:aws:iam::{DEV}:user/patchflow", "RoleSessionName": "s1"}, HUB, False,
                     denied(HUB_CALLER, f"arn:aws:iam::{DEV}:user/patchflow"), id="a-user-arn-is-no-role"),
        pytest.param({"RoleArn": DEV_ROLE, "RoleSessionName": "patchflow/run 1", "ExternalId": "patchflow"}, HUB, False,
                     invalid("Value 'patchflow/run 1' at 'roleSessionName' failed to satisfy constraint: "
                             "Member must satisfy regular expression pattern: [\\w+=,.@-]*"), id="session-name-pattern"),
        pytest.param({"RoleArn": DEV_ROLE, "RoleSessionName": "r" * 65, "ExternalId": "patchflow"}, HUB, False,
                     invalid(f"Value '{'r' * 65}' at 'roleSessionName' failed to satisfy constraint: Member must have length less than or equal to 64"),
                     id="session-name-too-long"),
        pytest.param({"RoleArn": DEV_ROLE, "RoleSessionName": "r" * 64, "ExternalId": "patchflow"}, HUB, False, None, id="session-name-longest"),
        pytest.param({"RoleArn": DEV_ROLE, "RoleSessionName": "r", "ExternalId": "patchflow"}, HUB, False,
                     invalid("Value 'r' at 'roleSessionName' failed to satisfy constraint: Member must have length greater than or equal to 2"),
                     id="session-name-too-short"),
        pytest.param({"RoleArn": DEV_ROLE, "ExternalId": "patch flow"}, HUB, False,
                     invalid("Value null at 'roleSessionName' failed to satisfy constraint: Member must not be null",
                             "Value 'patch flow' at 'externalId' failed to satisfy constraint: Member must satisfy regular expression pattern: "
                             "[\\w+=,.@:\\/-]*"), id="every-problem-at-once-before-any-trust"),
        pytest.param({"RoleArn": "arn:aws:iam::1:role", "RoleSessionName": "s1"}, HUB, False,
                     invalid("Value 'arn:aws:iam::1:role' at 'roleArn' failed to satisfy constraint: Member must have length greater than or equal to 20"),
                     id="role-arn-too-short"),
    ],
)
def test_refusal(params, caller_account, created_by_a_client, expected):
    caller = f"arn:aws:sts::{PROD}:assumed-role/patchflow-target/s0" if caller_account == PROD else HUB_CALLER
    assert refusal(params, accounts=ACCOUNTS, caller_account=caller_account, caller_arn=caller, created_by_a_client=created_by_a_client) == expected


@pytest.mark.parametrize(
    "role_arn, expected",
    [
        pytest.param(DEV_ROLE, (DEV, "patchflow-target"), id="role"),
        pytest.param(f"arn:aws:iam::{DEV}:role/a/b/patchflow-target", (DEV, "a/b/patchflow-target"), id="role-with-a-path"),
        pytest.param(f"arn:aws-us-gov:iam::{DEV}:role/patchflow-target", None, id="another-partition"),
        pytest.param(f"arn:aws:iam::{DEV}:user/patchflow-target", None, id="user"),
        pytest.param(f"arn:aws:sts::{DEV}:assumed-role/patchflow-target/s1", None, id="assumed-role-session"),
        pytest.param("patchflow-target", None, id="bare-name"),
    ],
)
def test_role_of(role_arn, expected):
    assert role_of(role_arn) == expected


def test_the_trust_policy_names_each_trusted_accounts_root_and_the_external_id_condition():
    assert trust_policy(ACCOUNTS[DEV], "patchflow-target") == {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": [f"arn:aws:iam::{HUB}:root"]}, "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"sts:ExternalId": "patchflow"}}}]}
    assert trust_policy(ACCOUNTS[DEV], "reader") == {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": [f"arn:aws:iam::{HUB}:root", f"arn:aws:iam::{PROD}:root"]}, "Action": "sts:AssumeRole"}]}


def test_the_error_body_is_stss_query_protocol_error():
    assert denied(HUB_CALLER, DEV_ROLE).body("req-1").decode() == (
        '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">\n  <Error>\n    <Type>Sender</Type>\n    <Code>AccessDenied</Code>\n'
        f"    <Message>User: {HUB_CALLER} is not authorized to perform: sts:AssumeRole on resource: {DEV_ROLE}</Message>\n  </Error>\n"
        "  <RequestId>req-1</RequestId>\n</ErrorResponse>\n")
