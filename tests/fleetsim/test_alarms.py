"""The fleet spec's CloudWatch alarms: served through moto's CloudWatch to boto3 and the AWS CLI, in their start
state, and put into ALARM `after_seconds` after a patch is installed on a share of a patch group (fleetsim/FIDELITY.md).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from fleetsim.alarms import AlarmFiring, installs_needed, state_reason
from fleetsim.fleet import build_instances
from fleetsim.spec import load_fleet
from fleetsim.testing import fleetsim_fixture

from tests.fleetsim.conftest import all_invocations, instances_in, wait_for_command

pytestmark = pytest.mark.fleetsim

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SEED = 4
TIME_SCALE = 3000
AFTER_SECONDS = 600
PATCH = "openssh-server.x86_64"  # approved by AWS-AmazonLinux2023DefaultPatchBaseline from the fleet's first day
GROUP = {"count": 4, "platform": "AMAZON_LINUX_2023"}
ALARM_FLEET = {
    "compliance_lag_seconds": 0,
    "defaults": {"missing_share": 1.0, "not_applicable_share": 0.0, "execution_seconds": [20, 60]},
    "groups": [
        {**GROUP, "name": "fire", "tags": {"Patch Group": "fire"}},
        {**GROUP, "name": "below", "tags": {"Patch Group": "below"}},
    ],
    "alarms": [
        {"name": "shop-fire-5xx", "tags": {"Application": "shop", "Environment": "fire"},
         "fires": {"patch": PATCH, "patch_group": "fire", "share": 0.5, "after_seconds": AFTER_SECONDS}},
        {"name": "shop-below-5xx", "tags": {"Application": "shop", "Environment": "below"},
         "fires": {"patch": PATCH, "patch_group": "below", "share": 0.75}},
        {"name": "shop-quiet-latency", "state": "INSUFFICIENT_DATA"},
        {"name": "shop-down-5xx", "state": "ALARM", "tags": {"Application": "shop"}},
        {"name": "other-5xx"},
    ],
}
alarm_fleet = fleetsim_fixture(ALARM_FLEET, seed=SEED, time_scale=TIME_SCALE)

# Its own server: a moto reset rebuilds the fleet, which would disturb the other tests' alarms.
RESET_FLEET = {
    "defaults": {"missing_share": 1.0, "not_applicable_share": 0.0, "execution_seconds": [20, 20]},
    "groups": [{"count": 1, "platform": "AMAZON_LINUX_2023", "tags": {"Patch Group": "solo"}}],
    "alarms": [{"name": "solo-5xx", "tags": {"Application": "solo"}, "fires": {"patch": PATCH, "patch_group": "solo"}}],
}
reset_fleet = fleetsim_fixture(RESET_FLEET, seed=SEED, time_scale=TIME_SCALE)

OK_REASON = "Threshold Crossed: no datapoints were received for 1 period and 1 missing datapoint was treated as [NonBreaching]."
INSUFFICIENT_REASON = "Insufficient Data: 1 datapoint was unknown."


def alarm_reason(value: float, datapoint: datetime) -> str:
    return (f"Threshold Crossed: 1 out of the last 1 datapoints [{value} ({datapoint:%d/%m/%y %H:%M:%S})] was greater than the threshold "
            "(5.0) (minimum 1 datapoint for OK -> ALARM transition).")


def alarms(sim, **filters) -> dict[str, dict]:
    return {alarm["AlarmName"]: alarm for alarm in sim.client("cloudwatch").describe_alarms(**filters)["MetricAlarms"]}


def wait_for_state(sim, name: str, state: str, timeout: float = 30.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        alarm = alarms(sim, AlarmNames=[name])[name]
        if alarm["StateValue"] == state or time.monotonic() > deadline:
            return alarm
        time.sleep(0.05)


def wait_until_past(instant: datetime) -> None:
    """Until the wall clock, which the server's simulated time follows, has passed `instant`."""
    while datetime.now(timezone.utc) <= instant:
        time.sleep(0.05)


def install_on(ssm, instance_ids: list[str]) -> datetime:
    """Install on these instances; the last instant an invocation ended (ResponseFinishDateTime)."""
    response = ssm.send_command(DocumentName="AWS-RunPatchBaseline", InstanceIds=instance_ids, Parameters={"Operation": ["Install"]},
                                MaxConcurrency="100%", MaxErrors="0")
    command_id = response["Command"]["CommandId"]
    assert wait_for_command(ssm, command_id)["Status"] == "Success"
    ends = [plugin["ResponseFinishDateTime"] for invocation in all_invocations(ssm, command_id, details=True)
            for plugin in invocation["CommandPlugins"] if "ResponseFinishDateTime" in plugin]
    assert len(ends) == len(instance_ids)
    return max(ends)


def summary(alarm: dict) -> tuple:
    return alarm["StateValue"], alarm["StateReason"], json.loads(alarm["StateReasonData"])["recentDatapoints"]


