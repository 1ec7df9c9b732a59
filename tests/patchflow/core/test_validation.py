"""The validation layer: each reader's accepted values and its whole message, as tables."""
from __future__ import annotations

import math
import re
from datetime import date, datetime

import pytest

from patchflow.core.errors import MISSING, InvalidInput, Problem
from patchflow.core.validation import (
    PATCH_GROUP_RULE,
    Findings,
    is_patch_group,
    load_file,
    located,
    nearest_key,
    read_bool,
    read_choice,
    read_int,
    read_keys,
    read_list,
    read_mapping,
    read_number,
    read_patch_group,
    read_text,
    read_with,
)

SOURCE = "x.yaml"


def read(reader, value, *args, **kwargs):
    """(what the reader returned, every problem line) for one value read at path `v`."""
    found = Findings(SOURCE)
    result = reader(found, (value, "v"), *args, **kwargs)
    return result, [str(p) for p in found.problems]


def refused(message: str) -> tuple[None, list[str]]:
    return None, [f"{SOURCE}: v: {message}"]


# --------------------------------------------------------------------------- Findings


def test_a_problem_found_twice_is_reported_once():
    found = Findings(SOURCE)
    for _ in range(3):
        found.add("defaults.soak", "expected a duration like 30s, got 'later'")
    found.add("stages[0].soak", "expected a duration like 30s, got 'later'")
    assert [str(p) for p in found.problems] == [
        "x.yaml: defaults.soak: expected a duration like 30s, got 'later'",
        "x.yaml: stages[0].soak: expected a duration like 30s, got 'later'",
    ]


@pytest.mark.parametrize(
    ("got", "shown"),
    [
        pytest.param(date(2026, 11, 30), "'2026-11-30'", id="yaml-date-as-written"),
        pytest.param(datetime(2026, 11, 30, 12, 0), "'2026-11-30T12:00:00'", id="yaml-timestamp-as-written"),
        pytest.param(MISSING, "nothing", id="missing"),
        pytest.param([1, 2], "a list", id="list"),
    ],
)
def test_expected_shows_what_was_found(got, shown):
    found = Findings(SOURCE)
    found.expected("name", "a name", got)
    assert [str(p) for p in found.problems] == [f"x.yaml: name: expected a name, got {shown}"]


def test_expected_described_tells_rather_than_shows():
    found = Findings(SOURCE)
    found.expected_described("approved_patches", "a list of 0-50 patch ids", "51 items")
    assert [str(p) for p in found.problems] == ["x.yaml: approved_patches: expected a list of 0-50 patch ids, got 51 items"]


# --------------------------------------------------------------------------- keys

KEYS = ("schedule", "timezone", "duration", "cutoff")


@pytest.mark.parametrize(
    ("mapping", "known", "ignored", "result", "problems"),
    [
        pytest.param({"cutoff": 1, "schedule": "s"}, KEYS, (), {"cutoff": (1, "w.cutoff"), "schedule": ("s", "w.schedule")}, [], id="known-keys"),
        pytest.param({"shedule": "s"}, KEYS, (), {}, ["x.yaml: w.shedule: expected a known key (did you mean 'schedule'?), got 'shedule'"], id="typo-gets-a-hint"),
        pytest.param({"colour": "red"}, KEYS, (), {}, ["x.yaml: w.colour: expected a known key (schedule, timezone, duration, cutoff), got 'colour'"], id="unlike-any-lists-them"),
        pytest.param({3: "x"}, KEYS, (), {}, ["x.yaml: w.3: expected a known key (schedule, timezone, duration, cutoff), got 3"], id="key-not-text"),
        pytest.param({"Name": "n", "name": "m"}, {"Name": "name"}, (), {"name": ("n", "w.Name")}, ["x.yaml: w.name: expected a known key (did you mean 'Name'?), got 'name'"], id="spelling-read-under-its-name"),
        pytest.param({"BaselineId": "pb-1", "Name": "n"}, {"Name": "name"}, ("BaselineId",), {"name": ("n", "w.Name")}, [], id="ignored-key"),
    ],
)
def test_read_keys(mapping, known, ignored, result, problems):
    found = Findings(SOURCE)
    entries = {key: (value, f"w.{key}") for key, value in mapping.items()}
    assert (read_keys(found, entries, known, ignored), [str(p) for p in found.problems]) == (result, problems)


