"""Health gates: what a stage asks of the service after its patches are in, as plain data.

A stage's `health:` names CloudWatch alarms (by name, name prefix or tags) that must stay
out of ALARM while its waves go out and for its whole soak, and a verification command
run on the nodes each wave just patched. The model and the pure judgements (alarm states
and selectors, verification results, the verdict a `health_check` record holds) live
here; the reader of the plan's `health:` block in patchflow.core.health_plan, the boto3
calls in patchflow.aws, the Airflow tasks in patchflow.rollout.health.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from enum import StrEnum
from typing import Any, Iterable, Mapping, Sequence

from patchflow.core.gates import GateVerdict, Outcome
from patchflow.core.records import WaveRow

HEALTH_KEYS = ("alarms", "insufficient_data", "verify")
ALARM_SELECTOR_KEYS = ("name", "prefix", "tags")
VERIFY_KEYS = ("commands", "windows_commands", "max_concurrency", "max_errors", "timeout_seconds")
INSUFFICIENT_DATA_CHOICES = ("block", "allow")
SHELL_DOCUMENT = "AWS-RunShellScript"
POWERSHELL_DOCUMENT = "AWS-RunPowerShellScript"
OK, ALARM, INSUFFICIENT_DATA = "OK", "ALARM", "INSUFFICIENT_DATA"  # DescribeAlarms StateValue
# Not a CloudWatch state: a watched alarm DescribeAlarms no longer returns (deleted while a stage watched it).
DELETED = "DELETED"
MOST_NAMED = 5  # failed nodes a verification reason names before `and <m> more`
MOST_LISTED = 10  # instances a preflight reason lists before `and <m> more`


class HealthPhase(StrEnum):
    """When a health check ran: before a stage sends anything, after a wave, or during the soak."""

    PREFLIGHT = "preflight"
    WAVE = "wave"
    SOAK = "soak"


class SelectorKind(StrEnum):
    NAME = "name"
    PREFIX = "prefix"
    TAGS = "tags"


@dataclass(frozen=True)
class AlarmSelector:
    """One entry of `health.alarms`: an exact alarm name, a name prefix, or tags every matching alarm carries."""

    kind: SelectorKind
    name: str = ""  # kind NAME: the alarm's name; kind PREFIX: the prefix
    tags: tuple[tuple[str, str], ...] = ()  # kind TAGS: (key, value) pairs, sorted by key

    def describe(self) -> str:
        """As a person would name it in a reason: `name storefront-prod-5xx`, `prefix storefront-`, `tags Application=storefront`."""
        if self.kind is SelectorKind.TAGS:
            return "tags " + ", ".join(f"{key}={value}" for key, value in self.tags)
        return f"{self.kind.value} {self.name}"


@dataclass(frozen=True)
class Verification:
    """`health.verify`: a health check run on every node a wave just patched, with its own rate control."""

    commands: tuple[str, ...] = ()  # Linux nodes, through AWS-RunShellScript
    windows_commands: tuple[str, ...] = ()  # Windows nodes, through AWS-RunPowerShellScript
    max_concurrency: str = "50%"
    max_errors: str = "100%"  # let it reach every node: the wave's gate counts the failures
    timeout_seconds: int = 300  # the command's executionTimeout on each node


@dataclass(frozen=True)
class HealthSpec:
    alarms: tuple[AlarmSelector, ...] = ()
    insufficient_data_allowed: bool = False  # `insufficient_data: allow`; by default INSUFFICIENT_DATA blocks
    verify: Verification | None = None

    @property
    def watches_alarms(self) -> bool:
        return bool(self.alarms)


# --------------------------------------------------------------------------- alarms


def iso_moment(value: object) -> str:
    """A timestamp as boto3 (a datetime) or the AWS CLI (text such as 2014-04-09T18:59:06.442Z) gives it, as
    ISO 8601 UTC to the second; text that is no timestamp is kept as it is, nothing becomes ""."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str) and value.strip():
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            return value
    else:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)  # boto3 and the CLI speak UTC
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds")


def spoken_moment(iso: str) -> str:
    """2026-12-02T10:41:07+00:00 -> 2026-12-02T10:41:07Z, as reasons write the time an alarm changed state."""
    return iso.removesuffix("+00:00") + "Z" if iso.endswith("+00:00") else iso


