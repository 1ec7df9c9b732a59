"""The trigger form of a plan's DAG as Airflow serves it: what it requires, what it refuses, and how the run's start refuses the rest.

Airflow's form marks a param required unless its schema's type allows null, and keeps Trigger disabled
until every required field is filled; Airflow validates a run's conf against the same schema before the
run exists (POST dagRuns answers 400). Both read the serialized DAG, as the api-server does.
"""
from __future__ import annotations

from types import SimpleNamespace

import pytest
from airflow.exceptions import ParamValidationError
from airflow.sdk.exceptions import AirflowFailException
from airflow.serialization.serialized_objects import DagSerialization

from patchflow.core.plan import load_plan
from patchflow.core.yamlfile import PROJECT_ROOT
from patchflow.rollout.factory import build_dag
from patchflow.rollout.stage import StartRunOperator

WEEKLY = load_plan(PROJECT_ROOT / "include" / "rollouts" / "weekly.yaml")


@pytest.fixture(scope="module")
def served_params():
    """The weekly DAG's params as the api-server reads them from the serialized DAG."""
    return DagSerialization.from_dict(DagSerialization.to_dict(build_dag(WEEKLY))).params


def required_by_the_form(schema: dict) -> bool:
    """Airflow 3.3's trigger form: a field is required when its schema has a type and that type does not allow null."""
    kind = schema.get("type")
    return bool(kind) and not (isinstance(kind, list) and "null" in kind)


def test_only_the_fields_that_always_have_a_value_are_required(served_params):
    required = {name: required_by_the_form(served_params.get_param(name).schema) for name in served_params}
    defaults = {name: served_params.get_param(name).value for name in served_params}
    assert (required, defaults) == (
        {"dry_run": True, "stages": True, "max_failed": False, "change_ticket": False, "release": False},
        {"dry_run": False, "stages": ["dev", "test", "prod"], "max_failed": None, "change_ticket": None, "release": None},
    )


@pytest.mark.parametrize("conf", [
    pytest.param({}, id="nothing-filled-in"),
    pytest.param({"max_failed": None, "change_ticket": None}, id="cleared-fields"),
    pytest.param({"max_failed": "", "change_ticket": ""}, id="empty-text"),
    pytest.param({"max_failed": "1%", "change_ticket": "CHG0012345"}, id="both-filled-in"),
    pytest.param({"max_failed": "5%"}, id="a-limit-the-form-can-read-though-prod-refuses-it"),
])
def test_the_form_lets_these_through(served_params, conf):
    served_params.deep_merge(conf).validate()


@pytest.mark.parametrize("conf, refused", [
    pytest.param({"max_failed": "5 %"}, "Invalid input for param max_failed: '5 %' does not match", id="space-before-percent"),
    pytest.param({"max_failed": "150%"}, "Invalid input for param max_failed: '150%' does not match", id="over-100-percent"),
    pytest.param({"max_failed": "five"}, "Invalid input for param max_failed: 'five' does not match", id="word"),
    pytest.param({"change_ticket": "chg0012345"}, "Invalid input for param change_ticket: 'chg0012345' does not match", id="lower-case-ticket"),
])
def test_the_form_refuses_a_value_it_cannot_read_before_a_run_exists(served_params, conf, refused):
    with pytest.raises(ParamValidationError) as error:
        served_params.deep_merge(conf).validate()
    assert str(error.value).startswith(refused)


def test_a_limit_looser_than_a_selected_stages_gate_fails_the_start_with_one_line_and_no_stack_of_ours():
    start = StartRunOperator(task_id="start", plan=WEEKLY, aws_conn_id=None)
    context = {
        "params": {"dry_run": False, "stages": ["dev", "test", "prod"], "max_failed": "5%", "change_ticket": None, "release": None},
        "dag_run": SimpleNamespace(dag_id=WEEKLY.dag_id, run_id="manual__2026-12-06T01:00:00+00:00", run_type="manual"),
    }

    with pytest.raises(AirflowFailException) as failed:
        start.execute(context)

    assert str(failed.value) == (
        "the run's params were refused, nothing was sent: params: max_failed: expected a limit no looser than the plan's 2%, got '5%' for stage prod"
    )
    # Airflow logs the failure with its traceback: the refusal must not drag the validator's own frames along.
    assert (failed.value.__cause__, failed.value.__suppress_context__) == (None, True)
