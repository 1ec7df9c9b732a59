"""Rollouts under the behaviours of real SSM that a simulator agreeing with our own assumptions would hide:
compliance data that arrives late (and is read as it arrives), InstalledTime that says nothing, agents that are not online,
a source stage with nothing new for an OS, drift under a pinned stage's compliance gate."""
from __future__ import annotations

import pytest
import yaml

from fleetsim.testing import fleetsim_fixture
from patchflow.core.yamlfile import PROJECT_ROOT
from tests.patchflow.rollout.fleet_reads import commands_by_group, group_instances, installed_by_scan, manifest_ids, patches

pytestmark = pytest.mark.airflow

AL, UBUNTU, WINDOWS = "AMAZON_LINUX_2023", "UBUNTU", "WINDOWS"


def _group(stage: str, platform: str, count: int, missing_share: float, **extra) -> dict:
    return {"name": f"{stage}-{platform.lower()}", "count": count, "platform": platform, "tags": {"Patch Group": stage},
            "missing_share": missing_share, **extra}


# dev's Ubuntu nodes are fully patched: dev has nothing new for Ubuntu. test is far behind, so its
# baseline approves much that dev never installed (drift). Compliance data arrives 600 simulated
# seconds (one real second) after each invocation ends: long after a 0.5 s poll has seen it finish.
EVIDENCE_FLEET = {
    "compliance_lag_seconds": 600,
    "defaults": {"execution_seconds": [60, 180], "reboot_share": 0.0},
    "groups": [
        _group("dev", AL, 2, 0.4), _group("dev", UBUNTU, 2, 0.0), _group("dev", WINDOWS, 2, 0.4),
        _group("test", AL, 2, 0.9), _group("test", UBUNTU, 2, 0.9), _group("test", WINDOWS, 2, 0.9),
    ],
}
evidence_fleet = fleetsim_fixture(EVIDENCE_FLEET, seed=11, time_scale=600, scope="function")

# The gates of include/rollouts/weekly.yaml as shipped (95% compliant, no pending reboot), without its windows and approval.
WEEKLY = yaml.safe_load((PROJECT_ROOT / "include/rollouts/weekly.yaml").read_text())


def _stage(name: str, **extra) -> dict:
    return {"name": name, "patch_group": name, "expected_min_targets": 1, **extra}


def test_a_pinned_stage_installs_what_dev_proved_judged_against_the_manifest_with_late_compliance_data(evidence_fleet, run_rollout, demo_plan):
    before = {group: installed_by_scan(evidence_fleet, group) for group in ("dev", "test")}
    weekly_dev = next(s for s in WEEKLY["stages"] if s["name"] == "dev")
    plan = demo_plan(
        defaults={**demo_plan()["defaults"], "gate": WEEKLY["defaults"]["gate"]},
        stages=[_stage("dev", gate=weekly_dev["gate"]), _stage("test", pin_to="dev")],
    )
    assert plan["defaults"]["gate"]["min_compliant_percent"] == 95 and plan["defaults"]["gate"]["max_pending_reboot"] == "0"
    run = run_rollout(evidence_fleet, plan)

    assert (run.state, run.report.outcome, run.report.reason) == ("success", "promoted", "")
    # The manifest is what dev's nodes were missing before and have after: on every OS, whatever
    # InstalledTime each OS reports.
    after = installed_by_scan(evidence_fleet, "dev")
    newly_installed = {p for instance_id, ids in after.items() for p in ids - before["dev"][instance_id]}
    (manifest,) = run.kinds("manifest")
    assert manifest_ids(evidence_fleet, manifest["location"]) == newly_installed
    assert {os_name for os_name in manifest["override_lists"]} == {AL, UBUNTU, WINDOWS}
    assert manifest["nothing_new_for"] == [UBUNTU]

    # Nothing new for Ubuntu: test's Ubuntu nodes are scanned, not installed, and the report says why.
    install_waves = {}
    for command in commands_by_group(evidence_fleet)["test"]:
        _, _, _, wave, os_name, _ = command["Comment"].split()  # patchflow <token> <stage> I<wave> <os> c<n>
        if wave.startswith("I"):
            install_waves.setdefault(os_name, set()).add(command["Parameters"]["Operation"][0])
    assert install_waves == {AL: {"Install"}, UBUNTU: {"Scan"}, WINDOWS: {"Install"}}
    test_stage = run.report.stages[1]
    assert "dev installed nothing new for UBUNTU: its instances here were scanned, nothing was installed" in _facts(test_stage)

    # test's baseline approves more than dev installed: drift, reported and held back, not a compliance failure.
    assert any(test_stage.drift.values())
    assert test_stage.verdict.passed and test_stage.counts["compliant"] == 6
    after_test = installed_by_scan(evidence_fleet, "test")
    installed_in_test = {p for instance_id, ids in after_test.items() for p in ids - before["test"][instance_id]}
    assert installed_in_test and installed_in_test <= newly_installed


