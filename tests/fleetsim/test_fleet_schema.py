"""The editor schema for fleet specs (include/schemas/fleet.schema.json) says what fleetsim's loader says.

fleetsim.spec stays the validation, with its one-line messages; the schema only gives editors
completion, hover text and squiggles. Like fleetsim itself, this test knows nothing of patchflow.
"""
from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator

from fleetsim.errors import InvalidInput
from fleetsim.spec import (
    ALARM_KEYS,
    ALARM_STATES,
    DEFAULT_ALARM_STATE,
    DEFAULT_COMPLIANCE_LAG_SECONDS,
    FIRES_KEYS,
    GROUP_DEFAULTS,
    GROUP_KEYS,
    MAX_ALARM_NAME_LENGTH,
    MAX_INSTANCES,
    OFFLINE_DELIVERY_CHOICES,
    OFFLINE_DELIVERY_TIMEOUT,
    PING_STATUSES,
    PLATFORMS,
    SUPERSEDED_PLATFORMS,
    TOP_LEVEL_KEYS,
    AlarmFires,
    load_fleet,
)

from tests.schema_reading import EditorYaml, read_as_an_editor, read_schema, undescribed, validator_for
from tests.schema_reading import refused_at as schema_refused_at

PROJECT_ROOT = Path(__file__).resolve().parents[2]
FLEETS = PROJECT_ROOT / "include" / "fleets"
INVALID = Path(__file__).parent / "specs_invalid"


SCHEMA = read_schema("fleet")
VALIDATOR = validator_for(SCHEMA)
TOP = SCHEMA["properties"]
GROUP = TOP["groups"]["items"]
ALARM = TOP["alarms"]["items"]
FIRES = ALARM["properties"]["fires"]


def refused_at(document) -> list[str]:
    """Where the schema finds a problem, as JSON paths ($.groups[0].count)."""
    return schema_refused_at(VALIDATOR, document)


def loader_accepts(document) -> bool:
    try:
        load_fleet(copy.deepcopy(document), "fleet.yaml")
    except InvalidInput:
        return False
    return True


def test_the_schema_is_a_valid_draft_2020_12_schema():
    Draft202012Validator.check_schema(SCHEMA)  # with its format checker, which also compiles every pattern
    assert (SCHEMA["$schema"], SCHEMA["$id"], bool(SCHEMA["title"]), bool(SCHEMA["description"])) == (
        "https://json-schema.org/draft/2020-12/schema", "fleet.schema.json", True, True)


def test_every_property_has_a_description_for_the_editor():
    assert undescribed(SCHEMA) == []


FLEET_FILES = sorted(FLEETS.glob("*.y*ml"))


def test_there_are_shipped_fleets_to_check():
    assert len(FLEET_FILES) >= 3


@pytest.mark.parametrize("path", FLEET_FILES, ids=[p.name for p in FLEET_FILES])
def test_every_shipped_fleet_passes_the_schema(path):
    assert refused_at(read_as_an_editor(path)) == []


@pytest.mark.parametrize("path", FLEET_FILES, ids=[p.name for p in FLEET_FILES])
def test_every_shipped_fleet_names_its_schema_on_its_first_line(path):
    assert path.read_text(encoding="utf-8").splitlines()[0] == "# yaml-language-server: $schema=../schemas/fleet.schema.json"


