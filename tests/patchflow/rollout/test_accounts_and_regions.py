"""Stages in other accounts and Regions, through real Airflow task execution against fleetsim.

fleetsim answers each account and Region from its own backends and grants AssumeRole only as the
fleet spec's trust says; what each scope received is read back from that scope's own SSM
(ListCommands with that account's credentials, in that Region), never from patchflow's records.
"""
from __future__ import annotations

import json

import pytest

from fleetsim import running

pytestmark = pytest.mark.airflow

HUB, DEV, TEST, PROD = "123456789012", "111111111111", "222222222222", "333333333333"
ROLE = {"name": "patchflow-target", "trusted_accounts": [HUB], "external_id": "patchflow"}
SCOPES = (("dev", "us-east-1"), ("test", "us-east-1"), ("prod", "eu-west-1"), ("prod", "eu-central-1"))


def fleet(prod_west_failure: float = 0.0) -> dict:
    def group(account: str, region: str, platform: str, failure: float = 0.0) -> dict:
        return {"name": f"{account}-{region}-{platform.lower()}", "account": account, "region": region, "count": 1, "platform": platform,
                "install_failure_probability": failure, "tags": {"Patch Group": account}}

    return {
        "compliance_lag_seconds": 0,
        "accounts": [{"id": account_id, "alias": alias, "roles": [ROLE]} for alias, account_id in (("dev", DEV), ("test", TEST), ("prod", PROD))],
        "defaults": {"execution_seconds": [30, 60], "reboot_share": 0.0, "missing_share": 0.9},
        "groups": [
            group("dev", "us-east-1", "AMAZON_LINUX_2023"), group("dev", "us-east-1", "WINDOWS"),
            group("test", "us-east-1", "AMAZON_LINUX_2023"), group("test", "us-east-1", "WINDOWS"),
            group("prod", "eu-west-1", "AMAZON_LINUX_2023", prod_west_failure), group("prod", "eu-west-1", "WINDOWS", prod_west_failure),
            group("prod", "eu-central-1", "AMAZON_LINUX_2023"), group("prod", "eu-central-1", "WINDOWS"),
        ],
    }


def plan(demo_plan, external_id: str = "patchflow") -> dict:
    stages = [
        {"name": "dev", "patch_group": "dev", "targets": {"account": "dev", "regions": ["us-east-1"]}},
        {"name": "test", "patch_group": "test", "pin_to": "dev", "targets": {"account": "test", "regions": ["us-east-1"]}},
        {"name": "prod", "patch_group": "prod", "pin_to": "dev", "waves": [1, "100%"], "order": "one_at_a_time",
         "targets": [{"account": "prod", "regions": ["eu-west-1", "eu-central-1"]}]},
    ]
    found = demo_plan(stages=stages, accounts={"role": "arn:aws:iam::{account}:role/patchflow-target", "external_id": external_id,
                                               "list": [{"id": DEV, "alias": "dev"}, {"id": TEST, "alias": "test"}, {"id": PROD, "alias": "prod"}]})
    found["defaults"] = {**found["defaults"], "soak": "1s", "scan_first": False}
    found["defaults"].pop("notify", None)
    return found


def commands_by_scope(sim) -> dict[tuple[str, str], int]:
    """How many commands each account and Region's own SSM lists (read with that account's credentials)."""
    return {(alias, region): len(sim.client("ssm", account=alias, region=region).list_commands()["Commands"]) for alias, region in SCOPES}


def test_a_rollout_promotes_across_accounts_and_regions_and_reports_where_everything_ran(run_rollout, demo_plan):
    with running(fleet(), seed=5, time_scale=600) as sim:
        run = run_rollout(sim, plan(demo_plan))
        sent = commands_by_scope(sim)
    report = run.report.to_json()
    stages = {stage["name"]: stage for stage in report["stages"]}
    where = {name: [(s["account_alias"], s["region"], s["targets"], s["verdict"]["passed"]) for s in stage["scopes"]] for name, stage in stages.items()}
    waves = {name: [(w["account"], w["region"], w["operation"], w["wave"]) for w in stage["waves"]] for name, stage in stages.items()}
    rows = {(row["account"], row["region"]) for stage in report["stages"] for wave in stage["waves"] for row in wave["instances"]}
    assert (run.state, report["outcome"], where, waves, rows, sent) == (
        "success", "promoted",
        {"dev": [("dev", "us-east-1", 2, True)], "test": [("test", "us-east-1", 2, True)],
         "prod": [("prod", "eu-west-1", 2, True), ("prod", "eu-central-1", 2, True)]},
        {"dev": [(DEV, "us-east-1", "Scan", 1), (DEV, "us-east-1", "Install", 1)], "test": [(TEST, "us-east-1", "Install", 1)],
         "prod": [(PROD, "eu-west-1", "Install", 1), (PROD, "eu-west-1", "Install", 2), (PROD, "eu-central-1", "Install", 1),
                  (PROD, "eu-central-1", "Install", 2)]},
        {(DEV, "us-east-1"), (TEST, "us-east-1"), (PROD, "eu-west-1"), (PROD, "eu-central-1")},
        {("dev", "us-east-1"): 2, ("test", "us-east-1"): 2, ("prod", "eu-west-1"): 2, ("prod", "eu-central-1"): 2},
    )


