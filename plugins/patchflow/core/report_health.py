"""Health checks in the report: what each health_check record said, and the stage's health verdict in words.

A stage with a health gate records a health_check after each wave (its alarms and the
verification command's results), at preflight when an alarm was already firing, and at the
end of its soak or the moment an alarm fired during it. The report keeps each one as a
`HealthCheck` (report.json's `health`, written only for stages that have any, so the
report.json of a run without health gates stays as it always was), puts each node's latest
verification on its wave row, and says the verdict the same way in report.md, report.html
and on the Patch rollouts page.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Iterable, Mapping, Sequence

from patchflow.core.errors import join_path
from patchflow.core.report_fields import (
    COUNT,
    COUNT_OR_NULL,
    COUNTS_OR_NULL,
    FLAG,
    LIST,
    MAPPING_OR_NULL,
    TEXT,
    TEXT_OR_NULL,
    TEXTS,
    FieldReader,
    one_of,
    shown_time,
)
from patchflow.core.health import HealthPhase
from patchflow.core.records import RecordKind


class AlarmCondition(StrEnum):
    """An alarm's StateValue, as CloudWatch's DescribeAlarms answers it."""

    OK = "OK"
    ALARM = "ALARM"
    INSUFFICIENT_DATA = "INSUFFICIENT_DATA"
    DELETED = "DELETED"  # not CloudWatch's: the alarm was gone while a stage watched it (patchflow.core.health.DELETED)


@dataclass(frozen=True)
class AlarmStatus:
    """One alarm as a health check saw it: its state, CloudWatch's reason for it and when it entered it."""

    name: str
    state: str
    reason: str = ""
    updated_at: str = ""

    def to_json(self) -> dict[str, str]:
        return {"name": self.name, "state": self.state, "reason": self.reason, "updated_at": self.updated_at}

    def describe(self) -> str:
        """`storefront-dev-5xx: ALARM since 2026-12-02T10:41:07Z: Threshold Crossed: ...`"""
        since = f" since {shown_time(self.updated_at)}" if self.updated_at else ""
        return f"{self.name}: {self.state}{since}" + (f": {self.reason}" if self.reason else "")


@dataclass(frozen=True)
class HealthCheck:
    """One health_check record: where in the stage it was taken, its verdict and reasons, the alarms it read."""

    phase: HealthPhase
    wave: int | None = None
    passed: bool = True
    reasons: tuple[str, ...] = ()
    alarms: tuple[AlarmStatus, ...] = ()
    # The verification command's counts (targets, passed, failed); None when the check ran no command.
    verification: Mapping[str, int] | None = None
    command_ids: tuple[str, ...] = ()  # the verification command's ids
    checked_at: str | None = None

    @property
    def where(self) -> str:
        """`wave 2`, `soak` or `preflight`: where a reader of the report finds the check."""
        return f"wave {self.wave}" if self.phase is HealthPhase.WAVE and self.wave is not None else self.phase.value

    def to_json(self) -> dict[str, Any]:
        return {
            "phase": self.phase.value,
            "wave": self.wave,
            "passed": self.passed,
            "reasons": list(self.reasons),
            "alarms": [alarm.to_json() for alarm in self.alarms],
            "verification": None if self.verification is None else dict(self.verification),
            "command_ids": list(self.command_ids),
            "checked_at": self.checked_at,
        }


@dataclass(frozen=True)
class NodeVerification:
    """A node's verification command, as its wave row carries it (patchflow.core.records.WaveRow.verification)."""

    passed: bool
    status_details: str = ""
    response_code: int = -1  # Run Command's ResponseCode; -1 when the script never ran
    output_tail: str = ""

    @classmethod
    def from_row(cls, data: Mapping) -> "NodeVerification":
        return cls(bool(data.get("passed")), data.get("status_details", ""), data.get("response_code", -1), data.get("output_tail", ""))

    def shown(self) -> str:
        """`passed`, `failed (exit 1)`, `failed (DeliveryTimedOut)`: what the per-instance table says."""
        if self.passed:
            return "passed"
        # A script that never ran has no exit code; its status says why.
        details = [self.status_details] if self.status_details not in ("", "Failed") else []
        if self.response_code >= 0:
            details.append(f"exit {self.response_code}")
        return "failed" + (f" ({', '.join(details)})" if details else "")


# --------------------------------------------------------------------------- from the ledger


def health_checks(records: Iterable[Mapping]) -> tuple[HealthCheck, ...]:
    """A stage's health_check records, in time order, as the report keeps them."""
    return tuple(_health_check(record) for record in records if record["kind"] == RecordKind.HEALTH_CHECK)


def _health_check(record: Mapping) -> HealthCheck:
    verification = record.get("verification")
    return HealthCheck(
        phase=HealthPhase(record.get("phase", HealthPhase.WAVE.value)),
        wave=record.get("wave"),
        passed=bool(record.get("passed")),
        reasons=tuple(record.get("reasons", [])),
        alarms=tuple(AlarmStatus(a["name"], a["state"], a.get("reason", ""), a.get("updated_at", "")) for a in record.get("alarms", [])),
        verification=None if verification is None else dict(verification.get("counts", {})),
        command_ids=tuple(verification.get("command_ids", [])) if verification else (),
        checked_at=record.get("checked_at"),
    )


