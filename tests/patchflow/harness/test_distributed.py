"""`patchflow e2e-distributed`: the command's refusals of bad arguments.

Its parts are tested beside this file (checks, topology, services, processes);
the command itself runs in tests/test_e2e_distributed.py (marked `distributed`).
"""
from __future__ import annotations

import pytest

from patchflow.cli.main import main
from patchflow.harness.distributed import then_rollout


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        pytest.param(["--conf", "[1]"], "e2e-distributed: --conf: expected a JSON object, got '[1]'", id="conf-not-an-object"),
        pytest.param(
            ["--fleet", "include/fleets/nope.yaml"], "e2e-distributed: --fleet: expected an existing file, got 'include/fleets/nope.yaml'", id="missing-fleet"
        ),
        pytest.param(
            ["--then", "include/fleets/failing-dev.yaml:blocked", "--then", "include/fleets/nope.yaml:promoted"],
            "e2e-distributed: --then: expected an existing file, got 'include/fleets/nope.yaml'", id="missing-fleet-of-a-later-run",
        ),
    ],
)
def test_the_command_refuses_bad_arguments_before_starting_anything(capsys, arguments, message):
    assert main(["e2e-distributed", *arguments]) == 2
    assert capsys.readouterr().err.strip() == message


@pytest.mark.parametrize(
    ("value", "rollout"),
    [
        pytest.param("include/fleets/failing-dev.yaml:blocked", ("include/fleets/failing-dev.yaml", "blocked"), id="fleet-and-outcome"),
        pytest.param("fleets/a:b.yaml:promoted", ("fleets/a:b.yaml", "promoted"), id="colon-in-the-path"),
    ],
)
def test_then_names_a_fleet_and_the_outcome_its_run_must_reach(value, rollout):
    assert then_rollout(value) == rollout


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("include/fleets/failing-dev.yaml", id="no-outcome"),
        pytest.param("include/fleets/failing-dev.yaml:failed", id="unknown-outcome"),
        pytest.param(":blocked", id="no-fleet"),
    ],
)
def test_then_without_a_fleet_and_a_known_outcome_is_one_line_and_exit_2(capsys, value):
    with pytest.raises(SystemExit) as exited:
        main(["e2e-distributed", "--then", value])
    assert (exited.value.code, capsys.readouterr().err.strip()) == (
        2, f"patchflow e2e-distributed: --then: expected FLEET:EXPECT with EXPECT one of promoted, blocked, cancelled, got {value!r}",
    )
