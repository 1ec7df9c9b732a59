"""Reading the page's sources: failures worded for people, ledger listings, a real file ledger, a fake SSM."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from botocore.exceptions import ClientError, ConnectTimeoutError, EndpointConnectionError, NoCredentialsError, NoRegionError

from patchflow.aws.ledger import RunLedger, open_store
from patchflow.aws.release_store import ReleaseStore
from patchflow.core.releases import Release, ReleaseEvent, ReleaseEventKind, release_id_for
from patchflow.core.report_records import Report, RunOutcome, Stage
from patchflow.core.yamlfile import PROJECT_ROOT
from patchflow.ui import gather
from patchflow.ui.releases_model import standing_data


def client_error(code: str, message: str = "") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, "DescribeInstanceInformation")


@pytest.mark.parametrize(
    "exc, expected",
    [
        (EndpointConnectionError(endpoint_url="http://127.0.0.1:5"), {"kind": "unreachable", "where": "http://x", "detail": "no connection could be made"}),
        (ConnectTimeoutError(endpoint_url="http://127.0.0.1:5"), {"kind": "unreachable", "where": "http://x", "detail": "the connection timed out"}),
        (NoCredentialsError(), {"kind": "not_configured", "where": "http://x", "detail": "Unable to locate credentials"}),
        (NoRegionError(), {"kind": "not_configured", "where": "http://x", "detail": "You must specify a region."}),
        (client_error("AccessDeniedException", "User is not authorized to perform: ssm:DescribeInstanceInformation"), {"kind": "no_permission", "where": "http://x", "detail": "AccessDeniedException: User is not authorized to perform: ssm:DescribeInstanceInformation"}),
        (client_error("AccessDenied", "Access Denied"), {"kind": "no_permission", "where": "http://x", "detail": "AccessDenied: Access Denied"}),
        (client_error("UnrecognizedClientException", "The security token included in the request is invalid."), {"kind": "no_permission", "where": "http://x", "detail": "UnrecognizedClientException: The security token included in the request is invalid."}),
        (client_error("ThrottlingException", "Rate exceeded"), {"kind": "throttled", "where": "http://x", "detail": "ThrottlingException: Rate exceeded"}),
        (client_error("NoSuchBucket", "The specified bucket does not exist"), {"kind": "missing", "where": "http://x", "detail": "NoSuchBucket: The specified bucket does not exist"}),
        (client_error("InternalServerError"), {"kind": "error", "where": "http://x", "detail": "InternalServerError"}),
        (ValueError("bad json\nline two"), {"kind": "error", "where": "http://x", "detail": "ValueError: bad json"}),
    ],
)
def test_failures_are_classified_for_people(exc, expected):
    assert gather.classify_failure(exc, "http://x") == expected


def test_runs_in_a_ledger_listing_newest_first_with_their_reports_and_page_files():
    keys = [
        "rollout_demo/manual__a/records/2026-11-29T014601.821465Z-run_started-7a84b2fc.json",
        "rollout_demo/manual__a/records/2026-11-29T014700.000001Z-run_finished-11111111.json",
        "rollout_demo/manual__a/report.json",
        "rollout_demo/manual__a/page.json",
        "rollout_demo/manual__a/manifest/manifest.json",
        "rollout_demo/manual__b/records/2026-11-30T080000.5Z-run_started-22222222.json",
        "rollout_weekly/scheduled__c/records/2026-11-28T000000Z-run_started-33333333.json",
        "stray-object.txt",
    ]
    assert gather.runs_in_keys(keys) == [
        {"dag": "rollout_demo", "run": "manual__b", "first_at": datetime(2026, 11, 30, 8, 0, tzinfo=timezone.utc), "has_report": False, "has_page": False},
        {"dag": "rollout_demo", "run": "manual__a", "first_at": datetime(2026, 11, 29, 1, 46, 1, tzinfo=timezone.utc), "has_report": True, "has_page": True},
        {"dag": "rollout_weekly", "run": "scheduled__c", "first_at": datetime(2026, 11, 28, tzinfo=timezone.utc), "has_report": False, "has_page": False},
    ]


def _plan(ledger_uri: str, name: str = "demo") -> dict:
    return {"name": name, "dag_id": f"rollout_{name}", "ledger_uri": ledger_uri, "stages": [{"name": "dev", "patch_group": "dev", "pin_to": None}]}


def test_read_ledgers_from_a_real_file_ledger(tmp_path):
    uri = f"file://{tmp_path}/ledger"
    store = open_store(uri)
    running = RunLedger(store, "rollout_demo", "manual__running")
    running.append("run_started", plan="demo", stages=["dev"], all_stages=["dev"], dry_run=False, change_ticket="", params={})
    finished = RunLedger(store, "rollout_demo", "manual__done")
    finished.put_artifact("report.json", json.dumps(Report(plan="demo", dag_id="rollout_demo", run_id="manual__done", outcome=RunOutcome.PROMOTED).to_json()), "application/json")
    finished.append("run_started", plan="demo", stages=["dev"], all_stages=["dev"], dry_run=False, change_ticket="", params={})
    hidden = RunLedger(store, "rollout_secret", "manual__x")
    hidden.append("run_started", plan="secret", stages=["dev"], all_stages=["dev"], dry_run=False, change_ticket="", params={})

    result = gather.read_ledgers([_plan(uri)], readable_dag_ids=["rollout_demo"])
    assert result["ok"] and result["failures"] == []
    by_run = {r.run_id: r for r in result["reports"]}
    assert sorted(by_run) == ["manual__done", "manual__running"]
    assert by_run["manual__done"].outcome == "promoted"  # its report.json, not rebuilt
    assert (by_run["manual__running"].outcome, [s.name for s in by_run["manual__running"].stages]) == ("running", ["dev"])

    assert len(gather.read_ledgers([_plan(uri)], limit=1)["reports"]) == 1
    assert {r.run_id for r in gather.read_ledgers([_plan(uri)])["reports"]} == {"manual__done", "manual__running", "manual__x"}


def test_a_report_json_of_another_shape_is_a_failure_naming_the_file_and_the_other_runs_still_show(tmp_path):
    uri = f"file://{tmp_path}/ledger"
    store = open_store(uri)
    broken = RunLedger(store, "rollout_demo", "manual__broken")
    broken.append("run_started", plan="demo", stages=["dev"], all_stages=["dev"], dry_run=False, change_ticket="", params={})
    stored = Report(plan="demo", dag_id="rollout_demo", run_id="manual__broken", outcome=RunOutcome.PROMOTED, stages=(Stage("dev"),)).to_json()
    stored["outcome"], stored["stages"][0]["targets"] = "done", "two"
    broken.put_artifact("report.json", json.dumps(stored), "application/json")
    RunLedger(store, "rollout_demo", "manual__running").append("run_started", plan="demo", stages=["dev"], all_stages=["dev"], dry_run=False, change_ticket="", params={})

    result = gather.read_ledgers([_plan(uri)])
    file = f"{tmp_path.as_uri()}/ledger/rollout_demo/manual__broken/report.json"
    assert ([r.run_id for r in result["reports"]], result["failures"]) == (["manual__running"], [{
        "kind": "error",
        "where": "rollout_demo/manual__broken",
        "detail": f"{file}: outcome: expected one of 'running', 'promoted', 'blocked', 'failed', 'skipped', 'dry_run', got 'done'; {file}: stages[0].targets: expected an integer, got 'two'",
    }])


class Unreachable:
    def list_objects_v2(self, **kwargs):
        raise EndpointConnectionError(endpoint_url="http://127.0.0.1:1")

    def get_paginator(self, name):
        outer = self

        class Pages:
            def paginate(self, **kwargs):
                outer.list_objects_v2(**kwargs)

        return Pages()


class NoBucket(Unreachable):
    def list_objects_v2(self, **kwargs):
        raise client_error("NoSuchBucket", "The specified bucket does not exist")


@pytest.mark.parametrize(
    "client, expected",
    [
        (Unreachable(), {"ok": False, "failure": {"kind": "unreachable", "where": "s3://ledger/a, s3://ledger/b", "detail": "no connection could be made"}, "failures": []}),
        (NoBucket(), {"ok": True, "reports": [], "waits": {}, "attention": {}, "failures": [
            {"kind": "missing", "where": "s3://ledger/a", "detail": "NoSuchBucket: The specified bucket does not exist"},
            {"kind": "missing", "where": "s3://ledger/b", "detail": "NoSuchBucket: The specified bucket does not exist"},
        ], "releases": {}, "release_failures": []}),
    ],
)
def test_read_ledgers_reports_failures_instead_of_raising(client, expected):
    plans = [_plan("s3://ledger/a"), _plan("s3://ledger/b", "weekly")]
    assert gather.read_ledgers(plans, s3_client_factory=lambda: client) == expected


def _pinned_plan(ledger_uri: str, name: str) -> dict:
    return {**_plan(ledger_uri, name), "stages": [
        {"name": "dev", "patch_group": "dev", "pin_to": None, "after_stage": None},
        {"name": "test", "patch_group": "test", "pin_to": "dev", "after_stage": "dev"},
    ]}


def _release(plan: str, created: datetime) -> Release:
    content_hash = plan.encode().hex().ljust(64, "0")
    return Release(
        id=release_id_for(content_hash), plan=plan, source_stage="dev", source_dag_id=f"rollout_{plan}", source_run_id="manual__1",
        created_at=created, content_hash=content_hash, size=4, manifest_location="file:///m.json", override_lists={"UBUNTU": "file:///u.yaml"},
    )


def test_read_ledgers_reads_each_pinned_plans_releases_from_its_ledger(tmp_path):
    uri = f"file://{tmp_path}/ledger"
    store = open_store(uri)
    created = datetime(2026, 12, 12, 2, 0, tzinfo=timezone.utc)
    demo, secret = _release("demo", created), _release("secret", created)
    proved = ReleaseEvent(demo.id, ReleaseEventKind.PASSED, created, stage="dev", run_id="manual__1")
    blocked = ReleaseEvent(demo.id, ReleaseEventKind.BLOCKED, created + timedelta(hours=3), stage="test", run_id="manual__2")
    ReleaseStore(store, "demo").record(demo, proved)
    ReleaseStore(store, "demo").add_event(blocked)
    ReleaseStore(store, "secret").record(secret, ReleaseEvent(secret.id, ReleaseEventKind.PASSED, created, stage="dev"))
    store.put(f"releases/broken/{demo.id}/release.json", b"{not json", "application/json")
    plans = [_pinned_plan(uri, "demo"), _plan(uri, "unpinned"), _pinned_plan(uri, "secret"), _pinned_plan(uri, "broken"),
             _pinned_plan(f"file://{tmp_path}/nowhere", "new"), _pinned_plan("s3://ledger/down", "down")]

    readable = ["rollout_demo", "rollout_unpinned", "rollout_broken", "rollout_new", "rollout_down"]
    result = gather.read_ledgers(plans, readable_dag_ids=readable, s3_client_factory=Unreachable)
    # the unreachable ledger is one notice already, for its runs; its plan's releases are left out, not a second notice
    assert (result["reports"], result["failures"]) == ([], [{"kind": "unreachable", "where": "s3://ledger/down", "detail": "no connection could be made"}])
    assert result["releases"] == {
        "demo": [{
            "release": demo.to_json(),
            "passed": {"dev": proved.to_json()},
            "blocked": {"test": blocked.to_json()},
            "hold": None,
            "revocation": None,
        }],
        "new": [],  # a ledger with nothing in it yet holds no release
    }
    assert result["release_failures"] == [
        {"kind": "error", "where": uri, "detail": "JSONDecodeError: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)", "plan": "broken"},
    ]
    assert result["releases"]["demo"] == [standing_data(s) for s in ReleaseStore(store, "demo").standings()]


def test_a_plan_read_for_the_page_names_the_stage_each_pinned_stage_waits_for(tmp_path):
    (tmp_path / "demo.yaml").write_text((PROJECT_ROOT / "include" / "rollouts" / "demo.yaml").read_text())
    plans, problems = gather.read_plans(tmp_path)
    assert (problems, [plan["stages"] for plan in plans]) == ([], [[
        {"name": "dev", "patch_group": "dev", "pin_to": None, "after_stage": None, "next_run": None, "scopes": [], "order": "parallel"},
        {"name": "test", "patch_group": "test", "pin_to": "dev", "after_stage": "dev", "next_run": None, "scopes": [], "order": "parallel"},
        {"name": "prod", "patch_group": "prod", "pin_to": "dev", "after_stage": "test", "next_run": None, "scopes": [], "order": "parallel"},
    ]])


def test_a_plan_on_a_calendar_says_when_each_stage_is_next_patched():
    from patchflow.core.plan import load_plan

    monthly = load_plan(PROJECT_ROOT / "include" / "rollouts" / "monthly.yaml")
    # Tue 1 Dec 2026: Patch Tuesday is the 8th; dev runs that evening, test on the 15th, prod on the 22nd (Berlin time).
    view = gather.plan_view(monthly, datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc))
    assert [(s["name"], s["next_run"]) for s in view["stages"]] == [
        ("dev", "2026-12-08T21:00:00+00:00"), ("test", "2026-12-15T21:00:00+00:00"), ("prod", "2026-12-22T08:00:00+00:00"),
    ]


def test_report_html_is_the_runs_own_or_built_from_its_records(tmp_path):
    uri = f"file://{tmp_path}/ledger"
    store = open_store(uri)
    done = RunLedger(store, "rollout_demo", "manual__done")
    done.append("run_started", plan="demo", stages=["dev"], all_stages=["dev"], dry_run=False, change_ticket="", params={})
    done.put_artifact("report.html", "<html>the run's own report</html>", "text/html")
    running = RunLedger(store, "rollout_demo", "manual__running")
    running.append("run_started", plan="demo", stages=["dev"], all_stages=["dev"], dry_run=False, change_ticket="", params={})
    plans = [_plan(uri)]
    assert gather.read_report_html(plans, "rollout_demo", "manual__done") == ("<html>the run's own report</html>", None)
    body, failure = gather.read_report_html(plans, "rollout_demo", "manual__running")
    assert failure is None and "Patch rollout report: demo" in body
    assert gather.read_report_html(plans, "rollout_demo", "manual__nope") == (None, {"kind": "not_found", "where": uri, "detail": "no ledger records for run manual__nope of rollout_demo"})


class FakeSsm:
    """Just enough of SSM for read_fleet: two groups, one registered baseline, one OS on its default."""

    class meta:
        endpoint_url = "http://fake"
        region_name = "eu-west-1"

    def describe_patch_groups(self, **kwargs):
        return {"Mappings": [{"PatchGroup": "dev", "BaselineIdentity": {"BaselineId": "pb-dev", "BaselineName": "dev-al2023", "OperatingSystem": "AMAZON_LINUX_2023", "DefaultBaseline": False}}]}

    def describe_instance_information(self, Filters, **kwargs):
        if Filters[0]["Key"] == "tag:Patch Group" and Filters[0]["Values"] == ["dev"]:
            return {"InstanceInformationList": [
                {"InstanceId": "i-1", "PlatformType": "Linux", "PlatformName": "Amazon Linux", "PlatformVersion": "2023", "PingStatus": "Online"},
                {"InstanceId": "i-2", "PlatformType": "Linux", "PlatformName": "Ubuntu", "PlatformVersion": "22.04", "PingStatus": "ConnectionLost"},
            ]}
        return {"InstanceInformationList": []}

    def describe_instance_patch_states(self, InstanceIds, **kwargs):
        return {"InstancePatchStates": [{"InstanceId": "i-1", "MissingCount": 0, "OperationEndTime": datetime(2026, 11, 29, tzinfo=timezone.utc)}]}

    def get_patch_baseline_for_patch_group(self, PatchGroup, OperatingSystem):
        return {"BaselineId": f"pb-default-{OperatingSystem.lower()}"}


def test_read_fleet_with_a_fake_ssm():
    fleet = gather.read_fleet(FakeSsm(), [_plan("file:///x")])
    assert fleet == {
        "ok": True,
        "region": "eu-west-1",
        "registered": ["dev"],
        "groups": {
            "dev": {
                "members": [
                    {"instance_id": "i-1", "operating_system": "AMAZON_LINUX_2023", "ping_status": "Online"},
                    {"instance_id": "i-2", "operating_system": "UBUNTU", "ping_status": "ConnectionLost"},
                ],
                "states": {"i-1": {"InstanceId": "i-1", "MissingCount": 0, "OperationEndTime": "2026-11-29T00:00:00+00:00"}},
                "baselines": {
                    "AMAZON_LINUX_2023": {"id": "pb-dev", "name": "dev-al2023", "default": False},
                    "UBUNTU": {"id": "pb-default-ubuntu", "name": "", "default": True},
                },
            }
        },
    }


@pytest.mark.parametrize(
    "error, kind",
    [(EndpointConnectionError(endpoint_url="http://fake"), "unreachable"), (client_error("AccessDeniedException", "no"), "no_permission")],
)
def test_read_fleet_reports_a_failure_instead_of_raising(error, kind):
    class Failing(FakeSsm):
        def describe_patch_groups(self, **kwargs):
            raise error

    fleet = gather.read_fleet(Failing(), [_plan("file:///x")])
    assert (fleet["ok"], fleet["failure"]["kind"], fleet["failure"]["where"]) == (False, kind, "http://fake")
