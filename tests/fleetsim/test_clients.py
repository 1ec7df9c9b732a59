"""Other clients against fleetsim: the Amazon provider's SsmHook and the AWS CLI, both through AWS_ENDPOINT_URL."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fleetsim.testing import aws_endpoint_env, fleetsim_fixture  # noqa: F401 (aws_endpoint_env is a fixture)

pytestmark = pytest.mark.fleetsim

FLEET = {"groups": [
    {"count": 3, "platform": "AMAZON_LINUX_2023", "tags": {"Patch Group": "cli"}},
    {"count": 2, "platform": "WINDOWS", "tags": {"Patch Group": "hook"}},
]}
client_fleet = fleetsim_fixture(FLEET, seed=1, time_scale=3000)


def aws_cli() -> str | None:
    local = Path(sys.executable).with_name("aws")
    return str(local) if local.exists() else shutil.which("aws")


def test_ssm_hook_works_through_aws_endpoint_url(client_fleet, aws_endpoint_env):
    from airflow.providers.amazon.aws.hooks.ssm import SsmHook

    aws_endpoint_env(client_fleet)
    hook = SsmHook(aws_conn_id=None, region_name="us-east-1")
    instance_ids = [i["InstanceId"] for i in hook.conn.describe_instance_information(
        Filters=[{"Key": "tag:Patch Group", "Values": ["hook"]}])["InstanceInformationList"]]
    command_id = hook.conn.send_command(DocumentName="AWS-RunPatchBaseline", InstanceIds=instance_ids, Parameters={"Operation": ["Scan"]})["Command"]["CommandId"]
    deadline = time.monotonic() + 30
    while hook.conn.list_commands(CommandId=command_id)["Commands"][0]["Status"] != "Success" and time.monotonic() < deadline:
        time.sleep(0.05)
    invocations = hook.list_command_invocations(command_id)["CommandInvocations"]
    assert sorted(i["InstanceId"] for i in invocations) == sorted(instance_ids)
    invocation = hook.get_command_invocation(command_id, instance_ids[0])
    assert (invocation["Status"], invocation["PluginName"], hook.is_aws_level_failure(invocation["StatusDetails"])) == ("Success", "PatchWindows", False)


@pytest.mark.skipif(aws_cli() is None, reason="the AWS CLI is not installed: pip install awscli==1.46.3 (keeps botocore 1.43.117)")
def test_aws_cli_sends_and_tracks_a_command(client_fleet):
    env = {**os.environ, **client_fleet.env(), "AWS_PAGER": ""}

    def aws(*args: str) -> dict:
        finished = subprocess.run([aws_cli(), "ssm", *args, "--output", "json"], env=env, capture_output=True, text=True, timeout=60)
        assert finished.returncode == 0, finished.stderr
        return json.loads(finished.stdout) if finished.stdout.strip() else {}

    info = aws("describe-instance-information", "--filters", "Key=tag:Patch Group,Values=cli")["InstanceInformationList"]
    assert [(i["PlatformName"], i["PingStatus"]) for i in info] == [("Amazon Linux", "Online")] * 3
    sent = aws("send-command", "--document-name", "AWS-RunPatchBaseline", "--targets", "Key=tag:Patch Group,Values=cli",
               "--parameters", "Operation=Install,RebootOption=NoReboot", "--max-concurrency", "100%", "--max-errors", "0")["Command"]
    assert (sent["InstanceIds"], sent["TargetCount"], sent["Status"]) == ([], 0, "Pending")
    deadline = time.monotonic() + 30
    while (command := aws("list-commands", "--command-id", sent["CommandId"])["Commands"][0])["Status"] != "Success" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert (command["Status"], command["TargetCount"], command["CompletedCount"]) == ("Success", 3, 3)
    invocations = aws("list-command-invocations", "--command-id", sent["CommandId"], "--details")["CommandInvocations"]
    assert sorted(i["InstanceId"] for i in invocations) == sorted(i["InstanceId"] for i in info)
    states = aws("describe-instance-patch-states", "--instance-ids", *[i["InstanceId"] for i in info])["InstancePatchStates"]
    assert all(s["MissingCount"] == 0 and s["RebootOption"] == "NoReboot" for s in states) and len(states) == 3


@pytest.mark.skipif(aws_cli() is None, reason="the AWS CLI is not installed: pip install awscli==1.46.3 (keeps botocore 1.43.117)")
def test_aws_cli_reports_ssm_errors(client_fleet):
    env = {**os.environ, **client_fleet.env(), "AWS_PAGER": ""}
    finished = subprocess.run([aws_cli(), "ssm", "get-patch-baseline", "--baseline-id", "pb-0123456789abcdef0"], env=env, capture_output=True, text=True, timeout=60)
    assert (finished.returncode, finished.stderr.strip()) == (
        255, "An error occurred (DoesNotExistException) when calling the GetPatchBaseline operation: Patch Baseline pb-0123456789abcdef0 does not exist.")
