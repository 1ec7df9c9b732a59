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
        breaks_service:           # share of this group's instances (seeded per instance) whose service
          openssh-server.x86_64: 0.3  # breaks once a command installs that patch on them: shell
                                  #   documents (AWS-RunShellScript, AWS-RunPowerShellScript) then fail there
        account: "111111111111"   # the group's AWS account: an id or alias of `accounts` (fleetsim.accounts);
                                  #   default the default account, 123456789012
        region: eu-west-1         # the group's AWS Region; default us-east-1
    accounts: [...]               # optional: the AWS accounts and their assumable roles (fleetsim.accounts)
    alarms:                       # optional: CloudWatch metric alarms
      - name: storefront-dev-5xx  # required: 1-255 characters, unique in its account and Region
        account: dev              # optional, as a group's: the alarm's account and Region
        region: us-east-1
        tags: {Application: storefront, Environment: dev}
        state: OK                 # OK | ALARM | INSUFFICIENT_DATA at launch; default OK
        fires:                    # optional: the alarm goes into ALARM (and stays there) ...
          patch: openssh-server.x86_64  # ... once commands have installed this patch ...
          patch_group: dev        # ... on at least `share` of this patch group's instances (in the alarm's account and Region)
          share: 0.3              #   (0, 1]; default: any one instance
          after_seconds: 600      # ... this many simulated seconds later; default 0

Simulated seconds pass `--time-scale` times faster than real ones. The same
spec and seed give the same instance ids, inventories and outcomes.
Problems are reported all at once, each naming the file and the path inside it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from fleetsim.accounts import DEFAULT_ACCOUNT_ID, DEFAULT_REGION, AccountBook, AccountSpec, parse_accounts, parse_scope, with_aliases_resolved
from fleetsim.errors import MISSING, InvalidInput, Problem, join_path, read_yaml, unknown_keys
from fleetsim.spec_values import PATCH_GROUP_TAG_KEYS, catalog_ids, catalog_words, is_number, parse_tags, patch_group_of, patch_shares, read_share

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
# The ceiling is what fleetsim is measured to serve (bench/fleetsim_capacity.py, docs/benchmarks.md): every
# instance is a moto EC2 instance plus its simulated node, and every command invocation is kept, so memory grows
# with both, and the load runs at moto's pace. fleetsim/README.md ("Capacity") has the figures.
MAX_INSTANCES = 100_000
CEILING_WHY = ("the most fleetsim is measured to serve: each instance holds about 6 kB in moto's EC2 and the simulation "
               "and each command invocation about 4 kB more, so 100,000 instances take about 0.75 GB and 15 s to load "
               "and 1.2 GB after one Install on all of them")

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
    "breaks_service": {},
    "account": DEFAULT_ACCOUNT_ID,
    "region": DEFAULT_REGION,
}
GROUP_KEYS = ("count", "platform", *GROUP_DEFAULTS)
TOP_LEVEL_KEYS = ("seed", "throttling", "offline_delivery", "compliance_lag_seconds", "defaults", "groups", "alarms", "accounts")
ALARM_KEYS = ("name", "tags", "state", "fires", "account", "region")
FIRES_KEYS = ("patch", "patch_group", "share", "after_seconds")
ALARM_STATES = ("OK", "ALARM", "INSUFFICIENT_DATA")
DEFAULT_ALARM_STATE = "OK"
MAX_ALARM_NAME_LENGTH = 255  # CloudWatch's AlarmName: 1-255 characters
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
    breaks_service: Mapping[str, float] = field(default_factory=dict)
    account: str = DEFAULT_ACCOUNT_ID
    region: str = DEFAULT_REGION

    @property
    def scope(self) -> tuple[str, str]:
        return self.account, self.region


@dataclass(frozen=True)
class AlarmFires:
    """When a spec alarm goes into ALARM: `after_seconds` after `patch` is installed on `share` of `patch_group`."""

    patch: str
    patch_group: str
    share: float | None = None  # None: the first install on any one instance is enough
    after_seconds: float = 0.0


@dataclass(frozen=True)
class AlarmSpec:
    name: str
    tags: Mapping[str, str] = field(default_factory=dict)
    state: str = DEFAULT_ALARM_STATE
    fires: AlarmFires | None = None
    account: str = DEFAULT_ACCOUNT_ID
    region: str = DEFAULT_REGION

    @property
    def scope(self) -> tuple[str, str]:
        return self.account, self.region


@dataclass(frozen=True)
class FleetSpec:
    source: str
    groups: tuple[GroupSpec, ...]
    seed: int | None = None
    throttling: Mapping[str, float] = field(default_factory=dict)
    offline_delivery: str = OFFLINE_DELIVERY_TIMEOUT
    compliance_lag_seconds: float = DEFAULT_COMPLIANCE_LAG_SECONDS
    alarms: tuple[AlarmSpec, ...] = ()
    accounts: tuple[AccountSpec, ...] = ()

    @property
    def instance_count(self) -> int:
        return sum(g.count for g in self.groups)

    @property
    def scopes(self) -> tuple[tuple[str, str], ...]:
        """Every (account id, Region) the fleet has instances or alarms in, the default one first, then in spec order."""
        return tuple(dict.fromkeys([(DEFAULT_ACCOUNT_ID, DEFAULT_REGION), *(g.scope for g in self.groups), *(a.scope for a in self.alarms)]))