@dataclass(frozen=True)
class AlarmState:
    """One alarm as DescribeAlarms answers it (a MetricAlarms or CompositeAlarms item)."""

    name: str
    state: str  # OK | ALARM | INSUFFICIENT_DATA
    reason: str = ""
    updated_at: str = ""  # ISO 8601, StateUpdatedTimestamp
    arn: str = ""

    @classmethod
    def from_api(cls, item: Mapping) -> "AlarmState":
        return cls(
            name=item["AlarmName"],
            state=item.get("StateValue") or "",
            reason=item.get("StateReason") or "",
            updated_at=iso_moment(item.get("StateUpdatedTimestamp")),
            arn=item.get("AlarmArn") or "",
        )

    def to_json(self) -> dict[str, str]:
        return {"name": self.name, "state": self.state, "reason": self.reason, "updated_at": self.updated_at}

    @classmethod
    def from_json(cls, data: Mapping) -> "AlarmState":
        return cls(data["name"], data["state"], data.get("reason", ""), data.get("updated_at", ""))

    def blocking_reason(self, insufficient_data_allowed: bool) -> str | None:
        """Why this alarm blocks a stage, or None. A state other than the three AWS documents blocks too: fail closed."""
        if self.state == OK or (self.state == INSUFFICIENT_DATA and insufficient_data_allowed):
            return None
        if self.state == DELETED:
            return f"alarm {self.name} no longer exists: it was deleted while the stage watched it, so nothing watches the service it stood for"
        since = f" since {spoken_moment(self.updated_at)}" if self.updated_at else ""
        policy = " (the plan's health.insufficient_data is block)" if self.state == INSUFFICIENT_DATA else ""
        why = f": {self.reason}" if self.reason else ""
        return f"alarm {self.name} is in {self.state or 'no state'}{since}{policy}{why}"


def alarm_reasons(states: Iterable[AlarmState], insufficient_data_allowed: bool) -> list[str]:
    """One reason per alarm that blocks, in the order given; OK alarms give none."""
    reasons = (state.blocking_reason(insufficient_data_allowed) for state in states)
    return [reason for reason in reasons if reason is not None]


def alarms_matching(selector: AlarmSelector, alarms: Iterable[tuple[str, Mapping[str, str]]]) -> list[str]:
    """The names, in the order given, of the (name, tags) alarms a selector matches: the exact name, the name
    prefix, or every one of its tags with the same value."""
    if selector.kind is SelectorKind.NAME:
        return [name for name, _ in alarms if name == selector.name]
    if selector.kind is SelectorKind.PREFIX:
        return [name for name, _ in alarms if name.startswith(selector.name)]
    return [name for name, tags in alarms if all(tags.get(key) == value for key, value in selector.tags)]


def unmatched_selector_reason(index: int, selector: AlarmSelector) -> str:
    return (
        f"health.alarms[{index}] ({selector.describe()}) matches no CloudWatch alarm; "
        "a health gate watching nothing would pass anything"
    )


def selected_alarms(selectors: Sequence[AlarmSelector], alarms: Iterable[tuple[str, Mapping[str, str]]]) -> tuple[list[str], list[str]]:
    """(the names every selector matches together, sorted and once each; a reason for each selector matching none).

    A selector that matches nothing is an error, never an empty watch: a typo in a name would otherwise pass
    every wave (fail closed)."""
    alarms = list(alarms)
    names: set[str] = set()
    reasons: list[str] = []
    for index, selector in enumerate(selectors):
        matched = alarms_matching(selector, alarms)
        if not matched:
            reasons.append(unmatched_selector_reason(index, selector))
        names.update(matched)
    return sorted(names), reasons


# --------------------------------------------------------------------------- verification


def document_for(operating_system: str | None) -> str:
    """The Run Command document a node's health check runs through; a node of unknown OS is taken for Linux."""
    return POWERSHELL_DOCUMENT if operating_system == "WINDOWS" else SHELL_DOCUMENT


def commands_for(spec: Verification, operating_system: str | None) -> tuple[str, ...]:
    return spec.windows_commands if document_for(operating_system) == POWERSHELL_DOCUMENT else spec.commands


def listed(instance_ids: Sequence[str], most: int = MOST_LISTED) -> str:
    shown = ", ".join(instance_ids[:most])
    return shown + (f" and {len(instance_ids) - most} more" if len(instance_ids) > most else "")


def nodes_without_commands(spec: Verification, instances: Mapping[str, str | None]) -> list[str]:
    """Preflight reasons, one per operating system whose nodes the plan gives no commands to check them with.

    `instances` maps instance id -> operating system, as patchflow.core.records.patched_instances gives it."""
    stranded: dict[str, list[str]] = {}
    for instance_id, operating_system in instances.items():
        if not commands_for(spec, operating_system):
            stranded.setdefault(operating_system or "unknown", []).append(instance_id)
    reasons = []
    for operating_system, instance_ids in sorted(stranded.items()):
        key = "windows_commands" if operating_system == "WINDOWS" else "commands"
        count = len(instance_ids)
        reasons.append(f"health.verify has no {key} for {count} {operating_system} instance{'s' if count != 1 else ''} ({listed(sorted(instance_ids))})")
    return reasons


