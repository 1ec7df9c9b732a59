"""Health gates through real Airflow task execution against fleetsim: a patch that installs cleanly and then
breaks the service stops the rollout, before anything reaches the next stage.

The fleets are tiny and fast; what broke, and what was sent where, is read back through the AWS APIs
(CloudWatch, ListCommands, the check's own invocations), never from patchflow's code.
"""
from __future__ import annotations

import json
import time

import pytest

from fleetsim import running
from patchflow.aws.ledger import open_store
from patchflow.aws.release_store import ReleaseStore
from tests.patchflow.rollout.fleet_reads import commands_by_group, group_instances

pytestmark = pytest.mark.airflow

AL, WINDOWS = "AMAZON_LINUX_2023", "WINDOWS"
PATCH = "openssh-server.x86_64"  # approved by AWS-AmazonLinux2023DefaultPatchBaseline, missing everywhere below
EVERY_PATCH_MISSING = {"missing_share": 1.0, "not_applicable_share": 0.0}
UNMATCHED = "matches no CloudWatch alarm; a health gate watching nothing would pass anything"


def group(stage: str, count: int, platform: str = AL, **extra) -> dict:
    return {"name": f"{stage}-{platform.lower()}", "count": count, "platform": platform, "tags": {"Patch Group": stage}, **extra}


def alarm(name: str, stage: str, **extra) -> dict:
    return {"name": name, "tags": {"Application": "storefront", "Environment": stage}, **extra}


def fleet(groups: list[dict], alarms: list[dict]) -> dict:
    return {
        "compliance_lag_seconds": 0,
        "defaults": {**EVERY_PATCH_MISSING, "execution_seconds": [30, 60], "reboot_share": 0.0},
        "groups": groups,
        "alarms": alarms,
    }


@pytest.fixture
def serve():
    """serve(spec) -> a running fleetsim, stopped when the test ends."""
    servers = []

    def start(spec: dict, time_scale: float = 600):
        server = running(spec, seed=3, time_scale=time_scale)
        servers.append(server)
        return server.__enter__()

    yield start
    for server in reversed(servers):
        server.__exit__(None, None, None)


def stages(**health) -> list[dict]:
    """dev, then test pinned to it; each stage's health as given (none when left out)."""
    plan = [{"name": "dev", "patch_group": "dev", "scan_first": False}, {"name": "test", "patch_group": "test", "pin_to": "dev"}]
    for stage in plan:
        if stage["name"] in health:
            stage["health"] = health[stage["name"]]
    return plan


def health_checks(run, stage: str) -> list[dict]:
    return [r for r in run.kinds("health_check") if r["stage"] == stage]


def sent_to(sim) -> list[str]:
    """The patch groups every command fleetsim accepted went to, and by which document."""
    return sorted({f"{group} {c['DocumentName']}" for group, commands in commands_by_group(sim).items() for c in commands})


def test_an_alarm_firing_in_devs_soak_blocks_before_test_and_voids_devs_release(serve, run_rollout, demo_plan):
    # The patch installs cleanly on both dev nodes; 200 simulated minutes later (20 s here) the 5xx alarm fires,
    # well after dev's wave was checked, while dev soaks.
    sim = serve(fleet(
        [group("dev", 2), group("test", 1), group("prod", 1)],
        [alarm("storefront-dev-5xx", "dev", fires={"patch": PATCH, "patch_group": "dev", "share": 1.0, "after_seconds": 12000}),
         alarm("storefront-test-5xx", "test")],
    ))
    plan = demo_plan(stages=stages(dev={"alarms": [{"name": "storefront-dev-5xx"}]}, test={"alarms": [{"tags": {"Environment": "test"}}]}))
    plan["defaults"]["soak"] = "10m"
    inbox = subscribed_inbox(sim, plan["notifications"]["sns_topic_arn"])

    run = run_rollout(sim, plan)

    (fired,) = sim.client("cloudwatch").describe_alarms(AlarmNames=["storefront-dev-5xx"])["MetricAlarms"]
    fired_at = fired["StateUpdatedTimestamp"].strftime("%Y-%m-%dT%H:%M:%SZ")
    reason = f"alarm storefront-dev-5xx is in ALARM since {fired_at}: {fired['StateReason']}"
    assert fired["StateValue"] == "ALARM" and fired["StateReason"].startswith("Threshold Crossed")
    assert (run.state, str(run.report.outcome), run.report.blocking_stage, run.report.reason) == ("failed", "blocked", "dev", f"soak: {reason}")
    assert [(r["phase"], r["wave"], r["passed"]) for r in health_checks(run, "dev")] == [("preflight", None, True), ("wave", 1, True), ("soak", None, False)]
    soak = health_checks(run, "dev")[-1]
    assert (soak["reasons"], [(a["name"], a["state"]) for a in soak["alarms"]], soak["polls"] >= 1) == ([reason], [("storefront-dev-5xx", "ALARM")], True)
    assert sent_to(sim) == ["dev AWS-RunPatchBaseline"]
    assert not health_checks(run, "test")
    # The people told of the block read which alarm fired, and why.
    assert ("Rollout demo blocked at dev", f"soak: {reason}") in inbox("block")

    # dev proved a release and passed it, then its soak found the service broken: nothing may install it.
    (standing,) = ReleaseStore(open_store(plan["ledger"]), plan["name"]).standings()
    assert (dict(standing.passed), sorted(standing.blocked), standing.blocked["dev"].run_id) == ({}, ["dev"], run.run_id)


