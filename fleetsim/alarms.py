"""The fleet spec's CloudWatch alarms, served by moto's CloudWatch on fleetsim's endpoint.

At launch each spec alarm is created in moto's CloudWatch backend for the fleet's account and
Region, with its tags, and put in the spec's start state: the spec models alarms that exist and
have been evaluated already. (moto starts a new alarm OK with "Unchecked: Initial alarm creation";
CloudWatch starts it INSUFFICIENT_DATA with that reason, so that is the state the alarm's history
shows it leaving.) Clients see them through DescribeAlarms, ListTagsForResource & co., boto3 and
the AWS CLI alike.

Every alarm watches the same kind of metric, an Application Load Balancer's target 5XX count:
AWS/ApplicationELB HTTPCode_Target_5XX_Count, Sum over 60 s, GreaterThanThreshold 5, 1 out of 1
datapoints. The metric is only published when there are errors, so an OK alarm treats missing data
as notBreaching; an alarm that starts INSUFFICIENT_DATA treats it as missing. fleetsim publishes
no datapoints: an alarm's state comes from the spec and from its `fires` rule.

`fires` counts the instances of its patch group (as the spec's tags put them at launch) on which a
command installed its patch. When the count reaches share_count(share, group size), at least one,
at simulated second t, the alarm goes into ALARM at t + after_seconds: StateReason and
StateReasonData as CloudWatch words a threshold crossing (CloudWatch User Guide, "Alarm events and
EventBridge"; aws/aws-lambda-go events/testdata/cloudwatch-alarm-sns-payload-single-metric.json),
StateUpdatedTimestamp the wall-clock instant of that simulated second. It fires once and stays in
ALARM: with no metric there is nothing for it to recover on.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Callable, Iterable

from fleetsim.fleet import SimInstance, share_count, stable_random
from fleetsim.spec import AlarmSpec, patch_group_of

NAMESPACE = "AWS/ApplicationELB"
METRIC_NAME = "HTTPCode_Target_5XX_Count"
STATISTIC = "Sum"
PERIOD_SECONDS = 60
THRESHOLD = 5.0
COMPARISON_OPERATOR = "GreaterThanThreshold"
ALARM, OK, INSUFFICIENT_DATA = "ALARM", "OK", "INSUFFICIENT_DATA"


# ---- wording: pure -------------------------------------------------------------------------


def installs_needed(share: float | None, group_size: int) -> int:
    """How many instances of the patch group must have the patch installed before the alarm fires."""
    if share is None:
        return 1
    return max(1, share_count(share, group_size))


def evaluated_datapoint(query: datetime) -> datetime:
    """The start of the period a query at `query` evaluates: the last whole minute before the current one."""
    return query.astimezone(timezone.utc).replace(second=0, microsecond=0) - timedelta(seconds=PERIOD_SECONDS)


def _reason_data_time(instant: datetime) -> str:
    """2024-04-09T08:56:06.384+0000, the form of StateReasonData's dates."""
    instant = instant.astimezone(timezone.utc)
    return instant.strftime("%Y-%m-%dT%H:%M:%S.") + f"{instant.microsecond // 1000:03d}+0000"


def breaching_value(seed: int, alarm_name: str) -> float:
    """The 5XX count of the datapoint that puts this alarm into ALARM: above the threshold, seeded per alarm."""
    return float(stable_random(seed, "alarm-datapoint", alarm_name).randint(int(THRESHOLD) + 1, 120))


def state_reason(state: str, query: datetime, value: float) -> tuple[str, str]:
    """(StateReason, StateReasonData) of an alarm CloudWatch evaluated into `state` at `query`."""
    point = evaluated_datapoint(query)
    data: dict = {"version": "1.0", "queryDate": _reason_data_time(query)}
    if state == ALARM:
        reason = (f"Threshold Crossed: 1 out of the last 1 datapoints [{value!r} ({point:%d/%m/%y %H:%M:%S})] was greater than "
                  f"the threshold ({THRESHOLD!r}) (minimum 1 datapoint for OK -> ALARM transition).")
        data.update(startDate=_reason_data_time(point), statistic=STATISTIC, period=PERIOD_SECONDS, recentDatapoints=[value],
                    threshold=THRESHOLD, evaluatedDatapoints=[{"timestamp": _reason_data_time(point), "sampleCount": value, "value": value}])
    elif state == OK:
        reason = "Threshold Crossed: no datapoints were received for 1 period and 1 missing datapoint was treated as [NonBreaching]."
        data.update(statistic=STATISTIC, period=PERIOD_SECONDS, recentDatapoints=[], threshold=THRESHOLD,
                    evaluatedDatapoints=[{"timestamp": _reason_data_time(point)}])
    else:
        reason = "Insufficient Data: 1 datapoint was unknown."
        data.update(statistic=STATISTIC, period=PERIOD_SECONDS, recentDatapoints=[], threshold=THRESHOLD,
                    evaluatedDatapoints=[{"timestamp": _reason_data_time(point)}])
    return reason, json.dumps(data, separators=(",", ":"))


# ---- moto's CloudWatch ----------------------------------------------------------------------


def _cloudwatch(account_id: str, region: str):
    from moto.cloudwatch.models import cloudwatch_backends

    return cloudwatch_backends[account_id][region]


