"""`patchflow e2e-distributed`: the command's refusals of bad arguments.

Its parts are tested beside this file (checks, topology, services, processes);
the command itself runs in tests/test_e2e_distributed.py (marked `distributed`).
"""
from __future__ import annotations

import pytest

from patchflow.cli.main import main


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        pytest.param(["--conf", "[1]"], "e2e-distributed: --conf: expected a JSON object, got '[1]'", id="conf-not-an-object"),
        pytest.param(
            ["--fleet", "include/fleets/nope.yaml"], "e2e-distributed: --fleet: expected an existing file, got 'include/fleets/nope.yaml'", id="missing-fleet"
        ),
    ],
)
def test_the_command_refuses_bad_arguments_before_starting_anything(capsys, arguments, message):
    assert main(["e2e-distributed", *arguments]) == 2
    assert capsys.readouterr().err.strip() == message
