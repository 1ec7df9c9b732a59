"""Patch baselines as SSM keeps them: the predefined AWS baselines and validation of custom ones.

A baseline is held as the dict GetPatchBaseline returns (minus the
timestamps), which is also the shape fleetsim.approval evaluates.
"""
from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Mapping

from moto.utilities.utils import load_resource

# us-east-1's owner of the predefined baselines; only for a Region moto has no record of.
AWS_BASELINE_ACCOUNT = "075727635805"
# moto's recorded GetDefaultPatchBaseline ARNs of every Region: {region: {OperatingSystem: ARN}}.
MOTO_BASELINES_RESOURCE = "ssm/resources/default_baselines.json"

OPERATING_SYSTEMS = (
    "WINDOWS", "AMAZON_LINUX", "AMAZON_LINUX_2", "AMAZON_LINUX_2022", "AMAZON_LINUX_2023", "UBUNTU", "DEBIAN",
    "RASPBIAN", "REDHAT_ENTERPRISE_LINUX", "CENTOS", "ORACLE_LINUX", "ROCKY_LINUX", "ALMA_LINUX", "SUSE", "MACOS",
)
FILTER_KEYS = (
    "ARCH", "ADVISORY_ID", "BUGZILLA_ID", "PATCH_SET", "PRODUCT", "PRODUCT_FAMILY", "CLASSIFICATION", "CVE_ID", "EPOCH",
    "MSRC_SEVERITY", "NAME", "PATCH_ID", "SECTION", "PRIORITY", "REPOSITORY", "RELEASE", "SEVERITY", "SECURITY", "VERSION",
)
COMPLIANCE_LEVELS = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "INFORMATIONAL", "UNSPECIFIED")
REJECTED_ACTIONS = ("ALLOW_AS_DEPENDENCY", "BLOCK")
NAME_PATTERN = re.compile(r"^[a-zA-Z0-9_\-.]{3,128}$")
BASELINE_ID_PATTERN = re.compile(r"^[a-zA-Z0-9_\-:/]{20,128}$")
PATCH_GROUP_PATTERN = re.compile(r"^([\w\s.:/=+\-@]*)$")

