"""The Patch rollouts page shows each stage's health verdict beside its gate verdict, and why a run blocked by health stopped."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from patchflow.core.report import build_report
from patchflow.ui import model, render

NOW = datetime(2026, 12, 2, 12, 0, 0, tzinfo=timezone.utc)
RUN = {"dag_id": "rollout_storefront", "run_id": "manual__7"}
PLAN = {"name": "storefront", "dag_id": "rollout_storefront", "ledger_uri": "s3://ledger/runs",
        "stages": [{"name": "dev", "patch_group": "dev", "pin_to": None}, {"name": "test", "patch_group": "test", "pin_to": "dev"}]}
IN_ALARM = ("alarm storefront-dev-5xx is in ALARM since 2026-12-02T10:41:07+00:00: Threshold Crossed: 1 out of the last 1 datapoints "
            "[12.0 (02/12/26 10:40:00)] was greater than the threshold (5.0).")
GATE = {"passed": True, "reasons": ["passed: 2 of 2 instances succeeded, 0 counted as failed (limit 0)"], "counts": {"targets": 2, "succeeded": 2}}


def _alarm(state: str) -> dict:
    return {"name": "storefront-dev-5xx", "state": state, "reason": "Threshold Crossed", "updated_at": "2026-12-02T10:41:07+00:00"}


def _health(at: str, phase: str, passed: bool, reasons: list[str], state: str, verified: int | None = None) -> dict:
    verification = None if verified is None else {"documents": ["AWS-RunShellScript"], "command_ids": ["c-v1"], "counts": {"targets": 2, "passed": verified, "failed": 2 - verified},
                                                  "nodes": []}
    return {**RUN, "kind": "health_check", "at": at, "stage": "dev", "phase": phase, "wave": 1 if phase == "wave" else None, "passed": passed,
            "reasons": reasons, "alarms": [_alarm(state)], "verification": verification, "polls": None, "checked_at": at}


def _records(*health: dict, outcome: str = "promoted", reason: str = "") -> list[dict]:
    return [
        {**RUN, "kind": "run_started", "at": "2026-12-02T10:00:00Z", "plan": "storefront", "stages": ["dev", "test"], "dry_run": False, "change_ticket": ""},
        {**RUN, "kind": "preflight", "at": "2026-12-02T10:00:01Z", "stage": "dev", "patch_group": "dev", "targets": [{}, {}], "offline": [], "baselines": {}},
        {**RUN, "kind": "wave_result", "at": "2026-12-02T10:05:00Z", "stage": "dev", "wave": 1, "operation": "Install", "command_ids": ["c-1"], "instances": [{}, {}], "verdict": GATE},
        *health,
        {**RUN, "kind": "stage_verdict", "at": "2026-12-02T10:07:00Z", "stage": "dev", "verdict": GATE},
        {**RUN, "kind": "run_finished", "at": "2026-12-02T11:10:00Z", "outcome": outcome, "blocking_stage": "dev" if reason else None, "reason": reason},
    ]


HEALTHY = _health("2026-12-02T10:06:00Z", "wave", True, ["healthy: 1 alarm(s) OK, 2 of 2 instances verified"], "OK", verified=2)
FIRED = _health("2026-12-02T10:41:09Z", "soak", False, [IN_ALARM], "ALARM")


@pytest.mark.parametrize(
    "records, dev_state, dev_health, headline",
    [
        pytest.param(_records(), "promoted", None, "every stage passed its gate", id="no-health-gate"),
        pytest.param(_records(HEALTHY), "promoted", {"verdict": "PASS", "text": "health: passed (1 alarm OK, 2 of 2 instances verified)", "reason": ""},
                     "every stage passed its gate", id="healthy"),
        pytest.param(_records(HEALTHY, FIRED, outcome="blocked", reason=f"soak: {IN_ALARM}"), "blocked",
                     {"verdict": "BLOCK", "text": f"health: BLOCKED at soak: {IN_ALARM}", "reason": IN_ALARM}, f"stopped at dev: soak: {IN_ALARM}", id="alarm-fired-in-the-soak"),
    ],
)
def test_each_stage_carries_its_health_verdict_beside_its_gate_verdict(records, dev_state, dev_health, headline):
    summary = model.run_summary(build_report(records), PLAN, base_url="", region="us-east-1")
    dev, test = summary["stages"]
    assert (dev["state"], dev["gate"], dev["health"], test["health"], summary["headline"]) == (dev_state, "PASS", dev_health, None, headline)


def _page(records: list[dict]) -> str:
    ledger = {"ok": True, "reports": [build_report(records)], "failures": []}
    fleet = {"ok": True, "region": "us-east-1", "registered": [], "groups": {}}
    return render.render_page(model.build_page(plans=[PLAN], fleet=fleet, ledger=ledger, now=NOW, base_url=""))


def test_the_page_shows_the_alarm_that_blocked_a_stage_in_its_soak_beside_the_passed_gate():
    page = _page(_records(HEALTHY, FIRED, outcome="blocked", reason=f"soak: {IN_ALARM}"))
    row = page[page.index("<tr data-stage='dev'>"):page.index("</tr>", page.index("<tr data-stage='dev'>"))]
    assert (f"<span class='gate-PASS'>PASS</span><ul class='reasons'><li>{GATE['reasons'][0]}</li></ul>"
            f"<div class='health' data-health='BLOCK'><span class='gate-BLOCK'>health: BLOCKED at soak: {IN_ALARM}</span></div></td>") in row
    assert f"<div>stopped at dev: soak: {IN_ALARM}</div>" in page
    assert page.count("data-health=") == 1  # test was never reached: no health verdict of its own


def test_a_stage_without_a_health_gate_shows_no_health_verdict():
    assert "data-health=" not in _page(_records())
