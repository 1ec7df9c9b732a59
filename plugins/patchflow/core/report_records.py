"""The rollout report as typed records, and their JSON form (report.json).

`patchflow.core.report.build_report` folds a run's ledger records into a
`Report`; every reader (the renderers, the Patch rollouts page, the finish
task, the development harness) reads its attributes, so a misspelt field is an
AttributeError where it is written rather than a silent None at run time.

`Report.to_json()` is report.json exactly as it was before these types existed,
and `Report.from_json` reads any report.json a run wrote: fields that older
reports lack take their defaults; a file of another shape is refused with one
`<file>: <path>: expected ..., got ...` line per problem.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Mapping

from patchflow.core.errors import MISSING, join_path, raise_if_any
from patchflow.core.report_fields import (
    COUNT,
    COUNT_OR_NULL,
    COUNTS,
    FLAG,
    FLAG_OR_NULL,
    LIST,
    MAPPING,
    MAPPING_OR_NULL,
    TEXT,
    TEXT_BY_TEXT,
    TEXT_OR_NULL,
    TEXT_OR_NULL_BY_TEXT,
    TEXTS,
    TEXTS_BY_TEXT,
    TEXTS_OR_NULL,
    FieldReader,
    Kind,
    one_of,
)
from patchflow.core.report_health import HealthCheck, NodeVerification, check_row_verification, read_health_checks
from patchflow.core.report_patches import PatchLists, lists_to_json, read_patch_lists
from patchflow.core.report_pins import READ_COUNTS, ChosenRelease, MovedOn, Pin, StageManifest
from patchflow.core.validation import Findings


class RunOutcome(StrEnum):
    RUNNING = "running"  # no run_finished record yet
    PROMOTED = "promoted"
    BLOCKED = "blocked"
    FAILED = "failed"
    SKIPPED = "skipped"  # a scheduled run that started too late: nothing was patched (patchflow.core.scheduled_runs)
    # A dry run whose every stage passed its gate as a scan: nothing was installed, so nothing was promoted.
    # (Ledgers from before this value finish a dry run "promoted"; build_report reads those as this.)
    DRY_RUN = "dry_run"


class StageState(StrEnum):
    NOT_STARTED = "not started"
    RUNNING = "running"
    PROMOTED = "promoted"
    BLOCKED = "blocked"
    FAILED = "failed"
    SCANNED = "scanned"  # a dry run's stage whose gate passed: scanned, nothing installed


@dataclass(frozen=True)
class Verdict:
    """A gate's answer as the report carries it: passed or not, and the gate's reasons; a record lacking either leaves it None."""

    passed: bool | None
    reasons: tuple[str, ...] | None = ()

    def to_json(self) -> dict[str, Any]:
        return {"passed": self.passed, "reasons": None if self.reasons is None else list(self.reasons)}


@dataclass(frozen=True)
class InstanceRow:
    """One instance's row in a wave, exactly as the wave_result record carried it (patchflow.core.records.WaveRow).

    The report passes the row through untouched, so report.json keeps every field
    the wave wrote, and rows written before a field existed keep its absence; the
    properties read what the report shows, with the defaults such rows need. The one
    field the report may add is `verification`: the node's latest health check answer
    from the stage's health_check records (patchflow.core.report_health).
    """

    recorded: Mapping[str, Any]

    @property
    def instance_id(self) -> str:
        return self.recorded.get("instance_id", "")

    @property
    def operating_system(self) -> str | None:
        return self.recorded.get("operating_system")

    @property
    def outcome(self) -> str:
        return self.recorded.get("outcome", "")

    @property
    def status_details(self) -> str:
        return self.recorded.get("status_details", "")

    @property
    def compliant(self) -> bool | None:
        return self.recorded.get("compliant")

    @property
    def pending_reboot(self) -> bool | None:
        return self.recorded.get("pending_reboot")

    @property
    def command_id(self) -> str:
        return self.recorded.get("command_id", "")

    @property
    def failed_patches(self) -> int:
        return self.recorded.get("failed_patches", 0)

    @property
    def failed_patch_ids(self) -> tuple[str, ...]:
        return tuple(self.recorded.get("failed_patch_ids", ()))

    @property
    def not_installed(self) -> tuple[str, ...]:
        """A pinned stage's row: the manifest's patches the node still lacks."""
        return tuple(self.recorded.get("not_installed", ()))

    @property
    def verification(self) -> NodeVerification | None:
        found = self.recorded.get("verification")
        return None if found is None else NodeVerification.from_row(found)

    def to_json(self) -> dict[str, Any]:
        return dict(self.recorded)


@dataclass(frozen=True)
class Wave:
    """One wave (or scan) of a stage: its commands, its own verdict and every instance's row."""

    wave: int | None
    operation: str = "Install"
    command_ids: tuple[str, ...] = ()
    targets: int = 0
    counts: Mapping[str, int] = field(default_factory=dict)
    verdict: Verdict = Verdict(None, None)
    instances: tuple[InstanceRow, ...] = ()
    started_at: str | None = None
    finished_at: str | None = None
    # Where the wave ran (patchflow.core.scopes.Scope.to_json()); report.json has them only for a stage with targets.
    where: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            **self.where,
            "wave": self.wave,
            "operation": self.operation,
            "command_ids": list(self.command_ids),
            "targets": self.targets,
            "counts": dict(self.counts),
            "verdict": self.verdict.to_json(),
            "instances": [row.to_json() for row in self.instances],
            "started_at": self.started_at,
            "finished_at": self.finished_at,
        }


