"""The soak's alarm watch against fleetsim's CloudWatch: quiet to the end, an alarm mid-soak, CloudWatch not answering."""
from __future__ import annotations

import asyncio
import importlib
from datetime import datetime, timedelta, timezone

import pytest

from fleetsim.testing import fleetsim_fixture
from patchflow.rollout import triggers
from patchflow.rollout.triggers import AlarmWatchTrigger

watch_fleet = fleetsim_fixture({"groups": [{"name": "one", "count": 1, "platform": "AMAZON_LINUX_2023", "tags": {"Patch Group": "one"}}]})
CROSSED = "Threshold Crossed: 1 out of the last 1 datapoints [12.0 (02/12/26 10:40:00)] was greater than the threshold (5.0)."


@pytest.fixture
def cloudwatch(watch_fleet, monkeypatch):
    for name, value in watch_fleet.env().items():
        monkeypatch.setenv(name, value)
    client = watch_fleet.client("cloudwatch")
    names = [a["AlarmName"] for a in client.describe_alarms(AlarmTypes=["MetricAlarm"])["MetricAlarms"]]
    if names:
        client.delete_alarms(AlarmNames=names)
    return client


def create(cloudwatch, *names: str, state: str = "OK") -> None:
    for name in names:
        cloudwatch.put_metric_alarm(AlarmName=name, Namespace="Storefront", MetricName="5xx", Statistic="Sum", Period=60, EvaluationPeriods=1,
                                    Threshold=5, ComparisonOperator="GreaterThanThreshold")
        cloudwatch.set_alarm_state(AlarmName=name, StateValue=state, StateReason="set for the test")


def watch(names: list[str], *, seconds: float, allowed: bool = False) -> AlarmWatchTrigger:
    return AlarmWatchTrigger(
        alarm_names=names, until=(datetime.now(timezone.utc) + timedelta(seconds=seconds)).isoformat(), poll_interval=0.2,
        insufficient_data_allowed=allowed, aws_conn_id=None, echo={"soaked_until": "then"},
    )


async def first_event(trigger: AlarmWatchTrigger) -> dict:
    async for event in trigger.run():
        return event.payload


def collect(trigger: AlarmWatchTrigger) -> dict:
    return asyncio.run(first_event(trigger))


def test_the_trigger_round_trips_through_serialize():
    trigger = watch(["storefront-dev-5xx"], seconds=60, allowed=True)
    path, kwargs = trigger.serialize()
    module, _, name = path.rpartition(".")
    again = getattr(importlib.import_module(module), name)(**kwargs)
    assert again.serialize() == (path, kwargs)
    assert (path, sorted(kwargs)) == ("patchflow.rollout.triggers.AlarmWatchTrigger", [
        "access", "alarm_names", "aws_conn_id", "echo", "insufficient_data_allowed", "max_consecutive_errors", "poll_interval", "region_name", "until",
    ])


def test_a_quiet_soak_ends_quiet_at_its_end_with_one_describe_per_100_alarms_a_poll(cloudwatch, watch_fleet):
    names = [f"storefront-{n:03d}" for n in range(150)]
    create(cloudwatch, *names)
    watch_fleet.reset_stats()

    event = collect(watch(names, seconds=3))

    # How many polls fit in the soak depends on the machine; each one costs the same two calls.
    assert (event["status"], event["echo"], event["polls"] >= 1) == ("quiet", {"soaked_until": "then"}, True)
    assert {(a["state"]) for a in event["alarms"]} == {"OK"} and len(event["alarms"]) == 150
    assert watch_fleet.api_calls() == {"monitoring:DescribeAlarms": 2 * event["polls"]}


def test_an_alarm_firing_mid_soak_ends_the_watch_at_once_naming_it(cloudwatch):
    create(cloudwatch, "storefront-dev-5xx", "storefront-dev-latency")

    async def fire_after_a_few_polls(trigger):
        watching = asyncio.ensure_future(first_event(trigger))
        await asyncio.sleep(1)
        assert not watching.done()
        await asyncio.to_thread(cloudwatch.set_alarm_state, AlarmName="storefront-dev-5xx", StateValue="ALARM", StateReason=CROSSED)
        return await watching

    event = asyncio.run(fire_after_a_few_polls(watch(["storefront-dev-5xx", "storefront-dev-latency"], seconds=600)))

    assert (event["status"], event["polls"] > 1) == ("alarm", True)
    assert [(a["name"], a["state"], a["reason"]) for a in event["alarms"]] == [
        ("storefront-dev-5xx", "ALARM", CROSSED), ("storefront-dev-latency", "OK", "set for the test"),
    ]


@pytest.mark.parametrize(("allowed", "status"), [pytest.param(False, "alarm", id="blocks-by-default"), pytest.param(True, "quiet", id="allowed")])
def test_insufficient_data(cloudwatch, allowed, status):
    create(cloudwatch, "storefront-new", state="INSUFFICIENT_DATA")
    assert collect(watch(["storefront-new"], seconds=0.5, allowed=allowed))["status"] == status


def test_five_failed_polls_in_a_row_end_the_watch_in_error(cloudwatch, monkeypatch):
    create(cloudwatch, "storefront-dev-5xx")
    monkeypatch.setattr(triggers, "alarm_states", lambda client, names: (_ for _ in ()).throw(ConnectionError("CloudWatch is not answering")))

    event = collect(watch(["storefront-dev-5xx"], seconds=600))

    assert event == {
        "status": "error", "polls": 5, "alarm_names": ["storefront-dev-5xx"], "echo": {"soaked_until": "then"},
        "message": "CloudWatch stopped answering while watching storefront-dev-5xx: CloudWatch is not answering",
    }


def test_failures_short_of_the_limit_do_not_end_the_watch(cloudwatch, monkeypatch):
    create(cloudwatch, "storefront-dev-5xx")
    real = triggers.alarm_states
    calls = []

    def flaky(client, names):
        calls.append(1)
        if len(calls) in (1, 2, 3, 4, 6, 7):
            raise ConnectionError("CloudWatch is not answering")
        return real(client, names)

    monkeypatch.setattr(triggers, "alarm_states", flaky)

    event = collect(watch(["storefront-dev-5xx"], seconds=8))  # long enough for eight polls on a loaded machine

    assert event["status"] == "quiet" and len(calls) > 7