def load_fleet(fleet: str | Path | Mapping, source: str | None = None) -> FleetSpec:
    """Read and validate a fleet spec from a file path or a dict; raise InvalidInput listing every problem."""
    if isinstance(fleet, Mapping):
        return parse_fleet(fleet, source or "fleet")
    return parse_fleet(read_yaml(fleet), source or str(fleet))


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
            if not is_number(rate) or rate <= 0:
                problems.append(Problem.expected(source, join_path("throttling", str(api)), "a number of requests per second > 0", rate))
            else:
                throttling[str(api)] = float(rate)

    offline_delivery = document.get("offline_delivery", OFFLINE_DELIVERY_TIMEOUT)
    if offline_delivery not in OFFLINE_DELIVERY_CHOICES:
        problems.append(Problem.expected(source, "offline_delivery", "one of " + ", ".join(OFFLINE_DELIVERY_CHOICES), offline_delivery))
        offline_delivery = OFFLINE_DELIVERY_TIMEOUT

    compliance_lag = document.get("compliance_lag_seconds", DEFAULT_COMPLIANCE_LAG_SECONDS)
    if not is_number(compliance_lag) or compliance_lag < 0:
        problems.append(Problem.expected(source, "compliance_lag_seconds", "a number of simulated seconds >= 0", compliance_lag))
        compliance_lag = DEFAULT_COMPLIANCE_LAG_SECONDS

    accounts = parse_accounts(document.get("accounts"), source, problems)
    book = AccountBook(accounts)

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
            group = _parse_group(raw, defaults, book, source, join_path("groups", index), problems)
            if group is not None:
                groups.append(group)
    total = sum(g.count for g in groups)
    if total > MAX_INSTANCES:
        problems.append(Problem.expected(source, "groups", f"at most {MAX_INSTANCES} instances in all ({CEILING_WHY})", total))
    # Patch groups are known only when every group was read; a bad group may be the one carrying the tag.
    every_group = groups if isinstance(groups_raw, list) and len(groups) == len(groups_raw) else None
    alarms = parse_alarms(document.get("alarms"), every_group, source, problems, book)
    if problems:
        raise InvalidInput(dict.fromkeys(problems))  # a bad default is found once per group, reported once
    return FleetSpec(source=source, groups=tuple(groups), seed=seed, throttling=throttling,
                     offline_delivery=offline_delivery, compliance_lag_seconds=float(compliance_lag), alarms=alarms,
                     accounts=with_aliases_resolved(accounts))


def parse_alarms(raw: Any, groups: list[GroupSpec] | None, source: str, problems: list[Problem],
                 book: AccountBook | None = None) -> tuple[AlarmSpec, ...]:
    """The `alarms` list; `groups` (None when some group could not be read) gives the patch groups `fires` may name.

    An alarm is in one account and Region, and its `fires` counts the patch group's instances there.
    """
    if raw is None:
        return ()
    if not isinstance(raw, list):
        problems.append(Problem.expected(source, "alarms", "a list of CloudWatch alarms", raw))
        return ()
    book = book or AccountBook(())
    # Messages name an alarm's account and Region only in a fleet that has more than one.
    scoped = bool(book.accounts) or any(g.scope != (DEFAULT_ACCOUNT_ID, DEFAULT_REGION) for g in groups or ()) or any(
        isinstance(item, Mapping) and ("account" in item or "region" in item) for item in raw)
    alarms: list[AlarmSpec] = []
    first_index: dict[tuple[str, str, str], int] = {}
    for index, item in enumerate(raw):
        path = join_path("alarms", index)
        if not isinstance(item, Mapping):
            problems.append(Problem.expected(source, path, "a mapping with a name", item))
            continue
        before = len(problems)
        problems += unknown_keys(source, path, item, ALARM_KEYS)
        account, region = parse_scope(item, lambda key: join_path(path, key), book, source, problems)
        where = f" in account {book.words(account)} and Region {region}" if scoped else ""
        name = item.get("name", MISSING)
        if not isinstance(name, str) or not 1 <= len(name) <= MAX_ALARM_NAME_LENGTH:
            problems.append(Problem.expected(source, join_path(path, "name"), f"an alarm name of 1-{MAX_ALARM_NAME_LENGTH} characters", name))
        elif (account, region, name) in first_index:
            problems.append(Problem.expected(source, join_path(path, "name"),
                                             f"a name no other alarm{where} has (alarms[{first_index[account, region, name]}] has it)", name))
        else:
            first_index[account, region, name] = index
        tags = parse_tags(item.get("tags"), lambda *more: join_path(path, "tags", *more), source, problems)
        state = item.get("state", DEFAULT_ALARM_STATE)
        if state not in ALARM_STATES:
            problems.append(Problem.expected(source, join_path(path, "state"), "one of " + ", ".join(ALARM_STATES), state))
        in_scope = None if groups is None else [g for g in groups if g.scope == (account, region)]
        fires = _parse_fires(item.get("fires"), in_scope, where, source, join_path(path, "fires"), problems)
        if len(problems) == before:
            alarms.append(AlarmSpec(name=name, tags=tags, state=state, fires=fires, account=account, region=region))
    return tuple(alarms)


