"""A rollout plan's accounts and each stage's targets: the accounts and Regions the stages patch.

`accounts` is written in the plan, or names a shared file (`accounts: org` reads
accounts/org.yaml beside the plan's rollouts folder) holding the same mapping: a role
template, an external id and the list of accounts. A stage's `targets` name accounts of
that list, by alias or id, and their Regions; each (account, Region) pair is one of the
stage's scopes (patchflow.core.scopes). Readers record problems in the plan's Findings and
return None for what they could not read, like every reader of patchflow.core.plan_stage.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Mapping, Sequence

from patchflow.core.errors import MISSING, InvalidInput, join_path, raise_if_any
from patchflow.core.scopes import (
    ACCOUNT_KEYS,
    ACCOUNT_PLACEHOLDER,
    ACCOUNTS_KEYS,
    DEFAULT_ROLE_TEMPLATE,
    DEFAULT_SCOPE,
    TARGET_KEYS,
    Account,
    Scope,
    role_arn_for,
)
from patchflow.core.validation import Entry, Findings, is_absent, load_file, read_list, read_mapping, read_text
from patchflow.core.yamlfile import display_path

CONNECTION_ID = re.compile(r"^[A-Za-z0-9_.-]{1,250}$")
ACCOUNT_ID = re.compile(r"\d{12}\Z")
# Twelve digits would read as an account id wherever targets name the account.
ACCOUNT_ALIAS = re.compile(r"(?!\d{12}\Z)[a-z0-9][a-z0-9-]{0,62}\Z")
# STS AssumeRole ExternalId: 2-1224 characters of [\w+=,.@:/-].
EXTERNAL_ID = re.compile(r"[\w+=,.@:/-]{2,1224}\Z", re.ASCII)
ROLE_TEMPLATE = re.compile(r"arn:aws(?:-[a-z]+)*:iam::\{account\}:role/(?:[\w+=,.@-]+/)*[\w+=,.@-]{1,64}\Z", re.ASCII)
REGION = re.compile(r"[a-z]{2}(?:-gov|-iso[a-z]*)?-[a-z]+-\d\Z")
ACCOUNTS_FILE_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}\Z")

MOST_ACCOUNTS = 1000
MOST_REGIONS = 50

ACCOUNTS_WHAT = "a mapping with role, external_id and list"
ACCOUNT_WHAT = "a mapping with id and alias (and connection, or role and external_id, when the account needs its own)"
ALIAS_WHAT = "an account alias of lower-case letters, digits and - (up to 63, starting with a letter or digit; not 12 digits)"
EXTERNAL_ID_WHAT = "an external id of 2-1224 letters, digits or +=,.@:/-"
ROLE_WHAT = "an IAM role ARN (arn:PARTITION:iam::{account}:role/NAME)"
ROLE_PLACEHOLDER_WHAT = f"a role ARN with {ACCOUNT_PLACEHOLDER} where each account's id goes, such as {DEFAULT_ROLE_TEMPLATE}"
CONNECTION_WHAT = "an Airflow connection id (letters, digits, _ . -)"
BESIDE_CONNECTION_WHAT = "nothing beside connection (the account is reached through its Airflow connection, not by assuming a role)"
TARGET_WHAT = "a mapping with account and regions"
TARGETS_WHAT = "a mapping with account and regions, or a list of them"
REGION_WHAT = "a Region name such as us-east-1 or eu-central-1"


def accounts_dir_for(plan_path: str | Path) -> Path:
    """Where `accounts: NAME` looks: the accounts folder beside the plan's own folder (include/accounts for include/rollouts)."""
    return Path(plan_path).resolve().parent.parent / "accounts"


# --------------------------------------------------------------------------- accounts


def read_role(found: Findings, entry: Entry) -> str | None:
    value, path = entry
    if isinstance(value, str) and ACCOUNT_PLACEHOLDER not in value:
        found.expected(path, ROLE_PLACEHOLDER_WHAT, value)
        return None
    return read_text(found, entry, ROLE_WHAT, ROLE_TEMPLATE)


def read_external_id(found: Findings, entry: Entry) -> str | None:
    return read_text(found, entry, EXTERNAL_ID_WHAT, EXTERNAL_ID, high=1224)


def read_account_id(found: Findings, entry: Entry) -> str | None:
    value, path = entry
    if isinstance(value, int) and not isinstance(value, bool):
        # YAML reads an unquoted id as a number, which loses any leading zero.
        found.expected(path, "a 12-digit account id in quotes", value)
        return None
    return read_text(found, entry, "a 12-digit account id", ACCOUNT_ID)


