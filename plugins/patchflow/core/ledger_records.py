"""What each kind of ledger record holds, declared once, and the check the ledger runs before it writes one.

The rollout operators write these records (patchflow.aws.ledger.RunLedger.append), the report and
the Patch rollouts page read them back. Each kind has one TypedDict: its required fields are the
ones every writer of that kind writes, the NotRequired ones only some writers add. Appending a
record with a field its kind does not declare, without a required one, or with a value of another
JSON type is refused before anything is written, so a misspelt field is found where it is written
rather than as an empty report. Nested values (wave rows, verdicts, releases) are declared for
their readers but checked only at the top level.

Reading stays lenient: ledgers written before a field existed lack it, and readers use .get().
"""
# No `from __future__ import annotations` in this module: Python 3.11 cannot see NotRequired[...]
# in a TypedDict whose annotations are postponed, and every optional field would count as required.

import types
from typing import Any, Mapping, NotRequired, TypedDict, Union, get_args, get_origin, get_type_hints, is_typeddict

from patchflow.core.errors import MISSING, Problem
from patchflow.core.records import RecordKind
from patchflow.core.validation import known_key_hint, one_of


# --------------------------------------------------------------------------- nested values


class Target(TypedDict):
    """A preflight target: patchflow.aws.inventory.ManagedInstance.to_json() (older ledgers lack ping_status)."""

    instance_id: str
    operating_system: str | None
    platform_name: str
    ping_status: str
    tag_key: str  # "Patch Group" or "PatchGroup": which tag put the node in the group


class MovedOnJson(TypedDict):
    """patchflow.core.manifest.VersionMovedOn.to_json()."""

    id: str
    pinned_title: str
    offered_title: str


class RowVerificationJson(TypedDict):
    """How a wave's health check ended on one node: patchflow.core.health.VerifiedNode.row_verification()."""

    passed: bool
    status_details: str
    response_code: int
    output_tail: str


class WaveRowJson(TypedDict):
    """One instance of a wave: patchflow.core.records.WaveRow.to_json()."""

    instance_id: str
    operating_system: str | None
    outcome: str  # a patchflow.core.gates.Outcome value
    status_details: str
    compliant: bool | None  # None: no patch state was reported
    pending_reboot: bool
    missing: int
    failed_patches: int
    command_id: str
    # Only the rows of a pinned stage's install, judged against the manifest:
    not_installed: NotRequired[list[str]]
    drift: NotRequired[int]
    moved_on: NotRequired[list[MovedOnJson]]
    # Only the rows of a wave whose stage has a health check, for the nodes it verified:
    verification: NotRequired[RowVerificationJson]
    # Only the rows of failed nodes whose patch state counted failed patches (rows written since this field exists):
    failed_patch_ids: NotRequired[list[str]]


class GateVerdictJson(TypedDict):
    """patchflow.core.gates.GateVerdict.to_json()."""

    passed: bool
    reasons: list[str]
    counts: dict[str, int]  # Outcome value -> instances
    thresholds: dict[str, Any]


class ListedPatchJson(TypedDict):
    """A patch as DescribeInstancePatches reported it: patchflow.core.report_patches.ListedPatch.to_json()."""

    id: str  # KBId: Linux 'name.arch', Windows 'KB...'
    title: str
    severity: str  # "" where the service reports none (apt)
    cve_ids: list[str]  # reported only for patches Missing or Failed


class PinnedTo(TypedDict):
    """What a pinned stage's wave installed: the source stage's manifest (older ledgers lack release)."""

    stage: str
    hash: str
    release: str  # the release id; "" for a manifest made in this run before releases were recorded


class ReleaseJson(TypedDict):
    """patchflow.core.releases.Release.to_json()."""

    id: str
    plan: str
    source_stage: str
    source_dag_id: str
    source_run_id: str
    created_at: str  # ISO 8601
    content_hash: str
    size: int
    manifest_location: str
    override_lists: dict[str, str]  # operating system -> InstallOverrideList location
    gate_summary: str


# --------------------------------------------------------------------------- records


class RecordCommon(TypedDict):
    """The fields the ledger adds to every record itself; writers never pass them."""

    kind: str  # a RecordKind value
    at: str  # when the record was written: UTC, ISO 8601 with microseconds and a Z
    dag_id: str
    run_id: str


class RunStartedRecord(RecordCommon):
    plan: str
    stages: list[str]  # the stages this run was triggered for
    all_stages: list[str]  # every stage of the plan, in order
    dry_run: bool
    change_ticket: str
    params: dict[str, Any]  # the trigger form as submitted
    # Every stage of the plan -> its patch group (older ledgers lack it: a stage that never started had no group in the report).
    patch_groups: NotRequired[dict[str, str]]
    # Only a run whose stages keep their window in SSM: each stage's ssm_window as the plan writes it ->
    # SSM's GetMaintenanceWindow answer, read when the run started (a window SSM has not is in the block's reason).
    ssm_windows: NotRequired[dict[str, Any]]


