"""Which alarms a stage's selectors name, and their states: against fleetsim's CloudWatch, and call shapes against a fake."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from fleetsim.testing import fleetsim_fixture
from patchflow.aws.alarms import alarm_states, resolve_selectors
from patchflow.core.health import AlarmSelector, AlarmState, SelectorKind, alarm_reasons

alarm_fleet = fleetsim_fixture({"groups": [{"name": "one", "count": 1, "platform": "AMAZON_LINUX_2023", "tags": {"Patch Group": "one"}}]})

ALARMS = {
    "storefront-dev-5xx": {"Application": "storefront", "Environment": "dev"},
    "storefront-prod-5xx": {"Application": "storefront", "Environment": "prod"},
    "storefront-prod-latency": {"Application": "storefront", "Environment": "prod"},
    "billing-prod-5xx": {"Application": "billing", "Environment": "prod"},
}


@pytest.fixture(scope="module")
def cloudwatch(alarm_fleet):
    client = alarm_fleet.client("cloudwatch")
    for name, tags in ALARMS.items():
        client.put_metric_alarm(
            AlarmName=name, Namespace="Storefront", MetricName="5xx", Statistic="Sum", Period=60, EvaluationPeriods=1, Threshold=1,
            ComparisonOperator="GreaterThanThreshold", Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
        )
    client.set_alarm_state(AlarmName="storefront-prod-5xx", StateValue="ALARM", StateReason="Threshold Crossed: 1 datapoint [5.0] was greater than the threshold (1.0).")
    return client


def tags(**pairs) -> AlarmSelector:
    return AlarmSelector(SelectorKind.TAGS, tags=tuple(sorted(pairs.items())))


@pytest.mark.parametrize(
    ("selectors", "expected"),
    [
        pytest.param([AlarmSelector(SelectorKind.NAME, "storefront-dev-5xx")], [("storefront-dev-5xx",)], id="name"),
        pytest.param([AlarmSelector(SelectorKind.NAME, "storefront-dev")], [()], id="a-name-is-exact"),
        pytest.param([AlarmSelector(SelectorKind.PREFIX, "storefront-prod-")], [("storefront-prod-5xx", "storefront-prod-latency")], id="prefix"),
        pytest.param([tags(Environment="prod")], [("billing-prod-5xx", "storefront-prod-5xx", "storefront-prod-latency")], id="one-tag"),
        pytest.param([tags(Application="storefront", Environment="prod")], [("storefront-prod-5xx", "storefront-prod-latency")], id="every-tag"),
        pytest.param([tags(Environment="staging")], [()], id="tags-matching-none"),
        pytest.param(
            [AlarmSelector(SelectorKind.PREFIX, "nothing-"), AlarmSelector(SelectorKind.NAME, "billing-prod-5xx"), tags(Application="billing")],
            [(), ("billing-prod-5xx",), ("billing-prod-5xx",)], id="each-selector-on-its-own",
        ),
    ],
)
def test_resolve_selectors(cloudwatch, selectors, expected):
    assert resolve_selectors(cloudwatch, selectors) == expected


def test_tags_are_read_once_however_many_tags_selectors(cloudwatch, alarm_fleet):
    alarm_fleet.reset_stats()
    resolve_selectors(cloudwatch, [tags(Environment="prod"), tags(Application="storefront")])
    assert alarm_fleet.api_calls() == {"monitoring:DescribeAlarms": 1, "monitoring:ListTagsForResource": len(ALARMS)}


def test_alarm_states_read_each_named_alarm(cloudwatch):
    states = alarm_states(cloudwatch, ["storefront-prod-5xx", "storefront-dev-5xx", "no-such-alarm"])
    assert [(s.name, s.state, s.reason) for s in states] == [
        ("no-such-alarm", "DELETED", ""),
        ("storefront-dev-5xx", "OK", "Unchecked: Initial alarm creation"),
        ("storefront-prod-5xx", "ALARM", "Threshold Crossed: 1 datapoint [5.0] was greater than the threshold (1.0)."),
    ]
    assert all(datetime.fromisoformat(s.updated_at).tzinfo == timezone.utc for s in states if s.state != "DELETED")


def test_an_alarm_deleted_while_watched_blocks_instead_of_going_quiet(cloudwatch):
    cloudwatch.delete_alarms(AlarmNames=["storefront-dev-5xx"])
    assert alarm_reasons(alarm_states(cloudwatch, ["storefront-dev-5xx"]), True) == [
        "alarm storefront-dev-5xx no longer exists: it was deleted while the stage watched it, so nothing watches the service it stood for"
    ]


class FakeCloudWatch:
    """DescribeAlarms answering `pages` in turn for each call; records each call's arguments."""

    def __init__(self, pages=None):
        self.pages = list(pages or [])
        self.calls: list[dict] = []

    def describe_alarms(self, **kwargs):
        self.calls.append(kwargs)
        if self.pages:
            return self.pages.pop(0)
        names = kwargs.get("AlarmNames", [])
        return {"MetricAlarms": [{"AlarmName": name, "StateValue": "OK"} for name in names]}


def test_states_of_many_alarms_take_one_call_per_100_names_of_both_alarm_types():
    fake = FakeCloudWatch()
    names = [f"alarm-{n:03d}" for n in range(250)]
    states = alarm_states(fake, names)
    assert [len(call["AlarmNames"]) for call in fake.calls] == [100, 100, 50]
    assert {(tuple(call["AlarmTypes"]), call["MaxRecords"]) for call in fake.calls} == {(("MetricAlarm", "CompositeAlarm"), 100)}
    assert [s.name for s in states] == names


def test_composite_alarms_and_every_page_are_read():
    fake = FakeCloudWatch(pages=[
        {"MetricAlarms": [{"AlarmName": "a", "StateValue": "OK"}], "NextToken": "t1"},
        {"CompositeAlarms": [{"AlarmName": "c", "StateValue": "ALARM", "StateReason": "ALARM(a)"}]},
    ])
    states = alarm_states(fake, ["a", "c"])
    assert states == [AlarmState("a", "OK"), AlarmState("c", "ALARM", "ALARM(a)")]
    assert [call.get("NextToken") for call in fake.calls] == [None, "t1"]
