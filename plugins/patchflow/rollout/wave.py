"""The patch wave: sends AWS-RunPatchBaseline to one wave, waits deferred, then reads and gates every instance.

What each node's invocation and patch state mean is decided in the core (patchflow.core.records
and patchflow.core.manifest); this operator only talks to SSM and the ledger.
"""
from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import Callable

from airflow.sdk.exceptions import AirflowFailException

from patchflow.core.gates import InstanceResult, evaluate_gate
from patchflow.core.maintenance_windows import window_state
from patchflow.core.manifest import (
    NOT_YET_INSTALLED_STATES,
    judge_against_manifest,
    missing_before_artifact,
    missing_before_json,
    needs_patch_listing,
)
from patchflow.core.patch_states import NOT_INSTALLED_STATES
from patchflow.core.ratecontrol import wave_batches
from patchflow.core.records import RecordKind, WaveRow, not_sent_reason, online
from patchflow.core.report_patches import ListedPatch, missing_by_os
from patchflow.core.stage_windows import stage_window
from patchflow.rollout.base import CommandSendingOperator, Rollout, block, pinned_release, preflight_targets, run_start
from patchflow.rollout.links import SsmCommandConsoleLink
from patchflow.rollout.stage import ssm_window_answers
from patchflow.aws import commands as ssm_commands
from patchflow.aws import wave_tags
from patchflow.aws.compliance import COMPLIANCE_REREAD_SECONDS, failed_patch_ids, fresh_patch_states, reported_patches
from patchflow.aws.inventory import instance_patches
from patchflow.aws.side_by_side import read_each


# The XCom key under which a wave task keeps the values of the wave tags it put on its nodes, for its clean-up.
WAVE_TAGS_XCOM = "wave_tags"


