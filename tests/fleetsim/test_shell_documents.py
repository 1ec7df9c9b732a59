"""AWS-RunShellScript and AWS-RunPowerShellScript: Success with exit code 0 on a healthy node, Failed with exit
status 1 and the reason on stderr where a group's `breaks_service` patch has been installed (fleetsim/FIDELITY.md).
"""
from __future__ import annotations

import pytest

from fleetsim.fleet import SimInstance, build_instances, service_breakers, share_count
from fleetsim.shell_documents import plugin_output, service_broken_by
from fleetsim.spec import load_fleet
from fleetsim.testing import fleetsim_fixture

from tests.fleetsim.conftest import all_invocations, send_patch, wait_for_command

pytestmark = pytest.mark.fleetsim

SEED = 5
LINUX_PATCH = "openssh-server.x86_64"  # approved by AWS-AmazonLinux2023DefaultPatchBaseline from the fleet's first day
WINDOWS_PATCH = "KB5044224"  # approved by AWS-DefaultPatchBaseline from the fleet's first day
EVERY_PATCH_MISSING = {"missing_share": 1.0, "not_applicable_share": 0.0}
SHELL_FLEET = {
    "compliance_lag_seconds": 0,
    "defaults": {**EVERY_PATCH_MISSING, "execution_seconds": [20, 60]},
    "groups": [
        {"name": "healthy", "count": 1, "platform": "AMAZON_LINUX_2023", "tags": {"Patch Group": "healthy"}},
        {"name": "half", "count": 4, "platform": "AMAZON_LINUX_2023", "tags": {"Patch Group": "half"}, "breaks_service": {LINUX_PATCH: 0.5}},
        {"name": "windows", "count": 2, "platform": "WINDOWS", "tags": {"Patch Group": "windows"}, "breaks_service": {WINDOWS_PATCH: 1.0}},
        {"name": "later", "count": 2, "platform": "AMAZON_LINUX_2023", "tags": {"Patch Group": "later"}, "breaks_service": {LINUX_PATCH: 1.0}},
    ],
}
shell_fleet = fleetsim_fixture(SHELL_FLEET, seed=SEED, time_scale=3000)


def stderr_of_broken(computer_name: str, patch_id: str) -> str:
    return (f"service check failed on {computer_name}: the service has not answered since {patch_id} was installed\n"
            "failed to run commands: exit status 1")


def run_script(ssm, patch_group: str, document: str = "AWS-RunShellScript") -> str:
    command_id = ssm.send_command(DocumentName=document, Targets=[{"Key": "tag:Patch Group", "Values": [patch_group]}],
                                  Parameters={"commands": ["systemctl is-system-running", "curl -fsS http://localhost:8080/health"]},
                                  MaxConcurrency="100%", MaxErrors="100%")["Command"]["CommandId"]
    assert wait_for_command(ssm, command_id)["Status"] in ("Success", "Failed")
    return command_id


def install(ssm, patch_group: str) -> None:
    assert wait_for_command(ssm, send_patch(ssm, patch_group))["Status"] == "Success"


def outcomes(ssm, command_id: str) -> dict[str, tuple]:
    """Per instance: the invocation's and its plugin's status, ResponseCode and Output, and GetCommandInvocation's view."""
    seen = {}
    for invocation in all_invocations(ssm, command_id, details=True):
        (plugin,) = invocation["CommandPlugins"]
        got = ssm.get_command_invocation(CommandId=command_id, InstanceId=invocation["InstanceId"])
        seen[invocation["InstanceId"]] = (
            (invocation["Status"], invocation["StatusDetails"]),
            (plugin["Name"], plugin["Status"], plugin["StatusDetails"], plugin["ResponseCode"], plugin["Output"]),
            (got["PluginName"], got["Status"], got["StatusDetails"], got["ResponseCode"], got["StandardOutputContent"], got["StandardErrorContent"]),
        )
    return seen


def nodes(ssm, patch_group: str) -> dict[str, dict]:
    found = ssm.describe_instance_information(Filters=[{"Key": "tag:Patch Group", "Values": [patch_group]}])["InstanceInformationList"]
    return {node["InstanceId"]: node for node in found}


def succeeded(plugin: str) -> tuple:
    return (("Success", "Success"), (plugin, "Success", "Success", 0, ""), (plugin, "Success", "Success", 0, "", ""))


def failed(plugin: str, computer_name: str, patch_id: str) -> tuple:
    stderr = stderr_of_broken(computer_name, patch_id)
    return (("Failed", "Failed"), (plugin, "Failed", "Failed", 1, "\n----------ERROR-------\n" + stderr), (plugin, "Failed", "Failed", 1, "", stderr))


def test_a_shell_script_on_a_healthy_node_succeeds_with_exit_code_0(shell_fleet):
    ssm = shell_fleet.client("ssm")
    install(ssm, "healthy")
    command_id = run_script(ssm, "healthy")
    assert outcomes(ssm, command_id) == {instance_id: succeeded("aws:runShellScript") for instance_id in nodes(ssm, "healthy")}


def test_a_node_not_yet_patched_is_healthy_and_fails_once_the_patch_is_installed(shell_fleet):
    ssm = shell_fleet.client("ssm")
    group = nodes(ssm, "later")
    before = run_script(ssm, "later")
    install(ssm, "later")
    after = run_script(ssm, "later")
    assert (outcomes(ssm, before), outcomes(ssm, after)) == (
        {instance_id: succeeded("aws:runShellScript") for instance_id in group},
        {instance_id: failed("aws:runShellScript", node["ComputerName"], LINUX_PATCH) for instance_id, node in group.items()},
    )


