"""The fleet spec: which simulated instances exist and how they behave.

A fleet spec is YAML (or the same shape as a dict)::

    seed: 7                       # optional; `--seed` overrides it
    throttling:                   # optional: requests per second per SSM API, above which
      ListCommandInvocations: 20  #   ThrottlingException (HTTP 400) is returned; "*" = every
      "*": 200                    #   SSM API without its own entry
    offline_delivery: timeout     # timeout | undeliverable: what Run Command does with an agent
                                  #   that is not Online (see fleetsim/FIDELITY.md); default timeout
    compliance_lag_seconds: 30    # simulated seconds from an invocation's end until its patch
                                  #   state is reported (DescribeInstancePatchStates & co.); default 30
    defaults:                     # optional: any group key below, applied to every group
      execution_seconds: [60, 240]
    groups:                       # required: one entry per kind of instance
      - name: dev-al2023          # optional label for people reading the spec
        count: 4                  # required: integer >= 1
        platform: AMAZON_LINUX_2023   # required: AMAZON_LINUX_2023 | UBUNTU | WINDOWS
                                      #   (aliases: al2023, ubuntu-22.04, windows-2022)
        tags:                     # EC2 tags; "Patch Group" or "PatchGroup" puts it in a patch group
          Patch Group: dev
          Environment: dev
        ping_status: Online       # Online | ConnectionLost | Inactive (agent state at start)
        missing_share: 0.5        # share of applicable catalog patches not yet installed at start
        not_applicable_share: 0.1 # share of catalog patches whose product is absent
        install_failure_probability: 0.0   # chance an Install fails on an instance (one patch FAILED)
        patch_failure_probability:         # chance that installing one patch id fails
          KB5044281: 0.5
        execution_seconds: [60, 240]       # simulated seconds one invocation runs, min and max
        reboot_share: 0.0         # share of instances whose install needs a reboot anyway
        reboot_seconds: 120       # simulated seconds a reboot adds under RebootIfNeeded
        offline_mid_run_share: 0.0  # share of instances whose agent drops during their first command
        superseded:               # Linux only: share of the instances missing a patch whose repositories
          kernel.x86_64: 0.5      #   offer a newer version instead of the catalog's (a title pinning the
                                  #   catalog's version in an InstallOverrideList then fails)

Simulated seconds pass `--time-scale` times faster than real ones. The same
spec and seed give the same instance ids, inventories and outcomes.
Problems are reported all at once, each naming the file and the path inside it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from fleetsim.errors import MISSING, InvalidInput, Problem, join_path, read_yaml, unknown_keys

PLATFORMS = {
    "AMAZON_LINUX_2023": "AMAZON_LINUX_2023",
    "al2023": "AMAZON_LINUX_2023",
    "amazon-linux-2023": "AMAZON_LINUX_2023",
    "UBUNTU": "UBUNTU",
    "ubuntu-22.04": "UBUNTU",
    "ubuntu": "UBUNTU",
    "WINDOWS": "WINDOWS",
    "windows-2022": "WINDOWS",
    "windows": "WINDOWS",
}
PING_STATUSES = ("Online", "ConnectionLost", "Inactive")
PATCH_GROUP_TAG_KEYS = ("Patch Group", "PatchGroup")
MAX_INSTANCES = 50_000

GROUP_DEFAULTS: dict[str, Any] = {
    "name": "",
    "tags": {},
    "ping_status": "Online",
    "missing_share": 0.5,
    "not_applicable_share": 0.1,
    "install_failure_probability": 0.0,
    "patch_failure_probability": {},
    "execution_seconds": [60, 240],
    "reboot_share": 0.0,
    "reboot_seconds": 120,
    "offline_mid_run_share": 0.0,
    "superseded": {},
}
GROUP_KEYS = ("count", "platform", *GROUP_DEFAULTS)
TOP_LEVEL_KEYS = ("seed", "throttling", "offline_delivery", "compliance_lag_seconds", "defaults", "groups")
# AWS allows both for an agent that is not Online; the default is the slower, harsher one a client must survive.
OFFLINE_DELIVERY_TIMEOUT = "timeout"
OFFLINE_DELIVERY_UNDELIVERABLE = "undeliverable"
OFFLINE_DELIVERY_CHOICES = (OFFLINE_DELIVERY_TIMEOUT, OFFLINE_DELIVERY_UNDELIVERABLE)
# Long enough that a client polling every few seconds sees the old patch state after the command ended.
DEFAULT_COMPLIANCE_LAG_SECONDS = 30.0
# Windows matches InstallOverrideList items by KB id alone, so a newer version of the same KB cannot be pinned against.
SUPERSEDED_PLATFORMS = ("AMAZON_LINUX_2023", "UBUNTU")


@dataclass(frozen=True)
class GroupSpec:
    name: str
    count: int
    platform: str
    tags: Mapping[str, str]
    ping_status: str
    missing_share: float
    not_applicable_share: float
    install_failure_probability: float
    patch_failure_probability: Mapping[str, float]
    execution_seconds: tuple[float, float]
    reboot_share: float
    reboot_seconds: float
    offline_mid_run_share: float
    superseded: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class FleetSpec:
    source: str
    groups: tuple[GroupSpec, ...]
    seed: int | None = None
    throttling: Mapping[str, float] = field(default_factory=dict)
    offline_delivery: str = OFFLINE_DELIVERY_TIMEOUT
    compliance_lag_seconds: float = DEFAULT_COMPLIANCE_LAG_SECONDS

    @property
    def instance_count(self) -> int:
        return sum(g.count for g in self.groups)


def load_fleet(fleet: str | Path | Mapping, source: str | None = None) -> FleetSpec:
    """Read and validate a fleet spec from a file path or a dict; raise InvalidInput listing every problem."""
    if isinstance(fleet, Mapping):
        return parse_fleet(fleet, source or "fleet")
    return parse_fleet(read_yaml(fleet), source or str(fleet))


def _is_number(value: object) -> bool:
    """A finite int or float (never a bool, inf, nan, or an int too large to be a float)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def parse_fleet(document: Any, source: str) -> FleetSpec:
    problems: list[Problem] = []
    if not isinstance(document, Mapping):
        raise InvalidInput([Problem.expected(source, "", "a mapping with a 'groups' list", MISSING if document is None else document)])
    problems += unknown_keys(source, "", document, TOP_LEVEL_KEYS)

    seed = document.get("seed")
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
        problems.append(Problem.expected(source, "seed", "an integer", seed))
        seed = None

    throttling: dict[str, float] = {}
    raw_throttling = document.get("throttling", {}) or {}
    if not isinstance(raw_throttling, Mapping):
        problems.append(Problem.expected(source, "throttling", "a mapping of API name to requests per second", raw_throttling))
    else:
        for api, rate in raw_throttling.items():
            if not _is_number(rate) or rate <= 0:
                problems.append(Problem.expected(source, join_path("throttling", str(api)), "a number of requests per second > 0", rate))
            else:
                throttling[str(api)] = float(rate)

    offline_delivery = document.get("offline_delivery", OFFLINE_DELIVERY_TIMEOUT)
    if offline_delivery not in OFFLINE_DELIVERY_CHOICES:
        problems.append(Problem.expected(source, "offline_delivery", "one of " + ", ".join(OFFLINE_DELIVERY_CHOICES), offline_delivery))
        offline_delivery = OFFLINE_DELIVERY_TIMEOUT

    compliance_lag = document.get("compliance_lag_seconds", DEFAULT_COMPLIANCE_LAG_SECONDS)
    if not _is_number(compliance_lag) or compliance_lag < 0:
        problems.append(Problem.expected(source, "compliance_lag_seconds", "a number of simulated seconds >= 0", compliance_lag))
        compliance_lag = DEFAULT_COMPLIANCE_LAG_SECONDS

    defaults = document.get("defaults", {}) or {}
    if not isinstance(defaults, Mapping):
        problems.append(Problem.expected(source, "defaults", "a mapping of group keys", defaults))
        defaults = {}
    else:
        problems += unknown_keys(source, "defaults", defaults, GROUP_DEFAULTS)

    groups_raw = document.get("groups", MISSING)
    groups: list[GroupSpec] = []
    if not isinstance(groups_raw, list) or not groups_raw:
        problems.append(Problem.expected(source, "groups", "a non-empty list of instance groups", groups_raw))
    else:
        for index, raw in enumerate(groups_raw):
            group = _parse_group(raw, defaults, source, join_path("groups", index), problems)
            if group is not None:
                groups.append(group)
    total = sum(g.count for g in groups)
    if total > MAX_INSTANCES:
        problems.append(Problem.expected(source, "groups", f"at most {MAX_INSTANCES} instances in all", total))
    if problems:
        raise InvalidInput(dict.fromkeys(problems))  # a bad default is found once per group, reported once
    return FleetSpec(source=source, groups=tuple(groups), seed=seed, throttling=throttling,
                     offline_delivery=offline_delivery, compliance_lag_seconds=float(compliance_lag))


