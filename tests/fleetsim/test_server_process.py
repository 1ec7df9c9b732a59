"""The `python -m fleetsim serve` process and the fleetsim.running() context manager."""
from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import fleetsim
from fleetsim.errors import InvalidInput

pytestmark = pytest.mark.fleetsim
PROJECT = Path(__file__).resolve().parents[2]


def serve(*args: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "fleetsim", "serve", *args], cwd=PROJECT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kwargs)


@pytest.mark.parametrize(
    "content, expected",
    [
        ("groups:\n  - count: ten\n    platform: UBUNTU\n", "fleetsim: {path}: groups[0].count: expected an integer >= 1, got 'ten'\n"),
        ("groups: [\n", "fleetsim: {path}: line 2 column 1: expected valid YAML, got a syntax error (expected the node content, but found '<stream end>')\n"),
    ],
    ids=["invalid-value", "yaml-syntax"],
)
def test_bad_fleet_file_exits_2_with_one_clear_line(tmp_path, content, expected):
    path = tmp_path / "fleet.yaml"
    path.write_text(content)
    process = serve("--fleet", str(path), "--port", "0")
    stdout, stderr = process.communicate(timeout=60)
    assert (process.returncode, stdout, stderr) == (2, "", expected.format(path=path))


def test_missing_fleet_file_exits_2(tmp_path):
    process = serve("--fleet", str(tmp_path / "nope.yaml"), "--port", "0")
    _, stderr = process.communicate(timeout=60)
    assert (process.returncode, stderr) == (2, f"fleetsim: {tmp_path / 'nope.yaml'}: file not found\n")


def test_serves_until_sigterm_and_stops_cleanly():
    process = serve("--fleet", "include/fleets/demo.yaml", "--port", "0", "--time-scale", "100")
    ready = ""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not ready.startswith("fleetsim: serving"):
        ready = process.stdout.readline()
    assert ready.startswith("fleetsim: serving 30 instances on http://127.0.0.1:") and ready.endswith("(seed 7, time scale 100)\n")
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=30)
    assert (process.returncode, stdout.rstrip().endswith("stopped"), stderr) == (0, True, "")


def test_running_rejects_an_invalid_spec_before_starting():
    with pytest.raises(InvalidInput) as caught:
        with fleetsim.running({"groups": [{"count": 1, "platform": "SOLARIS"}]}):
            pass
    assert str(caught.value) == "fleet: groups[0].platform: expected one of AMAZON_LINUX_2023, UBUNTU, WINDOWS, got 'SOLARIS'"


def fleet_outcome(seed: int) -> tuple[list[str], dict[str, str]]:
    spec = {"groups": [{"count": 6, "platform": "AMAZON_LINUX_2023", "tags": {"Patch Group": "g"}, "install_failure_probability": 0.5}]}
    with fleetsim.running(spec, seed=seed, time_scale=3000) as sim:
        ssm = sim.client("ssm")
        ids = sorted(i["InstanceId"] for i in ssm.describe_instance_information()["InstanceInformationList"])
        command_id = ssm.send_command(DocumentName="AWS-RunPatchBaseline", InstanceIds=ids, Parameters={"Operation": ["Install"]}, MaxErrors="100%")["Command"]["CommandId"]
        while ssm.list_commands(CommandId=command_id)["Commands"][0]["Status"] not in ("Success", "Failed"):
            time.sleep(0.05)
        outcome = {i["InstanceId"]: i["StatusDetails"] for i in ssm.list_command_invocations(CommandId=command_id)["CommandInvocations"]}
        assert sim.port == int(sim.endpoint.rsplit(":", 1)[1])
    return ids, outcome


def test_same_seed_same_fleet_and_outcomes():
    first, second = fleet_outcome(5), fleet_outcome(5)
    assert first == second
    assert set(first[1].values()) == {"Success", "Failed"}


def test_invocations_appear_a_moment_after_send_command():
    spec = {"groups": [{"count": 2, "platform": "UBUNTU", "tags": {"Patch Group": "slowpoke"}, "execution_seconds": [600, 600]}]}
    with fleetsim.running(spec, time_scale=1.0) as sim:  # real time: targets resolve after 2 s
        ssm = sim.client("ssm")
        instance_id = ssm.describe_instance_information()["InstanceInformationList"][0]["InstanceId"]
        command_id = ssm.send_command(DocumentName="AWS-RunPatchBaseline", Targets=[{"Key": "tag:Patch Group", "Values": ["slowpoke"]}],
                                      Parameters={"Operation": ["Scan"]})["Command"]["CommandId"]
        early = ssm.list_command_invocations(CommandId=command_id)["CommandInvocations"]
        with pytest.raises(Exception) as caught:
            ssm.get_command_invocation(CommandId=command_id, InstanceId=instance_id)
        deadline = time.monotonic() + 20
        while not (later := ssm.list_command_invocations(CommandId=command_id)["CommandInvocations"]) and time.monotonic() < deadline:
            time.sleep(0.2)
        command = ssm.list_commands(CommandId=command_id)["Commands"][0]
    assert early == []
    assert caught.value.response["Error"]["Code"] == "InvocationDoesNotExist"
    assert (len(later), {i["Status"] for i in later} <= {"Pending", "InProgress"}, command["TargetCount"]) == (2, True, 2)


def test_pure_modules_import_without_moto_boto3_or_airflow():
    probe = (
        "import sys\n"
        "for name in ('moto', 'boto3', 'botocore', 'airflow'):\n"
        "    sys.modules[name] = None\n"
        "import fleetsim, fleetsim.ratecontrol, fleetsim.rollup, fleetsim.patching, fleetsim.spec, fleetsim.clock, fleetsim.build_catalog\n"
        "print('ok')\n"
    )
    finished = subprocess.run([sys.executable, "-c", probe], cwd=PROJECT, capture_output=True, text=True, timeout=60)
    assert (finished.returncode, finished.stdout, finished.stderr) == (0, "ok\n", "")
