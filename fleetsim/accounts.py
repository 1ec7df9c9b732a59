"""Where a fleet lives: the spec's AWS accounts, the roles they offer, and the account and Region of a group or alarm.

    accounts:                         # optional; without it every group is in the default account
      - id: "111111111111"            # required: 12 digits
        alias: dev                    # optional: IAM's account alias rules; groups may name the account by it
        roles:                        # optional: roles other accounts may assume (sts:AssumeRole)
          - name: patchflow-target    # required: an IAM role name
            trusted_accounts: ["123456789012"]   # required: account ids (any) or aliases (of this list)
            external_id: patchflow    # optional: AssumeRole must pass exactly this ExternalId

A group's or alarm's `account` is an id or alias of this list or the default account,
123456789012: moto's default, the account of every request whose keys moto does not know
(`fleetsim`/`fleetsim` included). Its `region` is an AWS Region of the aws partition where
SSM is offered (botocore's endpoint data); the default is us-east-1. Nothing here imports moto.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Mapping

from fleetsim.errors import MISSING, Problem, join_path, unknown_keys

DEFAULT_ACCOUNT_ID = "123456789012"  # moto.core.DEFAULT_ACCOUNT_ID
DEFAULT_REGION = "us-east-1"
PARTITION = "aws"
ACCOUNT_KEYS = ("id", "alias", "roles")
ROLE_KEYS = ("name", "trusted_accounts", "external_id")

ACCOUNT_ID_PATTERN = re.compile(r"^[0-9]{12}$")
# IAM CreateAccountAlias: 3-63 characters, lower-case letters, digits and single hyphens, no hyphen at either end.
ALIAS_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9]|-(?!-)){1,61}[a-z0-9]$")
# IAM CreateRole: RoleName is 1-64 characters of [\w+=,.@-].
ROLE_NAME_PATTERN = re.compile(r"^[\w+=,.@-]{1,64}$", re.ASCII)
# STS AssumeRole: ExternalId is 2-1224 characters of [\w+=,.@:/-].
EXTERNAL_ID_PATTERN = re.compile(r"^[\w+=,.@:/-]{2,1224}$", re.ASCII)


@dataclass(frozen=True)
class RoleSpec:
    name: str
    trusted_accounts: tuple[str, ...]  # account ids
    external_id: str | None = None


@dataclass(frozen=True)
class AccountSpec:
    id: str
    alias: str = ""
    roles: tuple[RoleSpec, ...] = ()

    def role(self, name: str) -> RoleSpec | None:
        return next((role for role in self.roles if role.name == name), None)


@lru_cache(maxsize=1)
def ssm_regions() -> frozenset[str]:
    """The Regions of the aws partition botocore (and so moto) serves SSM in."""
    import botocore.session

    return frozenset(botocore.session.get_session().get_available_regions("ssm", partition_name=PARTITION))


def account_id_of(value: Any) -> str | None:
    """A 12-digit account id as written: a string, or an unquoted YAML number of 12 digits."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and 10**11 <= value < 10**12:
        return str(value)
    if isinstance(value, str) and ACCOUNT_ID_PATTERN.fullmatch(value):
        return value
    return None


class AccountBook:
    """The accounts a spec knows, to resolve the ids and aliases its groups and alarms name."""

    def __init__(self, accounts: tuple[AccountSpec, ...]):
        self.accounts = accounts
        self.by_alias = {a.alias: a.id for a in accounts if a.alias}
        self.ids = (DEFAULT_ACCOUNT_ID, *(a.id for a in accounts if a.id != DEFAULT_ACCOUNT_ID))

    def resolve(self, value: Any) -> str | None:
        """The account id `value` names (an id of the book or the default, or an alias), else None."""
        account = account_id_of(value)
        if account is not None:
            return account if account in self.ids else None
        return self.by_alias.get(value) if isinstance(value, str) else None

    def words(self, account: str) -> str:
        """An account as messages name it: its id, and its alias when it has one."""
        alias = next((a.alias for a in self.accounts if a.id == account and a.alias), "")
        return f"{account} ({alias})" if alias else account

    def expected(self) -> str:
        others = [self.words(account) for account in self.ids[1:]]
        default = f"the default account {self.words(DEFAULT_ACCOUNT_ID)}"
        return f"{default} or an id or alias in accounts ({', '.join(others)})" if others else f"{default} (accounts declares no other)"


