"""Which Patch Manager operating system a managed node runs, from what SSM reports about it."""
from __future__ import annotations

# (substring of DescribeInstanceInformation PlatformName, version prefix or "") -> OperatingSystem
_PLATFORM_RULES: tuple[tuple[str, str, str], ...] = (
    ("amazon linux", "2023", "AMAZON_LINUX_2023"),
    ("amazon linux", "2022", "AMAZON_LINUX_2022"),
    ("amazon linux", "2", "AMAZON_LINUX_2"),
    ("amazon linux", "", "AMAZON_LINUX"),
    ("ubuntu", "", "UBUNTU"),
    ("debian", "", "DEBIAN"),
    ("raspbian", "", "RASPBIAN"),
    ("red hat", "", "REDHAT_ENTERPRISE_LINUX"),
    ("centos", "", "CENTOS"),
    ("oracle", "", "ORACLE_LINUX"),
    ("rocky", "", "ROCKY_LINUX"),
    ("alma", "", "ALMA_LINUX"),
    ("suse", "", "SUSE"),
    ("sles", "", "SUSE"),
    ("windows", "", "WINDOWS"),
    ("mac", "", "MACOS"),
)


def operating_system_of(platform_type: str, platform_name: str, platform_version: str) -> str | None:
    """The OperatingSystem enum value a baseline for this node must have, or None when unknown."""
    name = (platform_name or "").lower()
    version = platform_version or ""
    for needle, version_prefix, operating_system in _PLATFORM_RULES:
        if needle in name and version.startswith(version_prefix):
            return operating_system
    if (platform_type or "").lower() == "windows":
        return "WINDOWS"
    if (platform_type or "").lower() == "macos":
        return "MACOS"
    return None
