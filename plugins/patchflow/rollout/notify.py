"""Telling people: SNS (fleetsim's SNS locally) and, when configured, Slack.

A notification that cannot be delivered is logged, never allowed to change
the rollout's outcome: a block must stay a block even if SNS is down.
"""
from __future__ import annotations

import logging

log = logging.getLogger(__name__)


def wanted(plan, event: str, stage=None) -> bool:
    if stage is not None and getattr(stage, "notify", None) is not None:
        return event in stage.notify
    return True


def topic_region(topic_arn: str) -> str:
    """The region in an SNS topic ARN (arn:PARTITION:sns:REGION:ACCOUNT:NAME): SNS publishes to a topic only in its own region."""
    parts = topic_arn.split(":")
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "sns" or not parts[3]:
        raise ValueError(f"notifications.sns_topic_arn: expected an SNS topic ARN arn:aws:sns:REGION:ACCOUNT:NAME, got {topic_arn!r}")
    return parts[3]


def send(plan, event: str, subject: str, message: str, *, run_id: str = "", stage=None, aws_conn_id: str | None = None) -> list[str]:
    """Publish to every configured target; returns where it was delivered.

    SNS goes through the rollout's Airflow AWS connection (`aws_conn_id`; the default
    credential chain without one) in the topic's own region, whatever the connection's region.
    """
    if not wanted(plan, event, stage):
        return []
    notifications = plan.notifications
    delivered = []
    topic = getattr(notifications, "sns_topic_arn", None) if notifications else None
    if topic:
        try:
            from patchflow.rollout.triggers import aws_client_for

            aws_client_for("sns", aws_conn_id, topic_region(topic)).publish(
                TopicArn=topic,
                Subject=subject[:100],
                Message=message,
                MessageAttributes={
                    "event": {"DataType": "String", "StringValue": event},
                    "plan": {"DataType": "String", "StringValue": plan.name},
                    "run_id": {"DataType": "String", "StringValue": run_id or "-"},
                },
            )
            delivered.append(topic)
        except Exception as exc:  # delivery is best effort by design
            log.error("could not publish %s notification to %s: %s", event, topic, exc)
    slack = getattr(notifications, "slack_connection_id", None) if notifications else None
    if slack:
        try:
            from airflow.providers.slack.hooks.slack_webhook import SlackWebhookHook  # optional provider

            SlackWebhookHook(slack_webhook_conn_id=slack).send(text=f"*{subject}*\n{message}")
            delivered.append(f"slack:{slack}")
        except Exception as exc:
            log.error("could not send %s notification to Slack connection %s: %s", event, slack, exc)
    return delivered
