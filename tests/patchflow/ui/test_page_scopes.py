"""The Patch rollouts page across accounts and Regions: groups read where a stage's targets are, a run's
stages broken down by account and Region, and where each plan's stages patch."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from patchflow.aws.scope_access import RoleNotAssumable
from patchflow.core.report import build_report
from patchflow.core.yamlfile import PROJECT_ROOT
from patchflow.ui import gather, model, render, scopes_model

NOW = datetime(2026, 12, 2, 12, 0, 0, tzinfo=timezone.utc)
DEV = {"label": "dev-us-east-1", "name": "account dev (111111111111), Region us-east-1", "account": "111111111111", "account_alias": "dev",
       "region": "us-east-1"}
WEST = {"label": "prod-eu-west-1", "name": "account prod (333333333333), Region eu-west-1", "account": "333333333333", "account_alias": "prod",
        "region": "eu-west-1"}
CENTRAL = {"label": "prod-eu-central-1", "name": "account prod (333333333333), Region eu-central-1", "account": "333333333333",
           "account_alias": "prod", "region": "eu-central-1"}
PLAN = {
    "name": "multi-account", "dag_id": "rollout_multi_account", "ledger_uri": "s3://ledger/runs",
    "stages": [
        {"name": "dev", "patch_group": "dev", "pin_to": None, "scopes": [DEV], "order": "parallel"},
        {"name": "prod", "patch_group": "prod", "pin_to": "dev", "scopes": [WEST, CENTRAL], "order": "one_at_a_time"},
    ],
}
# A plan without targets beside it: its groups stay in the connection's own account and Region.
SINGLE = {"name": "demo", "dag_id": "rollout_demo", "ledger_uri": "s3://ledger/runs",
          "stages": [{"name": "dev", "patch_group": "dev", "pin_to": None, "scopes": [], "order": "parallel"}]}
EMPTY_LEDGER = {"ok": True, "reports": [], "failures": []}


def where(scope: dict) -> dict:
    return {key: scope[key] for key in ("account", "account_alias", "region")}


def group_data(compliant: int, missing: int) -> dict:
    ids = [f"i-{n}" for n in range(compliant + missing)]
    at = (NOW - timedelta(minutes=5)).isoformat()
    return {
        "members": [{"instance_id": i, "operating_system": "UBUNTU", "ping_status": "Online"} for i in ids],
        "states": {i: {"MissingCount": 0 if n < compliant else 2, "BaselineId": "pb-u", "OperationEndTime": at} for n, i in enumerate(ids)},
        "baselines": {"UBUNTU": {"id": "pb-u", "name": "prod-ubuntu", "default": False}},
    }


ACCESS_DENIED = ("cannot assume role arn:aws:iam::333333333333:role/patchflow-target: AccessDenied: User: arn:aws:iam::123456789012:user/page "
                 "is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::333333333333:role/patchflow-target")
SCOPED_FLEETS = [
    {"ok": True, **where(DEV), "groups": {"dev": group_data(3, 1)}},
    {"ok": False, **where(WEST), "failure": {"kind": "no_permission", "where": WEST["name"], "detail": ACCESS_DENIED}},
    {"ok": True, **where(CENTRAL), "groups": {"prod": group_data(2, 0)}},
]


# --------------------------------------------------------------------------- which groups are read where


def test_each_account_and_region_is_read_once_for_the_groups_the_stages_patch_there():
    other = {**PLAN, "name": "canary", "stages": [{"name": "canary", "patch_group": "canary", "pin_to": None, "scopes": [CENTRAL], "order": "parallel"},
                                                  {"name": "again", "patch_group": "prod", "pin_to": None, "scopes": [CENTRAL], "order": "parallel"}]}
    assert scopes_model.scopes_to_read([PLAN, SINGLE, other]) == [
        {"scope": DEV, "groups": [{"name": "dev", "used_by": ["multi-account/dev"]}]},
        {"scope": WEST, "groups": [{"name": "prod", "used_by": ["multi-account/prod"]}]},
        {"scope": CENTRAL, "groups": [{"name": "prod", "used_by": ["multi-account/prod", "canary/again"]},
                                      {"name": "canary", "used_by": ["canary/canary"]}]},
    ]


def test_the_connections_own_account_is_read_only_for_stages_without_targets():
    assert model.ordered_groups([PLAN, SINGLE], ["legacy"]) == [{"name": "dev", "used_by": ["demo/dev"]}, {"name": "legacy", "used_by": []}]


# --------------------------------------------------------------------------- the groups table


def test_each_account_and_region_has_its_section_and_one_that_could_not_be_read_says_why_in_one_line():
    sections = scopes_model.scope_sections([PLAN], SCOPED_FLEETS, NOW)
    dev_row = model.group_summary("dev", **{k: v for k, v in group_data(3, 1).items()}, now=NOW, used_by=["multi-account/dev"])
    prod_row = model.group_summary("prod", **{k: v for k, v in group_data(2, 0).items()}, now=NOW, used_by=["multi-account/prod"])
    assert sections == [
        {"label": "dev-us-east-1", "title": "account dev (111111111111), Region us-east-1", **where(DEV), "groups": [dev_row], "failure": None},
        {"label": "prod-eu-west-1", "title": "account prod (333333333333), Region eu-west-1", **where(WEST), "groups": [],
         "failure": f"account prod (333333333333), Region eu-west-1 could not be read: no permission: {ACCESS_DENIED}"},
        {"label": "prod-eu-central-1", "title": "account prod (333333333333), Region eu-central-1", **where(CENTRAL), "groups": [prod_row], "failure": None},
    ]
    assert [(row["name"], row["instances"], row["compliant"], row["non_compliant"]) for row in (dev_row, prod_row)] == [("dev", 4, 3, 1), ("prod", 2, 2, 0)]


@pytest.mark.parametrize(
    "failure, line",
    [
        pytest.param({"kind": "unreachable", "detail": "no connection could be made"},
                     "account dev (111111111111), Region us-east-1 could not be read: unreachable: no connection could be made", id="unreachable"),
        pytest.param({"kind": "not_configured", "detail": "Unable to locate credentials"},
                     "account dev (111111111111), Region us-east-1 could not be read: no AWS credentials or Region: Unable to locate credentials",
                     id="no-credentials"),
        pytest.param({"kind": "throttled", "detail": "ThrottlingException: Rate exceeded"},
                     "account dev (111111111111), Region us-east-1 could not be read: throttled: ThrottlingException: Rate exceeded", id="throttled"),
        pytest.param({"kind": "error", "detail": ""}, "account dev (111111111111), Region us-east-1 could not be read: error: no reason given", id="no-detail"),
    ],
)
def test_the_line_for_an_account_and_region_that_could_not_be_read(failure, line):
    assert scopes_model.failure_line(DEV["name"], failure) == line


def test_a_page_with_targets_shows_the_connections_own_groups_and_each_account_and_region_apart():
    own = {"ok": True, "region": "us-east-1", "registered": [], "groups": {"dev": group_data(1, 0)}}
    page = model.build_page(plans=[PLAN, SINGLE], fleet=own, ledger=EMPTY_LEDGER, now=NOW, scoped_fleets=SCOPED_FLEETS)
    assert ([g["name"] for g in page["groups"]], page["scoped"], [(s["label"], [g["name"] for g in s["groups"]]) for s in page["scoped_groups"]]) == (
        ["dev"], True, [("dev-us-east-1", ["dev"]), ("prod-eu-west-1", []), ("prod-eu-central-1", ["prod"])],
    )
    html = render.render_page(page)
    headings = re.findall(r"<h3 class='scope'>([^<]*)</h3>", html)
    assert headings == ["The connection's own account, Region us-east-1", DEV["name"], WEST["name"], CENTRAL["name"]]
    assert re.findall(r"<table class='groups' data-scope='([^']*)'>", html) == ["dev-us-east-1", "prod-eu-central-1"]
    assert re.findall(r"<p class='scope-failure'>([^<]*)</p>", html) == [
        f"account prod (333333333333), Region eu-west-1 could not be read: no permission: {ACCESS_DENIED}"]
    assert html.count("<table id='groups'>") == 1


def test_when_the_connections_own_account_cannot_be_read_the_other_accounts_still_show():
    down = {"ok": False, "region": "us-east-1", "failure": {"kind": "unreachable", "where": "http://127.0.0.1:1", "detail": "no connection could be made"}}
    page = model.build_page(plans=[PLAN], fleet=down, ledger=EMPTY_LEDGER, now=NOW, scoped_fleets=SCOPED_FLEETS)
    html = render.render_page(page)
    assert ([n["title"] for n in page["notices"]], "Patch group figures are unavailable for the connection's own account: see the notice above." in html,
            re.findall(r"<table class='groups' data-scope='([^']*)'>", html), "<table id='groups'>" in html) == (
        ["The fleet is unreachable", "No rollouts yet"], True, ["dev-us-east-1", "prod-eu-central-1"], False,
    )


def test_a_page_without_targets_has_no_sections_by_account_and_region():
    own = {"ok": True, "region": "us-east-1", "registered": [], "groups": {"dev": group_data(1, 0)}}
    page = model.build_page(plans=[SINGLE], fleet=own, ledger=EMPTY_LEDGER, now=NOW)
    html = render.render_page(page)
    assert (page["scoped"], page["scoped_groups"], page["promotions"][0]["where"], re.findall(r"class='(?:scope|groups|meta where)'|data-scope", html)) == (
        False, [], [], [])


# --------------------------------------------------------------------------- where each plan's stages patch


def test_each_stage_with_targets_says_where_it_patches_and_in_what_order():
    page = model.build_page(plans=[PLAN, SINGLE], fleet={"ok": True, "region": "us-east-1", "registered": [], "groups": {}}, ledger=EMPTY_LEDGER, now=NOW)
    assert [(p["plan"], p["where"]) for p in page["promotions"]] == [
        ("multi-account", [
            {"stage": "dev", "labels": ["dev-us-east-1"], "names": [DEV["name"]], "order": ""},
            {"stage": "prod", "labels": ["prod-eu-west-1", "prod-eu-central-1"], "names": [WEST["name"], CENTRAL["name"]], "order": "one at a time"},
        ]),
        ("demo", []),
    ]
    html = render.render_page(page)
    places = html.split("<div class='meta where'>")[1].split("</div>")[0]
    assert re.sub(r"<[^>]*>", "", places) == "dev patches dev-us-east-1; prod patches prod-eu-west-1, prod-eu-central-1 (one at a time)"


def test_stages_side_by_side_say_so():
    side_by_side = {**PLAN, "stages": [{**PLAN["stages"][1], "order": "parallel"}]}
    assert scopes_model.plan_where(side_by_side)[0]["order"] == "in parallel"


# --------------------------------------------------------------------------- a run's stages by account and Region


def record(kind: str, second: int, **fields) -> dict:
    return {"kind": kind, "at": f"2026-12-02T10:00:{second:02d}Z", "dag_id": "rollout_multi_account", "run_id": "manual__1", **fields}


def verdict(passed: bool, reason: str, targets: int, failed: int = 0) -> dict:
    return {"passed": passed, "reasons": [reason], "counts": {"targets": targets, "succeeded": targets - failed, "failed": failed}}


def records_of_a_run_blocked_in_one_region() -> list[dict]:
    west, central = where(WEST), where(CENTRAL)
    return [
        record("run_started", 0, plan="multi-account", stages=["prod"], all_stages=["prod"], dry_run=False, change_ticket="", params={}),
        record("preflight", 1, stage="prod", patch_group="prod", targets=[{}, {}], offline=[], **west),
        record("wave_result", 2, stage="prod", wave=1, operation="Install", command_ids=["cmd-west-1"], instances=[{}, {}],
               verdict=verdict(True, "2 of 2 succeeded", 2), **west),
        record("stage_verdict", 3, stage="prod", verdict=verdict(True, "2 of 2 succeeded", 2), **west),
        record("preflight", 4, stage="prod", patch_group="prod", targets=[{}, {}, {}], offline=[], **central),
        record("wave_result", 5, stage="prod", wave=1, operation="Install", command_ids=["cmd-central-1"], instances=[{}, {}, {}],
               verdict=verdict(False, "1 of 3 failed (limit 0)", 3, failed=1), **central),
        record("stage_verdict", 6, stage="prod", verdict=verdict(False, "1 of 3 failed (limit 0)", 3, failed=1), **central),
        record("stage_verdict", 7, stage="prod", verdict=verdict(False, "account prod (333333333333), Region eu-central-1: 1 of 3 failed (limit 0)", 5, failed=1)),
        record("run_finished", 8, outcome="blocked", blocking_stage="prod", reason="account prod (333333333333), Region eu-central-1: 1 of 3 failed (limit 0)"),
    ]


def console(region: str, command_id: str) -> str:
    return f"https://{region}.console.aws.amazon.com/systems-manager/run-command/{command_id}?region={region}"


def test_a_stage_with_targets_has_a_row_per_account_and_region_with_its_own_verdict_and_waves():
    summary = model.run_summary(build_report(records_of_a_run_blocked_in_one_region()), PLAN, base_url="", region="us-east-1")
    stage = summary["stages"][0]
    assert ({key: stage[key] for key in ("name", "state", "gate", "reasons", "targets", "succeeded", "failed", "waves")}, stage["scopes"]) == (
        {"name": "prod", "state": "blocked", "gate": "BLOCK", "reasons": ["account prod (333333333333), Region eu-central-1: 1 of 3 failed (limit 0)"],
         "targets": 5, "succeeded": 4, "failed": 1, "waves": []},
        [
            {"account": "333333333333", "account_alias": "prod", "region": "eu-west-1", "where": "prod (333333333333), eu-west-1", "targets": 2,
             "gate": "PASS", "reasons": ["2 of 2 succeeded"],
             "waves": [{"label": "Install wave 1", "targets": 2, "verdict": "PASS", "reasons": ["2 of 2 succeeded"],
                        "commands": [{"id": "cmd-west-1", "short": "cmd-west", "url": console("eu-west-1", "cmd-west-1")}], "more_commands": 0}]},
            {"account": "333333333333", "account_alias": "prod", "region": "eu-central-1", "where": "prod (333333333333), eu-central-1", "targets": 3,
             "gate": "BLOCK", "reasons": ["1 of 3 failed (limit 0)"],
             "waves": [{"label": "Install wave 1", "targets": 3, "verdict": "BLOCK", "reasons": ["1 of 3 failed (limit 0)"],
                        "commands": [{"id": "cmd-central-1", "short": "cmd-cent", "url": console("eu-central-1", "cmd-central-1")}], "more_commands": 0}]},
        ],
    )


def test_the_rendered_run_shows_a_sub_row_per_account_and_region():
    ledger = {"ok": True, "reports": [build_report(records_of_a_run_blocked_in_one_region())], "failures": []}
    html = render.render_page(model.build_page(plans=[PLAN], fleet={"ok": True, "region": "us-east-1", "registered": [], "groups": {}}, ledger=ledger, now=NOW))
    rows = re.findall(r"<tr class='scope' data-stage='prod' data-account='(\d+)' data-region='([a-z0-9-]+)'><td class='scope'>([^<]*)</td>.*?"
                      r"<span class='gate-(\w+)'>.*?<td class='num'>(\d+)</td>.*?href='([^']*)'", html)
    assert rows == [
        ("333333333333", "eu-west-1", "prod (333333333333), eu-west-1", "PASS", "2", console("eu-west-1", "cmd-west-1")),
        ("333333333333", "eu-central-1", "prod (333333333333), eu-central-1", "BLOCK", "3", console("eu-central-1", "cmd-central-1")),
    ]
    assert "by account and Region below" in html


@pytest.mark.parametrize(
    "account, alias, region, name",
    [
        pytest.param("333333333333", "prod", "eu-west-1", "prod (333333333333), eu-west-1", id="alias-and-id"),
        pytest.param("333333333333", None, "eu-west-1", "333333333333, eu-west-1", id="id-only"),
        pytest.param(None, None, "eu-west-1", "own account, eu-west-1", id="own-account-other-region"),
        pytest.param("333333333333", "prod", None, "prod (333333333333)", id="no-region"),
    ],
)
def test_how_a_row_names_an_account_and_region(account, alias, region, name):
    from patchflow.ui.stage_model import where_name

    assert where_name(account, alias, region) == name


# --------------------------------------------------------------------------- everything new arrives as text


HOSTILE = "<img src=x onerror=alert(1)>"
ESCAPED = "&lt;img src=x onerror=alert(1)&gt;"


def _hostile_scope() -> dict:
    return {"label": HOSTILE, "name": f"account {HOSTILE}", "account": HOSTILE, "account_alias": HOSTILE, "region": HOSTILE}


@pytest.mark.parametrize(
    "case",
    ["scope", "failure", "order", "run"],
)
def test_every_new_value_is_escaped(case):
    scope = _hostile_scope() if case == "scope" else DEV
    plan = {**PLAN, "stages": [{"name": "dev", "patch_group": "dev", "pin_to": None, "scopes": [scope], "order": HOSTILE if case == "order" else "parallel"},
                               {"name": "prod", "patch_group": "prod", "pin_to": None, "scopes": [WEST, CENTRAL], "order": HOSTILE if case == "order" else "parallel"}]}
    fleets = [{"ok": True, **where(scope), "groups": {"dev": group_data(1, 0)}},
              {"ok": False, **where(WEST), "failure": {"kind": HOSTILE if case == "failure" else "error", "detail": HOSTILE if case == "failure" else "x"}}]
    reports = []
    if case == "run":
        records = records_of_a_run_blocked_in_one_region()
        for r in records:
            if r.get("region") == "eu-central-1":
                r.update(account=HOSTILE, account_alias=HOSTILE, region=HOSTILE)
            if r["kind"] == "stage_verdict" and r.get("region"):
                r["verdict"]["reasons"] = [HOSTILE]
        reports = [build_report(records)]
    page = model.build_page(plans=[plan], fleet={"ok": True, "region": "us-east-1", "registered": [], "groups": {}},
                            ledger={"ok": True, "reports": reports, "failures": []}, now=NOW, scoped_fleets=fleets)
    html = render.render_page(page)
    assert (HOSTILE in html, ESCAPED in html) == (False, True)


# --------------------------------------------------------------------------- reading them


def test_a_plan_read_for_the_page_lists_each_stages_accounts_and_regions_and_how_the_page_reaches_them(tmp_path):
    (tmp_path / "multi-account.yaml").write_text((PROJECT_ROOT / "include" / "rollouts" / "multi-account.yaml").read_text())
    plans, problems = gather.read_plans(tmp_path)

    def access(account: str, region: str) -> dict:
        return {"region": region, "role_arn": f"arn:aws:iam::{account}:role/patchflow-target", "external_id": "patchflow",
                "session_name": "patchflow-rollouts-page", "connection_id": None, "account_id": account}

    assert (problems, [(s["name"], s["scopes"], s["order"]) for s in plans[0]["stages"]]) == ([], [
        ("dev", [{**DEV, "access": access("111111111111", "us-east-1")}], "parallel"),
        ("test", [{"label": "test-us-east-1", "name": "account test (222222222222), Region us-east-1", "account": "222222222222",
                   "account_alias": "test", "region": "us-east-1", "access": access("222222222222", "us-east-1")}], "parallel"),
        ("prod", [{**WEST, "access": access("333333333333", "eu-west-1")}, {**CENTRAL, "access": access("333333333333", "eu-central-1")}], "one_at_a_time"),
    ])


class FakeSsm:
    """One patch group with one instance, whatever the account and Region."""

    def describe_patch_groups(self, **kwargs):
        return {"Mappings": []}

    def describe_instance_information(self, Filters, **kwargs):
        return {"InstanceInformationList": [{"InstanceId": "i-1", "PlatformType": "Linux", "PlatformName": "Ubuntu", "PlatformVersion": "22.04", "PingStatus": "Online"}]}

    def describe_instance_patch_states(self, InstanceIds, **kwargs):
        return {"InstancePatchStates": []}

    def get_patch_baseline_for_patch_group(self, PatchGroup, OperatingSystem):
        return {"BaselineId": "pb-default"}


def test_an_account_and_region_that_cannot_be_reached_is_a_failure_beside_the_others():
    def client_for(service, access):
        if access["region"] == "eu-west-1":
            raise EndpointConnectionError(endpoint_url="https://ssm.eu-west-1.amazonaws.com/")
        return FakeSsm()

    plan = {**PLAN, "stages": [{**stage, "scopes": [{**scope, "access": {"region": scope["region"]}} for scope in stage["scopes"]]} for stage in PLAN["stages"]]}
    group = {"members": [{"instance_id": "i-1", "operating_system": "UBUNTU", "ping_status": "Online"}], "states": {},
             "baselines": {"UBUNTU": {"id": "pb-default", "name": "", "default": True}}}
    assert gather.read_scoped_fleet([plan, SINGLE], client_for) == [
        {"ok": True, **where(DEV), "groups": {"dev": group}},
        {"ok": False, **where(WEST), "failure": {"kind": "unreachable", "where": WEST["name"], "detail": "no connection could be made"}},
        {"ok": True, **where(CENTRAL), "groups": {"prod": group}},
    ]
    assert gather.read_scoped_fleet([SINGLE], client_for) == []


@pytest.mark.parametrize(
    "cause, kind",
    [
        pytest.param(ClientError({"Error": {"Code": "AccessDenied", "Message": "not authorized"}}, "AssumeRole"), "no_permission", id="refused"),
        pytest.param(EndpointConnectionError(endpoint_url="https://sts.amazonaws.com/"), "unreachable", id="unreachable"),
        pytest.param(None, "error", id="no-cause"),
    ],
)
def test_a_role_that_cannot_be_assumed_is_worded_by_what_sts_answered(cause, kind):
    try:
        raise RoleNotAssumable("cannot assume role arn:aws:iam::333333333333:role/patchflow-target: the answer") from cause
    except RoleNotAssumable as exc:
        assert gather.classify_failure(exc, WEST["name"]) == {
            "kind": kind, "where": WEST["name"], "detail": "cannot assume role arn:aws:iam::333333333333:role/patchflow-target: the answer"}


@pytest.mark.fleetsim
def test_the_multi_account_fleet_read_in_each_account_and_region_and_a_refused_role_named_beside_them(tmp_path, monkeypatch):
    from fleetsim import running
    from patchflow.aws.scope_access import forget_assumed_credentials

    (tmp_path / "multi-account.yaml").write_text((PROJECT_ROOT / "include" / "rollouts" / "multi-account.yaml").read_text())
    plans, _ = gather.read_plans(tmp_path)
    # The prod role's trust asks for external id `patchflow`: with another, STS refuses the page in eu-west-1 only.
    prod = plans[0]["stages"][2]
    prod["scopes"][0]["access"]["external_id"] = "not-the-one"
    forget_assumed_credentials()
    with running(str(PROJECT_ROOT / "include" / "fleets" / "multi-account.yaml"), seed=7) as sim:
        for name, value in sim.env().items():
            monkeypatch.setenv(name, value)
        monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
        scoped = gather.read_scoped_fleet(plans)
    forget_assumed_credentials()
    page = model.build_page(plans=plans, fleet={"ok": True, "region": "us-east-1", "registered": [], "groups": {}}, ledger=EMPTY_LEDGER, now=NOW,
                            scoped_fleets=scoped)
    everywhere = ["AMAZON_LINUX_2023", "UBUNTU", "WINDOWS"]
    refused = ("account prod (333333333333), Region eu-west-1 could not be read: no permission: cannot assume role "
               "arn:aws:iam::333333333333:role/patchflow-target: AccessDenied: User: arn:aws:sts::123456789012:user/moto is not authorized "
               "to perform: sts:AssumeRole on resource: arn:aws:iam::333333333333:role/patchflow-target")
    assert [(s["label"], s["failure"], [(g["name"], g["instances"], g["operating_systems"], g["used_by"]) for g in s["groups"]])
            for s in page["scoped_groups"]] == [
        ("dev-us-east-1", None, [("dev", 7, everywhere, ["multi-account/dev"])]),
        ("test-us-east-1", None, [("test", 7, everywhere, ["multi-account/test"])]),
        ("prod-eu-west-1", refused, []),
        ("prod-eu-central-1", None, [("prod", 7, everywhere, ["multi-account/prod"])]),
    ]


def test_the_page_reads_the_accounts_and_regions_of_the_plans_the_person_may_read(tmp_path, monkeypatch):
    from types import SimpleNamespace

    from fastapi.testclient import TestClient

    from patchflow.ui import app as page_app

    for name in ("demo.yaml", "multi-account.yaml"):
        (tmp_path / name).write_text((PROJECT_ROOT / "include" / "rollouts" / name).read_text())
    monkeypatch.setenv("PATCHFLOW_ROLLOUTS_DIR", str(tmp_path))
    readable = {"rollout_multi_account"}
    manager = SimpleNamespace(is_authorized_dag=lambda *, method, access_entity, details, user: details.id in readable)
    monkeypatch.setattr("airflow.api_fastapi.app.get_auth_manager", lambda: manager)
    monkeypatch.setattr(page_app.gather, "page_client", lambda service: SimpleNamespace(service=service))
    monkeypatch.setattr(page_app.gather, "read_fleet", lambda ssm, plans: {"ok": True, "region": "us-east-1", "registered": [], "groups": {}})
    monkeypatch.setattr(page_app.gather, "read_ledgers", lambda plans, **kwargs: EMPTY_LEDGER)
    asked = []

    def read_scoped_fleet(plans):
        asked.append([plan["name"] for plan in plans])
        return [{"ok": False, **where(DEV), "failure": {"kind": "no_permission", "where": DEV["name"], "detail": "AccessDenied: not this time"}}]

    monkeypatch.setattr(page_app.gather, "read_scoped_fleet", read_scoped_fleet)
    application = page_app.create_app()
    application.dependency_overrides[page_app.caller] = lambda: SimpleNamespace(get_name=lambda: "ann")
    response = TestClient(application).get("/")
    assert (response.status_code, asked, re.findall(r"<p class='scope-failure'>([^<]*)</p>", response.text)) == (
        200, [["multi-account"]], ["account dev (111111111111), Region us-east-1 could not be read: no permission: AccessDenied: not this time"],
    )


@pytest.mark.parametrize(
    "access, expected",
    [
        pytest.param(None, ("page", "ssm", None), id="own-account"),
        pytest.param({"region": "eu-west-1"}, ("page", "ssm", "eu-west-1"), id="own-account-other-region"),
        pytest.param({"region": "eu-west-1", "connection_id": "aws_prod", "account_id": "333333333333"},
                     ("airflow", "ssm", None, "eu-west-1", {"region": "eu-west-1", "role_arn": None, "external_id": None, "session_name": None,
                                                           "connection_id": "aws_prod", "account_id": "333333333333"}),
                     id="own-airflow-connection"),
    ],
)
def test_an_account_with_its_own_connection_is_reached_through_airflow_as_the_rollout_reaches_it(monkeypatch, access, expected):
    from patchflow.rollout import triggers

    monkeypatch.setattr(gather, "page_client", lambda service, region_name=None: ("page", service, region_name))
    monkeypatch.setattr(triggers, "aws_client_for", lambda service, conn_id, region, config=None, access=None: ("airflow", service, conn_id, region, access))
    assert gather.scope_client("ssm", access) == expected
