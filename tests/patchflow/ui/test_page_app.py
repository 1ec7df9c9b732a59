"""The FastAPI shell, the plugin and the extra links, with Airflow's auth manager and AWS replaced by fakes.

The real thing (api-server, SimpleAuthManager, fleetsim, Chromium) is in
test_rollouts_page_browser.py; here each branch of the shell is one row.
"""
from __future__ import annotations

from types import SimpleNamespace

import pytest
from fastapi.testclient import TestClient

from patchflow.ui import app as page_app


class FakeUser:
    def __init__(self, name: str):
        self.name = name

    def get_name(self) -> str:
        return self.name


class FakeAuthManager:
    def __init__(self, readable: set[str]):
        self.readable = readable

    def get_url_login(self, next_url: str = "") -> str:
        return f"/auth/login?next={next_url}"

    def is_authorized_dag(self, *, method, access_entity=None, details=None, user=None) -> bool:
        return method == "GET" and details.id in self.readable


UNREACHABLE_FLEET = {"ok": False, "region": "us-east-1", "failure": {"kind": "unreachable", "where": "http://127.0.0.1:1", "detail": "no connection could be made"}}
EMPTY_LEDGER = {"ok": True, "reports": [], "failures": []}


@pytest.fixture
def client(monkeypatch):
    """A TestClient on the page's app; `client.as_user(name, readable)` sets who calls and what they may read."""
    application = page_app.create_app()
    state = {"user": None, "manager": FakeAuthManager(set())}
    application.dependency_overrides[page_app.caller] = lambda: state["user"]
    monkeypatch.setattr("airflow.api_fastapi.app.get_auth_manager", lambda: state["manager"])
    monkeypatch.setattr(page_app.gather, "page_client", lambda service: SimpleNamespace(service=service))
    monkeypatch.setattr(page_app.gather, "read_fleet", lambda ssm, plans: UNREACHABLE_FLEET)
    monkeypatch.setattr(page_app.gather, "read_ledgers", lambda plans, **kwargs: EMPTY_LEDGER)
    monkeypatch.setattr(page_app.gather, "read_airflow_runs", lambda dag_ids: {"ok": True, "runs": []})
    test_client = TestClient(application, raise_server_exceptions=False)

    def as_user(name: str | None, readable=("rollout_demo", "rollout_weekly")):
        state["user"] = FakeUser(name) if name else None
        state["manager"] = FakeAuthManager(set(readable))

    test_client.as_user = as_user
    return test_client


@pytest.mark.parametrize(
    "user, readable, path, status, says",
    [
        (None, (), "/", 302, None),
        (None, (), "/report?dag_id=rollout_demo&run_id=r", 302, None),
        (None, (), "/api/page", 401, "Not authenticated"),
        ("bob", (), "/", 403, "No permission to see patch rollouts"),
        ("bob", (), "/api/page", 403, "No permission to read runs of rollout_demo, rollout_monthly, rollout_multi_account, rollout_weekly"),
        ("bob", ("rollout_weekly",), "/report?dag_id=rollout_demo&run_id=r", 403, "may not read runs of rollout_demo"),
        ("ann", ("rollout_demo", "rollout_weekly"), "/", 200, "The fleet is unreachable"),
        ("ann", ("rollout_demo",), "/", 200, "signed in as ann"),
        ("ann", ("rollout_demo",), "/report", 400, "This link names no DAG run"),
        ("ann", (), "/icon.svg", 200, "<svg"),
    ],
)
def test_who_sees_what(client, user, readable, path, status, says):
    client.as_user(user, readable)
    response = client.get(path, follow_redirects=False)
    assert response.status_code == status
    if status == 302:
        assert response.headers["location"].startswith("/auth/login?next=")
    else:
        assert says in response.text
    assert "Traceback" not in response.text


def test_the_page_shows_only_runs_of_readable_dags(client, monkeypatch):
    seen = {}
    monkeypatch.setattr(page_app.gather, "read_ledgers", lambda plans, **kwargs: seen.update(plans=[p["dag_id"] for p in plans], **kwargs) or EMPTY_LEDGER)
    client.as_user("ann", ("rollout_demo",))
    assert client.get("/").status_code == 200
    assert (seen["plans"], seen["readable_dag_ids"]) == (["rollout_demo"], ["rollout_demo"])


def test_a_bug_while_gathering_is_a_message_not_a_stack_trace(client, monkeypatch):
    def broken(ssm, plans):
        raise KeyError("oops")

    monkeypatch.setattr(page_app.gather, "read_fleet", broken)
    client.as_user("ann")
    response = client.get("/")
    assert response.status_code == 500
    assert "The page could not be built" in response.text and "KeyError" in response.text and "Traceback" not in response.text