def _share(value: object, where: str, source: str, problems: list[Problem], what: str = "a number from 0 to 1") -> float:
    if not _is_number(value) or not 0 <= value <= 1:
        problems.append(Problem.expected(source, where, what, value))
        return 0.0
    return float(value)


def _parse_group(raw: Any, defaults: Mapping, source: str, path: str, problems: list[Problem]) -> GroupSpec | None:
    if not isinstance(raw, Mapping):
        problems.append(Problem.expected(source, path, "a mapping with count and platform", raw))
        return None
    before = len(problems)
    problems += unknown_keys(source, path, raw, GROUP_KEYS)
    values = {**GROUP_DEFAULTS, **{k: v for k, v in defaults.items() if k in GROUP_DEFAULTS}, **raw}

    def at(key: str, *more: str) -> str:
        # A value taken from `defaults` is reported where it is written, once for all groups.
        return join_path("defaults" if key not in raw and key in defaults else path, key, *more)

    count = raw.get("count", MISSING)
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        problems.append(Problem.expected(source, at("count"), "an integer >= 1", count))
        count = 0

    platform_raw = raw.get("platform", MISSING)
    platform = PLATFORMS.get(platform_raw) if isinstance(platform_raw, str) else None
    if platform is None:
        problems.append(Problem.expected(source, at("platform"), "one of AMAZON_LINUX_2023, UBUNTU, WINDOWS", platform_raw))

    name = values["name"]
    if not isinstance(name, str):
        problems.append(Problem.expected(source, at("name"), "a string", name))
        name = ""

    tags_raw = values["tags"] or {}
    tags: dict[str, str] = {}
    if not isinstance(tags_raw, Mapping):
        problems.append(Problem.expected(source, at("tags"), "a mapping of tag key to value", tags_raw))
    else:
        for key, value in tags_raw.items():
            if not isinstance(key, str) or not 1 <= len(key) <= 128 or key.lower().startswith("aws:"):
                problems.append(Problem.expected(source, at("tags", str(key)), "a tag key of 1-128 characters not starting with 'aws:'", key))
            elif not isinstance(value, (str, int, float)) or isinstance(value, bool) or len(str(value)) > 256:
                problems.append(Problem.expected(source, at("tags", key), "a tag value of at most 256 characters", value))
            else:
                tags[key] = str(value)

    ping = values["ping_status"]
    if ping not in PING_STATUSES:
        problems.append(Problem.expected(source, at("ping_status"), "one of " + ", ".join(PING_STATUSES), ping))

    shares = {
        key: _share(values[key], at(key), source, problems)
        for key in ("missing_share", "not_applicable_share", "install_failure_probability", "reboot_share", "offline_mid_run_share")
    }

    per_patch_raw = values["patch_failure_probability"] or {}
    per_patch: dict[str, float] = {}
    if not isinstance(per_patch_raw, Mapping):
        problems.append(Problem.expected(source, at("patch_failure_probability"), "a mapping of patch id to a number from 0 to 1", per_patch_raw))
    else:
        for patch_id, probability in per_patch_raw.items():
            per_patch[str(patch_id)] = _share(probability, at("patch_failure_probability", str(patch_id)), source, problems)

    seconds = values["execution_seconds"]
    execution = (0.0, 0.0)
    if (
        isinstance(seconds, list)
        and len(seconds) == 2
        and all(_is_number(s) and s >= 0 for s in seconds)
        and seconds[0] <= seconds[1]
    ):
        execution = (float(seconds[0]), float(seconds[1]))
    elif _is_number(seconds) and seconds >= 0:
        execution = (float(seconds), float(seconds))
    else:
        problems.append(Problem.expected(source, at("execution_seconds"), "[min, max] simulated seconds with 0 <= min <= max", seconds))

    reboot_seconds = values["reboot_seconds"]
    if not _is_number(reboot_seconds) or reboot_seconds < 0:
        problems.append(Problem.expected(source, at("reboot_seconds"), "a number of simulated seconds >= 0", reboot_seconds))
        reboot_seconds = 0

    superseded_raw = values["superseded"] or {}
    superseded: dict[str, float] = {}
    if not isinstance(superseded_raw, Mapping):
        problems.append(Problem.expected(source, at("superseded"), "a mapping of patch id to a number from 0 to 1", superseded_raw))
    elif superseded_raw and platform is not None and platform not in SUPERSEDED_PLATFORMS:
        problems.append(Problem.expected(
            source, at("superseded"),
            f"no entries on a {platform} group (its InstallOverrideList items match by KB id only, titles are ignored)", superseded_raw))
    else:
        for patch_id, share in superseded_raw.items():
            superseded[str(patch_id)] = _share(share, at("superseded", str(patch_id)), source, problems)

    if len(problems) > before:
        return None
    return GroupSpec(
        name=name,
        count=count,
        platform=platform,
        tags=tags,
        ping_status=ping,
        missing_share=shares["missing_share"],
        not_applicable_share=shares["not_applicable_share"],
        install_failure_probability=shares["install_failure_probability"],
        patch_failure_probability=per_patch,
        execution_seconds=execution,
        reboot_share=shares["reboot_share"],
        reboot_seconds=float(reboot_seconds),
        offline_mid_run_share=shares["offline_mid_run_share"],
        superseded=superseded,
    )


def patch_group_of(tags: Mapping[str, str]) -> str:
    """The node's patch group from its tags; 'Patch Group' is read first when both keys are set."""
    for key in PATCH_GROUP_TAG_KEYS:
        if key in tags:
            return tags[key]
    return ""