class PreflightRecord(RecordCommon):
    stage: str
    patch_group: str
    targets: list[Target]
    offline: list[str]  # instance ids whose agent was not online
    baselines: dict[str, str | None]  # operating system -> registered baseline id, None when the OS default applies
    default_baselines: dict[str, str]  # operating system -> the default baseline its nodes get instead
    warnings: list[str]  # what preflight found worth saying that does not stop the stage (its SSM window patching too)


class CommandSentRecord(RecordCommon):
    stage: str
    wave: int
    operation: str  # "Install" or "Scan"
    command_ids: list[str]
    instance_count: int
    not_sent: list[str]  # instance ids left out because their agent was not online at preflight
    reattached: list[str]  # command ids a retried task found already sent
    comments: list[str]
    install_override_lists: list[str]
    pinned_to: PinnedTo | None  # None when the stage is not pinned (older ledgers lack the field)
    nothing_new_for: list[str]  # operating systems the source stage installed nothing for: scanned only


class WaveResultRecord(RecordCommon):
    stage: str
    wave: int
    operation: str
    command_ids: list[str]
    instances: list[WaveRowJson]
    verdict: GateVerdictJson
    started_at: str
    finished_at: str
    polls: int | None
    # Only a scan's: each operating system it scanned -> the patches it found Missing or Failed there (what an install
    # would install), each once; an operating system with nothing missing has an empty list.
    missing_patches: NotRequired[dict[str, list[ListedPatchJson]]]


class WaveCancelledRecord(RecordCommon):
    stage: str
    wave: int
    command_ids: list[str]
    reason: str
    settled: dict[str, str]  # command id -> its status details once the cancel settled
    instances: list[WaveRowJson]


class StageVerdictRecord(RecordCommon):
    stage: str
    verdict: GateVerdictJson


class StageFailedRecord(RecordCommon):
    stage: str
    reason: str
    wave: NotRequired[int]  # a wave's wait that ended in an error
    command_ids: NotRequired[list[str]]
    outcome: NotRequired[str]  # written by rollout.base.block(kind=STAGE_FAILED)
    blocking_stage: NotRequired[str]


class ManifestRecord(RecordCommon):
    stage: str
    content_hash: str
    size: int
    location: str
    override_lists: dict[str, str]  # operating system -> InstallOverrideList location
    nothing_new_for: list[str]
    without_scan_evidence: list[str]  # instance ids patched without a scan before: left out of the manifest
    release_id: str
    # What the stage installed: operating system -> [{id, title}] (patchflow.core.manifest.Manifest.to_json()'s patches);
    # older ledgers keep it only in the manifest.json at `location`.
    patches: NotRequired[dict[str, list[dict[str, str]]]]


class ReleaseChosenRecord(RecordCommon):
    stage: str
    release: ReleaseJson
    reason: str
    age_seconds: int
    standing: str  # the release's standing as a release manager reads it


class DriftRecord(RecordCommon):
    stage: str
    drift: dict[str, list[str]]  # operating system -> patch ids approved now but not in the manifest
    # operating system -> [nodes listed, nodes of that OS in the stage] (patchflow.core.drift_sample); older ledgers lack it
    drift_read: NotRequired[dict[str, list[int]]]


class AlarmStateJson(TypedDict):
    """One alarm as a health check saw it: patchflow.core.health.AlarmState."""

    name: str
    state: str  # OK | ALARM | INSUFFICIENT_DATA
    reason: str
    updated_at: str


class VerifiedNodeJson(TypedDict):
    """patchflow.core.health.VerifiedNode.to_json()."""

    instance_id: str
    passed: bool
    status_details: str
    response_code: int
    output_tail: str


class VerificationJson(TypedDict):
    """patchflow.core.health.VerificationRun.to_json()."""

    documents: list[str]
    command_ids: list[str]
    counts: dict[str, int]  # targets, passed, failed
    nodes: list[VerifiedNodeJson]


class HealthCheckRecord(RecordCommon):
    """patchflow.core.health.HealthCheck.to_json()."""

    stage: str
    phase: str  # preflight | wave | soak
    wave: int | None
    passed: bool
    reasons: list[str]
    alarms: list[AlarmStateJson]
    verification: VerificationJson | None
    polls: int | None
    checked_at: str


class WaitingRecord(RecordCommon):
    """patchflow.core.waits.Wait.to_fields()."""

    stage: str
    what: str  # window | soak | approval
    until: str  # UTC, ISO 8601 with a Z
    time_zone: str  # the IANA zone people see the moment in
    detail: str


class ApprovalAnsweredRecord(RecordCommon):
    """patchflow.core.approval_answers.ApprovalAnswer.to_fields()."""

    stage: str
    answer: str  # approved | rejected | timed_out
    answered_at: str  # UTC, ISO 8601 with a Z: when the approver answered, or the deadline that passed
    by: str  # the approver as Airflow names them; empty for a timeout


class RunFinishedRecord(RecordCommon):
    outcome: str  # a patchflow.core.report_records.RunOutcome value other than "running"
    blocking_stage: str | None
    reason: str


