"""Patch baselines as code: one file per baseline in include/baselines/.

Two spellings of the same thing are accepted and normalised into one frozen
`Baseline` before any logic runs:

* the project's YAML, snake_case keys mirroring CreatePatchBaseline plus
  `patch_groups` and `default_for_os`::

      name: prod-al2023
      operating_system: AMAZON_LINUX_2023
      description: Production, security fixes after two weeks
      global_filters: [{key: PRODUCT, values: [AmazonLinux2023]}]
      approval_rules:
        - patch_filters:                       # a list of {key, values}, or key: values
            CLASSIFICATION: [Security]
            SEVERITY: [Critical, Important]
          approve_after_days: 14               # or approve_until_date: 2026-11-30
          compliance_level: HIGH
          enable_non_security: false
      approved_patches: [openssl-libs]
      approved_patches_compliance_level: HIGH
      rejected_patches: [telnet*]
      rejected_patches_action: BLOCK
      sources: [{name: internal, products: [AmazonLinux2023], configuration: "[internal]..."}]
      tags: {Owner: platform}
      patch_groups: [prod]
      default_for_os: false

* the JSON `aws ssm get-patch-baseline` prints, as is (BaselineId,
  CreatedDate and ModifiedDate are ignored, PatchGroups becomes patch_groups).

A predefined AWS baseline is referenced, never copied::

      predefined: AWS-UbuntuDefaultPatchBaseline
      patch_groups: [legacy-ubuntu]

Every constraint of ssm-reference sections 1 and 6 is checked, each problem
reported as `file: path: expected ..., got ...`, all of them in one pass.
Pure: no boto3, no clock.

The service's rules are in patchflow.core.baseline_rules, the model and its
API shapes in patchflow.core.baseline_model, the readers of each field in
patchflow.core.baseline_fields; their names are importable from here too.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

# The keys of each spelling, the model and the service's vocabulary are importable from here as well.
from patchflow.core.baseline_fields import (  # noqa: F401
    API_READ_ONLY,
    FILTER_FIELDS,
    PREDEFINED_KEYS,
    REQUIRED_SOURCE_KEYS,
    RULE_KEYS,
    SOURCE_KEYS,
    TOP_KEYS,
    is_given,
    read_fields,
    read_filters,
    read_patch_groups,
    read_patch_list,
    read_rule,
    read_source,
    read_tags,
    unwrap,
)
from patchflow.core.baseline_model import ApprovalRule, Baseline, PatchFilter, PatchSource  # noqa: F401
from patchflow.core.baseline_rules import (  # noqa: F401
    APT_PRIORITIES,
    APT_SYSTEMS,
    COMPLIANCE_LEVELS,
    FILTER_KEYS_BY_OS,
    LINUX_SYSTEMS,
    MAX_FILTERS,
    MAX_PATCHES,
    MAX_PRODUCTS,
    MAX_RULES,
    MAX_SOURCES,
    MAX_TAGS,
    MAX_TEXT,
    MAX_VALUES,
    NAME,
    NAME_RULE,
    OPERATING_SYSTEMS,
    PREDEFINED_BASELINES,
    REJECTED_PATCHES_ACTIONS,
    SECURITY_UPDATE_STATUSES,
    YUM_CLASSIFICATIONS,
    YUM_SEVERITIES,
    YUM_SYSTEMS,
)
from patchflow.core.errors import MISSING, InvalidInput, Problem, join_path
from patchflow.core.validation import Findings, load_file, read_bool, read_choice, read_list, read_text


# --------------------------------------------------------------------------- one document


def parse_baseline(data: Any, source: str) -> Baseline:
    """Normalise one parsed document into a Baseline; raise InvalidInput listing every problem."""
    found = Findings(source)
    if data is None:
        found.expected_described("", "a mapping of baseline fields", "an empty document")
        raise InvalidInput(found.problems)
    if not isinstance(data, dict):
        found.expected("", "a mapping of baseline fields", data)
        raise InvalidInput(found.problems)
    if "predefined" in data:
        baseline = _parse_predefined(found, data)
    else:
        baseline = _parse_custom(found, data, api=_is_api_spelling(data))
    if found.problems or baseline is None:
        raise InvalidInput(found.problems)
    return baseline


def _is_api_spelling(data: Mapping) -> bool:
    """get-patch-baseline JSON is PascalCase; a stray capitalised key in YAML does not make it JSON."""
    upper = sum(1 for key in data if isinstance(key, str) and key[:1].isupper())
    return upper > len(data) - upper or (upper == len(data) - upper and "Name" in data)


def _parse_predefined(found: Findings, data: Mapping) -> Baseline | None:
    fields = read_fields(found, (data, ""), {key: None for key in PREDEFINED_KEYS}, False, "a mapping")
    name = fields["predefined"][0]
    operating_system = PREDEFINED_BASELINES.get(name) if isinstance(name, str) else None
    if operating_system is None:
        found.expected("predefined", f"the name of a predefined AWS baseline ({', '.join(PREDEFINED_BASELINES)})", name)
    if "operating_system" in fields and operating_system and fields["operating_system"][0] != operating_system:
        found.expected("operating_system", f"{operating_system} (the operating system of {name}) or nothing", fields["operating_system"][0])
    groups = read_patch_groups(found, fields["patch_groups"]) if "patch_groups" in fields else ()
    default = read_bool(found, fields["default_for_os"]) if "default_for_os" in fields else False
    if operating_system is None:
        return None
    return Baseline(
        name=name, operating_system=operating_system, patch_groups=groups, default_for_os=bool(default), predefined=True,
        source=found.source, paths={"name": "predefined", "patch_groups": "patch_groups", "default_for_os": "default_for_os"},
    )


def _parse_custom(found: Findings, data: Mapping, api: bool) -> Baseline | None:
    fields = read_fields(found, (data, ""), TOP_KEYS, api, "a mapping")

    def path(key: str) -> str:
        return TOP_KEYS[key] if api and TOP_KEYS[key] else key

    def given(key: str) -> bool:
        return is_given(fields, key)

    name = read_text(found, fields.get("name", (MISSING, path("name"))), NAME_RULE, NAME, low=3, high=128)
    operating_system = read_choice(found, fields.get("operating_system", (MISSING, path("operating_system"))), OPERATING_SYSTEMS)
    linux = operating_system in LINUX_SYSTEMS
    # An export of a baseline without a description may carry "", which means none.
    description = read_text(found, fields["description"], f"a description of 1-{MAX_TEXT} characters", high=MAX_TEXT) if given("description") and fields["description"][0] != "" else ""

    global_filters: tuple[PatchFilter, ...] = ()
    if given("global_filters"):
        entry = unwrap(found, fields["global_filters"], "PatchFilters") if api else fields["global_filters"]
        global_filters = read_filters(found, entry, operating_system, api) if entry else ()

    rules: list[ApprovalRule] = []
    if given("approval_rules"):
        entry = unwrap(found, fields["approval_rules"], "PatchRules") if api else fields["approval_rules"]
        for rule_entry in read_list(found, entry, "approval rules", MAX_RULES) if entry else ():
            rule = read_rule(found, rule_entry, operating_system, api)
            if rule:
                rules.append(rule)

    approved = read_patch_list(found, fields["approved_patches"], operating_system, rejected=False) if given("approved_patches") else ()
    rejected = read_patch_list(found, fields["rejected_patches"], operating_system, rejected=True) if given("rejected_patches") else ()
    approved_level = (
        read_choice(found, fields["approved_patches_compliance_level"], COMPLIANCE_LEVELS)
        if given("approved_patches_compliance_level") else "UNSPECIFIED"
    )
    approved_non_security = (
        read_bool(found, fields["approved_patches_enable_non_security"]) if given("approved_patches_enable_non_security") else False
    )
    rejected_action = (
        read_choice(found, fields["rejected_patches_action"], REJECTED_PATCHES_ACTIONS) if given("rejected_patches_action") else "ALLOW_AS_DEPENDENCY"
    )
    sources = []
    if given("sources"):
        for source_entry in read_list(found, fields["sources"], "patch sources", MAX_SOURCES):
            patch_source = read_source(found, source_entry, api)
            if patch_source:
                sources.append(patch_source)
    security_status = (
        read_choice(found, fields["available_security_updates_compliance_status"], SECURITY_UPDATE_STATUSES)
        if given("available_security_updates_compliance_status") else None
    )
    tags = read_tags(found, fields["tags"], api) if given("tags") else ()
    groups = read_patch_groups(found, fields["patch_groups"]) if given("patch_groups") else ()
    default = read_bool(found, fields["default_for_os"]) if given("default_for_os") else False

    if operating_system and not linux:
        # Exports of Windows baselines carry these as false/empty; only a real value is a mistake.
        if approved_non_security:
            found.expected(path("approved_patches_enable_non_security"), f"false or nothing (Linux only; this baseline is for {operating_system})", True)
        if given("sources") and fields["sources"][0]:
            found.expected(path("sources"), f"no sources (Linux only; this baseline is for {operating_system})", fields["sources"][0])
    if operating_system and operating_system != "WINDOWS" and security_status:
        found.expected(path("available_security_updates_compliance_status"), f"nothing (Windows only; this baseline is for {operating_system})", security_status)
    if not given("approval_rules") and not given("approved_patches"):
        found.expected(path("approval_rules"), f"approval rules or approved patches ({path('approved_patches')})", MISSING)
    elif not rules and not approved and not found.problems:
        found.add(path("approval_rules"), f"expected at least one approval rule or approved patch ({path('approved_patches')}), got none")

    if found.problems or name is None or operating_system is None:
        return None
    return Baseline(
        name=name,
        operating_system=operating_system,
        description=description or "",
        global_filters=global_filters,
        approval_rules=tuple(rules),
        approved_patches=approved,
        approved_patches_compliance_level=approved_level or "UNSPECIFIED",
        approved_patches_enable_non_security=bool(approved_non_security),
        rejected_patches=rejected,
        rejected_patches_action=rejected_action or "ALLOW_AS_DEPENDENCY",
        sources=tuple(sources),
        available_security_updates_compliance_status=security_status,
        tags=tags,
        patch_groups=groups,
        default_for_os=bool(default),
        source=found.source,
        paths={key: path(key) for key in ("name", "patch_groups", "default_for_os")},
    )


# --------------------------------------------------------------------------- files and sets of files

BASELINE_SUFFIXES = (".yaml", ".yml", ".json")


def load_baseline(path: str | Path) -> Baseline:
    """One baseline file, either spelling; raises InvalidInput naming the file."""
    return load_file(path, parse_baseline)


def baseline_files(directory_or_paths: str | Path | Iterable[str | Path]) -> list[Path]:
    """A directory means its *.yaml, *.yml and *.json files, sorted; files are taken as given."""
    entries = [directory_or_paths] if isinstance(directory_or_paths, (str, Path)) else list(directory_or_paths)
    files: list[Path] = []
    for entry in map(Path, entries):
        if entry.is_dir():
            files.extend(sorted(p for p in entry.iterdir() if p.is_file() and p.suffix in BASELINE_SUFFIXES))
        else:
            files.append(entry)
    return files


def load_baselines(directory_or_paths: str | Path | Iterable[str | Path]) -> list[Baseline]:
    """Every baseline, checked one by one and as a set; raises InvalidInput with every problem of every file."""
    baselines: list[Baseline] = []
    problems: list[Problem] = []
    for path in baseline_files(directory_or_paths):
        try:
            baselines.append(load_baseline(path))
        except InvalidInput as exc:
            problems.extend(exc.problems)
    problems.extend(check_baseline_set(baselines))
    if problems:
        raise InvalidInput(problems)
    return baselines


def check_baseline_set(baselines: Sequence[Baseline]) -> list[Problem]:
    """Rules across files: unique names, one baseline per patch group and OS, one default per OS.

    The first file (in the order given) keeps its claim; every later one is reported.
    """
    problems: list[Problem] = []
    names: dict[str, Baseline] = {}
    groups: dict[tuple[str, str], Baseline] = {}
    defaults: dict[str, Baseline] = {}
    for baseline in baselines:
        earlier = names.setdefault(baseline.name, baseline)
        if earlier is not baseline:
            problems.append(Problem.expected(
                baseline.source, baseline.path_of("name"), f"a baseline name no other file uses ({earlier.source} uses it)", baseline.name))
        for index, group in enumerate(baseline.patch_groups):
            earlier = groups.setdefault((group, baseline.operating_system), baseline)
            if earlier is not baseline:
                problems.append(Problem.expected(
                    baseline.source, join_path(baseline.path_of("patch_groups"), index),
                    f"a patch group with no other {baseline.operating_system} baseline ({earlier.source} is registered for it)", group))
        if baseline.default_for_os:
            earlier = defaults.setdefault(baseline.operating_system, baseline)
            if earlier is not baseline:
                problems.append(Problem.expected(
                    baseline.source, baseline.path_of("default_for_os"),
                    f"false (one default per operating system; {earlier.source} is the {baseline.operating_system} default)", True))
    return problems


def find_baseline(baselines: Iterable[Baseline], wanted: str) -> Baseline | None:
    """A baseline by name, or by its file's path or stem."""
    for baseline in baselines:
        if wanted in (baseline.name, baseline.source, Path(baseline.source).stem, Path(baseline.source).name):
            return baseline
    return None
