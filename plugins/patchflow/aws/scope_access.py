"""Reaching a scope's account: an assumed role's credentials, kept until shortly before they expire.

The rollout's own credentials (its Airflow connection, or the default chain) assume each target
account's role; what comes back is a boto3 session in that account. An account with an Airflow
connection of its own is reached through that connection instead (see patchflow.rollout.triggers).
`Access` is plain data so a trigger can carry it to the triggerer.
"""
from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from patchflow.core.scopes import Scope, session_name

# Assumed credentials last an hour by default; a client made from them must not outlive them in a long wait.
REFRESH_BEFORE_EXPIRY = timedelta(minutes=10)


@dataclass(frozen=True)
class Access:
    """How one scope's calls are made: in `region`, as `role_arn` (assumed with `external_id`) or through `connection_id`."""

    region: str | None = None
    role_arn: str | None = None
    external_id: str | None = None
    session_name: str | None = None
    connection_id: str | None = None
    account_id: str | None = None

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict | None) -> "Access | None":
        return cls(**data) if data else None


def access_for(scope: Scope, run_id: str) -> Access | None:
    """None for the default scope: the rollout connection's own account and Region, as before accounts existed."""
    if scope.is_default:
        return None
    account = scope.account
    if account is None:
        return Access(region=scope.region)
    return Access(
        region=scope.region,
        role_arn=account.role_arn,
        external_id=account.external_id if account.role_arn else None,
        session_name=session_name(run_id) if account.role_arn else None,
        connection_id=account.connection_id,
        account_id=account.id,
    )


class RoleNotAssumable(Exception):
    """The target account's role could not be assumed; the message names the role and AWS's answer."""


_cache_lock = threading.Lock()
_cached: dict[tuple, tuple[dict, datetime]] = {}


def assumed_session(base: boto3.session.Session, access: Access) -> boto3.session.Session:
    """A session in the role's account, from credentials cached per role, external id, session name and base keys."""
    base_credentials = base.get_credentials()
    base_key = base_credentials.access_key if base_credentials is not None else None
    key = (access.role_arn, access.external_id, access.session_name, base_key)
    now = datetime.now(timezone.utc)
    with _cache_lock:
        found = _cached.get(key)
    if found is None or found[1] - REFRESH_BEFORE_EXPIRY <= now:
        credentials = assume(base, access)
        found = (credentials, credentials["Expiration"])
        with _cache_lock:
            _cached[key] = found
    credentials = found[0]
    return boto3.session.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=access.region or base.region_name,
    )


def assume(base: boto3.session.Session, access: Access) -> dict:
    """STS AssumeRole through the base credentials; any refusal becomes RoleNotAssumable naming the role."""
    request = {"RoleArn": access.role_arn, "RoleSessionName": access.session_name or "patchflow"}
    if access.external_id:
        request["ExternalId"] = access.external_id
    try:
        sts = base.client("sts", region_name=access.region or base.region_name or "us-east-1")
        answer = sts.assume_role(**request)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise RoleNotAssumable(f"cannot assume role {access.role_arn}: {error.get('Code', 'error')}: {error.get('Message', '')}".rstrip(": ")) from exc
    except BotoCoreError as exc:
        raise RoleNotAssumable(f"cannot assume role {access.role_arn}: {exc}") from exc
    credentials = dict(answer["Credentials"])
    expiration = credentials["Expiration"]
    if isinstance(expiration, str):
        expiration = datetime.fromisoformat(expiration.replace("Z", "+00:00"))
    credentials["Expiration"] = expiration if expiration.tzinfo else expiration.replace(tzinfo=timezone.utc)
    return credentials


def forget_assumed_credentials() -> None:
    """For tests that swap the endpoint or the role's trust between runs in one process."""
    with _cache_lock:
        _cached.clear()
