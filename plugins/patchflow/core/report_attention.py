"""The instances a person must look at first: every node that did not succeed (failed, timed out, unreachable,
not dispatched, cancelled) or whose health check failed, each with why, as far as its wave row says.

A wave row records the node's invocation status details, how many patches failed on it (and, on a failed node,
which: rows written before their ids were recorded give only the count), a pinned stage's patches it still lacks
and its health check's answer.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

from patchflow.core.report_records import InstanceRow, Report, Wave


def needs_attention(row: InstanceRow) -> bool:
    failed_check = row.verification is not None and not row.verification.passed
    return row.outcome.lower() != "succeeded" or failed_check


def problems_first(rows: Iterable[InstanceRow]) -> list[InstanceRow]:
    """A wave's rows with the nodes that need attention first, each group in the wave's order."""
    return sorted(rows, key=lambda row: 0 if needs_attention(row) else 1)


def outcome_word(row: InstanceRow) -> str:
    """`failed`, `timed out`, `unreachable`: the row's outcome as a person reads it."""
    return row.outcome.lower().replace("_", " ") or "-"


def row_reason(row: InstanceRow) -> str:
    """`Failed; 2 patches failed: KB5034441, curl; not installed: curl; health check failed (exit 1)`: what the row says of why."""
    reasons = [row.status_details] if row.status_details else []
    if row.failed_patches:
        named = ": " + ", ".join(row.failed_patch_ids) if row.failed_patch_ids else ""
        reasons.append(f"{row.failed_patches} patch{'es' if row.failed_patches != 1 else ''} failed{named}")
    if row.not_installed:
        reasons.append("not installed: " + ", ".join(row.not_installed))
    if row.verification is not None and not row.verification.passed:
        reasons.append("health check " + row.verification.shown())
    return "; ".join(reasons) or "no reason recorded"


@dataclass(frozen=True)
class AttentionRow:
    """One node that needs attention, where it was met: its stage and wave."""

    stage: str
    wave: str  # `Install wave 2`, `Scan wave 1`
    row: InstanceRow

    def cells(self) -> tuple[str, ...]:
        return (self.stage, self.wave, self.row.instance_id, self.row.operating_system or "-", outcome_word(self.row), row_reason(self.row))


ATTENTION_COLUMNS = ("stage", "wave", "instance", "os", "outcome", "reason")


def wave_label(wave: Wave) -> str:
    return f"{wave.operation} wave {wave.wave}"


def attention_rows(report: Report) -> list[AttentionRow]:
    """Every node that needs attention, in stage and wave order; a retried wave's later row for a node replaces its first."""
    latest: dict[tuple, AttentionRow] = {}
    for stage in report.stages:
        for wave in stage.waves:
            for row in wave.instances:
                key = (stage.name, wave.operation, wave.wave, tuple(sorted(wave.where.items())), row.instance_id)
                latest[key] = AttentionRow(stage.name, wave_label(wave), row)
    return [entry for entry in latest.values() if needs_attention(entry.row)]


def attention_heading(rows: Sequence[AttentionRow]) -> str:
    return attention_heading_for(len({(entry.stage, entry.row.instance_id) for entry in rows}))


def attention_heading_for(instances: int) -> str:
    """The heading over the nodes that need attention, for this many instances (also where only the first rows are kept)."""
    return f"Needs attention: {instances} instance{'s' if instances != 1 else ''} did not succeed"
