"""A stage's approval through Airflow against fleetsim: what the approver is shown and sent, and a stage that is never offered."""
from __future__ import annotations

import json

import pytest

from fleetsim.testing import fleetsim_fixture
from tests.patchflow.rollout.conftest import TOPIC_NAME
from tests.patchflow.rollout.fleet_reads import commands_by_group
from tests.patchflow.rollout.fleet_specs import AL, THREE_STAGES_OF_AL2023

pytestmark = pytest.mark.airflow

BASE_URL = "https://airflow.example.com"

fleet = fleetsim_fixture(THREE_STAGES_OF_AL2023, seed=5, time_scale=600, scope="function")
# prod has a Windows node, dev none: whatever dev proves holds nothing tried for it.
WINDOWS_ONLY_IN_PROD = {
    "defaults": {"execution_seconds": [60, 120], "reboot_share": 0.0},
    "groups": [
        {"name": "dev-al", "count": 2, "platform": AL, "tags": {"Patch Group": "dev"}, "missing_share": 0.5},
        {"name": "prod-al", "count": 1, "platform": AL, "tags": {"Patch Group": "prod"}, "missing_share": 0.5},
        {"name": "prod-windows", "count": 1, "platform": "WINDOWS", "tags": {"Patch Group": "prod"}, "missing_share": 0.5},
    ],
}
windows_fleet = fleetsim_fixture(WINDOWS_ONLY_IN_PROD, seed=5, time_scale=600, scope="function")


def _plan(demo_plan) -> dict:
    return demo_plan(stages=[
        {"name": "dev", "patch_group": "dev", "expected_min_targets": 1},
        {"name": "prod", "patch_group": "prod", "pin_to": "dev", "expected_min_targets": 1, "approval": {"required": True, "timeout": "10m"}},
    ])


def _inbox(sim) -> str:
    """An SQS queue subscribed to the rollout topic: what SNS delivered, as a subscriber reads it."""
    sns, sqs = sim.client("sns"), sim.client("sqs")
    topic = sns.create_topic(Name=TOPIC_NAME)["TopicArn"]
    queue = sqs.create_queue(QueueName="approvers")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    return queue


def _delivered(sim, queue: str, event: str) -> list[tuple[str, str]]:
    found = []
    while messages := sim.client("sqs").receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", []):
        for message in messages:
            body = json.loads(message["Body"])
            if body["MessageAttributes"]["event"]["Value"] == event:
                found.append((body["Subject"], body["Message"]))
            sim.client("sqs").delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
    return found


def _hitl_request(dag_id: str, run_id: str, task_id: str) -> tuple[str, str] | None:
    """The (subject, body) Airflow's Required Actions page shows for the task, or None when nobody was asked."""
    from airflow.models.hitl import HITLDetail
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        ti = session.query(TaskInstance).filter_by(dag_id=dag_id, run_id=run_id, task_id=task_id).one()
        detail = session.query(HITLDetail).filter(HITLDetail.ti_id == ti.id).one_or_none()
        return None if detail is None else (detail.subject, detail.body)


def test_the_approval_shows_and_sends_the_verdict_before_it_the_release_the_ticket_the_deadline_and_the_links(fleet, run_rollout, demo_plan, monkeypatch):
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", BASE_URL)
    inbox = _inbox(fleet)
    run = run_rollout(fleet, _plan(demo_plan), conf={"change_ticket": "CHG-7"}, answer="Reject")

    assert run.state == "failed"
    (answer,) = run.kinds("approval_answered")
    assert run.report.reason == f"stage prod was rejected by release-manager at {answer['answered_at'].replace('T', ' ').replace('Z', ' UTC')}"
    (dev_verdict,) = [r["verdict"] for r in run.kinds("stage_verdict")]
    (manifest,) = run.kinds("manifest")
    (waiting,) = [r for r in run.kinds("waiting") if r["what"] == "approval"]
    assert (waiting["stage"], waiting["detail"]) == ("prod", "change ticket CHG-7")
    counts = dev_verdict["counts"]
    assert counts["targets"] == 2 and manifest["size"] > 0
    run_url = f"{BASE_URL}/dags/rollout_demo/runs/{run.run_id.replace(':', '%3A').replace('+', '%2B')}"
    expected = (
        "Rollout demo (CHG-7): start stage prod?",
        "Stage **prod** of rollout **demo** patches group `prod`.\n\n"
        f"- **Before it:** stage dev passed its gate: {dev_verdict['reasons'][0].removeprefix('passed: ')}. "
        f"2 targets: {counts['succeeded']} succeeded, {counts['failed']} failed, 0 timed out, 0 unreachable, 0 not dispatched; "
        f"{counts['compliant']} compliant, {counts['pending_reboot']} pending reboot\n"
        f"- **Installs:** release {manifest['release_id']}, made by stage dev in this run: {manifest['size']} patches for {AL}, nothing else\n"
        f"- **Manifest:** content hash {manifest['content_hash']}\n"
        f"- **Patch list:** {manifest['location']}\n"
        "- **Change ticket:** CHG-7\n"
        f"- **Deadline:** {waiting['until']} (in 10 min)\n"
        f"- **Run in Airflow:** {run_url}\n"
        f"- **Rollout report:** {BASE_URL}/rollouts/report?dag_id=rollout_demo&run_id={run.run_id.replace(':', '%3A').replace('+', '%2B')}\n"
        f"- **Answer:** {run_url}/tasks/prod.approval/required_actions\n\n"
        "Reject, or no answer before the deadline, stops the rollout as a failure.",
    )
    assert _hitl_request("rollout_demo", run.run_id, "prod.approval") == expected
    assert _delivered(fleet, inbox, "approval") == [expected]
    assert manifest["location"].startswith("s3://rollout-tests/") and len(manifest["content_hash"]) == 64


def test_a_pinned_stage_with_nothing_tried_for_one_of_its_systems_blocks_without_asking_anybody(windows_fleet, run_rollout, demo_plan):
    # Were prod offered, it would be approved, and its first wave would block instead.
    run = run_rollout(windows_fleet, _plan(demo_plan), answer="Approve")

    assert run.state == "failed"
    assert run.report.outcome == "blocked"
    assert run.report.reason == (
        "not offered for approval: stage is pinned to dev, which patched no WINDOWS instances, so there is no tried patch set to install on them"
    )
    # Blocked before it started: nothing of prod ran, nothing was sent there.
    assert (run.report.blocking_stage, [(s.name, s.state) for s in run.report.stages]) == ("prod", [("dev", "promoted"), ("prod", "not started")])
    assert _hitl_request("rollout_demo", run.run_id, "prod.approval") is None
    assert [r for r in run.kinds("waiting") if r["what"] == "approval"] == []
    assert sorted(commands_by_group(windows_fleet)) == ["dev"]
