"""One stage of a rollout run as the Patch rollouts page shows it: its gate and health verdicts, counts and waves.

Pure, like patchflow.ui.model (which builds the rest of a run's card from these rows).
"""
from __future__ import annotations

from patchflow.core.links import console_command_url
from patchflow.core.report_health import health_verdict
from patchflow.core.report_records import Stage, StageState, Wave


def short_id(value: str | None, length: int = 8) -> str:
    return (value or "")[:length]


def stage_row(stage: Stage, *, patch_group: str, pinned_to: str | None, region: str | None) -> dict:
    """A stage's row in a run's table; `patch_group` and `pinned_to` as the run (or, for older runs, the plan) says."""
    verdict = stage.verdict
    if stage.state is StageState.FAILED:
        gate = "ERROR"
    elif verdict is None:
        gate = "-"
    else:
        gate = "PASS" if verdict.passed else "BLOCK"
    reasons = list(verdict.reasons or ()) if verdict else []
    if stage.error:
        reasons.append(stage.error)
    counts = stage.counts
    return {
        "name": stage.name,
        "patch_group": patch_group,
        "state": stage.state.value,
        "gate": gate,
        "reasons": reasons,
        "health": health_cell(stage),
        "targets": counts.get("targets", stage.targets),
        "succeeded": counts.get("succeeded", 0),
        "failed": counts.get("failed", 0) + counts.get("timed_out", 0),
        "unreachable": counts.get("unreachable", 0) + counts.get("not_dispatched", 0),
        "offline": list(stage.offline),
        "pinned_to": pinned_to,
        "waves": [wave_row(w, region) for w in stage.waves],
    }


def health_cell(stage: Stage) -> dict | None:
    """The stage's health verdict beside its gate verdict; None for a stage without a health gate (or not reached)."""
    verdict = health_verdict(stage.health)
    if verdict is None:
        return None
    return {"verdict": "PASS" if verdict.passed else "BLOCK", "text": f"health: {verdict.text}", "reason": verdict.reason}


def wave_row(wave: Wave, region: str | None) -> dict:
    passed = wave.verdict.passed
    return {
        "label": "Scan" if wave.operation == "Scan" else f"{wave.operation or 'Install'} wave {wave.wave}",
        "targets": wave.targets,
        "verdict": "-" if passed is None else ("PASS" if passed else "BLOCK"),
        "reasons": list(wave.verdict.reasons or []),
        "commands": [
            {"id": c, "short": short_id(c), "url": console_command_url(region or "", c)} for c in wave.command_ids
        ],
    }
