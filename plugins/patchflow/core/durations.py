"""Durations as plans write them (soak, approval timeout): a short form like 30s or ISO 8601 like PT30M."""
from __future__ import annotations

import re

from patchflow.core.aws_schedules import ScheduleError

_ISO_DURATION = re.compile(r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$")
_SHORT_DURATION = re.compile(r"^(\d+)\s*(s|m|h|d)$")
_SHORT_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def iso_duration_seconds(text: str) -> int | None:
    """'PT1H30M' -> 5400; None for anything that is not an ISO 8601 duration of days to seconds."""
    match = _ISO_DURATION.match(text)
    if not match or text in ("P", "PT") or text.endswith("T"):
        return None
    days, hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
    return days * 86400 + hours * 3600 + minutes * 60 + seconds


def parse_duration_seconds(value: object) -> int:
    """30 (seconds), '30s', '5m', '2h', '1d', 'PT30S', 'PT1H30M', 'P1D' -> whole seconds."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str):
        text = value.strip()
        short = _SHORT_DURATION.match(text)
        if short:
            return int(short.group(1)) * _SHORT_UNITS[short.group(2)]
        if text.isdigit():
            return int(text)
        seconds = iso_duration_seconds(text.upper())
        if seconds is not None:
            return seconds
    raise ScheduleError(f"expected a duration like 30s, 5m, 2h or PT30M, got {value!r}")


def spoken_duration(seconds: int) -> str:
    """5400 -> '1 hour 30 minutes', for messages."""
    parts = []
    for size, unit in ((86400, "day"), (3600, "hour"), (60, "minute"), (1, "second")):
        amount, seconds = divmod(seconds, size)
        if amount:
            parts.append(f"{amount} {unit}{'s' if amount != 1 else ''}")
    return " ".join(parts) or "0 seconds"
