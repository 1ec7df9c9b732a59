"""Compliance is read only once it has arrived: stale states are unknown, never fresh."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from patchflow.aws.compliance import failed_patch_ids, fresh_patch_states, reported_since

SENT = datetime(2026, 12, 6, 2, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        pytest.param({"OperationEndTime": SENT + timedelta(seconds=90)}, True, id="ended-after-the-send"),
        pytest.param({"OperationEndTime": SENT}, True, id="ended-at-the-send"),
        pytest.param({"OperationEndTime": SENT - timedelta(days=1)}, False, id="yesterdays-scan"),
        pytest.param({"OperationEndTime": "2026-12-06T02:05:00Z"}, True, id="iso-text"),
        pytest.param({"OperationEndTime": datetime(2026, 12, 6, 2, 5)}, True, id="naive-read-as-utc"),
        pytest.param({"OperationEndTime": "yesterday"}, False, id="unreadable"),
        pytest.param({}, False, id="no-end-time"),
    ],
)
def test_reported_since(state, expected):
    assert reported_since(state, SENT) is expected


class ArrivingStates:
    """DescribeInstancePatchStates whose entries arrive after a number of reads each."""

    def __init__(self, arrives_after: dict[str, int]):
        self.arrives_after = arrives_after
        self.reads: list[list[str]] = []

    def describe_instance_patch_states(self, InstanceIds, MaxResults, **_):
        self.reads.append(list(InstanceIds))
        n = len(self.reads)
        states = []
        for instance_id in InstanceIds:
            after = self.arrives_after.get(instance_id)
            ended = SENT + timedelta(minutes=1) if after is not None and n > after else SENT - timedelta(days=3)
            states.append({"InstanceId": instance_id, "OperationEndTime": ended})
        return {"InstancePatchStates": states}


class Clock:
    """A monotonic clock that moves only when slept on or told to."""

    def __init__(self):
        self.now = 0.0
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_nodes_that_ran_the_command_are_read_again_until_they_report_and_the_others_once():
    ssm, clock = ArrivingStates({"i-ran": 2, "i-fast": 0}), Clock()
    fresh = fresh_patch_states(ssm, ["i-fast", "i-never", "i-ran"], SENT, wait_for=["i-fast", "i-ran"], poll_seconds=5, sleep=clock.sleep,
                               monotonic=lambda: clock.now)
    assert (sorted(fresh), ssm.reads, clock.slept) == (["i-fast", "i-ran"], [["i-fast", "i-never", "i-ran"], ["i-ran"], ["i-ran"]], [5, 5])


def test_what_is_read_about_the_nodes_that_reported_fills_the_wait_for_the_others():
    ssm, clock, arrivals = ArrivingStates({"i-a": 0, "i-b": 0, "i-late": 2}), Clock(), []

    def list_their_patches(arrived):
        arrivals.append((clock.now, sorted(arrived)))
        clock.now += 2 * len(arrived)

    fresh = fresh_patch_states(ssm, ["i-a", "i-b", "i-late"], SENT, wait_for=["i-a", "i-b", "i-late"], on_arrival=list_their_patches,
                               poll_seconds=5, sleep=clock.sleep, monotonic=lambda: clock.now)
    # Two nodes listed in 4 s leave 1 s of the 5 s pause; the late node is listed as soon as its state is read.
    assert (sorted(fresh), arrivals, clock.slept, ssm.reads) == (
        ["i-a", "i-b", "i-late"], [(0.0, ["i-a", "i-b"]), (10.0, ["i-late"])], [1.0, 5.0], [["i-a", "i-b", "i-late"], ["i-late"], ["i-late"]])


def test_reads_that_outlast_the_bound_still_leave_one_more_read_for_the_nodes_that_reported_meanwhile():
    ssm, clock = ArrivingStates({"i-a": 0, "i-late": 1}), Clock()

    def slow_listing(arrived):
        clock.now += 400

    fresh = fresh_patch_states(ssm, ["i-a", "i-late"], SENT, wait_for=["i-a", "i-late"], on_arrival=slow_listing, timeout_seconds=300, poll_seconds=5,
                               sleep=clock.sleep, monotonic=lambda: clock.now)
    assert (sorted(fresh), clock.slept, len(ssm.reads)) == (["i-a", "i-late"], [], 2)


def test_a_node_that_never_reports_is_given_up_on_at_the_bound():
    ssm, clock = ArrivingStates({}), Clock()
    fresh = fresh_patch_states(ssm, ["i-silent"], SENT, wait_for=["i-silent"], timeout_seconds=30, poll_seconds=10, sleep=clock.sleep,
                               monotonic=lambda: clock.now)
    assert (fresh, len(ssm.reads)) == ({}, 4)


class PatchPages:
    """DescribeInstancePatches answering in two pages, recording each request."""

    def __init__(self):
        self.requests: list[dict] = []

    def describe_instance_patches(self, **request):
        self.requests.append(request)
        if "NextToken" not in request:
            return {"Patches": [{"KBId": "KB5034441", "State": "Failed"}], "NextToken": "page-2"}
        return {"Patches": [{"KBId": "curl.x86_64", "State": "Failed"}]}


def test_failed_patch_ids_asks_for_failed_patches_only_and_reads_every_page():
    ssm = PatchPages()
    assert (failed_patch_ids(ssm, "i-1"), ssm.requests) == (
        ["KB5034441", "curl.x86_64"],
        [
            {"InstanceId": "i-1", "Filters": [{"Key": "State", "Values": ["Failed"]}], "MaxResults": 100},
            {"InstanceId": "i-1", "Filters": [{"Key": "State", "Values": ["Failed"]}], "MaxResults": 100, "NextToken": "page-2"},
        ],
    )