def _facts(stage) -> list[str]:
    from patchflow.core.report import stage_facts

    return stage_facts(stage)


OFFLINE_FLEET = {
    "groups": [
        {"name": "dev-online", "count": 4, "platform": AL, "tags": {"Patch Group": "dev"}, "execution_seconds": [60, 120]},
        {"name": "dev-lost", "count": 2, "platform": AL, "tags": {"Patch Group": "dev"}, "ping_status": "ConnectionLost"},
    ],
}


@pytest.fixture(params=["timeout", "undeliverable"], ids=["delivery-times-out", "undeliverable-at-once"])
def offline_fleet(request):
    from fleetsim import running

    with running({**OFFLINE_FLEET, "offline_delivery": request.param}, seed=5, time_scale=600) as sim:
        yield sim


def test_nodes_offline_at_preflight_are_not_sent_to_and_count_unreachable_at_once(offline_fleet, run_rollout, demo_plan):
    # A delivery time-out of an hour would hold the wave for six real seconds at this time scale; the run
    # must not wait for it, whichever way SSM treats an offline agent.
    plan = demo_plan(stages=[_stage("dev", timeout_seconds=3600, gate={"max_failed": "50%"})])
    run = run_rollout(offline_fleet, plan)

    assert (run.state, run.report.outcome) == ("success", "promoted")
    ssm = offline_fleet.client("ssm")
    lost = sorted(
        i["InstanceId"] for i in ssm.describe_instance_information()["InstanceInformationList"] if i["PingStatus"] != "Online"
    )
    sent_to = {i for command in ssm.list_commands()["Commands"] for i in command["InstanceIds"]}
    assert len(lost) == 2 and not sent_to & set(lost)
    dev = run.report.stages[0]
    assert list(dev.not_sent) == lost
    assert dev.counts["unreachable"] == 2 and dev.counts["succeeded"] == 4
    rows = {i.instance_id: i for wave in dev.waves if wave.operation == "Install" for i in wave.instances}
    assert [rows[i].status_details for i in lost] == ["NotSent: agent ConnectionLost at preflight"] * 2


# test's repositories have moved on from the openssl-libs dev installed: a title pinning dev's version
# can no longer be installed there.
MOVED_ON_FLEET = {
    "defaults": {"execution_seconds": [60, 120], "missing_share": 1.0},
    "groups": [
        _group("dev", AL, 2, 1.0),
        _group("test", AL, 2, 1.0, superseded={"openssl-libs.x86_64": 1.0}),
    ],
}
moved_on_fleet = fleetsim_fixture(MOVED_ON_FLEET, seed=3, time_scale=600, scope="function")


def test_a_pinned_version_no_longer_offered_is_named_per_patch_so_dev_is_run_again(moved_on_fleet, run_rollout, demo_plan):
    plan = demo_plan(stages=[_stage("dev"), _stage("test", pin_to="dev", gate={"max_failed": "0"})])
    run = run_rollout(moved_on_fleet, plan)

    assert (run.state, run.report.outcome, run.report.blocking_stage) == ("failed", "blocked", "test")
    test_stage = run.report.stages[1]
    moved = test_stage.moved_on["openssl-libs.x86_64"]
    pinned_title = moved.pinned_title
    assert pinned_title.startswith("openssl-libs.x86_64:") and moved.offered_title != pinned_title
    assert len(moved.instances) == 2
    assert (
        f"Version moved on for openssl-libs.x86_64: the manifest pins {pinned_title}, the repositories now offer {moved.offered_title} "
        f"(on {', '.join(moved.instances)}); run dev again to try the new version, rather than looking for a broken node"
    ) in _facts(test_stage)


