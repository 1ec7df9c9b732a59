"""What AWS accepts in a patch baseline (ssm-reference sections 1 and 6): operating systems,
filter keys and values per operating system, limits, names, and patch ids per operating system.

Pure data and predicates; patchflow.core.baseline_fields reads a baseline's fields against them.
"""
from __future__ import annotations

import re

OPERATING_SYSTEMS = (
    "WINDOWS", "AMAZON_LINUX", "AMAZON_LINUX_2", "AMAZON_LINUX_2022", "AMAZON_LINUX_2023", "UBUNTU", "DEBIAN",
    "RASPBIAN", "REDHAT_ENTERPRISE_LINUX", "CENTOS", "ORACLE_LINUX", "ROCKY_LINUX", "ALMA_LINUX", "SUSE", "MACOS",
)
YUM_SYSTEMS = frozenset({
    "AMAZON_LINUX", "AMAZON_LINUX_2", "AMAZON_LINUX_2022", "AMAZON_LINUX_2023", "REDHAT_ENTERPRISE_LINUX", "CENTOS",
    "ORACLE_LINUX", "ROCKY_LINUX", "ALMA_LINUX",
})
APT_SYSTEMS = frozenset({"UBUNTU", "DEBIAN", "RASPBIAN"})
LINUX_SYSTEMS = YUM_SYSTEMS | APT_SYSTEMS | {"SUSE"}
COMPLIANCE_LEVELS = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "INFORMATIONAL", "UNSPECIFIED")
REJECTED_PATCHES_ACTIONS = ("ALLOW_AS_DEPENDENCY", "BLOCK")
SECURITY_UPDATE_STATUSES = ("COMPLIANT", "NON_COMPLIANT")

YUM_CLASSIFICATIONS = ("Security", "Bugfix", "Enhancement", "Recommended", "Newpackage")
YUM_SEVERITIES = ("Critical", "Important", "Medium", "Low")
APT_PRIORITIES = ("Required", "Important", "Standard", "Optional", "Extra")

# Filter key -> known values, or None for free text; per operating system (ssm-reference 1.3).
_YUM_KEYS = {"PRODUCT": None, "CLASSIFICATION": YUM_CLASSIFICATIONS, "SEVERITY": YUM_SEVERITIES}
FILTER_KEYS_BY_OS: dict[str, dict[str, tuple[str, ...] | None]] = {
    **{system: _YUM_KEYS for system in YUM_SYSTEMS},
    "AMAZON_LINUX_2023": {**_YUM_KEYS, "SEVERITY": YUM_SEVERITIES + ("None",)},
    "SUSE": {
        "PRODUCT": None,
        "CLASSIFICATION": ("Security", "Recommended", "Optional", "Feature", "Document", "Yast"),
        "SEVERITY": ("Critical", "Important", "Moderate", "Low"),
    },
    **{system: {"PRODUCT": None, "PRIORITY": APT_PRIORITIES, "SECTION": None} for system in APT_SYSTEMS},
    "MACOS": {"PRODUCT": None, "CLASSIFICATION": None},
    "WINDOWS": {
        "PRODUCT": None,
        "PRODUCT_FAMILY": None,
        "CLASSIFICATION": (
            "CriticalUpdates", "DefinitionUpdates", "Drivers", "FeaturePacks", "SecurityUpdates", "ServicePacks", "Tools",
            "UpdateRollups", "Updates", "Upgrades",
        ),
        "MSRC_SEVERITY": ("Critical", "Important", "Moderate", "Low", "Unspecified"),
        "PATCH_SET": ("OS", "APPLICATION"),
    },
}

