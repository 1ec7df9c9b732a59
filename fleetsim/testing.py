"""pytest fixtures for tests that need a fleetsim server.

    from fleetsim.testing import fleetsim_fixture

    demo_fleet = fleetsim_fixture("include/fleets/demo.yaml", seed=7, time_scale=600)

    def test_something(demo_fleet):
        ssm = demo_fleet.client("ssm")

The fixture yields fleetsim.Running (endpoint, port, client(), credentials(),
stats(), api_calls(), reset_stats(), set_ping_status()). Module scope by default: one server per
test module, since starting one takes about a second.
"""
from __future__ import annotations

import os
from typing import Mapping

import pytest

from fleetsim import running
from fleetsim.errors import read_yaml


# AWS allows two answers for an agent that is not online (fleetsim/FIDELITY.md); a suite can be run
# under the other one with FLEETSIM_OFFLINE_DELIVERY=undeliverable. A spec that chooses keeps its choice.
OFFLINE_DELIVERY_VARIABLE = "FLEETSIM_OFFLINE_DELIVERY"


def with_offline_delivery(fleet: str | os.PathLike | Mapping, choice: str | None) -> str | os.PathLike | Mapping:
    """`fleet` with `offline_delivery: choice` unless it sets one itself; unchanged when `choice` is empty."""
    if not choice:
        return fleet
    spec = dict(fleet) if isinstance(fleet, Mapping) else read_yaml(fleet)
    if not isinstance(spec, Mapping):
        return fleet  # not a spec at all: let the server report it as it would
    return {"offline_delivery": choice, **spec}


def fleetsim_fixture(fleet: str | os.PathLike | Mapping, *, seed: int = 0, time_scale: float = 600.0, scope: str = "module",
                     tag_visibility_seconds: float = 0.0):
    """A pytest fixture that serves `fleet` for the duration of `scope` (tag writes reaching Run Command after
    `tag_visibility_seconds` simulated seconds; 0: at once)."""

    @pytest.fixture(scope=scope)
    def fleet_server():
        with running(with_offline_delivery(fleet, os.environ.get(OFFLINE_DELIVERY_VARIABLE)), seed=seed, time_scale=time_scale,
                     tag_visibility_seconds=tag_visibility_seconds) as sim:
            yield sim

    return fleet_server


@pytest.fixture
def aws_endpoint_env(monkeypatch):
    """Point boto3 at a fleet through AWS_ENDPOINT_URL: call the returned function with a Running.

    Keywords pick the account and Region as Running.env does: `point_at(sim, region="eu-west-1", credentials=assumed)`.
    """

    def point_at(sim, **where) -> None:
        env = sim.env(**where)
        if "AWS_SESSION_TOKEN" not in env:
            monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
        for name, value in env.items():
            monkeypatch.setenv(name, value)

    return point_at
