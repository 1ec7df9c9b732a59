"""Notifications go through the rollout's Airflow AWS connection, to the SNS topic's own region."""
from __future__ import annotations

import json

import pytest
import yaml

from fleetsim.testing import fleetsim_fixture
from patchflow.rollout import notify
from patchflow.core.plan import parse_plan
from patchflow.core.yamlfile import PROJECT_ROOT

CONNECTION_ID = "rollout_aws"


@pytest.mark.parametrize(
    ("arn", "expected"),
    [
        pytest.param("arn:aws:sns:eu-west-1:123456789012:patch-rollouts", "eu-west-1", id="aws"),
        pytest.param("arn:aws-cn:sns:cn-north-1:123456789012:t", "cn-north-1", id="china-partition"),
        pytest.param("arn:aws-us-gov:sns:us-gov-west-1:123456789012:t", "us-gov-west-1", id="govcloud-partition"),
    ],
)
def test_topic_region_is_read_from_the_arn(arn, expected):
    assert notify.topic_region(arn) == expected


def test_a_topic_arn_without_a_region_is_refused_with_what_was_expected():
    with pytest.raises(ValueError) as raised:
        notify.topic_region("arn:aws:sns::123456789012:patch-rollouts")
    assert str(raised.value) == (
        "notifications.sns_topic_arn: expected an SNS topic ARN arn:aws:sns:REGION:ACCOUNT:NAME, got 'arn:aws:sns::123456789012:patch-rollouts'"
    )


sns_fleet = fleetsim_fixture({"groups": [{"count": 1, "platform": "UBUNTU"}]})


@pytest.fixture
def only_the_connection_reaches_fleetsim(sns_fleet, monkeypatch):
    """An Airflow connection aimed at fleetsim with us-east-1 as its region; nothing else in the environment points at it."""
    for name in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONNECTION_ID.upper()}", json.dumps({
        "conn_type": "aws", "login": "fleetsim", "password": "fleetsim",
        "extra": {"region_name": "us-east-1", "endpoint_url": sns_fleet.endpoint},
    }))
    return sns_fleet


def test_a_notification_reaches_a_topic_in_another_region_through_the_connection(only_the_connection_reaches_fleetsim):
    sim = only_the_connection_reaches_fleetsim
    sns, sqs = sim.client("sns", region_name="eu-west-1"), sim.client("sqs", region_name="eu-west-1")
    topic = sns.create_topic(Name="patch-rollouts")["TopicArn"]
    queue = sqs.create_queue(QueueName="rollout-inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    data = yaml.safe_load((PROJECT_ROOT / "include/rollouts/demo.yaml").read_text())
    data["notifications"] = {"sns_topic_arn": topic, "slack_connection_id": None}
    plan = parse_plan(data, "include/rollouts/demo.yaml")
    assert topic.split(":")[3] == "eu-west-1"

    delivered = notify.send(plan, "block", "Rollout demo blocked at dev", "gate: 1 of 3 failed", run_id="r1", aws_conn_id=CONNECTION_ID)

    assert delivered == [topic]
    (received,) = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1)["Messages"]
    body = json.loads(received["Body"])
    assert (body["Subject"], body["Message"], body["MessageAttributes"]["event"]["Value"]) == (
        "Rollout demo blocked at dev", "gate: 1 of 3 failed", "block")


def test_the_approval_notifier_speaks_through_the_dag_connection(monkeypatch):
    from patchflow.core.plan import load_plan
    from patchflow.rollout.factory import build_dag
    from patchflow.rollout.notifiers import ApprovalRequestNotifier

    monkeypatch.setenv("PATCHFLOW_AWS_CONN_ID", CONNECTION_ID)
    dag = build_dag(load_plan(PROJECT_ROOT / "include/rollouts/weekly.yaml"))
    notifiers = [n for task in dag.tasks for n in (getattr(task, "notifiers", None) or []) if isinstance(n, ApprovalRequestNotifier)]
    assert [(n.stage.name, n.aws_conn_id) for n in notifiers] == [("prod", CONNECTION_ID)]


def test_a_block_is_notified_through_the_rollout_connection(monkeypatch):
    from types import SimpleNamespace

    from airflow.sdk.exceptions import AirflowFailException

    from patchflow.core.scopes import DEFAULT_SCOPE
    from patchflow.rollout import base

    sent = []
    monkeypatch.setattr(base.notify, "send", lambda *args, **kwargs: sent.append((args[1], kwargs["aws_conn_id"])))
    rollout = SimpleNamespace(ledger=SimpleNamespace(append=lambda *a, **k: None), plan=SimpleNamespace(name="demo"), run_id="r1", aws_conn_id=CONNECTION_ID,
                              scope=DEFAULT_SCOPE)
    with pytest.raises(AirflowFailException):
        base.block(rollout, SimpleNamespace(name="dev"), "gate: 1 of 3 failed")
    assert sent == [("block", CONNECTION_ID)]
