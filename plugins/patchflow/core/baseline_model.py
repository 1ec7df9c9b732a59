"""A patch baseline as plain frozen data, whichever spelling it was written in, and its SSM API shapes.

`Baseline` is what the rest of patchflow works with; to_create_kwargs(),
to_update_kwargs() and to_api() turn it into the shapes CreatePatchBaseline,
UpdatePatchBaseline and GetPatchBaseline use.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from patchflow.core.baseline_rules import LINUX_SYSTEMS


@dataclass(frozen=True)
class PatchFilter:
    key: str
    values: tuple[str, ...]

    def to_api(self) -> dict:
        return {"Key": self.key, "Values": list(self.values)}


@dataclass(frozen=True)
class ApprovalRule:
    patch_filters: tuple[PatchFilter, ...]
    approve_after_days: int | None = None
    approve_until_date: str | None = None
    compliance_level: str = "UNSPECIFIED"
    enable_non_security: bool = False

    def to_api(self, linux: bool) -> dict:
        rule: dict[str, Any] = {
            "PatchFilterGroup": {"PatchFilters": [f.to_api() for f in self.patch_filters]},
            "ComplianceLevel": self.compliance_level,
        }
        if self.approve_after_days is not None:
            rule["ApproveAfterDays"] = self.approve_after_days
        if self.approve_until_date is not None:
            rule["ApproveUntilDate"] = self.approve_until_date
        rule["EnableNonSecurity"] = self.enable_non_security if linux else False
        return rule


@dataclass(frozen=True)
class PatchSource:
    name: str
    products: tuple[str, ...]
    configuration: str

    def to_api(self) -> dict:
        return {"Name": self.name, "Products": list(self.products), "Configuration": self.configuration}


@dataclass(frozen=True)
class Baseline:
    """One patch baseline as desired, whichever spelling it was written in."""

    name: str
    operating_system: str
    description: str = ""
    global_filters: tuple[PatchFilter, ...] = ()
    approval_rules: tuple[ApprovalRule, ...] = ()
    approved_patches: tuple[str, ...] = ()
    approved_patches_compliance_level: str = "UNSPECIFIED"
    approved_patches_enable_non_security: bool = False
    rejected_patches: tuple[str, ...] = ()
    rejected_patches_action: str = "ALLOW_AS_DEPENDENCY"
    sources: tuple[PatchSource, ...] = ()
    available_security_updates_compliance_status: str | None = None
    tags: tuple[tuple[str, str], ...] = ()
    patch_groups: tuple[str, ...] = ()
    default_for_os: bool = False
    predefined: bool = False  # an AWS-owned baseline referenced by name: registered, never created or changed
    source: str = field(default="", compare=False)
    # Where name, patch_groups and default_for_os were written, for problems found across files.
    paths: Mapping[str, str] = field(default_factory=dict, compare=False, hash=False, repr=False)

    @property
    def linux(self) -> bool:
        return self.operating_system in LINUX_SYSTEMS

    def path_of(self, field_name: str) -> str:
        return self.paths.get(field_name, field_name)

    def _request(self) -> dict[str, Any]:
        if self.predefined:
            raise ValueError(f"{self.name} is a predefined AWS baseline; it is registered, never created or updated")
        request: dict[str, Any] = {
            "Name": self.name,
            "GlobalFilters": {"PatchFilters": [f.to_api() for f in self.global_filters]},
            "ApprovalRules": {"PatchRules": [r.to_api(self.linux) for r in self.approval_rules]},
            "ApprovedPatches": list(self.approved_patches),
            "ApprovedPatchesComplianceLevel": self.approved_patches_compliance_level,
            "RejectedPatches": list(self.rejected_patches),
            "RejectedPatchesAction": self.rejected_patches_action,
        }
        if self.description:
            request["Description"] = self.description
        if self.linux:
            request["ApprovedPatchesEnableNonSecurity"] = self.approved_patches_enable_non_security
            request["Sources"] = [s.to_api() for s in self.sources]
        if self.available_security_updates_compliance_status:
            request["AvailableSecurityUpdatesComplianceStatus"] = self.available_security_updates_compliance_status
        return request

    def to_create_kwargs(self, extra_tags: Mapping[str, str] | None = None) -> dict[str, Any]:
        """Keyword arguments for ssm.create_patch_baseline()."""
        kwargs = {**self._request(), "OperatingSystem": self.operating_system}
        tags = {**dict(self.tags), **dict(extra_tags or {})}
        if tags:
            kwargs["Tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
        return kwargs

    def to_update_kwargs(self, baseline_id: str) -> dict[str, Any]:
        """Keyword arguments for ssm.update_patch_baseline(): a full replace, so nothing stale survives."""
        return {"BaselineId": baseline_id, **self._request(), "Replace": True}

    def to_api(self) -> dict[str, Any]:
        """The baseline as ssm.get_patch_baseline() returns it (without ids and timestamps): what approval evaluates."""
        if self.predefined:
            raise ValueError(f"{self.name} is a predefined AWS baseline; its rules live in AWS, not in this project")
        return {
            "Name": self.name,
            "OperatingSystem": self.operating_system,
            "GlobalFilters": {"PatchFilters": [f.to_api() for f in self.global_filters]},
            "ApprovalRules": {"PatchRules": [r.to_api(self.linux) for r in self.approval_rules]},
            "ApprovedPatches": list(self.approved_patches),
            "ApprovedPatchesComplianceLevel": self.approved_patches_compliance_level,
            "ApprovedPatchesEnableNonSecurity": self.approved_patches_enable_non_security if self.linux else False,
            "RejectedPatches": list(self.rejected_patches),
            "RejectedPatchesAction": self.rejected_patches_action,
            "Description": self.description,
            "Sources": [s.to_api() for s in self.sources],
            "PatchGroups": list(self.patch_groups),
            **(
                {"AvailableSecurityUpdatesComplianceStatus": self.available_security_updates_compliance_status}
                if self.available_security_updates_compliance_status
                else {}
            ),
        }
