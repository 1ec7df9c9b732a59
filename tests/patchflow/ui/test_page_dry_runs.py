"""A dry run on the Patch rollouts page: marked as one, never green, never hiding the block of the real run before it."""
from __future__ import annotations

import re

import pytest

from patchflow.core.report import build_report
from patchflow.core.report_records import Report
from patchflow.ui import model, render
from tests.patchflow.core.test_report_dry_runs import records_of_a_dry_run
from tests.patchflow.ui.test_page_model import NOW, PLAN, _fleet_ok, records_of_a_blocked_run

PROD_PLAN = {**PLAN, "stages": [{"name": "dev", "patch_group": "dev", "pin_to": None}, {"name": "prod", "patch_group": "prod-web", "pin_to": "dev"}]}


def a_dry_run(run_id: str = "manual__dry", started: str = "2026-11-29T11:00:00Z") -> Report:
    """demo dry-run: dev scanned and passed, prod never started; after the blocked run of 10:00."""
    records = [{**r, "run_id": run_id, **({"at": started} if r["kind"] == "run_started" else {})} for r in records_of_a_dry_run()]
    return build_report(records)


def a_dry_run_as_its_report_json_said_before(run_id: str = "manual__old_dry") -> Report:
    """A dry run's stored report.json from before dry runs had an outcome of their own: promoted, its stages promoted."""
    stored = a_dry_run(run_id).to_json()
    stored["outcome"] = "promoted"
    stored["stages"][0]["state"] = "promoted"
    return Report.from_json(stored)


@pytest.mark.parametrize("report", [pytest.param(a_dry_run(), id="dry-run"), pytest.param(a_dry_run_as_its_report_json_said_before(), id="recorded-as-promoted")])
def test_a_dry_run_card_says_dry_run_and_its_path_is_never_green(report):
    summary = model.run_summary(report, PROD_PLAN, base_url="", region="eu-west-1")
    assert {key: summary[key] for key in ("outcome", "outcome_text", "tone", "headline", "dry_run", "change_ticket")} == {
        "outcome": "dry_run", "outcome_text": "Dry run passed", "tone": "idle",
        "headline": "dry run: every stage passed its gate as a scan; nothing was installed", "dry_run": True, "change_ticket": "CHG-9",
    }
    assert summary["path"] == [
        {"name": "dev", "patch_group": "dev", "state": "scanned", "label": "scanned (dry run)", "tone": "idle"},
        {"name": "prod", "patch_group": "prod-web", "state": "not started", "label": "not reached", "tone": "idle"},
    ]
    assert [(s["name"], s["state"], s["gate"], s["would_install"]) for s in summary["stages"]] == [
        ("dev", "scanned", "PASS", "would install: 3 patches (AMAZON_LINUX_2023 3, WINDOWS none)"),
        ("prod", "not started", "-", None),
    ]


def test_a_blocked_dry_run_says_it_was_a_dry_run():
    blocked = {"kind": "run_finished", "at": "2026-12-01T02:06:02Z", "dag_id": "rollout_demo", "run_id": "manual__dry", "outcome": "blocked",
               "blocking_stage": "dev", "reason": "scan wave 1: 1 of 2 instances unreachable, above the limit of 0"}
    summary = model.run_summary(build_report(records_of_a_dry_run(blocked)), PROD_PLAN, base_url="", region="eu-west-1")
    assert (summary["outcome_text"], summary["headline"]) == ("Blocked", "dry run stopped at dev: scan wave 1: 1 of 2 instances unreachable, above the limit of 0")


@pytest.mark.parametrize(
    "reports, outcome, labels, dry_run_since",
    [
        pytest.param([build_report(records_of_a_blocked_run()), a_dry_run()], "Blocked", ["passed", "blocked", "not reached"],
                     {"run_id": "manual__dry", "dag_run_url": "/dags/rollout_demo/runs/manual__dry", "outcome_text": "Dry run passed", "when": "2026-11-29 11:00:00 UTC"},
                     id="a-dry-run-after-a-block"),
        pytest.param([build_report(records_of_a_blocked_run()), a_dry_run_as_its_report_json_said_before()], "Blocked", ["passed", "blocked", "not reached"],
                     {"run_id": "manual__old_dry", "dag_run_url": "/dags/rollout_demo/runs/manual__old_dry", "outcome_text": "Dry run passed",
                      "when": "2026-11-29 11:00:00 UTC"},
                     id="a-dry-run-recorded-as-promoted-after-a-block"),
        pytest.param([build_report(records_of_a_blocked_run()), a_dry_run(started="2026-11-29T09:00:00Z")], "Blocked", ["passed", "blocked", "not reached"], None,
                     id="a-dry-run-before-the-block"),
        pytest.param([a_dry_run()], "No runs yet", ["no runs yet"] * 3,
                     {"run_id": "manual__dry", "dag_run_url": "/dags/rollout_demo/runs/manual__dry", "outcome_text": "Dry run passed", "when": "2026-11-29 11:00:00 UTC"},
                     id="only-dry-runs"),
    ],
)
def test_the_promotion_path_is_the_latest_real_runs_and_a_later_dry_run_is_named_beside_it(reports, outcome, labels, dry_run_since):
    page = model.build_page(plans=[PLAN], fleet=_fleet_ok(), ledger={"ok": True, "reports": reports, "failures": []}, now=NOW, base_url="")
    (promotion,) = page["promotions"]
    assert (promotion["outcome_text"], [s["label"] for s in promotion["path"]], promotion["dry_run_since"]) == (outcome, labels, dry_run_since)


def test_a_real_run_beyond_the_listed_runs_still_sets_the_promotion_path():
    dry_runs = [a_dry_run(f"manual__dry{n}", f"2026-11-29T11:0{n}:00Z") for n in range(3)]
    page = model.build_page(plans=[PLAN], fleet=_fleet_ok(), ledger={"ok": True, "reports": [build_report(records_of_a_blocked_run()), *dry_runs], "failures": []},
                            now=NOW, base_url="", run_limit=2)
    assert ([r["run_id"] for r in page["runs"]], page["promotions"][0]["outcome_text"], page["promotions"][0]["dry_run_since"]["run_id"]) == (
        ["manual__dry2", "manual__dry1"], "Blocked", "manual__dry2")


def test_the_rendered_page_marks_the_dry_run_and_draws_no_green_box_for_it():
    page = model.build_page(plans=[PLAN], fleet=_fleet_ok(), ledger={"ok": True, "reports": [build_report(records_of_a_blocked_run()), a_dry_run()], "failures": []},
                            now=NOW, base_url="")
    html = render.render_page(page)
    promotion = html.split("<div class='promotion' data-plan='demo'>")[1].split("</svg>")[0]
    assert re.findall(r"data-state='([^']+)'", promotion) == ["promoted", "blocked", "not started"]
    assert ("dry run since: <a target='_top' href='/dags/rollout_demo/runs/manual__dry'>manual__dry</a>, 2026-11-29 11:00:00 UTC: Dry run passed") in promotion
    card = html.split("data-run='manual__dry' data-outcome='dry_run'>")[1].split("</section>")[0]
    assert re.findall(r"<g class='stage stage-(\w+)' data-stage='(\w+)' data-state='([^']+)'>", card) == [("idle", "dev", "scanned"), ("idle", "test", "not selected"),
                                                                                                       ("idle", "prod", "not started")]
    for shown in ("<span class='pill tone-idle'>Dry run passed</span>", "<span class='pill tone-idle'>dry run</span>",
                  "<div class='muted would-install'>would install: 3 patches (AMAZON_LINUX_2023 3, WINDOWS none)</div>"):
        assert shown in card, shown
