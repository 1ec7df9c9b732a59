"""bench/calls_by_task.py: a rehearsal's API calls put to the task that made them."""
from __future__ import annotations

import time
from datetime import datetime, timezone

import pytest

from tests.bench.conftest import bench_module


@pytest.fixture(scope="module")
def calls_by_task():
    with bench_module("calls_by_task") as module:
        yield module


LOG = """\
2026-12-03T13:53:05.027136Z [info     ] [DAG TEST] running task <TaskInstance: rollout_rehearsal.prod.window manual__2026-12-03T13:50:13+00:00 [TaskInstanceState.SCHEDULED] ti_id=1> [airflow.sdk.definitions.dag]
2026-12-03T13:53:05.500000Z [info     ] poll 1: 3/3 commands finished; [patchflow.rollout.triggers.CommandCompletionTrigger]
2026-12-03T13:53:10.000000Z [info     ] [DAG TEST] running task <TaskInstance: rollout_rehearsal.prod.wave_1 manual__2026-12-03T13:50:13+00:00 [TaskInstanceState.SCHEDULED] ti_id=2> [airflow.sdk.definitions.dag]
"""


def at(clock: str) -> float:
    from datetime import datetime, timezone

    return datetime.fromisoformat(f"2026-12-03T{clock}+00:00").astimezone(timezone.utc).timestamp()


def test_task_switches_come_from_the_running_task_lines_only(calls_by_task):
    assert calls_by_task.task_switches(LOG) == [(at("13:53:05.027136"), "prod.window"), (at("13:53:10"), "prod.wave_1")]


@pytest.mark.parametrize(
    "samples, expected",
    [
        (
            [(at("13:53:04"), {"A": 2}), (at("13:53:06"), {"A": 5, "B": 1}), (at("13:53:11"), {"A": 5, "B": 4})],
            {"(before the first task)": {"A": 2}, "prod.window": {"A": 3, "B": 1}, "prod.wave_1": {"B": 3}},
        ),
        (
            [(at("13:53:06"), {"A": 1}), (at("13:53:07"), {"A": 1}), (at("13:53:12"), {"A": 1})],
            {"prod.window": {"A": 1}},
        ),
        ([], {}),
    ],
    ids=["growth-goes-to-the-task-running-at-the-later-sample", "samples-without-growth-add-nothing", "no-samples"],
)
def test_calls_are_put_to_the_task_running_when_they_were_counted(calls_by_task, samples, expected):
    switches = [(at("13:53:05.027136"), "prod.window"), (at("13:53:10"), "prod.wave_1")]
    assert calls_by_task.calls_by_task(samples, switches) == expected


def test_the_sampler_reads_the_counts_while_the_block_runs_and_once_more_at_its_end(calls_by_task):
    readings = iter(range(1, 1000))
    with calls_by_task.CallSampler(lambda: {"ListCommands": next(readings)}, interval=0.01) as sampler:
        deadline = time.monotonic() + 10
        while len(sampler.samples) < 3 and time.monotonic() < deadline:
            time.sleep(0.005)
    counts = [counts["ListCommands"] for _, counts in sampler.samples]
    assert counts == list(range(1, len(counts) + 1)) and len(counts) >= 4


@pytest.mark.parametrize(
    "value, seconds",
    [
        ("2026-12-04T19:20:51.250000Z", 1796412051.25),
        ("2026-12-04T20:20:51.250000+01:00", 1796412051.25),
        ("2026-12-04T19:20:51.250000", 1796412051.25),
        (datetime(2026, 12, 4, 19, 20, 51, 250000, tzinfo=timezone.utc), 1796412051.25),
    ],
    ids=["zulu", "offset", "no-zone-is-utc", "datetime"],
)
def test_times_in_the_log_and_the_ledger_read_as_the_same_epoch_seconds(calls_by_task, value, seconds):
    assert calls_by_task.epoch(value) == seconds
