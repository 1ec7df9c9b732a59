"""The per-instance rows of a run at any size: instances.csv, and the capped lists people read.

A run over 100,000 instances cannot be read as a 100,000-row table. report.json keeps every row (it is
the machine format); instances.csv carries the same rows for a spreadsheet, one per instance per wave;
report.md, report.html and the Patch rollouts page list a summary and the instances that need attention,
each list cut at a fixed length and closed by an `and N more: see instances.csv` line.

A wave of at most WAVE_ROWS_SHOWN instances still lists every one, problems first, as it always did; a
bigger wave lists only the nodes that need attention, up to that many.
"""
from __future__ import annotations

import csv
import io
import re
from collections import Counter
from dataclasses import dataclass
from typing import Generic, Sequence, TypeVar

from patchflow.core.report_attention import needs_attention, outcome_word, problems_first
from patchflow.core.report_records import InstanceRow, Report, Wave

INSTANCES_CSV = "instances.csv"
ATTENTION_SHOWN = 100  # rows of the run's needs-attention table
WAVE_ROWS_SHOWN = 25  # rows of one wave's table
IDS_SHOWN = 25  # instance ids named in one sentence (offline agents, not sent to, a version that moved on)
COMMANDS_SHOWN = 5  # command ids in a summary cell or on a wave's line
# Outcomes in the order a wave's summary names them; any other comes after these, alphabetically.
OUTCOME_ORDER = ("succeeded", "failed", "timed out", "unreachable", "not dispatched", "cancelled", "in progress")

T = TypeVar("T")


@dataclass(frozen=True)
class Capped(Generic[T]):
    """The first items of a list, and how many were left out."""

    shown: tuple[T, ...]
    more: int = 0


def capped(items: Sequence[T], limit: int) -> Capped[T]:
    return Capped(tuple(items[:limit]), max(0, len(items) - limit))


def more_line(more: int) -> str:
    """`and 212 more: see instances.csv`; "" when nothing was left out."""
    return f"and {more:,} more: see {INSTANCES_CSV}" if more else ""


def wave_table(wave: Wave) -> Capped[InstanceRow]:
    """The rows a wave's table lists: every row of a small wave, problems first; of a big one, only its problems."""
    if len(wave.instances) <= WAVE_ROWS_SHOWN:
        return Capped(tuple(problems_first(wave.instances)))
    shown = [row for row in wave.instances if needs_attention(row)][:WAVE_ROWS_SHOWN]
    return Capped(tuple(shown), len(wave.instances) - len(shown))


def wave_verified(rows: Sequence[InstanceRow]) -> bool:
    """Whether a wave's table needs a health check column: a health check verified any of the nodes it lists."""
    return any(row.verification is not None for row in rows)


def output_tails_markdown(rows: Sequence[InstanceRow]) -> list[str]:
    """Each listed node's health check output tail in a code block its own text cannot close."""
    out = []
    for row in rows:
        if row.verification is None or not row.verification.output_tail:
            continue
        tail = row.verification.output_tail
        fence = "`" * max(3, 1 + max((len(run) for run in re.findall(r"`+", tail)), default=0))
        out += ["", f"Health check output of {row.instance_id}, {row.verification.shown()}:", "", fence, tail.rstrip("\n"), fence]
    return out


def outcome_summary(wave: Wave) -> str:
    """`53,800 succeeded, 90 failed, 60 unreachable`: how the wave's rows ended; `no instances` for none."""
    counts = Counter(outcome_word(row) for row in wave.instances)
    order = [*(word for word in OUTCOME_ORDER if word in counts), *sorted(word for word in counts if word not in OUTCOME_ORDER)]
    return ", ".join(f"{counts[word]:,} {word}" for word in order) or "no instances"


def id_list(ids: Sequence[str], limit: int = IDS_SHOWN) -> str:
    """`i-1, i-2`; past `limit` ids, the first ones and `and 85 more (see instances.csv)`."""
    shown = ", ".join(ids[:limit])
    return shown if len(ids) <= limit else f"{shown} and {len(ids) - limit:,} more (see {INSTANCES_CSV})"


def command_cell(command_ids: Sequence[str]) -> str:
    """A summary cell's commands, each by its first eight characters (enough to find it in the console); `-` for none."""
    listed = capped(command_ids, COMMANDS_SHOWN)
    return " ".join(c[:8] for c in listed.shown) + (f" +{listed.more:,} more" if listed.more else "") or "-"


def command_line(command_ids: Sequence[str]) -> str:
    """A wave's commands in full, the first few of a big wave's and how many more (each row of instances.csv names its own)."""
    return id_list(command_ids, COMMANDS_SHOWN) or "-"


CSV_COLUMNS = (
    "stage", "account", "account_alias", "region", "operation", "wave", "instance", "os", "outcome", "needs_attention", "status_details",
    "compliant", "pending_reboot", "missing", "failed_patches", "failed_patch_ids", "not_installed", "command_id", "health_check",
)


def _yes_no(value) -> str:
    return "" if value is None else ("yes" if value else "no")


# A spreadsheet reads a cell starting with one of these as a formula (OWASP, "CSV Injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_text(value):
    """A cell a spreadsheet shows as the text it is: text that would start a formula gets a leading apostrophe. Patch
    ids, status details and a health check's output come from the nodes, so none of them is trusted to be plain."""
    return "'" + value if isinstance(value, str) and value.startswith(FORMULA_STARTS) else value


def csv_row(stage: str, wave: Wave, row: InstanceRow) -> tuple:
    """One row of instances.csv: the wave row's own values; lists space-separated, unknown left empty."""
    return tuple(spreadsheet_text(value) for value in _csv_values(stage, wave, row))


def _csv_values(stage: str, wave: Wave, row: InstanceRow) -> tuple:
    where = wave.where
    return (
        stage, where.get("account") or "", where.get("account_alias") or "", where.get("region") or "", wave.operation,
        "" if wave.wave is None else wave.wave, row.instance_id, row.operating_system or "", row.outcome, _yes_no(needs_attention(row)),
        row.status_details, _yes_no(row.compliant), _yes_no(row.pending_reboot), row.recorded.get("missing", ""), row.failed_patches,
        " ".join(row.failed_patch_ids), " ".join(row.not_installed), row.command_id, row.verification.shown() if row.verification else "",
    )


def instances_csv(report: Report) -> str:
    """instances.csv: one row per instance per wave, in stage and wave order, each wave's rows in the order it recorded them."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    writer.writerows(csv_row(stage.name, wave, row) for stage in report.stages for wave in stage.waves for row in wave.instances)
    return out.getvalue()
