"""Whole rollouts through real Airflow task execution against fleetsim: what a release manager relies on."""
from __future__ import annotations

import pytest
import yaml

from fleetsim.testing import fleetsim_fixture
from patchflow.core.report_records import Pin
from patchflow.core.yamlfile import PROJECT_ROOT
from tests.patchflow.rollout.fleet_reads import commands_by_group, installed_by_scan, manifest_ids, missing_ids, patches

pytestmark = pytest.mark.airflow


def _group(stage: str, platform: str, count: int, missing_share: float) -> dict:
    return {"name": f"{stage}-{platform.lower()}", "count": count, "platform": platform, "tags": {"Patch Group": stage}, "missing_share": missing_share}


# The alarms the demo plan's health gates name, as include/fleets/demo.yaml has them (all OK).
DEMO_ALARMS = yaml.safe_load((PROJECT_ROOT / "include/fleets/demo.yaml").read_text())["alarms"]
# dev starts nearly up to date, test and prod far behind: their baselines approve much that dev
# never installs, so pinning has something to hold back.
PINNING_FLEET = {
    "defaults": {"execution_seconds": [60, 180], "reboot_share": 0.0},
    "groups": [
        *(_group("dev", p, 2, 0.3) for p in ("AMAZON_LINUX_2023", "UBUNTU", "WINDOWS")),
        *(_group("test", p, 2, 0.9) for p in ("AMAZON_LINUX_2023", "UBUNTU", "WINDOWS")),
        _group("prod", "AMAZON_LINUX_2023", 4, 0.9), _group("prod", "UBUNTU", 3, 0.9), _group("prod", "WINDOWS", 3, 0.9),
    ],
    "alarms": DEMO_ALARMS,
}
demo_fleet = fleetsim_fixture(PINNING_FLEET, seed=7, time_scale=600, scope="function")
failing_fleet = fleetsim_fixture(
    yaml.safe_load((PROJECT_ROOT / "include/fleets/failing-dev.yaml").read_text()), seed=7, time_scale=600, scope="function",
)


def test_the_demo_plan_promotes_dev_then_test_then_prod_with_waves_and_a_pinned_set(demo_fleet, run_rollout, demo_plan):
    installed_before = {group: installed_by_scan(demo_fleet, group) for group in ("test", "prod")}
    run = run_rollout(demo_fleet, demo_plan(), conf={"change_ticket": "CHG-1"}, sync_baselines=True)

    assert run.state == "success"
    assert run.report.outcome == "promoted"
    assert [(s.name, s.state) for s in run.report.stages] == [("dev", "promoted"), ("test", "promoted"), ("prod", "promoted")]
    assert run.report.change_ticket == "CHG-1"

    # Every stage's health gate watched its alarms; dev and test checked each patched node with a script.
    checks = [(r["stage"], r["phase"], r["passed"]) for r in run.kinds("health_check")]
    assert all(passed for _, _, passed in checks) and {(stage, phase) for stage, phase, _ in checks} == {
        (stage, phase) for stage in ("dev", "test", "prod") for phase in ("preflight", "wave", "soak")
    }
    sent = commands_by_group(demo_fleet)
    verified = {group: sorted({c["DocumentName"] for c in commands if c["DocumentName"] != "AWS-RunPatchBaseline"}) for group, commands in sent.items()}
    assert verified == {"dev": ["AWS-RunPowerShellScript", "AWS-RunShellScript"], "test": ["AWS-RunPowerShellScript", "AWS-RunShellScript"], "prod": []}
    installs = {group: [c for c in commands if c["Parameters"].get("Operation") == ["Install"]] for group, commands in sent.items()}
    # prod's waves [1, "50%", "100%"] over 10 instances: 1, then up to 5, then the rest, each wave split by OS.
    prod_wave_sizes = [sum(len(c["InstanceIds"]) for c in run_commands) for run_commands in _by_wave(installs["prod"])]
    assert prod_wave_sizes == [1, 4, 5]
    assert {(c["MaxConcurrency"], c["MaxErrors"]) for c in installs["prod"]} == {("50%", "10%")}

    # Pinned: test and prod install exactly what dev installed in this run, through InstallOverrideList.
    manifest = run.kinds("manifest")[0]
    assert manifest["stage"] == "dev" and manifest["size"] > 0
    for group in ("test", "prod"):
        assert all(c["Parameters"].get("InstallOverrideList", [""])[0].startswith("s3://rollout-tests/") for c in installs[group])
    release = manifest["release_id"]
    assert release == "r-" + manifest["content_hash"][:16]
    assert [s.pinned_to for s in run.report.stages] == [None, Pin("dev", manifest["content_hash"], release), Pin("dev", manifest["content_hash"], release)]
    pinned_ids = manifest_ids(demo_fleet, manifest["location"])
    for group in ("test", "prod"):
        after = installed_by_scan(demo_fleet, group)
        installed_now = {p for instance_id, ids in after.items() for p in ids - installed_before[group][instance_id]}
        assert installed_now and installed_now <= pinned_ids, f"{group} installed {sorted(installed_now - pinned_ids)} outside the manifest"
    # Their own baselines approve more than dev installed: reported as drift, left missing.
    drift = {record["stage"]: record["drift"] for record in run.kinds("drift")}
    assert drift["prod"], "expected prod's baseline to approve patches dev never installed"
    still_missing = missing_ids(demo_fleet, "prod")
    assert {patch for patches in drift["prod"].values() for patch in patches} <= still_missing


