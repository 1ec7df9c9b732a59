"""page.json: the report cut to the rows behind the first nodes that need attention, the counts of all of them, and
how a stored one is read back or refused."""
from __future__ import annotations

import json

import pytest

from patchflow.core.errors import InvalidInput
from patchflow.core.report_attention import attention_heading, attention_rows
from patchflow.core.report_instances import ATTENTION_SHOWN
from patchflow.core.report_page import PAGE_JSON, AttentionDigest, attention_digest, page_json, page_report, read_page_json
from patchflow.core.report_records import InstanceRow, Report, RunOutcome, Stage, StageState, Wave

WEST = {"account": "333333333333", "account_alias": "prod", "region": "eu-west-1"}
CENTRAL = {"account": "333333333333", "account_alias": "prod", "region": "eu-central-1"}


def row(instance_id: str, outcome: str = "succeeded", details: str = "", **more) -> InstanceRow:
    return InstanceRow({"instance_id": instance_id, "operating_system": "UBUNTU", "outcome": outcome, "status_details": details or outcome.capitalize(),
                        "command_id": "c-1", **more})


def wave(number: int, *rows: InstanceRow, where: dict | None = None) -> Wave:
    return Wave(number, command_ids=("c-1",), targets=len(rows), counts={"targets": len(rows)}, instances=rows, where=dict(where or {}))


def report(*stages: Stage) -> Report:
    return Report(plan="fleet", dag_id="rollout_fleet", run_id="manual__1", outcome=RunOutcome.BLOCKED, stages=stages)


def stage(name: str, *waves: Wave) -> Stage:
    return Stage(name, patch_group=name, state=StageState.BLOCKED, waves=waves)


FAILED_CHECK = {"passed": False, "status_details": "Failed", "response_code": 1, "output_tail": "curl: (7) refused\n"}
# Wave 1 ran twice: i-1 failed both times (its second row is the one listed), i-2 failed and then succeeded.
RETRIED = report(stage("dev", wave(1, row("i-1", "failed"), row("i-2", "failed")), wave(2, row("i-3", "timed_out", "ExecutionTimedOut")),
                       wave(1, row("i-1", "failed", "Failed again"), row("i-2"))))


def kept_ids(cut: Report) -> list[list[list[str]]]:
    return [[[r.instance_id for r in w.instances] for w in s.waves] for s in cut.stages]


@pytest.mark.parametrize(
    "full, shown, kept",
    [
        pytest.param(report(stage("dev", wave(1, row("i-1"), row("i-2")))), 2, [[[]]], id="nothing-failed"),
        pytest.param(report(stage("dev", wave(1, row("i-1", "failed"), row("i-2"), row("i-3", "unreachable")))), 2, [[["i-1", "i-3"]]], id="few"),
        pytest.param(report(stage("dev", wave(1, *(row(f"i-{n}", "failed") for n in range(4)))), stage("test", wave(1, row("i-9", "failed")))), 2,
                     [[["i-0", "i-1"]], [[]]], id="cut-at-shown"),
        pytest.param(RETRIED, 2, [[["i-1"], ["i-3"], ["i-1"]]], id="retried-wave-keeps-every-try-of-a-listed-node"),
        pytest.param(RETRIED, 1, [[["i-1"], [], ["i-1"]]], id="retried-wave-cut"),
        pytest.param(report(stage("dev", wave(1, row("i-1"), row("i-2", verification=FAILED_CHECK), row("i-3", verification={"passed": True})))), 2,
                     [[["i-2"]]], id="health-check-failed"),
        pytest.param(report(stage("prod", wave(1, row("i-1", "failed"), where=WEST), wave(1, row("i-1", "failed"), row("i-2"), where=CENTRAL))), 2,
                     [[["i-1"], ["i-1"]]], id="same-wave-in-two-regions"),
    ],
)
def test_page_report_keeps_the_rows_behind_the_first_nodes_that_need_attention(full, shown, kept):
    cut = page_report(full, shown)
    assert (kept_ids(cut), attention_rows(cut)) == (kept, attention_rows(full)[:shown])
    assert cut.stages[0].waves[0].targets == full.stages[0].waves[0].targets  # everything but the rows stays