SCOPE_KEYS = ("account", "account_alias", "region")  # patchflow.core.scopes.Scope.to_json()


@dataclass(frozen=True)
class ScopeSummary:
    """One account and Region of a stage: its targets and its own verdict (None before its gate)."""

    account: str | None
    account_alias: str | None
    region: str | None
    targets: int = 0
    verdict: Verdict | None = None

    def to_json(self) -> dict[str, Any]:
        return {"account": self.account, "account_alias": self.account_alias, "region": self.region, "targets": self.targets,
                "verdict": None if self.verdict is None else self.verdict.to_json()}


@dataclass(frozen=True)
class Stage:
    """One stage of the run; a stage the run never reached keeps every default."""

    name: str
    patch_group: str = ""
    state: StageState = StageState.NOT_STARTED
    targets: int = 0
    offline: tuple[str, ...] = ()
    baselines: Mapping[str, str | None] = field(default_factory=dict)  # OS -> baseline id, None for the OS default
    default_baselines: Mapping[str, str] = field(default_factory=dict)  # OS -> the OS default's id, where preflight read it
    command_ids: tuple[str, ...] = ()
    waves: tuple[Wave, ...] = ()
    counts: Mapping[str, int] = field(default_factory=dict)
    verdict: Verdict | None = None
    manifest: StageManifest | None = None
    drift: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # OS -> patches approved here but not in the manifest
    install_override_lists: tuple[str, ...] = ()
    pinned_to: Pin | None = None
    nothing_new_for: tuple[str, ...] = ()
    not_sent: tuple[str, ...] = ()
    moved_on: Mapping[str, MovedOn] = field(default_factory=dict)  # patch id -> what moved on
    error: str | None = None  # why the stage failed; report.json has the field only when it did
    release: ChosenRelease | None = None  # a release from an earlier run; report.json has the field only then
    health: tuple[HealthCheck, ...] = ()  # the stage's health checks in time order; report.json has the field only when there are any
    warnings: tuple[str, ...] = ()  # what preflight warned of without stopping the stage; report.json has the field only when there are any
    # Each account and Region of a stage with targets: where, its targets and its own verdict; report.json has the field only then.
    scopes: tuple[ScopeSummary, ...] = ()
    # A dry run's stage: what its scans found missing, per OS; None when no scan recorded a list (report.json has the field only then).
    would_install: PatchLists | None = None
    # A pin-source stage: what it installed, per OS, from its manifest record; report.json has the field only when there is a list.
    installed: PatchLists = field(default_factory=dict)
    # OS -> (nodes listed, nodes of the OS) by the drift report; report.json has the field only for a drift record that says so.
    drift_read: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    # How the stage's approval was answered and by whom, as a sentence; report.json has the field only for a stage that asked.
    approval: str = ""

    def to_json(self) -> dict[str, Any]:
        data = {
            "name": self.name,
            "patch_group": self.patch_group,
            "state": self.state.value,
            "targets": self.targets,
            "offline": list(self.offline),
            "baselines": dict(self.baselines),
            "default_baselines": dict(self.default_baselines),
            "command_ids": list(self.command_ids),
            "waves": [wave.to_json() for wave in self.waves],
            "counts": dict(self.counts),
            "verdict": None if self.verdict is None else self.verdict.to_json(),
            "manifest": None if self.manifest is None else self.manifest.to_json(),
            "drift": {os_name: list(ids) for os_name, ids in self.drift.items()},
            "install_override_lists": list(self.install_override_lists),
            "pinned_to": None if self.pinned_to is None else self.pinned_to.to_json(),
            "nothing_new_for": list(self.nothing_new_for),
            "not_sent": list(self.not_sent),
            "moved_on": {patch_id: moved.to_json() for patch_id, moved in self.moved_on.items()},
        }
        if self.error is not None:
            data["error"] = self.error
        if self.release is not None:
            data["release"] = self.release.to_json()
        if self.health:
            data["health"] = [check.to_json() for check in self.health]
        if self.warnings:
            data["warnings"] = list(self.warnings)
        if self.scopes:
            data["scopes"] = [scope.to_json() for scope in self.scopes]
        if self.would_install is not None:
            data["would_install"] = lists_to_json(self.would_install)
        if self.installed:
            data["installed"] = lists_to_json(self.installed)
        if self.drift_read:
            data["drift_read"] = {os_name: list(counts) for os_name, counts in self.drift_read.items()}
        if self.approval:
            data["approval"] = self.approval
        return data