STAGE_KEYS = ("name", "patch_group", "reboot_option", "timeout_seconds", "execution_timeout_seconds", "soak", "window", "waves")


@pytest.mark.parametrize(
    ("key", "known", "nearest"),
    [
        pytest.param("timzone", KEYS, "timezone", id="letter-missing"),
        pytest.param("time_zone", KEYS, "timezone", id="underscore-added"),
        pytest.param("Time-Zone", KEYS, "timezone", id="case-and-dash"),
        pytest.param("TIMEZONE", KEYS, "timezone", id="upper-case"),
        pytest.param("durations", KEYS, "duration", id="plural"),
        pytest.param("soak_time", STAGE_KEYS, "soak", id="a-word-too-many"),
        pytest.param("reboot", STAGE_KEYS, "reboot_option", id="a-word-short"),
        pytest.param("timeout", STAGE_KEYS, "timeout_seconds", id="the-key-it-begins"),
        pytest.param("wave", STAGE_KEYS, "waves", id="singular"),
        pytest.param("tz", KEYS, None, id="too-short-to-tell"),
        pytest.param("colour", KEYS, None, id="unlike-any"),
        pytest.param("max_", ("max_errors", "max_concurrency"), None, id="begins-more-than-one"),
        pytest.param("approvedpatches", {"ApprovedPatches": "approved_patches", "ApprovalRules": "approval_rules"}, "ApprovedPatches", id="suggested-as-written"),
    ],
)
def test_nearest_key(key, known, nearest):
    assert nearest_key(key, list(known)) == nearest


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param({"duration": 4}, ({"duration": (4, "v.duration")}, []), id="mapping"),
        pytest.param({"duration": 4, "durations": 5}, ({"duration": (4, "v.duration")}, ["x.yaml: v.durations: expected a known key (did you mean 'duration'?), got 'durations'"]), id="unknown-key-at-its-own-path"),
        pytest.param("4h", refused("expected a window mapping, got '4h'"), id="not-a-mapping"),
    ],
)
def test_read_mapping(value, expected):
    assert read(read_mapping, value, KEYS, "a window mapping") == expected


# --------------------------------------------------------------------------- values

NAME = re.compile(r"^[a-z]+$")


@pytest.mark.parametrize(
    ("value", "kwargs", "expected"),
    [
        pytest.param("dev", {}, ("dev", []), id="text"),
        pytest.param("", {}, refused("expected a name, got ''"), id="empty"),
        pytest.param(3, {}, refused("expected a name, got 3"), id="not-text"),
        pytest.param("Dev", {"pattern": NAME}, refused("expected a name, got 'Dev'"), id="pattern"),
        pytest.param("ab", {"low": 3}, refused("expected a name, got 'ab'"), id="too-short"),
        pytest.param("abcd", {"high": 3}, refused("expected a name, got a text of 4 characters"), id="too-long-described"),
        pytest.param("abc", {"low": 3, "high": 3}, ("abc", []), id="bounds-inclusive"),
    ],
)
def test_read_text(value, kwargs, expected):
    assert read(read_text, value, "a name", **kwargs) == expected


@pytest.mark.parametrize(
    ("value", "bounds", "expected"),
    [
        pytest.param(360, (0, 360), (360, []), id="upper-bound"),
        pytest.param(361, (0, 360), refused("expected an integer 0-360, got 361"), id="above"),
        pytest.param(-1, (0, 360), refused("expected an integer 0-360, got -1"), id="below"),
        pytest.param(True, (0, 360), refused("expected an integer 0-360, got True"), id="bool"),
        pytest.param(7.0, (0, 360), refused("expected an integer 0-360, got 7.0"), id="float"),
        pytest.param("7", (0, 360), refused("expected an integer 0-360, got '7'"), id="text"),
        pytest.param(10**9, (0,), (10**9, []), id="no-upper-bound"),
        pytest.param(-1, (0,), refused("expected an integer 0 or more, got -1"), id="no-upper-bound-below"),
    ],
)
def test_read_int(value, bounds, expected):
    assert read(read_int, value, *bounds) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(90, (90.0, []), id="integer-as-float"),
        pytest.param(99.5, (99.5, []), id="fraction"),
        pytest.param(101, refused("expected a number 0-100, got 101"), id="above"),
        pytest.param(math.nan, refused("expected a number 0-100, got nan"), id="nan"),
        pytest.param(False, refused("expected a number 0-100, got False"), id="bool"),
        pytest.param("90", refused("expected a number 0-100, got '90'"), id="text"),
    ],
)
def test_read_number(value, expected):
    result, problems = read(read_number, value, 0, 100)
    assert (repr(result), problems) == (repr(expected[0]), expected[1])  # repr: 90.0, not 90


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(False, (False, []), id="false"),
        pytest.param("yes", refused("expected true or false, got 'yes'"), id="yes"),
        pytest.param(1, refused("expected true or false, got 1"), id="one"),
        pytest.param(None, refused("expected true or false, got None"), id="null"),
    ],
)
def test_read_bool(value, expected):
    assert read(read_bool, value) == expected


