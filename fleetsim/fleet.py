"""The simulated instances: what each runs, has installed, and how its agent behaves."""
from __future__ import annotations

import hashlib
import math
import random
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any

from fleetsim.catalog import load_catalog
from fleetsim.patching import HAVE_INSTALLED, HAVE_MISSING, HAVE_NOT_APPLICABLE
from fleetsim.spec import FleetSpec, GroupSpec


@dataclass(frozen=True)
class Platform:
    operating_system: str
    platform_type: str
    platform_name: str
    platform_version: str
    image_id: str
    image_name: str
    plugin_name: str  # the AWS-RunPatchBaseline step that runs here
    plugin_kind: str  # the plugin that step uses, as it appears in S3 output keys


PLATFORMS = {
    "AMAZON_LINUX_2023": Platform(
        "AMAZON_LINUX_2023", "Linux", "Amazon Linux", "2023", "ami-0453ec754f44f9a4a",
        "al2023-ami-2023.6.20241121.0-kernel-6.1-x86_64", "PatchLinux", "awsrunShellScript",
    ),
    "UBUNTU": Platform(
        "UBUNTU", "Linux", "Ubuntu", "22.04", "ami-005fc0f236362e99f",
        "ubuntu/images/hvm-ssd/ubuntu-jammy-22.04-amd64-server-20241109", "PatchLinux", "awsrunShellScript",
    ),
    "WINDOWS": Platform(
        "WINDOWS", "Windows", "Microsoft Windows Server 2022 Datacenter", "10.0.20348", "ami-0324a83b82023f0b3",
        "Windows_Server-2022-English-Full-Base-2024.11.13", "PatchWindows", "awsrunPowerShellScript",
    ),
}
PLUGIN_NAMES = ("PatchWindows", "PatchLinux", "PatchMacOS")
AGENT_VERSION = "3.3.987.0"


