"""Run Command over simulated time: dispatch with rate control, agents answering, outcomes and roll-ups.

Everything moves on a heap of timed events in simulated seconds. `advance()`
replays the events due by now; the server calls it before answering any
request and from a ticker, so a quiet server still moves on. Command
counters are kept incrementally, so reading a command costs the same at 10
instances or 10,000. The records live in fleetsim.command_records; what
AWS-RunPatchBaseline does on a node, in fleetsim.run_patch_baseline.
"""
from __future__ import annotations

import heapq
import traceback
import uuid
from collections import deque
from typing import Callable, Iterable, Mapping

from fleetsim import ratecontrol, rollup
from fleetsim.clock import SimClock
from fleetsim.command_records import PATCH_DOCUMENT, Command, CommandFault, Invocation
from fleetsim.fleet import SimInstance, stable_random
from fleetsim.run_patch_baseline import RunPatchBaselineDocument
from fleetsim.spec import DEFAULT_COMPLIANCE_LAG_SECONDS, OFFLINE_DELIVERY_TIMEOUT, OFFLINE_DELIVERY_UNDELIVERABLE

EXECUTION_TIMEOUTS = {PATCH_DOCUMENT: 7200, "AWS-RunShellScript": 3600, "AWS-RunPowerShellScript": 3600}
DEFAULT_EXECUTION_TIMEOUT = 3600
DEFAULT_TIMEOUT_SECONDS = 3600
RESOLVE_DELAY = 2.0  # simulated seconds before targets resolve and invocations are listed
DELIVERY_DELAY = (1.0, 3.0)  # simulated seconds from dispatch until the agent picks the command up
DELIVERY_RETRY_SECONDS = 30.0  # how often delivery to an agent that is not Online is tried again (offline_delivery: timeout)
CANCEL_DELAY = (1.0, 5.0)  # simulated seconds from CancelCommand until the cancel settles an invocation or reaches its agent
# An agent is running the document (a Cancelling one may still finish it).
RUNNING_DETAILS = (rollup.IN_PROGRESS, rollup.CANCELLING)


def run_finishes_despite_cancel(*, started: float, ends: float, cancel_arrives: float) -> bool:
    """Whether an agent already running the document finishes it when a cancel arrives.

    CancelCommand "attempts to cancel ... There is no guarantee that the command will be terminated and
    the underlying process stopped" (SSM API reference). fleetsim's deterministic rule: a run past its
    half-way point finishes (its patches are installed and it ends as it would have); an earlier one stops.
    """
    return cancel_arrives >= started + (ends - started) / 2


