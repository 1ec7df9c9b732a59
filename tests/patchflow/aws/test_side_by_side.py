"""side_by_side.read_each: every item read once, answers in the items' order, never more than `at_once` in flight."""
from __future__ import annotations

import threading
import time

import pytest

from patchflow.aws.side_by_side import read_each


class CountingRead:
    """A read that takes a moment and counts how many run at once."""

    def __init__(self, fail_on: str | None = None):
        self.fail_on = fail_on
        self.lock = threading.Lock()
        self.running = 0
        self.most = 0
        self.started: list[str] = []

    def __call__(self, item: str) -> str:
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
            self.started.append(item)
        try:
            time.sleep(0.01)
            if item == self.fail_on:
                raise RuntimeError(f"ThrottlingException reading {item}")
            return item.upper()
        finally:
            with self.lock:
                self.running -= 1


@pytest.mark.parametrize(
    ("items", "at_once", "most"),
    [
        pytest.param([f"i-{n}" for n in range(40)], 4, 4, id="forty-items-four-at-once"),
        pytest.param([f"i-{n}" for n in range(40)], 1, 1, id="one-at-a-time"),
        pytest.param(["i-1", "i-2"], 4, 2, id="fewer-items-than-threads"),
        pytest.param(["i-1"], 4, 1, id="one-item"),
        pytest.param([], 4, 0, id="nothing-to-read"),
    ],
)
def test_every_item_is_read_once_in_order_and_never_more_than_at_once(items, at_once, most):
    read = CountingRead()
    assert (read_each(read, items, at_once=at_once), sorted(read.started), read.most) == ([i.upper() for i in items], sorted(items), most)


def test_the_first_error_is_raised_and_reads_not_yet_started_are_dropped():
    read = CountingRead(fail_on="i-2")
    items = [f"i-{n}" for n in range(200)]
    with pytest.raises(RuntimeError, match="^ThrottlingException reading i-2$"):
        read_each(read, items, at_once=2)
    assert len(read.started) < len(items)
