"""What Run Command keeps: the documents it knows, a command and its invocations.

fleetsim.runcommand moves these records through simulated time; fleetsim.api_run_command
answers with them.
"""
from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import datetime

from fleetsim import rollup
from fleetsim.fleet import PLUGIN_NAMES, SimInstance
from fleetsim.patching import OperationResult

PATCH_DOCUMENT = "AWS-RunPatchBaseline"
SHELL_DOCUMENTS = {"AWS-RunShellScript": "aws:runShellScript", "AWS-RunPowerShellScript": "aws:runPowerShellScript"}
STDOUT_LIMIT, STDERR_LIMIT, PLUGIN_OUTPUT_LIMIT = 24_000, 8_000, 2_500


class CommandFault(Exception):
    """The document failed on the instance (bad parameter file, unreadable S3 object...)."""


@dataclass
class Invocation:
    instance: SimInstance
    detail: str = rollup.PENDING
    dispatched: bool = False
    holds_slot: bool = False  # counted in its command's in_flight (a MaxConcurrency slot)
    start_sim: float | None = None
    planned_end_sim: float | None = None
    end_sim: float | None = None
    stdout: str = ""
    stderr: str = ""
    result: OperationResult | None = None
    operation_record: dict | None = None
    output_keys: tuple[str, str] | None = None

    @property
    def instance_id(self) -> str:
        return self.instance.instance_id


@dataclass
class Command:
    command_id: str
    seq: int
    document_name: str
    document_version: str
    parameters: dict[str, list[str]]
    comment: str
    requested_instance_ids: list[str]
    targets: list[dict]
    timeout_seconds: int
    execution_timeout: int
    max_concurrency: str
    max_errors: str
    output_bucket: str
    output_prefix: str
    output_region: str
    service_role: str
    notification_config: dict
    cloudwatch: dict
    requested_sim: float
    requested_wall: datetime
    expires_wall: datetime
    resolved: bool = False
    target_ids: list[str] = field(default_factory=list)
    invocations: dict[str, Invocation] = field(default_factory=dict)
    waiting: deque = field(default_factory=deque)
    in_flight: int = 0
    acknowledged: int = 0
    errors: int = 0
    stopped: bool = False
    cancelled: bool = False
    delivery_closed: bool = False  # TimeoutSeconds has passed: nothing that has not started will run
    details: Counter = field(default_factory=Counter)
    max_concurrency_count: int = 1
    max_errors_count: int = 0
    logged_status: tuple[str, str] = ("", "")

    def status(self) -> tuple[str, str]:
        return rollup.command_status(
            resolved=self.resolved,
            target_count=len(self.target_ids),
            details=self.details,
            max_errors=self.max_errors_count,
            cancelled=self.cancelled,
        )

    def counters(self) -> rollup.Counters:
        target_count = rollup.target_count(resolved=self.resolved, resolved_targets=len(self.target_ids),
                                           requested_instance_ids=len(self.requested_instance_ids))
        return rollup.counters(target_count, self.details)

    def plugin_names(self) -> tuple[str, ...]:
        if self.document_name == PATCH_DOCUMENT:
            return PLUGIN_NAMES
        return (SHELL_DOCUMENTS.get(self.document_name, "aws:runShellScript"),)
