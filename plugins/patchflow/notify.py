"""Telling people: SNS (fleetsim's SNS locally) and, when configured, Slack.

A notification that cannot be delivered is logged, never allowed to change
the rollout's outcome: a block must stay a block even if SNS is down.
"""
from __future__ import annotations

import logging

log = logging.getLogger(__name__)

EVENTS = ("block", "approval", "complete")


def wanted(plan, event: str, stage=None) -> bool:
    if stage is not None and getattr(stage, "notify", None) is not None:
        return event in stage.notify
    return True


def send(plan, event: str, subject: str, message: str, *, run_id: str = "", stage=None) -> list[str]:
    """Publish to every configured target; returns where it was delivered."""
    if not wanted(plan, event, stage):
        return []
    notifications = plan.notifications
    delivered = []
    topic = getattr(notifications, "sns_topic_arn", None) if notifications else None
    if topic:
        try:
            from patchflow.ssm.client import aws_client

            aws_client("sns").publish(
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