class RunCommand(RunPatchBaselineDocument):
    """Commands, their invocations and the event heap that moves them."""

    def __init__(self, world, clock: SimClock, seed: int, log: Callable[[str], None] = lambda line: None, *,
                 offline_delivery: str = OFFLINE_DELIVERY_TIMEOUT, compliance_lag_seconds: float = DEFAULT_COMPLIANCE_LAG_SECONDS,
                 id_scope: tuple = ()):
        # `world` gives: instances, resolve_targets(instance_ids, targets, at), patch_group(instance),
        # baseline_for(instance), read_object(url), write_object(bucket, key, text), region
        self.world = world
        self.clock = clock
        self.seed = seed
        # Mixed into command ids, so that the Run Commands of several accounts and Regions never share one.
        self.id_scope = tuple(id_scope)
        self.log = log
        self.offline_delivery = offline_delivery
        self.compliance_lag_seconds = compliance_lag_seconds
        self.commands: dict[str, Command] = {}
        self.order: list[Command] = []
        self.by_instance: dict[str, list[Command]] = {}
        self._events: list = []
        self._event_seq = 0
        self._decision_cache: dict = {}
        # (InstallOverrideList URL, its content) -> what AWS-RunPatchBaseline makes of it: fleetsim.run_patch_baseline.
        self._override_lists: dict = {}
        self._snapshots: dict[str, float] = {}
        # (instance, installed patch ids, simulated second) of every Install, for what reacts to a patch: fleetsim.alarms.
        self.install_listeners: list[Callable[[SimInstance, frozenset[str], float], None]] = []

    # ---- sending and cancelling -------------------------------------------------

    def send(self, *, document_name: str, parameters: dict, comment: str, instance_ids: list[str], targets: list[dict],
             timeout_seconds: int | None, max_concurrency: str, max_errors: str, output_bucket: str, output_prefix: str,
             output_region: str, service_role: str, notification_config: dict | None, cloudwatch: dict | None,
             document_version: str = "$DEFAULT") -> Command:
        self.advance()
        now = self.clock.now()
        execution_timeout = EXECUTION_TIMEOUTS.get(document_name, DEFAULT_EXECUTION_TIMEOUT)
        if parameters.get("executionTimeout"):
            execution_timeout = int(parameters["executionTimeout"][0])
        timeout = timeout_seconds or DEFAULT_TIMEOUT_SECONDS
        seq = len(self.order)
        command = Command(
            command_id=str(uuid.UUID(int=stable_random(self.seed, "command", *self.id_scope, seq).getrandbits(128), version=4)),
            seq=seq,
            document_name=document_name,
            document_version=document_version,
            parameters=parameters,
            comment=comment,
            requested_instance_ids=list(instance_ids),
            targets=targets,
            timeout_seconds=timeout,
            execution_timeout=execution_timeout,
            max_concurrency=max_concurrency,
            max_errors=max_errors,
            output_bucket=output_bucket,
            output_prefix=output_prefix,
            output_region=output_region,
            service_role=service_role,
            notification_config=notification_config or {"NotificationArn": "", "NotificationEvents": [], "NotificationType": ""},
            cloudwatch=cloudwatch or {"CloudWatchLogGroupName": "", "CloudWatchOutputEnabled": False},
            requested_sim=now,
            requested_wall=self.clock.wall(now),
            expires_wall=self.clock.wall(now + timeout + execution_timeout),
        )
        self.commands[command.command_id] = command
        self.order.append(command)
        self._schedule(now + RESOLVE_DELAY, self._resolve, command)
        self._schedule(now + timeout, self._delivery_deadline, command)
        self._schedule(now + timeout + execution_timeout, self._expire, command)
        what = f"{len(instance_ids)} instance ids" if instance_ids else _describe_targets(targets)
        where = f" in {' '.join(self.id_scope)}" if self.id_scope else ""
        self.log(f"command {command.command_id} sent{where}: {document_name} {_operation(parameters)}to {what}, "
                 f"MaxConcurrency {max_concurrency}, MaxErrors {max_errors}")
        return command

    def cancel(self, command: Command, instance_ids: list[str] | None) -> None:
        self.advance()
        now = self.clock.now()
        command.cancelled = True
        wanted = set(instance_ids) if instance_ids else None
        if not command.resolved:
            command.target_ids = []
            command.resolved = True
        for invocation in command.invocations.values():
            if wanted is not None and invocation.instance_id not in wanted:
                continue
            if invocation.detail in (rollup.PENDING, rollup.IN_PROGRESS):
                # CancelCommand only asks: the invocation shows Cancelling until the cancel settles it.
                self._set_detail(command, invocation, rollup.CANCELLING)
                rng = stable_random(self.seed, "cancel", command.seq, invocation.instance_id)
                self._schedule(now + rng.uniform(*CANCEL_DELAY), self._cancel_arrives, command, invocation)
        command.waiting = deque(i for i in command.waiting if command.invocations[i].detail == rollup.PENDING)
        self._log_status(command)

    def _cancel_arrives(self, at: float, command: Command, invocation: Invocation) -> None:
        if invocation.detail != rollup.CANCELLING:
            return  # it finished before the cancel got to it
        if invocation.start_sim is None:
            self._release(command, invocation)
            self._finish(command, invocation, rollup.CANCELLED, at)
        elif invocation.instance.ping_status != "Online":
            return  # the agent cannot hear the cancel: Cancelling until it answers or the command expires
        elif run_finishes_despite_cancel(started=invocation.start_sim, ends=invocation.planned_end_sim, cancel_arrives=at):
            self.log(f"command {command.command_id} on {invocation.instance_id}: past half-way when the cancel arrived, finishing")
            return
        else:
            self._release(command, invocation)
            # What the run planned never happened: no output of it, nothing installed.
            invocation.stdout, invocation.stderr = "", "The command was cancelled before it finished; nothing was installed.\n"
            self._finish(command, invocation, rollup.CANCELLED, at)
        self._log_status(command)

    # ---- time ---------------------------------------------------------------------

    def _schedule(self, at: float, handler, *args) -> None:
        self._event_seq += 1
        heapq.heappush(self._events, (at, self._event_seq, handler, args))

    def schedule(self, at: float, handler, *args) -> None:
        """Run `handler(at, *args)` once simulated second `at` has come, in order with the fleet's own events."""
        self._schedule(at, handler, *args)

    def advance(self) -> None:
        now = self.clock.now()
        events = self._events
        while events and events[0][0] <= now:
            at, _, handler, args = heapq.heappop(events)
            try:
                handler(at, *args)
            except Exception:  # one broken event must not stop the fleet or fail every later request
                self.log(f"internal error while simulating {handler.__name__}:\n{traceback.format_exc()}")

    def _resolve(self, at: float, command: Command) -> None:
        if command.resolved:
            return
        ids = self.world.resolve_targets(command.requested_instance_ids, command.targets, at)
        command.resolved = True
        command.target_ids = ids
        total = len(ids)
        command.max_concurrency_count = ratecontrol.parse_max_concurrency(command.max_concurrency).of(total, minimum=1)
        command.max_errors_count = ratecontrol.parse_max_errors(command.max_errors).of(total, minimum=0)
        instances = self.world.instances
        for instance_id in ids:
            command.invocations[instance_id] = Invocation(instances[instance_id])
            self.by_instance.setdefault(instance_id, []).append(command)
        command.details[rollup.PENDING] = total
        command.waiting = deque(ids)
        self._dispatch(command, at)
        self._log_status(command)

    def _dispatch(self, command: Command, at: float) -> None:
        count = ratecontrol.dispatch_count(
            waiting=len(command.waiting),
            in_flight=command.in_flight,
            acknowledged=command.acknowledged,
            max_concurrency=command.max_concurrency_count,
            stopped=command.stopped or command.cancelled or command.delivery_closed,
        )
        for _ in range(count):
            instance_id = command.waiting.popleft()
            invocation = command.invocations[instance_id]
            invocation.dispatched = True
            self._occupy(command, invocation)
            rng = stable_random(self.seed, "delivery", command.seq, instance_id)
            self._schedule(at + rng.uniform(*DELIVERY_DELAY), self._acknowledge, command, invocation)

    def _occupy(self, command: Command, invocation: Invocation) -> None:
        if not invocation.holds_slot:
            invocation.holds_slot = True
            command.in_flight += 1

    def _release(self, command: Command, invocation: Invocation) -> None:
        if invocation.holds_slot:
            invocation.holds_slot = False
            command.in_flight -= 1

    def _acknowledge(self, at: float, command: Command, invocation: Invocation) -> None:
        if invocation.detail != rollup.PENDING:
            return
        instance = invocation.instance
        command.acknowledged += 1
        if command.delivery_closed:
            # SendCommand's TimeoutSeconds: "If this time is reached and the command hasn't already started running, it won't run."
            self._release(command, invocation)
            return
        if instance.ping_status != "Online":
            self._release(command, invocation)
            if self.offline_delivery == OFFLINE_DELIVERY_UNDELIVERABLE:
                invocation.stderr = "The instance is not connected to Systems Manager (agent ping status: %s)." % instance.ping_status
                self._finish(command, invocation, rollup.UNDELIVERABLE, at)
            else:
                # Still Pending: the service keeps offering it until TimeoutSeconds; the command's expiry ends it.
                self._schedule(at + DELIVERY_RETRY_SECONDS, self._retry_delivery, command, invocation)
            self._dispatch(command, at)
            self._log_status(command)
            return
        self._start(command, invocation, at)

    def _retry_delivery(self, at: float, command: Command, invocation: Invocation) -> None:
        if invocation.detail != rollup.PENDING or command.delivery_closed:
            return
        if invocation.instance.ping_status != "Online":
            self._schedule(at + DELIVERY_RETRY_SECONDS, self._retry_delivery, command, invocation)
            return
        self._occupy(command, invocation)
        self._start(command, invocation, at)

    def _start(self, command: Command, invocation: Invocation, at: float) -> None:
        """The agent picked the command up: it runs, and its end is scheduled."""
        instance = invocation.instance
        self._set_detail(command, invocation, rollup.IN_PROGRESS)
        invocation.start_sim = at
        rng = stable_random(self.seed, "execution", command.seq, instance.instance_id)
        duration = rng.uniform(*instance.group.execution_seconds)
        try:
            duration += self._plan(command, invocation, at, rng)
        except CommandFault as fault:
            invocation.stderr = str(fault)
            invocation.result = None
        first_command = instance.commands_run == 0
        instance.commands_run += 1
        if instance.drops_mid_run and first_command:
            self._schedule(at + duration / 2, self._agent_drops, instance)
        if duration > command.execution_timeout:
            invocation.planned_end_sim = at + command.execution_timeout
            self._schedule(invocation.planned_end_sim, self._execution_timed_out, command, invocation)
        else:
            invocation.planned_end_sim = at + duration
            self._schedule(invocation.planned_end_sim, self._complete, command, invocation)
        self._dispatch(command, at)
        self._log_status(command)

    def _agent_drops(self, at: float, instance: SimInstance) -> None:
        if instance.ping_status == "Online":
            instance.ping_status = "ConnectionLost"
            self.log(f"instance {instance.instance_id} agent lost its connection mid-run")

    def _complete(self, at: float, command: Command, invocation: Invocation) -> None:
        if invocation.detail not in RUNNING_DETAILS or invocation.instance.ping_status != "Online":
            # An agent that cannot report leaves the invocation In Progress until the command expires.
            return
        self._release(command, invocation)
        failed = bool(invocation.stderr) and invocation.result is None
        if invocation.result is not None:
            self._apply(command, invocation, at)
            failed = bool(invocation.result.failed_ids)
        detail = rollup.FAILED if failed else rollup.SUCCESS
        self._finish(command, invocation, detail, at)
        self._write_output(command, invocation)
        if failed:
            self._count_error(command, at)
        self._dispatch(command, at)
        self._log_status(command)

    def _execution_timed_out(self, at: float, command: Command, invocation: Invocation) -> None:
        if invocation.detail not in RUNNING_DETAILS or invocation.instance.ping_status != "Online":
            return
        self._release(command, invocation)
        invocation.stderr += "\nThe execution timed out."
        self._finish(command, invocation, rollup.EXECUTION_TIMED_OUT, at)
        self._count_error(command, at)
        self._dispatch(command, at)
        self._log_status(command)

    def _count_error(self, command: Command, at: float) -> None:
        command.errors += 1
        if not command.stopped and ratecontrol.error_threshold_crossed(command.errors, command.max_errors_count):
            command.stopped = True
            terminated = 0
            while command.waiting:
                invocation = command.invocations[command.waiting.popleft()]
                self._finish(command, invocation, rollup.TERMINATED, at)
                terminated += 1
            self.log(f"command {command.command_id} reached error {command.errors} with MaxErrors {command.max_errors}: "
                     f"stopped dispatching, {terminated} invocations terminated")

    def _delivery_deadline(self, at: float, command: Command) -> None:
        """TimeoutSeconds has passed: what has not started will not run, but it stays Pending until the command expires."""
        if not command.resolved:
            self._resolve(at, command)
        command.delivery_closed = True
        not_started = sum(1 for invocation in command.invocations.values() if invocation.detail == rollup.PENDING)
        if not_started:
            self.log(f"command {command.command_id} reached TimeoutSeconds {command.timeout_seconds}: {not_started} invocations "
                     f"not started will not run and end Delivery Timed Out when the command expires")
        self._log_status(command)

    def _expire(self, at: float, command: Command) -> None:
        for invocation in command.invocations.values():
            if invocation.detail in (rollup.PENDING, *RUNNING_DETAILS):
                self._release(command, invocation)
                self._finish(command, invocation, rollup.DELIVERY_TIMED_OUT, at)
        command.waiting.clear()
        self._log_status(command)

    def _set_detail(self, command: Command, invocation: Invocation, detail: str) -> None:
        command.details[invocation.detail] -= 1
        command.details[detail] += 1
        invocation.detail = detail

    def _finish(self, command: Command, invocation: Invocation, detail: str, at: float) -> None:
        self._set_detail(command, invocation, detail)
        invocation.end_sim = at
        if detail not in (rollup.SUCCESS,) and len(command.target_ids) <= 200:
            self.log(f"command {command.command_id} on {invocation.instance_id}: {detail}")

    def _log_status(self, command: Command) -> None:
        status = command.status()
        if status != command.logged_status:
            command.logged_status = status
            c = command.counters()
            self.log(f"command {command.command_id} {status[0]} ({status[1]}): {c.completed_count}/{c.target_count} complete, "
                     f"{c.error_count} errors, {c.delivery_timed_out_count} delivery timeouts")

    def _write_output(self, command: Command, invocation: Invocation) -> None:
        if not command.output_bucket:
            return
        plugin = invocation.instance.platform.plugin_name if command.document_name == PATCH_DOCUMENT else command.plugin_names()[0]
        kind = invocation.instance.platform.plugin_kind if command.document_name == PATCH_DOCUMENT else "awsrunShellScript"
        base = "/".join(part for part in (command.output_prefix.strip("/"), command.command_id, invocation.instance_id, kind, plugin) if part)
        stdout_key, stderr_key = f"{base}/stdout", f"{base}/stderr"
        self.world.write_object(command.output_bucket, stdout_key, invocation.stdout)
        if invocation.stderr:
            self.world.write_object(command.output_bucket, stderr_key, invocation.stderr)
        invocation.output_keys = (stdout_key, stderr_key if invocation.stderr else "")

    # ---- reading --------------------------------------------------------------------

    def commands_for(self, instance_id: str) -> list[Command]:
        found = list(self.by_instance.get(instance_id, ()))
        seen = {c.command_id for c in found}
        found += [c for c in self.order if not c.resolved and instance_id in c.requested_instance_ids and c.command_id not in seen]
        return sorted(found, key=lambda c: c.seq)


def _describe_targets(targets: Iterable[Mapping]) -> str:
    return " and ".join(f"{t.get('Key')}={','.join(t.get('Values') or [])}" for t in targets) or "no targets"


def _operation(parameters: Mapping) -> str:
    operation = (parameters.get("Operation") or [""])[0]
    return f"{operation} " if operation else ""
