"""Health checks in the report: report.json's `health`, each row's verification, and how report.md and report.html say them."""
from __future__ import annotations

import json

import pytest

from patchflow.core.errors import InvalidInput
from patchflow.core.report import build_report, headline, render_html, render_markdown, summary_table
from patchflow.core.report_health import AlarmStatus, HealthCheck, HealthPhase, HealthVerdict, NodeVerification, health_verdict
from patchflow.core.report_records import Report, StageState

RUN = {"dag_id": "rollout_storefront", "run_id": "manual__7"}
FIRED_AT = "2026-12-02T10:41:07+00:00"
THRESHOLD = "Threshold Crossed: 1 out of the last 1 datapoints [12.0 (02/12/26 10:40:00)] was greater than the threshold (5.0)."
QUIET = "Threshold Crossed: 1 out of the last 1 datapoints [0.0 (02/12/26 10:30:00)] was not greater than the threshold (5.0)."
IN_ALARM = f"alarm storefront-dev-5xx is in ALARM since {FIRED_AT}: {THRESHOLD}"
GATE = {"passed": True, "reasons": ["passed: 3 of 3 instances succeeded, 0 counted as failed (limit 0)"],
        "counts": {"targets": 3, "succeeded": 3, "failed": 0, "timed_out": 0, "unreachable": 0, "not_dispatched": 0}}


def _row(instance_id: str) -> dict:
    return {"instance_id": instance_id, "operating_system": "AMAZON_LINUX_2023", "outcome": "SUCCEEDED", "status_details": "Success",
            "compliant": True, "pending_reboot": False, "command_id": "c-dev-1"}


def _alarm(name: str, state: str = "OK", reason: str = QUIET, updated_at: str = "2026-12-02T09:00:00+00:00") -> dict:
    return {"name": name, "state": state, "reason": reason, "updated_at": updated_at}


def _node(instance_id: str, passed: bool = True, tail: str = "running\n200") -> dict:
    return {"instance_id": instance_id, "passed": passed, "status_details": "Success" if passed else "Failed", "response_code": 0 if passed else 1, "output_tail": tail}


def _health(at: str, phase: str, passed: bool, reasons: list[str], alarms: list[dict], nodes: list[dict] | None = None, wave: int | None = None) -> dict:
    verification = None if nodes is None else {
        "documents": ["AWS-RunShellScript"], "command_ids": ["c-dev-v1"],
        "counts": {"targets": len(nodes), "passed": sum(n["passed"] for n in nodes), "failed": sum(not n["passed"] for n in nodes)}, "nodes": nodes,
    }
    return {**RUN, "kind": "health_check", "at": at, "stage": "dev", "phase": phase, "wave": wave, "passed": passed, "reasons": reasons,
            "alarms": alarms, "verification": verification, "polls": 12 if phase == "soak" else None, "checked_at": at}


HEALTHY_WAVE = _health("2026-12-02T10:06:00Z", "wave", True, ["healthy: 2 alarm(s) OK, 3 of 3 instances verified"],
                       [_alarm("storefront-dev-5xx"), _alarm("storefront-dev-latency")], [_node("i-1"), _node("i-2"), _node("i-3")], wave=1)
SOAK_FIRED = _health("2026-12-02T10:41:09Z", "soak", False, [IN_ALARM],
                     [_alarm("storefront-dev-5xx", "ALARM", THRESHOLD, FIRED_AT), _alarm("storefront-dev-latency")])
SOAK_QUIET = _health("2026-12-02T11:05:00Z", "soak", True, ["healthy: 2 alarm(s) OK"], [_alarm("storefront-dev-5xx"), _alarm("storefront-dev-latency")])
VERIFY_FAILED_REASON = ("verification failed on 1 of 3 instances (33%): i-2 (exit 1: curl: (7) Failed to connect to localhost port 8080); "
                        "1 of 3 instances failed (33.3%), above the limit of 0")
