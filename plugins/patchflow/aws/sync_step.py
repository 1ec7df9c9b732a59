"""One pass of baseline sync as the patch_baseline_sync DAG runs it: plan only, or plan and apply.

The same calls `python -m patchflow sync` makes (load_baselines, read_actual_state,
plan_sync, apply_changes); this only packs the result as JSON for XCom.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from patchflow.core.baselines import load_baselines
from patchflow.aws.baseline_sync import apply_changes, plan_sync, read_actual_state
from patchflow.core.yamlfile import PROJECT_ROOT

DEFAULT_BASELINES = PROJECT_ROOT / "include" / "baselines"


@dataclass(frozen=True)
class SyncOutcome:
    changes: tuple[str, ...]
    conflicts: tuple[str, ...]
    notes: tuple[str, ...]
    applied: bool

    def to_json(self) -> dict:
        return {"changes": list(self.changes), "conflicts": list(self.conflicts), "notes": list(self.notes), "applied": self.applied}


def sync_pass(ssm, baselines: str | Path = DEFAULT_BASELINES, *, apply: bool, delete_removed: bool = False, report=print) -> SyncOutcome:
    """Read SSM, plan against the files and, if `apply`, make the changes. Invalid files raise InvalidInput."""
    desired = load_baselines(baselines)
    plan = plan_sync(desired, read_actual_state(ssm, {b.operating_system for b in desired}), delete_removed=delete_removed)
    for note in plan.notes:
        report(f"note: {note}")
    if apply:
        apply_changes(ssm, plan.changes, report=report)
    else:
        for change in plan.changes:
            report(f"would {change}")
    for conflict in plan.conflicts:
        report(f"conflict: {conflict}")
    return SyncOutcome(tuple(str(c) for c in plan.changes), plan.conflicts, plan.notes, apply)
