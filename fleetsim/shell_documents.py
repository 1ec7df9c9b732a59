"""What AWS-RunShellScript and AWS-RunPowerShellScript do on a simulated node: pure decisions, no clock.

fleetsim cannot run the commands it is sent, so the node's simulated service alone decides the
outcome. A healthy node's script succeeds (exit status 0, no output). A node whose service is
broken (a command installed one of its `breaks_service` patches before the invocation started)
fails with exit status 1: its stderr says the service does not answer, followed by the line SSM
Agent's runscript plugin (shared by aws:runShellScript and aws:runPowerShellScript) adds for a
non-zero exit, as real output shows it: "cat: /wrong/file: No such file or directory\\nfailed to
run commands: exit status 1" (gruntwork-io/terratest, test/terraform_aws_ssm_example_test.go).

A plugin's `Output` in ListCommandInvocations is SSM Agent's PluginOutput.String(): stdout, then
"\\n----------ERROR-------\\n" and stderr when there is any (aws/amazon-ssm-agent,
agent/contracts/plugin.go, TruncateOutput).
"""
from __future__ import annotations

from dataclasses import dataclass

from fleetsim.command_records import SHELL_DOCUMENTS
from fleetsim.fleet import SimInstance

EXIT_STATUS_SERVICE_BROKEN = 1
ERROR_TITLE = "\n----------ERROR-------\n"


@dataclass(frozen=True)
class ShellRun:
    stdout: str
    stderr: str


def service_broken_by(instance: SimInstance, at: float) -> str | None:
    """The patch whose install by a command had broken this node's service by simulated second `at`, or None."""
    installed = sorted(
        (instance.command_installs[patch_id], patch_id)
        for patch_id in instance.breaks_service_with
        if patch_id in instance.command_installs and instance.command_installs[patch_id] <= at
    )
    return installed[0][1] if installed else None


def broken_service_stderr(computer_name: str, patch_id: str) -> str:
    return (f"service check failed on {computer_name}: the service has not answered since {patch_id} was installed\n"
            f"failed to run commands: exit status {EXIT_STATUS_SERVICE_BROKEN}")


def shell_run(document_name: str, instance: SimInstance, at: float) -> ShellRun:
    """What an invocation of `document_name` started at simulated second `at` writes; any stderr means it failed.

    Documents other than the two shell documents (a document created in moto, say) succeed without output.
    """
    broken_by = service_broken_by(instance, at) if document_name in SHELL_DOCUMENTS else None
    if broken_by is None:
        return ShellRun(stdout="", stderr="")
    return ShellRun(stdout="", stderr=broken_service_stderr(instance.computer_name, broken_by))


def plugin_output(stdout: str, stderr: str, limit: int) -> str:
    """A shell plugin's `Output` as ListCommandInvocations answers it (the first `limit` characters)."""
    return (stdout + (ERROR_TITLE + stderr if stderr else ""))[:limit]