VERIFY_FAILED = _health("2026-12-02T10:06:00Z", "wave", False, [VERIFY_FAILED_REASON], [_alarm("storefront-dev-5xx")],
                        [_node("i-1"), _node("i-2", False, "curl: (7) Failed to connect to localhost port 8080\n<b>```down```</b>"), _node("i-3")], wave=1)


def _run(*health: dict, blocked_by: str | None = None) -> list[dict]:
    """dev: preflight, one install wave of three nodes, its gate, then the given health_check records; test is never reached when dev blocks."""
    records = [
        {**RUN, "kind": "run_started", "at": "2026-12-02T10:00:00Z", "plan": "storefront", "stages": ["dev", "test"], "dry_run": False, "change_ticket": ""},
        {**RUN, "kind": "preflight", "at": "2026-12-02T10:00:01Z", "stage": "dev", "patch_group": "dev", "targets": [{}, {}, {}], "offline": [], "baselines": {}},
        {**RUN, "kind": "command_sent", "at": "2026-12-02T10:00:02Z", "stage": "dev", "wave": 1, "command_ids": ["c-dev-1"]},
        {**RUN, "kind": "wave_result", "at": "2026-12-02T10:05:00Z", "stage": "dev", "wave": 1, "operation": "Install", "command_ids": ["c-dev-1"],
         "instances": [_row("i-1"), _row("i-2"), _row("i-3")], "verdict": GATE, "started_at": "2026-12-02T10:00:02Z", "finished_at": "2026-12-02T10:05:00Z"},
        *health,
    ]
    if blocked_by is None:
        records.append({**RUN, "kind": "stage_verdict", "at": "2026-12-02T10:07:00Z", "stage": "dev", "verdict": GATE})
        records.append({**RUN, "kind": "run_finished", "at": "2026-12-02T11:10:00Z", "outcome": "promoted", "blocking_stage": None, "reason": ""})
    else:
        if all(h["phase"] == "soak" for h in health if not h["passed"]):
            records.append({**RUN, "kind": "stage_verdict", "at": "2026-12-02T10:07:00Z", "stage": "dev", "verdict": GATE})
        records.append({**RUN, "kind": "run_finished", "at": "2026-12-02T11:10:00Z", "outcome": "blocked", "blocking_stage": "dev", "reason": blocked_by})
    return records


SUMMARY_WITH_HEALTH = (
    "stage  group  targets  succeeded  failed  unreachable  gate  health  commands\n"
    "-----  -----  -------  ---------  ------  -----------  ----  ------  --------\n"
    "dev    dev    3        3          0       0            {gate}  {health}  c-dev-1\n"
    "test   -      0        0          0       0            -     -       -"
)


@pytest.mark.parametrize(
    "records, state, verdict, summary, verifications",
    [
        pytest.param(
            _run(HEALTHY_WAVE, SOAK_QUIET), StageState.PROMOTED,
            HealthVerdict(True, "passed (2 alarms OK, 3 of 3 instances verified)"), SUMMARY_WITH_HEALTH.format(gate="PASS", health="PASS  "),
            [NodeVerification(True, "Success", 0, "running\n200")] * 3, id="passing-checks",
        ),
        pytest.param(
            _run(HEALTHY_WAVE, SOAK_FIRED, blocked_by=f"soak: {IN_ALARM}"), StageState.BLOCKED,
            HealthVerdict(False, f"BLOCKED at soak: {IN_ALARM}", IN_ALARM), SUMMARY_WITH_HEALTH.format(gate="PASS", health="BLOCK "),
            [NodeVerification(True, "Success", 0, "running\n200")] * 3, id="blocked-at-soak-naming-the-alarm",
        ),
        pytest.param(
            _run(VERIFY_FAILED, blocked_by=f"health after wave 1: {VERIFY_FAILED_REASON}"), StageState.BLOCKED,
            HealthVerdict(False, f"BLOCKED at wave 1: {VERIFY_FAILED_REASON}", VERIFY_FAILED_REASON), SUMMARY_WITH_HEALTH.format(gate="-   ", health="BLOCK "),
            [NodeVerification(True, "Success", 0, "running\n200"),
             NodeVerification(False, "Failed", 1, "curl: (7) Failed to connect to localhost port 8080\n<b>```down```</b>"),
             NodeVerification(True, "Success", 0, "running\n200")], id="verification-failures",
        ),
    ],
)
def test_a_stage_with_health_checks_carries_its_verdict_and_each_nodes_verification(records, state, verdict, summary, verifications):
    report = build_report(records)
    dev = report.stages[0]
    assert (dev.state, health_verdict(dev.health), summary_table(report), [row.verification for row in dev.waves[0].instances]) == (
        state, verdict, summary, verifications)
    assert report.stages[1].health == ()


