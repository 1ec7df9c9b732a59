"""`python -m patchflow preview BASELINE --on DATE [--diff-to DATE2]`.

Which catalog patches a baseline approves at a date, as an aligned table with
each patch's CVEs; with --diff-to, only what the later date adds (what a slower
stage would get that a faster one already had). A date alone means the end of
that day, UTC, so a patch that becomes approved during the day is listed on it.
A preview of the bundled, simulated catalog says so under the table.
"""
from __future__ import annotations

import argparse
import sys
from datetime import datetime, time, timezone
from pathlib import Path
from typing import Sequence

from patchflow.core.approval import Decision, approved_patches
from patchflow.core.baselines import Baseline, baseline_files, find_baseline, load_baseline
from patchflow.core.catalog import is_simulated_catalog, load_catalog
from patchflow.core.errors import InvalidInput
from patchflow.core.yamlfile import PROJECT_ROOT

BASELINES_DIR = PROJECT_ROOT / "include" / "baselines"
COLUMNS = ("ID", "CLASSIFICATION", "SEVERITY", "RELEASED", "COMPLIANCE", "REASON", "CVES")
SIMULATED_CATALOG_NOTE = (
    "Note: this is fleetsim's synthetic catalog: package names, versions and titles follow real ones, but release dates, "
    "advisory and KB numbers and CVE ids are made up."
)


def instant(text: str) -> datetime:
    """YYYY-MM-DD (end of that day, UTC) or an ISO date-time (UTC unless it says otherwise)."""
    try:
        if len(text) == 10:
            day = datetime.strptime(text, "%Y-%m-%d").date()
            return datetime.combine(day, time.max, tzinfo=timezone.utc)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date YYYY-MM-DD or YYYY-MM-DDTHH:MM[Z], got {text!r}") from None
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def add_arguments(parser) -> None:
    parser.add_argument("baseline", metavar="BASELINE", help="a baseline file, or the name or file stem of one in include/baselines")
    parser.add_argument("--on", required=True, type=instant, metavar="DATE", help="YYYY-MM-DD (end of day, UTC) or an ISO date-time")
    parser.add_argument("--diff-to", type=instant, metavar="DATE2", help="list only what the baseline approves at DATE2 but not at DATE")
    parser.add_argument("--catalog", metavar="DIR", help="catalog folder (default: include/catalog)")


class PreviewError(Exception):
    """A one-line reason naming the argument, what was expected and what was found."""


def resolve_baseline(wanted: str) -> Baseline:
    path = Path(wanted)
    if path.is_file():
        baseline = load_baseline(path)
    else:
        candidates = []
        for file in baseline_files(BASELINES_DIR) if BASELINES_DIR.is_dir() else ():
            try:
                candidates.append(load_baseline(file))
            except InvalidInput:
                # A broken neighbour must not stop a preview of a good file; lint reports it.
                continue
        baseline = find_baseline(candidates, wanted)
        if baseline is None:
            names = ", ".join(sorted(b.name for b in candidates))
            raise PreviewError(f"BASELINE: expected a baseline file or one of {names}, got {wanted!r}")
    if baseline.predefined:
        raise PreviewError(f"BASELINE: expected a custom baseline (AWS keeps the rules of predefined ones), got {baseline.name!r}")
    return baseline


def table(rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]


def row_of(decision: Decision) -> tuple[str, ...]:
    patch = decision.patch
    return (
        patch.id,
        patch.classification or "-",
        patch.severity or patch.priority or "-",
        f"{patch.release_date:%Y-%m-%d %H:%M}",
        decision.compliance_level,
        decision.reason,
        ", ".join(patch.cve_ids) or "-",
    )


def render(baseline: Baseline, decisions: Sequence[Decision], catalog_size: int, headline: str, simulated: bool) -> str:
    lines = [f"{baseline.name} ({baseline.operating_system}) {headline}: {len(decisions)} of {catalog_size} catalog patches"]
    if decisions:
        lines += table([COLUMNS, *(row_of(d) for d in decisions)])
    if simulated:
        lines.append(SIMULATED_CATALOG_NOTE)
    return "\n".join(lines)


def when(moment: datetime) -> str:
    if moment.time() == time.max:
        return f"{moment:%Y-%m-%d}"
    return f"{moment:%Y-%m-%dT%H:%MZ}"


def preview(baseline: Baseline, on: datetime, diff_to: datetime | None, catalog_dir: str | None) -> str:
    try:
        catalog = load_catalog(baseline.operating_system, catalog_dir)
    except FileNotFoundError:
        raise PreviewError(f"BASELINE: expected an operating system with a catalog in {catalog_dir or 'include/catalog'}, got {baseline.operating_system!r}") from None
    api = baseline.to_api()
    simulated = is_simulated_catalog(baseline.operating_system, catalog_dir)
    approved = approved_patches(api, catalog, on)
    if diff_to is None:
        return render(baseline, approved, len(catalog), f"approves on {when(on)}", simulated)
    before = {d.patch.id for d in approved}
    added = [d for d in approved_patches(api, catalog, diff_to) if d.patch.id not in before]
    return render(baseline, added, len(catalog), f"adds between {when(on)} and {when(diff_to)}", simulated)


def run(args) -> int:
    if args.diff_to is not None and args.diff_to < args.on:
        print(f"patchflow preview: --diff-to: expected a date on or after --on ({when(args.on)}), got {when(args.diff_to)!r}", file=sys.stderr)
        return 2
    if args.catalog is not None and not Path(args.catalog).is_dir():
        print(f"patchflow preview: --catalog: expected an existing folder, got {args.catalog!r}", file=sys.stderr)
        return 2
    try:
        baseline = resolve_baseline(args.baseline)
        print(preview(baseline, args.on, args.diff_to, args.catalog))
    except PreviewError as exc:
        print(f"patchflow preview: {exc}", file=sys.stderr)
        return 2
    except InvalidInput as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0
