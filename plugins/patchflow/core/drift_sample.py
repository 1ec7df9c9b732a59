"""Which nodes a pinned stage's drift report reads: every node of a small operating system, an evenly
spread sample of a large one.

Drift is what a pinned stage's baseline approves that its manifest does not hold. Each node's missing
patches take one DescribeInstancePatches call: the API takes one instance id and has no bulk form for
Linux baselines, so reading every node of a 90,000-node stage is 90,000 calls before its first wave,
for a report that is informational only (drift is never installed and never gates). The nodes of one
operating system in a stage share one baseline, so they are offered the same approved patches, and a
sample finds what that baseline approves beyond the manifest; a patch that only a few nodes lack can be
missed, which is why the drift record says how many nodes were read of how many.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping

# A patch that one node in ten lacks escapes 50 spread nodes about once in 200 runs (0.9 ** 50), while 50 nodes
# cost about 50 calls per operating system (one more per 100 patches a node misses): seconds, however large the stage.
DRIFT_NODES_PER_OS = 50


@dataclass(frozen=True)
class DriftSample:
    """The nodes of one operating system the drift report lists, and how many of that OS the stage has."""

    listed: tuple[str, ...]
    of: int

    def to_json(self) -> list[int]:
        """The drift record's [nodes listed, nodes of the OS]."""
        return [len(self.listed), self.of]


def spread_sample(instance_ids: Iterable[str], cap: int) -> tuple[str, ...]:
    """At most `cap` of the ids, sorted: all of them when there are no more, else every (n/cap)-th of the sorted ids.

    Spread over the whole sorted range rather than its first ids, and the same ids for the same
    nodes on every run. Instance ids are random, so their order says nothing of a node's age or role.
    """
    ordered = sorted(set(instance_ids))
    if len(ordered) <= cap:
        return tuple(ordered)
    return tuple(ordered[index * len(ordered) // cap] for index in range(cap))


def drift_samples(targets: Iterable[Mapping], cap: int) -> dict[str, DriftSample]:
    """Operating system -> the nodes to list for drift, from preflight's targets (a target with no known OS counts under "")."""
    by_os: dict[str, set[str]] = {}
    for target in targets:
        by_os.setdefault(target.get("operating_system") or "", set()).add(target["instance_id"])
    return {os_name: DriftSample(spread_sample(ids, cap), len(ids)) for os_name, ids in sorted(by_os.items())}
