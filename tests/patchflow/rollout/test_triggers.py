"""The completion trigger against fleetsim: cost per poll, eventual consistency, cancelling on kill."""
from __future__ import annotations

import asyncio
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest

from fleetsim.testing import fleetsim_fixture
from patchflow.rollout import triggers
from patchflow.rollout.triggers import CommandCompletionTrigger

GROUP = {"platform": "AMAZON_LINUX_2023", "execution_seconds": [120, 600]}
wait_fleet = fleetsim_fixture(
    {"groups": [
        {**GROUP, "name": "small", "count": 10, "tags": {"Patch Group": "small"}},
        {**GROUP, "name": "large", "count": 500, "tags": {"Patch Group": "large"}},
        {**GROUP, "name": "slow", "count": 3, "tags": {"Patch Group": "slow"}, "execution_seconds": [900000, 900000]},
    ]},
    time_scale=300,
)


@pytest.fixture
def ssm(wait_fleet, monkeypatch):
    for name, value in wait_fleet.env().items():
        monkeypatch.setenv(name, value)
    return wait_fleet.client("ssm")


def send_to_group(ssm, group: str) -> str:
    return ssm.send_command(
        DocumentName="AWS-RunPatchBaseline",
        Targets=[{"Key": "tag:Patch Group", "Values": [group]}],
        Parameters={"Operation": ["Scan"]},
        MaxConcurrency="100%",
        MaxErrors="100%",
    )["Command"]["CommandId"]


def collect(trigger: CommandCompletionTrigger) -> dict:
    async def first_event():
        async for event in trigger.run():
            return event.payload

    return asyncio.run(first_event())


def wait_for(command_id: str, *, deadline_seconds: float = 120) -> CommandCompletionTrigger:
    now = datetime.now(timezone.utc)
    return CommandCompletionTrigger(
        command_ids=[command_id],
        invoked_after=now.isoformat(),
        deadline=(now + timedelta(seconds=deadline_seconds)).isoformat(),
        poll_interval=0.2,
        aws_conn_id=None,
    )


def test_calls_per_poll_do_not_grow_with_the_fleet(ssm, wait_fleet):
    per_poll = {}
    for group in ("small", "large"):
        command_id = send_to_group(ssm, group)
        wait_fleet.reset_stats()
        event = collect(wait_for(command_id))
        calls = wait_fleet.stats()
        assert event["status"] == "finished"
        assert set(calls) == {"ListCommands"}, f"the wait read more than counters: {calls}"
        per_poll[group] = calls["ListCommands"] / event["polls"]
    assert per_poll == {"small": 1.0, "large": 1.0}


class EventuallyConsistentSsm:
    """ListCommands that does not know a new command for its first polls, as SSM may right after SendCommand."""

    def __init__(self, real, unknown_polls: int):
        self.real = real
        self.unknown_polls = unknown_polls
        self.polls = 0

    def list_commands(self, **kwargs):
        self.polls += 1
        if self.polls <= self.unknown_polls:
            return {"Commands": []}
        return self.real.list_commands(**kwargs)


def test_a_command_ssm_does_not_list_yet_is_never_read_as_finished(ssm, monkeypatch):
    command_id = send_to_group(ssm, "small")
    lagging = EventuallyConsistentSsm(ssm, unknown_polls=5)
    monkeypatch.setattr(triggers, "ssm_client_for", lambda *args: lagging)

    event = collect(wait_for(command_id))

    assert (event["status"], event["polls"] > 5) == ("finished", True)
    assert event["progress"][command_id]["status"] == "Success"


def test_one_triggerer_never_has_more_ssm_polls_in_flight_than_its_budget_whatever_the_waits(monkeypatch):
    from patchflow.aws.commands import CommandProgress
    from patchflow.core.api_pools import TRIGGERER_SSM_CALLS_AT_ONCE

    in_flight, most, counting = 0, 0, threading.Lock()

    def slow_progress(client, command_ids, invoked_after, document_names):
        nonlocal in_flight, most
        with counting:
            in_flight += 1
            most = max(most, in_flight)
        time.sleep(0.2)
        with counting:
            in_flight -= 1
        return {c: CommandProgress(c, "Success", "Success", 1, 1, 0, 0) for c in command_ids}

    monkeypatch.setattr(triggers, "ssm_client_for", lambda *args: object())
    monkeypatch.setattr(triggers, "command_progress", slow_progress)

    async def six_waits():
        async def first_event(trigger):
            async for event in trigger.run():
                return event.payload["status"]

        return await asyncio.gather(*(first_event(wait_for(f"command-{n}")) for n in range(6)))

    assert (asyncio.run(six_waits()), most) == (["finished"] * 6, TRIGGERER_SSM_CALLS_AT_ONCE)


