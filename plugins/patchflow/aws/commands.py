"""Send, find, watch, read and cancel Run Command commands: AWS-RunPatchBaseline, and the health check's shell scripts.

Every function takes a boto3 SSM client so the same code runs against
fleetsim, moto or AWS, inside or outside Airflow.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import Callable, Collection, Iterable, Iterator, Mapping, Protocol, Sequence

from patchflow.aws.side_by_side import read_each

PATCH_DOCUMENT = "AWS-RunPatchBaseline"
MAX_INSTANCE_IDS_PER_COMMAND = 50
# The EC2 tag that puts a wave's nodes in one command's Targets (patchflow.aws.wave_tags); its value is run-scoped.
WAVE_TAG_KEY = "patchflow:wave"

# Command StatusDetails that end a command (ssm-reference 4.4).
TERMINAL_COMMAND_STATUSES = frozenset({"Success", "Cancelled", "Failed", "TimedOut"})


@dataclass(frozen=True)
class PatchCommandRequest:
    """What one SendCommand of AWS-RunPatchBaseline carries; `comment` holds the run-scoped token."""

    operation: str  # Scan | Install
    reboot_option: str
    max_concurrency: str
    max_errors: str
    timeout_seconds: int
    comment: str
    instance_ids: tuple[str, ...] = ()  # sent as InstanceIds, or with wave_tag the nodes that tag is put on
    target_tag: tuple[str, str] | None = None  # (tag key, value): target the whole patch group
    wave_tag: tuple[str, str] | None = None  # (WAVE_TAG_KEY, value): with target_tag, only the group's nodes tagged into this wave
    install_override_list: str | None = None
    snapshot_id: str | None = None
    output_s3_bucket: str | None = None
    output_s3_prefix: str | None = None
    execution_timeout_seconds: int | None = None

    def send_kwargs(self) -> dict:
        parameters: dict[str, list[str]] = {"Operation": [self.operation], "RebootOption": [self.reboot_option]}
        if self.install_override_list and self.operation == "Install":
            parameters["InstallOverrideList"] = [self.install_override_list]
        if self.snapshot_id:
            parameters["SnapshotId"] = [self.snapshot_id]
        kwargs: dict = {
            "DocumentName": PATCH_DOCUMENT,
            "Parameters": parameters,
            "MaxConcurrency": self.max_concurrency,
            "MaxErrors": self.max_errors,
            "TimeoutSeconds": self.timeout_seconds,
            "Comment": self.comment[:100],
        }
        if self.target_tag:
            # Several Targets select the nodes matching all of them (User Guide, "Run commands at scale").
            kwargs["Targets"] = [{"Key": f"tag:{key}", "Values": [value]} for key, value in filter(None, (self.target_tag, self.wave_tag))]
        else:
            kwargs["InstanceIds"] = list(self.instance_ids)
        if self.output_s3_bucket:
            kwargs["OutputS3BucketName"] = self.output_s3_bucket
            if self.output_s3_prefix:
                kwargs["OutputS3KeyPrefix"] = self.output_s3_prefix
        return kwargs


@dataclass(frozen=True)
class CommandProgress:
    command_id: str
    status: str
    status_details: str
    target_count: int
    completed_count: int
    error_count: int
    delivery_timed_out_count: int
    comment: str = ""
    requested_at: str = ""  # ISO 8601: when SSM accepted the command

    @property
    def finished(self) -> bool:
        # A Targets command reports TargetCount 0 until its targets resolve; it is
        # finished only once SSM itself says so, never because 0 of 0 completed.
        return self.status in TERMINAL_COMMAND_STATUSES

    @classmethod
    def from_api(cls, command: Mapping) -> "CommandProgress":
        return cls(
            command_id=command["CommandId"],
            status=command.get("Status", ""),
            status_details=command.get("StatusDetails", ""),
            target_count=int(command.get("TargetCount", 0)),
            completed_count=int(command.get("CompletedCount", 0)),
            error_count=int(command.get("ErrorCount", 0)),
            delivery_timed_out_count=int(command.get("DeliveryTimedOutCount", 0)),
            comment=command.get("Comment", ""),
            requested_at=_moment_text(command.get("RequestedDateTime")),
        )

    def to_json(self) -> dict:
        return dict(self.__dict__)


def _moment_text(value: object) -> str:
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).isoformat()
    return str(value or "")


def first_sent_at(started: datetime, reattached: Mapping[str, CommandProgress]) -> datetime:
    """When this step's commands went out: `started`, or earlier when a retry re-attaches to commands SSM
    accepted before it. Patch states reported since then are this step's, so a retry must judge from there."""
    moments = [started]
    for progress in reattached.values():
        try:
            moment = datetime.fromisoformat(progress.requested_at.replace("Z", "+00:00"))
        except ValueError:
            continue
        moments.append(moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc))
    return min(moments)


