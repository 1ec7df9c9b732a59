"""Patch compliance read after it has arrived, never before.

Patch Manager reports a node's patch state some time after its invocation
ends. Read too early, DescribeInstancePatchStates still shows the previous
operation, and a gate would judge that. A state counts only once its
OperationEndTime is at or after the moment the command was sent; anything
older is unknown, never fresh.
"""
from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Callable, Collection, Mapping, Sequence

from patchflow.core.manifest import ReportedPatch
from patchflow.aws.inventory import instance_patches, patch_states

# How long a wave waits, after its commands finish, for the nodes that ran them to report.
COMPLIANCE_ARRIVAL_TIMEOUT_SECONDS = 300.0
# How often the nodes yet to report are read again. They are the last few to finish, a call per 50 of them, so
# a short interval costs little, and the wave is judged within seconds of their reports instead of a poll interval.
COMPLIANCE_REREAD_SECONDS = 5.0


def reported_since(state: Mapping, moment: datetime) -> bool:
    """Whether this DescribeInstancePatchStates entry comes from an operation that ended at or after `moment`."""
    ended = state.get("OperationEndTime")
    if isinstance(ended, str):
        try:
            ended = datetime.fromisoformat(ended.replace("Z", "+00:00"))
        except ValueError:
            return False
    if not isinstance(ended, datetime):
        return False
    if ended.tzinfo is None:
        ended = ended.replace(tzinfo=timezone.utc)
    return ended >= moment


def fresh_patch_states(
    ssm,
    instance_ids: Sequence[str],
    since: datetime,
    *,
    wait_for: Collection[str] = (),
    on_arrival: Callable[[Mapping[str, dict]], None] = lambda arrived: None,
    timeout_seconds: float = COMPLIANCE_ARRIVAL_TIMEOUT_SECONDS,
    poll_seconds: float = COMPLIANCE_REREAD_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
) -> dict[str, dict]:
    """Patch states reported since `since`, by instance; stale or absent states are left out.

    Instances in `wait_for` (those whose invocation ran the document) are read again until
    they report or `timeout_seconds` pass; the others are read once, since nothing new will
    come from a node that never ran the command. `on_arrival` gets each read's newly fresh
    states as they come: what it reads about those nodes fills the wait for the others, and
    the next read comes `poll_seconds` after the last one, however long `on_arrival` took.
    """
    fresh: dict[str, dict] = {}
    deadline = monotonic() + timeout_seconds
    reading = list(instance_ids)
    while True:
        arrived = {i: s for i, s in patch_states(ssm, reading).items() if reported_since(s, since)}
        read_at = monotonic()
        fresh.update(arrived)
        if arrived:
            on_arrival(arrived)
        reading = sorted(set(wait_for) - set(fresh))
        # Judged by when the last read went out: states that arrived while on_arrival ran are still read once more.
        if not reading or read_at >= deadline:
            return fresh
        pause = poll_seconds - (monotonic() - read_at)
        if pause > 0:
            sleep(pause)


def reported_patches(ssm, instance_id: str, states: Sequence[str]) -> list[ReportedPatch]:
    """DescribeInstancePatches items in the given states (service spelling), as the core reads them."""
    return [
        ReportedPatch(str(item.get("KBId", "")), str(item.get("Title", "")), item["State"])
        for item in instance_patches(ssm, instance_id, states=states)
    ]


def failed_patch_ids(ssm, instance_id: str) -> list[str]:
    """The ids (KBId: a KB number or a package name) of the node's patches in state Failed, one call per page."""
    return [str(item.get("KBId", "")) for item in instance_patches(ssm, instance_id, states=("Failed",))]
