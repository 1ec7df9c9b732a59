"""The promotion gate: what happened on every instance of a stage, judged against its thresholds.

One pure function decides; operators, the CLI and the report all call it, so
the failure policy is written once. A verdict names every reason it fails,
in plain words with numbers, because the person reading it is deciding
whether to touch production.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, fields, replace
from enum import Enum
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from patchflow.core.errors import raise_if_any, shown
from patchflow.core.validation import Entry, Findings, entries_of, read_bool, read_int, read_keys, read_number, read_with

if TYPE_CHECKING:  # records builds its rows with this module's Outcome, so it cannot be imported here at run time
    from patchflow.core.records import WaveRow


class Outcome(str, Enum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    UNREACHABLE = "unreachable"
    NOT_DISPATCHED = "not_dispatched"
    CANCELLED = "cancelled"
    IN_PROGRESS = "in_progress"


def _squeezed(text: str) -> str:
    return re.sub(r"[\s_\-]", "", text or "").lower()


# Invocation StatusDetails is the precise vocabulary (ssm-reference 4.4); Status is the fallback.
_BY_STATUS_DETAILS = {
    "success": Outcome.SUCCEEDED,
    "undeliverable": Outcome.UNREACHABLE,
    "deliverytimedout": Outcome.UNREACHABLE,
    "terminated": Outcome.NOT_DISPATCHED,
    "executiontimedout": Outcome.TIMED_OUT,
    "failed": Outcome.FAILED,
    "invalidplatform": Outcome.FAILED,
    "accessdenied": Outcome.FAILED,
    "cancelled": Outcome.CANCELLED,
    "canceled": Outcome.CANCELLED,
    # Cancel is asynchronous: a Cancelling invocation may still finish its install.
    "cancelling": Outcome.IN_PROGRESS,
    "pending": Outcome.IN_PROGRESS,
    "inprogress": Outcome.IN_PROGRESS,
    "delayed": Outcome.IN_PROGRESS,
}
_BY_STATUS = {
    "success": Outcome.SUCCEEDED,
    "failed": Outcome.FAILED,
    "timedout": Outcome.TIMED_OUT,
    "cancelled": Outcome.CANCELLED,
    "canceled": Outcome.CANCELLED,
    "cancelling": Outcome.IN_PROGRESS,
    "pending": Outcome.IN_PROGRESS,
    "inprogress": Outcome.IN_PROGRESS,
    "delayed": Outcome.IN_PROGRESS,
}


def classify_invocation(status: str, status_details: str) -> Outcome:
    """SSM invocation Status/StatusDetails -> Outcome. Unknown values count as FAILED: a gate fails closed."""
    by_details = _BY_STATUS_DETAILS.get(_squeezed(status_details))
    if by_details is not None:
        return by_details
    return _BY_STATUS.get(_squeezed(status), Outcome.FAILED)


@dataclass(frozen=True)
class InstanceResult:
    instance_id: str
    outcome: Outcome
    compliant: bool | None = None  # None: no patch state was reported
    pending_reboot: bool = False
    missing_count: int = 0
    failed_count: int = 0
    platform: str = ""

    @classmethod
    def from_row(cls, row: "WaveRow") -> "InstanceResult":
        """From one per-instance wave row (patchflow.core.records)."""
        return cls(
            instance_id=row.instance_id,
            outcome=row.outcome,
            compliant=row.compliant,
            pending_reboot=row.pending_reboot,
            missing_count=row.missing,
            failed_count=row.failed_patches,
            platform=row.operating_system or "",
        )


# --------------------------------------------------------------------------- limits

_LIMIT = re.compile(r"^(\d+)$|^(\d+(?:\.\d+)?)%$")


@dataclass(frozen=True)
class Limit:
    """'2' (at most two instances) or '10%' (at most 10% of the targets)."""

    amount: float
    percent: bool

    @classmethod
    def parse(cls, value: object) -> "Limit":
        text = str(value).strip() if isinstance(value, (str, int)) and not isinstance(value, bool) else ""
        match = _LIMIT.match(text)
        if not match or (match.group(2) is not None and float(match.group(2)) > 100):
            raise ValueError(f"expected a count like 2 or a percentage like 10% (0-100%), got {shown(value)}")
        if match.group(1) is not None:
            return cls(int(match.group(1)), False)
        return cls(float(match.group(2)), True)

    def exceeded_by(self, count: int, total: int) -> bool:
        if self.percent:
            return count * 100 > self.amount * total
        return count > self.amount

    def __str__(self) -> str:
        if self.percent:
            return f"{self.amount:g}%"
        return str(int(self.amount))


# --------------------------------------------------------------------------- thresholds

# Every threshold a plan's `gate:` may set, and every one of them the trigger form may tighten.
GATE_KEYS = (
    "max_failed",
    "unreachable_counts_as_failed",
    "not_dispatched_counts_as_failed",
    "min_targets",
    "max_pending_reboot",
    "min_compliant_percent",
)
LIMIT_THRESHOLDS = ("max_failed", "max_pending_reboot")
FLAG_THRESHOLDS = ("unreachable_counts_as_failed", "not_dispatched_counts_as_failed")
# Null for these means "no such limit", their default.
OPTIONAL_THRESHOLDS = ("max_pending_reboot", "min_compliant_percent")
MOST_TARGETS = 100_000  # far above any stage, low enough that a slip like 1000000 is caught


def read_threshold(found: Findings, name: str, entry: Entry) -> Any:
    """One threshold as GateThresholds holds it (a Limit, a bool, an int or a float), or None if bad."""
    if name in LIMIT_THRESHOLDS:
        return read_with(found, entry, Limit.parse)
    if name in FLAG_THRESHOLDS:
        return read_bool(found, entry)
    if name == "min_targets":
        return read_int(found, entry, 0, MOST_TARGETS)
    return read_number(found, entry, 0, 100)


def read_thresholds(found: Findings, items: Mapping[str, Entry]) -> dict[str, Any]:
    """The thresholds given in `items`, read in GATE_KEYS order; a bad one is reported and left out."""
    values = {}
    for name in GATE_KEYS:
        if name not in items or (items[name][0] is None and name in OPTIONAL_THRESHOLDS):
            continue
        value = read_threshold(found, name, items[name])
        if value is not None:
            values[name] = value
    return values


@dataclass(frozen=True)
class GateThresholds:
    max_failed: Limit = Limit(0, False)
    unreachable_counts_as_failed: bool = True
    not_dispatched_counts_as_failed: bool = True
    min_targets: int = 1
    max_pending_reboot: Limit | None = None
    min_compliant_percent: float | None = None

    def __post_init__(self):
        # Limits arrive parsed (read_thresholds, Limit.parse): text here would be parsed a second time.
        found = Findings(type(self).__name__)
        for name in LIMIT_THRESHOLDS:
            value = getattr(self, name)
            if not isinstance(value, Limit) and not (value is None and name in OPTIONAL_THRESHOLDS):
                found.expected(name, "a Limit, such as Limit.parse('10%')", value)
        others = {name: (getattr(self, name), name) for name in GATE_KEYS if name not in LIMIT_THRESHOLDS}
        for name, value in read_thresholds(found, others).items():
            object.__setattr__(self, name, value)
        raise_if_any(found.problems)

    @classmethod
    def permissive(cls) -> "GateThresholds":
        """What an ungated stage is judged by: only instances still running at gate time block it."""
        return cls(max_failed=Limit(100, True), unreachable_counts_as_failed=False, not_dispatched_counts_as_failed=False, min_targets=0)

    def to_json(self) -> dict:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        # Limits as written ("5", "10%"): the ledger, the report and the page show them as text.
        for name in LIMIT_THRESHOLDS:
            if data[name] is not None:
                data[name] = str(data[name])
        return data


@dataclass(frozen=True)
class GateVerdict:
    passed: bool
    reasons: tuple[str, ...]
    counts: Mapping[str, int]
    thresholds: Mapping[str, object] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"passed": self.passed, "reasons": list(self.reasons), "counts": dict(self.counts), "thresholds": dict(self.thresholds)}

    @classmethod
    def from_json(cls, data: Mapping) -> "GateVerdict":
        return cls(bool(data["passed"]), tuple(data["reasons"]), dict(data["counts"]), dict(data.get("thresholds", {})))


def _instances(count: int) -> str:
    return f"{count} instance{'s' if count != 1 else ''}"


def _percent(count: int, total: int) -> str:
    return f"{(count * 100 / total) if total else 0.0:.1f}%"


def evaluate_gate(results: Sequence[InstanceResult], thresholds: GateThresholds, expected_targets: int | None = None) -> GateVerdict:
    """Judge a stage. In-progress instances at gate time always fail it: unknown is not success."""
    succeeded = failed = timed_out = unreachable = not_dispatched = cancelled = in_progress = 0
    pending_reboot = compliant = non_compliant = 0
    SUCCEEDED, FAILED, TIMED_OUT, UNREACHABLE = Outcome.SUCCEEDED, Outcome.FAILED, Outcome.TIMED_OUT, Outcome.UNREACHABLE
    NOT_DISPATCHED, CANCELLED = Outcome.NOT_DISPATCHED, Outcome.CANCELLED
    for result in results:
        outcome = result.outcome
        if outcome is SUCCEEDED:
            succeeded += 1
        elif outcome is FAILED:
            failed += 1
        elif outcome is UNREACHABLE:
            unreachable += 1
        elif outcome is TIMED_OUT:
            timed_out += 1
        elif outcome is NOT_DISPATCHED:
            not_dispatched += 1
        elif outcome is CANCELLED:
            cancelled += 1
        else:
            in_progress += 1
        if result.pending_reboot:
            pending_reboot += 1
        state = result.compliant
        if state is True:
            compliant += 1
        elif state is False:
            non_compliant += 1
    targets = len(results)
    counts = {
        "targets": targets,
        "succeeded": succeeded,
        "failed": failed,
        "timed_out": timed_out,
        "unreachable": unreachable,
        "not_dispatched": not_dispatched,
        "cancelled": cancelled,
        "in_progress": in_progress,
        "pending_reboot": pending_reboot,
        "compliant": compliant,
        "non_compliant": non_compliant,
        "compliance_unknown": targets - compliant - non_compliant,
    }

    # Failed, timed-out and cancelled instances did not get patched; unreachable and
    # never-dispatched ones count too unless the thresholds say otherwise.
    counted = [("failed", failed), ("timed out", timed_out), ("cancelled", cancelled)]
    if thresholds.unreachable_counts_as_failed:
        counted.append(("unreachable", unreachable))
    if thresholds.not_dispatched_counts_as_failed:
        counted.append(("not dispatched", not_dispatched))
    failures = sum(n for _, n in counted)
    counts["counted_as_failed"] = failures

    reasons: list[str] = []
    if targets < thresholds.min_targets:
        reasons.append(f"only {targets} target{'s' if targets != 1 else ''}, fewer than the minimum of {thresholds.min_targets}")
    if expected_targets is not None and targets < expected_targets:
        reasons.append(f"only {targets} of {expected_targets} expected targets reported a result")
    if in_progress:
        reasons.append(f"instances still in progress: {in_progress}")
    max_failed, max_pending_reboot = thresholds.max_failed, thresholds.max_pending_reboot
    if failures and max_failed.exceeded_by(failures, targets):
        reasons.append(f"{failures} of {targets} instances failed ({_percent(failures, targets)}), above the limit of {max_failed}")
        for label, amount in counted[1:]:
            if amount:
                reasons.append(f"{_instances(amount)} {label} counted as {'failures' if amount != 1 else 'a failure'}")
    if max_pending_reboot is not None and pending_reboot and max_pending_reboot.exceeded_by(pending_reboot, targets):
        reasons.append(
            f"{_instances(pending_reboot)} pending reboot ({_percent(pending_reboot, targets)}), above the limit of {max_pending_reboot}"
        )
    if thresholds.min_compliant_percent is not None and targets:
        if compliant * 100 < thresholds.min_compliant_percent * targets:
            unknown = counts["compliance_unknown"]
            detail = f"; {_instances(unknown)} reported no compliance state" if unknown else ""
            reasons.append(
                f"{compliant} of {targets} instances compliant ({_percent(compliant, targets)}), below the minimum of "
                f"{thresholds.min_compliant_percent:g}%{detail}"
            )

    if reasons:
        return GateVerdict(False, tuple(reasons), counts, thresholds.to_json())
    summary = f"passed: {succeeded} of {targets} instances succeeded, {failures} counted as failed (limit {max_failed})"
    if thresholds.min_compliant_percent is not None:
        summary += f", {compliant} compliant ({_percent(compliant, targets)}, minimum {thresholds.min_compliant_percent:g}%)"
    if thresholds.max_pending_reboot is not None:
        summary += f", {pending_reboot} pending reboot (limit {thresholds.max_pending_reboot})"
    return GateVerdict(True, (summary,), counts, thresholds.to_json())


# --------------------------------------------------------------------------- tightening


def _looser_limit(base: Limit | None, wanted: Limit) -> str | None:
    """Why `wanted` would loosen `base`, or None if it is at least as strict."""
    if base is None or wanted.amount == 0:
        return None
    if base.percent != wanted.percent:
        kind = "a percentage" if base.percent else "a count"
        return f"expected a limit no looser than the plan's {base} ({kind} up to {base}, or 0), got {str(wanted)!r}"
    if wanted.amount > base.amount:
        return f"expected a limit no looser than the plan's {base}, got {str(wanted)!r}"
    return None


def _looser(name: str, current: Any, wanted: Any) -> str | None:
    """Why `wanted` would loosen the plan's `current` value of threshold `name`, or None."""
    if name in LIMIT_THRESHOLDS:
        return _looser_limit(current, wanted)
    if name in FLAG_THRESHOLDS:
        return None if wanted or not current else f"expected true (the plan counts these as failures), got {wanted!r}"
    if name == "min_targets":
        return None if wanted >= current else f"expected at least the plan's {current}, got {wanted!r}"
    return None if current is None or wanted >= current else f"expected at least the plan's {current:g}, got {wanted:g}"


def stricter(found: Findings, base: GateThresholds, wanted: Mapping[str, Any]) -> GateThresholds:
    """`base` with every wanted threshold (already read) that is at least as strict; a looser one is reported instead."""
    changes = {}
    for name, value in wanted.items():
        why = _looser(name, getattr(base, name), value)
        if why:
            found.add(name, why)
        else:
            changes[name] = value
    return replace(base, **changes)


def tighten(base: GateThresholds, override: Mapping, source: str = "params") -> GateThresholds:
    """Apply trigger-form overrides that may only make the gate stricter; a bad or loosening value raises InvalidInput.

    Empty values ("" or None) leave a threshold as the plan has it.
    """
    found = Findings(source)
    given = {key: value for key, value in override.items() if value is not None and value != ""}
    wanted = read_thresholds(found, read_keys(found, entries_of(given, ""), GATE_KEYS))
    tightened = stricter(found, base, wanted)
    raise_if_any(found.problems)
    return tightened