# Installs of 7,000 simulated seconds (39 real ones at this time scale), within the document's own
# two-hour execution time-out. The wave's deadline (31 real seconds) falls 8 seconds before they end
# and 11 after half-way, so a test process slowed by its neighbours still cancels in time.
SLOW_FLEET = {"groups": [_group("dev", AL, 4, 0.5, execution_seconds=[7000, 7000])]}
slow_fleet = fleetsim_fixture(SLOW_FLEET, seed=2, time_scale=180, scope="function")


def test_a_wave_past_its_deadline_is_recorded_only_after_its_cancel_settled(slow_fleet, run_rollout, demo_plan):
    # The wave's own deadline (timeout + execution timeout: 31 real seconds) passes near the end of every
    # install. The cancel arrives past half-way, so the installs finish and patch: they must be recorded as
    # the successes they are, not as cancelled ones read while SSM still said Cancelling.
    plan = demo_plan(stages=[_stage("dev", scan_first=False, max_concurrency="100%", timeout_seconds=30, execution_timeout_seconds=1)])
    run = run_rollout(slow_fleet, plan)

    (wave,) = run.report.stages[0].waves
    assert [i.status_details for i in wave.instances] == ["Success"] * 4
    assert (run.state, run.report.outcome) == ("success", "promoted")
    (command,) = slow_fleet.client("ssm").list_commands()["Commands"]
    assert command["Status"] == "Success"
    assert slow_fleet.stats().get("CancelCommand") == 1, "the deadline never passed: the test proves nothing"


# Two dev nodes fail their installs 1 real second in, one finishes after 10; each reports its patch state 8 real seconds
# after its run. So when the wave resumes, the failed nodes' states are in and the slow node's is not.
LATE_REPORT_FLEET = {
    "compliance_lag_seconds": 960,
    "defaults": {"reboot_share": 0.0},
    "groups": [
        _group("dev", AL, 2, 0.9, install_failure_probability=1.0, execution_seconds=[120, 120]),
        {**_group("dev", AL, 1, 0.9, execution_seconds=[1200, 1200]), "name": "dev-slow"},
    ],
}
late_report_fleet = fleetsim_fixture(LATE_REPORT_FLEET, seed=7, time_scale=120, scope="function")


def test_the_nodes_that_reported_are_listed_while_the_wave_waits_for_the_last_report(late_report_fleet, run_rollout, demo_plan):
    # Only the wave reads patch states, and only it lists patches: a state read after a listing means the failed nodes
    # were listed before the slow node's state was in. That read is throttled once, which the client rides out.
    late_report_fleet.inject_fault(after_action="DescribeInstancePatches", fail_action="DescribeInstancePatchStates", status=400,
                                   code="ThrottlingException", message="Rate exceeded")
    plan = demo_plan(stages=[_stage("dev", scan_first=False, max_concurrency="100%", max_errors="100%", gate={"max_failed": "2", "min_compliant_percent": 0})])
    run = run_rollout(late_report_fleet, plan)

    assert (run.state, run.report.outcome) == ("success", "promoted")
    (fault,) = late_report_fleet.faults()
    assert fault["failed"] == 1
    ssm = late_report_fleet.client("ssm")
    failed_patches = {i: sorted(p["KBId"] for p in patches(ssm, i, "Failed")) for i in group_instances(ssm, "dev")}
    rows = {row.instance_id: row for wave in run.report.stages[0].waves for row in wave.instances}
    assert sorted((row.outcome, bool(row.failed_patch_ids)) for row in rows.values()) == [("failed", True), ("failed", True), ("succeeded", False)]
    assert {i: sorted(row.failed_patch_ids) for i, row in rows.items()} == failed_patches
    assert all(row.compliant is not None for row in rows.values())