def parse_accounts(raw: Any, source: str, problems: list[Problem]) -> tuple[AccountSpec, ...]:
    """The `accounts` list; a bad entry is reported and left out."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        problems.append(Problem.expected(source, "accounts", "a list of accounts, each with an id", raw))
        return ()
    aliases = {item["alias"] for item in raw if isinstance(item, Mapping) and is_alias(item.get("alias"))}
    accounts: list[AccountSpec] = []
    first_id: dict[str, int] = {}
    first_alias: dict[str, int] = {}
    for index, item in enumerate(raw):
        path = join_path("accounts", index)
        if not isinstance(item, Mapping):
            problems.append(Problem.expected(source, path, "a mapping with an id", item))
            continue
        problems += unknown_keys(source, path, item, ACCOUNT_KEYS)
        account = account_id_of(item.get("id", MISSING))
        if account is None:
            problems.append(Problem.expected(source, join_path(path, "id"), "a 12-digit AWS account id", item.get("id", MISSING)))
        elif account in first_id:
            problems.append(Problem.expected(source, join_path(path, "id"), f"an id no other account has (accounts[{first_id[account]}] has it)", item["id"]))
            account = None
        else:
            first_id[account] = index
        alias = item.get("alias", "")
        if alias is None:
            alias = ""
        if not isinstance(alias, str) or (alias and not ALIAS_PATTERN.fullmatch(alias)):
            problems.append(Problem.expected(
                source, join_path(path, "alias"),
                "an account alias of 3-63 lower-case letters, digits and single hyphens, starting and ending with a letter or digit", alias))
        elif ACCOUNT_ID_PATTERN.fullmatch(alias):
            problems.append(Problem.expected(source, join_path(path, "alias"), "an alias that is not 12 digits (it would read as an account id)", alias))
        elif alias in first_alias:
            problems.append(Problem.expected(source, join_path(path, "alias"), f"an alias no other account has (accounts[{first_alias[alias]}] has it)", alias))
        elif alias:
            first_alias[alias] = index
        roles = _parse_roles(item.get("roles"), aliases, source, join_path(path, "roles"), problems)
        # Kept despite other problems (the spec is refused anyway), so groups naming it are not reported too.
        if account is not None:
            accounts.append(AccountSpec(id=account, alias=alias if isinstance(alias, str) and first_alias.get(alias) == index else "", roles=roles))
    return tuple(accounts)


def is_alias(value: Any) -> bool:
    return isinstance(value, str) and bool(ALIAS_PATTERN.fullmatch(value)) and not ACCOUNT_ID_PATTERN.fullmatch(value)


def _parse_roles(raw: Any, aliases: set[str], source: str, path: str, problems: list[Problem]) -> tuple[RoleSpec, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        problems.append(Problem.expected(source, path, "a list of roles, each with a name and trusted_accounts", raw))
        return ()
    roles: list[RoleSpec] = []
    first_name: dict[str, int] = {}
    for index, item in enumerate(raw):
        at = join_path(path, index)
        if not isinstance(item, Mapping):
            problems.append(Problem.expected(source, at, "a mapping with a name and trusted_accounts", item))
            continue
        problems += unknown_keys(source, at, item, ROLE_KEYS)
        name = item.get("name", MISSING)
        if not isinstance(name, str) or not ROLE_NAME_PATTERN.fullmatch(name):
            problems.append(Problem.expected(source, join_path(at, "name"), "an IAM role name of 1-64 letters, digits and +=,.@_-", name))
        elif name in first_name:
            problems.append(Problem.expected(source, join_path(at, "name"), f"a name no other role of this account has ({path}[{first_name[name]}] has it)", name))
        else:
            first_name[name] = index
        trusted_raw = item.get("trusted_accounts", MISSING)
        trusted: list[str] = []
        if not isinstance(trusted_raw, list) or not trusted_raw:
            problems.append(Problem.expected(source, join_path(at, "trusted_accounts"), "a non-empty list of account ids or aliases", trusted_raw))
        else:
            for position, value in enumerate(trusted_raw):
                account = account_id_of(value)
                if account is None and isinstance(value, str) and value in aliases:
                    account = value  # an alias, resolved once every account was read
                if account is None:
                    known = f" ({', '.join(sorted(aliases))})" if aliases else ""
                    problems.append(Problem.expected(
                        source, join_path(at, "trusted_accounts", position), f"a 12-digit account id or the alias of an account in accounts{known}", value))
                else:
                    trusted.append(account)
        external_id = item.get("external_id")
        if external_id is not None and (not isinstance(external_id, str) or not EXTERNAL_ID_PATTERN.fullmatch(external_id)):
            problems.append(Problem.expected(source, join_path(at, "external_id"), "an external id of 2-1224 letters, digits and +=,.@:/_-", external_id))
        if isinstance(name, str):
            roles.append(RoleSpec(name=name, trusted_accounts=tuple(trusted), external_id=external_id))
    return tuple(roles)


def with_aliases_resolved(accounts: tuple[AccountSpec, ...]) -> tuple[AccountSpec, ...]:
    """The accounts with every trusted alias replaced by its account id."""
    by_alias = {a.alias: a.id for a in accounts if a.alias}
    return tuple(
        AccountSpec(account.id, account.alias, tuple(
            RoleSpec(role.name, tuple(dict.fromkeys(by_alias.get(t, t) for t in role.trusted_accounts)), role.external_id) for role in account.roles))
        for account in accounts
    )


def parse_scope(values: Mapping, at, book: AccountBook, source: str, problems: list[Problem]) -> tuple[str, str]:
    """(account id, Region) of a group or alarm; `at(key)` is where a key's value is written."""
    account_raw = values.get("account", DEFAULT_ACCOUNT_ID)
    account = book.resolve(account_raw)
    if account is None:
        problems.append(Problem.expected(source, at("account"), book.expected(), account_raw))
        account = DEFAULT_ACCOUNT_ID
    region = values.get("region", DEFAULT_REGION)
    if not isinstance(region, str) or region not in ssm_regions():
        problems.append(Problem.expected(source, at("region"), f"an AWS Region of the {PARTITION} partition that SSM is offered in, "
                                                               "such as us-east-1 or eu-west-1", region))
        region = DEFAULT_REGION
    return account, region
