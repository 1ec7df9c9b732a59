"""`python -m patchflow check PLAN` against fleetsim: every stage in every account and Region it patches, as the run's start checks it.

The fleet has the hub's dev group and prod's group in two Regions of account prod; account shared trusts
another account only, so its role cannot be assumed from the hub. What the fleet holds is read back from
fleetsim itself (its OS default baselines), never from patchflow's code.
"""
from __future__ import annotations

import pytest
import yaml

from fleetsim import running
from patchflow.aws.scope_access import forget_assumed_credentials
from patchflow.cli.main import main
from patchflow.core.plan import PLANS_DIR
from patchflow.core.plan import load_plans

pytestmark = pytest.mark.fleetsim

HUB, PROD, SHARED = "123456789012", "333333333333", "444444444444"
AL, WINDOWS = "AMAZON_LINUX_2023", "WINDOWS"
FLEET = {
    "accounts": [
        {"id": PROD, "alias": "prod", "roles": [{"name": "patchflow-target", "trusted_accounts": [HUB], "external_id": "patchflow"}]},
        {"id": SHARED, "alias": "shared", "roles": [{"name": "patchflow-target", "trusted_accounts": ["999999999999"], "external_id": "patchflow"}]},
    ],
    "groups": [
        {"name": "dev-al", "count": 2, "platform": AL, "tags": {"Patch Group": "dev"}},
        {"name": "dev-windows", "count": 1, "platform": WINDOWS, "tags": {"PatchGroup": "dev"}},
        {"name": "prod-west", "count": 1, "platform": AL, "account": "prod", "region": "eu-west-1", "tags": {"Patch Group": "prod"}},
        {"name": "prod-central", "count": 2, "platform": AL, "account": "prod", "region": "eu-central-1", "tags": {"Patch Group": "prod"}},
    ],
}
ACCOUNTS = {"role": "arn:aws:iam::{account}:role/patchflow-target", "external_id": "patchflow",
            "list": [{"id": PROD, "alias": "prod"}, {"id": SHARED, "alias": "shared"}]}
PROD_WEST = f"account prod ({PROD}), Region eu-west-1"
PROD_CENTRAL = f"account prod ({PROD}), Region eu-central-1"


@pytest.fixture(scope="module")
def sim():
    with running(FLEET, seed=1) as server:
        yield server


@pytest.fixture
def check(sim, tmp_path, monkeypatch, capsys):
    """check(stages) -> (exit code, stdout, stderr) of `patchflow check` on a plan with these stages, as a release manager runs it."""
    for name, value in sim.env().items():
        monkeypatch.setenv(name, value)
    forget_assumed_credentials()

    def run(stages: list[dict]) -> tuple[int, str, str]:
        path = tmp_path / "storefront.yaml"
        path.write_text(yaml.safe_dump({"name": "storefront", "owner": "release-engineering", "accounts": ACCOUNTS,
                                        "defaults": {"gate": {"max_failed": "10%"}}, "stages": stages}, sort_keys=False))
        code = main(["check", str(path)])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_a_plan_whose_every_stage_can_run_says_what_each_has_and_exits_0(check):
    code, out, err = check([
        {"name": "dev", "patch_group": "dev", "expected_min_targets": 3},
        {"name": "prod", "patch_group": "prod", "targets": {"account": "prod", "regions": ["eu-west-1", "eu-central-1"]}},
    ])

    assert (code, out.splitlines(), err) == (0, [
        "stage dev: ok, patch group 'dev' has 3 managed instances (AMAZON_LINUX_2023 2, WINDOWS 1)",
        f"stage prod in {PROD_WEST}: ok, patch group 'prod' has 1 managed instance (AMAZON_LINUX_2023 1)",
        f"stage prod in {PROD_CENTRAL}: ok, patch group 'prod' has 2 managed instances (AMAZON_LINUX_2023 2)",
        "check storefront: every stage can run (2 stages in 3 accounts and Regions)",
    ], "")


def test_every_problem_of_every_stage_is_named_with_its_scope_and_exits_1(sim, check):
    os_default = {name: sim.client("ssm").get_default_patch_baseline(OperatingSystem=name)["BaselineId"] for name in (AL, WINDOWS)}

    code, out, err = check([
        {"name": "dev", "patch_group": "dev", "expected_min_targets": 3, "require_registered_baseline": True},
        {"name": "test", "patch_group": "qa"},
        {"name": "prod", "patch_group": "prod", "expected_min_targets": 2, "targets": {"account": "prod", "regions": ["eu-west-1", "eu-central-1"]}},
        {"name": "shared", "patch_group": "prod", "targets": {"account": "shared", "regions": ["eu-west-1"]}},
    ])

    role = f"arn:aws:iam::{SHARED}:role/patchflow-target"
    assert (code, out.splitlines(), err) == (1, [
        f"stage dev: no patch baseline is registered for patch group 'dev' and AMAZON_LINUX_2023 (its nodes would get the OS default {os_default[AL]}), "
        f"WINDOWS (its nodes would get the OS default {os_default[WINDOWS]}), and the stage sets require_registered_baseline",
        "stage test: patch group 'qa' has no managed instances (tag 'Patch Group' or 'PatchGroup')",
        f"stage prod in {PROD_WEST}: patch group 'prod' has 1 managed instance, fewer than the 2 the plan expects",
        f"stage prod in {PROD_CENTRAL}: ok, patch group 'prod' has 2 managed instances (AMAZON_LINUX_2023 2)",
        f"stage shared in account shared ({SHARED}), Region eu-west-1: cannot assume role {role}: AccessDenied: "
        f"User: arn:aws:sts::{HUB}:user/moto is not authorized to perform: sts:AssumeRole on resource: {role}",
        "check storefront: 4 problems in 4 of 4 stages",
    ], "")


def test_a_plan_with_problems_of_its_own_prints_them_and_exits_1(check):
    code, out, err = check([{"name": "dev", "patch_group": "dev", "expected_min_targets": "three"}])

    assert (code, out) == (1, "")
    # lint's own line for the file (where it is, the stage's path): nothing was asked of any account.
    assert err.count("\n") == 1 and "expected_min_targets: expected an integer 0-100000, got 'three'\n" in err


def test_a_plan_that_is_not_there_is_a_bad_argument(capsys):
    plans, _broken = load_plans(PLANS_DIR)
    names = ", ".join(sorted(plan.name for plan in plans))

    assert (main(["check", "no-such-plan"]), capsys.readouterr().err) == (
        2, f"patchflow check: PLAN: expected a plan file or the name of one in include/rollouts ({names}), got 'no-such-plan'\n")
