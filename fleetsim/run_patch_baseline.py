"""AWS-RunPatchBaseline on one node: what the document decides when the agent starts it, what the node reports after.

At the start: the baseline (the node's patch group's, or a BaselineOverride entry), the
snapshot, the InstallOverrideList, approvals (fleetsim.approval) and the patch operation
(fleetsim.patching). At the end: the packages change, and the patch state the APIs answer
arrives compliance_lag_seconds later.
"""
from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any, Mapping

import yaml

from fleetsim.approval import approval
from fleetsim.catalog import load_catalog
from fleetsim.command_records import PATCH_DOCUMENT, Command, CommandFault, Invocation
from fleetsim.fleet import SimInstance, install_age_at_start, reported_installed_time, stable_random
from fleetsim.patching import (
    HAVE_INSTALLED,
    OperationResult,
    OverrideItem,
    OverrideList,
    failure_draws,
    offered_by_newer_repository,
    run_patch_operation,
)
from fleetsim.shell_documents import shell_run


class RunPatchBaselineDocument:
    """The AWS-RunPatchBaseline part of fleetsim.runcommand.RunCommand, which it is mixed into.

    Uses the RunCommand's world, clock, seed, compliance_lag_seconds, install_listeners, _snapshots, _decision_cache,
    _override_lists and _schedule.
    """

    def _plan(self, command: Command, invocation: Invocation, at: float, rng) -> float:
        """Decide what the document will do on this instance; returns extra simulated seconds (reboots)."""
        if command.document_name != PATCH_DOCUMENT:
            run = shell_run(command.document_name, invocation.instance, at)
            invocation.stdout, invocation.stderr = run.stdout, run.stderr
            return 0.0
        instance = invocation.instance
        parameters = command.parameters
        operation = parameters["Operation"][0]
        reboot_option = (parameters.get("RebootOption") or ["RebootIfNeeded"])[0]
        override_url = (parameters.get("InstallOverrideList") or [""])[0]
        baseline_override_url = (parameters.get("BaselineOverride") or [""])[0]
        snapshot_id = (parameters.get("SnapshotId") or [""])[0]
        if override_url and baseline_override_url:
            raise CommandFault("InstallOverrideList and BaselineOverride cannot be used together.")
        baseline = self._baseline(instance, baseline_override_url)
        if snapshot_id:
            evaluated_at = self._snapshots.setdefault(snapshot_id, at)
        else:
            snapshot_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            evaluated_at = at
        on = self.clock.calendar(evaluated_at)
        catalog = load_catalog(instance.platform.operating_system)
        decisions = self._decisions(baseline, catalog, on)
        offered = tuple(offered_by_newer_repository(patch) if patch.id in instance.superseded else patch for patch in catalog)
        override_ids = None
        if operation == "Install" and override_url:
            override_ids = self._override_ids(override_url)
        group = instance.group
        common = dict(
            patches=offered,
            decisions=decisions,
            have=instance.have,
            pending_reboot=instance.pending_reboot,
            operation=operation,
            reboot_option=reboot_option,
            rejected_action=baseline.get("RejectedPatchesAction") or "ALLOW_AS_DEPENDENCY",
            override_ids=override_ids,
            reboot_needed=instance.reboot_needed and operation == "Install",
        )
        dry = run_patch_operation(**common, failing_ids=frozenset())
        failing = frozenset()
        if operation == "Install" and dry.installed_ids:
            failing = failure_draws(
                dry.installed_ids,
                instance_failure=rng.random() < group.install_failure_probability,
                per_patch=group.patch_failure_probability,
                draw=rng.random,
            )
        result = run_patch_operation(**common, failing_ids=failing) if failing else dry
        invocation.result = result
        invocation.operation_record = {
            "BaselineId": baseline.get("BaselineId", ""),
            "SnapshotId": snapshot_id,
            "Operation": operation,
            "RebootOption": reboot_option,
            "InstallOverrideList": override_url if operation == "Install" and override_url else None,
            "PatchGroup": self.world.patch_group(instance),
        }
        invocation.stdout = _patch_output(instance, invocation.operation_record, result, baseline)
        if result.failed_ids:
            invocation.stderr = "".join(_failure_line(pid, result.unavailable_titles.get(pid)) for pid in sorted(result.failed_ids))
        return instance.group.reboot_seconds if result.rebooted else 0.0

    def _baseline(self, instance: SimInstance, override_url: str) -> Mapping[str, Any]:
        operating_system = instance.platform.operating_system
        if not override_url:
            return self.world.baseline_for(instance)
        body = self.world.read_object(override_url)
        if body is None:
            raise CommandFault(f"Unable to download the BaselineOverride file from {override_url}.")
        try:
            entries = json.loads(body)
        except ValueError:
            raise CommandFault(f"The BaselineOverride file {override_url} is not valid JSON.") from None
        if isinstance(entries, dict):
            entries = [entries]
        for entry in entries if isinstance(entries, list) else []:
            if isinstance(entry, dict) and entry.get("OperatingSystem", "WINDOWS") == operating_system:
                return entry
        return self.world.baseline_for(instance)

    def _override_ids(self, url: str) -> OverrideList:
        body = self.world.read_object(url)
        if body is None:
            raise CommandFault(f"Unable to download the InstallOverrideList file from {url}.")
        # Every node downloads the file, and each reads what it holds then; the same content is parsed once.
        key = (url, body)
        found = self._override_lists.get(key)
        if found is None:
            try:
                found = self._parse_override_list(url, body)
            except CommandFault as fault:
                found = fault
            if len(self._override_lists) > 64:
                self._override_lists.clear()
            self._override_lists[key] = found
        if isinstance(found, CommandFault):
            raise CommandFault(str(found))
        return found

    @staticmethod
    def _parse_override_list(url: str, body: bytes) -> OverrideList:
        try:
            document = yaml.safe_load(body)
        except yaml.YAMLError:
            raise CommandFault(f"The InstallOverrideList file {url} is not valid YAML.") from None
        patches = document.get("patches") if isinstance(document, dict) else None
        if not isinstance(patches, list) or not all(isinstance(p, dict) and isinstance(p.get("id"), str) for p in patches):
            raise CommandFault(f"The InstallOverrideList file {url} must hold 'patches: [{{id, title}}]'.")
        return OverrideList(OverrideItem(p["id"], None if p.get("title") is None else str(p["title"])) for p in patches)

    def _decisions(self, baseline: Mapping[str, Any], catalog, on: datetime) -> dict[str, Any]:
        # Approval is evaluated per simulated minute: same answers, far fewer evaluations at fleet scale.
        minute = on.replace(second=0, microsecond=0)
        key = (json.dumps(baseline, sort_keys=True, default=str), catalog[0].operating_system if catalog else "", minute)
        cached = self._decision_cache.get(key)
        if cached is None:
            try:
                cached = {patch.id: approval(baseline, patch, minute) for patch in catalog}
            except Exception as exc:  # a baseline the evaluator refuses fails the document, as on a node
                raise CommandFault(f"Failed to evaluate the patch baseline: {exc}") from None
            if len(self._decision_cache) > 512:
                self._decision_cache.clear()
            self._decision_cache[key] = cached
        return cached

    def _apply(self, command: Command, invocation: Invocation, at: float) -> None:
        instance = invocation.instance
        result = invocation.result
        for patch_id in result.installed_ids:
            instance.have[patch_id] = HAVE_INSTALLED
            instance.command_installs.setdefault(patch_id, at)
        instance.pending_reboot = result.pending_reboot_ids
        record = dict(invocation.operation_record)
        record = {k: v for k, v in record.items() if v is not None}
        start_wall = self.clock.wall(invocation.start_sim)
        end_wall = self.clock.wall(at)
        record.update(
            InstanceId=instance.instance_id,
            OperationStartTime=start_wall,
            OperationEndTime=end_wall,
            **result.counts(),
            **result.compliance_counts(),
            UnreportedNotApplicableCount=0,
            OwnerInformation="",  # fleetsim nodes have no owner information; AWS answers it empty
        )
        if record["Operation"] == "Install" and record["RebootOption"] == "NoReboot":
            record["LastNoRebootInstallOperationTime"] = end_wall
        elif (previous := instance.last_operation_record) and "LastNoRebootInstallOperationTime" in previous and result.pending_reboot_ids:
            record["LastNoRebootInstallOperationTime"] = previous["LastNoRebootInstallOperationTime"]
        instance.last_operation_record = record
        installed_now = self._installed_times(invocation, at)
        # The packages changed just now; the patch state the APIs answer with arrives compliance_lag_seconds later.
        self._schedule(at + self.compliance_lag_seconds, self._report_compliance, instance, record, result.outcomes, installed_now)
        if result.installed_ids:
            for listener in self.install_listeners:
                listener(instance, result.installed_ids, at)

    def _installed_times(self, invocation: Invocation, at: float) -> dict[str, datetime]:
        """InstalledTime of each patch this run installed: spread over the run before any reboot, as the OS reports it."""
        result = invocation.result
        instance = invocation.instance
        installing_until = at - (instance.group.reboot_seconds if result.rebooted else 0.0)
        ordered = sorted(result.installed_ids)
        return {
            patch_id: reported_installed_time(
                instance.platform.operating_system,
                self.clock.wall(invocation.start_sim + (installing_until - invocation.start_sim) * (index + 1) / (len(ordered) + 1)),
            )
            for index, patch_id in enumerate(ordered)
        }

    def _report_compliance(self, at: float, instance: SimInstance, record: dict, outcomes: tuple, installed_now: dict[str, datetime]) -> None:
        if installed_now:
            instance.installed_at = {**instance.installed_at, **installed_now}
        instance.patch_state = record
        instance.patch_items = outcomes

    def installed_time(self, instance: SimInstance, patch) -> datetime:
        """InstalledTime of a patch the node reports in an installed state: when a command installed it, else before the start.

        The time of a patch present at start is a seeded draw, the same in every report, so it is drawn when read
        rather than kept: at 100,000 nodes keeping it cost about 1 kB and 30 stable_random draws a node per report.
        """
        return instance.installed_at.get(patch.id) or self._installed_before_start(instance, patch)

    def _installed_before_start(self, instance: SimInstance, patch) -> datetime:
        """InstalledTime of a patch the instance already had when the fleet started: after its release, before the start."""
        released_before_start = (self.clock.calendar(0) - patch.release_date).total_seconds()
        draw = stable_random(self.seed, "installed-before-start", instance.instance_id, patch.id).random()
        return reported_installed_time(instance.platform.operating_system, self.clock.wall(-install_age_at_start(released_before_start, draw)))


