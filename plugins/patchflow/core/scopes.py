"""Where a stage patches: an account and a Region, reached through the rollout's own credentials,
an assumed role, or an Airflow connection of that account.

A stage without `targets` has one scope, the default one: the rollout connection's own account
and Region, exactly as a single-account plan has always run. A stage with targets has one scope
per (account, Region) pair, in the order the plan lists them; `order` says whether they run side
by side or one after another with a gate between them.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

ORDERS = ("parallel", "one_at_a_time")
ACCOUNTS_KEYS = ("role", "external_id", "list")
ACCOUNT_KEYS = ("id", "alias", "connection", "role", "external_id")
TARGET_KEYS = ("account", "regions")
ACCOUNT_PLACEHOLDER = "{account}"
DEFAULT_ROLE_TEMPLATE = "arn:aws:iam::{account}:role/patchflow-target"

# STS RoleSessionName: 2 to 64 characters of [\w+=,.@-]; Airflow run ids hold `:`, which it refuses.
SESSION_NAME_LIMIT = 64
_NOT_IN_SESSION_NAME = re.compile(r"[^\w+=,.@-]", re.ASCII)


@dataclass(frozen=True)
class Account:
    """One AWS account of the plan, reached by assuming `role_arn` from the rollout's connection,
    or through its own Airflow connection (`connection_id`), never both."""

    id: str
    alias: str | None = None
    role_arn: str | None = None
    external_id: str | None = None
    connection_id: str | None = None

    @property
    def name(self) -> str:
        """How reasons and rows name the account: its alias and id, or the id alone."""
        return f"{self.alias} ({self.id})" if self.alias else self.id


@dataclass(frozen=True)
class Scope:
    """One account and Region a stage patches. `account` None: the rollout connection's own account;
    `region` None: that connection's Region."""

    account: Account | None = None
    region: str | None = None

    @property
    def is_default(self) -> bool:
        return self.account is None and self.region is None

    @property
    def label(self) -> str:
        """Short, for task group ids and tables: `prod-eu-west-1`; `default` for the connection's own."""
        if self.is_default:
            return "default"
        who = (self.account.alias or self.account.id) if self.account is not None else "hub"
        return f"{who}-{self.region}" if self.region else who

    @property
    def name(self) -> str:
        """For reasons: `account prod (333333333333), Region eu-west-1`."""
        parts = []
        if self.account is not None:
            parts.append(f"account {self.account.name}")
        if self.region:
            parts.append(f"Region {self.region}")
        return ", ".join(parts) or "the rollout connection's account and Region"

    def to_json(self) -> dict:
        """What ledger records and report rows carry to say where."""
        return {"account": self.account.id if self.account else None, "account_alias": self.account.alias if self.account else None,
                "region": self.region}


DEFAULT_SCOPE = Scope()


def session_name(run_id: str, prefix: str = "patchflow") -> str:
    """A RoleSessionName carrying the run id, every character STS refuses made `-`."""
    return _NOT_IN_SESSION_NAME.sub("-", f"{prefix}-{run_id}")[:SESSION_NAME_LIMIT]


def role_arn_for(template: str, account_id: str) -> str:
    return template.replace(ACCOUNT_PLACEHOLDER, account_id)
