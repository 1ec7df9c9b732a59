"""The editor schemas for rollout plans, baselines and membership files (include/schemas/) say what the loaders say.

The loaders stay the validation: they report every problem as `file: path: expected ..., got ...`
and check what a JSON Schema cannot (a cron's meaning, wave order, patch ids per operating system).
The schemas give editors completion, hover text and squiggles, so these tests keep them honest:
each is a valid Draft 2020-12 schema, every shipped file passes it, its keys and enums are the
loader's own constants, a default written out changes nothing, small documents get the same
verdict from both, and the bad-input corpus is split into what the schema refuses and what only
the loader can.
"""
from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator

from patchflow.core.baselines import (
    API_READ_ONLY,
    COMPLIANCE_LEVELS,
    FILTER_FIELDS,
    FILTER_KEYS_BY_OS,
    OPERATING_SYSTEMS,
    PREDEFINED_BASELINES,
    PREDEFINED_KEYS,
    REJECTED_PATCHES_ACTIONS,
    REQUIRED_SOURCE_KEYS,
    RULE_KEYS,
    SECURITY_UPDATE_STATUSES,
    SOURCE_KEYS,
    TOP_KEYS,
    parse_baseline,
)
from patchflow.core.errors import InvalidInput
from patchflow.core.groups import ASSIGNMENT_KEYS, MEMBERSHIP_KEYS, PATCH_GROUP_TAG_KEYS, parse_membership
from patchflow.core.health import ALARM_SELECTOR_KEYS, HEALTH_KEYS, INSUFFICIENT_DATA_CHOICES, VERIFY_KEYS
from patchflow.core.plan import (
    APPROVAL_KEYS,
    GATE_KEYS,
    NOTIFICATION_KEYS,
    NOTIFY_EVENTS,
    PER_STAGE_ONLY,
    PLAN_KEYS,
    REBOOT_OPTIONS,
    SCHEDULE_KEYS,
    STAGE_KEYS,
    STAGE_SCHEDULE_KEYS,
    WINDOW_KEYS,
    parse_plan,
)
from patchflow.core.scopes import ACCOUNT_KEYS, ACCOUNTS_KEYS, ORDERS, TARGET_KEYS

from tests.schema_reading import read_as_an_editor, read_schema, refused_at, undescribed, validator_for

PROJECT_ROOT = Path(__file__).resolve().parents[3]
CORPUS = Path(__file__).parent


PLAN_SCHEMA = read_schema("rollout-plan")
BASELINE_SCHEMA = read_schema("baseline")
MEMBERSHIP_SCHEMA = read_schema("membership")
PLAN_VALIDATOR = validator_for(PLAN_SCHEMA)
BASELINE_VALIDATOR = validator_for(BASELINE_SCHEMA)
MEMBERSHIP_VALIDATOR = validator_for(MEMBERSHIP_SCHEMA)
SCHEMA_NAMES = ["rollout-plan", "baseline", "membership"]


def loader_accepts(parse, document) -> bool:
    try:
        parse(copy.deepcopy(document), "document.yaml")
    except InvalidInput:
        return False
    return True


def resolved(root: dict, node: dict) -> dict:
    while "$ref" in node:
        node = root["$defs"][node["$ref"].removeprefix("#/$defs/")]
    return node


def object_in(root: dict, node: dict) -> dict | None:
    """The mapping schema a value's schema describes: through $refs, list items and anyOf branches."""
    node = resolved(root, node)
    if "properties" in node:
        return node
    if "items" in node:
        return object_in(root, node["items"])
    for branch in node.get("anyOf", ()):
        found = object_in(root, branch)
        if found is not None:
            return found
    return None


def mapping_at(root: dict, start: dict, *keys: str) -> dict:
    node = object_in(root, start)
    for key in keys:
        node = object_in(root, node["properties"][key])
    return node


# --------------------------------------------------------------------------- the schemas themselves


@pytest.mark.parametrize("name", SCHEMA_NAMES, ids=SCHEMA_NAMES)
def test_the_schema_is_a_valid_draft_2020_12_schema(name):
    schema = read_schema(name)
    Draft202012Validator.check_schema(schema)  # with its format checker, which also compiles every pattern
    assert (schema["$schema"], schema["$id"], bool(schema["title"]), bool(schema["description"])) == (
        "https://json-schema.org/draft/2020-12/schema", f"{name}.schema.json", True, True)


@pytest.mark.parametrize("name", SCHEMA_NAMES, ids=SCHEMA_NAMES)
def test_every_property_has_a_description_for_the_editor(name):
    assert undescribed(read_schema(name)) == []


# --------------------------------------------------------------------------- the shipped files

PLAN_FILES = sorted((PROJECT_ROOT / "include" / "rollouts").glob("*.y*ml"))
BASELINE_FILES = sorted(p for p in (PROJECT_ROOT / "include" / "baselines").iterdir() if p.suffix in (".yaml", ".yml", ".json"))
MEMBERSHIP_FILES = sorted((PROJECT_ROOT / "include" / "membership").glob("*.y*ml"))


def test_there_are_shipped_files_to_check():
    assert (len(PLAN_FILES) >= 2, len(BASELINE_FILES) >= 10, len(MEMBERSHIP_FILES) >= 1) == (True, True, True)


@pytest.mark.parametrize("path", PLAN_FILES, ids=[p.name for p in PLAN_FILES])
def test_every_shipped_plan_passes_the_schema(path):
    assert refused_at(PLAN_VALIDATOR, read_as_an_editor(path)) == []


@pytest.mark.parametrize("path", BASELINE_FILES, ids=[p.name for p in BASELINE_FILES])
def test_every_shipped_baseline_passes_the_schema(path):
    assert refused_at(BASELINE_VALIDATOR, read_as_an_editor(path)) == []


@pytest.mark.parametrize("path", MEMBERSHIP_FILES, ids=[p.name for p in MEMBERSHIP_FILES])
def test_every_shipped_membership_file_passes_the_schema(path):
    assert refused_at(MEMBERSHIP_VALIDATOR, read_as_an_editor(path)) == []


MODELINES = [(path, "rollout-plan") for path in PLAN_FILES] + [(path, "baseline") for path in BASELINE_FILES if path.suffix != ".json"] + [
    (path, "membership") for path in MEMBERSHIP_FILES]


@pytest.mark.parametrize("path, schema", MODELINES, ids=[f"{p.parent.name}/{p.name}" for p, _ in MODELINES])
def test_every_shipped_yaml_file_names_its_schema_on_its_first_line(path, schema):
    first_line = path.read_text(encoding="utf-8").splitlines()[0]
    assert first_line == f"# yaml-language-server: $schema=../schemas/{schema}.schema.json"


# --------------------------------------------------------------------------- the loaders' keys and vocabularies

SHARED_STAGE_KEYS = tuple(key for key in STAGE_KEYS if key not in PER_STAGE_ONLY)