def test_the_health_checks_of_a_stage_blocked_at_soak_in_report_json_and_its_headline():
    report = build_report(_run(HEALTHY_WAVE, SOAK_FIRED, blocked_by=f"soak: {IN_ALARM}"))
    assert report.to_json()["stages"][0]["health"] == [
        {"phase": "wave", "wave": 1, "passed": True, "reasons": ["healthy: 2 alarm(s) OK, 3 of 3 instances verified"],
         "alarms": [_alarm("storefront-dev-5xx"), _alarm("storefront-dev-latency")], "verification": {"targets": 3, "passed": 3, "failed": 0},
         "command_ids": ["c-dev-v1"], "checked_at": "2026-12-02T10:06:00Z"},
        {"phase": "soak", "wave": None, "passed": False, "reasons": [IN_ALARM],
         "alarms": [_alarm("storefront-dev-5xx", "ALARM", THRESHOLD, FIRED_AT), _alarm("storefront-dev-latency")], "verification": None,
         "command_ids": [], "checked_at": "2026-12-02T10:41:09Z"},
    ]
    assert report.stages[0].health[1] == HealthCheck(
        HealthPhase.SOAK, None, False, (IN_ALARM,), (AlarmStatus("storefront-dev-5xx", "ALARM", THRESHOLD, FIRED_AT), AlarmStatus("storefront-dev-latency", "OK", QUIET, "2026-12-02T09:00:00+00:00")),
        None, (), "2026-12-02T10:41:09Z",
    )
    assert headline(report) == f"BLOCKED at stage dev: soak: {IN_ALARM}"
    assert "verification" in report.to_json()["stages"][0]["waves"][0]["instances"][0]


def test_only_install_rows_carry_their_nodes_latest_verification():
    scan = {**RUN, "kind": "wave_result", "at": "2026-12-02T10:00:01.5Z", "stage": "dev", "wave": 1, "operation": "Scan", "command_ids": ["c-dev-0"],
            "instances": [_row("i-1"), _row("i-2"), _row("i-3")], "verdict": GATE, "started_at": "2026-12-02T10:00:01Z", "finished_at": "2026-12-02T10:00:01Z"}
    retried = {**HEALTHY_WAVE, "at": "2026-12-02T10:06:30Z", "verification": {**HEALTHY_WAVE["verification"], "nodes": [_node("i-2", False, "down")]}}
    scanned, installed = build_report(_run(scan, HEALTHY_WAVE, retried)).stages[0].waves
    assert ([row.verification for row in scanned.instances], [row.verification for row in installed.instances]) == (
        [None, None, None],
        [NodeVerification(True, "Success", 0, "running\n200"), NodeVerification(False, "Failed", 1, "down"), NodeVerification(True, "Success", 0, "running\n200")],
    )


def _section(markdown: str, start: str, end: str) -> list[str]:
    lines = markdown.splitlines()
    first = lines.index(start)
    return lines[first:lines.index(end, first)]


