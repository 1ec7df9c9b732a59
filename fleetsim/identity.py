"""Who a request comes from and where it goes, as moto decides it; the spec's accounts made real in moto's IAM.

moto answers a request in the account its access key belongs to (moto.core.responses.BaseResponse.
get_current_account: an `x-moto-account-id` header, else the account whose IAM holds the key, else
123456789012, so `fleetsim`/`fleetsim` is the default account) and in the Region of its SigV4
credential scope. STS AssumeRole hands out keys moto creates in the role's account's IAM, so assumed
credentials are answered in the role's account. fleetsim counts and throttles by the same
(account, Region), and refuses AssumeRole where AWS would (fleetsim.assume_role).
"""
from __future__ import annotations

import json
from typing import Iterable, Mapping
from urllib.parse import parse_qs

from moto.core.responses import BaseResponse

from fleetsim.accounts import DEFAULT_ACCOUNT_ID, DEFAULT_REGION, PARTITION, AccountSpec
from fleetsim.assume_role import Refusal, refusal, role_of, trust_policy

# What moto answers when a request carries no key it can read (BaseResponse.get_access_key).
UNSIGNED_ACCESS_KEY = "AKIAEXAMPLE"
OPERATOR_USER = "fleetsim"


def access_key_of(environ: Mapping) -> str:
    """The request's access key id, read as moto reads it."""
    match = BaseResponse.access_key_regex.search(environ.get("HTTP_AUTHORIZATION", ""))
    if match:
        return match.group(1)
    return parse_qs(environ.get("QUERY_STRING", "")).get("AWSAccessKeyId", [UNSIGNED_ACCESS_KEY])[0]


def region_of(environ: Mapping) -> str:
    """The Region of the request's SigV4 credential scope (moto's reading for a loopback endpoint); else us-east-1."""
    authorization = environ.get("HTTP_AUTHORIZATION", "")
    if "AWS4" in authorization:
        parts = authorization.split(",")[0].split("/")
        if len(parts) > 2:
            return parts[2]
    credential = parse_qs(environ.get("QUERY_STRING", "")).get("X-Amz-Credential", [""])[0].split("/")
    return credential[2] if len(credential) == 5 else DEFAULT_REGION


def account_of(environ: Mapping) -> str:
    from moto.iam.models import get_account_id_from

    return environ.get("HTTP_X_MOTO_ACCOUNT_ID") or get_account_id_from(access_key_of(environ))


def request_scope(environ: Mapping) -> tuple[str, str]:
    """(account id, Region) moto answers this request in."""
    return account_of(environ), region_of(environ)


def caller_arn(account: str, access_key: str, region: str) -> str:
    """The caller's ARN as moto's GetCallerIdentity answers it for these credentials."""
    from moto.sts.models import sts_backends

    return sts_backends[account][PARTITION].get_caller_identity(access_key, region)[1]


def created_by_a_client(role_arn: str) -> bool:
    """Whether the role exists in moto's IAM (a role the spec does not declare exists only if a client created it)."""
    from moto.iam.models import iam_backends

    target = role_of(role_arn)
    if target is None:
        return False
    # dict.get: moto's registries build a backend for any account they are asked about.
    partitions = dict.get(iam_backends, target[0]) or {}
    backend = dict.get(partitions, PARTITION)
    return backend is not None and any(role.arn == role_arn for role in backend.roles.values())


def assume_role_refusal(environ: Mapping, body: bytes, accounts: Iterable[AccountSpec]) -> Refusal | None:
    """How STS refuses this AssumeRole request (a form-encoded query-protocol body), or None to let moto grant it."""
    params = {key: values[0] for key, values in parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True).items()}
    account, region = request_scope(environ)
    return refusal(params, accounts={a.id: a for a in accounts}, caller_account=account,
                   caller_arn=caller_arn(account, access_key_of(environ), region),
                   created_by_a_client=created_by_a_client(params.get("RoleArn", "")))


def create_accounts(accounts: Iterable[AccountSpec]) -> None:
    """Each spec account's alias and roles in moto's IAM, so ListAccountAliases, GetRole & co. show them."""
    from moto.iam.models import iam_backends

    for account in accounts:
        iam = iam_backends[account.id][PARTITION]
        if account.alias:
            iam.create_account_alias(account.alias)
        for role in account.roles:
            iam.create_role(role_name=role.name, assume_role_policy_document=json.dumps(trust_policy(account, role.name)), path="/",
                            permissions_boundary=None, description="declared by the fleet spec", tags=[], max_session_duration=None)


def operator_keys(account: str) -> dict[str, str]:
    """Long-term keys of an IAM user in `account`, for a test to call as that account (created on first use)."""
    from moto.iam.models import iam_backends

    if account == DEFAULT_ACCOUNT_ID:
        return {"AccessKeyId": "fleetsim", "SecretAccessKey": "fleetsim"}
    iam = iam_backends[account][PARTITION]
    if OPERATOR_USER not in iam.users:
        iam.create_user(DEFAULT_REGION, OPERATOR_USER)
    keys = iam.users[OPERATOR_USER].access_keys
    key = keys[0] if keys else iam.create_access_key(OPERATOR_USER)
    return {"AccessKeyId": key.access_key_id, "SecretAccessKey": key.secret_access_key}
