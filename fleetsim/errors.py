"""fleetsim's own errors for bad input: fleet specs, fault requests, catalog files, YAML.

Every problem is one line that names where the bad value was read (a file,
or a request such as `fault`), the path inside it, what was expected and what
was found; all problems of one input are raised together:

    include/fleets/x.yaml: groups[1].count: expected an integer >= 1, got 'ten'
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import yaml

# Marks a key that is absent, which a message shows as "nothing" (None is a value a document can hold).
MISSING: Any = object()

_CONTAINER_WORDS = {dict: "a mapping", list: "a list", tuple: "a list"}


def shown(found: object) -> str:
    """A found value as a message quotes it: containers by kind, scalars by repr, an absent key as 'nothing'."""
    if found is MISSING:
        return "nothing"
    for kind, words in _CONTAINER_WORDS.items():
        if isinstance(found, kind):
            return words
    return repr(found)


def join_path(*parts: object) -> str:
    """Path segments as a message writes them: ("groups", 1, "count") reads groups[1].count."""
    written = ""
    for part in parts:
        if isinstance(part, int) and not isinstance(part, bool):
            written = f"{written}[{part}]"
        elif part:
            written = f"{written}.{part}" if written else str(part)
    return written


@dataclass(frozen=True)
class Problem:
    source: str
    path: str
    message: str

    @classmethod
    def expected(cls, source: str, path: str, what: str, found: object) -> "Problem":
        return cls(source, path, f"expected {what}, got {shown(found)}")

    def __str__(self) -> str:
        return ": ".join(part for part in (self.source, self.path, self.message) if part)


class InvalidInput(ValueError):
    """Every problem found in one input; str() puts each on its own line."""

    def __init__(self, problems: Iterable[Problem]):
        self.problems = tuple(problems)
        super().__init__("\n".join(map(str, self.problems)))


def unknown_keys(source: str, path: str, found: Iterable[object], allowed: Iterable[str]) -> list[Problem]:
    """One problem for each key of `found` not in `allowed`, naming what is allowed."""
    allowed = tuple(allowed)
    return [
        Problem(source, join_path(path, str(key)), f"unknown key; expected one of {', '.join(allowed)}")
        for key in found if key not in allowed
    ]


def read_yaml(path: str | Path) -> Any:
    """One YAML (or JSON) document read with yaml.safe_load; any failure is an InvalidInput naming the file."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidInput([Problem(source, "", "file not found")]) from None
    except IsADirectoryError:
        raise InvalidInput([Problem(source, "", "expected a file, got a directory")]) from None
    except UnicodeDecodeError as exc:
        raise InvalidInput([Problem(source, "", f"expected UTF-8 text, got undecodable byte at offset {exc.start}")]) from None
    return parse_yaml(text, source)


def parse_yaml(text: str, source: str) -> Any:
    """yaml.safe_load of `text`; what PyYAML cannot read becomes an InvalidInput naming `source`."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1} column {mark.column + 1}" if mark else ""
        reason = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InvalidInput([Problem(source, where, f"expected valid YAML, got a syntax error ({reason})")]) from None
    except RecursionError:
        # PyYAML composes nested collections recursively and gives up a few hundred levels down.
        raise InvalidInput([Problem(source, "", "expected a document nested at most a few hundred levels deep, got deeper nesting")]) from None
    except (ValueError, TypeError, AttributeError, OverflowError, IndexError, KeyError) as exc:
        # Explicitly tagged scalars PyYAML's constructors cannot build (e.g. `!!timestamp ''`) fail this way.
        detail = str(exc).splitlines()[0] if str(exc) else "no detail"
        raise InvalidInput([Problem(source, "", f"expected valid YAML, got a value it cannot read ({type(exc).__name__}: {detail})")]) from None