def many_failed(count: int) -> Report:
    # The same ids fail in dev and again in test: each is two rows but one instance per stage.
    return report(stage("dev", wave(1, *(row(f"i-{n}", "failed") for n in range(count)), row("i-ok"))),
                  stage("test", wave(1, *(row(f"i-{n}", "failed") for n in range(count // 2)))))


@pytest.mark.parametrize(
    "full, instances, total, listed",
    [
        pytest.param(report(stage("dev", wave(1, row("i-1")))), 0, 0, 0, id="nothing-failed"),
        pytest.param(report(stage("dev", wave(1, row("i-1", "failed")))), 1, 1, 1, id="one"),
        pytest.param(RETRIED, 2, 2, 2, id="retried-wave"),
        pytest.param(many_failed(80), 120, 120, ATTENTION_SHOWN, id="over-the-cap"),
    ],
)
def test_page_json_reads_back_as_the_cut_report_and_every_count(full, instances, total, listed):
    stored = json.loads(json.dumps(page_json(full)))
    assert stored["page"] == {"version": 1, "attention_instances": instances, "attention_rows": total}
    cut, digest = read_page_json(stored)
    every_row = attention_rows(full)
    assert (cut, digest) == (page_report(full), AttentionDigest(tuple(every_row[:listed]), instances, total))
    assert (digest, digest.more, digest.heading) == (attention_digest(full), total - listed, attention_heading(every_row))


def test_page_json_is_report_json_with_the_rows_cut_and_a_page_field():
    stored = page_json(RETRIED)
    assert {key: value for key, value in stored.items() if key != "page"} == page_report(RETRIED).to_json()


def valid() -> dict:
    return json.loads(json.dumps(page_json(report(stage("dev", wave(1, row("i-1", "failed")))))))


def with_page(**fields) -> dict:
    data = valid()
    data["page"] = {**data["page"], **fields}
    return data


def without(key: str) -> dict:
    data = valid()
    del data[key]
    return data


def with_report_field(key: str, value) -> dict:
    return {**valid(), key: value}


@pytest.mark.parametrize(
    "data, problems",
    [
        pytest.param([], ["page.json: expected a mapping, got a list"], id="not-a-mapping"),
        pytest.param(without("page"), ["page.json: page: expected a mapping, got nothing"], id="a-report-json"),
        pytest.param(with_page(version=2, attention_rows=None), ["page.json: page.version: expected 1, got 2"], id="another-version-alone"),
        pytest.param(with_page(version="1", attention_rows=None), ["page.json: page.version: expected an integer, got '1'",
                                                                  "page.json: page.attention_rows: expected an integer, got None"], id="counts-of-another-kind"),
        pytest.param(with_page(attention_rows=5), ["page.json: page: expected counts that fit the rows kept (1), got 1 instances in 5 rows"],
                     id="more-rows-than-kept-below-the-cap"),
        pytest.param(with_page(attention_instances=0), ["page.json: page: expected counts that fit the rows kept (1), got 0 instances in 1 rows"],
                     id="no-instances-in-rows"),
        pytest.param(with_report_field("outcome", "done"),
                     ["page.json: outcome: expected one of 'running', 'promoted', 'blocked', 'failed', 'skipped', 'dry_run', got 'done'"], id="report-of-another-shape"),
    ],
)
def test_a_page_json_that_is_not_what_the_finish_task_writes_is_refused_naming_every_problem(data, problems):
    with pytest.raises(InvalidInput) as refused:
        read_page_json(data, PAGE_JSON)
    assert [str(problem) for problem in refused.value.problems] == problems
