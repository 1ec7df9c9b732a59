"""The load case's file and checks, without starting anything."""
from __future__ import annotations

from pathlib import Path

import pytest

from patchflow.core.errors import InvalidInput
from patchflow.core.yamlfile import PROJECT_ROOT
from patchflow.harness.checks import Check
from patchflow.harness.load import load_dags_folder
from patchflow.harness.load_case import (
    LoadRollout,
    check_in_flight,
    check_throttled,
    check_verdicts,
    read_load_case,
    throttling_mentions,
)

CASE = PROJECT_ROOT / "bench" / "load" / "rollouts.yaml"


def test_the_projects_case_names_five_different_plans_one_of_them_blocking():
    case = read_load_case(CASE)
    assert (case.fleet, case.pool_slots, case.conf) == (CASE.parent / "fleet.yaml", 2, {"change_ticket": "CHG-5000"})
    assert case.rollouts == tuple(
        LoadRollout(CASE.parent / "plans" / f"load-{name}.yaml", expect)
        for name, expect in (("basic", "promoted"), ("canary", "promoted"), ("pinned", "promoted"), ("scan", "promoted"), ("blocked", "blocked"))
    )


@pytest.mark.parametrize(
    "text, problems",
    [
        pytest.param("[]", ["case.yaml: expected a mapping with fleet, pool_slots, conf, rollouts, got a list"], id="not-a-mapping"),
        pytest.param(
            "fleet: nowhere.yaml\npool_slots: 0\nconf: []\nrollouts: []\nextra: 1\n",
            ["case.yaml: extra: unknown key; expected one of fleet, pool_slots, conf, rollouts",
             "case.yaml: fleet: expected an existing file, got 'nowhere.yaml'",
             "case.yaml: pool_slots: expected a whole number of pool slots >= 1, got 0",
             "case.yaml: conf: expected a mapping of trigger-form params, got a list",
             "case.yaml: rollouts: expected a list of {plan, expect}, got a list"],
            id="every-field-wrong",
        ),
        pytest.param(
            "fleet: fleet.yaml\npool_slots: true\nrollouts: [{plan: plan.yaml, expect: cancelled}, plain, {plan: 3, expect: promoted}]\n",
            ["case.yaml: pool_slots: expected a whole number of pool slots >= 1, got True",
             "case.yaml: rollouts[0].expect: expected promoted or blocked, got 'cancelled'",
             "case.yaml: rollouts[1]: expected a mapping with plan and expect, got 'plain'",
             "case.yaml: rollouts[2].plan: expected a file path relative to the case file, got 3"],
            id="bad-rollouts",
        ),
    ],
)
def test_a_bad_case_file_names_the_file_and_every_field(tmp_path, monkeypatch, text, problems):
    (tmp_path / "fleet.yaml").write_text("groups: []\n")
    (tmp_path / "plan.yaml").write_text("name: x\n")
    (tmp_path / "case.yaml").write_text(text)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InvalidInput) as raised:
        read_load_case(Path("case.yaml"))
    assert [str(p) for p in raised.value.problems] == problems


def test_the_load_dag_folder_holds_the_projects_dags_and_one_file_per_plan_building_it_by_its_absolute_path(tmp_path):
    case = read_load_case(CASE)
    folder = load_dags_folder(case, tmp_path)
    project_dags = sorted(path.name for path in (PROJECT_ROOT / "dags").glob("*.py"))
    assert sorted(path.name for path in folder.iterdir()) == sorted(
        project_dags + [f"load_load_{name}.py" for name in ("basic", "canary", "pinned", "scan", "blocked")])
    assert (folder / "load_load_basic.py").read_text() == (
        '"""Airflow DAG for the load case\'s plan load-basic.yaml."""\n'
        "from patchflow.rollout.factory import dag_from_plan_file\n\n"
        f"dag = dag_from_plan_file({str((CASE.parent / 'plans' / 'load-basic.yaml').resolve())!r})\n"
    )
    assert all((folder / name).read_bytes() == (PROJECT_ROOT / "dags" / name).read_bytes() for name in project_dags)


def test_throttling_mentions_name_each_text_that_shows_a_throttle():
    texts = {
        "basic:dev.wave_1": "botocore.errorfactory.ThrottlingException: An error occurred (ThrottlingException) when calling SendCommand",
        "canary:ledger": '[{"kind": "stage_failed", "reason": "Rate exceeded"}]',
        "scan:dev.scan": "gate failed: 4 of 4 failed",
    }
    assert throttling_mentions(texts) == ["basic:dev.wave_1", "canary:ledger"]


@pytest.mark.parametrize(
    "throttled, surfaced, expected",
    [
        pytest.param({"ListCommands": 3, "SendCommand": 1, "DescribeInstancePatches": 0}, [],
                     Check("throttled", True, "throttled calls absorbed by retries, none surfaced: ListCommands 3, SendCommand 1"), id="absorbed"),
        pytest.param({}, [], Check("throttled", False, "fleetsim throttled no call, so the load case proved nothing about throttling"), id="none-throttled"),
        pytest.param({"SendCommand": 2}, ["basic:dev.wave_1"],
                     Check("throttled", False, "throttling surfaced in basic:dev.wave_1 (throttled calls: SendCommand 2)"), id="surfaced"),
    ],
)
def test_check_throttled(throttled, surfaced, expected):
    assert check_throttled({"throttled": throttled}, surfaced) == expected


@pytest.mark.parametrize(
    "peak, expected",
    [
        pytest.param(10, Check("in-flight", True, "at most 10 SSM calls in flight at once (2 slots of pool ssm-1-us-east-1 at 4 reads at once "
                                                  "each, plus the triggerer's polls: budget 10)"), id="at-the-budget"),
        pytest.param(11, Check("in-flight", False, "fleetsim had 11 SSM calls in flight at once, over the 2 slots of pool ssm-1-us-east-1 at 4 "
                                                   "reads at once each, plus the triggerer's polls: budget 10"), id="over"),
        pytest.param(None, Check("in-flight", False, "fleetsim did not report ssm_in_flight_peak, got null"), id="unreported"),
    ],
)
def test_check_in_flight(peak, expected):
    assert check_in_flight({"ssm_in_flight_peak": peak}, 10, "ssm-1-us-east-1", 2, 4) == expected


def test_check_verdicts_passes_only_when_every_rollout_ended_as_alone():
    good = [("load-basic", "promoted", Check("promoted", True, "run success")), ("load-blocked", "blocked", Check("blocked", True, "run failed"))]
    assert check_verdicts(good) == Check("verdicts", True, "load-basic promoted, load-blocked blocked, each as alone")
    bad = [good[0], ("load-blocked", "blocked", Check("blocked", False, "run success, expected failed"))]
    assert check_verdicts(bad) == Check("verdicts", False, "load-blocked: run success, expected failed")
