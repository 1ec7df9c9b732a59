"""Patch compliance actions: DescribeInstancePatchStates(ForPatchGroup), DescribeInstancePatches, DescribePatchGroupState.

They answer the patch state each node last reported (see fleetsim.run_patch_baseline).
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Callable

from moto.core.responses import ActionResult

from fleetsim.api_conventions import FleetActions, constraint, error, page, page_where, validation
from fleetsim.fleet import SimInstance
from fleetsim.patching import CVE_REPORTING_STATES, INSTALLED_STATES, NOT_APPLICABLE, patch_filter_matches
from fleetsim.spec_values import patch_group_of


class PatchComplianceActions(FleetActions):
    """DescribeInstancePatchStates, DescribeInstancePatchStatesForPatchGroup, DescribeInstancePatches, DescribePatchGroupState."""

    def _reported_in_group(self, group: str) -> Callable[[SimInstance], bool]:
        """Whether a node has reported a patch state and its EC2 tags put it in patch group `group`."""
        ec2_tags = self.fleet.ec2.tags  # read once per request: the backend's own lookup costs an import each time
        return lambda i: i.patch_state is not None and patch_group_of(ec2_tags.get(i.instance_id, {})) == group

    def _states_in_group(self, group: str) -> list[dict[str, Any]]:
        fleet = self.fleet
        fleet.commands()
        in_group = self._reported_in_group(group)
        return [i.patch_state for i in fleet.instances.values() if in_group(i)]

    def describe_patch_group_state(self) -> ActionResult:
        group = self._patch_group_param()
        states = self._states_in_group(group)

        def having(field: str) -> int:
            return sum(1 for s in states if s.get(field, 0) > 0)

        return ActionResult({
            "Instances": len(states),
            "InstancesWithInstalledPatches": having("InstalledCount"),
            "InstancesWithInstalledOtherPatches": having("InstalledOtherCount"),
            "InstancesWithInstalledPendingRebootPatches": having("InstalledPendingRebootCount"),
            "InstancesWithInstalledRejectedPatches": having("InstalledRejectedCount"),
            "InstancesWithMissingPatches": having("MissingCount"),
            "InstancesWithFailedPatches": having("FailedCount"),
            "InstancesWithNotApplicablePatches": having("NotApplicableCount"),
            "InstancesWithUnreportedNotApplicablePatches": having("UnreportedNotApplicableCount"),
            "InstancesWithCriticalNonCompliantPatches": having("CriticalNonCompliantCount"),
            "InstancesWithSecurityNonCompliantPatches": having("SecurityNonCompliantCount"),
            "InstancesWithOtherNonCompliantPatches": having("OtherNonCompliantCount"),
            "InstancesWithAvailableSecurityUpdates": having("AvailableSecurityUpdateCount"),
        })

    def describe_instance_patch_states(self) -> ActionResult:
        instance_ids = self._get_param("InstanceIds")
        size = self._int("MaxResults", 10, 10, 100)
        if not isinstance(instance_ids, list) or not instance_ids:
            raise validation(constraint(instance_ids, "instanceIds", "Member must not be null"))
        if len(instance_ids) > 50:
            raise validation(constraint(instance_ids, "instanceIds", "Member must have length less than or equal to 50"))
        for instance_id in instance_ids:
            self._check_instance_id(instance_id)
        fleet = self.fleet
        fleet.commands()
        states = [fleet.instances[i].patch_state for i in instance_ids if i in fleet.instances and fleet.instances[i].patch_state]
        chunk, token = page(states, self._get_param("NextToken"), size)
        result: dict[str, Any] = {"InstancePatchStates": chunk}
        if token:
            result["NextToken"] = token
        return ActionResult(result)

    def describe_instance_patch_states_for_patch_group(self) -> ActionResult:
        group = self._patch_group_param()
        size = self._int("MaxResults", 10, 10, 100)
        filters = self._get_param("Filters") or []
        if len(filters) > 4:
            raise validation(constraint(filters, "filters", "Member must have length less than or equal to 4"))
        keys = ("InstalledCount", "InstalledOtherCount", "InstalledPendingRebootCount", "InstalledRejectedCount", "MissingCount",
                "FailedCount", "NotApplicableCount", "UnreportedNotApplicableCount")
        checks = []
        for f in filters:
            key, values, kind = f.get("Key"), f.get("Values") or [], f.get("Type")
            if key not in keys:
                raise validation(constraint(key, "filters.1.member.key", f"Member must be one of {', '.join(keys)}"))
            if kind not in ("Equal", "NotEqual", "LessThan", "GreaterThan"):
                raise validation(constraint(kind, "filters.1.member.type", "Member must satisfy enum value set: [Equal, NotEqual, LessThan, GreaterThan]"))
            if len(values) != 1 or not str(values[0]).isdigit():
                raise validation(constraint(values, "filters.1.member.values", "Member must be one integer greater than or equal to 0"))
            checks.append((key, kind, int(values[0])))
        compare = {"Equal": lambda a, b: a == b, "NotEqual": lambda a, b: a != b, "LessThan": lambda a, b: a < b, "GreaterThan": lambda a, b: a > b}
        fleet = self.fleet
        fleet.commands()
        in_group = self._reported_in_group(group)
        chunk, token = page_where(list(fleet.instances.values()),
                                  lambda i: in_group(i) and all(compare[k](i.patch_state.get(key, 0), v) for key, k, v in checks),
                                  self._get_param("NextToken"), size)
        result: dict[str, Any] = {"InstancePatchStates": [i.patch_state for i in chunk]}
        if token:
            result["NextToken"] = token
        return ActionResult(result)

    def describe_instance_patches(self) -> ActionResult:
        instance_id = self._get_param("InstanceId")
        self._check_instance_id(instance_id)
        size = self._int("MaxResults", 10, 10, 100)
        fleet = self.fleet
        commands = fleet.commands()
        instance = fleet.instances.get(instance_id)
        if instance is None:
            raise error("InvalidInstanceId", f"Instance ID {instance_id} is not valid.")
        filter_fields = {"Classification": "Classification", "KBId": "KBId", "Severity": "Severity", "State": "State"}
        filters = self._get_param("Filters") or []
        if len(filters) > 5:
            raise validation(constraint(filters, "filters", "Member must have length less than or equal to 5"))
        items = []
        linux = instance.platform.platform_type == "Linux"
        for outcome in instance.patch_items:
            if linux and outcome.state == NOT_APPLICABLE:
                continue
            patch = outcome.patch
            installed_time = commands.installed_time(instance, patch) if outcome.state in INSTALLED_STATES else datetime(1970, 1, 1, tzinfo=timezone.utc)
            item = {
                "Title": patch.title,
                "KBId": patch.kb_id or patch.id if not linux else patch.id,
                "Classification": patch.classification,
                "Severity": patch.severity or patch.priority,
                "State": outcome.state,
                "InstalledTime": installed_time,
            }
            if outcome.state in CVE_REPORTING_STATES and patch.cve_ids:
                item["CVEIds"] = ",".join(patch.cve_ids)
            items.append(item)
        for f in filters:
            key, values = f.get("Key"), f.get("Values") or []
            if key not in filter_fields:
                raise error("InvalidFilter", f"Filter key {key} is not valid; expected one of Classification, KBId, Severity, State.")
            items = [item for item in items if patch_filter_matches(key, item[filter_fields[key]], values)]
        chunk, token = page(items, self._get_param("NextToken"), size)
        result: dict[str, Any] = {"Patches": chunk}
        if token:
            result["NextToken"] = token
        return ActionResult(result)
