"""Waiting on SSM commands, and watching CloudWatch alarms through a soak, without holding a worker slot.

Each poll costs the same whatever the fleet size: it reads command counters
(ListCommands), never the invocations, or the watched alarms' states
(DescribeAlarms, one call per 100 alarms). Reading every invocation happens once,
after the commands finish, back on a worker.
"""
from __future__ import annotations

import asyncio
import time
import weakref
from datetime import datetime, timezone
from typing import Any, AsyncIterator

from airflow.triggers.base import BaseTrigger, TriggerEvent

from patchflow.aws.alarms import alarm_states
from patchflow.aws.commands import PATCH_DOCUMENT, command_progress
from patchflow.core.api_pools import TRIGGERER_SSM_CALLS_AT_ONCE
from patchflow.core.health import alarm_reasons

# Per event loop: a triggerer runs one loop for its life; each test's asyncio.run gets its own.
_ssm_poll_slots: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore]" = weakref.WeakKeyDictionary()


def ssm_poll_slot() -> asyncio.Semaphore:
    """The triggerer's budget of SSM calls at once (patchflow.core.api_pools), shared by every wait it runs."""
    loop = asyncio.get_running_loop()
    if loop not in _ssm_poll_slots:
        _ssm_poll_slots[loop] = asyncio.Semaphore(TRIGGERER_SSM_CALLS_AT_ONCE)
    return _ssm_poll_slots[loop]


def aws_client_for(service: str, aws_conn_id: str | None, region_name: str | None, config=None, access: dict | None = None):
    """A boto3 client through the Airflow connection, or the default credential chain without one.

    With `access` (patchflow.aws.scope_access.Access as JSON) the client works in that scope: its
    Region, and its account through the account's own connection or the role assumed from the
    rollout's credentials.
    """
    from patchflow.aws.client import RETRY_CONFIG, aws_client, shared_session
    from patchflow.aws.scope_access import Access, assumed_session

    config = config or RETRY_CONFIG
    scoped = Access.from_json(access)
    if scoped is not None:
        region_name = scoped.region or region_name
        if scoped.connection_id:
            aws_conn_id = scoped.connection_id
        elif scoped.role_arn:
            if aws_conn_id:
                from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

                base = AwsBaseHook(aws_conn_id=aws_conn_id, client_type="sts", region_name=region_name).get_session(region_name=region_name)
            else:
                base = shared_session()
            return aws_client(service, region_name=region_name, session=assumed_session(base, scoped), config=config)
    if aws_conn_id:
        from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

        return AwsBaseHook(aws_conn_id=aws_conn_id, client_type=service, region_name=region_name, config=config).conn
    return aws_client(service, region_name=region_name, config=config)


def ssm_client_for(aws_conn_id: str | None, region_name: str | None, access: dict | None = None):
    return aws_client_for("ssm", aws_conn_id, region_name, access=access)


def ssm_send_client_for(aws_conn_id: str | None, region_name: str | None, access: dict | None = None):
    """The client SendCommand goes through: it never retries by itself (see patchflow.aws.client.SEND_CONFIG)."""
    from patchflow.aws.client import SEND_CONFIG

    return aws_client_for("ssm", aws_conn_id, region_name, config=SEND_CONFIG, access=access)


