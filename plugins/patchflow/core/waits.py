"""What a running rollout waits for, and until when: a stage's window, its soak, its approval.

A task that starts waiting writes a `waiting` ledger record (stage, what, until, the time zone
to show it in); the task log, the Patch rollouts page and `patchflow runs status` all say it with
`Wait.line`, so the three never word it differently. A wait is over once anything else is
recorded for its stage and scope after it, or the run finishes. Pure: records in, lines out.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from enum import StrEnum
from typing import Any, Iterable, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from patchflow.core.records import RecordKind


class Waiting(StrEnum):
    WINDOW = "window"
    SOAK = "soak"
    APPROVAL = "approval"


# What the line says of each kind of wait: "<doing>, <ends> <moment>".
PHRASES: dict[Waiting, tuple[str, str]] = {
    Waiting.WINDOW: ("waiting for window", "opens"),
    Waiting.SOAK: ("soaking", "ends"),
    Waiting.APPROVAL: ("waiting for approval", "deadline"),
}


@dataclass(frozen=True)
class Wait:
    stage: str
    what: Waiting
    until: datetime  # aware
    time_zone: str = "UTC"  # the IANA zone the moment is shown in: the window's own, else UTC
    detail: str = ""  # e.g. the window's name; shown after the line when set
    where: str = ""  # the scope's name for a stage in several accounts or Regions

    def line(self, now: datetime) -> str:
        """'waiting for window, opens Sun 06 Dec 02:00 Europe/Berlin (in 3 d 22 h)'."""
        doing, ends = PHRASES[self.what]
        moment = self.until.astimezone(zone(self.time_zone)).strftime("%a %d %b %H:%M")
        text = f"{doing}, {ends} {moment} {self.time_zone} ({remaining(self.until - now)})"
        if self.detail:
            text += f": {self.detail}"
        return text

    def to_fields(self) -> dict[str, Any]:
        """The `waiting` record's own fields (the ledger adds kind, at, run and scope)."""
        return {"stage": self.stage, "what": self.what.value, "until": iso_utc(self.until), "time_zone": self.time_zone, "detail": self.detail}

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Wait:
        return cls(
            stage=record["stage"],
            what=Waiting(record["what"]),
            until=parse_utc(record["until"]),
            time_zone=record.get("time_zone") or "UTC",
            detail=record.get("detail") or "",
            where=scope_name(record),
        )


def zone(name: str) -> ZoneInfo | timezone:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return timezone.utc


def remaining(delta) -> str:
    """The time left as a glance reads it: 'in 3 d 22 h', 'in 1 h 5 min', 'in 40 s', 'due now'."""
    seconds = int(delta.total_seconds())
    if seconds <= 0:
        return "due now"
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    if days:
        parts = [f"{days} d"] + ([f"{hours} h"] if hours else [])
    elif hours:
        parts = [f"{hours} h"] + ([f"{minutes} min"] if minutes else [])
    elif minutes:
        parts = [f"{minutes} min"]
    else:
        parts = [f"{seconds} s"]
    return "in " + " ".join(parts)


def iso_utc(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_utc(value: str) -> datetime:
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def scope_name(record: Mapping[str, Any]) -> str:
    """'prod-eu (eu-west-1)' style for a record written in a stage's own account or Region, '' otherwise."""
    account = record.get("account_alias") or record.get("account")
    region = record.get("region")
    return " ".join(part for part in (account, f"({region})" if region else None) if part)


def current_waits(records: Iterable[Mapping[str, Any]], now: datetime | None = None) -> list[Wait]:
    """The waits that have begun and not ended, in the order they began: a wait ends with any later record of its
    stage and scope, and all end when the run finishes. Given `now`, a wait whose moment has passed is over too:
    a soak without alarms records nothing when it ends, so only its moment says it has."""
    open_waits: dict[tuple, Wait] = {}
    for record in sorted(records, key=lambda r: r.get("at") or ""):
        kind = record.get("kind")
        if kind == RecordKind.RUN_FINISHED:
            return []
        stage = record.get("stage")
        if stage is None:
            continue
        key = (stage, scope_name(record))
        open_waits.pop(key, None)
        open_waits.pop((stage, ""), None)  # a stage's own wait (its window, its approval) ends with the first record of any of its scopes
        if kind == RecordKind.WAITING:
            open_waits[key] = Wait.from_record(record)
    return [wait for wait in open_waits.values() if now is None or wait.until > now]