LedgerRecord = Union[
    RunStartedRecord, PreflightRecord, CommandSentRecord, WaveResultRecord, WaveCancelledRecord, StageVerdictRecord,
    StageFailedRecord, ManifestRecord, ReleaseChosenRecord, DriftRecord, HealthCheckRecord, WaitingRecord,
    ApprovalAnsweredRecord, RunFinishedRecord,
]

RECORD_FIELDS: dict[RecordKind, type] = {
    RecordKind.RUN_STARTED: RunStartedRecord,
    RecordKind.PREFLIGHT: PreflightRecord,
    RecordKind.COMMAND_SENT: CommandSentRecord,
    RecordKind.WAVE_RESULT: WaveResultRecord,
    RecordKind.WAVE_CANCELLED: WaveCancelledRecord,
    RecordKind.STAGE_VERDICT: StageVerdictRecord,
    RecordKind.STAGE_FAILED: StageFailedRecord,
    RecordKind.MANIFEST: ManifestRecord,
    RecordKind.RELEASE_CHOSEN: ReleaseChosenRecord,
    RecordKind.DRIFT: DriftRecord,
    RecordKind.HEALTH_CHECK: HealthCheckRecord,
    RecordKind.WAITING: WaitingRecord,
    RecordKind.APPROVAL_ANSWERED: ApprovalAnsweredRecord,
    RecordKind.RUN_FINISHED: RunFinishedRecord,
}

COMMON_FIELDS = tuple(RecordCommon.__annotations__)


class ScopeFields(TypedDict):
    """Where a record happened, on every kind written for a stage's account and Region (patchflow.core.scopes.Scope.to_json());
    records of the rollout connection's own account and Region have none."""

    account: str | None
    account_alias: str | None
    region: str | None


# --------------------------------------------------------------------------- the check

# The JSON type of a top-level field: what its annotation accepts, and how a message names it.
JSON_TYPE_NAMES: dict[type, str] = {str: "a string", int: "an integer", bool: "true or false", list: "a list", dict: "a mapping", type(None): "None"}


def json_types(annotation: Any) -> tuple[type, ...]:
    """The JSON types a field's annotation allows, in the order written: `PinnedTo | None` -> (dict, NoneType)."""
    if get_origin(annotation) in (Union, types.UnionType):
        return tuple(kind for member in get_args(annotation) for kind in json_types(member))
    base = dict if is_typeddict(annotation) else (get_origin(annotation) or annotation)
    if base not in JSON_TYPE_NAMES:
        raise TypeError(f"a ledger record field must be declared with JSON types ({', '.join(t.__name__ for t in JSON_TYPE_NAMES)}), got {annotation!r}")
    return (base,)


def is_json_of(kind: type, value: Any) -> bool:
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)  # True is an int to Python, not to JSON
    if kind is list:
        return isinstance(value, (list, tuple))  # both are written as a JSON array
    if kind is dict:
        return isinstance(value, Mapping)
    return isinstance(value, kind)


# Kind -> field -> the JSON types it allows; built on import, so a field declared with another type fails at once.
FIELD_TYPES: dict[RecordKind, dict[str, tuple[type, ...]]] = {
    kind: {name: json_types(annotation) for name, annotation in get_type_hints(declared).items() if name not in COMMON_FIELDS}
    for kind, declared in RECORD_FIELDS.items()
}


SCOPE_FIELD_TYPES: dict[str, tuple[type, ...]] = {name: json_types(annotation) for name, annotation in get_type_hints(ScopeFields).items()}


def record_problems(kind: str, fields: Mapping[str, Any]) -> list[str]:
    """One line per problem with the fields a writer passes for a record of `kind`; none when the ledger may write it."""
    if kind not in RECORD_FIELDS:
        return [str(Problem.expected("ledger record", "kind", one_of(list(RECORD_FIELDS)), kind))]
    source, declared = f"ledger record {kind}", {**FIELD_TYPES[kind], **SCOPE_FIELD_TYPES}
    problems = []
    for name, value in fields.items():
        if name in COMMON_FIELDS:
            problems.append(Problem.expected(source, "", f"a field the ledger does not add itself ({', '.join(COMMON_FIELDS)})", name))
        elif name not in declared:
            # The scope's fields go on every kind; the hint names the kind's own.
            problems.append(Problem.expected(source, "", known_key_hint(name, list(FIELD_TYPES[kind]), noun="field"), name))
        elif not any(is_json_of(allowed, value) for allowed in declared[name]):
            problems.append(Problem.expected(source, name, described(declared[name]), value))
    required = RECORD_FIELDS[kind].__required_keys__
    problems.extend(Problem.expected(source, name, described(allowed), MISSING) for name, allowed in declared.items() if name in required and name not in fields)
    return [str(problem) for problem in problems]


def described(allowed: tuple[type, ...]) -> str:
    return " or ".join(JSON_TYPE_NAMES[kind] for kind in allowed)
