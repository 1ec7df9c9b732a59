"""The records that travel between layers: ledger record kinds and the per-instance wave row.

A wave row is built here, once, from what SSM answered (the invocation, the
node's patch state, the judgement against a pinned manifest), and every other
reader (the stage gate, the manifest, the gate's InstanceResult) reads it back
through `WaveRow.from_json`. The JSON written to the ledger and to XCom keeps
the shape it had before these types existed, so older ledgers still read.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any, Iterable, Mapping

from patchflow.core.gates import Outcome, classify_invocation
from patchflow.core.manifest import PinnedCompliance
from patchflow.core.patch_states import is_compliant


class RecordKind(StrEnum):
    """The kind of every ledger record; the value is what the ledger stores under "kind"."""

    RUN_STARTED = "run_started"
    PREFLIGHT = "preflight"
    COMMAND_SENT = "command_sent"
    WAVE_RESULT = "wave_result"
    WAVE_CANCELLED = "wave_cancelled"
    STAGE_VERDICT = "stage_verdict"
    STAGE_FAILED = "stage_failed"
    MANIFEST = "manifest"
    RELEASE_CHOSEN = "release_chosen"  # a pinned stage's release from an earlier run, chosen at the run's start
    DRIFT = "drift"
    HEALTH_CHECK = "health_check"  # alarms and the verification command after a wave, at preflight, or during the soak
    WAITING = "waiting"  # a stage begins to wait for its window, its soak's end or its approval (patchflow.core.waits)
    APPROVAL_ANSWERED = "approval_answered"  # approved, rejected or timed out (patchflow.core.approval_answers)
    RUN_FINISHED = "run_finished"


def online(target: Mapping) -> bool:
    """Whether preflight saw the node's agent online (targets from before ping status was recorded count as online)."""
    return target.get("ping_status", "Online") == "Online"


def not_sent_reason(target: Mapping, invocation: Mapping | None) -> str | None:
    """Why a node has no invocation because it was never sent to, or None when it was sent to (or should have been)."""
    if invocation is not None or online(target):
        return None
    return f"NotSent: agent {target.get('ping_status')} at preflight"


@dataclass(frozen=True)
class WaveRow:
    """What happened on one instance in one wave, as the ledger's wave_result and the wave's XCom carry it."""

    instance_id: str
    operating_system: str | None
    outcome: Outcome
    status_details: str = ""
    compliant: bool | None = None  # None: no patch state was reported
    pending_reboot: bool = False
    missing: int = 0
    failed_patches: int = 0
    command_id: str = ""
    # Only a pinned stage's install judges against the manifest; other rows leave these out of their JSON.
    not_installed: tuple[str, ...] | None = None
    drift: int | None = None
    moved_on: tuple[Mapping[str, str], ...] | None = None
    # Only a wave whose stage has a health check: how it ended on this node (patchflow.core.health.VerifiedNode
    # without the instance id: passed, status_details, response_code, output_tail); left out of the JSON otherwise.
    verification: Mapping[str, Any] | None = None
    # Only a failed node whose patch state counts failed patches: their ids (KB ids or package names), sorted; rows
    # of other nodes, and rows written before this field existed, leave it out of their JSON.
    failed_patch_ids: tuple[str, ...] | None = None

    @classmethod
    def from_invocation(cls, target: Mapping, invocation: Mapping | None, not_sent: str | None) -> "WaveRow":
        """The row before the patch state is read: the node's outcome from its invocation (or from why it has none)."""
        if not_sent:
            outcome, details, command_id = Outcome.UNREACHABLE, not_sent, ""
        elif invocation is None:
            outcome, details, command_id = Outcome.NOT_DISPATCHED, "NoInvocation", ""
        else:
            outcome = classify_invocation(invocation.get("Status", ""), invocation.get("StatusDetails", ""))
            details, command_id = invocation.get("StatusDetails", ""), invocation["CommandId"]
        return cls(target["instance_id"], target.get("operating_system"), outcome, details, command_id=command_id)

    def with_patch_state(self, state: Mapping) -> "WaveRow":
        """The node's DescribeInstancePatchStates item: compliance, reboot and patch counts."""
        return replace(
            self,
            compliant=is_compliant(state),
            pending_reboot=int(state.get("InstalledPendingRebootCount", 0) or 0) > 0,
            missing=int(state.get("MissingCount", 0) or 0),
            failed_patches=int(state.get("FailedCount", 0) or 0),
        )

    @property
    def lists_failed_patches(self) -> bool:
        """Whether the node's failed patches are worth naming: only a failed install that failed patches, so the
        DescribeInstancePatches calls grow with the failures, not with the fleet."""
        return self.outcome is Outcome.FAILED and self.failed_patches > 0

    def with_failed_patch_ids(self, patch_ids: Iterable[str]) -> "WaveRow":
        return replace(self, failed_patch_ids=tuple(sorted(set(patch_ids))))

    def judged(self, judgement: PinnedCompliance) -> "WaveRow":
        """A pinned stage's row: compliant means the manifest is installed, whatever the node's own baseline says."""
        return replace(
            self,
            compliant=judgement.compliant,
            not_installed=tuple(judgement.not_installed),
            drift=len(judgement.drift),
            moved_on=tuple(m.to_json() for m in judgement.moved_on),
        )

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "instance_id": self.instance_id,
            "operating_system": self.operating_system,
            "outcome": self.outcome.value,
            "status_details": self.status_details,
            "compliant": self.compliant,
            "pending_reboot": self.pending_reboot,
            "missing": self.missing,
            "failed_patches": self.failed_patches,
            "command_id": self.command_id,
        }
        if self.not_installed is not None:
            data.update(not_installed=list(self.not_installed), drift=self.drift, moved_on=[dict(m) for m in self.moved_on or ()])
        if self.verification is not None:
            data["verification"] = dict(self.verification)
        if self.failed_patch_ids is not None:
            data["failed_patch_ids"] = list(self.failed_patch_ids)
        return data

    @classmethod
    def from_json(cls, data: Mapping) -> "WaveRow":
        """Rows from any ledger or XCom: keys that older rows lack take their defaults."""
        not_installed = data.get("not_installed")
        return cls(
            instance_id=data["instance_id"],
            operating_system=data.get("operating_system"),
            outcome=Outcome(data["outcome"]),
            status_details=data.get("status_details", ""),
            compliant=data.get("compliant"),
            pending_reboot=bool(data.get("pending_reboot")),
            missing=int(data.get("missing", 0) or 0),
            failed_patches=int(data.get("failed_patches", 0) or 0),
            command_id=data.get("command_id", ""),
            not_installed=None if not_installed is None else tuple(not_installed),
            drift=data.get("drift"),
            moved_on=None if not_installed is None else tuple(dict(m) for m in data.get("moved_on") or ()),
            verification=None if data.get("verification") is None else dict(data["verification"]),
            failed_patch_ids=None if data.get("failed_patch_ids") is None else tuple(data["failed_patch_ids"]),
        )


def patched_instances(rows: Iterable[WaveRow]) -> dict[str, str]:
    """Instance id -> operating system of every row whose install succeeded on a node of known OS."""
    return {row.instance_id: row.operating_system for row in rows if row.outcome is Outcome.SUCCEEDED and row.operating_system}
