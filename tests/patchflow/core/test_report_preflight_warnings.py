"""What preflight warned of without stopping a stage (its SSM window patching the same nodes) is in every rendering of the report."""
from __future__ import annotations

import json

from patchflow.core.report import build_report, render_html, render_markdown, stage_facts
from patchflow.core.report_records import Report

RUN = {"dag_id": "rollout_weekly", "run_id": "r1"}
WARNING = ("maintenance window Weekly-Patch-Window (mw-0c50858d01e3a1b2c) still runs its own AWS-RunPatchBaseline Install "
           "(task Patch-prod (e2d0c6b0-0b5a-4c6e-9d43-36c1d2b9a0f1)); it and this stage would both patch the same nodes "
           "(deregister the task, or keep patching in SSM only)")


def records(warnings: list[str] | None) -> list[dict]:
    preflight = {**RUN, "kind": "preflight", "at": "2026-12-06T02:00:01.000000Z", "stage": "prod", "patch_group": "prod", "targets": [{}],
                 "offline": [], "baselines": {}}
    if warnings is not None:
        preflight["warnings"] = warnings
    return [
        {**RUN, "kind": "run_started", "at": "2026-12-06T02:00:00.000000Z", "plan": "weekly", "stages": ["prod"], "all_stages": ["prod"],
         "dry_run": False, "change_ticket": "", "params": {}},
        preflight,
    ]


def test_a_preflight_warning_is_a_fact_of_its_stage_in_every_rendering():
    report = build_report(records([WARNING]))
    (prod,) = report.stages
    assert prod.warnings == (WARNING,)
    assert stage_facts(prod) == [f"Warning at preflight: {WARNING}"]
    assert f"Warning at preflight: {WARNING}" in render_markdown(report)
    assert "Warning at preflight: maintenance window Weekly-Patch-Window (mw-0c50858d01e3a1b2c) still runs" in render_html(report)
    stored = json.loads(json.dumps(report.to_json()))
    assert stored["stages"][0]["warnings"] == [WARNING]
    assert Report.from_json(stored) == report


def test_a_stage_without_warnings_and_a_ledger_from_before_them_read_alike():
    without, before = build_report(records([])), build_report(records(None))
    assert without == before
    assert (without.stages[0].warnings, stage_facts(without.stages[0]), "warnings" in without.to_json()["stages"][0]) == ((), [], False)
