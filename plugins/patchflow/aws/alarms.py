"""CloudWatch alarms for a stage's health gate: which alarms its selectors name, and what state they are in.

Every function takes a boto3 CloudWatch client (patchflow.rollout.triggers.aws_client_for("cloudwatch", ...)),
so the same code runs against fleetsim, moto or AWS. Which alarms a tags selector matches and
what a state means are decided in patchflow.core.health.
"""
from __future__ import annotations

from typing import Iterator, Sequence

from patchflow.core.health import DELETED, AlarmSelector, AlarmState, SelectorKind, alarms_matching

# DescribeAlarms takes at most 100 AlarmNames and returns at most 100 records a page (MaxRecords 1-100).
MAX_ALARM_NAMES_PER_CALL = 100
# Without AlarmTypes, DescribeAlarms answers metric alarms only; a selector may name composite alarms too.
ALARM_TYPES = ["MetricAlarm", "CompositeAlarm"]


def resolve_selectors(cloudwatch, selectors: Sequence[AlarmSelector]) -> list[tuple[str, ...]]:
    """The alarm names each selector matches, in the selectors' order (an empty tuple: it matches none).

    Names and prefixes are looked up by CloudWatch itself; tags are not a DescribeAlarms filter,
    so a tags selector reads every alarm of the account and Region and each one's tags (once,
    however many tags selectors there are).
    """
    tagged: list[tuple[str, dict[str, str]]] | None = None
    resolved = []
    for selector in selectors:
        if selector.kind is SelectorKind.NAME:
            names = [item["AlarmName"] for item in _describe(cloudwatch, AlarmNames=[selector.name])]
        elif selector.kind is SelectorKind.PREFIX:
            names = [item["AlarmName"] for item in _describe(cloudwatch, AlarmNamePrefix=selector.name)]
        else:
            if tagged is None:
                tagged = alarms_with_tags(cloudwatch)
            names = list(alarms_matching(selector, tagged))
        resolved.append(tuple(sorted(set(names))))
    return resolved


def alarms_with_tags(cloudwatch) -> list[tuple[str, dict[str, str]]]:
    """(name, tags) of every alarm of the account and Region: DescribeAlarms, then ListTagsForResource per alarm."""
    found = []
    for item in _describe(cloudwatch):
        tags = cloudwatch.list_tags_for_resource(ResourceARN=item["AlarmArn"]).get("Tags", [])
        found.append((item["AlarmName"], {tag["Key"]: tag["Value"] for tag in tags}))
    return found


def alarm_states(cloudwatch, names: Sequence[str]) -> list[AlarmState]:
    """The state of every named alarm, by name: one DescribeAlarms call per 100 names.

    An alarm deleted since its selector matched it is missing from the answer; it is returned
    in the state DELETED, which blocks: a gate must not go quiet because what it watched is gone.
    """
    wanted = sorted(set(names))
    states = []
    for start in range(0, len(wanted), MAX_ALARM_NAMES_PER_CALL):
        chunk = wanted[start : start + MAX_ALARM_NAMES_PER_CALL]
        states.extend(AlarmState.from_api(item) for item in _describe(cloudwatch, AlarmNames=chunk))
    answered = {state.name for state in states}
    states.extend(AlarmState(name, DELETED) for name in wanted if name not in answered)
    return sorted(states, key=lambda state: state.name)


def _describe(cloudwatch, **filters) -> Iterator[dict]:
    """Metric and composite alarms of every page of one DescribeAlarms query."""
    kwargs = {**filters, "AlarmTypes": ALARM_TYPES, "MaxRecords": MAX_ALARM_NAMES_PER_CALL}
    while True:
        page = cloudwatch.describe_alarms(**kwargs)
        yield from page.get("MetricAlarms", [])
        yield from page.get("CompositeAlarms", [])
        token = page.get("NextToken")
        if not token:
            return
        kwargs["NextToken"] = token
