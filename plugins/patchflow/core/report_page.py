"""page.json: a finished run's report as the Patch rollouts page reads it, small at any fleet size.

report.json keeps every instance's row, 25 MB for a 100,000-instance run, and reading it back costs most of a
second: a page listing several such runs took over 2 s. The page shows of those rows only the nodes that need
attention, the first few of them, and how many there are in all. page.json is report.json with every wave's rows
cut to the ones behind the first ATTENTION_SHOWN of those nodes (a retried wave's earlier rows of such a node
included, so they list in the same order), and a `page` field with the counts the cut rows no longer give.
`Report.from_json` reads it as it reads report.json, so both give the page the same run.

The finish task writes it beside report.json. A run finished before it did has none, and a page.json that cannot be
read (another version, another shape) is passed over: the page reads report.json as it always did.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Iterator

from patchflow.core.errors import raise_if_any
from patchflow.core.report_attention import AttentionRow, attention_heading_for, attention_rows, needs_attention
from patchflow.core.report_fields import COUNT, MAPPING, FieldReader
from patchflow.core.report_instances import ATTENTION_SHOWN
from patchflow.core.report_records import InstanceRow, Report, Stage, Wave
from patchflow.core.validation import Findings

PAGE_JSON = "page.json"
# Bumped whenever page.json changes shape: a reader passes over any other version and reads report.json.
PAGE_VERSION = 1

RowKey = tuple  # (stage, operation, wave, where, instance): one node in one wave, its retries one key


@dataclass(frozen=True)
class AttentionDigest:
    """A run's nodes that need attention as a list shows them: the first of attention_rows, how many instances
    those rows name in all, and how many rows there are in all."""

    rows: tuple[AttentionRow, ...]
    instances: int
    total: int

    @property
    def more(self) -> int:
        return self.total - len(self.rows)

    @property
    def heading(self) -> str:
        """The report's heading, from the count of every row though only the first are kept."""
        return attention_heading_for(self.instances)

    def first(self, shown: int) -> "AttentionDigest":
        return replace(self, rows=self.rows[:shown])


def attention_digest(report: Report, shown: int = ATTENTION_SHOWN) -> AttentionDigest:
    """The run's nodes that need attention, the first `shown` of them kept; read from a report with every row."""
    rows = attention_rows(_flagged_rows_only(report))
    return AttentionDigest(tuple(rows[:shown]), len({(entry.stage, entry.row.instance_id) for entry in rows}), len(rows))


def page_report(report: Report, shown: int = ATTENTION_SHOWN) -> Report:
    """The report with only the rows behind the first `shown` nodes that need attention, every try of their wave kept
    so attention_rows lists them in the order it lists them from every row."""
    flagged = _flagged_rows_only(report)
    latest: dict[RowKey, InstanceRow] = {}
    for key, row in _keyed_rows(flagged):
        latest[key] = row  # a key keeps the place of its first row, as in attention_rows
    return _rows_kept(flagged, set([key for key, row in latest.items() if needs_attention(row)][:shown]))


def page_json(report: Report) -> dict[str, Any]:
    """page.json of a report with every row: page_report's report.json, and the counts the page's heading and
    `and N more` line need."""
    digest = attention_digest(report)
    return {**page_report(report).to_json(),
            "page": {"version": PAGE_VERSION, "attention_instances": digest.instances, "attention_rows": digest.total}}


def read_page_json(data: Any, source: str = PAGE_JSON) -> tuple[Report, AttentionDigest]:
    """A stored page.json: the run's report (its rows cut) and its nodes that need attention. Raises InvalidInput naming
    every problem; of a version other than PAGE_VERSION, only that."""
    read = FieldReader(Findings(source))
    page = read.take(data, "", "page", MAPPING) if read.mapping(data, "") is not None else None
    instances = total = None
    if page is not None:
        version = read.take(page, "page", "version", COUNT)
        if version is not None and version != PAGE_VERSION:  # its other fields may mean something else: this is the one problem
            read.found.expected("page.version", str(PAGE_VERSION), version)
            raise_if_any(read.found.problems)
        instances, total = read.take(page, "page", "attention_instances", COUNT), read.take(page, "page", "attention_rows", COUNT)
    raise_if_any(read.found.problems)
    report = Report.from_json(data, source)
    rows = attention_rows(report)
    # The writer keeps the first ATTENTION_SHOWN rows: counts that disagree with the rows kept would list a wrong page.
    if len(rows) != min(total, ATTENTION_SHOWN) or not (total == instances == 0 or 0 < instances <= total):
        read.found.add("page", f"expected counts that fit the rows kept ({len(rows)}), got {instances} instances in {total} rows")
    raise_if_any(read.found.problems)
    return report, AttentionDigest(tuple(rows), instances, total)


def _flagged_rows_only(report: Report) -> Report:
    """The report with only the rows of nodes that have a row needing attention in their wave: attention_rows gives the
    same answer from these few (a later row of such a node still replaces its first) as from 100,000."""
    return _rows_kept(report, {key for key, row in _keyed_rows(report) if needs_attention(row)})


def _keyed_rows(report: Report) -> Iterator[tuple[RowKey, InstanceRow]]:
    for stage in report.stages:
        for wave in stage.waves:
            where = _wave_key(stage, wave)
            for row in wave.instances:
                yield (*where, row.instance_id), row


def _wave_key(stage: Stage, wave: Wave) -> tuple:
    return (stage.name, wave.operation, wave.wave, tuple(sorted(wave.where.items())))


def _rows_kept(report: Report, keys: set[RowKey]) -> Report:
    def kept(stage: Stage, wave: Wave) -> Wave:
        where = _wave_key(stage, wave)
        return replace(wave, instances=tuple(row for row in wave.instances if (*where, row.instance_id) in keys))

    return replace(report, stages=tuple(replace(stage, waves=tuple(kept(stage, wave) for wave in stage.waves)) for stage in report.stages))
