"""Which task made a rehearsal's API calls: fleetsim's counters sampled while `airflow dags test` runs, each
increase put to the task that was running then.

`airflow dags test` runs one task at a time (a deferred task's trigger runs in line, then the task resumes),
and logs `[DAG TEST] running task <TaskInstance: DAG.TASK ...>` each time one starts or resumes. Calls are
put to the task whose line came last before the sample that counted them; a call counted in the sample
right after a switch may belong to the task before, so the split is exact to one sampling interval.
"""
from __future__ import annotations

import re
import time
from datetime import datetime, timezone
from typing import Callable, Iterable, Mapping

from sampler import Sampler

RUNNING_TASK = re.compile(r"^(?P<at>\d{4}-\d\d-\d\dT[\d:.]+Z) .*\[DAG TEST\] running task <TaskInstance: [^.\s]+\.(?P<task>\S+) ")


def epoch(value) -> float:
    """Epoch seconds of an ISO 8601 time (a trailing Z too) or a datetime; one without a zone is UTC."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).timestamp()


def task_switches(log_text: str) -> list[tuple[float, str]]:
    """(epoch seconds, task id) each time a task starts or resumes, in order."""
    switches = []
    for line in log_text.splitlines():
        match = RUNNING_TASK.match(line)
        if match:
            switches.append((epoch(match["at"]), match["task"]))
    return switches


def calls_by_task(samples: Iterable[tuple[float, Mapping[str, int]]], switches: list[tuple[float, str]],
                  before_first: str = "(before the first task)") -> dict[str, dict[str, int]]:
    """Per task, per API: the growth of the cumulative counts between samples, put to the task running at the later sample."""
    by_task: dict[str, dict[str, int]] = {}
    previous: Mapping[str, int] = {}
    for at, counts in samples:
        running = before_first
        for switched_at, task in switches:
            if switched_at > at:
                break
            running = task
        grown = {api: n - previous.get(api, 0) for api, n in counts.items() if n > previous.get(api, 0)}
        if grown:
            mine = by_task.setdefault(running, {})
            for api, n in grown.items():
                mine[api] = mine.get(api, 0) + n
        previous = counts
    return by_task


class CallSampler(Sampler):
    """Reads `read_counts()` (cumulative calls per API) every `interval` seconds until stopped; `samples` holds them."""

    def __init__(self, read_counts: Callable[[], Mapping[str, int]], interval: float = 0.25):
        self.read_counts = read_counts
        self.interval = interval
        self.samples: list[tuple[float, dict[str, int]]] = []

    def sample(self) -> None:
        try:
            self.samples.append((time.time(), dict(self.read_counts())))
        except Exception:  # a sample missed while the server is busy only widens the next one
            pass
