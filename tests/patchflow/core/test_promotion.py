"""Where each pinned stage of a run gets the release it installs (patchflow.core.promotion), as tables."""
from __future__ import annotations

import pytest

from patchflow.core.plan import parse_plan
from patchflow.core.plan_model import RolloutPlan
from patchflow.core.promotion import ReleaseFrom, ReleaseSource, after_stage, ledger_stages, promotion_rule, release_sources, skipped_between
from patchflow.core.releases import PromotionRule

THREE_DAYS, TWO_WEEKS = 3 * 86400, 14 * 86400


def plan_of(*stages: tuple[str, str | None], **prod_keys) -> RolloutPlan:
    """A plan with these (name, pin_to) stages in order; the last one is approved by a human and takes `prod_keys`."""
    listed = [{"name": name, "patch_group": name, **({"pin_to": pin_to} if pin_to else {})} for name, pin_to in stages]
    listed[-1].update(approval=True, **prod_keys)
    return parse_plan({"name": "promotion-probe", "owner": "release-engineering", "ledger": "s3://patchflow-ledger/runs", "stages": listed}, "plan.yaml")


BOTH_PINNED_TO_DEV = plan_of(("dev", None), ("test", "dev"), ("prod", "dev"), min_bake="3d", max_age="14d")
TEST_NOT_PINNED = plan_of(("dev", None), ("test", None), ("prod", "dev"))
PROD_PINNED_TO_TEST = plan_of(("dev", None), ("test", "dev"), ("prod", "test"))
FOUR_STAGES = plan_of(("dev", None), ("test", "dev"), ("staging", "dev"), ("prod", "dev"))
UNPINNED_QA_BETWEEN = plan_of(("dev", None), ("qa", None), ("test", "dev"), ("prod", "dev"))
UNPINNED_QA_AFTER_TEST = plan_of(("dev", None), ("test", "dev"), ("qa", None), ("prod", "dev"))


@pytest.mark.parametrize(
    ("plan", "stage", "before"),
    [
        pytest.param(BOTH_PINNED_TO_DEV, "dev", "", id="first-stage-has-none"),
        pytest.param(BOTH_PINNED_TO_DEV, "test", "dev", id="test-pinned-to-dev-after-dev"),
        pytest.param(BOTH_PINNED_TO_DEV, "prod", "test", id="prod-pinned-to-dev-after-test-pinned-to-dev"),
        pytest.param(TEST_NOT_PINNED, "prod", "dev", id="prod-pinned-to-dev-skips-unpinned-test"),
        pytest.param(PROD_PINNED_TO_TEST, "prod", "test", id="prod-pinned-to-test-after-test"),
        pytest.param(FOUR_STAGES, "staging", "test", id="staging-after-test"),
        pytest.param(FOUR_STAGES, "prod", "staging", id="prod-after-the-nearest-stage-with-the-same-source"),
        pytest.param(UNPINNED_QA_BETWEEN, "test", "dev", id="test-skips-unpinned-qa"),
        pytest.param(UNPINNED_QA_BETWEEN, "prod", "test", id="prod-after-test-not-qa"),
        pytest.param(UNPINNED_QA_AFTER_TEST, "prod", "test", id="prod-looks-past-unpinned-qa-to-test"),
    ],
)
def test_after_stage(plan, stage, before):
    assert after_stage(plan, plan.stage(stage)) == before


@pytest.mark.parametrize(
    ("plan", "stage", "rule"),
    [
        pytest.param(BOTH_PINNED_TO_DEV, "test", PromotionRule("test", "dev", 0, None), id="no-ages"),
        pytest.param(BOTH_PINNED_TO_DEV, "prod", PromotionRule("prod", "test", THREE_DAYS, TWO_WEEKS), id="min-bake-and-max-age"),
        pytest.param(TEST_NOT_PINNED, "prod", PromotionRule("prod", "dev", 0, None), id="straight-from-the-source"),
    ],
)
def test_promotion_rule(plan, stage, rule):
    assert promotion_rule(plan, plan.stage(stage)) == rule


TEST_RULE = PromotionRule("test", "dev", 0, None)
PROD_RULE = PromotionRule("prod", "test", THREE_DAYS, TWO_WEEKS)