# (OperatingSystem, name, id in us-east-1, description, approval rules)
_PREDEFINED = (
    ("WINDOWS", "AWS-DefaultPatchBaseline", "pb-09ca3fb51f0412ec3",
     "Default Patch Baseline Provided by AWS.",
     [{"PatchFilterGroup": {"PatchFilters": [
         {"Key": "MSRC_SEVERITY", "Values": ["Critical", "Important"]},
         {"Key": "CLASSIFICATION", "Values": ["SecurityUpdates", "CriticalUpdates"]}]},
       "ComplianceLevel": "UNSPECIFIED", "ApproveAfterDays": 7, "EnableNonSecurity": False}]),
    ("AMAZON_LINUX_2023", "AWS-AmazonLinux2023DefaultPatchBaseline", "pb-05c9c9bf778d4c4d0",
     "Default Patch Baseline for Amazon Linux 2023 Provided by AWS.",
     [{"PatchFilterGroup": {"PatchFilters": [
         {"Key": "PRODUCT", "Values": ["*"]},
         {"Key": "CLASSIFICATION", "Values": ["Security"]},
         {"Key": "SEVERITY", "Values": ["Critical", "Important"]}]},
       "ComplianceLevel": "UNSPECIFIED", "ApproveAfterDays": 7, "EnableNonSecurity": False},
      {"PatchFilterGroup": {"PatchFilters": [
          {"Key": "PRODUCT", "Values": ["*"]},
          {"Key": "CLASSIFICATION", "Values": ["Bugfix"]}]},
       "ComplianceLevel": "UNSPECIFIED", "ApproveAfterDays": 7, "EnableNonSecurity": False}]),
    ("UBUNTU", "AWS-UbuntuDefaultPatchBaseline", "pb-0c7e89f711c3095f4",
     "Default Patch Baseline for Ubuntu Provided by AWS.",
     [{"PatchFilterGroup": {"PatchFilters": [
         {"Key": "PRODUCT", "Values": ["*"]},
         {"Key": "PRIORITY", "Values": ["Required", "Important", "Standard", "Optional", "Extra"]}]},
       "ComplianceLevel": "UNSPECIFIED", "EnableNonSecurity": False}]),
    ("AMAZON_LINUX_2", "AWS-AmazonLinux2DefaultPatchBaseline", "pb-0be8c61cde3be63f3",
     "Default Patch Baseline for Amazon Linux 2 Provided by AWS.", None),
    ("AMAZON_LINUX_2022", "AWS-AmazonLinux2022DefaultPatchBaseline", "pb-0028ca011460d5eaf",
     "Default Patch Baseline for Amazon Linux 2022 Provided by AWS.", None),
    ("AMAZON_LINUX", "AWS-AmazonLinuxDefaultPatchBaseline", "pb-0c10e657807c7a700",
     "Default Patch Baseline for Amazon Linux Provided by AWS.", None),
    ("DEBIAN", "AWS-DebianDefaultPatchBaseline", "pb-09a5f8eb62bde80b1",
     "Default Patch Baseline for Debian Provided by AWS.", "UBUNTU"),
    ("RASPBIAN", "AWS-RaspbianDefaultPatchBaseline", "pb-0ec16280999c5c75e",
     "Default Patch Baseline for Raspbian Provided by AWS.", "UBUNTU"),
    ("REDHAT_ENTERPRISE_LINUX", "AWS-RedHatDefaultPatchBaseline", "pb-0cbb3a633de00f07c",
     "Default Patch Baseline for Redhat Enterprise Linux Provided by AWS.", None),
    ("CENTOS", "AWS-CentOSDefaultPatchBaseline", "pb-03e3f588eec25344c",
     "Default Patch Baseline for CentOS Provided by AWS.",
     [{"PatchFilterGroup": {"PatchFilters": [{"Key": "PRODUCT", "Values": ["*"]}, {"Key": "CLASSIFICATION", "Values": ["*"]}]},
       "ComplianceLevel": "UNSPECIFIED", "ApproveAfterDays": 7, "EnableNonSecurity": True}]),
    ("ORACLE_LINUX", "AWS-OracleLinuxDefaultPatchBaseline", "pb-06bff38e95fe85c02",
     "Default Patch Baseline for Oracle Linux Server Provided by AWS.", None),
    ("ROCKY_LINUX", "AWS-RockyLinuxDefaultPatchBaseline", "pb-03ec98bc512aa3ac0",
     "Default Patch Baseline for Rocky Linux Provided by AWS.", None),
    ("ALMA_LINUX", "AWS-AlmaLinuxDefaultPatchBaseline", "pb-0cb0c4966f86b059b",
     "Default Patch Baseline for Alma Linux Provided by AWS.", None),
    ("SUSE", "AWS-SuseDefaultPatchBaseline", "pb-07d8884178197b66b",
     "Default Patch Baseline for Suse Provided by AWS.",
     [{"PatchFilterGroup": {"PatchFilters": [
         {"Key": "PRODUCT", "Values": ["*"]},
         {"Key": "CLASSIFICATION", "Values": ["Security"]},
         {"Key": "SEVERITY", "Values": ["Critical", "Important"]}]},
       "ComplianceLevel": "UNSPECIFIED", "ApproveAfterDays": 7, "EnableNonSecurity": False}]),
    ("MACOS", "AWS-MacOSDefaultPatchBaseline", "pb-0ee4f94581368c0d4",
     "Default Patch Baseline for MacOS Provided by AWS.",
     [{"PatchFilterGroup": {"PatchFilters": [{"Key": "PRODUCT", "Values": ["*"]}, {"Key": "CLASSIFICATION", "Values": ["*"]}]},
       "ComplianceLevel": "UNSPECIFIED", "ApproveAfterDays": 0, "EnableNonSecurity": False}]),
)


@lru_cache(maxsize=None)
def _recorded_baselines() -> Mapping[str, Mapping[str, str]]:
    try:
        return load_resource(MOTO_BASELINES_RESOURCE)
    except FileNotFoundError:
        return {}


def recorded_baseline_arns(region: str) -> dict[str, str]:
    """The predefined baselines' ARNs AWS answers in `region`, by OperatingSystem, as moto recorded them."""
    return dict(_recorded_baselines().get(region, {}))


def predefined_baselines(region: str) -> dict[str, dict[str, Any]]:
    """Predefined baselines keyed by their ARN, which is also the BaselineId AWS reports for them.

    Each Region has its own owner account and ids, so the ARNs are moto's per-Region record; a Region
    moto has no record of keeps us-east-1's owner and ids under its own name.
    """
    recorded = recorded_baseline_arns(region)
    by_os_rules: dict[str, list] = {}
    out: dict[str, dict[str, Any]] = {}
    for operating_system, name, baseline_id, description, rules in _PREDEFINED:
        if rules is None:
            # The yum-family defaults: Security Critical/Important plus Bugfix, after 7 days.
            rules = by_os_rules["AMAZON_LINUX_2023"]
        elif isinstance(rules, str):
            rules = by_os_rules[rules]
        by_os_rules[operating_system] = rules
        arn = recorded.get(operating_system) or f"arn:aws:ssm:{region}:{AWS_BASELINE_ACCOUNT}:patchbaseline/{baseline_id}"
        out[arn] = {
            "BaselineId": arn,
            "Name": name,
            "OperatingSystem": operating_system,
            "GlobalFilters": {"PatchFilters": []},
            "ApprovalRules": {"PatchRules": [dict(rule) for rule in rules]},
            "ApprovedPatches": [],
            "ApprovedPatchesComplianceLevel": "UNSPECIFIED",
            "ApprovedPatchesEnableNonSecurity": False,
            "RejectedPatches": [],
            "RejectedPatchesAction": "ALLOW_AS_DEPENDENCY",
            "Description": description,
            "Sources": [],
        }
    return out


