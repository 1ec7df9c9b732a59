"""Reads one task makes side by side: a call per node or per chunk of nodes, a few in flight at once.

After a wave's wait its task reads every invocation page, every chunk of patch states and, on
a pinned stage, a listing per node that reports something not yet installed: thousands of
calls on a big patch group. Against AWS each call is mostly waiting on the network, so the
task keeps SSM_READS_AT_ONCE of them in flight (patchflow.core.api_pools counts them in the
scope's budget). A boto3 client may be shared between threads; its adaptive retries slow
every thread down together when SSM throttles.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Sequence, TypeVar

from patchflow.core.api_pools import SSM_READS_AT_ONCE

Item = TypeVar("Item")
Answer = TypeVar("Answer")


def read_each(read: Callable[[Item], Answer], items: Sequence[Item], *, at_once: int = SSM_READS_AT_ONCE) -> list[Answer]:
    """`read(item)` for every item, in the items' order, at most `at_once` running at a time.

    The first read that raises ends the whole: reads not yet started are dropped and its error is
    raised once the ones already running have returned.
    """
    if at_once <= 1 or len(items) <= 1:
        return [read(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(at_once, len(items)), thread_name_prefix="ssm-read") as pool:
        futures = [pool.submit(read, item) for item in items]
        try:
            return [future.result() for future in futures]
        except BaseException:
            for future in futures:
                future.cancel()
            raise
