"""Bad DAG trigger params against the shipped plans, each with its exact message; and the size of the whole bad-input corpus.

The trigger form (dry_run, stages, max_failed, change_ticket, release) arrives as JSON
from the Airflow UI, the REST API or `airflow dags trigger -c`; every value
below is something one of those can send. The cases in test_plan.py run
against a plan built in that file; these run against include/rollouts/.
"""
from __future__ import annotations

import math
from pathlib import Path

import pytest

from patchflow.core.errors import InvalidInput
from patchflow.core.plan import load_plan
from patchflow.core.run_params import RunParams, validate_run_params
from patchflow.core.yamlfile import PROJECT_ROOT

PLANS = {name: load_plan(PROJECT_ROOT / "include" / "rollouts" / f"{name}.yaml") for name in ("demo", "weekly")}
PASSED_TEST = "installs only a release that passed test"
LIMIT = "expected a count like 2 or a percentage like 10% (0-100%)"
KNOWN = "expected a known key"
TICKET = "expected a change ticket like CHG0012345, or nothing"
RELEASE = "expected a release id like r-0123456789abcdef, or nothing"

CASES = [
    pytest.param("demo", {"stages": ["dev", "prod"]}, [f"params: stages: expected test as well, because prod {PASSED_TEST}, got dev, prod"],
                 id="pin-source-without-the-stage-between"),
    pytest.param("weekly", {"max_failed": "3%"}, ["params: max_failed: expected a limit no looser than the plan's 2%, got '3%' for stage prod"],
                 id="looser-than-prod-only"),
    pytest.param("weekly", {"stages": ["dev", "prod"], "max_failed": "1"}, [
        f"params: stages: expected test as well, because prod {PASSED_TEST}, got dev, prod",
        "params: max_failed: expected a limit no looser than the plan's 10% (a percentage up to 10%, or 0), got '1' for stage dev",
        "params: max_failed: expected a limit no looser than the plan's 2% (a percentage up to 2%, or 0), got '1' for stage prod",
    ], id="count-against-each-stages-own-percent"),
    pytest.param("weekly", {"stages": ["dev"], "max_failed": "101%"}, [f"params: max_failed: {LIMIT}, got '101%'"], id="percent-over-100"),
    pytest.param("demo", {"max_failed": -1}, [f"params: max_failed: {LIMIT}, got -1"], id="negative-limit"),
    pytest.param("demo", {"max_failed": True}, [f"params: max_failed: {LIMIT}, got True"], id="bool-limit"),
    pytest.param("demo", {"max_failed": 2.5}, [f"params: max_failed: {LIMIT}, got 2.5"], id="fractional-limit"),
    pytest.param("demo", {"max_failed": math.nan}, [f"params: max_failed: {LIMIT}, got nan"], id="nan-limit"),
    pytest.param("demo", {"max_failed": math.inf}, [f"params: max_failed: {LIMIT}, got inf"], id="infinite-limit"),
    pytest.param("demo", {"max_failed": "10 %"}, [f"params: max_failed: {LIMIT}, got '10 %'"], id="space-in-percent"),
    pytest.param("demo", {"max_failed": "1e3"}, [f"params: max_failed: {LIMIT}, got '1e3'"], id="exponent-limit"),
    pytest.param("demo", {"max_failed": 10**30},
                 ["params: max_failed: expected a limit no looser than the plan's 10% (a percentage up to 10%, or 0), got '1000000000000000000000000000000' for stages dev, test, prod"],
                 id="huge-count"),
    pytest.param("demo", {"dry_run": "false"}, ["params: dry_run: expected true or false, got 'false'"], id="dry-run-text-false"),
    pytest.param("demo", {"dry_run": 1}, ["params: dry_run: expected true or false, got 1"], id="dry-run-one"),
    pytest.param("demo", {"stages": {"dev": True}}, ["params: stages: expected a list of stage names from dev, test, prod, got a mapping"], id="stages-mapping"),
    pytest.param("demo", {"stages": [["dev"]]}, ["params: stages[0]: expected one of dev, test, prod, got a list"], id="stages-nested-list"),
    pytest.param("demo", {"stages": ["DEV"]}, ["params: stages[0]: expected one of dev, test, prod, got 'DEV'"], id="stage-name-case"),
    pytest.param("demo", {"stages": ["dev", None]}, ["params: stages[1]: expected one of dev, test, prod, got None"], id="stage-null"),
    pytest.param("demo", {"stages": 3}, ["params: stages: expected a list of stage names from dev, test, prod, got 3"], id="stages-number"),
    pytest.param("demo", {"stages": ""}, ["params: stages: expected a list of stage names from dev, test, prod, got ''"], id="stages-empty-text"),
    pytest.param("demo", {"change_ticket": "chg0012345"}, [f"params: change_ticket: {TICKET}, got 'chg0012345'"], id="ticket-lower-case"),
    pytest.param("demo", {"change_ticket": 12345}, [f"params: change_ticket: {TICKET}, got 12345"], id="ticket-number"),
    pytest.param("demo", {"change_ticket": ["CHG1"]}, [f"params: change_ticket: {TICKET}, got a list"], id="ticket-list"),
    pytest.param("demo", {"stages": ["prod"], "release": "r-0123456789ABCDEF"}, [f"params: release: {RELEASE}, got 'r-0123456789ABCDEF'"],
                 id="release-upper-case-hex"),
    pytest.param("demo", {"stages": ["prod"], "release": "r-0123456789abcde"}, [f"params: release: {RELEASE}, got 'r-0123456789abcde'"],
                 id="release-one-digit-short"),
    pytest.param("demo", {"stages": ["prod"], "release": 123}, [f"params: release: {RELEASE}, got 123"], id="release-number"),
    pytest.param("weekly", {"release": "r-0123456789abcdef"}, [
        "params: release: expected stages that install a release from an earlier run (test, prod, without their source), "
        "got dev, test, prod, which prove their own",
    ], id="release-on-a-run-that-proves-its-own"),
    pytest.param("demo", {"params": {"dry_run": True}}, [f"params: params: {KNOWN} (dry_run, stages, max_failed, change_ticket, release), got 'params'"],
                 id="params-wrapped-twice"),
    pytest.param("demo", {"stage": ["dev"], "maxfailed": "1"}, [
        f"params: stage: {KNOWN} (did you mean 'stages'?), got 'stage'",
        f"params: maxfailed: {KNOWN} (did you mean 'max_failed'?), got 'maxfailed'",
    ], id="two-typos"),
    pytest.param("weekly", {"dry_run": "yes", "stages": ["prod", "qa", "dev"], "max_failed": "50%", "change_ticket": "urgent!", "release": "latest"}, [
        "params: dry_run: expected true or false, got 'yes'",
        "params: stages[1]: expected one of dev, test, prod, got 'qa'",
        f"params: stages: expected test as well, because prod {PASSED_TEST}, got dev, prod",
        f"params: release: {RELEASE}, got 'latest'",
        "params: max_failed: expected a limit no looser than the plan's 10%, got '50%' for stage dev",
        "params: max_failed: expected a limit no looser than the plan's 2%, got '50%' for stage prod",
        f"params: change_ticket: {TICKET}, got 'urgent!'",
    ], id="everything-wrong-at-once"),
]


