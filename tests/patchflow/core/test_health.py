"""The pure health judgements: alarm states and selectors, a verification command's results, and the verdict a health check records."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from patchflow.core.gates import GateThresholds, GateVerdict, InstanceResult, Limit, Outcome, evaluate_gate
from patchflow.core.health import (
    AlarmSelector,
    AlarmState,
    HealthCheck,
    HealthPhase,
    SelectorKind,
    Verification,
    VerificationRun,
    VerificationSend,
    VerifiedNode,
    alarm_reasons,
    alarms_matching,
    document_for,
    health_summary,
    judge_health,
    nodes_without_commands,
    output_tail,
    selected_alarms,
    unmatched_selector_reason,
    verification_reasons,
    verification_sends,
    with_verification,
)
from patchflow.core.ledger_records import record_problems
from patchflow.core.records import RecordKind, WaveRow

AL = "AMAZON_LINUX_2023"
FIRED = "2026-12-02T10:41:07+00:00"
CROSSED = "Threshold Crossed: 1 out of the last 1 datapoints [12.0 (02/12/26 10:40:00)] was greater than the threshold (5.0)."

# --------------------------------------------------------------------------- alarm states


def alarm_item(**changes) -> dict:
    """A MetricAlarms item of DescribeAlarms, trimmed to what a health check reads (and a field it does not)."""
    return {
        "AlarmName": "storefront-dev-5xx", "AlarmArn": "arn:aws:cloudwatch:us-east-1:123456789012:alarm:storefront-dev-5xx",
        "StateValue": "ALARM", "StateReason": CROSSED, "StateUpdatedTimestamp": datetime(2026, 12, 2, 10, 41, 7, 442000, tzinfo=timezone.utc),
        "Threshold": 5.0, **changes,
    }


@pytest.mark.parametrize(
    "item, expected",
    [
        pytest.param(alarm_item(), AlarmState("storefront-dev-5xx", "ALARM", CROSSED, FIRED, "arn:aws:cloudwatch:us-east-1:123456789012:alarm:storefront-dev-5xx"),
                     id="boto3-datetime"),
        pytest.param(alarm_item(StateUpdatedTimestamp="2026-12-02T10:41:07.442Z"), AlarmState(
            "storefront-dev-5xx", "ALARM", CROSSED, FIRED, "arn:aws:cloudwatch:us-east-1:123456789012:alarm:storefront-dev-5xx"), id="cli-text"),
        pytest.param(alarm_item(StateUpdatedTimestamp=datetime(2026, 12, 2, 11, 41, 7, tzinfo=timezone(timedelta(hours=1)))), AlarmState(
            "storefront-dev-5xx", "ALARM", CROSSED, FIRED, "arn:aws:cloudwatch:us-east-1:123456789012:alarm:storefront-dev-5xx"), id="other-offset-to-utc"),
        pytest.param(alarm_item(StateUpdatedTimestamp=datetime(2026, 12, 2, 10, 41, 7)), AlarmState(
            "storefront-dev-5xx", "ALARM", CROSSED, FIRED, "arn:aws:cloudwatch:us-east-1:123456789012:alarm:storefront-dev-5xx"), id="naive-is-utc"),
        pytest.param({"AlarmName": "storefront-composite", "StateValue": "OK", "StateUpdatedTimestamp": "yesterday"},
                     AlarmState("storefront-composite", "OK", "", "yesterday"), id="composite-sparse-unreadable-time-kept"),
        pytest.param({"AlarmName": "storefront-new"}, AlarmState("storefront-new", ""), id="nothing-but-a-name"),
    ],
)
def test_alarm_state_from_describe_alarms(item, expected):
    assert AlarmState.from_api(item) == expected


def test_alarm_state_json_is_the_records_alarms_entry_and_reads_back():
    state = AlarmState.from_api(alarm_item())
    written = json.loads(json.dumps(state.to_json()))
    assert (written, AlarmState.from_json(written)) == (
        {"name": "storefront-dev-5xx", "state": "ALARM", "reason": CROSSED, "updated_at": FIRED}, AlarmState("storefront-dev-5xx", "ALARM", CROSSED, FIRED),
    )


@pytest.mark.parametrize(
    "states, allowed, expected",
    [
        pytest.param([AlarmState("a", "OK", "fine", FIRED)], False, [], id="ok"),
        pytest.param([AlarmState("storefront-dev-5xx", "ALARM", CROSSED, FIRED)], False,
                     [f"alarm storefront-dev-5xx is in ALARM since 2026-12-02T10:41:07Z: {CROSSED}"], id="alarm"),
        pytest.param([AlarmState("storefront-dev-5xx", "ALARM", CROSSED, FIRED)], True,
                     [f"alarm storefront-dev-5xx is in ALARM since 2026-12-02T10:41:07Z: {CROSSED}"], id="alarm-blocks-whatever-insufficient-data-says"),
        pytest.param([AlarmState("storefront-dev-latency", "INSUFFICIENT_DATA", "Unchecked: Initial alarm creation", FIRED)], False,
                     ["alarm storefront-dev-latency is in INSUFFICIENT_DATA since 2026-12-02T10:41:07Z (the plan's health.insufficient_data is block): "
                      "Unchecked: Initial alarm creation"], id="insufficient-data-blocks"),
        pytest.param([AlarmState("storefront-dev-latency", "INSUFFICIENT_DATA", "Unchecked: Initial alarm creation", FIRED)], True, [],
                     id="insufficient-data-allowed"),
        pytest.param([AlarmState("b", "ALARM"), AlarmState("a", "OK"), AlarmState("c", "ALARM", "x", FIRED)], False,
                     ["alarm b is in ALARM", "alarm c is in ALARM since 2026-12-02T10:41:07Z: x"], id="in-order-without-missing-parts"),
        pytest.param([AlarmState("a", "")], True, ["alarm a is in no state"], id="no-state-fails-closed"),
        pytest.param([AlarmState("a", "DELETED")], True,
                     ["alarm a no longer exists: it was deleted while the stage watched it, so nothing watches the service it stood for"],
                     id="deleted-while-watched-fails-closed"),
    ],
)
def test_alarm_reasons(states, allowed, expected):
    assert alarm_reasons(states, allowed) == expected


# --------------------------------------------------------------------------- selectors

ALARMS = [
    ("storefront-prod-5xx", {"Application": "storefront", "Environment": "prod"}),
    ("storefront-prod-latency", {"Application": "storefront", "Environment": "prod", "Team": "web"}),
    ("storefront-dev-5xx", {"Application": "storefront", "Environment": "dev"}),
    ("checkout-prod-5xx", {"Application": "checkout", "Environment": "prod"}),
]


@pytest.mark.parametrize(
    "selector, expected",
    [
        pytest.param(AlarmSelector(SelectorKind.NAME, name="storefront-prod-5xx"), ["storefront-prod-5xx"], id="name"),
        pytest.param(AlarmSelector(SelectorKind.NAME, name="storefront-prod"), [], id="name-is-exact"),
        pytest.param(AlarmSelector(SelectorKind.PREFIX, name="storefront-prod-"), ["storefront-prod-5xx", "storefront-prod-latency"], id="prefix"),
        pytest.param(AlarmSelector(SelectorKind.PREFIX, name="Storefront"), [], id="prefix-is-case-sensitive"),
        pytest.param(AlarmSelector(SelectorKind.PREFIX, name="prod-"), [], id="prefix-only-at-the-start"),
        pytest.param(AlarmSelector(SelectorKind.TAGS, tags=(("Application", "storefront"), ("Environment", "prod"))),
                     ["storefront-prod-5xx", "storefront-prod-latency"], id="tags-all-equal"),
        pytest.param(AlarmSelector(SelectorKind.TAGS, tags=(("Environment", "prod"), ("Team", "web"))), ["storefront-prod-latency"], id="tags-every-one"),
        pytest.param(AlarmSelector(SelectorKind.TAGS, tags=(("Environment", "Prod"),)), [], id="tag-value-exact"),
    ],
)
def test_alarms_matching(selector, expected):
    assert alarms_matching(selector, ALARMS) == expected


@pytest.mark.parametrize(
    "selector, expected",
    [
        pytest.param(AlarmSelector(SelectorKind.PREFIX, name="storefront-prod-"),
                     "health.alarms[1] (prefix storefront-prod-) matches no CloudWatch alarm; a health gate watching nothing would pass anything", id="prefix"),
        pytest.param(AlarmSelector(SelectorKind.NAME, name="storefront-prod-5xx"),
                     "health.alarms[1] (name storefront-prod-5xx) matches no CloudWatch alarm; a health gate watching nothing would pass anything", id="name"),
        pytest.param(AlarmSelector(SelectorKind.TAGS, tags=(("Application", "storefront"), ("Environment", "prod"))),
                     "health.alarms[1] (tags Application=storefront, Environment=prod) matches no CloudWatch alarm; a health gate watching nothing would pass anything",
                     id="tags"),
    ],
)
def test_unmatched_selector_reason(selector, expected):
    assert unmatched_selector_reason(1, selector) == expected


def test_selected_alarms_are_every_match_once_and_every_selector_matching_none_is_named():
    selectors = [
        AlarmSelector(SelectorKind.TAGS, tags=(("Environment", "prod"),)),
        AlarmSelector(SelectorKind.NAME, name="storefront-prod-5xx"),
        AlarmSelector(SelectorKind.PREFIX, name="payments-"),
    ]
    assert selected_alarms(selectors, ALARMS) == (
        ["checkout-prod-5xx", "storefront-prod-5xx", "storefront-prod-latency"],
        ["health.alarms[2] (prefix payments-) matches no CloudWatch alarm; a health gate watching nothing would pass anything"],
    )


# --------------------------------------------------------------------------- documents and commands


@pytest.mark.parametrize(
    "operating_system, expected",
    [
        pytest.param("WINDOWS", "AWS-RunPowerShellScript", id="windows"),
        pytest.param(AL, "AWS-RunShellScript", id="linux"),
        pytest.param("MACOS", "AWS-RunShellScript", id="macos"),
        pytest.param(None, "AWS-RunShellScript", id="unknown"),
    ],
)
def test_document_for(operating_system, expected):
    assert document_for(operating_system) == expected


LINUX_ONLY = Verification(commands=("curl -fsS http://localhost:8080/health",))
WINDOWS_ONLY = Verification(windows_commands=("Get-Service W3SVC",))
BOTH = Verification(commands=("true",), windows_commands=("$true",))
FLEET = {"i-c": "WINDOWS", "i-a": "WINDOWS", "i-b": "WINDOWS", "i-l": AL, "i-u": "UBUNTU", "i-v": "UBUNTU", "i-x": None}


@pytest.mark.parametrize(
    "spec, instances, expected",
    [
        pytest.param(LINUX_ONLY, FLEET, ["health.verify has no windows_commands for 3 WINDOWS instances (i-a, i-b, i-c)"], id="windows-without-commands"),
        pytest.param(WINDOWS_ONLY, FLEET, [
            f"health.verify has no commands for 1 {AL} instance (i-l)",
            "health.verify has no commands for 2 UBUNTU instances (i-u, i-v)",
            "health.verify has no commands for 1 unknown instance (i-x)",
        ], id="linux-without-commands-one-reason-per-os"),
        pytest.param(BOTH, FLEET, [], id="both"),
        pytest.param(LINUX_ONLY, {f"i-{n:02}": "WINDOWS" for n in range(12)}, [
            "health.verify has no windows_commands for 12 WINDOWS instances (i-00, i-01, i-02, i-03, i-04, i-05, i-06, i-07, i-08, i-09 and 2 more)",
        ], id="long-list-shortened"),
        pytest.param(LINUX_ONLY, {}, [], id="no-instances"),
    ],
)
def test_nodes_without_commands(spec, instances, expected):
    assert nodes_without_commands(spec, instances) == expected


@pytest.mark.parametrize(
    "spec, expected",
    [
        pytest.param(BOTH, [
            VerificationSend("AWS-RunShellScript", ("true",), ("i-l", "i-u", "i-v", "i-x")),
            VerificationSend("AWS-RunPowerShellScript", ("$true",), ("i-a", "i-b", "i-c")),
        ], id="both"),
        pytest.param(LINUX_ONLY, [VerificationSend("AWS-RunShellScript", LINUX_ONLY.commands, ("i-l", "i-u", "i-v", "i-x"))], id="linux-only"),
        pytest.param(WINDOWS_ONLY, [VerificationSend("AWS-RunPowerShellScript", WINDOWS_ONLY.windows_commands, ("i-a", "i-b", "i-c"))], id="windows-only"),
    ],
)
def test_verification_sends_one_per_document(spec, expected):
    assert verification_sends(spec, FLEET) == expected


# --------------------------------------------------------------------------- output tails

FAILED_SCRIPT = "\n----------ERROR-------\ncurl: (7) Failed to connect to localhost port 8080: Connection refused\nfailed to run commands: exit status 7"


@pytest.mark.parametrize(
    "text, max_lines, max_chars, expected",
    [
        pytest.param("", 10, 600, "", id="empty"),
        pytest.param(None, 10, 600, "", id="none"),
        pytest.param(" \n\n\t\n", 10, 600, "", id="blank"),
        pytest.param("running\n", 10, 600, "running", id="one-line-trimmed"),
        pytest.param(FAILED_SCRIPT, 10, 600,
                     "----------ERROR-------\ncurl: (7) Failed to connect to localhost port 8080: Connection refused\nfailed to run commands: exit status 7",
                     id="aws-failed-script"),
        pytest.param("\n".join(f"line {n}  " for n in range(1, 13)), 10, 600, "\n".join(f"line {n}" for n in range(3, 13)), id="last-ten-lines"),
        pytest.param("a\n\n\nb\n", 10, 600, "a\nb", id="blank-lines-dropped"),
        pytest.param("aaaa\nbbbb\ncccc", 10, 9, "bbbb\ncccc", id="whole-lines-within-chars"),
        pytest.param("aaaa\nbbbb\ncccc", 10, 8, "cccc", id="a-line-that-does-not-fit-is-left-out-whole"),
        pytest.param("short\n" + "x" * 20 + "END", 10, 10, "…xxxxxxEND", id="an-overlong-last-line-keeps-its-end"),
    ],
)
def test_output_tail(text, max_lines, max_chars, expected):
    assert output_tail(text, max_lines, max_chars) == expected


def test_output_tail_defaults_to_ten_lines_and_600_characters():
    text = "\n".join("y" * 99 for _ in range(12))
    assert output_tail(text) == "\n".join("y" * 99 for _ in range(6))  # 6 lines of 99 and 5 newlines: 599


# --------------------------------------------------------------------------- verified nodes


def invocation(instance_id: str, details: str, code: int | None = None, output: str = "", status: str | None = None) -> dict:
    """A ListCommandInvocations Details=true item; no plugin when `code` is None (the script never ran)."""
    plugins = [] if code is None else [{"Name": "aws:runShellScript", "Status": status or details, "StatusDetails": details, "ResponseCode": code, "Output": output}]
    return {"CommandId": "c-v", "InstanceId": instance_id, "Status": status or details, "StatusDetails": details, "CommandPlugins": plugins}


@pytest.mark.parametrize(
    "item, expected",
    [
        pytest.param(invocation("i-1", "Success", 0, "running\n"), VerifiedNode("i-1", True, "Success", 0, "running"), id="success"),
        pytest.param(invocation("i-2", "Failed", 7, FAILED_SCRIPT), VerifiedNode(
            "i-2", False, "Failed", 7,
            "----------ERROR-------\ncurl: (7) Failed to connect to localhost port 8080: Connection refused\nfailed to run commands: exit status 7",
        ), id="failed-script"),
        pytest.param(invocation("i-3", "ExecutionTimedOut", 1, "", status="TimedOut"), VerifiedNode("i-3", False, "ExecutionTimedOut", 1, ""), id="timed-out"),
        pytest.param(invocation("i-4", "Undeliverable"), VerifiedNode("i-4", False, "Undeliverable", -1, ""), id="undeliverable-no-plugin"),
        pytest.param({"InstanceId": "i-5", "Status": "Success"}, VerifiedNode("i-5", False, "Success", -1, ""), id="only-status-details-success-passes"),
        pytest.param({"InstanceId": "i-6", "Status": "InProgress", "StatusDetails": "InProgress", "CommandPlugins": [{"Name": "aws:runShellScript"}]},
                     VerifiedNode("i-6", False, "InProgress", -1, ""), id="still-running-fails-closed"),
    ],
)
def test_verified_node_from_invocation(item, expected):
    assert VerifiedNode.from_invocation(item) == expected


def test_verified_node_json_is_the_records_nodes_entry_and_reads_back():
    node = VerifiedNode("i-2", False, "Failed", 1, "down")
    written = json.loads(json.dumps(node.to_json()))
    assert (written, VerifiedNode.from_json(written)) == (
        {"instance_id": "i-2", "passed": False, "status_details": "Failed", "response_code": 1, "output_tail": "down"}, node,
    )


def failed_node(instance_id: str, tail: str = "service storefront is down", code: int = 1) -> VerifiedNode:
    return VerifiedNode(instance_id, False, "Failed", code, tail)


PASSED = [VerifiedNode(f"i-p{n}", True, "Success", 0, "ok") for n in range(7)]


@pytest.mark.parametrize(
    "nodes, expected",
    [
        pytest.param(PASSED, [], id="all-passed"),
        pytest.param([], [], id="none"),
        pytest.param([*PASSED, failed_node("i-f2"), failed_node("i-f1", FAILED_SCRIPT.strip(), 7), failed_node("i-f3", "")], [
            "verification failed on 3 of 10 instances (30.0%): i-f1 (exit 7: curl: (7) Failed to connect to localhost port 8080: Connection refused), "
            "i-f2 (exit 1: service storefront is down), i-f3 (exit 1)",
        ], id="named-by-id-banner-skipped"),
        pytest.param([VerifiedNode("i-1", False, "DeliveryTimedOut"), VerifiedNode("i-2", False, "ExecutionTimedOut", 1, "still waiting")], [
            "verification failed on 2 of 2 instances (100.0%): i-1 (DeliveryTimedOut), i-2 (ExecutionTimedOut: still waiting)",
        ], id="not-an-exit"),
        pytest.param([failed_node(f"i-{n}", "x" * 130) for n in range(7)], [
            "verification failed on 7 of 7 instances (100.0%): "
            + ", ".join(f"i-{n} (exit 1: {'x' * 119}…)" for n in range(5)) + " and 2 more",
        ], id="five-named-and-long-lines-shortened"),
    ],
)
def test_verification_reasons(nodes, expected):
    assert verification_reasons(nodes) == expected


def test_with_verification_fails_the_rows_of_nodes_whose_check_failed_and_leaves_the_others():
    rows = [
        WaveRow("i-1", AL, Outcome.SUCCEEDED, "Success", True, command_id="c-i"),
        WaveRow("i-2", AL, Outcome.SUCCEEDED, "Success", True, command_id="c-i"),
        WaveRow("i-3", AL, Outcome.FAILED, "Failed", False, command_id="c-i"),
    ]
    nodes = [VerifiedNode("i-1", True, "Success", 0, "ok"), failed_node("i-2")]
    assert with_verification(rows, nodes) == [
        WaveRow("i-1", AL, Outcome.SUCCEEDED, "Success", True, command_id="c-i",
                verification={"passed": True, "status_details": "Success", "response_code": 0, "output_tail": "ok"}),
        WaveRow("i-2", AL, Outcome.FAILED, "Success", True, command_id="c-i",
                verification={"passed": False, "status_details": "Failed", "response_code": 1, "output_tail": "service storefront is down"}),
        rows[2],
    ]


def test_a_failed_check_counts_into_the_waves_gate_like_a_failed_install():
    rows = [WaveRow(f"i-{n}", AL, Outcome.SUCCEEDED, "Success", True) for n in range(10)]
    verified = with_verification(rows, [failed_node("i-0"), failed_node("i-1"), failed_node("i-2")])
    verdict = evaluate_gate([InstanceResult.from_row(row) for row in verified], GateThresholds(max_failed=Limit(10, True)))
    assert (verdict.passed, verdict.reasons) == (False, ("3 of 10 instances failed (30.0%), above the limit of 10%",))


# --------------------------------------------------------------------------- the verdict


@pytest.mark.parametrize(
    "alarm_count, verified, targets, expected",
    [
        pytest.param(3, 7, 7, "healthy: 3 alarms OK, 7 of 7 instances verified", id="both"),
        pytest.param(1, None, None, "healthy: 1 alarm OK", id="alarms-only"),
        pytest.param(None, 10, 10, "healthy: 10 of 10 instances verified", id="verify-only"),
        pytest.param(0, None, None, "healthy: 0 alarms OK", id="no-alarms-matched"),
        pytest.param(None, None, None, "healthy", id="nothing-configured"),
    ],
)
def test_health_summary(alarm_count, verified, targets, expected):
    assert health_summary(alarm_count, verified, targets) == expected


CHECKED = "2026-12-02T10:41:09+00:00"
OK_ALARM = AlarmState("storefront-dev-latency", "OK", "Threshold Crossed: no datapoints above", FIRED)
FIRING = AlarmState("storefront-dev-5xx", "ALARM", CROSSED, FIRED)
RUN = VerificationRun(("AWS-RunShellScript",), ("c-v",), (*PASSED, failed_node("i-f1"), failed_node("i-f2"), failed_node("i-f3")))
GATE_FAILED = GateVerdict(False, ("3 of 10 instances failed (30.0%), above the limit of 10%",), {})


@pytest.mark.parametrize(
    "kwargs, passed, reasons",
    [
        pytest.param(dict(alarms=[OK_ALARM], verification=VerificationRun(("AWS-RunShellScript",), ("c-v",), tuple(PASSED)), gate=GateVerdict(True, ("passed",), {})),
                     True, ("healthy: 1 alarm OK, 7 of 7 instances verified",), id="healthy"),
        pytest.param(dict(alarms=[OK_ALARM, FIRING]), False, (f"alarm storefront-dev-5xx is in ALARM since 2026-12-02T10:41:07Z: {CROSSED}",), id="alarm"),
        pytest.param(dict(alarms=[OK_ALARM], verification=RUN, gate=GATE_FAILED), False, (
            "verification failed on 3 of 10 instances (30.0%): i-f1 (exit 1: service storefront is down), i-f2 (exit 1: service storefront is down), "
            "i-f3 (exit 1: service storefront is down)",
            "3 of 10 instances failed (30.0%), above the limit of 10%",
        ), id="verification-then-the-gates-reasons"),
        pytest.param(dict(alarms=[FIRING], verification=RUN, gate=GATE_FAILED), False, (
            f"alarm storefront-dev-5xx is in ALARM since 2026-12-02T10:41:07Z: {CROSSED}",
            "verification failed on 3 of 10 instances (30.0%): i-f1 (exit 1: service storefront is down), i-f2 (exit 1: service storefront is down), "
            "i-f3 (exit 1: service storefront is down)",
            "3 of 10 instances failed (30.0%), above the limit of 10%",
        ), id="the-alarm-first"),
        pytest.param(dict(verification=RUN, gate=GateVerdict(True, ("passed",), {})), True, ("healthy: 7 of 10 instances verified",),
                     id="failed-checks-within-the-gates-limit-pass-like-failed-installs"),
        pytest.param(dict(verification=RUN), False, (
            "verification failed on 3 of 10 instances (30.0%): i-f1 (exit 1: service storefront is down), i-f2 (exit 1: service storefront is down), "
            "i-f3 (exit 1: service storefront is down)",
        ), id="without-a-gate-any-failed-check-blocks"),
        pytest.param(dict(alarms=[AlarmState("x", "INSUFFICIENT_DATA", "no data", FIRED)], insufficient_data_allowed=True), True,
                     ("healthy: 1 alarm OK",), id="insufficient-data-allowed"),
    ],
)
def test_judge_health(kwargs, passed, reasons):
    check = judge_health("dev", HealthPhase.WAVE, CHECKED, wave=1, **kwargs)
    assert (check.passed, check.reasons) == (passed, reasons)


def test_a_health_check_is_exactly_the_ledger_records_fields_and_reads_back():
    check = judge_health("dev", HealthPhase.SOAK, CHECKED, alarms=[OK_ALARM, FIRING], polls=12)
    written = json.loads(json.dumps(check.to_json()))
    assert written == {
        "stage": "dev", "phase": "soak", "wave": None, "passed": False,
        "reasons": [f"alarm storefront-dev-5xx is in ALARM since 2026-12-02T10:41:07Z: {CROSSED}"],
        "alarms": [
            {"name": "storefront-dev-latency", "state": "OK", "reason": "Threshold Crossed: no datapoints above", "updated_at": FIRED},
            {"name": "storefront-dev-5xx", "state": "ALARM", "reason": CROSSED, "updated_at": FIRED},
        ],
        "verification": None, "polls": 12, "checked_at": CHECKED,
    }
    assert (record_problems(RecordKind.HEALTH_CHECK, written), HealthCheck.from_json(written)) == ([], check)


def test_a_wave_check_writes_its_verification_with_counts():
    check = judge_health("dev", HealthPhase.WAVE, CHECKED, wave=2, verification=VerificationRun(("AWS-RunShellScript",), ("c-v",), (PASSED[0], failed_node("i-f1"))))
    written = json.loads(json.dumps(check.to_json()))
    assert written["verification"] == {
        "documents": ["AWS-RunShellScript"], "command_ids": ["c-v"], "counts": {"targets": 2, "passed": 1, "failed": 1},
        "nodes": [
            {"instance_id": "i-p0", "passed": True, "status_details": "Success", "response_code": 0, "output_tail": "ok"},
            {"instance_id": "i-f1", "passed": False, "status_details": "Failed", "response_code": 1, "output_tail": "service storefront is down"},
        ],
    }
    assert (record_problems(RecordKind.HEALTH_CHECK, written), HealthCheck.from_json(written)) == ([], check)
