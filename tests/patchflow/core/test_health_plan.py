"""A stage's `health:` block read into a HealthSpec, merged with the plan's defaults, and every bad value named where it was written."""
from __future__ import annotations

import copy

import pytest

from patchflow.core.errors import InvalidInput
from patchflow.core.health import AlarmSelector, HealthSpec, SelectorKind, Verification
from patchflow.core.plan import parse_plan

SOURCE = "include/rollouts/storefront.yaml"
SHELL = ("systemctl is-system-running", "curl -fsS http://localhost:8080/health")
POWERSHELL = ("(Invoke-WebRequest -UseBasicParsing http://localhost:8080/health).StatusCode",)
PROD_5XX = AlarmSelector(SelectorKind.NAME, name="storefront-prod-5xx")
PROD_PREFIX = AlarmSelector(SelectorKind.PREFIX, name="storefront-prod-")
PROD_TAGS = AlarmSelector(SelectorKind.TAGS, tags=(("Application", "storefront"), ("Environment", "prod")))
DEV_5XX = AlarmSelector(SelectorKind.NAME, name="storefront-dev-5xx")


def plan(health=..., defaults=None) -> dict:
    """A valid two-stage plan; `health` goes on its first stage (left out when not given)."""
    dev = {"name": "dev", "patch_group": "dev"}
    if health is not ...:
        dev["health"] = copy.deepcopy(health)
    return {
        "name": "storefront", "owner": "release-engineering", "defaults": copy.deepcopy(defaults or {}),
        "stages": [dev, {"name": "prod", "patch_group": "prod", "approval": True}],
    }


def dev_health(document: dict) -> HealthSpec | None:
    return parse_plan(document, SOURCE).stage("dev").health


@pytest.mark.parametrize(
    "document, expected",
    [
        pytest.param(plan(), None, id="absent"),
        pytest.param(plan(None), None, id="null"),
        pytest.param(plan(" None "), None, id="none-word"),
        pytest.param(
            plan({"alarms": [{"name": "storefront-prod-5xx"}, {"prefix": "storefront-prod-"}, {"tags": {"Environment": "prod", "Application": "storefront"}}]}),
            HealthSpec(alarms=(PROD_5XX, PROD_PREFIX, PROD_TAGS)),
            id="every-kind-of-selector-tags-sorted-by-key",
        ),
        pytest.param(
            plan({"alarms": [{"name": "storefront-prod-5xx"}], "insufficient_data": "allow"}),
            HealthSpec(alarms=(PROD_5XX,), insufficient_data_allowed=True),
            id="insufficient-data-allowed",
        ),
        pytest.param(plan({"verify": {"commands": list(SHELL)}}), HealthSpec(verify=Verification(commands=SHELL)), id="verify-only-with-defaults"),
        pytest.param(
            plan({"verify": {"commands": list(SHELL), "windows_commands": list(POWERSHELL), "max_concurrency": 10, "max_errors": "0",
                             "timeout_seconds": 3600}}),
            HealthSpec(verify=Verification(SHELL, POWERSHELL, "10", "0", 3600)),
            id="verify-everything-written",
        ),
        pytest.param(plan({"alarms": None, "verify": {"windows_commands": list(POWERSHELL)}}), HealthSpec(verify=Verification(windows_commands=POWERSHELL)),
                     id="alarms-null-with-verify"),
    ],
)
def test_a_stage_reads_its_health(document, expected):
    assert dev_health(document) == expected


DEFAULT_HEALTH = {"alarms": [{"name": "storefront-dev-5xx"}], "verify": {"commands": list(SHELL), "timeout_seconds": 60}}


