"""Preflight's baseline decision: registered for the group and OS, or only the OS default."""
from __future__ import annotations

import pytest

from patchflow.core.preflight import (
    BaselineInForce,
    baselines_in_force,
    ledger_baselines,
    registrations_for_group,
    unregistered_baseline_problem,
)
from patchflow.core.report import build_report, stage_facts

WINDOWS_DEFAULT = "arn:aws:ssm:us-east-1:075727635805:patchbaseline/pb-09ca3fb51f0412ec3"


def mapping(group: str, operating_system: str, baseline_id: str, default: bool = False) -> dict:
    # The shape of DescribePatchGroups' Mappings (awscli examples/ssm/describe-patch-groups.rst).
    return {"PatchGroup": group, "BaselineIdentity": {"BaselineId": baseline_id, "BaselineName": "b", "OperatingSystem": operating_system,
                                                      "BaselineDescription": "", "DefaultBaseline": default}}


@pytest.mark.parametrize(
    ("mappings", "expected"),
    [
        pytest.param([], {}, id="nothing-registered"),
        pytest.param([mapping("dev", "WINDOWS", "pb-1")], {"WINDOWS": "pb-1"}, id="one-registration"),
        pytest.param([mapping("dev-legacy", "WINDOWS", "pb-2"), mapping("dev", "UBUNTU", "pb-3")], {"UBUNTU": "pb-3"}, id="a-longer-name-with-the-prefix-is-another-group"),
        pytest.param([mapping("Dev", "WINDOWS", "pb-4")], {}, id="names-compare-case-sensitively"),
        pytest.param([mapping("dev", "WINDOWS", "pb-5", default=True)], {"WINDOWS": "pb-5"}, id="registered-baseline-that-is-also-the-default-counts"),
    ],
)
def test_registrations_for_group_counts_only_that_exact_group(mappings, expected):
    assert registrations_for_group("dev", mappings) == expected


@pytest.mark.parametrize(
    ("registered", "answered", "expected"),
    [
        pytest.param({"WINDOWS": "pb-1"}, {"WINDOWS": "pb-1"}, {"WINDOWS": BaselineInForce("pb-1", True)}, id="registered"),
        pytest.param({}, {"WINDOWS": WINDOWS_DEFAULT}, {"WINDOWS": BaselineInForce(WINDOWS_DEFAULT, False)}, id="default-answered-for-an-unregistered-group"),
        pytest.param({"WINDOWS": "pb-new"}, {"WINDOWS": "pb-old"}, {"WINDOWS": BaselineInForce("pb-new", True)}, id="the-registration-wins-over-a-stale-answer"),
        pytest.param({}, {}, {"WINDOWS": BaselineInForce("", False)}, id="no-answer-at-all"),
    ],
)
def test_baselines_in_force(registered, answered, expected):
    assert baselines_in_force(["WINDOWS"], registered, answered) == expected


MIXED = {"AMAZON_LINUX_2023": BaselineInForce("pb-al", True), "WINDOWS": BaselineInForce(WINDOWS_DEFAULT, False)}


@pytest.mark.parametrize(
    ("in_force", "required", "expected"),
    [
        pytest.param(MIXED, True,
                     f"no patch baseline is registered for patch group 'dev' and WINDOWS (its nodes would get the OS default {WINDOWS_DEFAULT}), "
                     "and the stage sets require_registered_baseline", id="one-os-unregistered"),
        pytest.param({"UBUNTU": BaselineInForce("", False), "WINDOWS": BaselineInForce(WINDOWS_DEFAULT, False)}, True,
                     f"no patch baseline is registered for patch group 'dev' and UBUNTU, WINDOWS (its nodes would get the OS default {WINDOWS_DEFAULT}), "
                     "and the stage sets require_registered_baseline", id="two-os-unregistered"),
        pytest.param(MIXED, False, None, id="not-required"),
        pytest.param({"AMAZON_LINUX_2023": BaselineInForce("pb-al", True)}, True, None, id="all-registered"),
        pytest.param({}, True, None, id="no-instances-no-os"),
    ],
)
def test_unregistered_baseline_problem(in_force, required, expected):
    assert unregistered_baseline_problem("dev", in_force, required) == expected


def test_the_ledger_keeps_which_baseline_is_in_force_and_labels_the_default():
    fields = ledger_baselines(MIXED)
    assert fields == {"baselines": {"AMAZON_LINUX_2023": "pb-al", "WINDOWS": None}, "default_baselines": {"WINDOWS": WINDOWS_DEFAULT}}
    report = build_report([
        {"kind": "run_started", "at": "2026-11-28T10:00:00Z", "dag_id": "d", "run_id": "r", "stages": ["dev"]},
        {"kind": "preflight", "at": "2026-11-28T10:00:01Z", "dag_id": "d", "run_id": "r", "stage": "dev", "patch_group": "dev", "targets": [], "offline": [], **fields},
    ])
    assert stage_facts(report.stages[0])[0] == f"Baselines in force: AMAZON_LINUX_2023=pb-al, WINDOWS=OS default {WINDOWS_DEFAULT}"
