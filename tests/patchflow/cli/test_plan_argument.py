"""The PLAN argument: a plan file, or a plan in the rollouts folder by file stem or by name."""
from __future__ import annotations

import pytest

from patchflow.cli import plan_argument
from patchflow.cli.plan_argument import UnknownPlan, resolve_plan
from patchflow.core.errors import InvalidInput

PLAN = """name: {name}
owner: release-engineering
stages:
  - {{name: dev, patch_group: dev, gate: {{max_failed: "2%"}}}}
"""


@pytest.fixture
def rollouts(tmp_path, monkeypatch):
    """A rollouts folder whose weekly-os.yaml names its plan "weekly", and a broken plan beside it."""
    folder = tmp_path / "rollouts"
    folder.mkdir()
    (folder / "weekly-os.yaml").write_text(PLAN.format(name="weekly"))
    (folder / "broken.yaml").write_text("name: [\n")
    monkeypatch.setattr(plan_argument, "PLANS_DIR", folder)
    return folder


@pytest.mark.parametrize("given", ["weekly-os", "weekly"], ids=["file-stem", "plan-name"])
def test_a_plan_in_the_rollouts_folder_is_found_by_its_file_stem_or_its_name(rollouts, given):
    assert resolve_plan(given).name == "weekly"


def test_a_plan_file_elsewhere_is_read_from_its_path(rollouts, tmp_path):
    elsewhere = tmp_path / "monthly.yaml"
    elsewhere.write_text(PLAN.format(name="monthly"))
    assert resolve_plan(str(elsewhere)).name == "monthly"


def test_an_unknown_plan_names_the_plans_there_are(rollouts):
    with pytest.raises(UnknownPlan) as raised:
        resolve_plan("nightly")
    assert str(raised.value) == "PLAN: expected a plan file or the name of one in include/rollouts (weekly), got 'nightly'"


def test_an_empty_rollouts_folder_says_there_are_none(tmp_path, monkeypatch):
    monkeypatch.setattr(plan_argument, "PLANS_DIR", tmp_path / "absent")
    with pytest.raises(UnknownPlan) as raised:
        resolve_plan("weekly")
    assert str(raised.value) == "PLAN: expected a plan file or the name of one in include/rollouts (none), got 'weekly'"


def test_a_broken_plan_asked_for_by_its_file_stem_is_reported_as_invalid(rollouts):
    with pytest.raises(InvalidInput):
        resolve_plan("broken")


@pytest.mark.parametrize("dag_id, name", [("rollout_weekly", "weekly"), ("rollout_monthly", None)], ids=["its-plan", "no-plan-has-it"])
def test_a_runs_dag_finds_its_plan_in_the_rollouts_folder_past_a_broken_one(rollouts, dag_id, name):
    found = plan_argument.plan_with_dag(dag_id)
    assert (found.name if found else None) == name
