"""The end-to-end run's checks: pure functions over what the REST API and the ledger showed."""
from __future__ import annotations

import pytest

from patchflow.core.report_records import Report, RunOutcome, Stage
from patchflow.harness.checks import (
    Check,
    Observation,
    check_blocked,
    check_cancelled,
    check_deferred,
    check_promoted,
    check_worker_hosts,
    check_workers,
    is_deferring_task,
    record_poll,
    verdict,
)


def ti(task_id, state="success", hostname="worker-a", **extra):
    return {"task_id": task_id, "state": state, "hostname": hostname, "try_number": 1, **extra}


DEFERRED_LOG = "... Pausing task as DEFERRED. ...\n... Trigger fired event ..."


def promoted_observation() -> Observation:
    tis = [
        ti("start"),
        ti("dev.scan", hostname="worker-b"),
        ti("dev.wave_1"),
        ti("dev.gate", hostname="worker-b"),
        ti("dev.soak"),
        ti("finish", hostname="worker-b"),
    ]
    observation = Observation(run={"state": "success"}, task_instances=tis)
    observation.logs = {t: DEFERRED_LOG for t in ("dev.scan", "dev.wave_1", "dev.soak")}
    record_poll(observation, [ti("dev.wave_1", "running"), ti("dev.scan", "success")])
    record_poll(observation, [ti("dev.wave_1", "deferred", trigger={"id": 4, "classpath": "patchflow.rollout.triggers.CommandCompletionTrigger", "triggerer_id": 2, "kwargs": ""})])
    record_poll(observation, [ti("dev.wave_1", "deferred", trigger={"id": 4, "classpath": "x.CommandCompletionTrigger", "triggerer_id": 2})])
    record_poll(observation, [ti("dev.wave_1", "success")])
    observation.report = Report(outcome=RunOutcome.PROMOTED, stages=(Stage("dev"),))
    return observation


@pytest.mark.parametrize(
    "task_id, waits",
    [
        pytest.param(task_id, waits, id=task_id)
        for task_id, waits in (
            ("dev.scan", True), ("prod.wave_3", True), ("test.soak", True), ("dev.gate", False), ("dev.window", False), ("start", False), ("dev.wave_gate", True),
        )
    ],
)
def test_waiting_tasks_are_scan_wave_and_soak(task_id, waits):
    assert is_deferring_task(task_id) is waits


def test_record_poll_keeps_state_changes_in_order_and_the_trigger():
    observation = promoted_observation()
    assert observation.seen_states["dev.wave_1"] == ["running", "deferred", "success"]
    assert observation.seen_triggers["dev.wave_1"] == {"id": 4, "classpath": "x.CommandCompletionTrigger", "triggerer_id": 2}


def test_a_promoted_run_passes_every_check():
    observation = promoted_observation()
    checks = [check_promoted(observation), check_deferred(observation), check_worker_hosts(observation, ["worker-a", "worker-b"]),
              check_workers(observation.task_instances, ["worker-a", "worker-b"])]
    assert [c.passed for c in checks] == [True, True, True, True], checks
    assert "dev" in checks[0].detail
    assert checks[2].detail == "tasks per worker hostname: worker-a: 3, worker-b: 3"
    assert checks[3].detail == "tasks per worker hostname over every run: worker-a: 3, worker-b: 3"
    assert verdict(checks) == 0


def test_promoted_fails_on_a_failed_run_or_a_ledger_that_disagrees():
    observation = promoted_observation()
    observation.report = Report(outcome=RunOutcome.BLOCKED)
    assert not check_promoted(observation).passed
    observation = promoted_observation()
    observation.run = {"state": "failed"}
    observation.task_instances[-1]["state"] = "failed"
    check = check_promoted(observation)
    assert not check.passed and "run failed" in check.detail and "finish" in check.detail


def test_a_wait_held_in_a_worker_fails_the_deferred_check():
    observation = promoted_observation()
    observation.logs["dev.soak"] = "slept in the worker"
    check = check_deferred(observation)
    assert not check.passed and "dev.soak" in check.detail


def test_a_deferral_the_triggerer_never_fired_fails():
    observation = promoted_observation()
    observation.logs["dev.scan"] = "Pausing task as DEFERRED."
    check = check_deferred(observation)
    assert not check.passed and "dev.scan" in check.detail and "Trigger fired event" in check.detail


def test_deferred_needs_the_api_to_have_shown_one_on_a_triggerer():
    observation = promoted_observation()
    observation.seen_triggers = {}
    assert not check_deferred(observation).passed
    observation.task_instances = [ti("start")]
    assert "nothing could defer" in check_deferred(observation).detail


def test_one_worker_doing_everything_fails_the_workers_check():
    observation = promoted_observation()
    for each in observation.task_instances:
        each["hostname"] = "worker-a"
    check = check_workers(observation.task_instances, ["worker-a", "worker-b"])
    assert check == Check("workers", False, "no task ran on worker-b (worker-a: 6)")