@pytest.mark.parametrize(
    "health, expected",
    [
        pytest.param(..., HealthSpec(alarms=(DEV_5XX,), verify=Verification(commands=SHELL, timeout_seconds=60)), id="inherited-whole"),
        pytest.param({"insufficient_data": "allow"}, HealthSpec(alarms=(DEV_5XX,), insufficient_data_allowed=True, verify=Verification(commands=SHELL, timeout_seconds=60)),
                     id="keys-merge-one-level"),
        # verify is taken whole from the stage: the default's commands and timeout do not leak into it.
        pytest.param({"verify": {"windows_commands": list(POWERSHELL)}}, HealthSpec(alarms=(DEV_5XX,), verify=Verification(windows_commands=POWERSHELL)),
                     id="verify-replaced-whole"),
        pytest.param({"alarms": [{"prefix": "storefront-prod-"}]}, HealthSpec(alarms=(PROD_PREFIX,), verify=Verification(commands=SHELL, timeout_seconds=60)),
                     id="alarms-replaced-whole"),
        pytest.param({"verify": "none"}, HealthSpec(alarms=(DEV_5XX,)), id="verify-dropped"),
        pytest.param({"alarms": []}, HealthSpec(verify=Verification(commands=SHELL, timeout_seconds=60)), id="alarms-dropped"),
        pytest.param("none", None, id="health-dropped"),
    ],
)
def test_a_stages_health_merges_with_the_default_one_level_deep(health, expected):
    assert dev_health(plan(health, defaults={"health": DEFAULT_HEALTH})) == expected


def test_a_default_health_reaches_every_stage():
    stages = parse_plan(plan(defaults={"health": {"alarms": [{"name": "storefront-dev-5xx"}]}}), SOURCE).stages
    assert [stage.health for stage in stages] == [HealthSpec(alarms=(DEV_5XX,))] * 2


def problems(document: dict) -> list[str]:
    with pytest.raises(InvalidInput) as raised:
        parse_plan(document, SOURCE)
    return str(raised.value).splitlines()


AT = f"{SOURCE}: stages[0] (dev).health"