def stable_random(*parts: object) -> random.Random:
    """A generator seeded from the parts, identical across processes (unlike hash())."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


@dataclass
class SimInstance:
    instance_id: str
    index: int
    group: GroupSpec
    platform: Platform
    ping_status: str
    have: dict[str, str]
    reboot_needed: bool
    drops_mid_run: bool
    private_ip: str
    pending_reboot: frozenset = frozenset()
    superseded: frozenset = frozenset()  # patch ids whose repositories offer a newer version than the catalog's
    commands_run: int = 0
    patch_state: dict[str, Any] | None = None  # as reported: set when the first Scan or Install's report arrives
    last_operation_record: dict[str, Any] | None = None  # the latest Scan or Install, reported or not yet
    patch_items: tuple = ()  # PatchOutcome items of the last operation
    installed_at: dict = field(default_factory=dict)  # patch id -> reported InstalledTime of what a command installed
    breaks_service_with: frozenset = frozenset()  # patch ids whose install by a command breaks this node's service
    command_installs: dict = field(default_factory=dict)  # patch id -> simulated second a command installed it (first time)
    last_ping_wall: Any = None
    registered_wall: Any = None

    @property
    def computer_name(self) -> str:
        if self.platform.platform_type == "Windows":
            return f"EC2AMAZ-{self.instance_id[2:9].upper()}"
        return f"ip-{self.private_ip.replace('.', '-')}.ec2.internal"


@lru_cache(maxsize=None)
def absent_product_draws(seed: int, operating_system: str) -> tuple[tuple[str, float], ...]:
    """Per catalog patch, the draw that decides whether its product is absent, in catalog order.

    Whether a product is present is drawn per patch, not per instance: instances built from one
    image carry the same packages, so what one node installs covers what its peers miss. Drawn once
    per seed and OS, not once per instance, which would be 100,000 times the same draws at fleet scale.
    """
    return tuple((patch.id, stable_random(seed, "not-applicable", operating_system, patch.id).random()) for patch in load_catalog(operating_system))


def initial_inventory(group: GroupSpec, operating_system: str, rng: random.Random, seed: int) -> dict[str, str]:
    have = {}
    for patch_id, absent_draw in absent_product_draws(seed, operating_system):
        if absent_draw < group.not_applicable_share:
            have[patch_id] = HAVE_NOT_APPLICABLE
        elif rng.random() < group.missing_share:
            have[patch_id] = HAVE_MISSING
        else:
            have[patch_id] = HAVE_INSTALLED
    return have


def superseded_patches(group: GroupSpec, have: dict[str, str], rng: random.Random) -> frozenset[str]:
    """The patches this instance is missing whose repositories have moved on to a newer version.

    Drawn only for patches missing at start: an installed package keeps the version it has, and the
    version a node is offered matters only for what it still has to install.
    """
    return frozenset(
        patch_id for patch_id, share in sorted(group.superseded.items())
        if rng.random() < share and have.get(patch_id) == HAVE_MISSING
    )


def reported_installed_time(operating_system: str, instant: datetime) -> datetime:
    """InstalledTime as the node's package manager reports an install that happened at `instant`.

    Windows Update keeps the day only (awscli describe-instance-patches.rst: "2019-01-09T00:00:00+00:00");
    rpm and dpkg keep whole seconds (rpm's INSTALLTIME; the dpkg .list file's modification time).
    """
    instant = instant.astimezone(timezone.utc)
    if operating_system == "WINDOWS":
        return datetime(instant.year, instant.month, instant.day, tzinfo=timezone.utc)
    return instant.replace(microsecond=0)


def install_age_at_start(released_before_start: float, draw: float) -> float:
    """Simulated seconds before the fleet started at which a patch present at start was installed.

    `released_before_start` is how long before the start the patch was released; the install falls
    between 5% and 95% of that span after the release, and never less than a minute before the start.
    `draw` is in [0, 1).
    """
    return max(60.0, max(released_before_start, 0.0) * (0.95 - 0.9 * draw))


def share_count(share: float, population: int) -> int:
    """How many of `population` make up `share` of it: rounded up, so any share above 0 is at least one."""
    # round() first: 0.28 * 25 is 7.000000000000001 in binary floating point, which must stay 7.
    return min(population, math.ceil(round(share * population, 9)))


def service_breakers(group: GroupSpec, indices: list[int], seed: int) -> dict[int, frozenset[str]]:
    """For each instance index of one group, the patches whose install breaks its service.

    Per patch, `share_count(share, group size)` instances break: those with the lowest seeded draw, each
    instance drawing for itself, so the same spec and seed always pick the same nodes.
    """
    breakers: dict[int, set[str]] = {index: set() for index in indices}
    for patch_id, share in sorted(group.breaks_service.items()):
        ranked = sorted(indices, key=lambda index: stable_random(seed, "breaks-service", patch_id, index).random())
        for index in ranked[:share_count(share, len(indices))]:
            breakers[index].add(patch_id)
    return {index: frozenset(patches) for index, patches in breakers.items()}


def build_instances(spec: FleetSpec, seed: int, instance_ids: list[str]) -> list[SimInstance]:
    """Instances in spec order, one per id (the ids come from the EC2 launch)."""
    instances = []
    ids = iter(instance_ids)
    index = 0
    for group_index, group in enumerate(spec.groups):
        for _ in range(group.count):
            instance_id = next(ids)
            rng = stable_random(seed, "instance", index)
            have = initial_inventory(group, group.platform, rng, seed)
            instances.append(
                SimInstance(
                    instance_id=instance_id,
                    index=index,
                    group=group,
                    platform=PLATFORMS[group.platform],
                    ping_status=group.ping_status,
                    have=have,
                    reboot_needed=rng.random() < group.reboot_share,
                    drops_mid_run=rng.random() < group.offline_mid_run_share,
                    private_ip=f"10.{((index + 10) >> 16) & 255}.{((index + 10) >> 8) & 255}.{(index + 10) & 255}",
                    # Its own generator: a spec without `superseded` keeps the draws (and outcomes) it always had.
                    superseded=superseded_patches(group, have, stable_random(seed, "superseded", index)) if group.superseded else frozenset(),
                )
            )
            index += 1
        if group.breaks_service:
            members = instances[-group.count:]
            breakers = service_breakers(group, [member.index for member in members], seed)
            for member in members:
                member.breaks_service_with = breakers[member.index]
    return instances