def test_after_the_patch_the_seeded_share_of_the_group_fails_with_exit_status_1_and_the_rest_succeeds(shell_fleet):
    ssm = shell_fleet.client("ssm")
    group = nodes(ssm, "half")
    install(ssm, "half")
    command_id = run_script(ssm, "half")
    # Instance i has the private address 10.0.0.(10 + i) in spec order; the spec's own draw says which of them break.
    half = load_fleet(SHELL_FLEET).groups[1]
    by_index = {int(node["IPAddress"].rsplit(".", 1)[1]) - 10: instance_id for instance_id, node in group.items()}
    breaking = {by_index[index] for index, patches in service_breakers(half, sorted(by_index), SEED).items() if patches}
    assert len(breaking) == 2
    assert outcomes(ssm, command_id) == {
        instance_id: failed("aws:runShellScript", node["ComputerName"], LINUX_PATCH) if instance_id in breaking else succeeded("aws:runShellScript")
        for instance_id, node in group.items()
    }


def test_a_powershell_script_fails_the_same_way_on_a_broken_windows_node(shell_fleet):
    ssm = shell_fleet.client("ssm")
    group = nodes(ssm, "windows")
    install(ssm, "windows")
    command_id = run_script(ssm, "windows", "AWS-RunPowerShellScript")
    assert (wait_for_command(ssm, command_id)["Status"], outcomes(ssm, command_id)) == (
        "Failed",
        {instance_id: failed("aws:runPowerShellScript", node["ComputerName"], WINDOWS_PATCH) for instance_id, node in group.items()},
    )


# --------------------------------------------------------------------------- pure decisions


@pytest.mark.parametrize(
    "share, population, expected",
    [
        pytest.param(0.28, 25, 7, id="exact-despite-binary-floating-point"),
        pytest.param(0.3, 4, 2, id="rounded-up"),
        pytest.param(0.01, 1, 1, id="any-share-above-0-is-at-least-one"),
        pytest.param(0.0, 5, 0, id="zero-is-none"),
        pytest.param(1.0, 3, 3, id="all"),
    ],
)
def test_share_count(share, population, expected):
    assert share_count(share, population) == expected


def breakers_of(seed: int, count: int = 10, share: float = 0.3) -> list[int]:
    spec = load_fleet({"groups": [{"count": count, "platform": "AMAZON_LINUX_2023", "breaks_service": {LINUX_PATCH: share}}]})
    instances = build_instances(spec, seed, [f"i-{index:017x}" for index in range(count)])
    return [instance.index for instance in instances if LINUX_PATCH in instance.breaks_service_with]


def test_the_breaking_share_is_drawn_per_instance_and_the_same_for_the_same_seed():
    assert (breakers_of(7), breakers_of(7), breakers_of(8)) == ([0, 4, 6], [0, 4, 6], [0, 3, 4])


def test_only_groups_with_breaks_service_draw_and_other_patches_break_nothing():
    spec = load_fleet({"groups": [{"count": 2, "platform": "UBUNTU"}, {"count": 2, "platform": "UBUNTU", "breaks_service": {"git": 1.0, "openssl": 0.0}}]})
    instances = build_instances(spec, 1, ["i-00000000000000001", "i-00000000000000002", "i-00000000000000003", "i-00000000000000004"])
    assert [instance.breaks_service_with for instance in instances] == [frozenset(), frozenset(), frozenset({"git"}), frozenset({"git"})]


def node_with(breaks: set[str], installed: dict[str, float]) -> SimInstance:
    (instance,) = build_instances(load_fleet({"groups": [{"count": 1, "platform": "AMAZON_LINUX_2023"}]}), 0, ["i-00000000000000001"])
    instance.breaks_service_with = frozenset(breaks)
    instance.command_installs = dict(installed)
    return instance


@pytest.mark.parametrize(
    "breaks, installed, at, expected",
    [
        pytest.param({"a"}, {}, 100.0, None, id="not-installed"),
        pytest.param({"a"}, {"a": 150.0}, 100.0, None, id="installed-after-the-invocation-started"),
        pytest.param({"a"}, {"a": 100.0}, 100.0, "a", id="installed-as-it-started"),
        pytest.param(set(), {"a": 10.0}, 100.0, None, id="a-patch-that-breaks-nothing-here"),
        pytest.param({"a", "b"}, {"a": 50.0, "b": 20.0}, 100.0, "b", id="the-first-install-broke-it"),
    ],
)
def test_service_broken_by(breaks, installed, at, expected):
    assert service_broken_by(node_with(breaks, installed), at) == expected


@pytest.mark.parametrize(
    "stdout, stderr, limit, expected",
    [
        pytest.param("", "", 2500, "", id="nothing"),
        pytest.param("ok\n", "", 2500, "ok\n", id="stdout-only"),
        pytest.param("", "boom", 2500, "\n----------ERROR-------\nboom", id="stderr-only"),
        pytest.param("ok\n", "boom", 2500, "ok\n\n----------ERROR-------\nboom", id="both"),
        pytest.param("x" * 10, "boom", 8, "x" * 8, id="first-characters-only"),
    ],
)
def test_plugin_output(stdout, stderr, limit, expected):
    assert plugin_output(stdout, stderr, limit) == expected