@pytest.mark.parametrize(
    "health, expected",
    [
        pytest.param("on", [f"{AT}: expected a mapping with alarms, insufficient_data and verify, or none, got 'on'"], id="not-a-mapping"),
        pytest.param({}, [f"{AT}: expected alarms, verify or both (or none for no health gate), got neither"], id="empty"),
        pytest.param({"insufficient_data": "allow"}, [f"{AT}: expected alarms, verify or both (or none for no health gate), got neither"], id="watching-nothing"),
        pytest.param({"alarm": [{"name": "x"}]}, [
            f"{AT}.alarm: expected a known key (did you mean 'alarms'?), got 'alarm'",
            f"{AT}: expected alarms, verify or both (or none for no health gate), got neither",
        ], id="unknown-key"),
        pytest.param({"alarms": {"name": "x"}}, [f"{AT}.alarms: expected a list of 0-100 alarm selectors (name, prefix or tags), got a mapping"], id="alarms-not-a-list"),
        pytest.param({"alarms": [{"name": "x"}] * 101}, [f"{AT}.alarms: expected a list of 0-100 alarm selectors (name, prefix or tags), got 101 items"],
                     id="too-many-selectors"),
        pytest.param({"alarms": ["storefront-prod-5xx"]}, [f"{AT}.alarms[0]: expected a mapping with exactly one of name, prefix or tags, got 'storefront-prod-5xx'"],
                     id="selector-not-a-mapping"),
        pytest.param({"alarms": [{"name": "a", "prefix": "b"}]}, [f"{AT}.alarms[0]: expected exactly one of name, prefix or tags, got name and prefix"],
                     id="selector-with-two-keys"),
        pytest.param({"alarms": [{}]}, [f"{AT}.alarms[0]: expected exactly one of name, prefix or tags, got an empty mapping"], id="selector-empty"),
        pytest.param({"alarms": [{"nmae": "a"}]}, [f"{AT}.alarms[0].nmae: expected a known key (did you mean 'name'?), got 'nmae'"], id="selector-key-typo"),
        pytest.param({"alarms": [{"name": ""}]}, [f"{AT}.alarms[0].name: expected an alarm name of 1-255 characters (no control characters), got ''"],
                     id="name-empty"),
        pytest.param({"alarms": [{"name": "x" * 256}]},
                     [f"{AT}.alarms[0].name: expected an alarm name of 1-255 characters (no control characters), got a text of 256 characters"], id="name-too-long"),
        pytest.param({"alarms": [{"prefix": "web\n"}]},
                     [f"{AT}.alarms[0].prefix: expected an alarm name prefix of 1-255 characters (no control characters), got 'web\\n'"], id="prefix-control-character"),
        pytest.param({"alarms": [{"tags": {}}]}, [f"{AT}.alarms[0].tags: expected a mapping of 1-50 tags such as {{Application: storefront}}, got an empty mapping"],
                     id="tags-empty"),
        pytest.param({"alarms": [{"tags": ["Application"]}]}, [f"{AT}.alarms[0].tags: expected a mapping of 1-50 tags such as {{Application: storefront}}, got a list"],
                     id="tags-not-a-mapping"),
        pytest.param({"alarms": [{"tags": {"Tier": 1, "k" * 129: "x"}}]}, [
            f"{AT}.alarms[0].tags.Tier: expected a tag value of 0-256 characters (quote numbers and true/false), got 1",
            f"{AT}.alarms[0].tags.{'k' * 129}: expected a tag key of 1-128 characters, got '{'k' * 129}'",
        ], id="tag-value-number-and-key-too-long"),
        pytest.param({"alarms": [{"name": "x"}], "insufficient_data": "ignore"}, [f"{AT}.insufficient_data: expected block or allow, got 'ignore'"],
                     id="insufficient-data-unknown"),
        pytest.param({"verify": ["true"]}, [
            f"{AT}.verify: expected a mapping with commands, windows_commands, max_concurrency, max_errors and timeout_seconds, or none, got a list",
        ], id="verify-not-a-mapping"),
        pytest.param({"verify": {"max_errors": "0"}}, [f"{AT}.verify: expected commands, windows_commands or both, got neither"], id="verify-without-commands"),
        pytest.param({"verify": {"comands": ["true"]}}, [
            f"{AT}.verify.comands: expected a known key (did you mean 'commands'?), got 'comands'",
            f"{AT}.verify: expected commands, windows_commands or both, got neither",
        ], id="verify-key-typo"),
        pytest.param({"verify": {"commands": []}}, [f"{AT}.verify.commands: expected a list of 1-100 commands, got 0 items"], id="commands-empty"),
        pytest.param({"verify": {"commands": "true"}}, [f"{AT}.verify.commands: expected a list of 1-100 commands, got 'true'"], id="commands-not-a-list"),
        pytest.param({"verify": {"windows_commands": ["Get-Service", "  "]}}, [f"{AT}.verify.windows_commands[1]: expected a command (text that is not blank), got '  '"],
                     id="command-blank"),
        pytest.param({"verify": {"commands": ["true"], "max_concurrency": "0%", "max_errors": "lots"}}, [
            f"{AT}.verify.max_concurrency: expected a MaxConcurrency of a count 1 or more or a percentage 1%-100%, got '0%'",
            f"{AT}.verify.max_errors: expected a MaxErrors of a count 0 or more or a percentage 0%-100%, got 'lots'",
        ], id="rate-control-bad"),
        pytest.param({"verify": {"commands": ["true"], "timeout_seconds": 29}}, [f"{AT}.verify.timeout_seconds: expected an integer 30-3600, got 29"],
                     id="timeout-below-range"),
        pytest.param({"verify": {"commands": ["true"], "timeout_seconds": 3601}}, [f"{AT}.verify.timeout_seconds: expected an integer 30-3600, got 3601"],
                     id="timeout-above-range"),
    ],
)
def test_a_bad_health_block_is_named_where_it_is_written(health, expected):
    assert problems(plan(health)) == expected


def test_a_bad_default_health_is_reported_once_and_never_as_a_gate_watching_nothing():
    document = plan(defaults={"health": {"alarms": [{"name": ""}]}})
    assert problems(document) == [f"{SOURCE}: defaults.health.alarms[0].name: expected an alarm name of 1-255 characters (no control characters), got ''"]
