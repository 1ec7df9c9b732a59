"""Where each pinned stage of a run gets the release it installs.

A pinned stage (`pin_to: dev`) installs exactly what its source stage proved.
It must have passed the stage before it: the nearest earlier stage that is the
source itself or installs the same source's releases (for prod pinned to dev,
after test pinned to dev, that is test). Then, for the stages of one run:

- the source is in the run: the release the source makes in this run;
- the stage before it is in the run: the same release that stage installs;
- neither: the newest release in the ledger that passed the stage before it
  (and baked there for `min_bake`, no older than `max_age`), or the one the
  run's params name.

A run that has the source but skips the stage in between would install a set
that never passed that stage, so it is refused (patchflow.core.run_params).
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from patchflow.core.plan_model import RolloutPlan, Stage
from patchflow.core.releases import PromotionRule


class ReleaseFrom(StrEnum):
    THIS_RUN = "this_run"  # made by the source stage in this run
    SAME_AS = "same_as"  # whatever the stage before it installs in this run
    LEDGER = "ledger"  # chosen from earlier runs' releases


@dataclass(frozen=True)
class ReleaseSource:
    stage: str
    kind: ReleaseFrom
    from_stage: str  # THIS_RUN: the source stage; SAME_AS and LEDGER: the stage it must have passed
    rule: PromotionRule


def after_stage(plan: RolloutPlan, stage: Stage) -> str:
    """The stage a release must have passed before `stage` installs it."""
    earlier = plan.stage_names[: plan.stage_names.index(stage.name)]
    for name in reversed(earlier):
        if name == stage.pin_to or plan.stage(name).pin_to == stage.pin_to:
            return name
    return stage.pin_to or ""


def promotion_rule(plan: RolloutPlan, stage: Stage) -> PromotionRule:
    return PromotionRule(stage.name, after_stage(plan, stage), stage.min_bake_seconds, stage.max_age_seconds)


def release_sources(plan: RolloutPlan, selected: tuple[str, ...]) -> tuple[ReleaseSource, ...]:
    """For each selected pinned stage, in plan order, where its release comes from."""
    sources = []
    for stage in plan.stages:
        if stage.name not in selected or not stage.pin_to:
            continue
        rule = promotion_rule(plan, stage)
        if stage.pin_to in selected:
            sources.append(ReleaseSource(stage.name, ReleaseFrom.THIS_RUN, stage.pin_to, rule))
        elif rule.after_stage in selected:
            sources.append(ReleaseSource(stage.name, ReleaseFrom.SAME_AS, rule.after_stage, rule))
        else:
            sources.append(ReleaseSource(stage.name, ReleaseFrom.LEDGER, rule.after_stage, rule))
    return tuple(sources)


def skipped_between(plan: RolloutPlan, selected: tuple[str, ...]) -> list[tuple[str, str]]:
    """(stage, the stage before it) for pinned stages whose source is in the run but whose stage before it is not."""
    return [
        (source.stage, source.rule.after_stage)
        for source in release_sources(plan, selected)
        if source.kind == ReleaseFrom.THIS_RUN and source.rule.after_stage not in selected
    ]


def ledger_stages(plan: RolloutPlan, selected: tuple[str, ...]) -> list[str]:
    """The selected stages that install a release from an earlier run."""
    return [source.stage for source in release_sources(plan, selected) if source.kind == ReleaseFrom.LEDGER]