@pytest.mark.parametrize(
    ("value", "what", "expected"),
    [
        pytest.param("BLOCK", None, ("BLOCK", []), id="choice"),
        pytest.param("block", None, refused("expected one of ALLOW_AS_DEPENDENCY, BLOCK, got 'block'"), id="case-matters"),
        pytest.param(["BLOCK"], None, refused("expected one of ALLOW_AS_DEPENDENCY, BLOCK, got a list"), id="unhashable"),
        pytest.param("DENY", "ALLOW_AS_DEPENDENCY or BLOCK", refused("expected ALLOW_AS_DEPENDENCY or BLOCK, got 'DENY'"), id="own-wording"),
    ],
)
def test_read_choice(value, what, expected):
    assert read(read_choice, value, ("ALLOW_AS_DEPENDENCY", "BLOCK"), what) == expected


@pytest.mark.parametrize(
    ("value", "low", "expected"),
    [
        pytest.param(["a", "b"], 0, ([("a", "v[0]"), ("b", "v[1]")], []), id="items-with-paths"),
        pytest.param(None, 0, ([], []), id="null-is-empty"),
        pytest.param(None, 1, ([], ["x.yaml: v: expected a list of 1-2 values, got None"]), id="null-when-one-is-needed"),
        pytest.param([], 1, ([], ["x.yaml: v: expected a list of 1-2 values, got 0 items"]), id="too-few-described"),
        pytest.param(["a", "b", "c"], 0, ([], ["x.yaml: v: expected a list of 0-2 values, got 3 items"]), id="too-many-described"),
        pytest.param("a", 0, ([], ["x.yaml: v: expected a list of 0-2 values, got 'a'"]), id="not-a-list"),
    ],
)
def test_read_list(value, low, expected):
    assert read(read_list, value, "values", 2, low) == expected


def parse_hours(value: object, high: int) -> int:
    if not isinstance(value, int) or not 0 <= value <= high:
        raise ValueError(f"expected whole hours 0-{high}, got {value!r}")
    return value


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(4, (4, []), id="parsed"),
        pytest.param(25, refused("expected whole hours 0-24, got 25"), id="parser-message-kept"),
    ],
)
def test_read_with(value, expected):
    assert read(read_with, value, parse_hours, 24) == expected


# --------------------------------------------------------------------------- patch groups


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        pytest.param("prod", True, id="word"),
        pytest.param("prod eu-west-1", True, id="space-inside"),
        pytest.param("team:web/prod=blue+green@eu_1.a", True, id="every-punctuation-aws-allows"),
        pytest.param("Produktion-Köln", True, id="unicode-letters"),
        pytest.param("prod\u00a0eu", True, id="no-break-space-inside-is-a-separator"),
        pytest.param("x" * 256, True, id="256-characters"),
        pytest.param("x" * 257, False, id="257-characters"),
        pytest.param("", False, id="empty"),
        pytest.param(" prod", False, id="leading-space"),
        pytest.param("prod ", False, id="trailing-space"),
        pytest.param("prod\u00a0", False, id="trailing-no-break-space"),
        pytest.param("prod\teu", False, id="tab-is-not-a-separator"),
        pytest.param("prod\neu", False, id="newline"),
        pytest.param("prod#1", False, id="hash"),
        pytest.param("prod!", False, id="exclamation-mark"),
        pytest.param(42, False, id="number"),
        pytest.param(None, False, id="null"),
    ],
)
def test_is_patch_group_follows_aws_and_refuses_whitespace_at_either_end(value, valid):
    assert is_patch_group(value) is valid


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("prod", ("prod", []), id="valid"),
        pytest.param(" prod", refused(f"expected {PATCH_GROUP_RULE}, got ' prod'"), id="leading-space"),
        pytest.param(["prod"], refused(f"expected {PATCH_GROUP_RULE}, got a list"), id="list"),
    ],
)
def test_read_patch_group(value, expected):
    assert read(read_patch_group, value) == expected