@pytest.mark.parametrize(
    "keys, expected",
    [
        pytest.param((), PLAN_KEYS, id="plan"),
        pytest.param(("stages",), STAGE_KEYS, id="stage"),
        pytest.param(("defaults",), SHARED_STAGE_KEYS, id="defaults"),
        pytest.param(("stages", "gate"), GATE_KEYS, id="stage.gate"),
        pytest.param(("defaults", "gate"), GATE_KEYS, id="defaults.gate"),
        pytest.param(("stages", "approval"), APPROVAL_KEYS, id="stage.approval"),
        pytest.param(("defaults", "approval"), APPROVAL_KEYS, id="defaults.approval"),
        pytest.param(("stages", "window"), WINDOW_KEYS, id="stage.window"),
        pytest.param(("defaults", "window"), WINDOW_KEYS, id="defaults.window"),
        pytest.param(("notifications",), NOTIFICATION_KEYS, id="notifications"),
        pytest.param(("schedule",), SCHEDULE_KEYS, id="schedule"),
        pytest.param(("stages", "schedule"), STAGE_SCHEDULE_KEYS, id="stage.schedule"),
        pytest.param(("stages", "health"), HEALTH_KEYS, id="stage.health"),
        pytest.param(("defaults", "health"), HEALTH_KEYS, id="defaults.health"),
        pytest.param(("stages", "health", "alarms"), ALARM_SELECTOR_KEYS, id="stage.health.alarms"),
        pytest.param(("stages", "health", "verify"), VERIFY_KEYS, id="stage.health.verify"),
        pytest.param(("accounts",), ACCOUNTS_KEYS, id="accounts"),
        pytest.param(("accounts", "list"), ACCOUNT_KEYS, id="accounts.list"),
        pytest.param(("stages", "targets"), TARGET_KEYS, id="stage.targets"),
    ],
)
def test_the_plan_schema_has_exactly_the_loaders_keys(keys, expected):
    mapping = mapping_at(PLAN_SCHEMA, PLAN_SCHEMA, *keys)
    assert (sorted(mapping["properties"]), mapping["additionalProperties"]) == (sorted(expected), False)


def test_defaults_take_a_stages_shared_keys_exactly_as_a_stage_does():
    stage, defaults = mapping_at(PLAN_SCHEMA, PLAN_SCHEMA, "stages")["properties"], mapping_at(PLAN_SCHEMA, PLAN_SCHEMA, "defaults")["properties"]
    assert {key: defaults[key] for key in SHARED_STAGE_KEYS} == {key: stage[key] for key in SHARED_STAGE_KEYS}


@pytest.mark.parametrize(
    "keys, key, expected",
    [
        pytest.param(("stages",), "reboot_option", REBOOT_OPTIONS, id="reboot_option"),
        pytest.param(("stages",), "notify", NOTIFY_EVENTS, id="notify"),
        pytest.param(("stages", "health"), "insufficient_data", INSUFFICIENT_DATA_CHOICES, id="health.insufficient_data"),
        pytest.param(("stages",), "order", ORDERS, id="order"),
        pytest.param(("defaults",), "order", ORDERS, id="defaults.order"),
    ],
)
def test_the_plan_schema_offers_exactly_the_loaders_choices(keys, key, expected):
    node = mapping_at(PLAN_SCHEMA, PLAN_SCHEMA, *keys)["properties"][key]
    assert (node.get("items") or node)["enum"] == list(expected)


SPELLINGS = {name: BASELINE_SCHEMA["$defs"][name] for name in ("custom", "exported", "predefined")}


@pytest.mark.parametrize(
    "spelling, keys, expected",
    [
        pytest.param("custom", (), tuple(TOP_KEYS), id="snake_case"),
        pytest.param("exported", (), (*(api for api in TOP_KEYS.values() if api), *API_READ_ONLY), id="get-patch-baseline"),
        pytest.param("predefined", (), PREDEFINED_KEYS, id="predefined"),
        pytest.param("custom", ("approval_rules",), tuple(RULE_KEYS), id="snake_case-rule"),
        pytest.param("exported", ("ApprovalRules", "PatchRules"), tuple(RULE_KEYS.values()), id="get-patch-baseline-rule"),
        pytest.param("custom", ("global_filters",), tuple(FILTER_FIELDS), id="snake_case-filter"),
        pytest.param("custom", ("approval_rules", "patch_filters"), tuple(FILTER_FIELDS), id="snake_case-rule-filter"),
        pytest.param("exported", ("GlobalFilters", "PatchFilters"), tuple(FILTER_FIELDS.values()), id="get-patch-baseline-filter"),
        pytest.param("exported", ("ApprovalRules", "PatchRules", "PatchFilterGroup", "PatchFilters"), tuple(FILTER_FIELDS.values()),
                     id="get-patch-baseline-rule-filter"),
        pytest.param("custom", ("sources",), tuple(SOURCE_KEYS), id="snake_case-source"),
        pytest.param("exported", ("Sources",), tuple(SOURCE_KEYS.values()), id="get-patch-baseline-source"),
    ],
)
def test_the_baseline_schema_has_exactly_the_loaders_keys(spelling, keys, expected):
    mapping = mapping_at(BASELINE_SCHEMA, SPELLINGS[spelling], *keys)
    assert (sorted(mapping["properties"]), mapping["additionalProperties"]) == (sorted(expected), False)


@pytest.mark.parametrize("spelling, sources, spelled", [("custom", "sources", str), ("exported", "Sources", SOURCE_KEYS.get)],
                         ids=["snake_case", "get-patch-baseline"])
def test_a_source_requires_what_the_loader_requires(spelling, sources, spelled):
    assert mapping_at(BASELINE_SCHEMA, SPELLINGS[spelling], sources)["required"] == [spelled(key) for key in REQUIRED_SOURCE_KEYS]


@pytest.mark.parametrize(
    "spelling, keys, key, expected",
    [
        pytest.param("custom", (), "operating_system", OPERATING_SYSTEMS, id="operating_system"),
        pytest.param("exported", (), "OperatingSystem", OPERATING_SYSTEMS, id="OperatingSystem"),
        pytest.param("predefined", (), "operating_system", OPERATING_SYSTEMS, id="predefined-operating_system"),
        pytest.param("predefined", (), "predefined", tuple(PREDEFINED_BASELINES), id="predefined"),
        pytest.param("custom", (), "approved_patches_compliance_level", (*COMPLIANCE_LEVELS, None), id="approved_patches_compliance_level"),
        pytest.param("exported", (), "ApprovedPatchesComplianceLevel", (*COMPLIANCE_LEVELS, None), id="ApprovedPatchesComplianceLevel"),
        pytest.param("custom", ("approval_rules",), "compliance_level", (*COMPLIANCE_LEVELS, None), id="rule-compliance_level"),
        pytest.param("exported", ("ApprovalRules", "PatchRules"), "ComplianceLevel", (*COMPLIANCE_LEVELS, None), id="rule-ComplianceLevel"),
        pytest.param("custom", (), "rejected_patches_action", (*REJECTED_PATCHES_ACTIONS, None), id="rejected_patches_action"),
        pytest.param("exported", (), "RejectedPatchesAction", (*REJECTED_PATCHES_ACTIONS, None), id="RejectedPatchesAction"),
        pytest.param("custom", (), "available_security_updates_compliance_status", (*SECURITY_UPDATE_STATUSES, None),
                     id="available_security_updates_compliance_status"),
        pytest.param("exported", (), "AvailableSecurityUpdatesComplianceStatus", (*SECURITY_UPDATE_STATUSES, None),
                     id="AvailableSecurityUpdatesComplianceStatus"),
    ],
)
def test_the_baseline_schema_offers_exactly_the_loaders_choices(spelling, keys, key, expected):
    assert mapping_at(BASELINE_SCHEMA, SPELLINGS[spelling], *keys)["properties"][key]["enum"] == list(expected)


