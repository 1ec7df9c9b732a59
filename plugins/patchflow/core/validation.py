"""Reading user input into plain values: the one validation layer.

Rollout plans, baselines, membership files and the DAG trigger params are all
read with these readers, so each kind of value is checked one way and described
in one wording wherever it is written. A reader takes the Findings of one source
and an Entry (the value and the path it was read from); a bad value becomes a
problem and the reader returns None for it, so reading goes on and every
problem of a source is reported in one pass.
"""
from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence, TypeVar

from patchflow.core.errors import InvalidInput, Problem, join_path, shown, unnamed_path
from patchflow.core.yamlfile import Position, display_path, read_document

Parsed = TypeVar("Parsed")

# A value together with the path it was read from, so a problem is reported where it was written.
Entry = tuple[Any, str]


class Findings:
    """Problems of one source, collected so every one is reported together."""

    def __init__(self, source: str):
        self.source = source
        self.problems: list[Problem] = []

    def add(self, path: str, message: str) -> None:
        problem = Problem(self.source, path, message)
        if problem not in self.problems:  # a bad plan default would otherwise repeat once per stage
            self.problems.append(problem)

    def expected(self, path: str, what: str, got: object) -> None:
        if isinstance(got, date):
            got = got.isoformat()  # YAML turned an unquoted date into an object; show it as it was written
        self.add(path, f"expected {what}, got {shown(got)}")

    def expected_described(self, path: str, what: str, got: str) -> None:
        """Like expected(), for a found value better described than shown (a count, an overlong text)."""
        self.add(path, f"expected {what}, got {got}")


def load_file(path: str | Path, parse: Callable[[Any, str], Parsed]) -> Parsed:
    """Read one YAML or JSON file and parse it; every problem, a syntax error too, names the file as shown
    to people and the line where the file holds the value."""
    source = display_path(path)
    try:
        document = read_document(path)
    except InvalidInput as exc:
        raise InvalidInput(replace(p, source=source) for p in exc.problems) from None
    try:
        return parse(document.data, source)
    except InvalidInput as exc:
        raise InvalidInput(located(p, source, document.positions) for p in exc.problems) from None


# The last part of a path: .key or [index].
LAST_PART = re.compile(r"(?:\.[^.\[]*|\[\d+\])\Z")


def located(problem: Problem, source: str, positions: Mapping[str, Position]) -> Problem:
    """The problem with the line and column of its value in `source`, or of the nearest enclosing value
    written there (a missing key is reported where its mapping is). Problems of other files, and of the
    file as a whole, are left as they are."""
    if problem.source != source or problem.line is not None:
        return problem
    path = unnamed_path(problem.path)
    while path:
        if path in positions:
            line, column = positions[path]
            return replace(problem, line=line, column=column)
        shorter = LAST_PART.sub("", path)
        if shorter == path:
            return problem
        path = shorter
    return problem


# --------------------------------------------------------------------------- mappings


def entries_of(value: Mapping, path: str) -> dict[Any, Entry]:
    """Key -> (value, path of that value) for one mapping."""
    return {key: (item, join_path(path, str(key))) for key, item in value.items()}


def spelling(key: str) -> str:
    """A key as compared with the known ones: case, - for _ and spaces at either end do not count."""
    return key.strip().lower().replace("-", "_")


def nearest_key(key: str, known: Sequence[str]) -> str | None:
    """The known key `key` is most likely a typo of, or None when none is close."""
    by_spelling = {spelling(name): name for name in reversed(known)}  # the first of two alike spellings wins
    written = spelling(key)
    close = difflib.get_close_matches(written, list(by_spelling), n=1, cutoff=0.75)
    if close:
        return by_spelling[close[0]]
    # A word too many or too few is too far for difflib (soak_time for soak, reboot for reboot_option);
    # a key that begins the other is taken when it is the only one and not too short to tell.
    begun = [name for name in by_spelling if min(len(name), len(written)) >= 4 and (written.startswith(name) or name.startswith(written))]
    return by_spelling[begun[0]] if len(begun) == 1 else None


def known_key_hint(key: str, known: Sequence[str], noun: str = "key") -> str:
    nearest = nearest_key(key, known)
    if nearest is not None:
        return f"a known {noun} (did you mean {nearest!r}?)"
    return f"a known {noun} ({', '.join(known)})"


def read_keys(found: Findings, entries: Mapping[Any, Entry], known: Sequence[str] | Mapping[str, str], ignored: Sequence[str] = ()) -> dict[str, Entry]:
    """The entries whose key is known; any other key is a problem reported at the key itself.

    `known` is the keys, or a mapping from each key as written to the name it is returned under
    (a baseline's PascalCase export spelling reads into the snake_case names). `ignored` keys are
    neither read nor reported.
    """
    names = known if isinstance(known, Mapping) else {key: key for key in known}
    read: dict[str, Entry] = {}
    for key, (value, path) in entries.items():
        if key in names:
            read[names[key]] = (value, path)
        elif key not in ignored:
            found.expected(path, known_key_hint(str(key), list(names)), key)
    return read


