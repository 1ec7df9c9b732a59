"""Problems found in user input, reported all at once.

Every message names where the bad value came from (a file, or the DAG run's
params), the path inside it, what was expected and what was found:

    include/baselines/prod-al2023.yaml: approval_rules[1].approve_after_days: expected an integer 0-360, got 'seven'

The readers that find them live in patchflow.core.validation.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

MISSING = object()


def shown(value: object) -> str:
    """How a found value appears in a message: repr for scalars, 'nothing' when absent."""
    if value is MISSING:
        return "nothing"
    if isinstance(value, (dict, list, tuple)):
        kind = {dict: "a mapping", list: "a list", tuple: "a list"}[type(value)]
        return kind
    return repr(value)


def join_path(*parts: object) -> str:
    """'stages', 2, 'patch_group' -> 'stages[2].patch_group'."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part:
            out += f".{part}" if out else str(part)
    return out


@dataclass(frozen=True)
class Problem:
    source: str
    path: str
    message: str

    def __str__(self) -> str:
        if self.path:
            return f"{self.source}: {self.path}: {self.message}"
        return f"{self.source}: {self.message}"

    @classmethod
    def expected(cls, source: str, path: str, what: str, got: object) -> "Problem":
        return cls(source, path, f"expected {what}, got {shown(got)}")


class InvalidInput(ValueError):
    """One or more problems in user input; str() lists each on its own line."""

    def __init__(self, problems: Iterable[Problem]):
        self.problems = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


def raise_if_any(problems: Iterable[Problem]) -> None:
    problems = list(problems)
    if problems:
        raise InvalidInput(problems)