def test_the_readme_example_passes_the_schema():
    text = (PROJECT_ROOT / "fleetsim" / "README.md").read_text(encoding="utf-8")
    example = text.split("## Fleet spec", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    assert refused_at(yaml.load(example, Loader=EditorYaml)) == []


# --------------------------------------------------------------------------- the loader's keys, choices and defaults


@pytest.mark.parametrize(
    "mapping, expected",
    [
        pytest.param(SCHEMA, TOP_LEVEL_KEYS, id="top-level"),
        pytest.param(GROUP, GROUP_KEYS, id="group"),
        pytest.param(TOP["defaults"], tuple(GROUP_DEFAULTS), id="defaults"),
        pytest.param(ALARM, ALARM_KEYS, id="alarm"),
        pytest.param(FIRES, FIRES_KEYS, id="alarm-fires"),
    ],
)
def test_the_schema_has_exactly_the_loaders_keys(mapping, expected):
    assert (sorted(mapping["properties"]), mapping["additionalProperties"]) == (sorted(expected), False)


def test_defaults_take_a_groups_keys_exactly_as_a_group_does():
    assert TOP["defaults"]["properties"] == {key: GROUP["properties"][key] for key in GROUP_DEFAULTS}


def at(*keys: str):
    """The part of the schema these keys lead to, or None when it is missing."""
    node = SCHEMA
    for key in keys:
        node = node.get(key) if isinstance(node, dict) else None
    return node


GROUP_AT = ("properties", "groups", "items")
ALARM_AT = ("properties", "alarms", "items")


@pytest.mark.parametrize(
    "keys, expected",
    [
        pytest.param((*GROUP_AT, "properties", "platform", "enum"), list(PLATFORMS), id="platform"),
        pytest.param((*GROUP_AT, "properties", "ping_status", "enum"), list(PING_STATUSES), id="ping_status"),
        pytest.param(("properties", "offline_delivery", "enum"), list(OFFLINE_DELIVERY_CHOICES), id="offline_delivery"),
        pytest.param((*GROUP_AT, "properties", "count", "maximum"), MAX_INSTANCES, id="count-maximum"),
        pytest.param((*GROUP_AT, "if", "properties", "platform", "enum"),
                     [alias for alias, platform in PLATFORMS.items() if platform not in SUPERSEDED_PLATFORMS], id="platforms-without-superseded"),
        pytest.param((*ALARM_AT, "properties", "state", "enum"), list(ALARM_STATES), id="alarm-state"),
        pytest.param((*ALARM_AT, "properties", "name", "maxLength"), MAX_ALARM_NAME_LENGTH, id="alarm-name-maximum"),
    ],
)
def test_the_schema_offers_exactly_the_loaders_choices(keys, expected):
    assert at(*keys) == expected


@pytest.mark.parametrize(
    "keys, expected",
    [
        *(pytest.param((*GROUP_AT, "properties", key, "default"), value, id=f"group.{key}") for key, value in GROUP_DEFAULTS.items()),
        pytest.param(("properties", "offline_delivery", "default"), OFFLINE_DELIVERY_TIMEOUT, id="offline_delivery"),
        pytest.param(("properties", "compliance_lag_seconds", "default"), DEFAULT_COMPLIANCE_LAG_SECONDS, id="compliance_lag_seconds"),
        pytest.param((*ALARM_AT, "properties", "state", "default"), DEFAULT_ALARM_STATE, id="alarm-state"),
        pytest.param((*ALARM_AT, "properties", "fires", "properties", "after_seconds", "default"), AlarmFires("p", "g").after_seconds,
                     id="alarm-fires-after-seconds"),
    ],
)
def test_the_schema_documents_the_loaders_defaults(keys, expected):
    assert at(*keys) == expected


def fleet_document() -> dict:
    return {"groups": [{"count": 2, "platform": "AMAZON_LINUX_2023", "tags": {"Patch Group": "dev"}}]}


PLACES = {"fleet": lambda fleet: fleet, "defaults": lambda fleet: fleet.setdefault("defaults", {}), "group": lambda fleet: fleet["groups"][0]}
DEFAULTS = [
    pytest.param(place, key, schema["default"], id=f"{place}.{key}")
    for place, mapping in (("fleet", SCHEMA), ("defaults", TOP["defaults"]), ("group", GROUP))
    for key, schema in mapping["properties"].items()
    if "default" in schema and not (place == "group" and key == "tags")  # the probe's group has tags of its own
]


@pytest.mark.parametrize("place, key, default", DEFAULTS)
def test_writing_out_a_default_changes_nothing(place, key, default):
    implicit = fleet_document()
    PLACES[place](implicit)
    explicit = copy.deepcopy(implicit)
    PLACES[place](explicit)[key] = copy.deepcopy(default)
    assert load_fleet(explicit, "fleet.yaml") == load_fleet(implicit, "fleet.yaml")


@pytest.mark.parametrize(
    "place, key, value, verdict",
    [
        pytest.param("fleet", "seed", None, True, id="seed-null"),
        pytest.param("fleet", "seed", 7.5, False, id="seed-fraction"),
        pytest.param("fleet", "throttling", None, True, id="throttling-null"),
        pytest.param("fleet", "throttling", {"*": 0.5}, True, id="throttling-fraction"),
        pytest.param("fleet", "compliance_lag_seconds", 0, True, id="compliance-lag-zero"),
        pytest.param("fleet", "defaults", None, True, id="defaults-null"),
        pytest.param("defaults", "count", 3, False, id="defaults-count"),
        pytest.param("group", "count", MAX_INSTANCES, True, id="count-most"),
        pytest.param("group", "count", MAX_INSTANCES + 1, False, id="count-too-many"),
        pytest.param("group", "platform", "windows-2022", True, id="platform-alias"),
        pytest.param("group", "name", None, False, id="name-null"),
        pytest.param("group", "tags", None, True, id="tags-null"),
        pytest.param("group", "tags", {"Cost Centre": 4711}, True, id="tag-value-number"),
        pytest.param("group", "tags", {"x" * 129: "v"}, False, id="tag-key-too-long"),
        pytest.param("group", "tags", {"Owner": "x" * 257}, False, id="tag-value-too-long"),
        pytest.param("group", "missing_share", 1, True, id="share-one"),
        pytest.param("group", "missing_share", True, False, id="share-bool"),
        pytest.param("group", "execution_seconds", 90, True, id="execution-one-number"),
        pytest.param("group", "execution_seconds", [60], False, id="execution-one-item-list"),
        pytest.param("group", "reboot_seconds", 0, True, id="reboot-zero"),
        pytest.param("group", "patch_failure_probability", None, True, id="patch-failures-null"),
        pytest.param("group", "superseded", {"openssl.x86_64": 0.5}, True, id="superseded-on-linux"),
        pytest.param("group", "breaks_service", {"openssh-server.x86_64": 1}, True, id="breaks-service-all"),
        pytest.param("group", "breaks_service", {"openssh-server.x86_64": True}, False, id="breaks-service-bool"),
        pytest.param("group", "breaks_service", None, True, id="breaks-service-null"),
        pytest.param("fleet", "alarms", None, True, id="alarms-null"),
        pytest.param("fleet", "alarms", [{"name": "x" * MAX_ALARM_NAME_LENGTH}], True, id="alarm-name-longest"),
        pytest.param("fleet", "alarms", [{"name": "x" * (MAX_ALARM_NAME_LENGTH + 1)}], False, id="alarm-name-too-long"),
        pytest.param("fleet", "alarms", [{"name": "a", "tags": {"Environment": "dev"}, "state": "INSUFFICIENT_DATA", "fires": None}], True,
                     id="alarm-without-fires"),
        pytest.param("fleet", "alarms", [{"name": "a", "state": "ok"}], False, id="alarm-state-lower-case"),
        pytest.param("fleet", "alarms", [{"name": "a", "fires": {"patch": "openssh-server.x86_64", "patch_group": "dev", "share": 1,
                                                                 "after_seconds": 0}}], True, id="fires-whole-group-at-once"),
        pytest.param("fleet", "alarms", [{"name": "a", "fires": {"patch": "openssh-server.x86_64", "patch_group": "dev", "share": None}}], True,
                     id="fires-share-null"),
        pytest.param("fleet", "alarms", [{"name": "a", "fires": {"patch": "openssh-server.x86_64", "patch_group": "dev", "share": 0}}], False,
                     id="fires-share-zero"),
        pytest.param("fleet", "alarms", [{"name": "a", "fires": {"patch": "openssh-server.x86_64"}}], False, id="fires-without-patch-group"),
    ],
)
def test_the_schema_and_the_loader_agree_on(place, key, value, verdict):
    fleet = fleet_document()
    PLACES[place](fleet)[key] = value
    assert (VALIDATOR.is_valid(fleet), loader_accepts(fleet)) == (verdict, verdict)


@pytest.mark.parametrize("platform", list(PLATFORMS))
def test_the_schema_and_the_loader_agree_on_where_superseded_patches_exist(platform):
    fleet = {"groups": [{"count": 1, "platform": platform, "superseded": {"kernel.x86_64": 0.5}}]}
    assert VALIDATOR.is_valid(fleet) == loader_accepts(fleet) == (PLATFORMS[platform] in SUPERSEDED_PLATFORMS)


# --------------------------------------------------------------------------- the bad-input corpus

# Files whose problem a schema can state (a key, a type, a range, an enum, a required key), with
# every place the schema objects to; fleetsim's own messages are in the .expected files.
STRUCTURAL = {
    "compliance-lag-bad": ["$.compliance_lag_seconds"],
    "compliance-lag-not-number": ["$.compliance_lag_seconds"],
    "count-bad": ["$.groups[0].count", "$.groups[1].count", "$.groups[2].count", "$.groups[3].count", "$.groups[4]"],
    "defaults-bad": ["$.defaults", "$.defaults.missing_share", "$.groups[2].missing_share"],
    "empty-file": ["$"],
    "execution-seconds-bad": ["$.groups[1].execution_seconds", "$.groups[2].execution_seconds", "$.groups[3].execution_seconds"],
    "group-not-mapping": ["$.groups[0]", "$.groups[1]"],
    "groups-empty": ["$.groups"],
    "groups-missing": ["$"],
    "not-a-mapping": ["$"],
    "offline-delivery-unknown": ["$.offline_delivery"],
    "patch-failure-probability-bad": ["$.groups[0].patch_failure_probability", "$.groups[1].patch_failure_probability.KB5044281",
                                      "$.groups[1].patch_failure_probability.KB5044282"],
    "ping-status-unknown": ["$.groups[0].ping_status"],
    "platform-unknown": ["$.groups[0].platform", "$.groups[1].platform", "$.groups[2]"],
    "reboot-seconds-bad": ["$.groups[0].reboot_seconds", "$.groups[1].name", "$.groups[1].reboot_seconds"],
    "seed-not-integer": ["$.seed"],
    "shares-out-of-range": ["$.groups[0].install_failure_probability", "$.groups[0].missing_share", "$.groups[0].not_applicable_share",
                            "$.groups[0].offline_mid_run_share"],
    "superseded-bad": ["$.groups[0].superseded['kernel.x86_64']", "$.groups[0].superseded['openssl-libs.x86_64']", "$.groups[1].superseded",
                       "$.groups[2].superseded"],
    "tags-bad": ["$.groups[0].tags", "$.groups[0].tags.Owner", "$.groups[0].tags['Patch Group']"],
    "throttling-bad": ["$.throttling.ListCommandInvocations", "$.throttling.SendCommand", "$.throttling['*']"],
    "throttling-not-mapping": ["$.throttling"],
    "unknown-keys": ["$", "$.groups[0]"],
    "alarms-not-list": ["$.alarms"],
    "alarms-bad": ["$.alarms[0]", "$.alarms[1].name", "$.alarms[2].name", "$.alarms[3]", "$.alarms[3].state", "$.alarms[4].tags", "$.alarms[5]",
                   "$.alarms[6].fires", "$.alarms[7].name"],
    "alarm-fires-bad": ["$.alarms[0].fires.after_seconds", "$.alarms[0].fires.share", "$.alarms[1].fires.after_seconds", "$.alarms[1].fires.share",
                        "$.alarms[2].fires", "$.alarms[3].fires.patch", "$.alarms[3].fires.patch_group"],
    # the catalog ids are the loader's
    "breaks-service-bad": ["$.groups[0].breaks_service", "$.groups[1].breaks_service.openssl", "$.groups[2].breaks_service.KB5044224"],
    # unique ids and which aliases and trusted accounts exist are the loader's
    "accounts-bad": ["$.accounts[0].alias", "$.accounts[0].id", "$.accounts[1]", "$.accounts[2].roles", "$.accounts[3].roles[0].name",
                     "$.accounts[3].roles[0].trusted_accounts", "$.accounts[3].roles[1]", "$.accounts[3].roles[1].external_id", "$.accounts[4]"],
}
# min <= max, the fleet's total size, unique alarm names, patch groups and catalog ids, the accounts, aliases and
# Regions that exist are the loader's; a schema's number takes infinity too.
LOADER_ONLY = ["execution-seconds-infinite", "too-many-instances", "alarm-fires-not-in-fleet", "alarm-names-duplicate", "scopes-not-in-fleet",
               "alarm-fires-other-region"]
# Not YAML an editor can read either.
UNREADABLE = ["deep-nesting", "yaml-syntax-error"]


def test_every_corpus_file_is_sorted_into_exactly_one_table():
    corpus = sorted(p.stem for p in INVALID.glob("*.yaml"))
    assert (len(STRUCTURAL) >= 10, sorted([*STRUCTURAL, *LOADER_ONLY, *UNREADABLE])) == (True, corpus)


@pytest.mark.parametrize("name, where", STRUCTURAL.items(), ids=list(STRUCTURAL))
def test_the_schema_refuses_a_structurally_bad_spec_where_it_is_bad(name, where):
    assert refused_at(read_as_an_editor(INVALID / f"{name}.yaml")) == where


@pytest.mark.parametrize("name", LOADER_ONLY)
def test_a_problem_only_the_loader_can_see_passes_the_schema(name):
    assert refused_at(read_as_an_editor(INVALID / f"{name}.yaml")) == []


@pytest.mark.parametrize("name", UNREADABLE)
def test_a_file_no_editor_can_read_as_yaml_is_left_to_the_loader(name):
    with pytest.raises((yaml.YAMLError, RecursionError)):
        read_as_an_editor(INVALID / f"{name}.yaml")
