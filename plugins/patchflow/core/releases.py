"""Releases: a patch set a source stage proved, promoted stage to stage across runs and days.

A release is the manifest a source stage installed (see patchflow.core.manifest)
with its evidence: the run and stage that installed it, the gate verdict, when,
and the content hash. It is written once and never changed; what happens to it
afterwards is a list of events (passed a stage, blocked at a stage, held,
released from hold, revoked), each its own ledger object, so two runs never
race on one file. Where a release stands is computed from those events.

A stage whose pin source is not in its own run installs the newest release
that passed the stage before it, has baked there for the plan's `min_bake`
and is no older than its `max_age`; a release manager can name one instead.
The choice is pure, so every rule is a table test.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Iterable, Mapping, Sequence

from patchflow.core.durations import spoken_duration

RELEASE_ID_PREFIX = "r-"


def release_id_for(content_hash: str) -> str:
    """A release's id comes from its content: the same patch set proved twice is one release."""
    return RELEASE_ID_PREFIX + content_hash[:16]


class ReleaseEventKind(StrEnum):
    PASSED = "passed"  # a stage's gate passed while installing it (the source stage's gate creates it)
    BLOCKED = "blocked"  # a stage's gate blocked while installing it
    HELD = "held"  # a release manager stopped it from being installed until released
    RELEASED = "released"  # the hold is lifted
    REVOKED = "revoked"  # never installed again


@dataclass(frozen=True)
class Release:
    id: str
    plan: str
    source_stage: str
    source_dag_id: str
    source_run_id: str
    created_at: datetime
    content_hash: str
    size: int
    manifest_location: str
    override_lists: Mapping[str, str]  # OperatingSystem -> the InstallOverrideList the source stage wrote
    gate_summary: str = ""

    def to_json(self) -> dict:
        return {
            "id": self.id,
            "plan": self.plan,
            "source_stage": self.source_stage,
            "source_dag_id": self.source_dag_id,
            "source_run_id": self.source_run_id,
            "created_at": self.created_at.isoformat(),
            "content_hash": self.content_hash,
            "size": self.size,
            "manifest_location": self.manifest_location,
            "override_lists": dict(sorted(self.override_lists.items())),
            "gate_summary": self.gate_summary,
        }

    @classmethod
    def from_json(cls, data: Mapping) -> "Release":
        return cls(
            id=data["id"],
            plan=data["plan"],
            source_stage=data["source_stage"],
            source_dag_id=data["source_dag_id"],
            source_run_id=data["source_run_id"],
            created_at=datetime.fromisoformat(data["created_at"]),
            content_hash=data["content_hash"],
            size=int(data["size"]),
            manifest_location=data["manifest_location"],
            override_lists=dict(data.get("override_lists", {})),
            gate_summary=data.get("gate_summary", ""),
        )


@dataclass(frozen=True)
class ReleaseEvent:
    release_id: str
    kind: ReleaseEventKind
    at: datetime
    stage: str = ""
    run_id: str = ""
    by: str = ""
    reason: str = ""

    def to_json(self) -> dict:
        return {
            "release_id": self.release_id,
            "kind": str(self.kind),
            "at": self.at.isoformat(),
            "stage": self.stage,
            "run_id": self.run_id,
            "by": self.by,
            "reason": self.reason,
        }

    @classmethod
    def from_json(cls, data: Mapping) -> "ReleaseEvent":
        return cls(
            release_id=data["release_id"],
            kind=ReleaseEventKind(data["kind"]),
            at=datetime.fromisoformat(data["at"]),
            stage=data.get("stage", ""),
            run_id=data.get("run_id", ""),
            by=data.get("by", ""),
            reason=data.get("reason", ""),
        )


@dataclass(frozen=True)
class Standing:
    """Where one release stands: the stages it passed or was blocked at, and whether it is held or revoked."""

    release: Release
    passed: Mapping[str, ReleaseEvent] = field(default_factory=dict)  # stage -> the first pass not voided by a later block
    blocked: Mapping[str, ReleaseEvent] = field(default_factory=dict)  # stage -> the latest block
    hold: ReleaseEvent | None = None
    revocation: ReleaseEvent | None = None

    def age(self, now: datetime) -> timedelta:
        return now - self.release.created_at

    def summary(self, stage_order: Sequence[str], now: datetime) -> str:
        """One line a release manager reads: 'r-1a2b… (3 d old): dev passed Tue 01 Dec 02:10 UTC, test blocked …'."""
        steps = []
        for stage in stage_order:
            if stage in self.passed:
                steps.append(f"{stage} passed {_when(self.passed[stage].at)}")
            elif stage in self.blocked:
                steps.append(f"{stage} blocked {_when(self.blocked[stage].at)}")
        if self.revocation is not None:
            steps.append(f"revoked {_when(self.revocation.at)} by {self.revocation.by}: {self.revocation.reason}")
        elif self.hold is not None:
            steps.append(f"held {_when(self.hold.at)} by {self.hold.by}: {self.hold.reason}")
        return f"{self.release.id} ({format_duration(self.age(now))} old): " + (", ".join(steps) or "no stage passed yet")