def chunked(items: Sequence[str], size: int = MAX_INSTANCE_IDS_PER_COMMAND) -> list[tuple[str, ...]]:
    return [tuple(items[i : i + size]) for i in range(0, len(items), size)]


def wave_requests(
    template: PatchCommandRequest,
    batch: Sequence[Mapping],
    *,
    patch_group: str,
    whole_group: bool,
    overrides: Mapping[str, str],
    split_by_os: bool,
    scan_only: Collection[str] = (),
) -> list[PatchCommandRequest]:
    """The SendCommand calls for one wave. `batch` rows carry instance_id, operating_system, tag_key.

    A wave that is the whole patch group and too big for one InstanceIds list goes out as one
    command targeting the group's tag: one command for SSM's rate control over the whole
    group, and one ListCommands row to poll. Any other wave is split by OS first when pinned
    (each OS has its own InstallOverrideList); then the EC2 instances of a part that joined the
    group through one tag key, more than one InstanceIds list of them, go out as one command
    targeting that key and a run-scoped wave tag put on them first (patchflow.aws.wave_tags), so
    a wave costs the same few commands at 100 nodes or 45,000. The rest (a small part, managed
    nodes that are not EC2 instances, which EC2 cannot tag) go out as InstanceIds in chunks of 50.
    Operating systems in `scan_only` get a Scan instead of the template's operation: a pinned
    stage whose source had nothing new to install there installs nothing, but still checks every node.
    """
    tag_keys = {row.get("tag_key") for row in batch}
    if not split_by_os and whole_group and len(batch) > MAX_INSTANCE_IDS_PER_COMMAND and len(tag_keys) == 1 and None not in tag_keys:
        (tag_key,) = tag_keys
        return [replace(template, comment=f"{template.comment} all group"[:100], target_tag=(tag_key, patch_group))]
    by_os: dict[str, list[Mapping]] = {}
    for row in batch:
        by_os.setdefault((row.get("operating_system") or "") if split_by_os else "", []).append(row)
    requests = []
    for os_name in sorted(by_os):
        part = replace(template, install_override_list=overrides.get(os_name))
        if os_name and os_name in scan_only:
            part = replace(part, operation="Scan", reboot_option="NoReboot", install_override_list=None)
        label = f"{template.comment} {os_name or 'all'}"
        by_tag_key: dict[str, list[str]] = {}
        by_ids: list[str] = []
        for row in by_os[os_name]:
            if row.get("tag_key") and is_ec2_instance(row["instance_id"]):
                by_tag_key.setdefault(row["tag_key"], []).append(row["instance_id"])
            else:
                by_ids.append(row["instance_id"])
        for n, tag_key in enumerate(sorted(by_tag_key), start=1):
            ids = sorted(by_tag_key[tag_key])
            if len(ids) <= MAX_INSTANCE_IDS_PER_COMMAND:
                by_ids += ids  # one InstanceIds command either way: tagging would only add calls
                continue
            comment = f"{label} w{n}"[:100]
            requests.append(replace(part, comment=comment, instance_ids=tuple(ids), target_tag=(tag_key, patch_group),
                                    wave_tag=(WAVE_TAG_KEY, wave_tag_value(comment))))
        for n, chunk in enumerate(chunked(sorted(by_ids)), start=1):
            requests.append(replace(part, comment=f"{label} c{n}"[:100], instance_ids=chunk))
    return requests