def test_spec_alarms_exist_with_their_tags_and_start_state(alarm_fleet):
    cloudwatch = alarm_fleet.client("cloudwatch")
    found = alarms(alarm_fleet)
    tags = {name: {t["Key"]: t["Value"] for t in cloudwatch.list_tags_for_resource(ResourceARN=alarm["AlarmArn"])["Tags"]}
            for name, alarm in found.items()}
    down = found["shop-down-5xx"]
    point = down["StateUpdatedTimestamp"].replace(second=0, microsecond=0) - timedelta(minutes=1)
    value = json.loads(down["StateReasonData"])["recentDatapoints"][0]
    assert ({name: summary(alarm) for name, alarm in found.items()}, tags) == (
        {
            "shop-fire-5xx": ("OK", OK_REASON, []),
            "shop-below-5xx": ("OK", OK_REASON, []),
            "shop-quiet-latency": ("INSUFFICIENT_DATA", INSUFFICIENT_REASON, []),
            "shop-down-5xx": ("ALARM", alarm_reason(value, point), [value]),
            "other-5xx": ("OK", OK_REASON, []),
        },
        {
            "shop-fire-5xx": {"Application": "shop", "Environment": "fire"},
            "shop-below-5xx": {"Application": "shop", "Environment": "below"},
            "shop-quiet-latency": {},
            "shop-down-5xx": {"Application": "shop"},
            "other-5xx": {},
        },
    )
    assert value > 5.0


def test_the_aws_cli_sees_the_alarms_and_their_states(alarm_fleet):
    finished = subprocess.run(
        [sys.executable, "-m", "awscli", "cloudwatch", "describe-alarms", "--alarm-name-prefix", "shop-q", "--output", "json"],
        env={**os.environ, **alarm_fleet.env()}, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120,
    )
    assert finished.returncode == 0, finished.stderr
    answered = json.loads(finished.stdout)["MetricAlarms"]
    assert [(a["AlarmName"], a["StateValue"], a["StateReason"], a["Namespace"], a["MetricName"], a["Threshold"]) for a in answered] == [
        ("shop-quiet-latency", "INSUFFICIENT_DATA", INSUFFICIENT_REASON, "AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", 5.0),
    ]


def test_describe_by_prefix_and_by_name(alarm_fleet):
    assert (sorted(alarms(alarm_fleet, AlarmNamePrefix="shop-")), sorted(alarms(alarm_fleet, AlarmNames=["other-5xx", "no-such-alarm"]))) == (
        ["shop-below-5xx", "shop-down-5xx", "shop-fire-5xx", "shop-quiet-latency"],
        ["other-5xx"],
    )


def test_an_alarm_fires_after_seconds_after_the_share_is_reached_and_not_before(alarm_fleet):
    ssm = alarm_fleet.client("ssm")
    first, second = sorted(instances_in(ssm, "fire"))[:2]
    started = alarms(alarm_fleet, AlarmNames=["shop-fire-5xx"])["shop-fire-5xx"]

    # One of four is below the share (0.5 needs two): past after_seconds from that install, still as it started.
    one_done = install_on(ssm, [first])
    wait_until_past(one_done + timedelta(seconds=2 * AFTER_SECONDS / TIME_SCALE))
    before = alarms(alarm_fleet, AlarmNames=["shop-fire-5xx"])["shop-fire-5xx"]

    two_done = install_on(ssm, [second])
    fired = wait_for_state(alarm_fleet, "shop-fire-5xx", "ALARM")
    due = two_done + timedelta(seconds=AFTER_SECONDS / TIME_SCALE)
    point = fired["StateUpdatedTimestamp"].replace(second=0, microsecond=0) - timedelta(minutes=1)
    value = json.loads(fired["StateReasonData"])["recentDatapoints"][0]
    assert (summary(before), before["StateUpdatedTimestamp"]) == (summary(started), started["StateUpdatedTimestamp"])
    assert summary(fired) == ("ALARM", alarm_reason(value, point), [value])
    # CloudWatch answers whole milliseconds, ResponseFinishDateTime epoch seconds as a float: equal to within a millisecond.
    assert abs(due - fired["StateUpdatedTimestamp"]) < timedelta(milliseconds=1)


def test_below_the_share_the_alarm_stays_ok(alarm_fleet):
    ssm = alarm_fleet.client("ssm")
    started = alarms(alarm_fleet, AlarmNames=["shop-below-5xx"])["shop-below-5xx"]
    done = install_on(ssm, sorted(instances_in(ssm, "below"))[:2])  # 0.75 of four needs three
    wait_until_past(done + timedelta(seconds=AFTER_SECONDS / TIME_SCALE))
    after = alarms(alarm_fleet, AlarmNames=["shop-below-5xx"])["shop-below-5xx"]
    assert (summary(after), after["StateUpdatedTimestamp"]) == (("OK", OK_REASON, []), started["StateUpdatedTimestamp"])