class CommandCompletionTrigger(BaseTrigger):
    """Fires once every command is terminal, the deadline passes, or SSM stops answering."""

    def __init__(
        self,
        command_ids: list[str],
        invoked_after: str,
        deadline: str | None = None,
        poll_interval: float = 5.0,
        aws_conn_id: str | None = None,
        region_name: str | None = None,
        max_consecutive_errors: int = 5,
        echo: dict[str, Any] | None = None,
        document_names: list[str] | None = None,
        access: dict | None = None,
    ):
        super().__init__()
        self.command_ids = list(command_ids)
        # What the commands run: polling several commands filters ListCommands by document.
        self.document_names = list(document_names or [PATCH_DOCUMENT])
        self.invoked_after = invoked_after
        self.deadline = deadline
        self.poll_interval = poll_interval
        self.aws_conn_id = aws_conn_id
        self.region_name = region_name
        self.max_consecutive_errors = max_consecutive_errors
        self.access = access  # the scope's account and Region (patchflow.aws.scope_access.Access); None: the connection's own
        # Handed back in every event: the deferring task's own defer kwargs do not
        # survive every resume path (`airflow dags test` replaces them with the event).
        self.echo = dict(echo or {})

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "command_ids": self.command_ids,
                "invoked_after": self.invoked_after,
                "deadline": self.deadline,
                "poll_interval": self.poll_interval,
                "aws_conn_id": self.aws_conn_id,
                "region_name": self.region_name,
                "max_consecutive_errors": self.max_consecutive_errors,
                "echo": self.echo,
                "document_names": self.document_names,
                "access": self.access,
            },
        )

    def _event(self, payload: dict[str, Any]) -> TriggerEvent:
        return TriggerEvent({**payload, "command_ids": self.command_ids, "echo": self.echo})

    async def run(self) -> AsyncIterator[TriggerEvent]:
        client = await asyncio.to_thread(ssm_client_for, self.aws_conn_id, self.region_name, self.access)
        invoked_after = datetime.fromisoformat(self.invoked_after)
        deadline = datetime.fromisoformat(self.deadline) if self.deadline else None
        errors = 0
        polls = 0
        started = time.monotonic()
        while True:
            polls += 1
            try:
                async with ssm_poll_slot():
                    progress = await asyncio.to_thread(command_progress, client, self.command_ids, invoked_after, self.document_names)
                errors = 0
            except Exception as exc:  # the event carries the reason; the worker decides
                errors += 1
                self.log.warning("poll %d failed (%d in a row): %s", polls, errors, exc)
                if errors >= self.max_consecutive_errors:
                    yield self._event(
                        {"status": "error", "polls": polls, "message": f"SSM stopped answering while waiting on {', '.join(self.command_ids)}: {exc}"}
                    )
                    return
                await asyncio.sleep(self.poll_interval)
                continue
            # A command missing from ListCommands right after SendCommand is eventual
            # consistency, not success: only a command SSM reports terminal counts.
            finished = [c for c in self.command_ids if c in progress and progress[c].finished]
            self.log.info(
                "poll %d: %d/%d commands finished; %s",
                polls,
                len(finished),
                len(self.command_ids),
                "; ".join(f"{p.command_id} {p.status_details} {p.completed_count}/{p.target_count}" for p in progress.values()),
            )
            if len(finished) == len(self.command_ids):
                yield self._event(
                    {
                        "status": "finished",
                        "polls": polls,
                        "waited_seconds": round(time.monotonic() - started, 3),
                        "progress": {c: progress[c].to_json() for c in self.command_ids},
                    }
                )
                return
            if deadline and datetime.now(timezone.utc) >= deadline:
                yield self._event(
                    {
                        "status": "deadline",
                        "polls": polls,
                        "unfinished": [c for c in self.command_ids if c not in finished],
                        "progress": {c: p.to_json() for c, p in progress.items()},
                    }
                )
                return
            await asyncio.sleep(self.poll_interval)

    async def on_kill(self) -> None:
        from patchflow.aws.commands import cancel_commands

        client = await asyncio.to_thread(ssm_client_for, self.aws_conn_id, self.region_name, self.access)
        async with ssm_poll_slot():
            await asyncio.to_thread(cancel_commands, client, self.command_ids)


class AlarmWatchTrigger(BaseTrigger):
    """Watches a stage's alarms until its soak ends: fires `quiet` then, or `alarm` the first poll one fires.

    An alarm fires when it is in ALARM, or in INSUFFICIENT_DATA unless the plan allows that. Polls
    that fail `max_consecutive_errors` times in a row end the watch with `error`: a soak nobody
    can see is not a quiet one.
    """

    def __init__(
        self,
        alarm_names: list[str],
        until: str,
        poll_interval: float = 15.0,
        insufficient_data_allowed: bool = False,
        aws_conn_id: str | None = None,
        region_name: str | None = None,
        max_consecutive_errors: int = 5,
        echo: dict[str, Any] | None = None,
        access: dict | None = None,
    ):
        super().__init__()
        self.alarm_names = list(alarm_names)
        self.until = until
        self.poll_interval = poll_interval
        self.insufficient_data_allowed = insufficient_data_allowed
        self.aws_conn_id = aws_conn_id
        self.region_name = region_name
        self.max_consecutive_errors = max_consecutive_errors
        self.echo = dict(echo or {})  # handed back in every event, as CommandCompletionTrigger does
        self.access = access

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "alarm_names": self.alarm_names,
                "until": self.until,
                "poll_interval": self.poll_interval,
                "insufficient_data_allowed": self.insufficient_data_allowed,
                "aws_conn_id": self.aws_conn_id,
                "region_name": self.region_name,
                "max_consecutive_errors": self.max_consecutive_errors,
                "echo": self.echo,
                "access": self.access,
            },
        )

    def _event(self, payload: dict[str, Any]) -> TriggerEvent:
        return TriggerEvent({**payload, "alarm_names": self.alarm_names, "echo": self.echo})

    async def run(self) -> AsyncIterator[TriggerEvent]:
        client = await asyncio.to_thread(aws_client_for, "cloudwatch", self.aws_conn_id, self.region_name, None, self.access)
        until = datetime.fromisoformat(self.until)
        errors = 0
        polls = 0
        while True:
            polls += 1
            try:
                states = await asyncio.to_thread(alarm_states, client, self.alarm_names)
                errors = 0
            except Exception as exc:  # the event carries the reason; the worker decides
                errors += 1
                self.log.warning("alarm poll %d failed (%d in a row): %s", polls, errors, exc)
                if errors >= self.max_consecutive_errors:
                    yield self._event(
                        {"status": "error", "polls": polls, "message": f"CloudWatch stopped answering while watching {', '.join(self.alarm_names)}: {exc}"}
                    )
                    return
                await asyncio.sleep(self.poll_interval)
                continue
            alarms = [state.to_json() for state in states]
            if alarm_reasons(states, self.insufficient_data_allowed):
                yield self._event({"status": "alarm", "polls": polls, "alarms": alarms})
                return
            left = (until - datetime.now(timezone.utc)).total_seconds()
            if left <= 0:
                yield self._event({"status": "quiet", "polls": polls, "alarms": alarms})
                return
            self.log.info("alarm poll %d: %s; %.0f s of soak left", polls, ", ".join(f"{s.name} {s.state}" for s in states), left)
            await asyncio.sleep(min(self.poll_interval, left))
