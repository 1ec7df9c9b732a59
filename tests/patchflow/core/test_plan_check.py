"""Whether each stage can run, decided from what its accounts hold: the problems, the run's start block, `patchflow check`'s lines."""
from __future__ import annotations

import pytest

from patchflow.core.plan import parse_plan
from patchflow.core.plan_check import GroupFound, StageScopeCheck, check_lines, group_problems, start_block
from patchflow.core.preflight import BaselineInForce
from patchflow.core.scopes import DEFAULT_SCOPE, Account, Scope

AL, WINDOWS = "AMAZON_LINUX_2023", "WINDOWS"
AL_BASELINE, WINDOWS_DEFAULT = "pb-0123456789abcdef0", "arn:aws:ssm:us-east-1:075727635805:patchbaseline/pb-0a1b2c3d4e5f60718"
REGISTERED = {AL: BaselineInForce(AL_BASELINE, True)}
PROD_WEST = Scope(Account("333333333333", "prod"), "eu-west-1")
PROD_CENTRAL = Scope(Account("333333333333", "prod"), "eu-central-1")
NONE_THERE = "patch group 'dev' has no managed instances (tag 'Patch Group' or 'PatchGroup')"


def stage(**fields):
    plan = {"name": "storefront", "owner": "release-engineering", "defaults": {"gate": {"max_failed": "10%"}},
            "stages": [{"name": "dev", "patch_group": "dev", **fields}]}
    return parse_plan(plan, "storefront.yaml").stages[0]


GROUPS = [
    pytest.param({}, {"i-1": AL}, {}, [], id="one-instance-is-enough-by-default"),
    pytest.param({}, {}, {}, [NONE_THERE], id="no-instances"),
    pytest.param({"expected_min_targets": 3}, {"i-1": AL, "i-2": AL}, {},
                 ["patch group 'dev' has 2 managed instances, fewer than the 3 the plan expects"], id="fewer-than-expected"),
    pytest.param({"expected_min_targets": 2}, {"i-1": AL}, {},
                 ["patch group 'dev' has 1 managed instance, fewer than the 2 the plan expects"], id="one-fewer-than-expected"),
    pytest.param({"expected_min_targets": 0}, {}, {}, [NONE_THERE], id="an-empty-group-even-when-none-are-expected"),
    pytest.param({}, {"i-2": None, "i-1": AL, "i-0": None}, {}, ["cannot tell the operating system of i-0, i-2"], id="unknown-operating-systems"),
    pytest.param({"require_registered_baseline": True}, {"i-1": AL, "i-2": WINDOWS},
                 {**REGISTERED, WINDOWS: BaselineInForce(WINDOWS_DEFAULT, False)},
                 [f"no patch baseline is registered for patch group 'dev' and WINDOWS (its nodes would get the OS default {WINDOWS_DEFAULT}), "
                  "and the stage sets require_registered_baseline"], id="an-os-without-a-registration"),
    pytest.param({"require_registered_baseline": True}, {"i-1": AL}, REGISTERED, [], id="every-os-registered"),
    pytest.param({}, {"i-1": AL, "i-2": WINDOWS}, {**REGISTERED, WINDOWS: BaselineInForce(WINDOWS_DEFAULT, False)}, [],
                 id="the-os-default-when-no-registration-is-required"),
    pytest.param({"health": {"verify": {"commands": ["systemctl is-system-running"]}}}, {"i-1": AL, "i-2": WINDOWS, "i-3": WINDOWS}, {},
                 ["health.verify has no windows_commands for 2 WINDOWS instances (i-2, i-3)"], id="verification-without-windows-commands"),
    pytest.param({"expected_min_targets": 4, "require_registered_baseline": True, "health": {"verify": {"windows_commands": ["Get-Service app"]}}},
                 {"i-1": AL, "i-2": None}, {AL: BaselineInForce("", False)}, [
                     "patch group 'dev' has 2 managed instances, fewer than the 4 the plan expects",
                     "cannot tell the operating system of i-2",
                     "no patch baseline is registered for patch group 'dev' and AMAZON_LINUX_2023, and the stage sets require_registered_baseline",
                     "health.verify has no commands for 1 AMAZON_LINUX_2023 instance (i-1)",
                     "health.verify has no commands for 1 unknown instance (i-2)",
                 ], id="every-problem-at-once"),
]