def _parse_fires(raw: Any, groups: list[GroupSpec] | None, where: str, source: str, path: str, problems: list[Problem]) -> AlarmFires | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        problems.append(Problem.expected(source, path, "a mapping with patch and patch_group", raw))
        return None
    problems += unknown_keys(source, path, raw, FIRES_KEYS)
    patch = raw.get("patch", MISSING)
    if not isinstance(patch, str) or not patch:
        problems.append(Problem.expected(source, join_path(path, "patch"), "a patch id", patch))
    patch_group = raw.get("patch_group", MISSING)
    if not isinstance(patch_group, str) or not patch_group:
        problems.append(Problem.expected(source, join_path(path, "patch_group"), "a patch group name", patch_group))
    elif groups is not None:
        members = [g for g in groups if patch_group_of(g.tags) == patch_group]
        named = sorted({patch_group_of(g.tags) for g in groups} - {""})
        if not members:
            carried = f"one of {', '.join(named)}" if named else f"none: no group{' there' if where else ''} has a 'Patch Group' or 'PatchGroup' tag"
            problems.append(Problem.expected(
                source, join_path(path, "patch_group"), f"a patch group some group's 'Patch Group' or 'PatchGroup' tag names{where} ({carried})",
                patch_group))
        elif isinstance(patch, str) and patch:
            platforms = tuple(dict.fromkeys(g.platform for g in members))
            if patch not in catalog_ids(platforms):
                problems.append(Problem.expected(source, join_path(path, "patch"), catalog_words(platforms), patch))
    share = raw.get("share")
    if share is not None and (not is_number(share) or not 0 < share <= 1):
        problems.append(Problem.expected(source, join_path(path, "share"), "a number greater than 0 and at most 1", share))
    after_seconds = raw.get("after_seconds", 0)
    if not is_number(after_seconds) or after_seconds < 0:
        problems.append(Problem.expected(source, join_path(path, "after_seconds"), "a number of simulated seconds >= 0", after_seconds))
        after_seconds = 0
    return AlarmFires(patch=patch if isinstance(patch, str) else "", patch_group=patch_group if isinstance(patch_group, str) else "",
                      share=None if share is None or not is_number(share) else float(share), after_seconds=float(after_seconds))


def _parse_group(raw: Any, defaults: Mapping, book: AccountBook, source: str, path: str, problems: list[Problem]) -> GroupSpec | None:
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

    tags = parse_tags(values["tags"], lambda *more: at("tags", *more), source, problems)
    account, region = parse_scope(values, at, book, source, problems)

    ping = values["ping_status"]
    if ping not in PING_STATUSES:
        problems.append(Problem.expected(source, at("ping_status"), "one of " + ", ".join(PING_STATUSES), ping))

    shares = {
        key: read_share(values[key], at(key), source, problems)
        for key in ("missing_share", "not_applicable_share", "install_failure_probability", "reboot_share", "offline_mid_run_share")
    }

    per_patch_raw = values["patch_failure_probability"] or {}
    per_patch: dict[str, float] = {}
    if not isinstance(per_patch_raw, Mapping):
        problems.append(Problem.expected(source, at("patch_failure_probability"), "a mapping of patch id to a number from 0 to 1", per_patch_raw))
    else:
        for patch_id, probability in per_patch_raw.items():
            per_patch[str(patch_id)] = read_share(probability, at("patch_failure_probability", str(patch_id)), source, problems)

    seconds = values["execution_seconds"]
    execution = (0.0, 0.0)
    if (
        isinstance(seconds, list)
        and len(seconds) == 2
        and all(is_number(s) and s >= 0 for s in seconds)
        and seconds[0] <= seconds[1]
    ):
        execution = (float(seconds[0]), float(seconds[1]))
    elif is_number(seconds) and seconds >= 0:
        execution = (float(seconds), float(seconds))
    else:
        problems.append(Problem.expected(source, at("execution_seconds"), "[min, max] simulated seconds with 0 <= min <= max", seconds))

    reboot_seconds = values["reboot_seconds"]
    if not is_number(reboot_seconds) or reboot_seconds < 0:
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
            superseded[str(patch_id)] = read_share(share, at("superseded", str(patch_id)), source, problems)

    # Written on the group, a patch id must be one its platform has; from `defaults`, one any platform has.
    breaks_platforms = (platform,) if "breaks_service" in raw and platform is not None else tuple(dict.fromkeys(PLATFORMS.values()))
    breaks_service = patch_shares(values["breaks_service"], lambda *more: at("breaks_service", *more), breaks_platforms, source, problems)

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
        breaks_service=breaks_service,
        account=account,
        region=region,
    )
