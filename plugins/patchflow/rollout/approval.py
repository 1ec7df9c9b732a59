"""A stage's approval, asked only when the run patches the stage.

Every stage's tasks run in every run, and those of a stage the run leaves out return at once.
An approval would still ask people to approve a stage that is not patched (on a calendar,
each of dev's runs would ask prod's approvers); this one lets such a stage through unasked.
"""
from __future__ import annotations

from airflow.providers.standard.operators.hitl import ApprovalOperator

from patchflow.core.plan import RolloutPlan, Stage
from patchflow.rollout.base import run_params


class StageApprovalOperator(ApprovalOperator):
    def __init__(self, *, plan: RolloutPlan, stage: Stage, **kwargs):
        super().__init__(**kwargs)
        self.plan = plan
        self.stage = stage

    def execute(self, context):
        params, _ = run_params(self.plan, context)
        if self.stage.name not in params.stages:
            self.log.info("stage %s is not patched in this run: nothing to approve", self.stage.name)
            return None
        return super().execute(context)
