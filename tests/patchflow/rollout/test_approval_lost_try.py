"""A stage's approval when Airflow loses the try that received the answer (apache/airflow#72716), through real
Airflow task execution against fleetsim: the stage still goes ahead on the answer given, asked once when the lost
try recorded the answer, and asked again, with the same deadline, when it was lost before it could; a rejection
is never retried."""
from __future__ import annotations

import pytest

from fleetsim.testing import fleetsim_fixture
from patchflow.core.approval_answers import ASKED_AGAIN
from patchflow.rollout.approval import StageApprovalOperator
from tests.patchflow.rollout.fleet_reads import commands_by_group
from tests.patchflow.rollout.fleet_specs import THREE_STAGES_OF_AL2023
from tests.patchflow.rollout.test_approval_request import _delivered, _inbox

pytestmark = pytest.mark.airflow

fleet = fleetsim_fixture(THREE_STAGES_OF_AL2023, seed=5, time_scale=600, scope="function")


class LostTry(RuntimeError):
    """What Airflow's race does to the resumed try, played by the test: the try ends as failed."""


def _plan(demo_plan) -> dict:
    return demo_plan(stages=[{"name": "dev", "patch_group": "dev", "expected_min_targets": 1, "approval": {"required": True, "timeout": "10m"}}])


def _approval_tries(dag_id: str, run_id: str) -> int:
    """The approval task's last try number."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        return session.query(TaskInstance).filter_by(dag_id=dag_id, run_id=run_id, task_id="dev.approval").one().try_number


def _lose_the_first_try(monkeypatch, method: str, after: bool) -> list[str]:
    """Makes the first call of StageApprovalOperator.<method> end its try as failed, before or after it runs."""
    original = getattr(StageApprovalOperator, method)
    lost: list[str] = []

    def losing(self, *args, **kwargs):
        if lost:
            return original(self, *args, **kwargs)
        lost.append(method)
        if not after:
            raise LostTry(f"lost before {method}")
        original(self, *args, **kwargs)
        raise LostTry(f"lost after {method}")

    monkeypatch.setattr(StageApprovalOperator, method, losing)
    return lost


def test_an_answer_the_lost_try_recorded_carries_the_retry_and_nobody_is_asked_twice(fleet, run_rollout, demo_plan, monkeypatch):
    lost = _lose_the_first_try(monkeypatch, "_record", after=True)
    run = run_rollout(fleet, _plan(demo_plan), answer="Approve")

    assert (run.state, run.report.outcome, lost) == ("success", "promoted", ["_record"])
    (answer,) = run.kinds("approval_answered")
    assert (answer["stage"], answer["answer"], answer["by"]) == ("dev", "approved", "release-manager")
    assert len([r for r in run.kinds("waiting") if r["what"] == "approval"]) == 1
    assert _approval_tries("rollout_demo", run.run_id) == 2
    assert sorted(c["Parameters"]["Operation"][0] for c in commands_by_group(fleet)["dev"]) == ["Install", "Scan"]


def test_a_try_lost_before_it_recorded_the_answer_asks_again_with_the_first_deadline(fleet, run_rollout, demo_plan, monkeypatch):
    lost = _lose_the_first_try(monkeypatch, "execute_complete", after=False)
    inbox = _inbox(fleet)
    run = run_rollout(fleet, _plan(demo_plan), answer="Approve")

    assert (run.state, run.report.outcome, lost) == ("success", "promoted", ["execute_complete"])
    first, again = [r for r in run.kinds("waiting") if r["what"] == "approval"]
    assert (first["until"], first["detail"], again["detail"]) == (again["until"], "", "asked again")
    (answer,) = run.kinds("approval_answered")
    assert (answer["answer"], answer["by"]) == ("approved", "release-manager")
    assert _approval_tries("rollout_demo", run.run_id) == 2
    asked, asked_again = [body for _, body in _delivered(fleet, inbox, "approval")]
    # The same request, a retry's moment later: only the time left to the unchanged deadline has moved.
    assert "(in 10 min)" in asked and asked_again == ASKED_AGAIN + "\n\n" + asked.replace("(in 10 min)", "(in 9 min)")


def test_a_rejection_fails_the_stage_once_and_is_never_retried(fleet, run_rollout, demo_plan):
    run = run_rollout(fleet, _plan(demo_plan), answer="Reject")

    (answer,) = run.kinds("approval_answered")
    assert (run.state, run.report.outcome) == ("failed", "failed")
    assert run.report.reason == f"stage dev was rejected by release-manager at {answer['answered_at'].replace('T', ' ').replace('Z', ' UTC')}"
    assert _approval_tries("rollout_demo", run.run_id) == 1
    assert "SendCommand" not in fleet.stats()


def test_an_approval_task_that_fails_with_no_answer_recorded_is_named_as_such(fleet, run_rollout, demo_plan, monkeypatch):
    def broken(self, context, event):
        raise LostTry("every try lost")

    monkeypatch.setattr(StageApprovalOperator, "execute_complete", broken)
    run = run_rollout(fleet, _plan(demo_plan), answer="Approve")

    assert (run.state, run.report.outcome) == ("failed", "failed")
    assert run.report.reason == "stage dev's approval task failed before an answer was recorded: its log in Airflow says why"
    assert run.kinds("approval_answered") == [] and "SendCommand" not in fleet.stats()