def test_a_block_in_prods_first_region_leaves_the_second_with_no_command(run_rollout, demo_plan):
    with running(fleet(prod_west_failure=1.0), seed=5, time_scale=600) as sim:
        run = run_rollout(sim, plan(demo_plan))
        sent = commands_by_scope(sim)
    assert (run.state, run.report.outcome.value, run.report.blocking_stage, run.report.reason.split(": install wave 1:")[0], sent) == (
        "failed", "blocked", "prod", "account prod (333333333333), Region eu-west-1",
        {("dev", "us-east-1"): 2, ("test", "us-east-1"): 2, ("prod", "eu-west-1"): 1, ("prod", "eu-central-1"): 0},
    )


def test_a_role_that_cannot_be_assumed_stops_the_run_naming_the_account_before_anything_is_sent(run_rollout, demo_plan):
    with running(fleet(), seed=5, time_scale=600) as sim:
        run = run_rollout(sim, plan(demo_plan, external_id="wrong"))
        sent = commands_by_scope(sim)
        calls = sim.api_calls()
    # Every account the run would patch is named, each with the stage that patches it, in one reason.
    denied = "run start: " + "; ".join(
        f"stage {stage} in account {alias} ({account}), Region {region}: cannot assume role arn:aws:iam::{account}:role/patchflow-target: AccessDenied: "
        f"User: arn:aws:sts::{HUB}:user/moto is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::{account}:role/patchflow-target"
        for stage, alias, account, region in (("dev", "dev", DEV, "us-east-1"), ("test", "test", TEST, "us-east-1"),
                                              ("prod", "prod", PROD, "eu-west-1"), ("prod", "prod", PROD, "eu-central-1"))
    )
    assert (run.state, run.report.outcome.value, run.report.blocking_stage, run.report.reason, sent, calls.get("ssm:SendCommand", 0)) == (
        "failed", "blocked", "dev", denied, {scope: 0 for scope in SCOPES}, 0)


def test_an_account_with_its_own_airflow_connection_is_patched_through_it(run_rollout, demo_plan, monkeypatch):
    one_stage = demo_plan(stages=[{"name": "prod", "patch_group": "prod", "targets": {"account": "prod", "regions": ["eu-central-1"]}}],
                          accounts={"list": [{"id": PROD, "alias": "prod", "connection": "aws_prod"}]})
    one_stage["defaults"] = {**one_stage["defaults"], "soak": "1s", "scan_first": False}
    with running(fleet(), seed=5, time_scale=600) as sim:
        keys = sim.credentials("prod")
        # An Airflow connection from the environment, as a deployment defines one (AIRFLOW_CONN_<ID> in JSON).
        monkeypatch.setenv("AIRFLOW_CONN_AWS_PROD", json.dumps({"conn_type": "aws", "login": keys["AccessKeyId"], "password": keys["SecretAccessKey"]}))
        run = run_rollout(sim, one_stage)
        sent = commands_by_scope(sim)
        assume_role_calls = sim.api_calls().get("sts:AssumeRole", 0)
    stage = run.report.to_json()["stages"][0]
    assert (run.state, [(s["account"], s["region"], s["targets"]) for s in stage["scopes"]], sent, assume_role_calls) == (
        "success", [(PROD, "eu-central-1", 2)],
        {("dev", "us-east-1"): 0, ("test", "us-east-1"): 0, ("prod", "eu-west-1"): 0, ("prod", "eu-central-1"): 1}, 0)
