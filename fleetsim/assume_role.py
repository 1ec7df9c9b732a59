"""STS AssumeRole as AWS answers it for the roles a fleet spec declares.

AWS checks the request's shape first (botocore's model for AssumeRole: RoleArn 20-2048 characters,
RoleSessionName 2-64 of [\\w+=,.@-]*, ExternalId 2-1224 of [\\w+=,.@:/-]*) and answers ValidationError,
"1 validation error detected: Value 'a:b' at 'roleSessionName' failed to satisfy constraint: Member
must satisfy regular expression pattern: [\\w+=,.@-]*". Then it evaluates the role's trust policy; a
role that does not exist, a caller account the policy does not name, and a missing or different
sts:ExternalId all get the same AccessDenied, "User: <caller ARN> is not authorized to perform:
sts:AssumeRole on resource: <role ARN>", which says nothing of the reason. An ExternalId passed to a
role whose policy has no such condition is ignored. Sources: fleetsim/FIDELITY.md, "Accounts, Regions
and AssumeRole".

Pure: the request and the caller in, a Refusal or None out. fleetsim.identity asks moto who the
caller is and whether a client created the role through IAM.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping
from xml.sax.saxutils import escape

from fleetsim.accounts import AccountSpec
from fleetsim.baselines import validation_message

STS_NAMESPACE = "https://sts.amazonaws.com/doc/2011-06-15/"
# (request parameter, member name in messages, min length, max length, pattern as AWS prints it, pattern; None: no pattern check)
CONSTRAINTS = (
    ("RoleArn", "roleArn", 20, 2048, None, None),
    ("RoleSessionName", "roleSessionName", 2, 64, r"[\w+=,.@-]*", re.compile(r"[\w+=,.@-]*", re.ASCII)),
    ("ExternalId", "externalId", 2, 1224, r"[\w+=,.@:\/-]*", re.compile(r"[\w+=,.@:/-]*", re.ASCII)),
)
REQUIRED = ("RoleArn", "RoleSessionName")
# arn:aws:iam::ACCOUNT:role/[PATH/]NAME: fleetsim's accounts are in the aws partition, and the spec's roles have
# the path /, so their ARNs have none.
ROLE_ARN = re.compile(r"arn:aws:iam::([0-9]{12}):role/(.+)")


@dataclass(frozen=True)
class Refusal:
    status: int
    code: str
    message: str

    def body(self, request_id: str) -> bytes:
        """The error as STS's query protocol writes it."""
        return (f'<ErrorResponse xmlns="{STS_NAMESPACE}">\n  <Error>\n    <Type>Sender</Type>\n    <Code>{self.code}</Code>\n'
                f'    <Message>{escape(self.message)}</Message>\n  </Error>\n  <RequestId>{request_id}</RequestId>\n</ErrorResponse>\n').encode()


def validation_errors(params: Mapping[str, str]) -> list[str]:
    """Every constraint the request breaks, in AWS's words, in the model's member order."""
    errors: list[str] = []
    for name, member, low, high, shown, pattern in CONSTRAINTS:
        value = params.get(name)
        if value is None:
            if name in REQUIRED:
                errors.append(f"Value null at '{member}' failed to satisfy constraint: Member must not be null")
            continue
        if pattern is not None and not pattern.fullmatch(value):
            errors.append(f"Value '{value}' at '{member}' failed to satisfy constraint: Member must satisfy regular expression pattern: {shown}")
        if len(value) < low:
            errors.append(f"Value '{value}' at '{member}' failed to satisfy constraint: Member must have length greater than or equal to {low}")
        elif len(value) > high:
            errors.append(f"Value '{value}' at '{member}' failed to satisfy constraint: Member must have length less than or equal to {high}")
    return errors


def role_of(role_arn: str) -> tuple[str, str] | None:
    """(account id, role name with its path, if any) of a role ARN; None for anything else (a user's ARN, say)."""
    parsed = ROLE_ARN.fullmatch(role_arn)
    return (parsed.group(1), parsed.group(2)) if parsed else None


def refusal(params: Mapping[str, str], *, accounts: Mapping[str, AccountSpec], caller_account: str, caller_arn: str,
            created_by_a_client: bool) -> Refusal | None:
    """How STS refuses this AssumeRole, or None when it grants it.

    `accounts` are the spec's by id; `created_by_a_client` says whether the role exists in moto's IAM
    without the spec declaring it (its trust policy is not evaluated: moto grants it).
    """
    errors = validation_errors(params)
    if errors:
        return Refusal(400, "ValidationError", validation_message(errors))
    role_arn = params["RoleArn"]
    denied = Refusal(403, "AccessDenied", f"User: {caller_arn} is not authorized to perform: sts:AssumeRole on resource: {role_arn}")
    target = role_of(role_arn)
    if target is None:
        return denied
    account, name = target
    role = accounts[account].role(name) if account in accounts else None
    if role is None:
        return None if created_by_a_client else denied
    if caller_account not in role.trusted_accounts:
        return denied
    if role.external_id is not None and params.get("ExternalId") != role.external_id:
        return denied
    return None


def trust_policy(account: AccountSpec, role_name: str, partition: str = "aws") -> dict:
    """The role's trust policy as IAM would hold it: the trusted accounts' roots, with the sts:ExternalId condition when set."""
    role = account.role(role_name)
    statement: dict = {"Effect": "Allow", "Principal": {"AWS": [f"arn:{partition}:iam::{trusted}:root" for trusted in role.trusted_accounts]},
                       "Action": "sts:AssumeRole"}
    if role.external_id is not None:
        statement["Condition"] = {"StringEquals": {"sts:ExternalId": role.external_id}}
    return {"Version": "2012-10-17", "Statement": [statement]}
