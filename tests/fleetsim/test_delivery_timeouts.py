"""Agents that are not Online, and what TimeoutSeconds does to invocations that have not started (hand-moved clock)."""
from __future__ import annotations

import pytest

from tests.fleetsim.timeline import HandClockFleet

AL2023 = {"platform": "AMAZON_LINUX_2023", "execution_seconds": 100}
# TimeoutSeconds 600 + AWS-RunPatchBaseline's execution timeout 7200: the command expires at simulated second 7800.
EXPIRES = 7800


def lost_and_online(**top_level) -> dict:
    return {**top_level, "groups": [
        {**AL2023, "name": "lost", "count": 2, "ping_status": "ConnectionLost"},
        {**AL2023, "name": "online", "count": 1},
    ]}


def by_group(fleet: HandClockFleet, command) -> dict[str, list[str]]:
    details = fleet.details(command)
    return {name: [details[i] for i in fleet.ids(name)] for name in ("lost", "online")}


def test_by_default_an_agent_that_is_not_online_keeps_its_invocation_pending_until_the_command_expires():
    fleet = HandClockFleet(lost_and_online())
    command = fleet.send(fleet.ids(), "Scan", TimeoutSeconds=600)
    fleet.at(700)
    assert by_group(fleet, command) == {"lost": ["Pending", "Pending"], "online": ["Success"]}
    assert fleet.summary(command) == {"Status": "InProgress", "StatusDetails": "In Progress", "CompletedCount": 1, "ErrorCount": 0,
                                      "DeliveryTimedOutCount": 0}
    fleet.at(EXPIRES - 1)
    assert by_group(fleet, command) == {"lost": ["Pending", "Pending"], "online": ["Success"]}
    fleet.at(EXPIRES)
    assert by_group(fleet, command) == {"lost": ["Delivery Timed Out", "Delivery Timed Out"], "online": ["Success"]}
    # Delivery time-outs do not count toward MaxErrors, but MaxErrors 0 of them makes the command TimedOut.
    assert fleet.summary(command) == {"Status": "TimedOut", "StatusDetails": "Delivery Timed Out", "CompletedCount": 3, "ErrorCount": 0,
                                      "DeliveryTimedOutCount": 2}


def test_offline_delivery_undeliverable_ends_those_invocations_at_once_without_failing_the_command():
    fleet = HandClockFleet(lost_and_online(offline_delivery="undeliverable"))
    command = fleet.send(fleet.ids(), "Scan", TimeoutSeconds=600)
    fleet.at(200)
    assert by_group(fleet, command) == {"lost": ["Undeliverable", "Undeliverable"], "online": ["Success"]}
    assert fleet.summary(command) == {"Status": "Success", "StatusDetails": "Success", "CompletedCount": 3, "ErrorCount": 0,
                                      "DeliveryTimedOutCount": 0}


def test_an_agent_back_online_before_timeout_seconds_gets_the_command_and_runs_it():
    fleet = HandClockFleet(lost_and_online())
    command = fleet.send(fleet.ids(), "Scan", TimeoutSeconds=600)
    fleet.at(200)
    back, still_lost = fleet.ids("lost")
    fleet.instances[back].ping_status = "Online"
    fleet.at(400)
    assert fleet.details(command) == {back: "Success", still_lost: "Pending", fleet.ids("online")[0]: "Success"}


def test_an_agent_back_online_after_timeout_seconds_does_not_run_the_command():
    fleet = HandClockFleet(lost_and_online())
    command = fleet.send(fleet.ids(), "Scan", TimeoutSeconds=600)
    fleet.at(650)
    for instance_id in fleet.ids("lost"):
        fleet.instances[instance_id].ping_status = "Online"
    fleet.at(EXPIRES)
    assert by_group(fleet, command) == {"lost": ["Delivery Timed Out", "Delivery Timed Out"], "online": ["Success"]}


@pytest.mark.parametrize("offline_delivery", ["timeout", "undeliverable"], ids=["timeout", "undeliverable"])
def test_an_agent_that_drops_mid_run_leaves_the_invocation_in_progress_until_the_command_expires(offline_delivery):
    fleet = HandClockFleet({"offline_delivery": offline_delivery,
                            "groups": [{**AL2023, "name": "flaky", "count": 1, "offline_mid_run_share": 1.0}]})
    command = fleet.send(fleet.ids(), "Scan", TimeoutSeconds=600)
    fleet.at(EXPIRES - 1)
    assert (fleet.details(command), fleet.instances[fleet.ids()[0]].ping_status) == ({fleet.ids()[0]: "In Progress"}, "ConnectionLost")
    fleet.at(EXPIRES)
    assert fleet.summary(command) == {"Status": "TimedOut", "StatusDetails": "Delivery Timed Out", "CompletedCount": 1, "ErrorCount": 0,
                                      "DeliveryTimedOutCount": 1}


def test_invocations_held_back_by_max_concurrency_do_not_start_after_timeout_seconds_and_stay_pending_until_expiry():
    fleet = HandClockFleet({"groups": [{**AL2023, "name": "big", "count": 20}]})
    command = fleet.send(fleet.ids(), "Scan", TimeoutSeconds=30, MaxConcurrency="1")
    expires = 30 + 7200
    fleet.at(1000)
    first, *queued = fleet.ids()
    assert fleet.details(command) == {first: "Success", **{i: "Pending" for i in queued}}
    assert [command.invocations[i].start_sim for i in queued] == [None] * 19
    assert fleet.summary(command) == {"Status": "InProgress", "StatusDetails": "In Progress", "CompletedCount": 1, "ErrorCount": 0,
                                      "DeliveryTimedOutCount": 0}
    fleet.at(expires - 1)
    assert list(fleet.details(command).values()).count("Pending") == 19
    fleet.at(expires)
    assert fleet.details(command) == {first: "Success", **{i: "Delivery Timed Out" for i in queued}}
    assert fleet.summary(command) == {"Status": "TimedOut", "StatusDetails": "Delivery Timed Out", "CompletedCount": 20, "ErrorCount": 0,
                                      "DeliveryTimedOutCount": 19}


def test_a_command_that_started_everywhere_before_timeout_seconds_is_not_cut_short_by_it():
    fleet = HandClockFleet({"groups": [{**AL2023, "name": "slow", "count": 3, "execution_seconds": 500}]})
    command = fleet.send(fleet.ids(), "Scan", TimeoutSeconds=30, MaxConcurrency="3")
    fleet.at(20)
    assert set(fleet.details(command).values()) == {"In Progress"}
    fleet.at(600)
    assert fleet.summary(command) == {"Status": "Success", "StatusDetails": "Success", "CompletedCount": 3, "ErrorCount": 0,
                                      "DeliveryTimedOutCount": 0}