def test_a_predefined_baseline_names_the_operating_system_the_loader_knows_it_for():
    pinned = {
        branch["if"]["properties"]["predefined"]["const"]: branch["then"]["properties"]["operating_system"]["const"]
        for branch in SPELLINGS["predefined"]["allOf"]
    }
    assert pinned == PREDEFINED_BASELINES


@pytest.mark.parametrize(
    "keys, expected",
    [pytest.param((), MEMBERSHIP_KEYS, id="membership"), pytest.param(("assignments",), ASSIGNMENT_KEYS, id="assignment")],
)
def test_the_membership_schema_has_exactly_the_loaders_keys(keys, expected):
    mapping = mapping_at(MEMBERSHIP_SCHEMA, MEMBERSHIP_SCHEMA, *keys)
    assert (sorted(mapping["properties"]), mapping["additionalProperties"]) == (sorted(expected), False)


def test_the_membership_schema_offers_exactly_the_loaders_tag_keys():
    assert MEMBERSHIP_SCHEMA["properties"]["tag_key"]["enum"] == list(PATCH_GROUP_TAG_KEYS)


# --------------------------------------------------------------------------- defaults and verdicts shared with the loader

FIRST_CRON = "cron(0 2 ? * SUN *)"


def plan_document() -> dict:
    """A valid plan whose first stage leaves every optional key out (its last stage has an approval)."""
    return {"name": "schema-probe", "owner": "release-engineering",
            "stages": [{"name": "dev", "patch_group": "dev"}, {"name": "prod", "patch_group": "prod", "approval": True}]}


def with_accounts(plan: dict) -> dict:
    """The plan's accounts (two, dev and prod), written in when it has none."""
    return plan.setdefault("accounts", {"list": [{"id": "111111111111", "alias": "dev"}, {"id": "333333333333", "alias": "prod"}]})


def first_target(plan: dict) -> dict:
    """The first stage's target (dev in us-east-1), with the accounts it names."""
    with_accounts(plan)
    return plan["stages"][0].setdefault("targets", {"account": "dev", "regions": ["us-east-1"]})


# Where a key goes in plan_document(): the schema's property names leading there, and the mapping to write it in.
PLAN_PLACES = {
    "plan": ((), lambda plan: plan),
    "stage": (("stages",), lambda plan: plan["stages"][0]),
    "defaults": (("defaults",), lambda plan: plan.setdefault("defaults", {})),
    "gate": (("stages", "gate"), lambda plan: plan["stages"][0].setdefault("gate", {})),
    "approval": (("stages", "approval"), lambda plan: plan["stages"][0].setdefault("approval", {})),
    "window": (("stages", "window"), lambda plan: plan["stages"][0].setdefault("window", {"schedule": FIRST_CRON, "duration": 4})),
    "schedule": (("schedule",), lambda plan: plan.setdefault("schedule", {"cron": FIRST_CRON})),
    "notifications": (("notifications",), lambda plan: plan.setdefault("notifications", {})),
    "health": (("stages", "health"), lambda plan: plan["stages"][0].setdefault("health", {"alarms": [{"name": "storefront-dev-5xx"}]})),
    "verify": (("stages", "health", "verify"), lambda plan: plan["stages"][0].setdefault("health", {}).setdefault("verify", {"commands": ["true"]})),
    "selector": (("stages", "health", "alarms"), lambda plan: plan["stages"][0].setdefault("health", {}).setdefault("alarms", [{}])[0]),
    "accounts": (("accounts",), lambda plan: with_accounts(plan)),
    "account": (("accounts", "list"), lambda plan: with_accounts(plan)["list"][0]),
    "target": (("stages", "targets"), lambda plan: first_target(plan)),
}
PLAN_DEFAULTS = [
    pytest.param(place, key, schema["default"], id=f"{place}.{key}")
    for place, (keys, _) in PLAN_PLACES.items()
    for key, schema in mapping_at(PLAN_SCHEMA, PLAN_SCHEMA, *keys)["properties"].items()
    if "default" in schema
]


def test_the_plan_schema_documents_defaults():
    assert len(PLAN_DEFAULTS) >= 30


@pytest.mark.parametrize("place, key, default", PLAN_DEFAULTS)
def test_writing_out_a_plan_default_changes_nothing(place, key, default):
    locate = PLAN_PLACES[place][1]
    implicit = plan_document()
    locate(implicit)
    explicit = copy.deepcopy(implicit)
    locate(explicit)[key] = copy.deepcopy(default)
    assert parse_plan(explicit, "plan.yaml") == parse_plan(implicit, "plan.yaml")


def rule_for(operating_system: str | None, **more) -> dict:
    delay = {} if operating_system in ("UBUNTU", "DEBIAN", "RASPBIAN") else {"approve_after_days": 7}
    return {"patch_filters": {"PRODUCT": ["*"]}, **delay, **more}


def baseline_document() -> dict:
    return {"name": "schema-probe", "operating_system": "AMAZON_LINUX_2023", "approval_rules": [rule_for("AMAZON_LINUX_2023")]}


def exported_document() -> dict:
    return {"Name": "schema-probe", "OperatingSystem": "AMAZON_LINUX_2023", "ApprovalRules": {"PatchRules": [
        {"PatchFilterGroup": {"PatchFilters": [{"Key": "PRODUCT", "Values": ["*"]}]}, "ApproveAfterDays": 7}]}}


BASELINE_PLACES = {
    "snake_case": ("custom", (), baseline_document, lambda baseline: baseline),
    "snake_case-rule": ("custom", ("approval_rules",), baseline_document, lambda baseline: baseline["approval_rules"][0]),
    "get-patch-baseline": ("exported", (), exported_document, lambda baseline: baseline),
    "get-patch-baseline-rule": ("exported", ("ApprovalRules", "PatchRules"), exported_document,
                                lambda baseline: baseline["ApprovalRules"]["PatchRules"][0]),
    "predefined": ("predefined", (), lambda: {"predefined": "AWS-AmazonLinux2023DefaultPatchBaseline"}, lambda baseline: baseline),
}
BASELINE_DEFAULTS = [
    pytest.param(place, key, schema["default"], id=f"{place}.{key}")
    for place, (spelling, keys, _, _) in BASELINE_PLACES.items()
    for key, schema in mapping_at(BASELINE_SCHEMA, SPELLINGS[spelling], *keys)["properties"].items()
    if "default" in schema
]


def test_the_baseline_schema_documents_defaults():
    assert len(BASELINE_DEFAULTS) >= 20


@pytest.mark.parametrize("place, key, default", BASELINE_DEFAULTS)
def test_writing_out_a_baseline_default_changes_nothing(place, key, default):
    _, _, document, locate = BASELINE_PLACES[place]
    explicit = document()
    locate(explicit)[key] = copy.deepcopy(default)
    assert parse_baseline(explicit, "baseline.yaml") == parse_baseline(document(), "baseline.yaml")


