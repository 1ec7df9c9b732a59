"""Who answered a stage's approval, and when, is a fact of the stage in every rendering of the report."""
from __future__ import annotations

import json

import pytest

from patchflow.core.errors import InvalidInput
from patchflow.core.report import build_report, render_html, render_markdown, stage_facts
from patchflow.core.report_records import Report

RUN = {"dag_id": "rollout_weekly", "run_id": "r1"}


def records(*answers: dict) -> list[dict]:
    return [
        {**RUN, "kind": "run_started", "at": "2026-12-06T02:00:00.000000Z", "plan": "weekly", "stages": ["prod"], "all_stages": ["prod"],
         "dry_run": False, "change_ticket": "CHG-7", "params": {}},
        {**RUN, "kind": "preflight", "at": "2026-12-06T02:00:01.000000Z", "stage": "prod", "patch_group": "prod", "targets": [{}],
         "offline": [], "baselines": {}},
        *({**RUN, "kind": "approval_answered", "at": "2026-12-06T02:10:00.000000Z", **answer} for answer in answers),
    ]


@pytest.mark.parametrize(
    "answers, fact",
    [
        pytest.param([{"stage": "prod", "answer": "approved", "answered_at": "2026-12-06T02:09:58Z", "by": "maria"}],
                     "Approval: stage prod was approved by maria at 2026-12-06 02:09:58 UTC", id="approved"),
        pytest.param([{"stage": "prod", "answer": "rejected", "answered_at": "2026-12-06T02:09:58Z", "by": "omar"}],
                     "Approval: stage prod was rejected by omar at 2026-12-06 02:09:58 UTC", id="rejected"),
        pytest.param([{"stage": "prod", "answer": "timed_out", "answered_at": "2026-12-06T06:00:00Z", "by": ""}],
                     "Approval: stage prod was not approved: nobody answered before the deadline, 2026-12-06 06:00:00 UTC", id="timed-out"),
        pytest.param([{"stage": "prod", "answer": "approved", "answered_at": "2026-12-06T02:09:58Z", "by": "maria"},
                      {"stage": "prod", "answer": "rejected", "answered_at": "2026-12-06T02:11:00Z", "by": "omar"}],
                     "Approval: stage prod was approved by maria at 2026-12-06 02:09:58 UTC", id="the-first-answer-is-the-one-acted-on"),
    ],
)
def test_the_answer_the_run_acted_on_is_a_fact_of_its_stage_in_every_rendering(answers, fact):
    report = build_report(records(*answers))
    (prod,) = report.stages
    assert stage_facts(prod) == [fact]
    assert fact in render_markdown(report)
    assert fact in render_html(report)
    stored = json.loads(json.dumps(report.to_json()))
    assert stored["stages"][0]["approval"] == fact.removeprefix("Approval: ")
    assert Report.from_json(stored) == report


def test_a_stage_that_asked_nobody_has_no_approval_fact_or_field():
    report = build_report(records())
    (prod,) = report.stages
    assert (prod.approval, stage_facts(prod), "approval" in report.to_json()["stages"][0]) == ("", [], False)


def test_an_approval_that_is_not_text_in_report_json_is_named():
    stored = build_report(records({"stage": "prod", "answer": "approved", "answered_at": "2026-12-06T02:09:58Z", "by": "maria"})).to_json()
    stored["stages"][0]["approval"] = 7
    with pytest.raises(InvalidInput) as refused:
        Report.from_json(stored)
    assert str(refused.value) == "report.json: stages[0].approval: expected text, got 7"