def test_a_moto_reset_recreates_the_alarms_in_their_start_state(reset_fleet):
    ssm = reset_fleet.client("ssm")
    install_on(ssm, instances_in(ssm, "solo"))
    fired = wait_for_state(reset_fleet, "solo-5xx", "ALARM")
    request = urllib.request.Request(f"{reset_fleet.endpoint}/moto-api/reset", data=b"", method="POST")
    with urllib.request.urlopen(request, timeout=60):
        pass
    recreated = alarms(reset_fleet)
    cloudwatch = reset_fleet.client("cloudwatch")
    tags = cloudwatch.list_tags_for_resource(ResourceARN=recreated["solo-5xx"]["AlarmArn"])["Tags"]
    assert (fired["StateValue"], {name: summary(alarm) for name, alarm in recreated.items()}, tags) == (
        "ALARM", {"solo-5xx": ("OK", OK_REASON, [])}, [{"Key": "Application", "Value": "solo"}])
    # The relaunched fleet's Installs fire the recreated alarm again.
    install_on(ssm, instances_in(ssm, "solo"))
    assert wait_for_state(reset_fleet, "solo-5xx", "ALARM")["StateValue"] == "ALARM"


# --------------------------------------------------------------------------- pure decisions


@pytest.mark.parametrize(
    "share, group_size, expected",
    [
        pytest.param(None, 10, 1, id="default-any-one-instance"),
        pytest.param(0.3, 10, 3, id="exact-share"),
        pytest.param(0.3, 4, 2, id="rounded-up"),
        pytest.param(0.01, 4, 1, id="at-least-one"),
        pytest.param(1.0, 4, 4, id="the-whole-group"),
    ],
)
def test_installs_needed(share, group_size, expected):
    assert installs_needed(share, group_size) == expected


QUERY = datetime(2026, 12, 2, 10, 41, 7, 384_512, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    "state, value, expected_reason, expected_data",
    [
        pytest.param(
            "ALARM", 42.0,
            "Threshold Crossed: 1 out of the last 1 datapoints [42.0 (02/12/26 10:40:00)] was greater than the threshold (5.0) "
            "(minimum 1 datapoint for OK -> ALARM transition).",
            {"version": "1.0", "queryDate": "2026-12-02T10:41:07.384+0000", "startDate": "2026-12-02T10:40:00.000+0000", "statistic": "Sum",
             "period": 60, "recentDatapoints": [42.0], "threshold": 5.0,
             "evaluatedDatapoints": [{"timestamp": "2026-12-02T10:40:00.000+0000", "sampleCount": 42.0, "value": 42.0}]},
            id="alarm",
        ),
        pytest.param(
            "OK", 42.0, OK_REASON,
            {"version": "1.0", "queryDate": "2026-12-02T10:41:07.384+0000", "statistic": "Sum", "period": 60, "recentDatapoints": [],
             "threshold": 5.0, "evaluatedDatapoints": [{"timestamp": "2026-12-02T10:40:00.000+0000"}]},
            id="ok-no-datapoints",
        ),
        pytest.param(
            "INSUFFICIENT_DATA", 42.0, INSUFFICIENT_REASON,
            {"version": "1.0", "queryDate": "2026-12-02T10:41:07.384+0000", "statistic": "Sum", "period": 60, "recentDatapoints": [],
             "threshold": 5.0, "evaluatedDatapoints": [{"timestamp": "2026-12-02T10:40:00.000+0000"}]},
            id="insufficient-data",
        ),
    ],
)
def test_state_reason_is_worded_as_cloudwatch_words_it(state, value, expected_reason, expected_data):
    reason, data = state_reason(state, QUERY, value)
    assert (reason, json.loads(data), ":" in data and ", " not in data) == (expected_reason, expected_data, True)


def test_firing_counts_installs_of_the_patch_on_the_patch_group_and_schedules_once():
    spec = load_fleet({
        "groups": [{"count": 4, "platform": "AMAZON_LINUX_2023", "tags": {"Patch Group": "dev"}},
                   {"count": 2, "platform": "AMAZON_LINUX_2023", "tags": {"PatchGroup": "prod"}}],
        "alarms": [{"name": "dev-5xx", "fires": {"patch": PATCH, "patch_group": "dev", "share": 0.5, "after_seconds": 600}},
                   {"name": "prod-5xx", "fires": {"patch": PATCH, "patch_group": "prod"}},
                   {"name": "quiet"}],
    })
    instances = build_instances(spec, 0, [f"i-{index:017x}" for index in range(6)])
    dev_1, dev_2, dev_3, _, prod_1, _ = instances
    scheduled = []
    firing = AlarmFiring(spec.alarms, instances, schedule=lambda at, handler, rule: scheduled.append((at, rule.alarm.name)),
                         fire=lambda name, at: None)
    firing.installed(dev_1, frozenset({"other.x86_64"}), 10.0)  # another patch
    firing.installed(dev_1, frozenset({PATCH}), 20.0)
    firing.installed(dev_1, frozenset({PATCH}), 25.0)  # the same instance again
    first = list(scheduled)
    firing.installed(dev_2, frozenset({PATCH, "other.x86_64"}), 30.0)
    firing.installed(dev_3, frozenset({PATCH}), 40.0)  # after the share was reached
    firing.installed(prod_1, frozenset({PATCH}), 50.0)
    assert (first, scheduled) == ([], [(630.0, "dev-5xx"), (50.0, "prod-5xx")])