def read_mapping(found: Findings, entry: Entry, known: Sequence[str] | Mapping[str, str], what: str, ignored: Sequence[str] = ()) -> dict[str, Entry] | None:
    """read_keys() for a value that must be a mapping (`what` describes it when it is not)."""
    value, path = entry
    if not isinstance(value, Mapping):
        found.expected(path, what, value)
        return None
    return read_keys(found, entries_of(value, path), known, ignored)


# --------------------------------------------------------------------------- values


def is_absent(value: object) -> bool:
    """Null, or the word none in any case: how a plan switches a part off (`gate: none`, `health: None`)."""
    return value is None or (isinstance(value, str) and value.strip().lower() == "none")


def one_of(values: Sequence[str]) -> str:
    return "one of " + ", ".join(values)


def read_text(found: Findings, entry: Entry, what: str, pattern: re.Pattern | None = None, *, low: int = 1, high: int | None = None) -> str | None:
    """Text of low-high characters matching `pattern`; an overlong one is described by its length, not shown."""
    value, path = entry
    if isinstance(value, str) and high is not None and len(value) > high:
        found.expected_described(path, what, f"a text of {len(value)} characters")
        return None
    if not isinstance(value, str) or len(value) < low or (pattern is not None and not pattern.match(value)):
        found.expected(path, what, value)
        return None
    return value


def read_int(found: Findings, entry: Entry, low: int, high: int | None = None) -> int | None:
    value, path = entry
    if isinstance(value, bool) or not isinstance(value, int) or value < low or (high is not None and value > high):
        found.expected(path, f"an integer {low}-{high}" if high is not None else f"an integer {low} or more", value)
        return None
    return value


def read_number(found: Findings, entry: Entry, low: float, high: float) -> float | None:
    value, path = entry
    # NaN fails both comparisons, so it is refused with everything else out of range.
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        found.expected(path, f"a number {low:g}-{high:g}", value)
        return None
    return float(value)


def read_bool(found: Findings, entry: Entry) -> bool | None:
    value, path = entry
    if not isinstance(value, bool):
        found.expected(path, "true or false", value)
        return None
    return value


def read_choice(found: Findings, entry: Entry, choices: Sequence[Any], what: str | None = None) -> Any:
    value, path = entry
    if value not in choices:
        found.expected(path, what or one_of(choices), value)
        return None
    return value


def read_list(found: Findings, entry: Entry, what: str, high: int, low: int = 0) -> list[Entry]:
    """The items of a list of low-high `what`, each with its path; null is an empty list when low is 0."""
    value, path = entry
    if value is None and low == 0:
        return []
    if not isinstance(value, list):
        found.expected(path, f"a list of {low}-{high} {what}", value)
        return []
    if not low <= len(value) <= high:
        found.expected_described(path, f"a list of {low}-{high} {what}", f"{len(value)} items")
        return []
    return [(item, join_path(path, index)) for index, item in enumerate(value)]


def read_with(found: Findings, entry: Entry, parse: Callable[..., Any], *args: Any) -> Any:
    """Run a parser that raises ValueError('expected ..., got ...') and record its message."""
    value, path = entry
    try:
        return parse(value, *args)
    except ValueError as exc:
        found.add(path, str(exc))
        return None


# --------------------------------------------------------------------------- patch groups

# RegisterPatchBaselineForPatchGroup's PatchGroup: 1-256 characters of ^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$.
PATCH_GROUP_PUNCTUATION = frozenset("_.:/=+-@")
PATCH_GROUP_RULE = "a patch group name (1-256 letters, digits, spaces or _.:/=+-@; no space at either end)"


def is_patch_group(value: object) -> bool:
    """AWS's pattern for a patch group name, and no whitespace at either end.

    AWS would take ' prod', but a patch group is the value of an instance's tag, and ' prod' is
    a different value from 'prod': written in a file it is always a typo that leaves the group empty.
    """
    return (
        isinstance(value, str)
        and 1 <= len(value) <= 256
        and value.strip() == value
        and all(unicodedata.category(ch)[0] in "LZN" or ch in PATCH_GROUP_PUNCTUATION for ch in value)
    )


def read_patch_group(found: Findings, entry: Entry) -> str | None:
    value, path = entry
    if not is_patch_group(value):
        found.expected(path, PATCH_GROUP_RULE, value)
        return None
    return value