def _by_wave(commands: list[dict]) -> list[list[dict]]:
    waves: dict[str, list[dict]] = {}
    for command in sorted(commands, key=lambda c: c["RequestedDateTime"]):
        # comment: "patchflow <token> <stage> I<wave> <os> c<n>"
        waves.setdefault(command["Comment"].split()[3], []).append(command)
    return [waves[key] for key in sorted(waves)]


def _utc(recorded: str) -> str:
    """A ledger moment ('2026-12-03T10:00:00Z') as a report's reason says it ('2026-12-03 10:00:00 UTC')."""
    return recorded.replace("T", " ").replace("Z", " UTC")


def _stage(name: str, group: str, **extra) -> dict:
    return {"name": name, "patch_group": group, "expected_min_targets": 1, **extra}


def test_a_dev_stage_failing_above_its_threshold_blocks_and_nothing_reaches_test_or_prod(failing_fleet, run_rollout, demo_plan):
    run = run_rollout(failing_fleet, demo_plan(), sync_baselines=True)

    assert run.state == "failed"
    assert run.report.outcome == "blocked"
    assert [(s.name, s.state) for s in run.report.stages] == [("dev", "blocked"), ("test", "not started"), ("prod", "not started")]
    assert run.report.reason == (
        "install wave 1: 9 of 10 instances failed (90.0%), above the limit of 10%; 4 instances not dispatched counted as failures"
    )
    sent = commands_by_group(failing_fleet)
    assert sorted(sent) == ["dev"], f"commands reached {sorted(sent)}"
    # MaxErrors 10% of 10 is 1: SSM stopped dispatching after the second error; the rest never started.
    install = [c for c in sent["dev"] if c["Parameters"].get("Operation") == ["Install"]]
    assert [(c["MaxErrors"], c["Status"], c["ErrorCount"] >= 2) for c in install] == [("10%", "Failed", True)]
    assert failing_fleet.stats().get("Publish", 0) >= 1, "the block was not notified"
    # Each node whose install failed names its failed patches as SSM lists them; no other row carries the field.
    ssm = failing_fleet.client("ssm")
    rows = [row for wave in run.report.stages[0].waves if wave.operation == "Install" for row in wave.instances]
    named = {row.instance_id: list(row.failed_patch_ids) for row in rows if "failed_patch_ids" in row.recorded}
    failed_in_fleet = {row.instance_id: sorted(p["KBId"] for p in patches(ssm, row.instance_id, "Failed")) for row in rows if row.outcome == "failed"}
    assert named == failed_in_fleet and len(named) >= 2 and all(named.values())


def test_a_stage_with_zero_targets_fails_with_the_reason_and_sends_nothing(demo_fleet, run_rollout, demo_plan):
    run = run_rollout(demo_fleet, demo_plan(stages=[_stage("dev", "nobody")]))

    assert run.state == "failed"
    assert run.report.reason == "run start: stage dev: patch group 'nobody' has no managed instances (tag 'Patch Group' or 'PatchGroup')"
    assert "SendCommand" not in demo_fleet.stats()


