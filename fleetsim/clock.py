"""Simulated time: durations run `time_scale` times faster than real time.

Timestamps in API responses stay on the real clock (clients compare them with
their own); only durations are compressed. Patch approval looks at a separate
calendar that starts at the catalog's reference date, so a seed replays the
same approvals on any day.
"""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

from fleetsim.build_catalog import CATALOG_REFERENCE_DATE


class SimClock:
    def __init__(self, time_scale: float = 1.0, *, monotonic=time.monotonic, wall=None):
        if time_scale <= 0:
            raise ValueError(f"expected a time scale > 0, got {time_scale!r}")
        self.time_scale = float(time_scale)
        self._monotonic = monotonic
        self._started = monotonic()
        self._wall_started = wall or datetime.now(timezone.utc)

    def now(self) -> float:
        """Simulated seconds since start."""
        return (self._monotonic() - self._started) * self.time_scale

    def wall(self, sim_seconds: float) -> datetime:
        """The real instant at which simulated second `sim_seconds` happens."""
        return self._wall_started + timedelta(seconds=sim_seconds / self.time_scale)

    def sim_at(self, instant: datetime) -> float:
        return (instant - self._wall_started).total_seconds() * self.time_scale

    def calendar(self, sim_seconds: float) -> datetime:
        """The date patch approval rules see at simulated second `sim_seconds`."""
        return CATALOG_REFERENCE_DATE + timedelta(seconds=sim_seconds)
