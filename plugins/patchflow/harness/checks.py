"""The end-to-end run's checks: pure functions over what the REST API (and the run ledger) showed.

Each `check_*` returns a `Check` (name, passed, one-line detail); `verdict` is
the command's exit code over them. Tested without starting anything.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Mapping

from patchflow.core.report_records import Report, RunOutcome

# Tasks that wait on SSM or on the clock: each must defer rather than sleep in a worker slot.
DEFERRING_TASKS = ("scan", "wave_", "soak")
DEFERRED_LOG_LINE = "Pausing task as DEFERRED"  # the worker's task runner, as it hands the wait over
TRIGGER_FIRED_LINE = "Trigger fired event"  # the triggerer, when the wait is over (its file is merged into the task log)


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    detail: str

    def line(self) -> str:
        """How the harness prints the check: `  PASS  name      detail`."""
        return f"  {'PASS' if self.passed else 'FAIL'}  {self.name:<9} {self.detail}"


@dataclass
class Observation:
    """What the release manager's script saw through the API (plus the ledger's own report)."""

    run: dict
    task_instances: list[dict]
    seen_states: dict[str, list[str]] = field(default_factory=dict)  # task_id -> states in the order seen
    seen_triggers: dict[str, dict] = field(default_factory=dict)  # task_id -> the trigger seen while deferred
    logs: dict[str, str] = field(default_factory=dict)  # task_id -> its log text, from the API
    report: Report | None = None  # patchflow.core.report.build_report over the run's ledger


def record_poll(observation: Observation, task_instances: Iterable[Mapping]) -> None:
    """Fold one poll of the task-instance list into what has been seen."""
    for ti in task_instances:
        states = observation.seen_states.setdefault(ti["task_id"], [])
        state = ti.get("state")
        if state and (not states or states[-1] != state):
            states.append(state)
        if state == "deferred" and ti.get("trigger"):
            observation.seen_triggers[ti["task_id"]] = {k: ti["trigger"].get(k) for k in ("id", "classpath", "triggerer_id")}


def is_deferring_task(task_id: str) -> bool:
    leaf = task_id.rsplit(".", 1)[-1]
    return any(leaf == name or (name.endswith("_") and leaf.startswith(name)) for name in DEFERRING_TASKS)


def check_deferred(observation: Observation) -> Check:
    """Every SSM/soak wait that ran went to the triggerer: its log says DEFERRED, and the API showed one deferred on a trigger."""
    ran = [ti["task_id"] for ti in observation.task_instances if is_deferring_task(ti["task_id"]) and ti.get("state") in ("success", "failed")]
    if not ran:
        return Check("deferred", False, "no scan, wave or soak task ran, so nothing could defer")
    not_deferred = [t for t in ran if DEFERRED_LOG_LINE not in observation.logs.get(t, "")]
    not_fired = [t for t in ran if TRIGGER_FIRED_LINE not in observation.logs.get(t, "")]
    seen = {t: trig for t, trig in observation.seen_triggers.items() if trig.get("triggerer_id") is not None}
    if not_deferred:
        return Check("deferred", False, f"{len(not_deferred)} waiting task(s) never logged {DEFERRED_LOG_LINE!r}: {', '.join(sorted(not_deferred))}")
    if not_fired:
        return Check("deferred", False, f"{len(not_fired)} waiting task(s) have no triggerer line {TRIGGER_FIRED_LINE!r} in their log: {', '.join(sorted(not_fired))}")
    if not seen:
        return Check("deferred", False, f"{len(ran)} tasks logged a deferral, but the API never showed one deferred on a triggerer")
    classpaths = sorted({trig["classpath"].rsplit(".", 1)[-1] for trig in seen.values() if trig.get("classpath")})
    triggerers = sorted({str(trig["triggerer_id"]) for trig in seen.values()})
    return Check(
        "deferred",
        True,
        f"all {len(ran)} waiting tasks deferred and were resumed by the triggerer's event; {len(seen)} seen deferred over the API on triggerer job {', '.join(triggerers)} ({', '.join(classpaths)})",
    )


def check_worker_hosts(observation: Observation, expected: Iterable[str]) -> Check:
    """One run's tasks ran only on the expected workers; a short run may well land on one of them alone."""
    expected = set(expected)
    by_host = tasks_per_host(observation.task_instances)
    unexpected = sorted(host for host in by_host if host not in expected)
    if unexpected:
        return Check("hosts", False, f"tasks ran on unexpected hosts {', '.join(unexpected)} ({shown_per_host(by_host)})")
    return Check("hosts", True, f"tasks per worker hostname: {shown_per_host(by_host)}")