def subscribed_inbox(sim, topic_arn: str):
    """An SQS queue subscribed to the plan's topic; inbox(event) -> (subject, message) of every notification of that event so far."""
    sns, sqs = sim.client("sns"), sim.client("sqs")
    sns.create_topic(Name=topic_arn.rsplit(":", 1)[1])
    queue = sqs.create_queue(QueueName="rollout-inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)

    def inbox(event: str) -> list[tuple[str, str]]:
        bodies = [json.loads(m["Body"]) for m in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])]
        return [(b["Subject"], b["Message"]) for b in bodies if b["MessageAttributes"]["event"]["Value"] == event]

    return inbox


def broken_by_a_check_of_my_own(sim, patch_group: str) -> dict[str, str]:
    """Instance id -> the first line of its stderr, for every node of the group where a shell script fails now."""
    ssm = sim.client("ssm")
    command_id = ssm.send_command(DocumentName="AWS-RunShellScript", Targets=[{"Key": "tag:Patch Group", "Values": [patch_group]}],
                                  Parameters={"commands": ["true"]}, MaxConcurrency="100%", MaxErrors="100%")["Command"]["CommandId"]
    deadline = time.monotonic() + 60
    while ssm.list_commands(CommandId=command_id)["Commands"][0]["Status"] not in ("Success", "Failed"):
        assert time.monotonic() < deadline, "the check of my own did not finish"
        time.sleep(0.1)
    broken = {}
    for instance_id in group_instances(ssm, patch_group):
        got = ssm.get_command_invocation(CommandId=command_id, InstanceId=instance_id)
        if got["Status"] == "Failed":
            broken[instance_id] = got["StandardErrorContent"].splitlines()[0]
    return broken


def test_a_verification_failing_on_30_percent_of_a_wave_blocks_it_naming_each_node(serve, run_rollout, demo_plan):
    sim = serve(fleet([group("dev", 10, breaks_service={PATCH: 0.3}), group("test", 1)], []))
    plan = demo_plan(stages=stages(dev={"verify": {"commands": ["curl -fsS http://localhost:8080/health"], "max_concurrency": "100%"}}))

    run = run_rollout(sim, plan)

    broken = broken_by_a_check_of_my_own(sim, "dev")
    assert len(broken) == 3
    # A reason quotes each node's first line of output, cut at 120 characters.
    named = ", ".join(f"{instance_id} (exit 1: {line[:119]}…)" for instance_id, line in sorted(broken.items()))
    assert all(len(line) > 120 for line in broken.values())
    reasons = [f"verification failed on 3 of 10 instances (30.0%): {named}", "3 of 10 instances failed (30.0%), above the limit of 10%"]
    assert (run.state, str(run.report.outcome), run.report.blocking_stage) == ("failed", "blocked", "dev")
    assert run.report.reason == "health wave 1: " + "; ".join(reasons)
    (check,) = health_checks(run, "dev")
    assert (check["phase"], check["wave"], check["passed"], check["reasons"], check["alarms"]) == ("wave", 1, False, reasons, [])
    verification = check["verification"]
    assert (verification["documents"], verification["counts"]) == (["AWS-RunShellScript"], {"targets": 10, "passed": 7, "failed": 3})
    failed = {node["instance_id"]: node for node in verification["nodes"] if not node["passed"]}
    assert sorted(failed) == sorted(broken)
    for instance_id, node in failed.items():
        assert (node["status_details"], node["response_code"]) == ("Failed", 1)
        assert node["output_tail"].endswith(f"{broken[instance_id]}\nfailed to run commands: exit status 1")
    # Every install succeeded: the wave itself passed, its health check blocked the stage.
    (install,) = [w for s in run.report.stages if s.name == "dev" for w in s.waves if w.operation == "Install"]
    assert (install.verdict.passed, install.counts["succeeded"], install.counts["failed"]) == (True, 10, 0)
    # Only dev's install and its check were sent; test got nothing.
    assert sent_to(sim) == ["dev AWS-RunPatchBaseline", "dev AWS-RunShellScript"]


