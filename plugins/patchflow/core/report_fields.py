"""What a field of report.json may hold, the reader that checks each field against it, and how a time is shown.

report_records reads the report's own fields with these, report_health the health checks'; both
collect every problem into one Findings so a bad report.json is refused with all of them named.
report.json keeps each time as its record wrote it; report.md, report.html and the summary show
every one in one format, ISO 8601 in UTC to the second with a Z (`shown_time`).
"""
from __future__ import annotations

from datetime import datetime, timezone
from enum import StrEnum
from typing import Any, Callable, Iterable, Mapping

from patchflow.core.errors import MISSING, join_path
from patchflow.core.validation import Findings

# What a field may hold: (accepts the value, how a message names it).
Kind = tuple[Callable[[Any], bool], str]
TEXT: Kind = (lambda v: isinstance(v, str), "text")
TEXT_OR_NULL: Kind = (lambda v: v is None or isinstance(v, str), "text or null")
FLAG: Kind = (lambda v: isinstance(v, bool), "true or false")
FLAG_OR_NULL: Kind = (lambda v: v is None or isinstance(v, bool), "true, false or null")
COUNT: Kind = (lambda v: isinstance(v, int) and not isinstance(v, bool), "an integer")
COUNT_OR_NULL: Kind = (lambda v: v is None or (isinstance(v, int) and not isinstance(v, bool)), "an integer or null")
TEXTS: Kind = (lambda v: isinstance(v, list) and all(isinstance(i, str) for i in v), "a list of text")
TEXTS_OR_NULL: Kind = (lambda v: v is None or TEXTS[0](v), "a list of text or null")
LIST: Kind = (lambda v: isinstance(v, list), "a list")
MAPPING: Kind = (lambda v: isinstance(v, Mapping), "a mapping")
MAPPING_OR_NULL: Kind = (lambda v: v is None or isinstance(v, Mapping), "a mapping or null")
COUNTS: Kind = (lambda v: isinstance(v, Mapping) and all(COUNT[0](n) for n in v.values()), "a mapping of integers")
COUNTS_OR_NULL: Kind = (lambda v: v is None or COUNTS[0](v), "a mapping of integers or null")
TEXT_BY_TEXT: Kind = (lambda v: isinstance(v, Mapping) and all(isinstance(i, str) for i in v.values()), "a mapping of text")
TEXT_OR_NULL_BY_TEXT: Kind = (lambda v: isinstance(v, Mapping) and all(TEXT_OR_NULL[0](i) for i in v.values()), "a mapping of text or null")
TEXTS_BY_TEXT: Kind = (lambda v: isinstance(v, Mapping) and all(TEXTS[0](i) for i in v.values()), "a mapping of lists of text")


def one_of(enum: type[StrEnum]) -> Kind:
    return (lambda v: v in {member.value for member in enum}), "one of " + ", ".join(repr(m.value) for m in enum)


class FieldReader:
    """Takes fields of one report.json, every problem into `found`, so all of them are named at once."""

    def __init__(self, found: Findings):
        self.found = found

    def take(self, data: Mapping, path: str, key: str, kind: Kind, default: Any = MISSING) -> Any:
        """data[key] when it is of `kind`; otherwise a problem and `default` (None when the field is required)."""
        accepts, what = kind
        value = data.get(key, MISSING)
        if value is MISSING and default is not MISSING:
            return default
        if value is MISSING or not accepts(value):
            self.found.expected(join_path(path, key), what, value)
            return None if default is MISSING else default
        return value

    def mapping(self, value: Any, path: str) -> Mapping | None:
        if isinstance(value, Mapping):
            return value
        self.found.expected(path, "a mapping", value)
        return None

    def each(self, values: Iterable[Any], path: str, read: Callable[[Any, str], Any]) -> tuple:
        """read(item, path[index]) for every item of a list field."""
        return tuple(read(value, join_path(path, index)) for index, value in enumerate(values))


def shown_time(value: str | None) -> str:
    """`2026-12-01T02:00:02Z` from any ISO 8601 time a record wrote (Z or an offset; none means UTC); `-` for none; other text as it is."""
    if not value:
        return "-"
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return value
    moment = moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
