"""CancelCommand is asynchronous and best effort (hand-moved clock)."""
from __future__ import annotations

import pytest

from fleetsim.patching import HAVE_INSTALLED
from fleetsim.runcommand import run_finishes_despite_cancel
from tests.fleetsim.timeline import HandClockFleet

# Missing everything, so an Install always has something to install; 100 s of work plus a 120 s reboot.
WEB = {"groups": [{"name": "web", "count": 3, "platform": "AMAZON_LINUX_2023", "execution_seconds": 100, "missing_share": 1.0}]}
# With seed 5 the first instance picks the command up at simulated second 4.1, so its run ends at 224.1 (half-way at 114.1).
FIRST_RUN_ENDS = 224.2


@pytest.mark.parametrize(
    "started, ends, cancel_arrives, finishes",
    [(0, 100, 10, False), (0, 100, 49.9, False), (0, 100, 50, True), (0, 100, 99, True), (30, 230, 120, False), (30, 230, 131, True)],
    ids=["early", "just-before-half-way", "at-half-way", "nearly-done", "offset-start-before", "offset-start-after"],
)
def test_a_run_past_half_way_finishes_despite_the_cancel(started, ends, cancel_arrives, finishes):
    assert run_finishes_despite_cancel(started=started, ends=ends, cancel_arrives=cancel_arrives) is finishes


def installed_count(fleet: HandClockFleet, instance_id: str) -> int:
    return sum(1 for have in fleet.instances[instance_id].have.values() if have == HAVE_INSTALLED)


def test_cancel_shows_cancelling_first_and_settles_pending_invocations_a_few_seconds_later():
    fleet = HandClockFleet(WEB)
    command = fleet.send(fleet.ids(), "Install", MaxConcurrency="1")
    fleet.at(80)
    fleet.cancel(command)
    assert set(fleet.details(command).values()) == {"Cancelling"}
    assert fleet.summary(command) == {"Status": "Cancelling", "StatusDetails": "Cancelling", "CompletedCount": 0, "ErrorCount": 0,
                                      "DeliveryTimedOutCount": 0}
    fleet.at(86)
    # The first one was running but not half-way: its agent stopped it and nothing was installed.
    assert set(fleet.details(command).values()) == {"Cancelled"}
    assert fleet.summary(command) == {"Status": "Cancelled", "StatusDetails": "Cancelled", "CompletedCount": 3, "ErrorCount": 0,
                                      "DeliveryTimedOutCount": 0}
    assert [installed_count(fleet, i) for i in fleet.ids()] == [0, 0, 0]


def test_a_run_past_half_way_installs_its_patches_and_ends_success_before_the_command_settles_cancelled():
    fleet = HandClockFleet(WEB)
    command = fleet.send(fleet.ids(), "Install", MaxConcurrency="1")
    running, *queued = fleet.ids()
    fleet.at(150)
    fleet.cancel(command)
    fleet.at(156)
    assert fleet.details(command) == {running: "Cancelling", **{i: "Cancelled" for i in queued}}
    assert fleet.summary(command)["Status"] == "Cancelling"
    fleet.at(FIRST_RUN_ENDS)
    assert fleet.details(command) == {running: "Success", **{i: "Cancelled" for i in queued}}
    assert fleet.summary(command) == {"Status": "Cancelled", "StatusDetails": "Cancelled", "CompletedCount": 3, "ErrorCount": 0,
                                      "DeliveryTimedOutCount": 0}
    planned = command.invocations[running].result.installed_ids
    assert installed_count(fleet, running) == len(planned) > 0


def test_cancelling_only_a_run_that_then_finishes_ends_the_command_as_its_runs_ended():
    fleet = HandClockFleet({"groups": [{**WEB["groups"][0], "count": 1}]})
    command = fleet.send(fleet.ids(), "Install")
    fleet.at(150)
    fleet.cancel(command)
    fleet.at(FIRST_RUN_ENDS)
    assert fleet.summary(command) == {"Status": "Success", "StatusDetails": "Success", "CompletedCount": 1, "ErrorCount": 0,
                                      "DeliveryTimedOutCount": 0}


def test_a_cancel_never_reaches_an_agent_that_dropped_mid_run():
    fleet = HandClockFleet({"groups": [{**WEB["groups"][0], "count": 1, "offline_mid_run_share": 1.0}]})
    command = fleet.send(fleet.ids(), "Scan", TimeoutSeconds=600)
    fleet.at(80)
    fleet.cancel(command)
    fleet.at(600 + 7200 - 1)
    assert fleet.summary(command)["Status"] == "Cancelling"
    fleet.at(600 + 7200)
    assert fleet.details(command) == {fleet.ids()[0]: "Delivery Timed Out"}
