"""Random documents against every loader: a clean InvalidInput (or a valid result), never another exception.

Three sources of input, each through the three file loaders (baselines,
rollout plans, fleet specs) and the DAG trigger params:
- random YAML values (nested mappings, lists and every scalar safe_load can
  build: null, bools, ints, floats incl. nan/inf, text, dates, timestamps),
  dumped to a file and read back the way the loaders read user files;
- random mutations of the valid example files in include/ (a value replaced,
  a key dropped or added, a list emptied or its type changed);
- random text, most of it not valid YAML at all.

PATCHFLOW_FUZZ_EXAMPLES=2000 runs more examples per test (default 150).
"""
from __future__ import annotations

import copy
import datetime as dt
import math
import os
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fleetsim.errors import InvalidInput as InvalidFleetSpec
from fleetsim.spec import load_fleet, parse_fleet
from patchflow.core.baselines import load_baseline, parse_baseline
from patchflow.core.errors import InvalidInput
from patchflow.core.plan import RUN_PARAM_KEYS, load_plan, parse_plan
from patchflow.core.run_params import validate_run_params
from patchflow.core.yamlfile import PROJECT_ROOT

INCLUDE = PROJECT_ROOT / "include"
EXAMPLES = {
    "baseline": sorted((INCLUDE / "baselines").glob("*.y*ml")) + sorted((INCLUDE / "baselines").glob("*.json")),
    "plan": sorted((INCLUDE / "rollouts").glob("*.yaml")),
    "fleet": sorted((INCLUDE / "fleets").glob("*.yaml")),
}
LOADERS = {"baseline": load_baseline, "plan": load_plan, "fleet": load_fleet}
PARSERS = {"baseline": parse_baseline, "plan": parse_plan, "fleet": parse_fleet}
PLANS = [load_plan(path) for path in EXAMPLES["plan"]]
SCRATCH = Path(tempfile.mkdtemp(prefix="patchflow-fuzz-"))

FUZZ = settings(max_examples=int(os.environ.get("PATCHFLOW_FUZZ_EXAMPLES", "150")), deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])

# Words the loaders know, so random documents reach past the first "unknown key".
WORDS = sorted({
    "name", "description", "owner", "tags", "schedule", "ledger", "notifications", "defaults", "stages", "patch_group",
    "scan_first", "reboot_option", "max_concurrency", "max_errors", "waves", "expected_min_targets", "timeout_seconds",
    "execution_timeout_seconds", "gate", "soak", "approval", "window", "pin_to", "notify", "allow_ungated",
    "require_registered_baseline", "max_failed", "min_targets", "min_compliant_percent", "max_pending_reboot", "required",
    "timeout", "timezone", "duration", "cutoff", "cron", "sns_topic_arn", "slack_connection_id", "operating_system",
    "global_filters", "approval_rules", "patch_filters", "approve_after_days", "approve_until_date", "compliance_level",
    "enable_non_security", "approved_patches", "rejected_patches", "rejected_patches_action", "sources", "products",
    "configuration", "patch_groups", "default_for_os", "predefined", "key", "values", "PRODUCT", "CLASSIFICATION", "SEVERITY",
    "Name", "OperatingSystem", "ApprovalRules", "PatchRules", "PatchFilterGroup", "PatchFilters", "Key", "Values",
    "ApproveAfterDays", "GlobalFilters", "Tags", "Value", "BaselineId", "seed", "throttling", "groups", "count", "platform",
    "ping_status", "missing_share", "execution_seconds", "patch_failure_probability", "reboot_seconds", "dev", "test", "prod",
    "WINDOWS", "UBUNTU", "AMAZON_LINUX_2023", "Security", "100%", "10%", "0", "none", "manual", "cron(0 2 ? * SUN *)", "PT4H",
    "2h", "UTC", "Europe/Berlin", "Patch Group", "dry_run", "change_ticket", "CHG0012345", "*", "",
})

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([10**400, -(10**400), 2**63, 1e308]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(WORDS),
    st.dates(min_value=dt.date(1, 1, 1)),
    st.datetimes(min_value=dt.datetime(1, 1, 1)),
    st.binary(max_size=8),  # !!binary
    st.sets(st.sampled_from(WORDS), max_size=3),  # !!set
)
keys = st.one_of(st.sampled_from(WORDS), st.text(max_size=12), st.integers(-5, 5), st.booleans(), st.none(), st.floats(allow_nan=False))
documents = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=6), st.dictionaries(keys, inner, max_size=8)),
    max_leaves=40,
)
yaml_text = st.one_of(
    st.text(max_size=200),
    st.text(alphabet=":-[]{},!&*#|>%@`'\"?\n\t abcPT0123456789.~", max_size=120),
    st.lists(st.sampled_from([
        "name: x\n", "stages:\n", "  - ", "groups:\n", "- count: 1\n", "!!binary aGVsbG8=\n", "!!python/object:os.system {}\n",
        "&a [1, *a]\n", "? [1, 2]\n: v\n", "!!set {a, b}\n", "key: !!timestamp 2001-12-14\n", "--- 1\n--- 2\n", "\t", "{", "]",
        "x: 1e400\n", "x: .nan\n", "approval_rules:\n", "  patch_filters: {PRODUCT: [", "%YAML 1.1\n", "\ufeff", "\x00",
        "a: !!timestamp ''\n", "a: !!int x\n", "a: !!bool maybe\n", "a: !!timestamp 2020-13-45\n", "a: !!omap [1]\n", "[" * 1200,
    ]), max_size=12).map("".join),
)