# The predefined baselines AWS owns, by name -> operating system (ssm-reference 6).
PREDEFINED_BASELINES = {
    "AWS-DefaultPatchBaseline": "WINDOWS",
    "AWS-WindowsPredefinedPatchBaseline-OS": "WINDOWS",
    "AWS-WindowsPredefinedPatchBaseline-OS-Applications": "WINDOWS",
    "AWS-AmazonLinuxDefaultPatchBaseline": "AMAZON_LINUX",
    "AWS-AmazonLinux2DefaultPatchBaseline": "AMAZON_LINUX_2",
    "AWS-AmazonLinux2022DefaultPatchBaseline": "AMAZON_LINUX_2022",
    "AWS-AmazonLinux2023DefaultPatchBaseline": "AMAZON_LINUX_2023",
    "AWS-UbuntuDefaultPatchBaseline": "UBUNTU",
    "AWS-DebianDefaultPatchBaseline": "DEBIAN",
    "AWS-RaspbianDefaultPatchBaseline": "RASPBIAN",
    "AWS-RedHatDefaultPatchBaseline": "REDHAT_ENTERPRISE_LINUX",
    "AWS-CentOSDefaultPatchBaseline": "CENTOS",
    "AWS-OracleLinuxDefaultPatchBaseline": "ORACLE_LINUX",
    "AWS-RockyLinuxDefaultPatchBaseline": "ROCKY_LINUX",
    "AWS-AlmaLinuxDefaultPatchBaseline": "ALMA_LINUX",
    "AWS-SuseDefaultPatchBaseline": "SUSE",
    "AWS-MacOSDefaultPatchBaseline": "MACOS",
}

MAX_RULES, MAX_FILTERS, MAX_VALUES, MAX_PATCHES, MAX_SOURCES, MAX_PRODUCTS, MAX_TAGS = 10, 4, 20, 50, 20, 20, 1000
MAX_TEXT = 1024  # a Description or a source's Configuration

NAME = re.compile(r"^[a-zA-Z0-9_\-.]{3,128}$")
SOURCE_NAME = re.compile(r"^[a-zA-Z0-9_\-.]{3,50}$")
UNTIL_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
WINDOWS_PATCH_ID = re.compile(r"^(KB\d{6,8}|MS\d{2}-\d{3})$")
CVE_ID = re.compile(r"^CVE-\d{4}-\d{4,}$")
ADVISORY_ID = re.compile(r"^[A-Z][A-Z0-9]*(-[A-Z0-9]+)?-\d{4}[:-]\d+$")
BUGZILLA_ID = re.compile(r"^\d+$")
RPM_NAME = re.compile(r"^[A-Za-z0-9_+.:~^-]+$")  # name, or name-version-release.arch, each without spaces
APT_NAME = re.compile(r"^[a-z0-9][a-z0-9+.-]+$")  # Debian policy: lower case, digits, + - .

NAME_RULE = "a name of 3-128 letters, digits, '_', '-' or '.'"


def patch_id_rule(operating_system: str, rejected: bool) -> str:
    """What an ApprovedPatches/RejectedPatches entry must look like on this OS (ssm-reference 1.4)."""
    if operating_system == "WINDOWS":
        return "a KB id like KB2032276 or a bulletin id like MS10-048"
    if operating_system in APT_SYSTEMS:
        return "a bare package name (lower case, no version, architecture or wildcard)"
    if operating_system == "MACOS":
        return "a full package name without wildcards"
    if operating_system == "SUSE" or rejected:
        return "a full package name or a package name with one '*'"
    return "a package name (full, or with one '*'), a CVE id, an advisory id or a Bugzilla id"


def is_patch_id(value: str, operating_system: str, rejected: bool) -> bool:
    if operating_system == "WINDOWS":
        return bool(WINDOWS_PATCH_ID.match(value))
    if operating_system in APT_SYSTEMS:
        return bool(APT_NAME.match(value))
    if not rejected and operating_system in YUM_SYSTEMS and (CVE_ID.match(value) or ADVISORY_ID.match(value) or BUGZILLA_ID.match(value)):
        return True
    if CVE_ID.match(value) or ADVISORY_ID.match(value) or BUGZILLA_ID.match(value):
        return False
    wildcards = value.count("*")
    if operating_system == "MACOS" and wildcards:
        return False
    return wildcards <= 1 and value != "*" and bool(RPM_NAME.match(value.replace("*", "")))