@pytest.mark.parametrize(
    "place, key, value, verdict",
    [
        pytest.param("plan", "schedule", "manual", True, id="schedule-manual"),
        pytest.param("plan", "schedule", " None ", True, id="schedule-none-word"),
        pytest.param("plan", "schedule", "Manual", False, id="schedule-capitalised"),
        pytest.param("plan", "schedule", FIRST_CRON, False, id="schedule-cron-without-mapping"),
        pytest.param("schedule", "cron", "rate(1 day)", False, id="schedule-rate"),
        pytest.param("plan", "ledger", "file:///srv/ledger", True, id="ledger-file"),
        pytest.param("plan", "ledger", "https://example.com/ledger", False, id="ledger-https"),
        pytest.param("plan", "tags", [""], False, id="tags-empty-word"),
        pytest.param("plan", "owner", "   ", False, id="owner-blank"),
        pytest.param("notifications", "sns_topic_arn", "arn:aws-us-gov:sns:us-gov-west-1:123456789012:rollouts", True, id="sns-govcloud"),
        pytest.param("notifications", "sns_topic_arn", "arn:aws:sns:us-east-1:1234:rollouts", False, id="sns-short-account"),
        pytest.param("stage", "name", "Dev", False, id="stage-name-capital"),
        pytest.param("stage", "patch_group", "web servers", True, id="patch-group-with-space"),
        pytest.param("stage", "patch_group", "Prod:Ä=1", True, id="patch-group-non-ascii-letter"),
        pytest.param("stage", "patch_group", "dev ", False, id="patch-group-trailing-space"),
        pytest.param("stage", "patch_group", "x" * 257, False, id="patch-group-too-long"),
        pytest.param("stage", "scan_first", None, False, id="scan-first-null"),
        pytest.param("stage", "max_concurrency", " 10% ", True, id="concurrency-spaced-percent"),
        pytest.param("stage", "max_concurrency", "9999999", True, id="concurrency-seven-digits"),
        pytest.param("stage", "max_concurrency", 10_000_000, False, id="concurrency-eight-digits"),
        pytest.param("stage", "max_concurrency", "101%", False, id="concurrency-over-100-percent"),
        pytest.param("stage", "max_concurrency", True, False, id="concurrency-bool"),
        pytest.param("stage", "max_errors", 0, True, id="errors-zero"),
        pytest.param("stage", "max_errors", "05%", False, id="errors-leading-zero-percent"),
        pytest.param("stage", "waves", [1, "10%", "100%"], True, id="waves-canary"),
        pytest.param("stage", "waves", ["50%"], False, id="waves-not-reaching-100"),
        pytest.param("stage", "waves", "100%", False, id="waves-not-a-list"),
        pytest.param("stage", "soak", "5 m", True, id="soak-spaced-short"),
        pytest.param("stage", "soak", "pt30m", True, id="soak-lower-case-iso"),
        pytest.param("stage", "soak", "P1DT2H", True, id="soak-days-and-hours"),
        pytest.param("stage", "soak", "30S", False, id="soak-upper-case-short"),
        pytest.param("stage", "soak", "P1DT", False, id="soak-iso-ending-in-t"),
        pytest.param("stage", "soak", -1, False, id="soak-negative"),
        pytest.param("defaults", "min_bake", "3d", True, id="defaults-min-bake"),
        pytest.param("defaults", "max_age", "PT72H", True, id="defaults-max-age-iso"),
        pytest.param("defaults", "min_bake", "a week", False, id="defaults-min-bake-words"),
        pytest.param("defaults", "max_age", -1, False, id="defaults-max-age-negative"),
        pytest.param("stage", "gate", " NONE ", True, id="gate-none-word"),
        pytest.param("stage", "gate", "off", False, id="gate-off"),
        pytest.param("gate", "max_failed", "0100%", True, id="max-failed-leading-zeros"),
        pytest.param("gate", "max_failed", "10.5%", True, id="max-failed-fraction"),
        pytest.param("gate", "max_failed", "100.1%", False, id="max-failed-over-100-percent"),
        pytest.param("gate", "max_failed", None, False, id="max-failed-null"),
        pytest.param("gate", "max_pending_reboot", None, True, id="max-pending-reboot-null"),
        pytest.param("gate", "min_compliant_percent", True, False, id="min-compliant-bool"),
        pytest.param("stage", "approval", None, True, id="approval-null"),
        pytest.param("stage", "approval", "yes", False, id="approval-word"),
        pytest.param("approval", "timeout", "PT4H", True, id="approval-timeout-iso"),
        pytest.param("approval", "timeout", "soon", False, id="approval-timeout-word"),
        pytest.param("stage", "window", "none", True, id="window-none"),
        pytest.param("window", "schedule", "rate(7 days)", True, id="window-rate"),
        pytest.param("window", "schedule", "weekly", False, id="window-word"),
        pytest.param("window", "duration", " 24 ", True, id="window-duration-spaced-text"),
        pytest.param("window", "duration", "PT24H", True, id="window-duration-iso"),
        pytest.param("window", "duration", "25", False, id="window-duration-25-text"),
        pytest.param("window", "duration", 0, False, id="window-duration-zero"),
        pytest.param("window", "timezone", None, False, id="window-timezone-null"),
        pytest.param("stage", "window", {"ssm_window": "Weekly-Patch-Window"}, True, id="window-in-ssm-by-name"),
        pytest.param("stage", "window", {"ssm_window": "mw-0123456789abcdef0"}, True, id="window-in-ssm-by-id"),
        pytest.param("defaults", "window", {"ssm_window": "Weekly-Patch-Window"}, True, id="defaults-window-in-ssm"),
        pytest.param("stage", "window", {"ssm_window": "Weekly Patch Window"}, False, id="window-in-ssm-name-with-spaces"),
        pytest.param("stage", "window", {"ssm_window": "mw"}, False, id="window-in-ssm-name-too-short"),
        pytest.param("stage", "window", {"ssm_window": "w" * 129}, False, id="window-in-ssm-name-too-long"),
        pytest.param("stage", "window", {"ssm_window": "Weekly-Patch-Window\n"}, False, id="window-in-ssm-name-trailing-newline"),
        pytest.param("stage", "window", {"ssm_window": None}, False, id="window-in-ssm-null"),
        pytest.param("stage", "window", {"ssm_window": "Weekly-Patch-Window", "timezone": "UTC"}, False, id="window-in-ssm-beside-timezone"),
        pytest.param("window", "ssm_window", "Weekly-Patch-Window", False, id="window-in-ssm-beside-schedule"),
        pytest.param("stage", "notify", None, True, id="notify-null"),
        pytest.param("stage", "notify", "block", False, id="notify-not-a-list"),
        pytest.param("stage", "timeout_seconds", 29, False, id="timeout-below-30"),
        pytest.param("stage", "timeout_seconds", 2_592_000, True, id="timeout-30-days"),
        pytest.param("stage", "execution_timeout_seconds", 172_800, True, id="execution-timeout-2-days"),
        pytest.param("stage", "execution_timeout_seconds", 172_801, False, id="execution-timeout-over-2-days"),
        pytest.param("stage", "expected_min_targets", 100_000, True, id="expected-targets-most"),
        pytest.param("stage", "expected_min_targets", 100_001, False, id="expected-targets-too-many"),
        pytest.param("gate", "min_targets", 100_000, True, id="gate-min-targets-most"),
        pytest.param("gate", "min_targets", 100_001, False, id="gate-min-targets-too-many"),
        pytest.param("window", "duration", 24, True, id="window-duration-24"),
        pytest.param("window", "cutoff", 3, True, id="window-cutoff-below-duration"),
        pytest.param("defaults", "patch_group", "dev", False, id="defaults-patch-group"),
        pytest.param("stage", "schedule", {"cron": "cron(0 22 ? * TUE#2 *)"}, True, id="stage-schedule"),
        pytest.param("stage", "schedule", " none ", True, id="stage-schedule-none-word"),
        pytest.param("stage", "schedule", {"cron": "cron(0 22 ? * TUE#2 *)", "timezone": "UTC"}, False, id="stage-schedule-with-a-time-zone"),
        pytest.param("stage", "schedule", "cron(0 22 ? * TUE#2 *)", False, id="stage-schedule-cron-without-mapping"),
        pytest.param("stage", "schedule", {}, False, id="stage-schedule-without-cron"),
        pytest.param("defaults", "schedule", {"cron": "cron(0 22 ? * TUE#2 *)"}, False, id="defaults-schedule"),
        pytest.param("schedule", "late_start_limit", " 2h ", True, id="late-start-limit-spaced-short"),
        pytest.param("schedule", "late_start_limit", 3600, True, id="late-start-limit-seconds"),
        pytest.param("schedule", "late_start_limit", "later", False, id="late-start-limit-word"),
        pytest.param("schedule", "late_start_limit", 604_801, False, id="late-start-limit-over-7-days"),
        pytest.param("stage", "health", " NONE ", True, id="health-none-word"),
        pytest.param("stage", "health", "on", False, id="health-word"),
        pytest.param("stage", "health", {"verify": {"windows_commands": ["Get-Service W3SVC"]}}, True, id="health-verify-only"),
        pytest.param("stage", "health", {"alarms": None, "verify": {"commands": ["true"]}}, True, id="alarms-null-besides-verify"),
        pytest.param("health", "alarms", "storefront-prod-5xx", False, id="alarms-not-a-list"),
        pytest.param("health", "alarms", [{"name": "x"}] * 100, True, id="alarms-most"),
        pytest.param("health", "alarms", [{"name": "x"}] * 101, False, id="alarms-too-many"),
        pytest.param("health", "alarms", ["storefront-prod-5xx"], False, id="selector-not-a-mapping"),
        pytest.param("health", "alarms", [{}], False, id="selector-empty"),
        pytest.param("health", "alarms", [{"name": "a", "prefix": "b"}], False, id="selector-two-keys"),
        pytest.param("health", "insufficient_data", "allow", True, id="insufficient-data-allow"),
        pytest.param("health", "insufficient_data", "Allow", False, id="insufficient-data-capitalised"),
        pytest.param("health", "verify", "none", True, id="verify-none-word"),
        pytest.param("health", "verify", {"max_errors": "0"}, False, id="verify-without-commands"),
        pytest.param("selector", "name", "x" * 255, True, id="alarm-name-255"),
        pytest.param("selector", "name", "x" * 256, False, id="alarm-name-256"),
        pytest.param("selector", "name", "", False, id="alarm-name-empty"),
        pytest.param("selector", "name", "web\n", False, id="alarm-name-trailing-newline"),
        pytest.param("selector", "name", "Storefront Prod – 5xx ✓", True, id="alarm-name-spaces-and-unicode"),
        pytest.param("selector", "prefix", "storefront-", True, id="alarm-prefix"),
        pytest.param("selector", "prefix", 5, False, id="alarm-prefix-number"),
        pytest.param("selector", "tags", {"Application": "storefront", "Owner": ""}, True, id="tags-empty-value"),
        pytest.param("selector", "tags", {}, False, id="tags-empty"),
        pytest.param("selector", "tags", {"Tier": 1}, False, id="tag-value-number"),
        pytest.param("selector", "tags", {"k" * 128: "v"}, True, id="tag-key-128"),
        pytest.param("selector", "tags", {"k" * 129: "v"}, False, id="tag-key-129"),
        pytest.param("selector", "tags", {"Owner": "v" * 257}, False, id="tag-value-257"),
        pytest.param("selector", "tags", {f"k{n}": "v" for n in range(51)}, False, id="tags-51"),
        pytest.param("verify", "commands", [], False, id="commands-empty"),
        pytest.param("verify", "commands", ["  "], False, id="command-blank"),
        pytest.param("verify", "commands", None, False, id="commands-null"),
        pytest.param("verify", "windows_commands", ["Get-Service W3SVC"], True, id="windows-commands"),
        pytest.param("verify", "max_concurrency", "0%", False, id="verify-concurrency-zero-percent"),
        pytest.param("verify", "max_concurrency", 5, True, id="verify-concurrency-count"),
        pytest.param("verify", "max_errors", "-1", False, id="verify-errors-negative"),
        pytest.param("verify", "max_errors", 0, True, id="verify-errors-zero"),
        pytest.param("verify", "timeout_seconds", 30, True, id="verify-timeout-30"),
        pytest.param("verify", "timeout_seconds", 29, False, id="verify-timeout-29"),
        pytest.param("verify", "timeout_seconds", 3600, True, id="verify-timeout-3600"),
        pytest.param("verify", "timeout_seconds", 3601, False, id="verify-timeout-3601"),
        pytest.param("verify", "timeout_seconds", "300", False, id="verify-timeout-text"),
        pytest.param("plan", "accounts", None, True, id="accounts-null"),
        pytest.param("plan", "accounts", {"list": []}, False, id="accounts-list-empty"),
        pytest.param("plan", "accounts", {"role": "arn:aws:iam::{account}:role/x"}, False, id="accounts-without-list"),
        pytest.param("plan", "accounts", "../org", False, id="accounts-file-outside-the-folder"),
        pytest.param("accounts", "role", "arn:aws-us-gov:iam::{account}:role/ops/patchflow-target", True, id="role-govcloud-with-path"),
        pytest.param("accounts", "role", "arn:aws:iam::{account}:role/" + "r" * 64, True, id="role-name-64"),
        pytest.param("accounts", "role", "arn:aws:iam::{account}:role/" + "r" * 65, False, id="role-name-65"),
        pytest.param("accounts", "role", "arn:aws:iam::{account}:user/patchflow", False, id="role-a-user"),
        pytest.param("accounts", "role", "arn:aws:iam::{account}:role/patchflow-target\n", False, id="role-trailing-newline"),
        pytest.param("accounts", "external_id", "patchflow:prod/eu=1", True, id="external-id-punctuation"),
        pytest.param("accounts", "external_id", "x" * 1224, True, id="external-id-1224"),
        pytest.param("accounts", "external_id", "x" * 1225, False, id="external-id-1225"),
        pytest.param("accounts", "external_id", "patchflöw", False, id="external-id-non-ascii"),
        pytest.param("accounts", "external_id", 12345, False, id="external-id-number"),
        pytest.param("account", "id", "011111111111", True, id="id-leading-zero"),
        pytest.param("account", "id", 111111111111, False, id="id-unquoted"),
        pytest.param("account", "id", "11111111111", False, id="id-11-digits"),
        pytest.param("account", "alias", "prod-eu", True, id="alias"),
        pytest.param("account", "alias", "a" * 64, False, id="alias-64"),
        pytest.param("account", "alias", "-prod", False, id="alias-leading-hyphen"),
        pytest.param("account", "alias", "222222222222", False, id="alias-12-digits"),
        pytest.param("account", "connection", "aws_dev", True, id="connection"),
        pytest.param("account", "connection", "aws dev", False, id="connection-with-space"),
        pytest.param("account", "role", "arn:aws:iam::{account}:role/own", True, id="own-role"),
        pytest.param("account", "external_id", "own", True, id="own-external-id"),
        pytest.param("stage", "order", "one_at_a_time", True, id="order-one-at-a-time"),
        pytest.param("stage", "order", "serial", False, id="order-unknown"),
        pytest.param("defaults", "order", "one_at_a_time", True, id="defaults-order"),
        pytest.param("defaults", "targets", {"account": "dev", "regions": ["us-east-1"]}, False, id="defaults-targets"),
        pytest.param("stage", "targets", None, True, id="targets-null"),
        pytest.param("stage", "targets", [], False, id="targets-empty-list"),
        pytest.param("target", "account", "111111111111", True, id="target-account-by-id"),
        pytest.param("target", "regions", ["us-gov-west-1", "cn-north-1", "us-isob-east-1", "eu-central-1"], True, id="regions-partitions"),
        pytest.param("target", "regions", ["us-east-1", "us-east-1"], False, id="regions-twice"),
        pytest.param("target", "regions", ["us-east"], False, id="region-without-number"),
        pytest.param("target", "regions", ["US-EAST-1"], False, id="region-upper-case"),
        pytest.param("target", "regions", [], False, id="regions-empty"),
        pytest.param("target", "regions", "us-east-1", False, id="regions-not-a-list"),
        pytest.param("target", "colour", "red", False, id="target-unknown-key"),
    ],
)
def test_the_plan_schema_and_the_loader_agree_on(place, key, value, verdict):
    plan = plan_document()
    PLAN_PLACES[place][1](plan)[key] = value
    assert (PLAN_VALIDATOR.is_valid(plan), loader_accepts(parse_plan, plan)) == (verdict, verdict)