# --------------------------------------------------------------------------- files


def test_load_file_names_the_file_in_every_problem(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("a: [1\n")
    with pytest.raises(InvalidInput) as caught:
        load_file(path, lambda data, source: data)
    assert str(caught.value) == f"{path}:2:1: expected valid YAML, got a syntax error (expected ',' or ']', but got '<stream end>')"


def test_load_file_hands_the_document_and_its_source_to_the_parser(tmp_path):
    path = tmp_path / "ok.yaml"
    path.write_text("a: 1\n")
    assert load_file(path, lambda data, source: (data, source)) == ({"a": 1}, str(path))


POSITIONS = {"name": (1, 1), "stages": (2, 1), "stages[1]": (5, 5), "stages[1].window": (7, 5), "stages[1].window.timezone": (9, 7)}


@pytest.mark.parametrize(
    ("problem", "text"),
    [
        pytest.param(Problem(SOURCE, "stages[1] (staging).window.timezone", "expected a time zone, got 'Mars'"),
                     "x.yaml:9:7: stages[1] (staging).window.timezone: expected a time zone, got 'Mars'", id="named-stage-found-by-index"),
        pytest.param(Problem(SOURCE, "stages[1] (staging).window", "expected a duration, got nothing"),
                     "x.yaml:7:5: stages[1] (staging).window: expected a duration, got nothing", id="a-mapping-missing-a-key"),
        pytest.param(Problem(SOURCE, "stages[1] (staging).window.cutoff", "expected a cutoff below the duration, got 4"),
                     "x.yaml:7:5: stages[1] (staging).window.cutoff: expected a cutoff below the duration, got 4", id="a-default-at-its-mapping"),
        pytest.param(Problem(SOURCE, "stages[1].targets[0].regions[2]", "expected a Region, got 'x'"),
                     "x.yaml:5:5: stages[1].targets[0].regions[2]: expected a Region, got 'x'", id="nearest-written-ancestor"),
        pytest.param(Problem(SOURCE, "", "expected an owner, got nothing"), "x.yaml: expected an owner, got nothing", id="whole-file"),
        pytest.param(Problem(SOURCE, "ledger", "expected s3://BUCKET, got nothing"), "x.yaml: ledger: expected s3://BUCKET, got nothing", id="not-written-at-all"),
        pytest.param(Problem("accounts/org.yaml", "name", "expected a name, got 3"), "accounts/org.yaml: name: expected a name, got 3", id="another-file-untouched"),
        pytest.param(Problem(SOURCE, "name", "expected a name, got 3", 4, 2), "x.yaml:4:2: name: expected a name, got 3", id="already-located"),
    ],
)
def test_located_gives_the_line_where_the_value_is_written(problem, text):
    assert str(located(problem, SOURCE, POSITIONS)) == text


def test_load_file_gives_each_problem_of_the_parser_its_line(tmp_path):
    path = tmp_path / "plan.yaml"
    path.write_text("name: weekly\nstages:\n  - name: dev\n    soak: later\n")

    def parse(data, source):
        found = Findings(source)
        found.expected("stages[0] (dev).soak", "a duration", data["stages"][0]["soak"])
        found.add("", "expected an owner, got nothing")
        raise InvalidInput(found.problems)

    with pytest.raises(InvalidInput) as caught:
        load_file(path, parse)
    assert str(caught.value).splitlines() == [
        f"{path}:4:5: stages[0] (dev).soak: expected a duration, got 'later'",
        f"{path}: expected an owner, got nothing",
    ]