def is_ec2_instance(node_id: str) -> bool:
    """Whether EC2 can tag the node: hybrid and edge managed nodes (mi-...) carry SSM tags, which EC2 tag targets do not read."""
    return node_id.startswith("i-")


def wave_tag_value(comment: str) -> str:
    """The wave tag's value for a request: its run-scoped comment less the leading word, so the run's token comes
    first and the run's end finds every wave tag of the run by that prefix (patchflow.aws.wave_tags.sweep_run)."""
    return comment.split(" ", 1)[1] if " " in comment else comment


def follow_up_requests(request: PatchCommandRequest, untargeted: Collection[str]) -> list[PatchCommandRequest]:
    """InstanceIds commands for the tagged nodes a wave-tag command did not reach (its targets resolved before the
    tag was visible to Run Command), in chunks of 50; each comment extends the tagged command's, so a retry finds them."""
    return [
        replace(request, comment=f"{request.comment} f{n}"[:100], instance_ids=chunk, target_tag=None, wave_tag=None)
        for n, chunk in enumerate(chunked(sorted(untargeted)), start=1)
    ]


class SendsCommand(Protocol):
    """A request for one SendCommand: PatchCommandRequest, patchflow.aws.verification.VerificationRequest."""

    def send_kwargs(self) -> dict: ...


def send_patch_command(ssm, request: SendsCommand) -> str:
    return ssm.send_command(**request.send_kwargs())["Command"]["CommandId"]


# Sends of one request at most, and the waits before each look for a command a failed send may
# have created: ListCommands is eventually consistent, so an accepted command can take a moment to show.
SEND_ATTEMPTS = 3
LOOKS_BEFORE_RESEND = (1.0, 2.0, 4.0)
THROTTLING_CODES = frozenset({"ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded"})


class CommandNotSent(RuntimeError):
    """SendCommand kept failing and SSM lists no command carrying the request's comment."""


def worth_sending_again(error: BaseException) -> bool:
    """Whether a failed SendCommand may be sent again once SSM is known to hold no command for it.

    A lost answer (time-out, dropped connection), a 5xx and a throttle may pass with time;
    any other error is SSM refusing the request itself, which a resend would only repeat.
    """
    from botocore.exceptions import ClientError, ConnectionError, HTTPClientError

    if isinstance(error, (HTTPClientError, ConnectionError)):
        return True
    if isinstance(error, ClientError):
        status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        return status >= 500 or error.response.get("Error", {}).get("Code") in THROTTLING_CODES
    return False