def test_a_rejected_approval_fails_the_run_before_anything_is_sent(demo_fleet, run_rollout, demo_plan):
    plan = demo_plan(stages=[_stage("dev", "dev", approval={"required": True, "timeout": "10m"})])
    run = run_rollout(demo_fleet, plan, answer="Reject")

    (answer,) = run.kinds("approval_answered")
    assert run.state == "failed"
    assert run.report.outcome == "failed"
    assert (answer["stage"], answer["answer"], answer["by"]) == ("dev", "rejected", "release-manager")
    assert run.report.reason == f"stage dev was rejected by release-manager at {_utc(answer['answered_at'])}"
    assert "SendCommand" not in demo_fleet.stats()
    assert demo_fleet.stats().get("Publish", 0) >= 2, "expected the approval request and the outcome to be notified"


def test_an_approval_nobody_answers_in_time_fails_the_run_before_anything_is_sent(demo_fleet, run_rollout, demo_plan):
    plan = demo_plan(stages=[_stage("dev", "dev", approval={"required": True, "timeout": "1m"})])
    run = run_rollout(demo_fleet, plan, answer="no answer")

    (asked,) = [r for r in run.kinds("waiting") if r["what"] == "approval"]
    (answer,) = run.kinds("approval_answered")
    assert run.state == "failed"
    assert (answer["answer"], answer["answered_at"], answer["by"]) == ("timed_out", asked["until"], "")
    assert run.report.reason == f"stage dev was not approved: nobody answered before the deadline, {_utc(asked['until'])}"
    assert "SendCommand" not in demo_fleet.stats()


def test_an_approved_stage_goes_ahead(demo_fleet, run_rollout, demo_plan):
    plan = demo_plan(stages=[_stage("dev", "dev", approval={"required": True, "timeout": "10m"})])
    run = run_rollout(demo_fleet, plan, answer="Approve")

    assert run.state == "success"
    assert run.report.outcome == "promoted"


def test_a_retried_install_reattaches_to_its_command_instead_of_sending_another(demo_fleet, run_rollout, demo_plan):
    # The ledger write right after the install's SendCommand fails, as if the worker died there.
    demo_fleet.inject_fault(after_action="SendCommand", after_count=2, fail_action="s3:PUT", status=403, code="AccessDenied", message="injected")
    run = run_rollout(demo_fleet, demo_plan(stages=[_stage("dev", "dev")]))

    assert run.state == "success"
    assert [f["failed"] for f in demo_fleet.faults()] == [1]
    sent = commands_by_group(demo_fleet)["dev"]
    assert sorted(c["Parameters"]["Operation"][0] for c in sent) == ["Install", "Scan"]
    install_record = [r for r in run.kinds("command_sent") if r["operation"] == "Install"]
    assert [r["reattached"] for r in install_record] == [[c["CommandId"] for c in sent if c["Parameters"]["Operation"] == ["Install"]]]
    # Judged from when the re-attached command was sent: every node's patch state reported since then counts.
    counts = run.report.stages[0].counts
    assert (counts["succeeded"], counts["compliant"], counts["compliance_unknown"]) == (6, 6, 0)


def test_a_dry_run_scans_every_stage_and_installs_nothing(demo_fleet, run_rollout, demo_plan):
    run = run_rollout(demo_fleet, demo_plan(), conf={"dry_run": True})

    assert run.report.dry_run is True
    operations = {c["Parameters"]["Operation"][0] for commands in commands_by_group(demo_fleet).values() for c in commands}
    assert operations == {"Scan"}


big_fleet = fleetsim_fixture(
    {"groups": [{"count": 60, "platform": "AMAZON_LINUX_2023", "tags": {"Patch Group": "dev"}, "execution_seconds": [60, 120]}]},
    time_scale=600,
    scope="function",
)


def test_a_wave_of_a_whole_large_group_is_one_command_aimed_at_its_tag(big_fleet, run_rollout, demo_plan):
    run = run_rollout(big_fleet, demo_plan(stages=[_stage("dev", "dev", scan_first=False, max_concurrency="100%")]))

    assert run.state == "success"
    (command,) = big_fleet.client("ssm").list_commands()["Commands"]
    assert (command["Targets"], command["TargetCount"], command["CompletedCount"]) == ([{"Key": "tag:Patch Group", "Values": ["dev"]}], 60, 60)
    assert run.report.stages[0].counts["succeeded"] == 60