def test_a_short_run_on_one_worker_passes_its_hosts_check_and_the_workers_are_judged_over_every_run():
    blocked_on_one_worker = [ti("start", hostname="worker-b"), ti("dev.wave_1", "failed", hostname="worker-b"),
                             ti("dev.gate", "upstream_failed", hostname=None)]
    assert check_worker_hosts(Observation(run={"state": "failed"}, task_instances=blocked_on_one_worker), ["worker-a", "worker-b"]) == Check(
        "hosts", True, "tasks per worker hostname: worker-b: 2")
    every_run = [*promoted_observation().task_instances, *blocked_on_one_worker]
    assert check_workers(every_run, ["worker-a", "worker-b"]) == Check("workers", True, "tasks per worker hostname over every run: worker-a: 3, worker-b: 5")
    assert check_workers(blocked_on_one_worker, ["worker-a", "worker-b"]) == Check("workers", False, "no task ran on worker-a (worker-b: 2)")


def test_a_task_on_a_host_that_is_no_worker_fails_its_runs_hosts_check():
    observation = promoted_observation()
    observation.task_instances[0]["hostname"] = "laptop"
    assert check_worker_hosts(observation, ["worker-a", "worker-b"]) == Check(
        "hosts", False, "tasks ran on unexpected hosts laptop (laptop: 1, worker-a: 2, worker-b: 3)")


def blocked_observation() -> Observation:
    tis = [
        ti("start"),
        ti("dev.wave_1", "failed"),
        ti("dev.gate", "upstream_failed", None),
        ti("test.window", "upstream_failed", None),
        ti("finish", "failed", "worker-b"),
    ]
    observation = Observation(run={"state": "failed"}, task_instances=tis)
    observation.report = Report(outcome=RunOutcome.BLOCKED, blocking_stage="dev", reason="install wave 1: 9 of 10 failed")
    return observation


def test_the_block_shows_through_the_api():
    check = check_blocked(blocked_observation(), "dev", ["test", "prod"])
    assert check.passed, check
    assert "dev.wave_1" in check.detail and "9 of 10 failed" in check.detail


def test_block_check_fails_when_a_later_stage_ran_or_the_ledger_disagrees():
    observation = blocked_observation()
    observation.task_instances[3]["state"] = "success"
    assert "later stages ran: test.window" in check_blocked(observation, "dev", ["test", "prod"]).detail
    observation = blocked_observation()
    observation.report = Report(outcome=RunOutcome.PROMOTED)
    observation.run = {"state": "success"}
    check = check_blocked(observation, "dev", ["test"])
    assert not check.passed and "run success" in check.detail and "expected blocked at dev" in check.detail


def test_checks_say_so_when_the_run_left_no_ledger_records():
    blocked, promoted = blocked_observation(), promoted_observation()
    blocked.report = promoted.report = None
    assert check_blocked(blocked, "dev", ["test"]) == Check("blocked", False, "ledger says nothing, expected blocked at dev")
    assert check_promoted(promoted) == Check("promoted", False, "expected run success and ledger outcome promoted, got run success, ledger no records")


def test_verdict_is_nonzero_when_any_check_fails():
    assert verdict([Check("a", True, ""), Check("b", False, "")]) == 1


def _command(stage: str, code: str, status: str, at: str) -> dict:
    return {"Comment": f"patchflow abc123def456 {stage} {code} all c1", "Status": status, "RequestedDateTime": at}


@pytest.mark.parametrize(
    ("killed", "commands", "passed", "detail"),
    [
        pytest.param("dev.scan", [_command("dev", "S1", "Cancelled", "1")], True, "dev.scan: 1 command(s) Cancelled; 0 sent after it", id="cancelled"),
        pytest.param("dev.wave_1", [_command("dev", "S1", "Success", "1"), _command("dev", "I1", "Cancelling", "2")], True,
                     "dev.wave_1: 1 command(s) Cancelling; 0 sent after it", id="cancelling-after-a-finished-scan"),
        pytest.param("dev.scan", [_command("dev", "S1", "InProgress", "1")], False, "dev.scan: 1 command(s) InProgress; 0 sent after it", id="still-running"),
        pytest.param("dev.scan", [_command("dev", "S1", "Cancelled", "1"), _command("dev", "I1", "Success", "2")], False,
                     "dev.scan: 1 command(s) Cancelled; 1 sent after it", id="something-sent-after"),
        pytest.param("dev.scan", [], False, "dev.scan: 0 command(s) none found; 0 sent after it", id="no-command-found"),
        pytest.param(None, [], False, "no wave was stopped", id="nothing-stopped"),
    ],
)
def test_check_cancelled(killed, commands, passed, detail):
    check = check_cancelled(killed, commands)
    assert (check.passed, check.detail) == (passed, detail)


@pytest.mark.parametrize(
    "check, line",
    [
        pytest.param(Check("hosts", True, "tasks per worker hostname: worker-a: 2"), "  PASS  hosts     tasks per worker hostname: worker-a: 2", id="passed"),
        pytest.param(Check("workers", False, "no task ran on worker-a (worker-b: 6)"), "  FAIL  workers   no task ran on worker-a (worker-b: 6)", id="failed"),
    ],
)
def test_a_check_prints_as_one_line_with_its_verdict_name_and_detail(check, line):
    assert check.line() == line