def format_duration(delta: timedelta) -> str:
    """An age or a wait as people say it: '3 days 4 hours', '2 hours 5 minutes', '40 seconds'."""
    seconds = max(0, int(delta.total_seconds()))
    unit = 3600 if seconds >= 86400 else 60 if seconds >= 3600 else 1
    return spoken_duration(seconds - seconds % unit)


def _when(moment: datetime) -> str:
    return moment.strftime("%a %d %b %H:%M %Z").strip()


def standing_of(release: Release, events: Iterable[ReleaseEvent]) -> Standing:
    """Where `release` stands after its events, in time order.

    A block at a stage after it passed there voids that pass: a health check or a soak
    can find the service broken after the gate let the release through. A later pass
    at that stage counts again, from its own time (for baking).
    """
    passed: dict[str, ReleaseEvent] = {}
    blocked: dict[str, ReleaseEvent] = {}
    hold = revocation = None
    for event in sorted((e for e in events if e.release_id == release.id), key=lambda e: e.at):
        if event.kind == ReleaseEventKind.PASSED:
            passed.setdefault(event.stage, event)
        elif event.kind == ReleaseEventKind.BLOCKED:
            blocked[event.stage] = event
            passed.pop(event.stage, None)
        elif event.kind == ReleaseEventKind.HELD:
            hold = event
        elif event.kind == ReleaseEventKind.RELEASED:
            hold = None
        elif event.kind == ReleaseEventKind.REVOKED and revocation is None:
            revocation = event  # the first revocation stands; a revoked release is never installed again
    return Standing(release, passed, blocked, hold, revocation)


@dataclass(frozen=True)
class PromotionRule:
    """What a stage asks of a release it installs from an earlier run."""

    stage: str
    after_stage: str  # the release must have passed this stage
    min_bake_seconds: int = 0  # ... at least this long ago
    max_age_seconds: int | None = None  # and be no older than this


@dataclass(frozen=True)
class ReleaseChoice:
    standing: Standing | None
    reason: str  # why this release, or why none

    @property
    def release(self) -> Release | None:
        return self.standing.release if self.standing else None


def refusal(standing: Standing, rule: PromotionRule, now: datetime) -> str | None:
    """Why `standing`'s release may not be installed by `rule.stage` now, or None when it may."""
    release = standing.release
    if standing.revocation is not None:
        event = standing.revocation
        return f"release {release.id} was revoked {_when(event.at)} by {event.by or 'someone unnamed'}: {event.reason or 'no reason given'}"
    if standing.hold is not None:
        event = standing.hold
        return f"release {release.id} is held since {_when(event.at)} by {event.by or 'someone unnamed'}: {event.reason or 'no reason given'}"
    passed = standing.passed.get(rule.after_stage)
    if passed is None:
        where = f"; it was blocked at {rule.after_stage} {_when(standing.blocked[rule.after_stage].at)}" if rule.after_stage in standing.blocked else ""
        return f"release {release.id} has not passed {rule.after_stage}{where}"
    baked = now - passed.at
    if baked < timedelta(seconds=rule.min_bake_seconds):
        left = timedelta(seconds=rule.min_bake_seconds) - baked
        return (f"release {release.id} passed {rule.after_stage} {format_duration(baked)} ago; {rule.stage} wants it baked there for "
                f"{format_duration(timedelta(seconds=rule.min_bake_seconds))} (another {format_duration(left)})")
    if rule.max_age_seconds is not None and standing.age(now) > timedelta(seconds=rule.max_age_seconds):
        return (f"release {release.id} is {format_duration(standing.age(now))} old, older than {rule.stage}'s max_age of "
                f"{format_duration(timedelta(seconds=rule.max_age_seconds))}")
    return None


def choose_release(standings: Iterable[Standing], rule: PromotionRule, now: datetime, requested: str = "") -> ReleaseChoice:
    """The release `rule.stage` installs now: the one requested, else the newest that may be installed."""
    standings = sorted(standings, key=lambda s: s.release.created_at, reverse=True)
    if requested:
        named = next((s for s in standings if s.release.id == requested), None)
        if named is None:
            known = ", ".join(s.release.id for s in standings[:5]) or "none"
            return ReleaseChoice(None, f"no release {requested} in the ledger (newest: {known})")
        why_not = refusal(named, rule, now)
        return ReleaseChoice(None, why_not) if why_not else ReleaseChoice(named, f"release {requested}, named by the run's params")
    if not standings:
        return ReleaseChoice(None, f"no release in the ledger yet: run {rule.after_stage} first")
    refusals = []
    for standing in standings:
        why_not = refusal(standing, rule, now)
        if why_not is None:
            passed = standing.passed[rule.after_stage]
            return ReleaseChoice(standing, f"newest release that passed {rule.after_stage} ({_when(passed.at)}, run {passed.run_id or '?'})")
        refusals.append(why_not)
    shown = "; ".join(refusals[:3]) + (f"; and {len(refusals) - 3} older" if len(refusals) > 3 else "")
    return ReleaseChoice(None, f"no release {rule.stage} may install: {shown}")
