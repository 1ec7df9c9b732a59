"""The health check's verification command: AWS-RunShellScript / AWS-RunPowerShellScript on the nodes a wave patched.

It is sent like the patch command (at most once per request, found again by its run-scoped
comment on a retry, InstanceIds in chunks of 50) but with its own rate control, and its
invocations are read with their plugin output. What an invocation means is decided in
patchflow.core.health (VerifiedNode.from_invocation).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

from patchflow.aws.commands import chunked, invocations_by_instance
from patchflow.core.health import POWERSHELL_DOCUMENT, SHELL_DOCUMENT, Verification, verification_sends

# The letter a comment carries when one wave's check goes out as both documents.
DOCUMENT_LETTERS = {SHELL_DOCUMENT: "L", POWERSHELL_DOCUMENT: "W"}


@dataclass(frozen=True)
class VerificationRequest:
    """What one SendCommand of the verification script carries; `comment` holds the run-scoped token."""

    document_name: str
    commands: tuple[str, ...]
    execution_timeout_seconds: int  # how long the script may run on each node
    max_concurrency: str
    max_errors: str
    timeout_seconds: int  # how long SSM may take to deliver it (the stage's timeout_seconds)
    comment: str
    instance_ids: tuple[str, ...] = ()

    def send_kwargs(self) -> dict:
        return {
            "DocumentName": self.document_name,
            "Parameters": {"commands": list(self.commands), "executionTimeout": [str(self.execution_timeout_seconds)]},
            "InstanceIds": list(self.instance_ids),
            "MaxConcurrency": self.max_concurrency,
            "MaxErrors": self.max_errors,
            "TimeoutSeconds": self.timeout_seconds,
            "Comment": self.comment[:100],
        }


def verification_requests(spec: Verification, nodes: Mapping[str, str | None], *, comment: str, timeout_seconds: int) -> list[VerificationRequest]:
    """The SendCommand calls that check `nodes` (instance id -> operating system), one document per OS family.

    `comment` is `patchflow <run token> <stage> V<wave>`; a wave with nodes of both families adds
    the document's letter (L, W), and one too big for a single InstanceIds list its chunk (c1, c2...),
    so every request's comment is its own. Nodes whose family has no commands are left out
    (preflight has blocked such a stage already).
    """
    sends = verification_sends(spec, nodes)
    requests = []
    for send in sends:
        chunks = chunked(list(send.instance_ids))
        for n, chunk in enumerate(chunks, start=1):
            suffix = (f" {DOCUMENT_LETTERS[send.document]}" if len(sends) > 1 else "") + (f" c{n}" if len(chunks) > 1 else "")
            requests.append(
                VerificationRequest(
                    document_name=send.document,
                    commands=send.commands,
                    execution_timeout_seconds=spec.timeout_seconds,
                    max_concurrency=spec.max_concurrency,
                    max_errors=spec.max_errors,
                    timeout_seconds=timeout_seconds,
                    comment=comment + suffix,
                    instance_ids=chunk,
                )
            )
    return requests


def verification_invocations(ssm, command_ids: Sequence[str]) -> dict[str, dict]:
    """Instance id -> its invocation (ListCommandInvocations with Details: Status, StatusDetails, plugin Output, ResponseCode)."""
    return invocations_by_instance(ssm, command_ids)
