"""Run-scoped wave tags: a wave that is only part of its patch group still goes out as one command.

SendCommand takes at most 50 InstanceIds; Targets reach "tens, hundreds, or thousands of nodes at
once" (API Reference, SendCommand). So the wave's EC2 instances get an EC2 tag `patchflow:wave`
whose value names the run, stage, wave and OS part (patchflow.aws.commands.wave_requests), and one
command targets the group's tag and that tag together; SSM's MaxConcurrency and MaxErrors then
apply to the whole wave. The tags are removed once the wave's result is recorded, and the run's end
sweeps any its tasks left behind.

AWS does not promise that a new tag is visible to Run Command's target resolution at once (the EC2
API is eventually consistent: "Eventual consistency in the Amazon EC2 API"). So after sending, the
command's resolved TargetCount is compared with the nodes tagged; the nodes it did not reach get a
follow-up command by InstanceIds (patchflow.aws.commands.follow_up_requests). A node reached by
neither has no invocation and counts as not dispatched, never as patched.

Every function takes boto3 clients, so the same code runs against fleetsim, moto or AWS.
"""
from __future__ import annotations

import time
from typing import Callable, Iterable, Mapping, Sequence

from patchflow.aws.commands import WAVE_TAG_KEY, PatchCommandRequest, _paginate, chunked, command_progress

# CreateTags and DeleteTags take "up to 1000 resource IDs. We recommend breaking up this request into smaller
# batches." (EC2 API Reference, CreateTags).
TAG_BATCH = 500
# How long a send waits for a wave-tag command's targets to resolve before it leaves the command as it is.
RESOLVE_TIMEOUT_SECONDS = 120.0


def tag_wave_nodes(ec2, requests: Iterable[PatchCommandRequest]) -> list[str]:
    """Put each wave-tag request's tag on its nodes; the tag values put, for the clean-up. Tagging again with the
    same value changes nothing, so a retried task tags its wave again before it re-attaches to its command."""
    values = []
    for request in requests:
        if request.wave_tag is None:
            continue
        key, value = request.wave_tag
        for batch in chunked(list(request.instance_ids), TAG_BATCH):
            ec2.create_tags(Resources=list(batch), Tags=[{"Key": key, "Value": value}])
        values.append(value)
    return values


def untargeted_nodes(
    ssm,
    command_id: str,
    tagged: Sequence[str],
    *,
    timeout_seconds: float = RESOLVE_TIMEOUT_SECONDS,
    poll_seconds: float = 5.0,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
) -> list[str] | None:
    """The tagged nodes the wave-tag command did not reach; None when its targets did not resolve within the bound.

    A command reports TargetCount 0 until its targets resolve, and one that resolved to no node ends at once
    ("No Instances In Tag"). When every tagged node was reached, as when the tag was visible in time, this costs
    one ListCommands. Otherwise the count is read until it holds still, and the nodes reached are read from the
    command's invocations: "a command invocation is created for each requested managed node ID" (API Reference, ListCommandInvocations).
    """
    deadline = monotonic() + timeout_seconds
    last_count = None
    while True:
        progress = command_progress(ssm, [command_id]).get(command_id)
        if progress is not None:
            count = progress.target_count
            if count >= len(tagged):
                return []
            if progress.finished or (count and count == last_count):
                reached = invoked_nodes(ssm, command_id) if count else set()
                if len(reached) >= count:
                    return sorted(set(tagged) - reached)
            last_count = count or None
        if monotonic() >= deadline:
            return None
        sleep(poll_seconds)


def invoked_nodes(ssm, command_id: str) -> set[str]:
    return {i["InstanceId"] for i in _paginate(ssm.list_command_invocations, "CommandInvocations", CommandId=command_id, MaxResults=50)}


def remove_wave_tags(ec2, values: Sequence[str]) -> int:
    """Remove the wave tags with these values from every instance carrying one; how many tags were removed."""
    return _remove(ec2, _tagged(ec2, list(values)))


def sweep_run(ec2_in: Mapping[str, Callable[[], object]], run_token: str, warn: Callable[[str], None]) -> int:
    """Remove every wave tag of the run wherever it patched (what a killed wave task, or one whose clean-up failed,
    left behind): `ec2_in` maps each account and Region, by name, to a factory of its EC2 client. A place that
    cannot be swept is named through `warn`, and the others are swept all the same."""
    removed = 0
    for where, ec2_client in ec2_in.items():
        try:
            ec2 = ec2_client()
            # Filter values take * as a wildcard (Amazon EC2 User Guide, "Filter your resources"); the prefix is
            # checked again here, so a service reading it literally only makes the sweep find nothing.
            found = _tagged(ec2, [f"{run_token} *"])
            removed += _remove(ec2, {value: ids for value, ids in found.items() if value.startswith(f"{run_token} ")})
        except Exception as error:  # the run's report must not depend on a clean-up
            warn(f"wave tags of this run not swept in {where}: {error}")
    return removed


def _tagged(ec2, value_filters: list[str]) -> dict[str, list[str]]:
    """Instances carrying a wave tag whose value matches a filter, by value (DescribeTags, 1000 a page)."""
    if not value_filters:
        return {}
    filters = [
        {"Name": "key", "Values": [WAVE_TAG_KEY]},
        {"Name": "resource-type", "Values": ["instance"]},
        {"Name": "value", "Values": value_filters},
    ]
    found: dict[str, list[str]] = {}
    for page in ec2.get_paginator("describe_tags").paginate(Filters=filters, PaginationConfig={"PageSize": 1000}):
        for tag in page.get("Tags", []):
            found.setdefault(tag.get("Value", ""), []).append(tag["ResourceId"])
    return found


def _remove(ec2, by_value: dict[str, list[str]]) -> int:
    # DeleteTags names the value: a tag another run has put on the node since is left alone.
    for value, ids in sorted(by_value.items()):
        for batch in chunked(sorted(ids), TAG_BATCH):
            ec2.delete_tags(Resources=list(batch), Tags=[{"Key": WAVE_TAG_KEY, "Value": value}])
    return sum(len(ids) for ids in by_value.values())