@pytest.mark.parametrize(
    "place, key, value, verdict",
    [
        pytest.param("snake_case", "approval_rules", None, False, id="rules-null-and-no-patches"),
        pytest.param("snake_case", "approved_patches", ["openssl"], True, id="approved-patches-besides-rules"),
        pytest.param("snake_case", "description", "", True, id="description-empty"),
        pytest.param("snake_case", "tags", {"Owner": ""}, True, id="tag-value-empty"),
        pytest.param("snake_case", "tags", {"AWS:owner": "me"}, False, id="tag-key-aws-prefix"),
        pytest.param("snake_case", "patch_groups", ["web servers", "prod:eu-1"], True, id="patch-groups-spaces-and-punctuation"),
        pytest.param("snake_case", "patch_groups", ["prod\t"], False, id="patch-group-tab"),
        pytest.param("snake_case", "global_filters", {}, True, id="global-filters-empty-mapping"),
        pytest.param("snake_case", "global_filters", None, True, id="global-filters-null"),
        pytest.param("snake_case-rule", "approve_until_date", "2026-11-30", False, id="days-and-until-date"),
        pytest.param("snake_case-rule", "patch_filters", None, True, id="rule-filters-null"),
        pytest.param("get-patch-baseline", "ApprovalRules", None, False, id="export-rules-null-and-no-patches"),
        pytest.param("get-patch-baseline", "ApprovalRules", {"PatchRules": []}, False, id="export-no-rules"),
        pytest.param("get-patch-baseline", "Description", None, True, id="export-description-null"),
        pytest.param("get-patch-baseline", "ResponseMetadata", {"RequestId": "x"}, True, id="export-response-metadata"),
        pytest.param("get-patch-baseline", "default_for_os", True, False, id="export-snake-case-key"),
        pytest.param("predefined", "operating_system", "AMAZON_LINUX_2023", True, id="predefined-own-os"),
        pytest.param("predefined", "operating_system", "WINDOWS", False, id="predefined-other-os"),
        pytest.param("predefined", "default_for_os", None, False, id="predefined-default-null"),
        pytest.param("predefined", "patch_groups", None, True, id="predefined-groups-null"),
    ],
)
def test_the_baseline_schema_and_the_loader_agree_on(place, key, value, verdict):
    _, _, document, locate = BASELINE_PLACES[place]
    baseline = document()
    locate(baseline)[key] = value
    assert (BASELINE_VALIDATOR.is_valid(baseline), loader_accepts(parse_baseline, baseline)) == (verdict, verdict)