@dataclass(frozen=True)
class VerificationSend:
    """One SendCommand's worth of a health check: a document, its commands, and the nodes it goes to."""

    document: str
    commands: tuple[str, ...]
    instance_ids: tuple[str, ...]


def verification_sends(spec: Verification, instances: Mapping[str, str | None]) -> list[VerificationSend]:
    """The health check for these nodes, one send per document (shell first); nodes without commands are left out
    (preflight has blocked their stage already, see nodes_without_commands)."""
    by_document: dict[str, list[str]] = {}
    for instance_id, operating_system in instances.items():
        if commands_for(spec, operating_system):
            by_document.setdefault(document_for(operating_system), []).append(instance_id)
    return [
        VerificationSend(document, spec.windows_commands if document == POWERSHELL_DOCUMENT else spec.commands, tuple(sorted(by_document[document])))
        for document in (SHELL_DOCUMENT, POWERSHELL_DOCUMENT)
        if document in by_document
    ]


def output_tail(text: str | None, max_lines: int = 10, max_chars: int = 600) -> str:
    """The last non-blank lines of a plugin's Output, at most `max_lines` and `max_chars` (newlines included).

    Lines are kept whole from the end; only a last line longer than everything allowed loses its start, marked
    with an ellipsis, so what a check printed last (its verdict, the agent's exit status) is always there."""
    lines = [line.rstrip() for line in (text or "").splitlines() if line.strip()][-max_lines:]
    kept: list[str] = []
    size = 0
    for line in reversed(lines):
        cost = len(line) + (1 if kept else 0)
        if size + cost > max_chars:
            if not kept:
                kept.append("…" + line[len(line) - max_chars + 1:])
            break
        kept.append(line)
        size += cost
    return "\n".join(reversed(kept))


# An agent's banner between a script's output and its errors, such as ----------ERROR-------.
BANNER = re.compile(r"^\s*-{3,}\s*[A-Z]*\s*-*\s*$")


def first_line(tail: str, most: int = 120) -> str:
    """The first line of an output tail that is not an agent banner, shortened to `most` characters."""
    line = next((line.strip() for line in tail.splitlines() if not BANNER.match(line)), "")
    return line if len(line) <= most else line[: most - 1] + "…"


@dataclass(frozen=True)
class VerifiedNode:
    """How the health check ended on one node (a ListCommandInvocations Details=true item)."""

    instance_id: str
    passed: bool
    status_details: str
    response_code: int = -1  # -1: the script never ran (undeliverable, timed out before it started, no invocation)
    output_tail: str = ""

    @classmethod
    def from_invocation(cls, item: Mapping) -> "VerifiedNode":
        plugin = (item.get("CommandPlugins") or [{}])[0]
        details = item.get("StatusDetails") or item.get("Status") or ""
        code = plugin.get("ResponseCode")
        return cls(
            instance_id=item["InstanceId"],
            passed=item.get("StatusDetails") == "Success",  # only a check that ran and ended well; anything else fails closed
            status_details=details,
            response_code=-1 if code is None else int(code),
            output_tail=output_tail(plugin.get("Output")),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "instance_id": self.instance_id, "passed": self.passed, "status_details": self.status_details,
            "response_code": self.response_code, "output_tail": self.output_tail,
        }

    @classmethod
    def from_json(cls, data: Mapping) -> "VerifiedNode":
        return cls(data["instance_id"], bool(data["passed"]), data.get("status_details", ""), int(data.get("response_code", -1)), data.get("output_tail", ""))

    def row_verification(self) -> dict[str, Any]:
        """What a wave row carries of it (patchflow.core.records.WaveRow.verification)."""
        data = self.to_json()
        del data["instance_id"]
        return data

    def failure(self) -> str:
        """`exit 1: <first line>` for a check that ran and failed; the status otherwise (`DeliveryTimedOut`)."""
        how = f"exit {self.response_code}" if self.status_details == "Failed" and self.response_code >= 0 else self.status_details or "no status"
        line = first_line(self.output_tail)
        return f"{how}: {line}" if line else how


def verification_reasons(nodes: Sequence[VerifiedNode]) -> list[str]:
    """The reason a wave's health check failed, naming the first failed nodes by id; none when every node passed."""
    failed = sorted((node for node in nodes if not node.passed), key=lambda node: node.instance_id)
    if not failed:
        return []
    total = len(nodes)
    named = ", ".join(f"{node.instance_id} ({node.failure()})" for node in failed[:MOST_NAMED])
    more = f" and {len(failed) - MOST_NAMED} more" if len(failed) > MOST_NAMED else ""
    return [f"verification failed on {len(failed)} of {total} instances ({len(failed) * 100 / total:.1f}%): {named}{more}"]