def read_account(found: Findings, entry: Entry, role: str | None, external_id: str | None, seen: dict[str, str]) -> Account | None:
    """One entry of `list`; `role` and `external_id` are the list's own, which the account's override.

    `seen` maps every id and alias read so far to the path of its account.
    """
    path = entry[1]
    items = read_mapping(found, entry, ACCOUNT_KEYS, ACCOUNT_WHAT)
    if items is None:
        return None
    before = len(found.problems)
    account_id = None
    if "id" not in items:
        found.add(path, "expected an id, got nothing")
    else:
        account_id = read_account_id(found, items["id"])
    alias = read_text(found, items["alias"], ALIAS_WHAT, ACCOUNT_ALIAS) if "alias" in items else None
    for name, key, what in ((account_id, "id", "an account id not listed before"), (alias, "alias", "an alias not used by an earlier account")):
        if name is None:
            continue
        if name in seen:
            found.expected(items[key][1], f"{what} ({seen[name]} has it)", name)
        else:
            seen[name] = path
    connection = None
    if "connection" in items:
        connection = read_text(found, items["connection"], CONNECTION_WHAT, CONNECTION_ID)
        for key in ("role", "external_id"):
            if key in items:
                found.expected(items[key][1], BESIDE_CONNECTION_WHAT, items[key][0])
    else:
        if "role" in items:
            role = read_role(found, items["role"])
        if "external_id" in items:
            external_id = read_external_id(found, items["external_id"])
    if len(found.problems) > before or account_id is None or (connection is None and role is None):
        return None
    if connection is not None:
        return Account(account_id, alias, connection_id=connection)
    return Account(account_id, alias, role_arn=role_arn_for(role, account_id), external_id=external_id)


def read_accounts_mapping(found: Findings, entry: Entry, what: str) -> tuple[Account, ...] | None:
    """The accounts mapping, written in the plan or in an accounts file; None when any of it is unreadable."""
    items = read_mapping(found, entry, ACCOUNTS_KEYS, what)
    if items is None:
        return None
    before = len(found.problems)
    role = read_role(found, items["role"]) if "role" in items else DEFAULT_ROLE_TEMPLATE
    external_id = read_external_id(found, items["external_id"]) if "external_id" in items else None
    if "list" not in items:
        found.add(entry[1], "expected a list, got nothing")
        return None
    seen: dict[str, str] = {}
    accounts = [read_account(found, account, role, external_id, seen) for account in read_list(found, items["list"], "accounts", MOST_ACCOUNTS, low=1)]
    if len(found.problems) > before or not accounts or None in accounts:
        return None
    return tuple(accounts)


def parse_accounts(data: Any, source: str) -> tuple[Account, ...]:
    """An accounts file (include/accounts/NAME.yaml); raise InvalidInput listing every problem."""
    found = Findings(source)
    accounts = read_accounts_mapping(found, (MISSING if data is None else data, ""), ACCOUNTS_WHAT)
    raise_if_any(found.problems)
    return accounts


def load_accounts(path: str | Path) -> tuple[Account, ...]:
    return load_file(path, parse_accounts)


def read_accounts_file(found: Findings, entry: Entry, accounts_dir: Path) -> tuple[Account, ...] | None:
    """`accounts: NAME`: the accounts of accounts_dir/NAME.yaml, whose own problems name that file."""
    path = entry[1]
    name = read_text(found, entry, f"{ACCOUNTS_WHAT}, or the name of a file in {display_path(accounts_dir)} (lower-case letters, digits, _ and -)",
                     ACCOUNTS_FILE_NAME)
    if name is None:
        return None
    file = accounts_dir / f"{name}.yaml"
    if not file.is_file():
        found.expected_described(path, "the name of a file of accounts", f"{name!r} ({display_path(file)} does not exist)")
        return None
    try:
        return load_accounts(file)
    except InvalidInput as exc:
        for problem in exc.problems:
            if problem not in found.problems:
                found.problems.append(problem)
        return None


def read_plan_accounts(found: Findings, entry: Entry, accounts_dir: Path) -> tuple[Account, ...] | None:
    """The plan's `accounts`: () when it has none, None when they are written but unreadable."""
    value = entry[0]
    if is_absent(value):
        return ()
    if isinstance(value, str):
        return read_accounts_file(found, entry, accounts_dir)
    return read_accounts_mapping(found, entry, f"{ACCOUNTS_WHAT}, or the name of a file in {display_path(accounts_dir)}")