def membership_document() -> dict:
    return {"assignments": [{"group": "dev", "tags": {"Environment": "dev"}}]}


def test_writing_out_the_membership_default_changes_nothing():
    explicit = {**membership_document(), "tag_key": MEMBERSHIP_SCHEMA["properties"]["tag_key"]["default"]}
    assert parse_membership(explicit, "membership.yaml") == parse_membership(membership_document(), "membership.yaml")


@pytest.mark.parametrize(
    "assignment, verdict",
    [
        pytest.param({"group": "dev", "tags": {"Environment": ["dev", "staging"]}}, True, id="tag-values-list"),
        pytest.param({"group": "dev", "tags": {"Environment": []}}, False, id="tag-values-empty-list"),
        pytest.param({"group": "dev", "tags": {}}, False, id="tags-empty"),
        pytest.param({"group": "dev", "tags": {"aws:cloudformation:stack-name": "web"}}, True, id="tag-key-aws-prefix-is-selectable"),
        pytest.param({"group": "dev", "instance_ids": ["i-0123456789abcdef0", "mi-01234567"]}, True, id="instance-ids"),
        pytest.param({"group": "dev", "instance_ids": ["i-0123456789ABCDEF0"]}, False, id="instance-id-upper-case"),
        pytest.param({"group": "dev", "tags": {"Environment": "dev"}, "instance_ids": ["i-0123456789abcdef0"]}, False, id="two-selectors"),
        pytest.param({"group": "dev"}, False, id="no-selector"),
        pytest.param({"group": " dev", "tags": {"Environment": "dev"}}, False, id="group-leading-space"),
        pytest.param({"group": None, "tags": {"Environment": "dev"}}, False, id="group-null"),
    ],
)
def test_the_membership_schema_and_the_loader_agree_on(assignment, verdict):
    membership = {"tag_key": "PatchGroup", "assignments": [assignment]}
    assert (MEMBERSHIP_VALIDATOR.is_valid(membership), loader_accepts(parse_membership, membership)) == (verdict, verdict)


FILTER_KEYS = sorted({key for table in FILTER_KEYS_BY_OS.values() for key in table}) + ["COLOUR"]
# Every value any operating system knows for a key, so each is tried on the systems that do not know it too.
FILTER_VALUES = {
    key: sorted({value for table in FILTER_KEYS_BY_OS.values() for value in (table.get(key) or ())}) + ["*", "Bogus"]
    for key in FILTER_KEYS
}


def filtered_baseline(operating_system: str, spelling: str, where: str, key: str, value: str) -> dict:
    """A valid baseline but for one filter, in one spelling, as a global filter or in the rule."""
    if spelling == "get-patch-baseline":
        filters = {"PatchFilters": [{"Key": key, "Values": [value]}]}
        rule = {"PatchFilterGroup": filters if where == "rule" else {"PatchFilters": []}}
        if operating_system not in ("UBUNTU", "DEBIAN", "RASPBIAN"):
            rule["ApproveAfterDays"] = 7
        return {"Name": "filter-probe", "OperatingSystem": operating_system, "ApprovalRules": {"PatchRules": [rule]},
                **({"GlobalFilters": filters} if where == "global" else {})}
    filters = {key: [value]} if spelling == "mapping" else [{"key": key, "values": [value]}]
    rule = rule_for(operating_system, **({"patch_filters": filters} if where == "rule" else {}))
    return {"name": "filter-probe", "operating_system": operating_system, "approval_rules": [rule],
            **({"global_filters": filters} if where == "global" else {})}