@dataclass(frozen=True)
class Report:
    """The whole run: who ran what, how it ended, and every stage in plan order."""

    plan: str = ""
    dag_id: str = ""
    run_id: str = ""
    dry_run: bool = False
    change_ticket: str = ""
    started_at: str | None = None
    finished_at: str | None = None
    outcome: RunOutcome = RunOutcome.RUNNING
    blocking_stage: str | None = None
    reason: str = ""
    # Whether the run's command_sent records say which manifest each stage installed (runs from before they did, do not).
    pins_recorded: bool = False
    stages: tuple[Stage, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "plan": self.plan,
            "dag_id": self.dag_id,
            "run_id": self.run_id,
            "dry_run": self.dry_run,
            "change_ticket": self.change_ticket,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "outcome": self.outcome.value,
            "blocking_stage": self.blocking_stage,
            "reason": self.reason,
            "pins_recorded": self.pins_recorded,
            "stages": [stage.to_json() for stage in self.stages],
        }

    @classmethod
    def from_json(cls, data: Any, source: str = "report.json") -> "Report":
        """A stored report.json; raises InvalidInput naming every field that is not what a report writes."""
        read = _ReportFileReader(Findings(source))
        report = read.report(data)
        raise_if_any(read.found.problems)
        return report


# --------------------------------------------------------------------------- reading report.json