def test_markdown_shows_the_health_verdict_beside_the_gate_and_every_alarm():
    markdown = render_markdown(build_report(_run(HEALTHY_WAVE, SOAK_FIRED, blocked_by=f"soak: {IN_ALARM}")))
    assert _section(markdown, "## Stage dev (patch group `dev`): blocked", "### Install wave 1: 3 instances, PASS") == [
        "## Stage dev (patch group `dev`): blocked",
        "",
        "Gate: PASS",
        "- passed: 3 of 3 instances succeeded, 0 counted as failed (limit 0)",
        f"Health: BLOCKED at soak: {IN_ALARM}",
        "- wave 1: passed: healthy: 2 alarm(s) OK, 3 of 3 instances verified",
        f"- soak: BLOCKED: {IN_ALARM}",
        # The report shows every time as ISO 8601 UTC with a Z, whatever CloudWatch's answer spelt.
        f"- alarm storefront-dev-5xx: ALARM since 2026-12-02T10:41:07Z: {THRESHOLD}",
        f"- alarm storefront-dev-latency: OK since 2026-12-02T09:00:00Z: {QUIET}",
        "",
    ]


def test_markdown_lists_failed_health_checks_first_with_their_output_in_a_block_it_cannot_close():
    markdown = render_markdown(build_report(_run(VERIFY_FAILED, blocked_by=f"health after wave 1: {VERIFY_FAILED_REASON}")))
    assert _section(markdown, "| instance | os | outcome | status | compliant | pending reboot | command | health check |", "## Stage test (patch group `-`): not started") == [
        "| instance | os | outcome | status | compliant | pending reboot | command | health check |",
        "|---|---|---|---|---|---|---|---|",
        "| i-2 | AMAZON_LINUX_2023 | SUCCEEDED | Success | yes | no | c-dev-1 | failed (exit 1) |",
        "| i-1 | AMAZON_LINUX_2023 | SUCCEEDED | Success | yes | no | c-dev-1 | passed |",
        "| i-3 | AMAZON_LINUX_2023 | SUCCEEDED | Success | yes | no | c-dev-1 | passed |",
        "",
        "Health check output of i-2, failed (exit 1):",
        "",
        "````",
        "curl: (7) Failed to connect to localhost port 8080",
        "<b>```down```</b>",
        "````",
        "",
        "Health check output of i-1, passed:",
        "",
        "```",
        "running",
        "200",
        "```",
        "",
        "Health check output of i-3, passed:",
        "",
        "```",
        "running",
        "200",
        "```",
        "",
    ]


def test_html_shows_the_health_verdict_and_each_nodes_check_with_its_output_escaped():
    page = render_html(build_report(_run(VERIFY_FAILED, blocked_by=f"health after wave 1: {VERIFY_FAILED_REASON}")))
    assert f"<p class='block'>Health: BLOCKED at wave 1: {VERIFY_FAILED_REASON}</p>" in page
    assert "<li>alarm storefront-dev-5xx: OK since 2026-12-02T09:00:00Z: " in page
    assert "<th>command</th><th>health check</th></tr>" in page
    assert ("<tr><td>i-2</td><td>AMAZON_LINUX_2023</td><td>SUCCEEDED</td><td>Success</td><td>yes</td><td>no</td><td>c-dev-1</td><td class='block'>failed (exit 1)"
            "<pre style='margin:2px 0;white-space:pre-wrap'>curl: (7) Failed to connect to localhost port 8080\n&lt;b&gt;```down```&lt;/b&gt;</pre></td></tr>") in page
    assert page.index("<td>i-2</td>") < page.index("<td>i-1</td>") < page.index("<td>i-3</td>")


@pytest.mark.parametrize(
    "node, shown",
    [
        pytest.param(NodeVerification(True, "Success", 0), "passed", id="passed"),
        pytest.param(NodeVerification(False, "Failed", 1), "failed (exit 1)", id="script-failed"),
        pytest.param(NodeVerification(False, "ExecutionTimedOut", 124), "failed (ExecutionTimedOut, exit 124)", id="timed-out"),
        pytest.param(NodeVerification(False, "Undeliverable", -1), "failed (Undeliverable)", id="never-ran"),
    ],
)
def test_what_the_health_check_column_says(node, shown):
    assert node.shown() == shown