def test_an_unlisted_command_runs_into_the_deadline_not_into_success(ssm, monkeypatch):
    lagging = EventuallyConsistentSsm(ssm, unknown_polls=10**6)
    monkeypatch.setattr(triggers, "ssm_client_for", lambda *args: lagging)

    event = collect(wait_for("00000000-0000-0000-0000-000000000000", deadline_seconds=1))

    assert (event["status"], event["unfinished"]) == ("deadline", ["00000000-0000-0000-0000-000000000000"])


def test_killing_the_wait_cancels_the_command(ssm):
    command_id = send_to_group(ssm, "slow")

    asyncio.run(wait_for(command_id).on_kill())

    command = ssm.list_commands(CommandId=command_id)["Commands"][0]
    assert command["Status"] in ("Cancelling", "Cancelled")


def wave_operator():
    from patchflow.core.plan import load_plan
    from patchflow.rollout.wave import PatchWaveOperator
    from patchflow.core.yamlfile import PROJECT_ROOT

    plan = load_plan(PROJECT_ROOT / "include/rollouts/demo.yaml")
    return PatchWaveOperator(task_id="wave_1", wave_index=1, plan=plan, stage=plan.stages[0], aws_conn_id=None)


def test_killing_a_wave_task_on_its_worker_cancels_what_it_sent(ssm):
    command_id = send_to_group(ssm, "slow")
    operator = wave_operator()
    operator._in_flight = [command_id]

    operator.on_kill()

    assert ssm.list_commands(CommandId=command_id)["Commands"][0]["Status"] in ("Cancelling", "Cancelled")


def test_airflow_ending_a_deferred_wave_on_its_timeout_cancels_the_commands_and_records_them_once_settled(ssm, wait_fleet):
    command_id = send_to_group(ssm, "slow")
    filters = [{"Key": "tag:Patch Group", "Values": ["slow"]}]
    slow = sorted(i["InstanceId"] for i in ssm.describe_instance_information(Filters=filters)["InstanceInformationList"])
    operator = wave_operator()
    wait_fleet.client("s3").create_bucket(Bucket="patchflow-ledger")

    class TaskInstance:
        def xcom_pull(self, task_ids, key=None):
            if (task_ids, key) == ("wave_1", "command_ids"):
                return [command_id]
            return None

    class DagRun:
        dag_id, run_id, start_date = "rollout_demo", "manual__timeout", datetime.now(timezone.utc)

    from airflow.sdk.exceptions import TaskDeferralTimeout

    with pytest.raises(TaskDeferralTimeout):
        operator.resume_execution("__fail__", {"error": "Trigger timeout"}, {"ti": TaskInstance(), "dag_run": DagRun(), "params": {}})

    # Cancel is asynchronous: the wave records what happened only once SSM says the command settled.
    assert ssm.list_commands(CommandId=command_id)["Commands"][0]["Status"] == "Cancelled"
    from patchflow.aws.ledger import RunLedger, open_store

    (record,) = [r for r in RunLedger(open_store("s3://patchflow-ledger/runs"), "rollout_demo", "manual__timeout").records() if r["kind"] == "wave_cancelled"]
    assert (record["settled"], record["reason"]) == ({command_id: "Cancelled"}, "Airflow ended the wait: Trigger timeout")
    assert len(slow) == 3
    assert [(i["instance_id"], i["outcome"], i["status_details"]) for i in record["instances"]] == [(i, "cancelled", "Cancelled") for i in slow]


@pytest.mark.parametrize(
    ("documents", "polled"),
    [
        pytest.param(None, ["AWS-RunPatchBaseline"], id="the-patch-document-by-default"),
        pytest.param(["AWS-RunPowerShellScript", "AWS-RunShellScript"], ["AWS-RunPowerShellScript", "AWS-RunShellScript"], id="a-health-checks-documents"),
    ],
)
def test_the_completion_trigger_round_trips_with_the_documents_it_polls(documents, polled):
    trigger = CommandCompletionTrigger(command_ids=["c-1", "c-2"], invoked_after="2026-12-02T10:00:00+00:00", document_names=documents)
    path, kwargs = trigger.serialize()
    again = CommandCompletionTrigger(**kwargs)
    assert (path, kwargs["document_names"], again.serialize()) == ("patchflow.rollout.triggers.CommandCompletionTrigger", polled, (path, kwargs))