def with_verification(rows: Sequence[WaveRow], nodes: Iterable[VerifiedNode]) -> list[WaveRow]:
    """The wave's rows with each verified node's result; a node whose check did not pass becomes FAILED (its
    install's status_details kept), so the wave's gate counts it like a failed install."""
    by_instance = {node.instance_id: node for node in nodes}
    verified = []
    for row in rows:
        node = by_instance.get(row.instance_id)
        if node is None:
            verified.append(row)
        else:
            verified.append(replace(row, verification=node.row_verification(), outcome=row.outcome if node.passed else Outcome.FAILED))
    return verified


@dataclass(frozen=True)
class VerificationRun:
    """A wave's health check: the documents and commands sent, and how it ended on each node."""

    documents: tuple[str, ...]
    command_ids: tuple[str, ...]
    nodes: tuple[VerifiedNode, ...]

    @property
    def counts(self) -> dict[str, int]:
        passed = sum(1 for node in self.nodes if node.passed)
        return {"targets": len(self.nodes), "passed": passed, "failed": len(self.nodes) - passed}

    def to_json(self) -> dict[str, Any]:
        return {
            "documents": list(self.documents), "command_ids": list(self.command_ids), "counts": self.counts,
            "nodes": [node.to_json() for node in self.nodes],
        }

    @classmethod
    def from_json(cls, data: Mapping) -> "VerificationRun":
        return cls(tuple(data.get("documents", ())), tuple(data.get("command_ids", ())), tuple(VerifiedNode.from_json(n) for n in data.get("nodes", ())))


# --------------------------------------------------------------------------- the verdict


def health_summary(alarm_count: int | None, verified: int | None = None, targets: int | None = None) -> str:
    """A passed check in words, naming only what the stage watches (None: not configured)."""
    parts = []
    if alarm_count is not None:
        parts.append(f"{alarm_count} alarm{'s' if alarm_count != 1 else ''} OK")
    if verified is not None and targets is not None:
        parts.append(f"{verified} of {targets} instances verified")
    return "healthy: " + ", ".join(parts) if parts else "healthy"


@dataclass(frozen=True)
class HealthCheck:
    """A `health_check` ledger record without the fields the ledger adds itself (patchflow.core.ledger_records)."""

    stage: str
    phase: HealthPhase
    passed: bool
    reasons: tuple[str, ...]
    checked_at: str  # ISO 8601
    wave: int | None = None
    alarms: tuple[AlarmState, ...] = ()
    verification: VerificationRun | None = None
    polls: int | None = None  # the soak's DescribeAlarms polls

    def to_json(self) -> dict[str, Any]:
        return {
            "stage": self.stage, "phase": self.phase.value, "wave": self.wave, "passed": self.passed, "reasons": list(self.reasons),
            "alarms": [alarm.to_json() for alarm in self.alarms],
            "verification": None if self.verification is None else self.verification.to_json(),
            "polls": self.polls, "checked_at": self.checked_at,
        }

    @classmethod
    def from_json(cls, data: Mapping) -> "HealthCheck":
        verification = data.get("verification")
        return cls(
            stage=data["stage"], phase=HealthPhase(data["phase"]), passed=bool(data["passed"]), reasons=tuple(data.get("reasons", ())),
            checked_at=data.get("checked_at", ""), wave=data.get("wave"), alarms=tuple(AlarmState.from_json(a) for a in data.get("alarms", ())),
            verification=None if verification is None else VerificationRun.from_json(verification), polls=data.get("polls"),
        )


def judge_health(
    stage: str,
    phase: HealthPhase,
    checked_at: str,
    *,
    wave: int | None = None,
    alarms: Sequence[AlarmState] | None = None,
    insufficient_data_allowed: bool = False,
    verification: VerificationRun | None = None,
    gate: GateVerdict | None = None,
    polls: int | None = None,
) -> HealthCheck:
    """One health check's verdict. `alarms` None: the stage watches none; `gate`: the wave's gate over its rows
    with the verification results in them (with_verification), whose reasons follow the verification's.

    Alarm reasons come first: a run's headline quotes the first reason, and a firing alarm is the news."""
    reasons = alarm_reasons(alarms or (), insufficient_data_allowed)
    # Failed checks count into the wave's gate like failed installs: within its limits they do not block.
    # Without a gate to count them in, any failed check blocks.
    if verification is not None and (gate is None or not gate.passed):
        reasons += verification_reasons(verification.nodes)
    if gate is not None and not gate.passed:
        reasons += gate.reasons
    passed = not reasons
    if passed:
        counts = verification.counts if verification is not None else {}
        reasons = [health_summary(None if alarms is None else len(alarms), counts.get("passed"), counts.get("targets"))]
    return HealthCheck(
        stage, phase, passed=passed, reasons=tuple(reasons), checked_at=checked_at, wave=wave,
        alarms=tuple(alarms or ()), verification=verification, polls=polls,
    )