FILTER_CASES = [
    pytest.param(operating_system, spelling, where, id=f"{operating_system}-{spelling}-{where}")
    for operating_system in OPERATING_SYSTEMS
    for spelling in ("mapping", "list", "get-patch-baseline")
    for where in ("global", "rule")
]


@pytest.mark.parametrize("operating_system, spelling, where", FILTER_CASES)
def test_the_schema_takes_exactly_the_filter_keys_and_values_the_loader_takes(operating_system, spelling, where):
    probes = {(key, value): filtered_baseline(operating_system, spelling, where, key, value)
              for key in FILTER_KEYS for value in FILTER_VALUES[key]}
    by_schema = {probe: BASELINE_VALIDATOR.is_valid(document) for probe, document in probes.items()}
    by_loader = {probe: loader_accepts(parse_baseline, document) for probe, document in probes.items()}
    assert by_schema == by_loader
    assert any(by_loader.values()) and not all(by_loader.values())


def os_specific_fields(operating_system: str) -> dict[str, dict]:
    """Documents that each try one rule that depends on the operating system, in the snake_case spelling."""
    base = {"name": "os-probe", "operating_system": operating_system}
    without_delay = {"patch_filters": {"PRODUCT": ["*"]}}
    return {
        "days": {**base, "approval_rules": [{**without_delay, "approve_after_days": 7}]},
        "until-date": {**base, "approval_rules": [{**without_delay, "approve_until_date": "2026-11-30"}]},
        "days-and-until-date": {**base, "approval_rules": [{**without_delay, "approve_after_days": 7, "approve_until_date": "2026-11-30"}]},
        "no-delay": {**base, "approval_rules": [without_delay]},
        "rule-non-security": {**base, "approval_rules": [rule_for(operating_system, enable_non_security=True)]},
        "rule-non-security-false": {**base, "approval_rules": [rule_for(operating_system, enable_non_security=False)]},
        "approved-non-security": {**base, "approval_rules": [rule_for(operating_system)], "approved_patches_enable_non_security": True},
        "sources": {**base, "approval_rules": [rule_for(operating_system)],
                    "sources": [{"name": "internal", "products": ["Product"], "configuration": "[internal]"}]},
        "no-sources": {**base, "approval_rules": [rule_for(operating_system)], "sources": []},
        "security-status": {**base, "approval_rules": [rule_for(operating_system)], "available_security_updates_compliance_status": "COMPLIANT"},
    }


def exported(document: dict) -> dict:
    """The same document as get-patch-baseline prints it."""
    def spelled(rule: dict) -> dict:
        out = {RULE_KEYS[key]: value for key, value in rule.items() if key != "patch_filters"}
        out["PatchFilterGroup"] = {"PatchFilters": [{"Key": k, "Values": v} for k, v in rule["patch_filters"].items()]}
        return out

    out = {TOP_KEYS[key]: value for key, value in document.items() if key not in ("approval_rules", "sources")}
    out["ApprovalRules"] = {"PatchRules": [spelled(rule) for rule in document["approval_rules"]]}
    if "sources" in document:
        out["Sources"] = [{SOURCE_KEYS[key]: value for key, value in source.items()} for source in document["sources"]]
    return out


@pytest.mark.parametrize("spelling", ["snake_case", "get-patch-baseline"])
@pytest.mark.parametrize("operating_system", OPERATING_SYSTEMS)
def test_the_schema_and_the_loader_agree_on_what_depends_on_the_operating_system(operating_system, spelling):
    probes = os_specific_fields(operating_system)
    if spelling == "get-patch-baseline":
        probes = {name: exported(document) for name, document in probes.items()}
    by_schema = {name: BASELINE_VALIDATOR.is_valid(document) for name, document in probes.items()}
    by_loader = {name: loader_accepts(parse_baseline, document) for name, document in probes.items()}
    assert by_schema == by_loader


# --------------------------------------------------------------------------- the bad-input corpus

# Files whose problem a schema can state (a key, a type, a range, an enum, a pattern, a required
# key), with every place the schema objects to. The loader's own messages are in the .expected files.
STRUCTURAL_PLANS = {
    "accounts-alias-and-external-id-bad": ["$.accounts"],
    "accounts-connection-beside-role": ["$.accounts"],
    "accounts-id-not-quoted": ["$.accounts"],
    "accounts-role-bad": ["$.accounts"],
    "accounts-unknown-keys": ["$.accounts"],
    "allow-ungated-not-bool": ["$.stages[1].allow_ungated"],
    "empty-file": ["$"],
    "gate-values-bad": ["$.stages[0].gate"],
    "health-alarms-not-a-list": ["$.stages[2].health"],
    "health-insufficient-data-bad": ["$.stages[2].health"],
    "health-selector-two-keys": ["$.stages[2].health"],
    "health-tags-empty": ["$.stages[2].health"],
    "health-verify-max-errors-bad": ["$.stages[2].health"],
    "health-verify-no-commands": ["$.stages[2].health"],
    "health-verify-timeout-out-of-range": ["$.stages[2].health"],
    "health-verify-unknown-key": ["$.stages[2].health"],
    "ledger-bad-bucket": ["$.ledger"],
    "many-problems-at-once": ["$", "$.name", "$.stages[0]", "$.stages[0].reboot_option", "$.stages[0].timeout_seconds", "$.stages[1].soak", "$.tags"],
    "min-bake-not-a-duration": ["$.stages[1].min_bake"],
    "notifications-bad": ["$.notifications.slack_connection_id", "$.notifications.sns_topic_arn", "$.stages[0].notify[1]"],
    "patch-group-leading-space": ["$.stages[0].patch_group"],
    "pin-and-groups-bad": ["$.stages[2].patch_group"],
    "rate-control-bad": ["$.defaults.max_concurrency", "$.defaults.max_errors"],
    "schedule-bad-time-zone-hides-nothing": ["$.schedule"],
    "ssm-window-bad-name": ["$.stages[0].window", "$.stages[1].window"],
    "ssm-window-beside-schedule": ["$.stages[0].window"],
    "stages-not-mappings": ["$.stages[0]", "$.stages[1]", "$.stages[2]"],
    "targets-pinned-stage-in-two-regions": ["$.defaults.order"],
    "targets-regions-bad": ["$.stages[0].targets", "$.stages[1].targets", "$.stages[2].targets"],
    "targets-unknown-account": ["$.stages[1].targets", "$.stages[2].targets"],
    "targets-without-accounts": ["$.defaults"],
    "unknown-key-in-defaults": ["$.defaults", "$.stages[1].window"],
    "unknown-keys": ["$", "$.stages[0]"],
    "unknown-keys-nearest": ["$.stages[0]", "$.stages[0].window"],
    "window-bad-time-zone-hides-nothing": ["$.stages[1].window"],
    "window-whole-hours": ["$.stages[0].window"],
}
# Rules across values or files, and meanings: only the loader can check these, so the schema passes the file.
LOADER_ONLY_PLANS = [
    "accounts-file-missing", "accounts-listed-twice", "targets-patch-group-shared",
    "approval-timeout-too-long", "min-bake-on-unpinned-stage", "no-gate-anywhere", "pin-with-default-ledger", "pin-with-file-ledger",
    "prod-no-approval-no-gate", "prod-not-last-ungated", "schedule-airflow-cannot-run", "schedule-last-weekday",
]
# Not YAML an editor can read either.
UNREADABLE_PLANS = ["not-utf8", "yaml-bad-timestamp", "yaml-syntax-error"]

