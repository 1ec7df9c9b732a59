"""Promotion across runs: dev proves a release in one run, later runs of test and prod install exactly it.

Each run is a separate Airflow DAG run against the same fleetsim (and so the same ledger), the way
scheduled stages days apart would be. What was installed is read back from the fleet through SSM.
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from fleetsim.testing import fleetsim_fixture
from patchflow.aws.ledger import open_store
from patchflow.aws.release_store import ReleaseStore
from patchflow.core.releases import Release, ReleaseEvent, ReleaseEventKind
from patchflow.core.report import stage_facts
from tests.patchflow.rollout.fleet_reads import commands_by_group, installed_by_scan, manifest_ids
from tests.patchflow.rollout.fleet_specs import THREE_STAGES_OF_AL2023

pytestmark = pytest.mark.airflow

fleet = fleetsim_fixture(THREE_STAGES_OF_AL2023, seed=5, time_scale=600, scope="function")


def _plan(demo_plan, **prod):
    stages = [
        {"name": "dev", "patch_group": "dev"},
        {"name": "test", "patch_group": "test", "pin_to": "dev"},
        {"name": "prod", "patch_group": "prod", "pin_to": "dev", **prod},
    ]
    return demo_plan(stages=stages)


def _releases(plan) -> ReleaseStore:
    """The plan's releases in fleetsim's S3 (run_rollout has pointed boto3 at the fleet)."""
    return ReleaseStore(open_store(plan["ledger"]), plan["name"])


def test_dev_proves_a_release_alone_and_later_runs_of_test_and_prod_install_exactly_it(fleet, run_rollout, demo_plan):
    plan = _plan(demo_plan)
    before_dev = installed_by_scan(fleet, "dev")
    dev_run = run_rollout(fleet, plan, conf={"stages": ["dev"]})
    assert (dev_run.state, str(dev_run.report.outcome)) == ("success", "promoted")
    (standing,) = _releases(plan).standings()
    release = standing.release
    assert (release.source_stage, release.source_run_id, list(standing.passed)) == ("dev", dev_run.run_id, ["dev"])
    after_dev = installed_by_scan(fleet, "dev")
    proved = {p for i, ids in after_dev.items() for p in ids - before_dev[i]}
    assert proved and manifest_ids(fleet, release.manifest_location) == proved
    assert "test" not in commands_by_group(fleet) and "prod" not in commands_by_group(fleet)

    before_test = installed_by_scan(fleet, "test")
    test_run = run_rollout(fleet, plan, conf={"stages": ["test"]}, prepare_ledger=False)
    assert (test_run.state, str(test_run.report.outcome)) == ("success", "promoted")
    test_stage = stage_named(test_run.report, "test")
    assert (test_stage.release.id, test_stage.release.source_run_id, test_stage.pinned_to.release) == (release.id, dev_run.run_id, release.id)
    installed_in_test = {p for i, ids in installed_by_scan(fleet, "test").items() for p in ids - before_test[i]}
    assert installed_in_test and installed_in_test <= proved
    installs = [c for c in commands_by_group(fleet)["test"] if c["Parameters"].get("Operation") == ["Install"]]
    assert installs and {c["Parameters"]["InstallOverrideList"][0] for c in installs} == set(release.override_lists.values())
    (standing,) = _releases(plan).standings()
    assert {stage: event.run_id for stage, event in standing.passed.items()} == {"dev": dev_run.run_id, "test": test_run.run_id}

    prod_run = run_rollout(fleet, plan, conf={"stages": ["prod"]}, prepare_ledger=False)
    assert (prod_run.state, str(prod_run.report.outcome)) == ("success", "promoted")
    prod_stage = stage_named(prod_run.report, "prod")
    assert prod_stage.release.id == release.id
    assert any(fact.startswith(f"Release {release.id} from stage dev of run {dev_run.run_id}, ") for fact in stage_facts(prod_stage))
    (standing,) = _releases(plan).standings()
    assert sorted(standing.passed) == ["dev", "prod", "test"]


def test_prod_without_a_release_that_passed_test_stops_before_sending_anything(fleet, run_rollout, demo_plan):
    plan = _plan(demo_plan)
    run_rollout(fleet, plan, conf={"stages": ["dev"]})
    (standing,) = _releases(plan).standings()
    run = run_rollout(fleet, plan, conf={"stages": ["prod"]}, prepare_ledger=False)
    assert (run.state, str(run.report.outcome), run.report.blocking_stage) == ("failed", "blocked", "prod")
    assert run.report.reason == f"no release to install: no release prod may install: release {standing.release.id} has not passed test"
    assert "prod" not in commands_by_group(fleet)


def test_a_revoked_release_is_never_installed_again(fleet, run_rollout, demo_plan):
    plan = _plan(demo_plan)
    run_rollout(fleet, plan, conf={"stages": ["dev"]})
    releases = _releases(plan)
    (standing,) = releases.standings()
    revoked_at = datetime.now(timezone.utc)
    releases.add_event(ReleaseEvent(standing.release.id, ReleaseEventKind.REVOKED, revoked_at, by="ana", reason="breaks nginx"))
    run = run_rollout(fleet, plan, conf={"stages": ["test"]}, prepare_ledger=False)
    assert (run.state, run.report.blocking_stage) == ("failed", "test")
    assert run.report.reason == (
        f"no release to install: no release test may install: release {standing.release.id} was revoked "
        f"{revoked_at.strftime('%a %d %b %H:%M %Z').strip()} by ana: breaks nginx"
    )
    assert "test" not in commands_by_group(fleet)


def stage_named(report, name: str):
    return next(stage for stage in report.stages if stage.name == name)


def _backdate(releases: ReleaseStore, release: Release, days: float) -> Release:
    """The release as if dev had proved it `days` ago: its release.json rewritten with an older creation time."""
    older = Release.from_json({**release.to_json(), "created_at": (release.created_at - timedelta(days=days)).isoformat()})
    releases.store.put(f"{releases.prefix}/{release.id}/release.json", json.dumps(older.to_json()).encode(), "application/json")
    return older


def test_min_bake_and_max_age_are_honoured(fleet, run_rollout, demo_plan):
    plan = _plan(demo_plan, min_bake="3d", max_age="30d")
    run_rollout(fleet, plan, conf={"stages": ["dev"]})
    releases = _releases(plan)
    (standing,) = releases.standings()
    release = standing.release
    # test passed it 1 day ago: prod wants 3 days of baking there.
    releases.add_event(ReleaseEvent(release.id, ReleaseEventKind.PASSED, datetime.now(timezone.utc) - timedelta(days=1), stage="test", run_id="earlier"))
    run = run_rollout(fleet, plan, conf={"stages": ["prod"]}, prepare_ledger=False)
    assert run.report.blocking_stage == "prod"
    assert run.report.reason.startswith(f"no release to install: no release prod may install: release {release.id} passed test 1 day ago; "
                                        "prod wants it baked there for 3 days (another 1 day 23 hours)")

    # Baked for 4 days, but dev proved it 40 days ago: older than prod's max_age.
    releases.add_event(ReleaseEvent(release.id, ReleaseEventKind.PASSED, datetime.now(timezone.utc) - timedelta(days=4), stage="test", run_id="earliest"))
    _backdate(releases, release, 40)
    run = run_rollout(fleet, plan, conf={"stages": ["prod"]}, prepare_ledger=False)
    assert run.report.reason.startswith(f"no release to install: no release prod may install: release {release.id} is 40 days ")
    assert run.report.reason.endswith("old, older than prod's max_age of 30 days")
    assert "prod" not in commands_by_group(fleet)

    # Young enough and baked long enough: prod installs it.
    _backdate(releases, release, 1)
    run = run_rollout(fleet, plan, conf={"stages": ["prod"]}, prepare_ledger=False)
    assert (run.state, str(run.report.outcome), stage_named(run.report, "prod").release.id) == ("success", "promoted", release.id)
