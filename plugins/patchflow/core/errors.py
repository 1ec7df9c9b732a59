"""Problems found in user input, reported all at once.

Every message names where the bad value came from (a file, or the DAG run's
params), the line and column where a file holds it, the path inside it, what
was expected and what was found:

    include/baselines/prod-al2023.yaml:14:7: approval_rules[1].approve_after_days: expected an integer 0-360, got 'seven'

A list item with a name of its own carries it in the path, so a plan's stages
read as people call them: stages[1] (staging).window.timezone.

The readers that find them live in patchflow.core.validation.
"""
from __future__ import annotations

import re
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


def named_item(path: str, name: str) -> str:
    """'stages[1]', 'staging' -> 'stages[1] (staging)': a list item's path with the name it is known by."""
    return f"{path} ({name})"


# The names named_item() adds: what a stage name may be (lower-case letters, digits, _ and -).
ITEM_NAME = re.compile(r"\] \([a-z][a-z0-9_-]*\)")


def unnamed_path(path: str) -> str:
    """A path without the names named_item() added: where the value sits in the document."""
    return ITEM_NAME.sub("]", path)


@dataclass(frozen=True)
class Problem:
    source: str
    path: str
    message: str
    line: int | None = None  # 1-based, where the file holds the value; None when the source is no file or the problem is the whole file
    column: int | None = None

    def __str__(self) -> str:
        where = self.source
        if self.line is not None:
            where += f":{self.line}" if self.column is None else f":{self.line}:{self.column}"
        if self.path:
            return f"{where}: {self.path}: {self.message}"
        return f"{where}: {self.message}"

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