STRUCTURAL_BASELINES = {
    "approved-too-many": ["$.approved_patches"],
    "compliance-level-lowercase": ["$.approval_rules[0].compliance_level"],
    "days-and-until-date": ["$.approval_rules[0]"],
    "days-bool": ["$.approval_rules[0]", "$.approval_rules[0].approve_after_days"],
    "days-negative": ["$.approval_rules[0].approve_after_days"],
    "days-too-many": ["$.approval_rules[0].approve_after_days"],
    "days-word": ["$.approval_rules[0]", "$.approval_rules[0].approve_after_days"],
    "default-for-os-string": ["$.default_for_os"],
    "description-too-long": ["$.description"],
    "empty-file": ["$"],
    "empty-rules-and-patches": ["$"],
    "enable-non-security-on-windows": ["$.approval_rules[0].enable_non_security", "$.approved_patches_enable_non_security"],
    "enable-non-security-string": ["$.approval_rules[0].enable_non_security"],
    "export-bad-values.json": ["$.ApprovalRules.PatchRules[0].ApproveAfterDays", "$.ApprovalRules.PatchRules[0].PatchFilterGroup.PatchFilters"],
    "export-wrong-shapes.json": ["$", "$.ApprovalRules.PatchRules[0].PatchFilterGroup", "$.Tags[0]"],
    "filter-key-not-text-unknown-os": ["$.approval_rules[0].patch_filters", "$.operating_system"],
    "filter-key-not-text": ["$.approval_rules[0].patch_filters"],
    "filter-key-unknown": ["$.approval_rules[0].patch_filters"],
    "filter-key-wrong-os": ["$.approval_rules[0].patch_filters"],
    "filter-missing-values": ["$.approval_rules[0].patch_filters"],
    "filter-too-many-values": ["$.approval_rules[0].patch_filters"],
    "filter-value-too-long": ["$.approval_rules[0].patch_filters"],
    "filter-value-unknown": ["$.approval_rules[0].patch_filters"],
    "filter-values-empty": ["$.approval_rules[0].patch_filters"],
    "filter-values-not-list": ["$.approval_rules[0].patch_filters"],
    "filters-too-many": ["$.global_filters"],
    "many-problems-at-once": ["$.approval_rules[0]", "$.approval_rules[0].approve_after_days", "$.approval_rules[0].compliance_level",
                              "$.approval_rules[0].patch_filters", "$.approval_rules[1].approve_until_date", "$.approval_rules[1].patch_filters",
                              "$.name", "$.rejected_patches_action"],
    "name-missing": ["$"],
    "name-too-short": ["$.name"],
    "name-with-space": ["$.name"],
    "no-rules-no-patches": ["$"],
    "not-a-mapping": ["$"],
    "os-missing": ["$"],
    "os-unknown": ["$.operating_system"],
    "patch-group-leading-space": ["$.patch_groups[0]"],
    "patch-groups-bad": ["$.patch_groups", "$.patch_groups[2]", "$.patch_groups[3]"],
    "patch-id-too-long": ["$.approved_patches[0]"],
    "predefined-unknown": ["$.predefined"],
    "predefined-with-rules": ["$", "$.operating_system"],
    "rejected-action-unknown": ["$.rejected_patches_action"],
    "rule-missing-filters": ["$.approval_rules[0]"],
    "rule-without-date": ["$.approval_rules[0]"],
    "rules-too-many": ["$.approval_rules"],
    "security-status-on-linux": ["$.available_security_updates_compliance_status"],
    "security-status-unknown": ["$.available_security_updates_compliance_status"],
    "source-bad-fields": ["$.sources[0]", "$.sources[0].name", "$.sources[0].products"],
    "sources-on-windows": ["$.sources"],
    "sources-too-many": ["$.sources"],
    "tags-bad": ["$.tags", "$.tags.Owner"],
    "ubuntu-rule-with-days": ["$.approval_rules[0].approve_after_days"],
    "unknown-rule-key-typo": ["$.approval_rules[0]"],
    "unknown-top-key-typo": ["$"],
    "until-date-format": ["$.approval_rules[0].approve_until_date"],
    "until-date-impossible": ["$.approval_rules[0].approve_until_date"],
    "until-date-with-time": ["$.approval_rules[0].approve_until_date"],
    "windows-patch-id": ["$.rejected_patches[0]"],
}
# Patch ids per operating system and each filter key once: the loader's.
LOADER_ONLY_BASELINES = ["apt-patch-id-version", "filter-key-repeated", "yum-rejected-cve", "yum-two-wildcards"]
UNREADABLE_BASELINES = ["yaml-syntax"]


def corpus_file(folder: str, name: str) -> Path:
    return CORPUS / folder / (name if name.endswith(".json") else f"{name}.yaml")


def corpus_names(folder: str) -> list[str]:
    return sorted(p.name if p.suffix == ".json" else p.stem for p in (CORPUS / folder).iterdir() if p.suffix in (".yaml", ".json"))


@pytest.mark.parametrize(
    "folder, structural, loader_only, unreadable",
    [
        pytest.param("plans_invalid", STRUCTURAL_PLANS, LOADER_ONLY_PLANS, UNREADABLE_PLANS, id="plans"),
        pytest.param("baselines_invalid", STRUCTURAL_BASELINES, LOADER_ONLY_BASELINES, UNREADABLE_BASELINES, id="baselines"),
    ],
)
def test_every_corpus_file_is_sorted_into_exactly_one_table(folder, structural, loader_only, unreadable):
    assert (len(structural) >= 10, sorted([*structural, *loader_only, *unreadable])) == (True, corpus_names(folder))


@pytest.mark.parametrize("name, where", STRUCTURAL_PLANS.items(), ids=list(STRUCTURAL_PLANS))
def test_the_plan_schema_refuses_a_structurally_bad_plan_where_it_is_bad(name, where):
    assert refused_at(PLAN_VALIDATOR, read_as_an_editor(corpus_file("plans_invalid", name))) == where


@pytest.mark.parametrize("name, where", STRUCTURAL_BASELINES.items(), ids=list(STRUCTURAL_BASELINES))
def test_the_baseline_schema_refuses_a_structurally_bad_baseline_where_it_is_bad(name, where):
    assert refused_at(BASELINE_VALIDATOR, read_as_an_editor(corpus_file("baselines_invalid", name))) == where


LOADER_ONLY = [("plans_invalid", name, PLAN_VALIDATOR) for name in LOADER_ONLY_PLANS] + [
    ("baselines_invalid", name, BASELINE_VALIDATOR) for name in LOADER_ONLY_BASELINES]


@pytest.mark.parametrize("folder, name, validator", LOADER_ONLY, ids=[f"{folder}/{name}" for folder, name, _ in LOADER_ONLY])
def test_a_problem_only_the_loader_can_see_passes_the_schema(folder, name, validator):
    assert refused_at(validator, read_as_an_editor(corpus_file(folder, name))) == []


UNREADABLE = [("plans_invalid", name) for name in UNREADABLE_PLANS] + [("baselines_invalid", name) for name in UNREADABLE_BASELINES]


@pytest.mark.parametrize("folder, name", UNREADABLE, ids=[f"{folder}/{name}" for folder, name in UNREADABLE])
def test_a_file_no_editor_can_read_as_yaml_is_left_to_the_loader(folder, name):
    with pytest.raises((yaml.YAMLError, ValueError, AttributeError)):  # a bad byte is a UnicodeDecodeError, a ValueError
        read_as_an_editor(corpus_file(folder, name))