def set_state(cloudwatch, name: str, state: str, reason: str, reason_data: str, instant: datetime) -> None:
    """SetAlarmState through moto's backend, stamped with `instant` (moto stamps the moment of the call)."""
    cloudwatch.set_alarm_state(name, reason, reason_data, state)
    # moto keeps naive UTC datetimes
    cloudwatch.alarms[name].state_updated_timestamp = instant.astimezone(timezone.utc).replace(tzinfo=None)


def create_alarms(alarms: Iterable[AlarmSpec], *, account_id: str, region: str, seed: int, evaluated: datetime) -> None:
    """Every spec alarm in moto's CloudWatch, in its start state as evaluated at `evaluated`."""
    cloudwatch = _cloudwatch(account_id, region)
    load_balancer = f"app/fleetsim/{stable_random(seed, 'load-balancer').getrandbits(64):016x}"
    for alarm in alarms:
        cloudwatch.put_metric_alarm(
            name=alarm.name,
            namespace=NAMESPACE,
            metric_name=METRIC_NAME,
            comparison_operator=COMPARISON_OPERATOR,
            evaluation_periods=1,
            datapoints_to_alarm=1,
            period=PERIOD_SECONDS,
            threshold=THRESHOLD,
            statistic=STATISTIC,
            description=f"Target 5XX responses of the load balancer in front of {alarm.name}",
            dimensions=[{"Name": "LoadBalancer", "Value": load_balancer}],
            alarm_actions=[],
            treat_missing_data="missing" if alarm.state == INSUFFICIENT_DATA else "notBreaching",
            tags=[{"Key": key, "Value": value} for key, value in alarm.tags.items()] or None,
        )
        cloudwatch.alarms[alarm.name].state_value = INSUFFICIENT_DATA
        set_state(cloudwatch, alarm.name, alarm.state, *state_reason(alarm.state, evaluated, breaching_value(seed, alarm.name)), evaluated)


# ---- firing ---------------------------------------------------------------------------------


@dataclass
class FiringRule:
    alarm: AlarmSpec
    members: frozenset[str]  # instance ids of the patch group
    needed: int
    installed: set[str] = field(default_factory=set)
    reached_at: float | None = None


class AlarmFiring:
    """The spec's `fires` rules over one launched fleet: counts installs, moves each alarm into ALARM once.

    `installed` is a RunCommand install listener; `schedule(at, handler, *args)` is RunCommand.schedule;
    `fire(name, at)` puts alarm `name` into ALARM as of simulated second `at`.
    """

    def __init__(self, alarms: Iterable[AlarmSpec], instances: Iterable[SimInstance], *, schedule, fire: Callable[[str, float], None],
                 log: Callable[[str], None] = lambda line: None):
        instances = list(instances)
        self.rules: list[FiringRule] = []
        for alarm in alarms:
            if alarm.fires is None:
                continue
            members = frozenset(i.instance_id for i in instances if patch_group_of(i.group.tags) == alarm.fires.patch_group)
            self.rules.append(FiringRule(alarm, members, installs_needed(alarm.fires.share, len(members))))
        self.schedule = schedule
        self.fire = fire
        self.log = log

    def installed(self, instance: SimInstance, patch_ids: frozenset[str], at: float) -> None:
        for rule in self.rules:
            fires = rule.alarm.fires
            if rule.reached_at is not None or fires.patch not in patch_ids or instance.instance_id not in rule.members:
                continue
            rule.installed.add(instance.instance_id)
            if len(rule.installed) >= rule.needed:
                rule.reached_at = at
                self.log(f"alarm {rule.alarm.name}: {fires.patch} installed on {len(rule.installed)} of {len(rule.members)} instances "
                         f"of patch group {fires.patch_group}; ALARM {fires.after_seconds:g} simulated seconds from now")
                self.schedule(at + fires.after_seconds, self._fire, rule)

    def _fire(self, at: float, rule: FiringRule) -> None:
        self.fire(rule.alarm.name, at)


def launch_alarms(alarms: tuple[AlarmSpec, ...], *, account_id: str, region: str, seed: int, clock, run_command,
                  instances: Iterable[SimInstance], log: Callable[[str], None]) -> AlarmFiring:
    """Create the spec's alarms for a fleet just launched and let its Installs fire them."""
    create_alarms(alarms, account_id=account_id, region=region, seed=seed, evaluated=clock.wall(0))

    def fire(name: str, at: float) -> None:
        cloudwatch = _cloudwatch(account_id, region)
        alarm = cloudwatch.alarms.get(name)
        if alarm is None:
            log(f"alarm {name}: deleted by a client, nothing to fire")
            return
        if alarm.state_value == ALARM:
            return  # CloudWatch records transitions only; an alarm already in ALARM stays as it is
        instant = clock.wall(at)
        set_state(cloudwatch, name, ALARM, *state_reason(ALARM, instant, breaching_value(seed, name)), instant)
        log(f"alarm {name}: ALARM")

    firing = AlarmFiring(alarms, instances, schedule=run_command.schedule, fire=fire, log=log)
    run_command.install_listeners.append(firing.installed)
    return firing