@pytest.mark.parametrize(
    ("insufficient_data", "outcome"),
    [pytest.param("block", "blocked", id="blocks-by-default"), pytest.param("allow", "promoted", id="allowed-by-the-plan")],
)
def test_an_alarm_with_insufficient_data(serve, run_rollout, demo_plan, insufficient_data, outcome):
    sim = serve(fleet([group("dev", 1)], [alarm("storefront-dev-5xx", "dev", state="INSUFFICIENT_DATA")]))
    health = {"alarms": [{"prefix": "storefront-dev-"}], **({"insufficient_data": "allow"} if insufficient_data == "allow" else {})}
    plan = demo_plan(stages=stages(dev=health)[:1])

    run = run_rollout(sim, plan)

    assert str(run.report.outcome) == outcome
    (state,) = sim.client("cloudwatch").describe_alarms(AlarmNames=["storefront-dev-5xx"])["MetricAlarms"]
    if outcome == "blocked":
        since = state["StateUpdatedTimestamp"].strftime("%Y-%m-%dT%H:%M:%SZ")
        reason = (f"alarm storefront-dev-5xx is in INSUFFICIENT_DATA since {since} (the plan's health.insufficient_data is block): "
                  f"{state['StateReason']}")
        assert (run.report.blocking_stage, run.report.reason) == ("dev", f"preflight: {reason}")
        assert [(r["phase"], r["passed"], r["reasons"]) for r in health_checks(run, "dev")] == [("preflight", False, [reason])]
        assert sent_to(sim) == []
    else:
        assert [(r["phase"], r["passed"]) for r in health_checks(run, "dev")] == [("preflight", True), ("wave", True), ("soak", True)]
        assert sent_to(sim) == ["dev AWS-RunPatchBaseline"]


def test_a_selector_matching_no_alarm_blocks_the_run_at_its_start_before_anything_is_sent(serve, run_rollout, demo_plan):
    sim = serve(fleet([group("dev", 1), group("test", 1)], [alarm("storefront-dev-5xx", "dev"), alarm("storefront-test-5xx", "test")]))
    plan = demo_plan(stages=stages(dev={"alarms": [{"name": "storefront-dev-5xx"}]},
                                   test={"alarms": [{"prefix": "storefront-test-"}, {"tags": {"Application": "storefront", "Environment": "tset"}}]}))

    run = run_rollout(sim, plan)

    assert (run.state, str(run.report.outcome), run.report.blocking_stage) == ("failed", "blocked", "test")
    assert run.report.reason == f"health.alarms[1] (tags Application=storefront, Environment=tset) {UNMATCHED}"
    assert sent_to(sim) == []
    assert not run.kinds("preflight")


def test_a_healthy_run_with_alarms_and_verification_on_every_stage_promotes(serve, run_rollout, demo_plan):
    sim = serve(fleet(
        [group("dev", 2), group("dev", 1, WINDOWS), group("test", 1), group("test", 1, WINDOWS)],
        [alarm("storefront-dev-5xx", "dev"), alarm("storefront-test-5xx", "test"), alarm("storefront-test-latency", "test")],
    ))
    verify = {"commands": ["systemctl is-system-running"], "windows_commands": ["Get-Service storefront"]}
    plan = demo_plan(stages=stages(
        dev={"alarms": [{"name": "storefront-dev-5xx"}], "verify": verify},
        test={"alarms": [{"tags": {"Application": "storefront", "Environment": "test"}}], "verify": verify},
    ))
    plan["stages"][0]["waves"] = [1, "100%"]

    run = run_rollout(sim, plan)

    assert (run.state, str(run.report.outcome)) == ("success", "promoted")
    phases = {stage: [(r["phase"], r["wave"], r["passed"], (r["verification"] or {}).get("counts")) for r in health_checks(run, stage)]
              for stage in ("dev", "test")}
    assert phases == {
        "dev": [("preflight", None, True, None), ("wave", 1, True, {"targets": 1, "passed": 1, "failed": 0}),
                ("wave", 2, True, {"targets": 2, "passed": 2, "failed": 0}), ("soak", None, True, None)],
        "test": [("preflight", None, True, None), ("wave", 1, True, {"targets": 2, "passed": 2, "failed": 0}), ("soak", None, True, None)],
    }
    assert health_checks(run, "test")[1]["reasons"] == ["healthy: 2 alarms OK, 2 of 2 instances verified"]
    assert sent_to(sim) == ["dev AWS-RunPatchBaseline", "dev AWS-RunPowerShellScript", "dev AWS-RunShellScript",
                            "test AWS-RunPatchBaseline", "test AWS-RunPowerShellScript", "test AWS-RunShellScript"]
