"""The PLAN argument the CLI's commands share: a plan file, or the name or file stem of a plan in include/rollouts."""
from __future__ import annotations

from pathlib import Path

from patchflow.core.plan import PLANS_DIR, RolloutPlan, load_plan, load_plans

PLAN_HELP = "a rollout plan file, or the name or file stem of one in include/rollouts"


class UnknownPlan(Exception):
    """One line naming PLAN, what was expected and what was given: the command's bad argument."""


def resolve_plan(given: str) -> RolloutPlan:
    """A plan file, else the plan in include/rollouts with that file stem or name; an invalid plan raises InvalidInput."""
    path = Path(given)
    if path.is_file():
        return load_plan(path)
    files = sorted(p for p in PLANS_DIR.glob("*") if p.suffix in (".yaml", ".yml") and p.is_file()) if PLANS_DIR.is_dir() else []
    for file in files:
        if file.stem == given:
            return load_plan(file)
    plans, _broken = load_plans(PLANS_DIR) if files else ([], {})
    for plan in plans:
        if plan.name == given:
            return plan
    names = ", ".join(sorted(plan.name for plan in plans)) or "none"
    raise UnknownPlan(f"PLAN: expected a plan file or the name of one in include/rollouts ({names}), got {given!r}")


def plan_with_dag(dag_id: str) -> RolloutPlan | None:
    """The plan in include/rollouts whose DAG is `dag_id`; plans that do not load are passed over."""
    plans, _broken = load_plans(PLANS_DIR) if PLANS_DIR.is_dir() else ([], {})
    return next((plan for plan in plans if plan.dag_id == dag_id), None)
