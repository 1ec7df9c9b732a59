"""Releases in the ledger: one immutable release.json per release, one object per event.

Layout under the plan's ledger (file:// or s3://):

    releases/<plan>/<release id>/release.json
    releases/<plan>/<release id>/events/<time>-<kind>[-<stage>]-<random>.json

Nothing is rewritten: a second run that proves the same patch set adds a
`passed` event to the existing release, a hold or a revocation is one more
event, so concurrent runs and release managers never overwrite each other.
"""
from __future__ import annotations

import json
import uuid
from dataclasses import dataclass

from patchflow.aws.ledger import Store, safe_segment
from patchflow.core.releases import Release, ReleaseEvent, Standing, standing_of


@dataclass(frozen=True)
class ReleaseStore:
    store: Store
    plan: str

    @property
    def prefix(self) -> str:
        return f"releases/{safe_segment(self.plan)}"

    def _release_key(self, release_id: str) -> str:
        return f"{self.prefix}/{safe_segment(release_id)}/release.json"

    def record(self, release: Release, first_event: ReleaseEvent) -> Release:
        """Stores `release` unless a release with its id is there already (that one stays), then the event; returns the stored one."""
        existing = self.release(release.id)
        if existing is None:
            self.store.put(self._release_key(release.id), json.dumps(release.to_json(), sort_keys=True).encode(), "application/json")
            existing = release
        self.add_event(first_event)
        return existing

    def add_event(self, event: ReleaseEvent) -> None:
        at = event.at.strftime("%Y%m%dT%H%M%S.%fZ")
        label = f"-{safe_segment(event.stage)}" if event.stage else ""
        key = f"{self.prefix}/{safe_segment(event.release_id)}/events/{at}-{event.kind}{label}-{uuid.uuid4().hex[:8]}.json"
        self.store.put(key, json.dumps(event.to_json(), sort_keys=True).encode(), "application/json")

    def release(self, release_id: str) -> Release | None:
        key = self._release_key(release_id)
        if key not in self.store.keys(key.rsplit("/", 1)[0] + "/"):
            return None
        return Release.from_json(json.loads(self.store.get(key)))

    def standings(self) -> list[Standing]:
        """Every release of the plan with its events, newest release first."""
        releases: dict[str, Release] = {}
        events: list[ReleaseEvent] = []
        for key in self.store.keys(self.prefix + "/"):
            if key.endswith("/release.json"):
                release = Release.from_json(json.loads(self.store.get(key)))
                releases[release.id] = release
            elif "/events/" in key and key.endswith(".json"):
                events.append(ReleaseEvent.from_json(json.loads(self.store.get(key))))
        standings = [standing_of(release, events) for release in releases.values()]
        return sorted(standings, key=lambda s: s.release.created_at, reverse=True)