# --------------------------------------------------------------------------- targets


def read_target_account(found: Findings, entry: Entry, accounts: Sequence[Account]) -> Account | None:
    value, path = entry
    known = ", ".join(account.alias or account.id for account in accounts)
    if isinstance(value, int) and not isinstance(value, bool):
        found.expected(path, f"an account the plan lists, by alias or 12-digit id in quotes ({known})", value)
        return None
    for account in accounts:
        if isinstance(value, str) and value in (account.id, account.alias):
            return account
    found.expected(path, f"an account the plan lists, by alias or id ({known})", value)
    return None


def read_regions(found: Findings, entry: Entry) -> list[tuple[str | None, str]]:
    """(Region, path) for each Region of one target, in written order; the Region is None where it is unreadable."""
    return [(read_text(found, region, REGION_WHAT, REGION), region[1]) for region in read_list(found, entry, "Region names such as us-east-1", MOST_REGIONS, low=1)]


def read_targets(found: Findings, entry: Entry | None, accounts: tuple[Account, ...] | None) -> tuple[Scope, ...] | None:
    """A stage's scopes: one per account and Region of its targets, in written order; the default scope without targets.

    `accounts` are the plan's: () when it has none, None when they were unreadable (their problems
    are reported already, so a target naming one is not reported again).
    """
    if entry is None or is_absent(entry[0]):
        return (DEFAULT_SCOPE,)
    value, path = entry
    if accounts == ():
        found.expected(path, "no targets in a plan without accounts (targets name accounts the plan lists under accounts)", value)
        return None
    if isinstance(value, Mapping):
        targets = [entry]
    elif isinstance(value, list) and value:
        targets = [(target, join_path(path, index)) for index, target in enumerate(value)]
    else:
        found.expected(path, TARGETS_WHAT, value)
        return None
    before = len(found.problems)
    scopes: dict[Scope, str] = {}
    for target in targets:
        items = read_mapping(found, target, TARGET_KEYS, TARGET_WHAT)
        if items is None:
            continue
        for required in TARGET_KEYS:
            if required not in items:
                found.add(target[1], f"expected {'an account' if required == 'account' else 'regions'}, got nothing")
        account = read_target_account(found, items["account"], accounts) if "account" in items and accounts is not None else None
        regions = read_regions(found, items["regions"]) if "regions" in items else []
        for region, region_path in regions:
            if account is None or region is None:
                continue
            scope = Scope(account, region)
            if scope in scopes:
                found.expected_described(region_path, "each account and Region once in a stage", f"{scope.name} again ({scopes[scope]} has it)")
            else:
                scopes[scope] = region_path
    if len(found.problems) > before or accounts is None:
        return None
    return tuple(scopes)


# --------------------------------------------------------------------------- rules across stages


def patch_group_clash(used: dict[tuple[str, Scope], str], group: str, scopes: Sequence[Scope], path: str) -> str | None:
    """What a stage's patch group should have been when an earlier stage uses it in one of the same scopes (None: no clash).

    `used` maps (patch group, scope) to the stage that first used it there; this stage's own are added.
    """
    clashes_by_stage: dict[str, list[Scope]] = {}
    for scope in scopes:
        earlier = used.setdefault((group, scope), path)
        if earlier != path:
            clashes_by_stage.setdefault(earlier, []).append(scope)
    if not clashes_by_stage:
        return None
    stage_order = list(dict.fromkeys(used.values()))
    shared = {earlier: clashes_by_stage[earlier] for earlier in sorted(clashes_by_stage, key=stage_order.index)}
    if all(scope.is_default for clashes in shared.values() for scope in clashes):
        return f"a patch group no other stage uses ({', '.join(shared)} uses it)"
    where = "; ".join(f"{earlier} uses it in {' and '.join(scope.name for scope in clashes)}" for earlier, clashes in shared.items())
    return f"a patch group no other stage uses in the same account and Region ({where})"


def pinned_scope_problem(scopes: Sequence[Scope]) -> tuple[str, str] | None:
    """(what, got) when a stage that later stages pin to has other than one scope: its release manifest comes from one scan."""
    if len(scopes) == 1:
        return None
    return ("one account and Region for a stage later stages pin to (its manifest is made from one scan)",
            f"{len(scopes)} ({', '.join(scope.label for scope in scopes)})")
