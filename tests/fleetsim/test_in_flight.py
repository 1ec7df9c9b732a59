"""How many SSM requests a client side had in flight at once: `ssm_in_flight_peak` in GET /_fleetsim/stats."""
from __future__ import annotations

import threading

import pytest

from fleetsim.server import InFlight
from fleetsim.testing import fleetsim_fixture


def test_the_peak_is_the_most_requests_open_together_and_a_reset_keeps_only_those_still_open():
    gauge = InFlight()
    all_in, release = threading.Barrier(4), threading.Event()

    def request():
        with gauge:
            all_in.wait()
            release.wait()

    callers = [threading.Thread(target=request) for _ in range(3)]
    for caller in callers:
        caller.start()
    all_in.wait()
    during = (gauge.now, gauge.peak)
    gauge.reset_peak()
    after_reset = gauge.peak
    release.set()
    for caller in callers:
        caller.join()
    with gauge:
        pass
    assert (during, after_reset, gauge.now, gauge.peak) == ((3, 3), 3, 0, 3)
    gauge.reset_peak()
    assert gauge.peak == 0


small_fleet = fleetsim_fixture({"groups": [{"count": 2, "platform": "UBUNTU"}]}, seed=7)


@pytest.mark.fleetsim
def test_calls_one_after_another_peak_at_one_and_only_ssm_calls_count(small_fleet):
    small_fleet.reset_stats()
    assert small_fleet._call("GET", "/_fleetsim/stats")["ssm_in_flight_peak"] == 0
    small_fleet.client("ec2").describe_instances()
    assert small_fleet._call("GET", "/_fleetsim/stats")["ssm_in_flight_peak"] == 0
    ssm = small_fleet.client("ssm")
    ssm.describe_instance_information()
    ssm.list_commands()
    assert small_fleet._call("GET", "/_fleetsim/stats")["ssm_in_flight_peak"] == 1
    assert small_fleet._call("DELETE", "/_fleetsim/stats")["ssm_in_flight_peak"] == 0