@pytest.mark.parametrize(
    "checks, verdict",
    [
        pytest.param([], None, id="no-checks"),
        pytest.param([HealthCheck(HealthPhase.WAVE, 1, True)], HealthVerdict(True, "passed"), id="nothing-configured-to-count"),
        pytest.param([HealthCheck(HealthPhase.WAVE, 1, True, alarms=(AlarmStatus("a", "OK"), AlarmStatus("b", "INSUFFICIENT_DATA")))],
                     HealthVerdict(True, "passed (1 alarm OK, 1 alarm INSUFFICIENT_DATA (allowed))"), id="insufficient-data-allowed"),
        pytest.param([HealthCheck(HealthPhase.WAVE, 1, True, verification={"targets": 5, "passed": 5, "failed": 0}),
                      HealthCheck(HealthPhase.WAVE, 1, True, verification={"targets": 5, "passed": 5, "failed": 0}),
                      HealthCheck(HealthPhase.WAVE, 2, True, verification={"targets": 5, "passed": 4, "failed": 1})],
                     HealthVerdict(True, "passed (9 of 10 instances verified)"), id="a-retried-wave-counts-once"),
        pytest.param([HealthCheck(HealthPhase.PREFLIGHT, None, False, ("alarm x is in ALARM since t: r", "alarm y is in ALARM since t: r"))],
                     HealthVerdict(False, "BLOCKED at preflight: alarm x is in ALARM since t: r", "alarm x is in ALARM since t: r"), id="blocked-at-preflight"),
        pytest.param([HealthCheck(HealthPhase.SOAK, None, False)], HealthVerdict(False, "BLOCKED at soak: no reason recorded", "no reason recorded"), id="blocked-without-reasons"),
    ],
)
def test_health_verdict_words(checks, verdict):
    assert health_verdict(checks) == verdict


# --------------------------------------------------------------------------- report.json of runs without health checks

PLAIN_RUN_MARKDOWN = """\
# Patch rollout report: storefront

**PROMOTED: every stage of storefront passed its gate.**

- DAG run: `rollout_storefront` / `manual__7`
- Started: 2026-12-02T10:00:00Z  Finished: 2026-12-02T11:10:00Z
- Dry run (scan only): no
- Change ticket: none
- Every instance, one row per wave: [instances.csv](instances.csv)

## Summary

| stage | group | targets | succeeded | failed | unreachable | gate | commands |
|---|---|---|---|---|---|---|---|
| dev | dev | 3 | 3 | 0 | 0 | PASS | c-dev-1 |
| test | - | 0 | 0 | 0 | 0 | - | - |

## Stage dev (patch group `dev`): promoted

Gate: PASS
- passed: 3 of 3 instances succeeded, 0 counted as failed (limit 0)

### Install wave 1: 3 instances, PASS

- passed: 3 of 3 instances succeeded, 0 counted as failed (limit 0)
- Outcomes: 3 succeeded
- Commands: c-dev-1; 2026-12-02T10:00:02Z to 2026-12-02T10:05:00Z

| instance | os | outcome | status | compliant | pending reboot | command |
|---|---|---|---|---|---|---|
| i-1 | AMAZON_LINUX_2023 | SUCCEEDED | Success | yes | no | c-dev-1 |
| i-2 | AMAZON_LINUX_2023 | SUCCEEDED | Success | yes | no | c-dev-1 |
| i-3 | AMAZON_LINUX_2023 | SUCCEEDED | Success | yes | no | c-dev-1 |

## Stage test (patch group `-`): not started

"""


def test_a_run_without_health_checks_has_no_health_keys_and_the_report_it_always_had():
    report = build_report(_run())
    stored = report.to_json()
    assert [("health" in stage, ["verification" in row for wave in stage["waves"] for row in wave["instances"]]) for stage in stored["stages"]] == [
        (False, [False, False, False]), (False, [])]
    assert render_markdown(report) == PLAIN_RUN_MARKDOWN
    assert "health" not in render_html(report)