class PatchWaveOperator(CommandSendingOperator):
    """Sends AWS-RunPatchBaseline to one wave, waits deferred, then reads every invocation and gates the wave."""

    template_fields = ()
    operator_extra_links = (SsmCommandConsoleLink(),)

    def __init__(self, *, wave_index: int, operation: str = "Install", poll_interval: float = 5.0, record_evidence: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.wave_index = wave_index
        self.operation = operation
        self.poll_interval = poll_interval
        # A scan of a stage that later stages pin to records what each node was missing before the install.
        self.record_evidence = record_evidence

    def _targets(self, context) -> list[dict]:
        # Read once per run: a try reads its batch and compares it with the whole group, and the record (one entry per
        # node of the group, 90,000 in a big prod) does not change once preflight wrote it.
        run_id = context["dag_run"].run_id
        cached = getattr(self, "_targets_of_run", None)
        if cached is None or cached[0] != run_id:
            self._targets_of_run = cached = (run_id, preflight_targets(context, self.rollout(context).ledger, self.group_task("preflight")))
        return cached[1]

    def _batch(self, context) -> list[dict]:
        targets = self._targets(context)
        if self.operation == "Scan":
            return targets if self.wave_index == 1 else []
        by_id = {t["instance_id"]: t for t in targets}
        batches = wave_batches(sorted(by_id), self.stage.waves)
        if self.wave_index > len(batches):
            return []
        return [by_id[i] for i in batches[self.wave_index - 1]]

    def _comment_prefix(self, rollout: Rollout) -> str:
        return f"patchflow {rollout.run_token} {self.stage.name} {self.operation[0]}{self.wave_index}"

    def execute(self, context):
        rollout = self.rollout(context)
        if not rollout.selected(self.stage):
            return {"selected": False, "results": []}
        operation = "Scan" if rollout.params.dry_run else self.operation
        batch = self._batch(context)
        if not batch:
            self.log.info("wave %d of %s has no instances left to patch", self.wave_index, self.stage.name)
            return {"selected": True, "results": []}
        if self.stage.window is not None and operation == "Install":
            now = datetime.now(timezone.utc)
            window = stage_window(self.stage.window, ssm_window_answers(context), now)
            if isinstance(window, str):
                block(rollout, self.stage, f"{window}; wave {self.wave_index} was not started")
            state = window_state(window, now)
            if not state.can_start_work:
                block(rollout, self.stage, f"the maintenance window allows no new work after {state.last_start_at}; wave {self.wave_index} was not started")

        ssm = rollout.ssm()
        started = datetime.now(timezone.utc)
        prefix = self._comment_prefix(rollout)
        # Nodes whose agent was not online at preflight are not sent to: SSM would hold their
        # invocation until the delivery time-out, or end it Undeliverable. Either way they are unreachable.
        reachable = [t for t in batch if online(t)]
        not_sent = [t["instance_id"] for t in batch if not online(t)]
        pinned = operation == "Install" and bool(self.stage.pin_to)
        pin = pinned_release(context, rollout, self.stage) if pinned else None
        manifest, override_lists = (pin.manifest, pin.override_lists) if pin else (None, {})
        overrides: dict[str, str] = {}
        nothing_new: list[str] = []
        if manifest is not None:
            uncovered = sorted({t.get("operating_system") or "unknown" for t in reachable} - set(manifest.patches))
            if uncovered:
                block(
                    rollout,
                    self.stage,
                    f"stage is pinned to {self.stage.pin_to}, which patched no {', '.join(uncovered)} instances, so there is no tried patch set to install on them",
                )
            overrides = {os_name: location for os_name, location in override_lists.items() if manifest.ids(os_name)}
            nothing_new = sorted({t.get("operating_system") for t in reachable if not manifest.ids(t.get("operating_system") or "")})
        requests = self._requests(context, reachable, operation, prefix, overrides, split_by_os=pinned, scan_only=nothing_new) if reachable else []
        already = ssm_commands.find_commands_by_comment(ssm, prefix, run_start(context)) if requests else {}
        ec2 = rollout.client("ec2") if any(r.wave_tag for r in requests) else None
        tagged = wave_tags.tag_wave_nodes(ec2, requests) if ec2 is not None else []
        if tagged:
            context["ti"].xcom_push(key=WAVE_TAGS_XCOM, value=tagged)
        try:
            command_ids = self.send_or_reattach(context, rollout, requests, already)
            follow_ups = self._follow_ups(ssm, requests, command_ids)
            command_ids += self.send_or_reattach(context, rollout, follow_ups, already)
        except Exception:
            self._remove_wave_tags(context, tagged)
            raise
        requests += follow_ups
        started = ssm_commands.first_sent_at(started, already)
        rollout.ledger.append(
            RecordKind.COMMAND_SENT,
            stage=self.stage.name,
            wave=self.wave_index,
            operation=operation,
            command_ids=command_ids,
            instance_count=len(batch),
            not_sent=not_sent,
            reattached=sorted(c.command_id for c in already.values()),
            comments=[r.comment for r in requests],
            install_override_lists=sorted(set(overrides.values())),
            pinned_to={"stage": self.stage.pin_to, "hash": manifest.content_hash, "release": pin.release_id} if pin is not None else None,
            nothing_new_for=nothing_new,
        )
        echo = {"started_at": started.isoformat(), "operation": operation}
        if not command_ids:
            self.log.warning("wave %d of %s: no node is reachable (%s); nothing was sent", self.wave_index, self.stage.name, ", ".join(not_sent))
            return self.execute_complete(context, {"status": "finished", "command_ids": [], "echo": echo, "polls": 0})
        deadline = started + timedelta(seconds=self.stage.timeout_seconds + self.stage.execution_timeout_seconds)
        self.wait_for(context, command_ids, started, deadline, echo)

    def resume_execution(self, next_method: str, next_kwargs, context):
        # Airflow's own execution_timeout ends a deferred task without calling execute_complete;
        # the commands it was waiting on are cancelled, and once they settle what really
        # happened on each node is recorded, before the timeout is reported.
        if next_method == "__fail__":
            sent = context["ti"].xcom_pull(task_ids=self.task_id, key="command_ids") or []
            if sent:
                ssm = self.scoped_ssm(context["dag_run"].run_id)
                progress = ssm_commands.cancel_and_settle(ssm, sent, poll_seconds=self.poll_interval)
                self.log.warning("wait ended by Airflow (%s); cancelled %s", (next_kwargs or {}).get("error", "unknown"), ", ".join(sent))
                batch = {t["instance_id"]: t for t in self._batch(context)}
                rows = [
                    WaveRow.from_invocation(batch.get(i, {"instance_id": i, "operating_system": None}), invocation, None).to_json()
                    for i, invocation in sorted(self._invocations(ssm, sent).items())
                ]
                self.rollout(context).ledger.append(
                    RecordKind.WAVE_CANCELLED,
                    stage=self.stage.name,
                    wave=self.wave_index,
                    command_ids=sent,
                    reason=f"Airflow ended the wait: {(next_kwargs or {}).get('error', 'unknown')}",
                    settled={c: p.status_details for c, p in progress.items()},
                    instances=rows,
                )
        event = (next_kwargs or {}).get("event") or {}
        # Once the commands have ended, their targets no longer matter: the tags come off while the wave is read.
        # Otherwise (an error, a deadline whose cancel has yet to settle) they come off after everything else.
        removing = self._start_removing_wave_tags(context) if next_method == "execute_complete" and event.get("status") == "finished" else None
        try:
            return super().resume_execution(next_method, next_kwargs, context)
        finally:
            # Whether the wave was recorded, blocked or failed, its nodes leave the wave.
            if removing is None:
                self._remove_wave_tags(context)
            else:
                self._log_tag_removal(*removing.result())

    def _follow_ups(self, ssm, requests: list[ssm_commands.PatchCommandRequest], command_ids: list[str]) -> list[ssm_commands.PatchCommandRequest]:
        """InstanceIds commands for the tagged nodes a wave-tag command did not reach (patchflow.aws.wave_tags)."""
        follow_ups: list[ssm_commands.PatchCommandRequest] = []
        for request, command_id in zip(requests, command_ids):
            if request.wave_tag is None:
                continue
            missing = wave_tags.untargeted_nodes(ssm, command_id, request.instance_ids, poll_seconds=self.poll_interval)
            if missing is None:
                self.log.warning("command %s (%s): its targets did not resolve in time; a node it does not reach counts as not dispatched",
                                 command_id, request.comment)
            elif missing:
                self.log.warning("command %s reached %d of the %d nodes tagged %r; sending to the other %d by InstanceIds", command_id,
                                 len(request.instance_ids) - len(missing), len(request.instance_ids), request.wave_tag[1], len(missing))
                follow_ups += ssm_commands.follow_up_requests(request, missing)
        return follow_ups

    def _remove_wave_tags(self, context, values: list[str] | None = None) -> None:
        """Takes this wave's tags off its nodes; what it cannot remove, the run's finish task sweeps."""
        values = values if values is not None else context["ti"].xcom_pull(task_ids=self.task_id, key=WAVE_TAGS_XCOM) or []
        if values:
            self._log_tag_removal(values, *_answer_or_error(lambda: wave_tags.remove_wave_tags(self.rollout(context).client("ec2"), values)))

    def _start_removing_wave_tags(self, context) -> Future:
        """_remove_wave_tags on a thread of its own; the XCom and the client are read here, as the task's own calls."""
        values = context["ti"].xcom_pull(task_ids=self.task_id, key=WAVE_TAGS_XCOM) or []
        ec2, error = _answer_or_error(lambda: self.rollout(context).client("ec2") if values else None)
        remover = ThreadPoolExecutor(max_workers=1, thread_name_prefix="wave-tags")
        if ec2 is None:
            removing = remover.submit(lambda: (values, 0, error))
        else:
            removing = remover.submit(lambda: (values, *_answer_or_error(lambda: wave_tags.remove_wave_tags(ec2, values))))
        remover.shutdown(wait=False)
        return removing

    def _log_tag_removal(self, values: list[str], removed: int | None, error: Exception | None) -> None:
        if not values:
            return
        if error is None:
            self.log.info("wave tags %s removed from %d nodes", ", ".join(values), removed)
        else:  # the wave's own outcome stands; the run's end sweeps again
            self.log.warning("wave tags %s not removed (%s); the run's finish task sweeps them", ", ".join(values), error)

    def _requests(self, context, batch: list[dict], operation: str, prefix: str, overrides: dict[str, str], split_by_os: bool,
                  scan_only: list[str]) -> list[ssm_commands.PatchCommandRequest]:
        template = ssm_commands.PatchCommandRequest(
            operation=operation,
            reboot_option="NoReboot" if operation == "Scan" else self.stage.reboot_option,
            max_concurrency=self.stage.max_concurrency,
            max_errors=self.stage.max_errors,
            timeout_seconds=self.stage.timeout_seconds,
            comment=prefix,
        )
        whole_group = {t["instance_id"] for t in batch} == {t["instance_id"] for t in self._targets(context)}
        return ssm_commands.wave_requests(
            template, batch, patch_group=self.stage.patch_group, whole_group=whole_group, overrides=overrides, split_by_os=split_by_os,
            scan_only=scan_only,
        )

    @staticmethod
    def _invocations(ssm, command_ids: list[str]) -> dict[str, dict]:
        # A row needs each invocation's status, not its output: a 45,000-node wave's pages without details
        # are read in a fraction of the time.
        return ssm_commands.invocations_by_instance(ssm, command_ids, details=False)

    @staticmethod
    def _row(target: dict, invocation: dict | None, state: dict | None) -> WaveRow:
        row = WaveRow.from_invocation(target, invocation, not_sent_reason(target, invocation))
        return row.with_patch_state(state) if state else row

    def execute_complete(self, context, event: dict):
        rollout = self.rollout(context)
        command_ids = list(event["command_ids"])
        started_at, operation = event["echo"]["started_at"], event["echo"]["operation"]
        ssm = rollout.ssm()
        status = event.get("status")
        if status == "error":
            rollout.ledger.append(RecordKind.STAGE_FAILED, stage=self.stage.name, wave=self.wave_index, reason=event["message"], command_ids=command_ids)
            raise AirflowFailException(event["message"])
        if status == "deadline":
            # Recorded only once the cancel has settled: an install already running may still finish.
            settled = ssm_commands.cancel_and_settle(ssm, event.get("unfinished", []), poll_seconds=self.poll_interval)
            self.log.warning("deadline passed; cancelled %s", ", ".join(f"{c} ({p.status_details})" for c, p in settled.items()))
        batch = {t["instance_id"]: t for t in self._batch(context)}
        invocations = self._invocations(ssm, command_ids)
        # A command aimed at the group's tag also reaches instances tagged in since
        # preflight: they were patched, so they are reported and gated too.
        for instance_id in invocations:
            batch.setdefault(instance_id, {"instance_id": instance_id, "operating_system": None})
        since = datetime.fromisoformat(started_at)
        ran = [i for i, invocation in invocations.items() if invocation.get("StatusDetails") == "Success"]
        manifest = pinned_release(context, rollout, self.stage).manifest if operation == "Install" and self.stage.pin_to else None
        # A dry run's scans say what an install would install; a pin-source stage's scan gives its manifest's severities and CVEs.
        list_missing = operation == "Scan" and (self.record_evidence or rollout.params.dry_run)
        # Each listing takes one node: they grow with the nodes that report something to list, not with the fleet,
        # go out a few at a time (patchflow.aws.side_by_side), and are read as each node's state arrives, while the
        # wave waits for the last nodes to report.
        if manifest is not None:
            # A pinned node is judged on what it reports not yet installed; only one whose counts say so has anything to list.
            listings = {"pinned": PatchListing(lambda state, row: needs_patch_listing(state), lambda i: reported_patches(ssm, i, NOT_YET_INSTALLED_STATES))}
        else:
            listings = {"failed": PatchListing(lambda state, row: row.lists_failed_patches, lambda i: failed_patch_ids(ssm, i))}
        if list_missing:
            listings["missing"] = PatchListing(lambda state, row: True, lambda i: instance_patches(ssm, i, NOT_INSTALLED_STATES))
        listed: dict[str, dict[str, list]] = {name: {} for name in listings}
        reported: dict[str, WaveRow] = {}

        def list_arrivals(arrived: dict[str, dict]) -> None:
            reported.update({i: self._row(batch[i], invocations.get(i), arrived[i]) for i in sorted(arrived)})
            for name, listing in listings.items():
                to_list = [i for i in sorted(arrived) if listing.wanted(arrived[i], reported[i])]
                listed[name].update(zip(to_list, read_each(listing.read, to_list)))

        # Every state that arrives goes through list_arrivals, so `reported` holds a row for each node that reported.
        fresh_patch_states(ssm, sorted(batch), since, wait_for=ran, on_arrival=list_arrivals,
                           poll_seconds=min(self.poll_interval, COMPLIANCE_REREAD_SECONDS))
        rows = {
            instance_id: reported[instance_id] if instance_id in reported else self._row(batch[instance_id], invocations.get(instance_id), None)
            for instance_id in sorted(batch)
        }
        if manifest is not None:
            for instance_id in (i for i in rows if i in reported):
                operating_system = batch[instance_id].get("operating_system") or ""
                judgement = judge_against_manifest(manifest, operating_system, listed["pinned"].get(instance_id, []))
                # A pinned node's listing already holds every patch it reports failed.
                row = rows[instance_id].judged(judgement)
                rows[instance_id] = row.with_failed_patch_ids(judgement.failed) if row.lists_failed_patches else row
        else:
            for instance_id, failed in listed["failed"].items():
                rows[instance_id] = rows[instance_id].with_failed_patch_ids(failed)
        evidence: dict[str, list[str]] = {}
        scanned: list[tuple[str | None, list[dict]]] = []
        for instance_id in (i for i in rows if i in listed.get("missing", {})):
            found = listed["missing"][instance_id]
            scanned.append((batch[instance_id].get("operating_system"), found))
            if self.record_evidence:
                evidence[instance_id] = [ListedPatch.from_reported(item).id for item in found]
        if self.record_evidence and operation == "Scan":
            rollout.ledger.put_artifact(missing_before_artifact(self.stage.name), missing_before_json(evidence), "application/json")
        thresholds = replace(rollout.thresholds(self.stage), min_targets=0)
        if operation == "Scan":
            # A scan patches nothing: only reachability and command failures gate it.
            thresholds = replace(thresholds, min_compliant_percent=None, max_pending_reboot=None)
        verdict = evaluate_gate([InstanceResult.from_row(row) for row in rows.values()], thresholds)
        rows_json = [row.to_json() for row in rows.values()]
        # The rows stay in the ledger; later tasks read them by this reference (patchflow.rollout.base.returned_rows).
        rows_record = rollout.ledger.append_referenced(
            RecordKind.WAVE_RESULT,
            stage=self.stage.name,
            wave=self.wave_index,
            operation=operation,
            command_ids=command_ids,
            instances=rows_json,
            verdict=verdict.to_json(),
            started_at=started_at,
            finished_at=datetime.now(timezone.utc).isoformat(),
            polls=event.get("polls"),
            **({"missing_patches": missing_by_os(scanned)} if list_missing else {}),
        )
        if not verdict.passed:
            reason = f"{operation.lower()} wave {self.wave_index}: " + "; ".join(verdict.reasons)
            rollout.ledger.append(RecordKind.STAGE_VERDICT, stage=self.stage.name, verdict=verdict.to_json())
            block(rollout, self.stage, reason)
        return {"selected": True, "operation": operation, "rows_record": rows_record, "instance_count": len(rows), "command_ids": command_ids}


@dataclass(frozen=True)
class PatchListing:
    """One DescribeInstancePatches read a wave makes of some of its nodes: which (by a node's patch state and its row
    with that state) and how."""

    wanted: Callable[[dict, WaveRow], bool]
    read: Callable[[str], list]


def _answer_or_error(step):
    """`step()`'s answer and None, or None and why it failed: a wave's outcome never hangs on its tags' clean-up."""
    try:
        return step(), None
    except Exception as error:
        return None, error