def _constraint(value: object, where: str, constraint: str) -> str:
    return f"Value '{value}' at '{where}' failed to satisfy constraint: {constraint}"


def validation_message(errors: list[str]) -> str:
    count = len(errors)
    return f"{count} validation error{'s' if count > 1 else ''} detected: " + "; ".join(errors)


def validate_baseline_fields(request: Mapping[str, Any], *, creating: bool) -> list[str]:
    """Constraint violations in Create/UpdatePatchBaseline fields, worded like SSM's ValidationException."""
    errors: list[str] = []
    name = request.get("Name")
    if name is not None or creating:
        if not isinstance(name, str) or not NAME_PATTERN.match(name):
            errors.append(_constraint(name, "name", "Member must satisfy regular expression pattern: ^[a-zA-Z0-9_\\-.]{3,128}$"))
    operating_system = request.get("OperatingSystem")
    if operating_system is not None and operating_system not in OPERATING_SYSTEMS:
        errors.append(_constraint(operating_system, "operatingSystem", f"Member must satisfy enum value set: [{', '.join(OPERATING_SYSTEMS)}]"))
    for field, where in (("GlobalFilters", "globalFilters.patchFilters"),):
        group = request.get(field)
        if group is not None:
            errors += _filter_errors(group.get("PatchFilters", []), where)
    rules = request.get("ApprovalRules")
    if rules is not None:
        patch_rules = rules.get("PatchRules", [])
        if len(patch_rules) > 10:
            errors.append(_constraint(patch_rules, "approvalRules.patchRules", "Member must have length less than or equal to 10"))
        for index, rule in enumerate(patch_rules, start=1):
            where = f"approvalRules.patchRules.{index}.member"
            errors += _filter_errors(rule.get("PatchFilterGroup", {}).get("PatchFilters", []), f"{where}.patchFilterGroup.patchFilters")
            days = rule.get("ApproveAfterDays")
            if days is not None and (not isinstance(days, int) or not 0 <= days <= 360):
                errors.append(_constraint(days, f"{where}.approveAfterDays", "Member must have value less than or equal to 360"))
            until = rule.get("ApproveUntilDate")
            if until is not None and not re.match(r"^\d{4}-\d{2}-\d{2}$", str(until)):
                errors.append(_constraint(until, f"{where}.approveUntilDate", "Member must be a date in the format YYYY-MM-DD"))
            if days is not None and until is not None:
                errors.append(f"Value at '{where}' failed to satisfy constraint: ApproveAfterDays and ApproveUntilDate cannot both be set")
            level = rule.get("ComplianceLevel")
            if level is not None and level not in COMPLIANCE_LEVELS:
                errors.append(_constraint(level, f"{where}.complianceLevel", f"Member must satisfy enum value set: [{', '.join(COMPLIANCE_LEVELS)}]"))
    for field, where in (("ApprovedPatches", "approvedPatches"), ("RejectedPatches", "rejectedPatches")):
        values = request.get(field)
        if values is not None and len(values) > 50:
            errors.append(_constraint(values, where, "Member must have length less than or equal to 50"))
    level = request.get("ApprovedPatchesComplianceLevel")
    if level is not None and level not in COMPLIANCE_LEVELS:
        errors.append(_constraint(level, "approvedPatchesComplianceLevel", f"Member must satisfy enum value set: [{', '.join(COMPLIANCE_LEVELS)}]"))
    action = request.get("RejectedPatchesAction")
    if action is not None and action not in REJECTED_ACTIONS:
        errors.append(_constraint(action, "rejectedPatchesAction", f"Member must satisfy enum value set: [{', '.join(REJECTED_ACTIONS)}]"))
    return errors


def _filter_errors(filters: list, where: str) -> list[str]:
    errors = []
    if len(filters) > 4:
        errors.append(_constraint(filters, where, "Member must have length less than or equal to 4"))
    for index, patch_filter in enumerate(filters, start=1):
        key = patch_filter.get("Key")
        if key not in FILTER_KEYS:
            errors.append(_constraint(key, f"{where}.{index}.member.key", f"Member must satisfy enum value set: [{', '.join(FILTER_KEYS)}]"))
        values = patch_filter.get("Values") or []
        if not 1 <= len(values) <= 20:
            errors.append(_constraint(values, f"{where}.{index}.member.values", "Member must have length between 1 and 20"))
    return errors