def check_workers(task_instances: Iterable[dict], expected: Iterable[str]) -> Check:
    """Every expected worker ran tasks, judged over all the runs on one topology (each run's `hosts` check names any other host)."""
    by_host = tasks_per_host(task_instances)
    missing = [name for name in sorted(expected) if name not in by_host]
    if missing:
        return Check("workers", False, f"no task ran on {', '.join(missing)} ({shown_per_host(by_host)})")
    return Check("workers", True, f"tasks per worker hostname over every run: {shown_per_host(by_host)}")


def tasks_per_host(task_instances: Iterable[dict]) -> dict[str, int]:
    by_host: dict[str, int] = {}
    for ti in task_instances:
        if ti.get("hostname") and ti.get("state") in ("success", "failed"):
            by_host[ti["hostname"]] = by_host.get(ti["hostname"], 0) + 1
    return by_host


def shown_per_host(by_host: dict[str, int]) -> str:
    return ", ".join(f"{host}: {count}" for host, count in sorted(by_host.items())) or "no task ran"


def check_promoted(observation: Observation) -> Check:
    run_state = observation.run.get("state")
    report = observation.report
    failed = sorted(ti["task_id"] for ti in observation.task_instances if ti.get("state") not in ("success", "skipped"))
    if run_state == "success" and report is not None and report.outcome is RunOutcome.PROMOTED and not failed:
        stages = [s.name for s in report.stages]
        return Check("promoted", True, f"run success, ledger outcome promoted{' through ' + ' -> '.join(stages) if stages else ''}")
    blocked = f" at {report.blocking_stage} ({report.reason.strip()[:160]})" if report is not None and report.blocking_stage else ""
    return Check(
        "promoted",
        False,
        f"expected run success and ledger outcome promoted, got run {run_state}, ledger {report.outcome.value if report else 'no records'}{blocked}"
        + (f"; not successful: {', '.join(failed[:8])}" if failed else ""),
    )


def check_blocked(observation: Observation, stage: str, later_stages: Iterable[str]) -> Check:
    """The block shows through the API: run failed, a task of `stage` failed, nothing later ran, the ledger says blocked there."""
    run_state = observation.run.get("state")
    report = observation.report
    failed_in_stage = sorted(ti["task_id"] for ti in observation.task_instances if ti["task_id"].startswith(stage + ".") and ti.get("state") == "failed")
    later_ran = sorted(
        ti["task_id"]
        for ti in observation.task_instances
        if ti["task_id"].split(".", 1)[0] in set(later_stages) and ti.get("state") in ("success", "running", "deferred", "failed")
    )
    problems = []
    if run_state != "failed":
        problems.append(f"run {run_state}, expected failed")
    if not failed_in_stage:
        problems.append(f"no task of stage {stage} failed")
    if later_ran:
        problems.append(f"later stages ran: {', '.join(later_ran)}")
    if report is None:
        problems.append(f"ledger says nothing, expected blocked at {stage}")
    elif report.outcome is not RunOutcome.BLOCKED or report.blocking_stage != stage:
        problems.append(f"ledger says {report.outcome.value} at {report.blocking_stage}, expected blocked at {stage}")
    if problems:
        return Check("blocked", False, "; ".join(problems))
    reason = report.reason.strip()
    return Check("blocked", True, f"run failed at {', '.join(failed_in_stage)}; ledger: blocked at {stage}" + (f" ({reason[:160]})" if reason else ""))


def check_cancelled(killed_task: str | None, commands: list[dict]) -> Check:
    """The stopped wave's commands are cancelled in SSM, and nothing was sent after them."""
    if not killed_task:
        return Check("cancelled", False, "no wave was stopped")
    stage, wave = killed_task.split(".", 1)
    code = ("S1" if wave == "scan" else f"I{wave.removeprefix('wave_')}")
    mine = [c for c in commands if c["Comment"].split()[2:4] == [stage, code]]
    later = [c for c in commands if c not in mine and c["RequestedDateTime"] > max((m["RequestedDateTime"] for m in mine), default=c["RequestedDateTime"])]
    states = sorted({c["Status"] for c in mine})
    passed = bool(mine) and set(states) <= {"Cancelled", "Cancelling"} and not later
    detail = f"{killed_task}: {len(mine)} command(s) {', '.join(states) or 'none found'}; {len(later)} sent after it"
    return Check("cancelled", passed, detail)


def verdict(checks: Iterable[Check]) -> int:
    return 0 if all(c.passed for c in checks) else 1


def task_table(observation: Observation) -> str:
    rows = [("task", "state", "hostname", "states seen")]
    for ti in sorted(observation.task_instances, key=lambda t: (t.get("start_date") or "9", t["task_id"])):
        rows.append((ti["task_id"], ti.get("state") or "-", ti.get("hostname") or "-", " > ".join(observation.seen_states.get(ti["task_id"], []))))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    return "\n".join(f"  {r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:<{widths[2]}}  {r[3]}" for r in rows)