def latest_verifications(records: Iterable[Mapping]) -> dict[str, dict]:
    """Instance id -> that node's latest verification, as a wave row carries it: a retried check's answer replaces the first."""
    latest: dict[str, dict] = {}
    for record in records:
        if record["kind"] != RecordKind.HEALTH_CHECK or not record.get("verification"):
            continue
        for node in record["verification"].get("nodes", []):
            latest[node["instance_id"]] = {
                "passed": node["passed"], "status_details": node.get("status_details", ""),
                "response_code": node.get("response_code", -1), "output_tail": node.get("output_tail", ""),
            }
    return latest


# --------------------------------------------------------------------------- in words


@dataclass(frozen=True)
class HealthVerdict:
    """A stage's health in one line: `passed (2 alarms OK, 10 of 10 instances verified)` or `BLOCKED at soak: <reason>`."""

    passed: bool
    text: str
    reason: str = ""  # the blocking check's first reason (it names the alarm); "" when passed


def health_verdict(checks: Sequence[HealthCheck]) -> HealthVerdict | None:
    """None for a stage without health checks; a block as soon as any check failed (a failed check ends the run)."""
    if not checks:
        return None
    blocked = next((check for check in checks if not check.passed), None)
    if blocked is not None:
        reason = blocked.reasons[0] if blocked.reasons else "no reason recorded"
        return HealthVerdict(False, f"BLOCKED at {blocked.where}: {reason}", reason)
    alarms = latest_alarms(checks)
    parts = []
    if alarms:
        by_state = {state: sum(1 for alarm in alarms if alarm.state == state) for state in dict.fromkeys(alarm.state for alarm in alarms)}
        parts += [f"{count} alarm{'s' if count != 1 else ''} {state}" + ("" if state == AlarmCondition.OK else " (allowed)") for state, count in by_state.items()]
    # One count per wave: a retried check counts its wave once, with its latest answer.
    verified = {check.wave: check.verification for check in checks if check.phase is HealthPhase.WAVE and check.verification is not None}
    if verified:
        passed = sum(counts.get("passed", 0) for counts in verified.values())
        targets = sum(counts.get("targets", 0) for counts in verified.values())
        parts.append(f"{passed} of {targets} instances verified")
    return HealthVerdict(True, "passed" + (f" ({', '.join(parts)})" if parts else ""))


def latest_alarms(checks: Sequence[HealthCheck]) -> tuple[AlarmStatus, ...]:
    """Each alarm the stage watched, as the last check that read it saw it; in the order they were first seen."""
    latest: dict[str, AlarmStatus] = {}
    for check in checks:
        for alarm in check.alarms:
            latest[alarm.name] = alarm
    return tuple(latest.values())


def check_line(check: HealthCheck) -> str:
    """One check for the report's list: `wave 1: passed: healthy: 2 alarm(s) OK, 5 of 5 instances verified`."""
    return f"{check.where}: {'passed' if check.passed else 'BLOCKED'}" + (f": {'; '.join(check.reasons)}" if check.reasons else "")


# --------------------------------------------------------------------------- reading report.json


def read_health_checks(read: FieldReader, values: Any, path: str) -> tuple[HealthCheck, ...]:
    return read.each(values, path, lambda value, at: _read_health_check(read, value, at))


def _read_health_check(read: FieldReader, value: Any, path: str) -> HealthCheck:
    data = read.mapping(value, path)
    if data is None:
        return HealthCheck(HealthPhase.WAVE)

    def take(key, kind, *default):
        return read.take(data, path, key, kind, *default)

    phase, wave, passed, reasons = take("phase", one_of(HealthPhase)), take("wave", COUNT_OR_NULL), take("passed", FLAG), take("reasons", TEXTS)
    alarms = read.each(take("alarms", LIST) or [], join_path(path, "alarms"), lambda alarm, at: _read_alarm(read, alarm, at))
    verification, command_ids, checked_at = take("verification", COUNTS_OR_NULL), take("command_ids", TEXTS), take("checked_at", TEXT_OR_NULL)
    return HealthCheck(
        HealthPhase(phase) if phase is not None else HealthPhase.WAVE, wave, bool(passed), tuple(reasons or ()), alarms,
        None if verification is None else dict(verification), tuple(command_ids or ()), checked_at,
    )


def _read_alarm(read: FieldReader, value: Any, path: str) -> AlarmStatus:
    data = read.mapping(value, path)
    if data is None:
        return AlarmStatus("", "")
    name, state = read.take(data, path, "name", TEXT), read.take(data, path, "state", one_of(AlarmCondition))
    return AlarmStatus(name, state, read.take(data, path, "reason", TEXT), read.take(data, path, "updated_at", TEXT))


def check_row_verification(read: FieldReader, row: Mapping, path: str) -> None:
    """A wave row's `verification`, where present: the fields the report shows must be of their kind."""
    verification = read.take(row, path, "verification", MAPPING_OR_NULL, None)
    if verification is None:
        return
    at = join_path(path, "verification")
    for key, kind in (("passed", FLAG), ("status_details", TEXT), ("response_code", COUNT), ("output_tail", TEXT)):
        read.take(verification, at, key, kind)