@pytest.mark.parametrize(("plan", "params", "expected"), CASES)
def test_bad_trigger_params_fail_with_exactly_the_expected_message(plan, params, expected):
    with pytest.raises(InvalidInput) as raised:
        validate_run_params(PLANS[plan], params)
    assert str(raised.value).splitlines() == expected


def test_a_dry_run_may_pick_a_pinned_stage_alone():
    assert validate_run_params(PLANS["demo"], {"dry_run": True, "stages": ["prod"]}).stages == ("prod",)


# Pinned stages without their source used to be refused; now they install a release from the ledger.
@pytest.mark.parametrize(
    ("plan", "params", "run"),
    [
        pytest.param("demo", {"stages": ["test"]}, RunParams(False, ("test",), None, ""), id="pinned-stage-alone"),
        pytest.param("demo", {"stages": ["test", "prod"]}, RunParams(False, ("test", "prod"), None, ""), id="two-pinned-stages-without-their-source"),
        pytest.param("weekly", {"stages": ["prod"], "release": " r-0123456789abcdef "}, RunParams(False, ("prod",), None, "", "r-0123456789abcdef"),
                     id="prod-alone-with-a-named-release"),
        pytest.param("weekly", {"dry_run": True, "stages": ["dev", "prod"]}, RunParams(True, ("dev", "prod"), None, ""),
                     id="dry-run-may-skip-the-stage-between"),
    ],
)
def test_pinned_stages_may_run_without_their_source(plan, params, run):
    assert validate_run_params(PLANS[plan], params) == run


# --------------------------------------------------------------------------- the corpus as a whole

CORPORA = {
    "baselines": Path(__file__).parent / "baselines_invalid",
    "plans": Path(__file__).parent / "plans_invalid",
    "fleet specs": PROJECT_ROOT / "tests" / "fleetsim" / "specs_invalid",
}


def test_the_bad_input_corpus_has_at_least_60_cases_with_exact_messages():
    sizes = {name: len([p for p in folder.iterdir() if p.suffix in (".yaml", ".yml", ".json")]) for name, folder in CORPORA.items()}
    for name, folder in CORPORA.items():
        assert sizes[name] == len(list(folder.glob("*.expected"))), f"every {name} case needs its .expected message"
    sizes["trigger params"] = len(CASES)
    assert all(size >= 12 for size in sizes.values()), sizes
    assert sum(sizes.values()) >= 60, sizes