def _failure_line(patch_id: str, unavailable_title: str | None) -> str:
    if unavailable_title is not None:
        return f"Failed to install package {patch_id}: version {unavailable_title} was not found in the repositories of this node.\n"
    return f"Failed to install package {patch_id}.\n"


def _patch_output(instance: SimInstance, record: Mapping, result: OperationResult, baseline: Mapping) -> str:
    os_name = instance.platform.operating_system
    counts = result.counts()
    lines = [
        f"Patch group: {record.get('PatchGroup') or '(none)'}",
        f"Operating system: {os_name}",
        f"Using patch baseline {baseline.get('BaselineId', '')} ({baseline.get('Name', 'override')})",
        f"Snapshot id: {record['SnapshotId']}",
        f"Operation: {record['Operation']}, reboot option: {record['RebootOption']}",
    ]
    if record.get("InstallOverrideList"):
        lines.append(f"Install override list: {record['InstallOverrideList']}")
    if result.installed_ids:
        lines.append(f"Installed {len(result.installed_ids)} patches: {', '.join(sorted(result.installed_ids))}")
    if result.failed_ids:
        lines.append(f"Failed to install {len(result.failed_ids)} patches: {', '.join(sorted(result.failed_ids))}")
    lines.append(
        "Summary: " + ", ".join(f"{name[:-5]}={value}" for name, value in counts.items())
    )
    if result.rebooted:
        lines.append("Reboot required by the installation; rebooting the instance.")
    elif result.pending_reboot_ids:
        lines.append("NoReboot was requested: installed patches are pending a reboot.")
    return "\n".join(lines) + "\n"
