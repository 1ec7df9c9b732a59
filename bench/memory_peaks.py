"""Peak resident memory of a bench and every process it starts, per role and in total, sampled while it runs.

A rehearsal is several processes (the bench, fleetsim's server, `airflow dags test` and whatever that starts), so
one process's peak says little: the total is the sum over the whole process tree at one sample, and its peak is
the largest such sum. Sampling every half second can miss a spike shorter than that; the figures are a floor.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import psutil
from sampler import Sampler

MB = 1024 * 1024


def role_of(process: psutil.Process, bench_pid: int) -> str:
    """What a process is to the rehearsal, from its command line."""
    if process.pid == bench_pid:
        return "bench"
    try:
        command = " ".join(process.cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return "other"
    if "fleetsim" in command and "serve" in command:
        return "fleetsim"
    if "dags test" in command:
        return "airflow dags test"
    if "patchflow" in command and "sync" in command:
        return "patchflow sync"
    if "airflow" in command:
        return "airflow (other)"
    return "other"


@dataclass
class PeakMemory(Sampler):
    """Samples the tree of the current process until stopped; `peaks` per role and `total_peak` in bytes."""

    interval: float = 0.5
    peaks: dict[str, int] = field(default_factory=dict)
    total_peak: int = 0
    samples: int = 0

    def __post_init__(self):
        self._root = psutil.Process()

    def sample(self) -> None:
        by_role: dict[str, int] = {}
        for process in [self._root, *self._root.children(recursive=True)]:
            try:
                rss = process.memory_info().rss
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
            role = role_of(process, self._root.pid)
            by_role[role] = by_role.get(role, 0) + rss
        for role, rss in by_role.items():
            self.peaks[role] = max(self.peaks.get(role, 0), rss)
        self.total_peak = max(self.total_peak, sum(by_role.values()))
        self.samples += 1

    def lines(self) -> list[tuple[str, str]]:
        """(role, peak) rows, largest first, then the total."""
        rows = [(role, f"{rss / MB:,.0f} MB") for role, rss in sorted(self.peaks.items(), key=lambda kv: -kv[1])]
        return rows + [("**all processes together**", f"**{self.total_peak / MB:,.0f} MB**")]