@pytest.mark.parametrize(
    ("selected", "sources"),
    [
        pytest.param((), (), id="nothing"),
        pytest.param(("dev",), (), id="dev"),
        pytest.param(("test",), (ReleaseSource("test", ReleaseFrom.LEDGER, "dev", TEST_RULE),), id="test"),
        pytest.param(("prod",), (ReleaseSource("prod", ReleaseFrom.LEDGER, "test", PROD_RULE),), id="prod"),
        pytest.param(("dev", "test"), (ReleaseSource("test", ReleaseFrom.THIS_RUN, "dev", TEST_RULE),), id="dev-test"),
        pytest.param(("dev", "prod"), (ReleaseSource("prod", ReleaseFrom.THIS_RUN, "dev", PROD_RULE),), id="dev-prod"),
        pytest.param(("test", "prod"), (
            ReleaseSource("test", ReleaseFrom.LEDGER, "dev", TEST_RULE),
            ReleaseSource("prod", ReleaseFrom.SAME_AS, "test", PROD_RULE),
        ), id="test-prod"),
        pytest.param(("dev", "test", "prod"), (
            ReleaseSource("test", ReleaseFrom.THIS_RUN, "dev", TEST_RULE),
            ReleaseSource("prod", ReleaseFrom.THIS_RUN, "dev", PROD_RULE),
        ), id="dev-test-prod"),
    ],
)
def test_release_sources_for_every_subset_of_three_stages(selected, sources):
    assert release_sources(BOTH_PINNED_TO_DEV, selected) == sources


def test_release_sources_go_past_an_unpinned_stage_to_the_source():
    assert release_sources(TEST_NOT_PINNED, ("test", "prod")) == (ReleaseSource("prod", ReleaseFrom.LEDGER, "dev", PromotionRule("prod", "dev", 0, None)),)


@pytest.mark.parametrize(
    ("plan", "selected", "skipped"),
    [
        pytest.param(BOTH_PINNED_TO_DEV, ("dev", "test", "prod"), [], id="whole-plan"),
        pytest.param(BOTH_PINNED_TO_DEV, ("dev", "prod"), [("prod", "test")], id="dev-prod-skips-test"),
        pytest.param(BOTH_PINNED_TO_DEV, ("test", "prod"), [], id="no-source-no-skip"),
        pytest.param(BOTH_PINNED_TO_DEV, ("prod",), [], id="prod-alone"),
        pytest.param(TEST_NOT_PINNED, ("dev", "prod"), [], id="unpinned-test-is-not-in-between"),
        pytest.param(FOUR_STAGES, ("dev", "prod"), [("prod", "staging")], id="four-stages-dev-prod"),
        pytest.param(FOUR_STAGES, ("dev", "test", "prod"), [("prod", "staging")], id="four-stages-without-staging"),
        pytest.param(FOUR_STAGES, ("dev", "staging", "prod"), [("staging", "test")], id="four-stages-without-test"),
        pytest.param(UNPINNED_QA_BETWEEN, ("dev", "test", "prod"), [], id="unpinned-qa-left-out"),
    ],
)
def test_skipped_between(plan, selected, skipped):
    assert skipped_between(plan, selected) == skipped


@pytest.mark.parametrize(
    ("plan", "selected", "stages"),
    [
        pytest.param(BOTH_PINNED_TO_DEV, ("dev", "test", "prod"), [], id="whole-plan"),
        pytest.param(BOTH_PINNED_TO_DEV, ("dev",), [], id="source-alone"),
        pytest.param(BOTH_PINNED_TO_DEV, ("test",), ["test"], id="test-alone"),
        pytest.param(BOTH_PINNED_TO_DEV, ("prod",), ["prod"], id="prod-alone"),
        pytest.param(BOTH_PINNED_TO_DEV, ("test", "prod"), ["test"], id="prod-follows-test-in-the-run"),
        pytest.param(TEST_NOT_PINNED, ("test", "prod"), ["prod"], id="unpinned-test-installs-no-release"),
        pytest.param(FOUR_STAGES, ("staging", "prod"), ["staging"], id="four-stages-last-two"),
    ],
)
def test_ledger_stages(plan, selected, stages):
    assert ledger_stages(plan, selected) == stages