@pytest.mark.parametrize(
    "records",
    [
        pytest.param(lambda: _run(), id="no-health-checks"),
        pytest.param(lambda: _run(HEALTHY_WAVE, SOAK_QUIET), id="passing-checks"),
        pytest.param(lambda: _run(HEALTHY_WAVE, SOAK_FIRED, blocked_by=f"soak: {IN_ALARM}"), id="blocked-at-soak"),
        pytest.param(lambda: _run(VERIFY_FAILED, blocked_by=f"health after wave 1: {VERIFY_FAILED_REASON}"), id="verification-failures"),
    ],
)
def test_a_stored_report_json_with_health_checks_reads_back_as_the_same_report(records):
    report = build_report(records())
    assert Report.from_json(json.loads(json.dumps(report.to_json()))) == report


def _stored(change) -> dict:
    """report.json of the run blocked at soak, with one change made to it."""
    stored = json.loads(json.dumps(build_report(_run(HEALTHY_WAVE, SOAK_FIRED, blocked_by=f"soak: {IN_ALARM}")).to_json()))
    change(stored)
    return stored


@pytest.mark.parametrize(
    "stored, problems",
    [
        pytest.param(_stored(lambda r: r["stages"][0].update(health={"phase": "soak"})), ["report.json: stages[0].health: expected a list, got a mapping"], id="not-a-list"),
        pytest.param(_stored(lambda r: r["stages"][0]["health"].__setitem__(1, "soak")), ["report.json: stages[0].health[1]: expected a mapping, got 'soak'"], id="entry-not-a-mapping"),
        pytest.param(_stored(lambda r: r["stages"][0]["health"][1].update(phase="bake", passed="no")),
                     ["report.json: stages[0].health[1].phase: expected one of 'preflight', 'wave', 'soak', got 'bake'",
                      "report.json: stages[0].health[1].passed: expected true or false, got 'no'"], id="unknown-phase-and-passed-not-a-flag"),
        pytest.param(_stored(lambda r: r["stages"][0]["health"][1]["alarms"][0].update(state="FIRING")),
                     ["report.json: stages[0].health[1].alarms[0].state: expected one of 'OK', 'ALARM', 'INSUFFICIENT_DATA', 'DELETED', got 'FIRING'"], id="unknown-alarm-state"),
        pytest.param(_stored(lambda r: r["stages"][0]["health"][1]["alarms"][0].pop("name")),
                     ["report.json: stages[0].health[1].alarms[0].name: expected text, got nothing"], id="alarm-without-a-name"),
        pytest.param(_stored(lambda r: r["stages"][0]["health"][0].update(verification={"targets": "3"})),
                     ["report.json: stages[0].health[0].verification: expected a mapping of integers or null, got a mapping"], id="verification-counts-not-integers"),
        pytest.param(_stored(lambda r: r["stages"][0]["health"][0].pop("reasons")),
                     ["report.json: stages[0].health[0].reasons: expected a list of text, got nothing"], id="no-reasons"),
        pytest.param(_stored(lambda r: r["stages"][0]["waves"][0]["instances"][2]["verification"].update(response_code="1", output_tail=None)),
                     ["report.json: stages[0].waves[0].instances[2].verification.response_code: expected an integer, got '1'",
                      "report.json: stages[0].waves[0].instances[2].verification.output_tail: expected text, got None"], id="row-verification-fields"),
        pytest.param(_stored(lambda r: r["stages"][0]["waves"][0]["instances"][0].update(verification="passed")),
                     ["report.json: stages[0].waves[0].instances[0].verification: expected a mapping or null, got 'passed'"], id="row-verification-not-a-mapping"),
    ],
)
def test_a_report_json_with_a_bad_health_entry_is_refused_naming_each_field(stored, problems):
    with pytest.raises(InvalidInput) as refused:
        Report.from_json(stored)
    assert [str(p) for p in refused.value.problems] == problems