@pytest.mark.parametrize("fields, instances, baselines, expected", GROUPS)
def test_group_problems(fields, instances, baselines, expected):
    assert group_problems(stage(**fields), GroupFound(instances, baselines)) == expected


def found(**counts: int) -> GroupFound:
    instances = {f"i-{name.lower()}-{n}": name for name, count in counts.items() for n in range(count)}
    return GroupFound(instances, {})


CLEAN = [
    StageScopeCheck("dev", "dev", DEFAULT_SCOPE, (), found(AMAZON_LINUX_2023=2, WINDOWS=1)),
    StageScopeCheck("prod", "prod", PROD_WEST, (), found(AMAZON_LINUX_2023=1)),
    StageScopeCheck("prod", "prod", PROD_CENTRAL, (), found(AMAZON_LINUX_2023=2)),
]
UNREACHABLE = "cannot assume role arn:aws:iam::333333333333:role/patchflow-target: AccessDenied: not trusted"
BROKEN = [
    StageScopeCheck("dev", "dev", DEFAULT_SCOPE, (), found(AMAZON_LINUX_2023=1)),
    StageScopeCheck("test", "qa", DEFAULT_SCOPE, ("patch group 'qa' has no managed instances (tag 'Patch Group' or 'PatchGroup')",), found()),
    StageScopeCheck("prod", "prod", PROD_WEST, (UNREACHABLE,)),
    StageScopeCheck("prod", "prod", PROD_CENTRAL, ("patch group 'prod' has 1 managed instance, fewer than the 2 the plan expects",
                                                   "cannot tell the operating system of i-9"), GroupFound({"i-9": None}, {})),
]


@pytest.mark.parametrize("checks, expected", [
    pytest.param(CLEAN, None, id="every-stage-can-run"),
    pytest.param(BROKEN, ("test", "run start: stage test: patch group 'qa' has no managed instances (tag 'Patch Group' or 'PatchGroup'); "
                                  f"stage prod in account prod (333333333333), Region eu-west-1: {UNREACHABLE}; "
                                  "stage prod in account prod (333333333333), Region eu-central-1: patch group 'prod' has 1 managed instance, "
                                  "fewer than the 2 the plan expects; "
                                  "stage prod in account prod (333333333333), Region eu-central-1: cannot tell the operating system of i-9"),
                 id="blocks-at-the-first-stage-naming-every-problem-of-every-stage-and-scope"),
    pytest.param(BROKEN[2:3], ("prod", f"run start: stage prod in account prod (333333333333), Region eu-west-1: {UNREACHABLE}"), id="one-scope"),
])
def test_start_block(checks, expected):
    assert start_block(checks) == expected


@pytest.mark.parametrize("checks, expected", [
    pytest.param(CLEAN, [
        "stage dev: ok, patch group 'dev' has 3 managed instances (AMAZON_LINUX_2023 2, WINDOWS 1)",
        "stage prod in account prod (333333333333), Region eu-west-1: ok, patch group 'prod' has 1 managed instance (AMAZON_LINUX_2023 1)",
        "stage prod in account prod (333333333333), Region eu-central-1: ok, patch group 'prod' has 2 managed instances (AMAZON_LINUX_2023 2)",
        "check storefront: every stage can run (2 stages in 3 accounts and Regions)",
    ], id="clean-in-several-scopes"),
    pytest.param(CLEAN[:1], [
        "stage dev: ok, patch group 'dev' has 3 managed instances (AMAZON_LINUX_2023 2, WINDOWS 1)",
        "check storefront: every stage can run (1 stage)",
    ], id="clean-in-the-connections-own-account"),
    pytest.param(BROKEN, [
        "stage dev: ok, patch group 'dev' has 1 managed instance (AMAZON_LINUX_2023 1)",
        "stage test: patch group 'qa' has no managed instances (tag 'Patch Group' or 'PatchGroup')",
        f"stage prod in account prod (333333333333), Region eu-west-1: {UNREACHABLE}",
        "stage prod in account prod (333333333333), Region eu-central-1: patch group 'prod' has 1 managed instance, fewer than the 2 the plan expects",
        "stage prod in account prod (333333333333), Region eu-central-1: cannot tell the operating system of i-9",
        "check storefront: 4 problems in 2 of 3 stages",
    ], id="one-line-per-problem"),
])
def test_check_lines(checks, expected):
    assert check_lines("storefront", checks) == expected