@pytest.mark.parametrize(
    "answer, status, says",
    [
        (("<html>report</html>", None), 200, "<html>report</html>"),
        ((None, {"kind": "not_found", "where": "s3://x", "detail": "none"}), 404, "No report for this run yet"),
        ((None, {"kind": "unreachable", "where": "s3://x", "detail": "no connection could be made"}), 503, "The run ledger is unreachable"),
    ],
)
def test_report_route(client, monkeypatch, answer, status, says):
    monkeypatch.setattr(page_app.gather, "read_report_html", lambda plans, dag_id, run_id, **kwargs: answer)
    client.as_user("ann")
    response = client.get("/report", params={"dag_id": "rollout_demo", "run_id": "manual__1"})
    assert (response.status_code, says in response.text) == (status, True)


# --------------------------------------------------------------------------- plugin and extra links


def test_the_plugin_mounts_the_page_adds_the_menu_entry_and_registers_the_links():
    import patchflow.ui.plugin as plugin_module
    from patchflow.rollout.links import RolloutReportLink, SsmCommandConsoleLink

    plugin = plugin_module.PatchRolloutsPlugin
    assert [(a["url_prefix"], a["name"]) for a in plugin.fastapi_apps] == [("/rollouts", "Patch rollouts")]
    assert plugin.external_views == [
        {"name": "Patch rollouts", "href": "rollouts/", "icon": "rollouts/icon.svg", "destination": "nav", "category": "browse", "url_route": "patch-rollouts"}
    ]
    assert [type(link) for link in plugin.operator_extra_links] == [SsmCommandConsoleLink, RolloutReportLink]
    assert all(link.operators == [] for link in plugin.operator_extra_links)  # the server keeps serving the stored URLs


def test_wave_and_gate_operators_declare_their_links():
    from patchflow.rollout.stage import StageGateOperator
    from patchflow.rollout.wave import PatchWaveOperator

    assert [link.name for link in PatchWaveOperator.operator_extra_links] == ["AWS console: SSM command"]
    assert [link.name for link in StageGateOperator.operator_extra_links] == ["Rollout report"]


@pytest.mark.parametrize(
    "xcoms, region_name, env_region, expected",
    [
        ({"command_ids": ["c-1", "c-2"]}, "eu-west-1", None, "https://eu-west-1.console.aws.amazon.com/systems-manager/run-command/c-1?region=eu-west-1"),
        ({"return_value": {"command_ids": ["c-9"]}}, "cn-north-1", None, "https://cn-north-1.console.amazonaws.cn/systems-manager/run-command/c-9?region=cn-north-1"),
        ({"command_ids": ["c-3"]}, None, "ap-southeast-2", "https://ap-southeast-2.console.aws.amazon.com/systems-manager/run-command/c-3?region=ap-southeast-2"),
        ({}, "eu-west-1", None, ""),
        ({"return_value": {"selected": False, "results": []}}, "eu-west-1", None, ""),
    ],
)
def test_command_console_link(monkeypatch, xcoms, region_name, env_region, expected):
    from patchflow.rollout import links

    monkeypatch.setattr(links.XCom, "get_value", staticmethod(lambda *, ti_key, key: xcoms.get(key)))
    if env_region:
        monkeypatch.setenv("AWS_DEFAULT_REGION", env_region)
        monkeypatch.delenv("AWS_REGION", raising=False)
    operator = SimpleNamespace(region_name=region_name, aws_conn_id=None)
    ti_key = SimpleNamespace(dag_id="rollout_demo", run_id="manual__1", task_id="dev.wave_1", map_index=-1)
    assert links.SsmCommandConsoleLink().get_link(operator, ti_key=ti_key) == expected


@pytest.mark.parametrize(
    "base_url, expected",
    [("", "/rollouts/report?dag_id=rollout_demo&run_id=manual__2026-11-29T01%3A45%3A54%2B00%3A00"), ("https://airflow.example.com", "https://airflow.example.com/rollouts/report?dag_id=rollout_demo&run_id=manual__2026-11-29T01%3A45%3A54%2B00%3A00")],
)
def test_report_link(monkeypatch, base_url, expected):
    from patchflow.rollout import links

    monkeypatch.setenv("AIRFLOW__API__BASE_URL", base_url)
    ti_key = SimpleNamespace(dag_id="rollout_demo", run_id="manual__2026-11-29T01:45:54+00:00", task_id="dev.gate", map_index=-1)
    assert links.RolloutReportLink().get_link(SimpleNamespace(), ti_key=ti_key) == expected
