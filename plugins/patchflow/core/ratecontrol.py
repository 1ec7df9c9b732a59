"""Run Command rate controls (MaxConcurrency, MaxErrors) and cumulative rollout waves.

Values are kept as the strings SendCommand takes ("50", "10%"). Percentages
resolve against the number of targets with ceil; SSM's own rounding is not
documented, and ceil never rounds a non-zero share down to nothing.
"""
from __future__ import annotations

import math
import re
from typing import Sequence

# SendCommand's own patterns (ssm-reference 4.1).
MAX_CONCURRENCY_PATTERN = re.compile(r"^([1-9][0-9]*|[1-9][0-9]%|[1-9]%|100%)$")
MAX_ERRORS_PATTERN = re.compile(r"^([1-9][0-9]*|[0]|[1-9][0-9]%|[0-9]%|100%)$")
WAVE_PATTERN = MAX_CONCURRENCY_PATTERN
MAX_LENGTH = 7


class RateError(ValueError):
    """A rate control or wave list SSM would refuse; str() reads 'expected ..., got ...'."""


def _as_text(value: object) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return value.strip()
    return None


def parse_max_concurrency(value: object) -> str:
    """'50', 50 or '10%' -> the SendCommand MaxConcurrency string; at least 1 or 1%."""
    text = _as_text(value)
    if text is None or len(text) > MAX_LENGTH or not MAX_CONCURRENCY_PATTERN.match(text):
        raise RateError(f"expected a MaxConcurrency of a count 1 or more or a percentage 1%-100%, got {value!r}")
    return text


def parse_max_errors(value: object) -> str:
    """'0', 5 or '10%' -> the SendCommand MaxErrors string."""
    text = _as_text(value)
    if text is None or len(text) > MAX_LENGTH or not MAX_ERRORS_PATTERN.match(text):
        raise RateError(f"expected a MaxErrors of a count 0 or more or a percentage 0%-100%, got {value!r}")
    return text


def resolve(value: str | int, total: int) -> int:
    """A count or percentage of `total` as a number of instances.

    Percentages round up; any non-zero value gives at least 1 (so MaxConcurrency
    always dispatches something, while MaxErrors '0' stays 0); never more than
    `total` when there are targets.
    """
    text = str(value).strip()
    if total < 0:
        raise ValueError(f"expected a total of 0 or more, got {total!r}")
    if text.endswith("%"):
        percent = int(text[:-1])
        amount = math.ceil(percent * total / 100)
        nonzero = percent > 0
    else:
        amount = int(text)
        nonzero = amount > 0
    if nonzero:
        amount = max(amount, 1)
    return min(amount, total) if total else amount


def parse_waves(waves: Sequence[object]) -> tuple[str | int, ...]:
    """Cumulative wave targets: counts and percentages, increasing within each kind, ending at '100%'."""
    if isinstance(waves, (str, bytes)) or not isinstance(waves, Sequence) or not waves:
        raise RateError(f"expected a list of cumulative wave sizes ending with '100%', e.g. [1, '10%', '100%'], got {waves!r}")
    parsed: list[str | int] = []
    last_count, last_percent = 0, 0
    for position, wave in enumerate(waves):
        text = _as_text(wave)
        if text is None or not WAVE_PATTERN.match(text):
            raise RateError(f"expected wave {position + 1} as a count 1 or more or a percentage 1%-100%, got {wave!r}")
        if text.endswith("%"):
            percent = int(text[:-1])
            if percent <= last_percent:
                raise RateError(f"expected wave {position + 1} above the earlier {last_percent}% (waves are cumulative), got {wave!r}")
            last_percent = percent
            parsed.append(text)
        else:
            count = int(text)
            if count <= last_count:
                raise RateError(f"expected wave {position + 1} above the earlier {last_count} (waves are cumulative), got {wave!r}")
            last_count = count
            parsed.append(count)
    if parsed[-1] != "100%":
        raise RateError(f"expected the last wave to be '100%' so every instance is patched, got {waves[-1]!r}")
    return tuple(parsed)


def wave_batches(instance_ids: Sequence[str], waves: Sequence[int | str]) -> list[list[str]]:
    """Split instances into one batch per wave; waves are cumulative targets.

    [1, '10%', '100%'] over 30 instances gives batches of 1, 2 and 27. Instances
    are sorted first so a retry computes the same batches. A wave whose target
    is already reached gets an empty batch, so batch n always belongs to wave n.
    """
    ordered = sorted(set(instance_ids))
    total = len(ordered)
    batches: list[list[str]] = []
    done = 0
    for position, wave in enumerate(waves):
        text = _as_text(wave)
        if text is None or not WAVE_PATTERN.match(text):
            raise RateError(f"expected wave {position + 1} as a count 1 or more or a percentage 1%-100%, got {wave!r}")
        target = max(done, resolve(text, total)) if total else 0
        batches.append(ordered[done:target])
        done = target
    if done < total:
        raise RateError(f"expected the last wave to reach all {total} instances ('100%'), got {waves[-1] if waves else None!r} reaching {done}")
    return batches