def send_command_at_most_once(
    send_ssm,
    ssm,
    request: SendsCommand,
    invoked_after: datetime,
    *,
    attempts: int = SEND_ATTEMPTS,
    looks: Sequence[float] = LOOKS_BEFORE_RESEND,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[str, bool]:
    """(command id, whether it was found rather than sent): never a second command for one request.

    `send_ssm` must not retry by itself (patchflow.aws.client.SEND_CONFIG). After a send that
    failed but may have been accepted, SSM is asked for a command carrying the request's
    run-scoped comment; only when none shows up is the request sent again.
    """
    kwargs = request.send_kwargs()
    comment, document = kwargs["Comment"], kwargs["DocumentName"]
    last_error: BaseException | None = None
    for _ in range(attempts):
        try:
            return send_patch_command(send_ssm, request), False
        except Exception as error:
            if not worth_sending_again(error):
                raise
            last_error = error
        for wait in looks:
            sleep(wait)
            found = find_commands_by_comment(ssm, comment, invoked_after, document)
            if comment in found:
                return found[comment].command_id, True
    raise CommandNotSent(
        f"SendCommand for {comment!r} failed {attempts} times and SSM lists no command with that comment; last error: {last_error}"
    )


def find_commands_by_comment(ssm, comment_prefix: str, invoked_after: datetime, document_name: str = PATCH_DOCUMENT) -> dict[str, CommandProgress]:
    """Commands of `document_name` already sent for this run step, keyed by comment: how a retried task re-attaches."""
    found: dict[str, CommandProgress] = {}
    filters = [
        {"key": "DocumentName", "value": document_name},
        {"key": "InvokedAfter", "value": _iso(invoked_after - timedelta(minutes=5))},
    ]
    for command in _paginate(ssm.list_commands, "Commands", Filters=filters, MaxResults=50):
        comment = command.get("Comment", "")
        if comment.startswith(comment_prefix):
            found.setdefault(comment, CommandProgress.from_api(command))
    return found


def command_progress(
    ssm, command_ids: Sequence[str], invoked_after: datetime | None = None, document_names: Sequence[str] = (PATCH_DOCUMENT,)
) -> dict[str, CommandProgress]:
    """Counters for the given commands (all of them of `document_names`), at a cost that does not grow with the fleet.

    One command: one ListCommands call. Several: ListCommands pages filtered by document
    and invocation time (50 commands a page), never per-invocation reads.
    """
    wanted = set(command_ids)
    if len(wanted) == 1:
        (command_id,) = wanted
        commands = ssm.list_commands(CommandId=command_id)["Commands"]
        return {c["CommandId"]: CommandProgress.from_api(c) for c in commands}
    progress = {}
    # ListCommands filters on one DocumentName at a time.
    for document_name in document_names:
        filters = [{"key": "DocumentName", "value": document_name}]
        if invoked_after:
            filters.append({"key": "InvokedAfter", "value": _iso(invoked_after - timedelta(minutes=5))})
        for command in _paginate(ssm.list_commands, "Commands", Filters=filters, MaxResults=50):
            if command["CommandId"] in wanted:
                progress[command["CommandId"]] = CommandProgress.from_api(command)
    return progress


def list_invocations(ssm, command_id: str, *, details: bool = True) -> list[dict]:
    """Every invocation of a command, all pages; with each plugin's output and times unless `details` is False.

    Without details a page holds each invocation's Status and StatusDetails all the same (API Reference,
    ListCommandInvocations: `Details` only adds `CommandPlugins`), and is a fraction of the size to send and parse.
    """
    return list(_paginate(ssm.list_command_invocations, "CommandInvocations", CommandId=command_id, Details=details, MaxResults=50))


def invocations_by_instance(ssm, command_ids: Sequence[str], *, details: bool = True) -> dict[str, dict]:
    """Instance id -> its invocation among the commands' (list_invocations, a later command's for an instance winning).

    Each command's pages follow one another; the commands are read a few at a time (patchflow.aws.side_by_side): a
    big wave's health check is a command per 50 nodes.
    """
    pages = read_each(lambda command_id: list_invocations(ssm, command_id, details=details), list(command_ids))
    return {invocation["InstanceId"]: invocation for invocations in pages for invocation in invocations}


def cancel_commands(ssm, command_ids: Iterable[str]) -> list[str]:
    """Best-effort cancel; returns the ids SSM accepted the cancel for."""
    cancelled = []
    for command_id in command_ids:
        try:
            ssm.cancel_command(CommandId=command_id)
            cancelled.append(command_id)
        except ssm.exceptions.ClientError:
            continue
    return cancelled


def cancel_and_settle(
    ssm,
    command_ids: Sequence[str],
    *,
    document_names: Sequence[str] = (PATCH_DOCUMENT,),
    timeout_seconds: float = 120.0,
    poll_seconds: float = 2.0,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
) -> dict[str, CommandProgress]:
    """Cancel, then wait (bounded) until SSM reports every command terminal.

    Cancel is asynchronous: commands pass through Cancelling, and an install already
    running may still finish. Only after they settle do the invocations say what really
    happened on each node; a command still unsettled at the bound is returned as it is.
    """
    cancel_commands(ssm, command_ids)
    deadline = monotonic() + timeout_seconds
    while True:
        progress = command_progress(ssm, command_ids, document_names=document_names)
        if all(c in progress and progress[c].finished for c in command_ids) or monotonic() >= deadline:
            return progress
        sleep(poll_seconds)


def _paginate(call, key: str, **kwargs) -> Iterator[dict]:
    while True:
        page = call(**kwargs)
        yield from page.get(key, [])
        token = page.get("NextToken")
        if not token:
            return
        kwargs["NextToken"] = token


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
