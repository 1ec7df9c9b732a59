"""The trigger form's own checks of max_failed and change_ticket, and what the run's start says when the plan refuses a value.

The form refuses a limit it cannot read before a run exists (a JSON schema pattern); a limit it reads
but the plan does not accept (looser than a selected stage's gate) is refused at the run's start.
"""
from __future__ import annotations

import re

import pytest

from patchflow.core.errors import InvalidInput
from patchflow.core.gates import Limit
from patchflow.core.plan import load_plan
from patchflow.core.run_params import CHANGE_TICKET, MAX_FAILED_SPELLING, max_failed_help, refused_params_reason, validate_run_params
from patchflow.core.yamlfile import PROJECT_ROOT

WEEKLY = load_plan(PROJECT_ROOT / "include" / "rollouts" / "weekly.yaml")


def limit_read(value: str) -> bool:
    try:
        Limit.parse(value)
    except ValueError:
        return False
    return True


@pytest.mark.parametrize("value", [
    pytest.param("0", id="zero"), pytest.param("12", id="count"), pytest.param("0%", id="no-percent"), pytest.param("2%", id="percent"),
    pytest.param("2.5%", id="fractional-percent"), pytest.param("100%", id="all"), pytest.param("100.0%", id="all-with-a-decimal"),
    pytest.param("099%", id="leading-zero"), pytest.param(" 5% ", id="spaces-around"),
    pytest.param("5 %", id="space-before-percent"), pytest.param("101%", id="over-100-percent"), pytest.param("100.5%", id="just-over-100"),
    pytest.param("-1", id="negative"), pytest.param("2.5", id="fractional-count"), pytest.param("1e3", id="exponent"),
    pytest.param("five", id="word"), pytest.param("%", id="percent-sign-alone"), pytest.param("5%%", id="two-percent-signs"),
])
def test_the_forms_pattern_accepts_exactly_the_limits_the_run_can_read(value):
    assert bool(re.search(MAX_FAILED_SPELLING, value)) == limit_read(value)


@pytest.mark.parametrize("value", [pytest.param("", id="empty"), pytest.param("   ", id="spaces")])
def test_the_forms_pattern_lets_the_limit_be_left_empty(value):
    assert re.search(MAX_FAILED_SPELLING, value) and validate_run_params(WEEKLY, {"max_failed": value}).max_failed is None


@pytest.mark.parametrize("value, accepted", [
    pytest.param("CHG0012345", True, id="servicenow"), pytest.param("OPS-12", True, id="jira"), pytest.param("", True, id="none"),
    pytest.param("chg0012345", False, id="lower-case"), pytest.param("CHG 12", False, id="space-inside"),
])
def test_the_forms_ticket_pattern_is_the_one_the_run_reads(value, accepted):
    assert bool(re.search(CHANGE_TICKET.pattern, value)) == accepted


def test_the_forms_help_names_each_stages_own_limit():
    assert max_failed_help(WEEKLY) == (
        "Optional: a stricter max_failed for every selected stage's gate, a count like 0 or a percentage; "
        "no looser than each stage's own (dev 10%, test 5%, prod 2%)."
    )


@pytest.mark.parametrize("params, expected", [
    pytest.param({"max_failed": "5%"}, "the run's params were refused, nothing was sent: "
                 "params: max_failed: expected a limit no looser than the plan's 2%, got '5%' for stage prod", id="looser-than-prod"),
    pytest.param({"max_failed": "3", "change_ticket": "urgent"}, "the run's params were refused, nothing was sent: "
                 "params: max_failed: expected a limit no looser than the plan's 10% (a percentage up to 10%, or 0), got '3' for stage dev; "
                 "params: max_failed: expected a limit no looser than the plan's 5% (a percentage up to 5%, or 0), got '3' for stage test; "
                 "params: max_failed: expected a limit no looser than the plan's 2% (a percentage up to 2%, or 0), got '3' for stage prod; "
                 "params: change_ticket: expected a change ticket like CHG0012345, or nothing, got 'urgent'", id="every-problem-on-one-line"),
])
def test_refused_params_are_one_line(params, expected):
    with pytest.raises(InvalidInput) as refused:
        validate_run_params(WEEKLY, params)
    assert refused_params_reason(refused.value) == expected
