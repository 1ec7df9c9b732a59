"""What a report says of pinning: the manifest a source stage wrote, the manifest a pinned stage installed,
the release it came from, the pinned versions the repositories moved on from, and how many nodes of
each operating system a pinned stage's drift report read (patchflow.core.drift_sample).

Part of the report's typed records (patchflow.core.report_records), which carries them on each Stage.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from patchflow.core.report_fields import COUNT, Kind

# report.json's drift_read: operating system -> [nodes listed, nodes of that OS in the stage].
READ_COUNTS: Kind = (
    lambda v: isinstance(v, Mapping) and all(isinstance(pair, list) and len(pair) == 2 and all(COUNT[0](n) for n in pair) for pair in v.values()),
    "a mapping of [listed, of] pairs of integers",
)


@dataclass(frozen=True)
class StageManifest:
    """The manifest a pin-source stage wrote: its content hash, how many patches, where it is stored."""

    hash: str | None
    size: int = 0
    location: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"hash": self.hash, "size": self.size, "location": self.location}


@dataclass(frozen=True)
class Pin:
    """The manifest a pinned stage installed: its source stage and content hash."""

    stage: str
    hash: str
    release: str = ""  # the release id; runs from before releases existed have none

    def to_json(self) -> dict[str, str]:
        return {"stage": self.stage, "hash": self.hash, **({"release": self.release} if self.release else {})}


@dataclass(frozen=True)
class ChosenRelease:
    """The release a pinned stage installs from an earlier run, as the run's start chose it."""

    id: str
    source_stage: str
    source_run_id: str
    created_at: str
    age_seconds: int
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "source_stage": self.source_stage, "source_run_id": self.source_run_id,
            "created_at": self.created_at, "age_seconds": self.age_seconds, "reason": self.reason,
        }


@dataclass(frozen=True)
class MovedOn:
    """A pinned patch whose version the repositories no longer offer, and the instances that reported it."""

    id: str
    pinned_title: str
    offered_title: str
    instances: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "pinned_title": self.pinned_title, "offered_title": self.offered_title, "instances": list(self.instances)}
