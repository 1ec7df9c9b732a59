"""Patch baseline actions: baselines, the default baseline of each operating system, patch group registrations."""
from __future__ import annotations

import copy
import random as _random
from datetime import datetime, timezone
from typing import Any

from moto.core.responses import ActionResult

from fleetsim import baselines as baseline_rules
from fleetsim.api_conventions import FleetActions, constraint, error, page, validation


class PatchBaselineActions(FleetActions):
    """Create/Get/Update/Delete/DescribePatchBaselines, the default baselines and the patch group registrations."""

    def _baseline_request(self) -> dict[str, Any]:
        return {k: self._get_param(k) for k in (
            "Name", "OperatingSystem", "GlobalFilters", "ApprovalRules", "ApprovedPatches", "ApprovedPatchesComplianceLevel",
            "ApprovedPatchesEnableNonSecurity", "RejectedPatches", "RejectedPatchesAction", "Description", "Sources",
            "AvailableSecurityUpdatesComplianceStatus",
        )}

    def create_patch_baseline(self) -> ActionResult:
        request = self._baseline_request()
        errors = baseline_rules.validate_baseline_fields(request, creating=True)
        if errors:
            raise validation(*errors)
        fleet = self.fleet
        baseline_id = "pb-" + "".join(_random.choice("0123456789abcdef") for _ in range(17))
        baseline = {
            "BaselineId": baseline_id,
            "Name": request["Name"],
            "OperatingSystem": request["OperatingSystem"] or "WINDOWS",
            "GlobalFilters": request["GlobalFilters"] or {"PatchFilters": []},
            "ApprovalRules": request["ApprovalRules"] or {"PatchRules": []},
            "ApprovedPatches": request["ApprovedPatches"] or [],
            "ApprovedPatchesComplianceLevel": request["ApprovedPatchesComplianceLevel"] or "UNSPECIFIED",
            "ApprovedPatchesEnableNonSecurity": bool(request["ApprovedPatchesEnableNonSecurity"]),
            "RejectedPatches": request["RejectedPatches"] or [],
            "RejectedPatchesAction": request["RejectedPatchesAction"] or "ALLOW_AS_DEPENDENCY",
            "Description": request["Description"] or "",
            "Sources": request["Sources"] or [],
        }
        if request.get("AvailableSecurityUpdatesComplianceStatus"):
            baseline["AvailableSecurityUpdatesComplianceStatus"] = request["AvailableSecurityUpdatesComplianceStatus"]
        fleet.fleet_baselines[baseline_id] = baseline
        now = datetime.now(timezone.utc)
        fleet.baseline_times[baseline_id] = (now, now)
        tags = self._get_param("Tags") or []
        if tags:
            fleet.add_tags_to_resource("PatchBaseline", baseline_id, {t["Key"]: t["Value"] for t in tags})
        return ActionResult({"BaselineId": baseline_id})

    def _baseline_view(self, baseline: dict[str, Any]) -> dict[str, Any]:
        fleet = self.fleet
        created, modified = fleet.baseline_times.get(baseline["BaselineId"], (datetime(2018, 1, 1, tzinfo=timezone.utc),) * 2)
        groups = sorted({group for (group, os_), bid in fleet.group_baselines.items() if bid == baseline["BaselineId"]})
        view = copy.deepcopy(baseline)
        view.update(CreatedDate=created, ModifiedDate=modified, PatchGroups=groups)
        return view

    def get_patch_baseline(self) -> ActionResult:
        baseline_id = self._get_param("BaselineId")
        if not isinstance(baseline_id, str) or not baseline_rules.BASELINE_ID_PATTERN.match(baseline_id):
            raise validation(constraint(baseline_id, "baselineId", "Member must satisfy regular expression pattern: ^[a-zA-Z0-9_\\-:/]{20,128}$"))
        return ActionResult(self._baseline_view(self.fleet.find_baseline(baseline_id)))

    def update_patch_baseline(self) -> ActionResult:
        baseline_id = self._get_param("BaselineId")
        fleet = self.fleet
        baseline = fleet.find_baseline(baseline_id)
        if baseline["BaselineId"].startswith("arn:"):
            raise error("InvalidResourceId", f"Patch baseline {baseline_id} is owned by AWS and can't be modified.")
        request = self._baseline_request()
        request.pop("OperatingSystem")
        replace = bool(self._get_param("Replace"))
        errors = baseline_rules.validate_baseline_fields(request, creating=replace)
        if errors:
            raise validation(*errors)
        empty = {"GlobalFilters": {"PatchFilters": []}, "ApprovalRules": {"PatchRules": []}, "ApprovedPatches": [],
                 "ApprovedPatchesComplianceLevel": "UNSPECIFIED", "ApprovedPatchesEnableNonSecurity": False, "RejectedPatches": [],
                 "RejectedPatchesAction": "ALLOW_AS_DEPENDENCY", "Description": "", "Sources": []}
        for key, value in request.items():
            if value is not None:
                baseline[key] = value
            elif replace and key in empty:
                baseline[key] = copy.deepcopy(empty[key])
        created, _ = fleet.baseline_times.get(baseline["BaselineId"], (datetime.now(timezone.utc),) * 2)
        fleet.baseline_times[baseline["BaselineId"]] = (created, datetime.now(timezone.utc))
        view = self._baseline_view(baseline)
        view.pop("PatchGroups", None)
        return ActionResult(view)

    def delete_patch_baseline(self) -> ActionResult:
        baseline_id = self._get_param("BaselineId")
        fleet = self.fleet
        baseline = fleet.find_baseline(baseline_id)
        real_id = baseline["BaselineId"]
        if real_id.startswith("arn:"):
            raise error("InvalidResourceId", f"Patch baseline {baseline_id} is owned by AWS and can't be deleted.")
        if real_id in fleet.default_baseline_ids.values():
            raise error("ResourceInUseException", f"Patch baseline {real_id} is the default baseline for {baseline['OperatingSystem']} and can't be deleted.")
        groups = sorted(group for (group, _), bid in fleet.group_baselines.items() if bid == real_id)
        if groups:
            raise error("ResourceInUseException", f"Patch baseline {real_id} is registered with patch groups [{', '.join(groups)}] and can't be deleted.")
        del fleet.fleet_baselines[real_id]
        return ActionResult({"BaselineId": real_id})

    def describe_patch_baselines(self) -> ActionResult:
        fleet = self.fleet
        size = self._int("MaxResults", 100, 1, 100)
        baselines = list(fleet.fleet_baselines.values())
        for f in self._get_param("Filters") or []:
            key, values = f.get("Key"), f.get("Values") or []
            if key == "NAME_PREFIX":
                baselines = [b for b in baselines if any(b["Name"].startswith(v) for v in values)]
            elif key == "OWNER":
                owners = {v.upper() for v in values}
                if "ALL" not in owners:
                    baselines = [b for b in baselines if ("AWS" if b["BaselineId"].startswith("arn:") else "SELF") in owners]
            elif key == "OPERATING_SYSTEM":
                baselines = [b for b in baselines if b["OperatingSystem"] in values]
            else:
                raise validation(constraint(key, "filters.1.member.key", "Member must be one of NAME_PREFIX, OWNER, OPERATING_SYSTEM"))
        defaults = set(fleet.default_baseline_ids.values())
        identities = [
            {"BaselineId": b["BaselineId"], "BaselineName": b["Name"], "OperatingSystem": b["OperatingSystem"],
             "BaselineDescription": b.get("Description", ""), "DefaultBaseline": b["BaselineId"] in defaults}
            for b in baselines
        ]
        chunk, token = page(identities, self._get_param("NextToken"), size)
        result: dict[str, Any] = {"BaselineIdentities": chunk}
        if token:
            result["NextToken"] = token
        return ActionResult(result)

    def get_default_patch_baseline(self) -> ActionResult:
        operating_system = self._get_param("OperatingSystem") or "WINDOWS"
        if operating_system not in baseline_rules.OPERATING_SYSTEMS:
            raise validation(constraint(operating_system, "operatingSystem", f"Member must satisfy enum value set: [{', '.join(baseline_rules.OPERATING_SYSTEMS)}]"))
        return ActionResult({"BaselineId": self.fleet.default_baseline_ids[operating_system], "OperatingSystem": operating_system})

    def register_default_patch_baseline(self) -> ActionResult:
        baseline = self.fleet.find_baseline(self._get_param("BaselineId") or "")
        self.fleet.default_baseline_ids[baseline["OperatingSystem"]] = baseline["BaselineId"]
        return ActionResult({"BaselineId": baseline["BaselineId"]})

    def register_patch_baseline_for_patch_group(self) -> ActionResult:
        group = self._patch_group_param()
        fleet = self.fleet
        baseline = fleet.find_baseline(self._get_param("BaselineId") or "")
        key = (group, baseline["OperatingSystem"])
        if key in fleet.group_baselines:
            raise error("AlreadyExistsException", f"Patch Group {group} already has a baseline registered for OperatingSystem {baseline['OperatingSystem']}.")
        fleet.group_baselines[key] = baseline["BaselineId"]
        return ActionResult({"BaselineId": baseline["BaselineId"], "PatchGroup": group})

    def deregister_patch_baseline_for_patch_group(self) -> ActionResult:
        group = self._patch_group_param()
        fleet = self.fleet
        baseline = fleet.find_baseline(self._get_param("BaselineId") or "")
        key = (group, baseline["OperatingSystem"])
        if fleet.group_baselines.get(key) != baseline["BaselineId"]:
            raise error("DoesNotExistException", f"Patch Baseline {baseline['BaselineId']} is not registered for Patch Group {group}.")
        del fleet.group_baselines[key]
        return ActionResult({"BaselineId": baseline["BaselineId"], "PatchGroup": group})

    def get_patch_baseline_for_patch_group(self) -> ActionResult:
        group = self._patch_group_param()
        operating_system = self._get_param("OperatingSystem") or "WINDOWS"
        if operating_system not in baseline_rules.OPERATING_SYSTEMS:
            raise validation(constraint(operating_system, "operatingSystem", f"Member must satisfy enum value set: [{', '.join(baseline_rules.OPERATING_SYSTEMS)}]"))
        fleet = self.fleet
        baseline_id = fleet.group_baselines.get((group, operating_system)) or fleet.default_baseline_ids[operating_system]
        return ActionResult({"BaselineId": baseline_id, "PatchGroup": group, "OperatingSystem": operating_system})

    def describe_patch_groups(self) -> ActionResult:
        fleet = self.fleet
        size = self._int("MaxResults", 100, 1, 100)
        mappings = sorted(fleet.group_baselines.items())
        for f in self._get_param("Filters") or []:
            key, values = f.get("Key"), f.get("Values") or []
            if key == "NAME_PREFIX":
                mappings = [m for m in mappings if any(m[0][0].startswith(v) for v in values)]
            elif key == "OPERATING_SYSTEM":
                mappings = [m for m in mappings if m[0][1] in values]
            else:
                raise validation(constraint(key, "filters.1.member.key", "Member must be one of NAME_PREFIX, OPERATING_SYSTEM"))
        defaults = set(fleet.default_baseline_ids.values())
        items = []
        for (group, operating_system), baseline_id in mappings:
            baseline = fleet.fleet_baselines.get(baseline_id, {})
            items.append({"PatchGroup": group, "BaselineIdentity": {
                "BaselineId": baseline_id, "BaselineName": baseline.get("Name", ""), "OperatingSystem": operating_system,
                "BaselineDescription": baseline.get("Description", ""), "DefaultBaseline": baseline_id in defaults}})
        chunk, token = page(items, self._get_param("NextToken"), size)
        result: dict[str, Any] = {"Mappings": chunk}
        if token:
            result["NextToken"] = token
        return ActionResult(result)