def dumped(document: Any, suffix: str = ".yaml") -> Path:
    """Write a value as YAML (or, when safe_dump cannot represent it, as its repr) to a scratch file."""
    path = SCRATCH / f"doc{suffix}"
    try:
        text = yaml.safe_dump(document, allow_unicode=True, sort_keys=False)
    except yaml.YAMLError:
        text = repr(document)
    path.write_text(text, encoding="utf-8")
    return path


def assert_clean(call, *args) -> None:
    """The call succeeds or raises InvalidInput whose every problem reads `source: path: expected ..., got ...`."""
    try:
        call(*args)
    except (InvalidInput, InvalidFleetSpec) as exc:
        assert exc.problems, "InvalidInput without problems"
        for problem in exc.problems:
            assert problem.source and problem.message, problem
            assert "\n" not in problem.message, problem
            assert "expected" in problem.message or "unknown key" in problem.message or problem.message == "file not found", str(problem)


# --------------------------------------------------------------------------- random documents


@pytest.mark.parametrize("kind", sorted(LOADERS))
@FUZZ
@given(document=documents)
def test_random_documents_give_clean_errors(kind, document):
    assert_clean(PARSERS[kind], document, "fuzz.yaml")
    assert_clean(LOADERS[kind], dumped(document))


@pytest.mark.parametrize("kind", sorted(LOADERS))
@FUZZ
@given(text=yaml_text)
def test_random_text_gives_clean_errors(kind, text):
    path = SCRATCH / "text.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    assert_clean(LOADERS[kind], path)


@pytest.mark.parametrize("kind", sorted(LOADERS))
@FUZZ
@given(data=st.binary(max_size=64))
def test_random_bytes_give_clean_errors(kind, data):
    path = SCRATCH / "bytes.yaml"
    path.write_bytes(data)
    assert_clean(LOADERS[kind], path)


# --------------------------------------------------------------------------- mutated examples


def paths_in(value: Any, here: tuple = ()) -> list[tuple]:
    """Every path to a value inside a document (the root included)."""
    found = [here]
    if isinstance(value, dict):
        for key, item in value.items():
            found.extend(paths_in(item, here + (key,)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.extend(paths_in(item, here + (index,)))
    return found


def mutate(document: Any, path: tuple, how: str, replacement: Any, new_key: Any) -> Any:
    document = copy.deepcopy(document)
    if not path:
        return replacement if how == "replace" else document
    parent = document
    for part in path[:-1]:
        parent = parent[part]
    last = path[-1]
    if how == "replace":
        parent[last] = replacement
    elif how == "drop":
        del parent[last]
    elif how == "add" and isinstance(parent[last], dict):
        parent[last][new_key] = replacement
    elif how == "add" and isinstance(parent[last], list):
        parent[last].append(replacement)
    elif how == "empty":
        parent[last] = type(parent[last])() if isinstance(parent[last], (dict, list, str)) else None
    elif how == "wrap":
        parent[last] = [parent[last]]
    elif how == "stringify":
        parent[last] = str(parent[last])
    return document


EXAMPLE_DATA = [(kind, path, yaml.safe_load(path.read_text(encoding="utf-8"))) for kind in sorted(EXAMPLES) for path in EXAMPLES[kind]]


@FUZZ
@given(example=st.sampled_from(EXAMPLE_DATA), data=st.data(), how=st.sampled_from(["replace", "drop", "add", "empty", "wrap", "stringify"]),
       replacement=documents, new_key=keys)
def test_mutated_examples_give_clean_errors(example, data, how, replacement, new_key):
    kind, path, document = example
    target = data.draw(st.sampled_from(paths_in(document)))
    mutated = mutate(document, target, how, replacement, new_key)
    assert_clean(PARSERS[kind], mutated, f"include/{path.parent.name}/{path.name}")
    assert_clean(LOADERS[kind], dumped(mutated, path.suffix))


@FUZZ
@given(example=st.sampled_from(EXAMPLE_DATA), data=st.data(), count=st.integers(2, 6))
def test_examples_mutated_many_times_give_clean_errors(example, data, count):
    kind, path, document = example
    for _ in range(count):
        target = data.draw(st.sampled_from(paths_in(document)))
        how = data.draw(st.sampled_from(["replace", "drop", "add", "empty", "wrap", "stringify"]))
        document = mutate(document, target, how, data.draw(documents), data.draw(keys))
    assert_clean(PARSERS[kind], document, f"include/{path.parent.name}/{path.name}")


# --------------------------------------------------------------------------- trigger params

param_values = st.one_of(
    documents,
    st.lists(st.sampled_from(["dev", "test", "prod", "qa", "", "DEV"]), max_size=5),
    st.sampled_from(["", "0", "5", "5%", "10%", "100%", "101%", "-1", "1.5", "CHG0012345", "chg1", "none"]),
)


@FUZZ
@given(plan=st.sampled_from(PLANS), params=st.dictionaries(st.one_of(st.sampled_from(RUN_PARAM_KEYS), keys), param_values, max_size=6))
def test_random_trigger_params_give_clean_errors(plan, params):
    assert_clean(validate_run_params, plan, params)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, 10**30, -1, 1.5, True, "1e3", "50.5%", " 5 ", "5 %", "0%", [], {}])
@pytest.mark.parametrize("plan", PLANS, ids=[p.name for p in PLANS])
def test_odd_max_failed_values_give_clean_errors(plan, value):
    assert_clean(validate_run_params, plan, {"max_failed": value})