class _ReportFileReader(FieldReader):
    """Reads one report.json into a Report, every problem into `found`, so all of them are named at once.

    Fields read with a default came after the report's first version (pins_recorded; a stage's
    default_baselines, install_override_lists, pinned_to, nothing_new_for, not_sent, moved_on;
    error, written only for a failed stage; health, only for a stage with health checks; warnings, only
    for a stage preflight warned about; would_install, only for a dry run's stage; installed, only for a
    stage whose manifest record lists its patches; drift_read, only for a drift record that says what it read; approval,
    only for a stage whose approval was answered): an older report.json lacks them, and is still read.
    """

    # Each reader takes the fields in report.json's order, so the problems come in the file's order.

    def report(self, data: Any) -> Report:
        data = self.mapping(data, "")
        if data is None:
            return Report()

        def take(key: str, kind: Kind, default: Any = MISSING) -> Any:
            return self.take(data, "", key, kind, default)

        plan, dag_id, run_id = take("plan", TEXT), take("dag_id", TEXT), take("run_id", TEXT)
        dry_run, change_ticket = take("dry_run", FLAG), take("change_ticket", TEXT)
        started_at, finished_at = take("started_at", TEXT_OR_NULL), take("finished_at", TEXT_OR_NULL)
        outcome, blocking_stage, reason = take("outcome", one_of(RunOutcome)), take("blocking_stage", TEXT_OR_NULL), take("reason", TEXT)
        pins_recorded = take("pins_recorded", FLAG, default=False)
        stages = tuple(self.stage(stage, join_path("stages", index)) for index, stage in enumerate(take("stages", LIST) or []))
        return Report(
            plan, dag_id, run_id, dry_run, change_ticket, started_at, finished_at,
            RunOutcome(outcome) if outcome is not None else RunOutcome.RUNNING, blocking_stage, reason, pins_recorded, stages,
        )

    def stage(self, value: Any, path: str) -> Stage:
        data = self.mapping(value, path)
        if data is None:
            return Stage("")

        def take(key: str, kind: Kind, default: Any = MISSING) -> Any:
            return self.take(data, path, key, kind, default)

        name, patch_group, state, targets = take("name", TEXT), take("patch_group", TEXT), take("state", one_of(StageState)), take("targets", COUNT)
        offline = tuple(take("offline", TEXTS) or ())
        baselines = dict(take("baselines", TEXT_OR_NULL_BY_TEXT) or {})
        default_baselines = dict(take("default_baselines", TEXT_BY_TEXT, default={}))
        command_ids = tuple(take("command_ids", TEXTS) or ())
        waves = tuple(self.wave(wave, join_path(path, "waves", index)) for index, wave in enumerate(take("waves", LIST) or []))
        counts = dict(take("counts", COUNTS) or {})
        verdict = take("verdict", MAPPING_OR_NULL)
        verdict = None if verdict is None else self.verdict(verdict, join_path(path, "verdict"))
        manifest = take("manifest", MAPPING_OR_NULL)
        manifest = None if manifest is None else self.manifest(manifest, join_path(path, "manifest"))
        drift = {os_name: tuple(ids) for os_name, ids in (take("drift", TEXTS_BY_TEXT) or {}).items()}
        install_override_lists = tuple(take("install_override_lists", TEXTS, default=[]))
        pinned_to = take("pinned_to", MAPPING_OR_NULL, default=None)
        pinned_to = None if pinned_to is None else self.pin(pinned_to, join_path(path, "pinned_to"))
        nothing_new_for = tuple(take("nothing_new_for", TEXTS, default=[]))
        not_sent = tuple(take("not_sent", TEXTS, default=[]))
        moved_on = {patch_id: self.moved_on(moved, join_path(path, "moved_on", patch_id)) for patch_id, moved in take("moved_on", MAPPING, default={}).items()}
        error = take("error", TEXT, default=None)
        release = take("release", MAPPING_OR_NULL, default=None)
        release = None if release is None else self.chosen_release(release, join_path(path, "release"))
        health = read_health_checks(self, take("health", LIST, default=[]), join_path(path, "health"))
        warnings = tuple(take("warnings", TEXTS, default=[]))
        scopes = tuple(self.scope(scope, join_path(path, "scopes", index)) for index, scope in enumerate(take("scopes", LIST, default=[])))
        would_install = take("would_install", MAPPING_OR_NULL, default=None)
        would_install = None if would_install is None else read_patch_lists(self, would_install, join_path(path, "would_install"))
        installed = read_patch_lists(self, take("installed", MAPPING, default={}), join_path(path, "installed"))
        drift_read = {os_name: tuple(counts) for os_name, counts in take("drift_read", READ_COUNTS, default={}).items()}
        approval = take("approval", TEXT, default="")
        return Stage(
            name, patch_group, StageState(state) if state is not None else StageState.NOT_STARTED, targets, offline, baselines, default_baselines,
            command_ids, waves, counts, verdict, manifest, drift, install_override_lists, pinned_to, nothing_new_for, not_sent, moved_on, error, release,
            health, warnings, scopes, would_install, installed, drift_read, approval or "",
        )

    def where(self, data: Mapping, path: str) -> dict[str, Any]:
        """A wave's or a scope's account and Region, where written (a stage without targets has none)."""
        return {key: self.take(data, path, key, TEXT_OR_NULL) for key in SCOPE_KEYS if key in data}

    def scope(self, value: Any, path: str) -> ScopeSummary:
        data = self.mapping(value, path)
        if data is None:
            return ScopeSummary(None, None, None)
        where = {key: self.take(data, path, key, TEXT_OR_NULL) for key in SCOPE_KEYS}
        verdict = self.take(data, path, "verdict", MAPPING_OR_NULL)
        return ScopeSummary(where["account"], where["account_alias"], where["region"], self.take(data, path, "targets", COUNT) or 0,
                            None if verdict is None else self.verdict(verdict, join_path(path, "verdict")))

    def wave(self, value: Any, path: str) -> Wave:
        data = self.mapping(value, path)
        if data is None:
            return Wave(None)

        def take(key: str, kind: Kind, default: Any = MISSING) -> Any:
            return self.take(data, path, key, kind, default)

        wave, operation = take("wave", COUNT_OR_NULL), take("operation", TEXT)
        command_ids, targets, counts = tuple(take("command_ids", TEXTS) or ()), take("targets", COUNT), dict(take("counts", COUNTS) or {})
        verdict = take("verdict", MAPPING)
        verdict = Verdict(None, None) if verdict is None else self.verdict(verdict, join_path(path, "verdict"))
        instances = tuple(self.row(row, join_path(path, "instances", index)) for index, row in enumerate(take("instances", LIST) or []))
        started_at, finished_at = take("started_at", TEXT_OR_NULL), take("finished_at", TEXT_OR_NULL)
        return Wave(wave, operation, command_ids, targets, counts, verdict, instances, started_at, finished_at, self.where(data, path))

    def verdict(self, data: Mapping, path: str) -> Verdict:
        passed, reasons = self.take(data, path, "passed", FLAG_OR_NULL), self.take(data, path, "reasons", TEXTS_OR_NULL)
        return Verdict(passed, None if reasons is None else tuple(reasons))

    def manifest(self, data: Mapping, path: str) -> StageManifest:
        return StageManifest(self.take(data, path, "hash", TEXT_OR_NULL), self.take(data, path, "size", COUNT), self.take(data, path, "location", TEXT_OR_NULL))

    def pin(self, data: Mapping, path: str) -> Pin:
        return Pin(self.take(data, path, "stage", TEXT), self.take(data, path, "hash", TEXT), self.take(data, path, "release", TEXT, default=""))

    def chosen_release(self, data: Mapping, path: str) -> ChosenRelease:
        return ChosenRelease(
            self.take(data, path, "id", TEXT), self.take(data, path, "source_stage", TEXT), self.take(data, path, "source_run_id", TEXT),
            self.take(data, path, "created_at", TEXT), self.take(data, path, "age_seconds", COUNT), self.take(data, path, "reason", TEXT),
        )

    def moved_on(self, value: Any, path: str) -> MovedOn:
        data = self.mapping(value, path)
        if data is None:
            return MovedOn("", "", "")
        return MovedOn(
            self.take(data, path, "id", TEXT),
            self.take(data, path, "pinned_title", TEXT),
            self.take(data, path, "offered_title", TEXT),
            tuple(self.take(data, path, "instances", TEXTS) or ()),
        )

    def row(self, value: Any, path: str) -> InstanceRow:
        """A wave's row: any fields, but the ones the report shows must be of their kind where present."""
        data = self.mapping(value, path)
        if data is None:
            return InstanceRow({})
        shown = {"instance_id": TEXT, "operating_system": TEXT_OR_NULL, "outcome": TEXT, "status_details": TEXT,
                 "compliant": FLAG_OR_NULL, "pending_reboot": FLAG_OR_NULL, "command_id": TEXT}
        for key, kind in shown.items():
            self.take(data, path, key, kind, default=None)
        check_row_verification(self, data, path)
        return InstanceRow(dict(data))
