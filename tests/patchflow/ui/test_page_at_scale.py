"""The Patch rollouts page at any fleet size: a run's summary and the first of its failures, its commands capped, and
every instance's row as the run's instances.csv, served beside its report.html."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from patchflow.aws.ledger import RunLedger, open_store
from patchflow.core.report_records import InstanceRow, Report, Stage, Wave
from patchflow.ui import gather, model, render
from patchflow.ui.stage_model import attention_view, instances_url, wave_row
from tests.patchflow.ui.test_page_app import client  # noqa: F401  (the app with fake auth and sources)

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)
RUN_ID = "scheduled__2026-12-01T02:00:00+00:00"
PLAN = {"name": "fleet", "dag_id": "rollout_fleet", "ledger_uri": "s3://ledger/runs", "stages": [{"name": "dev", "patch_group": "dev", "pin_to": None}]}


def _row(instance_id: str, outcome: str = "succeeded", details: str = "Success") -> InstanceRow:
    return InstanceRow({"instance_id": instance_id, "operating_system": "UBUNTU", "outcome": outcome, "status_details": details, "command_id": "c-1"})


def _report(failed: int, succeeded: int = 3, command_ids: tuple[str, ...] = ("c-1",)) -> Report:
    rows = (*(_row(f"i-f{n}", "failed", "Failed") for n in range(failed)), *(_row(f"i-s{n}") for n in range(succeeded)))
    wave = Wave(1, command_ids=command_ids, targets=len(rows), instances=rows)
    return Report(plan="fleet", dag_id="rollout_fleet", run_id=RUN_ID, started_at="2026-12-01T02:00:00Z", stages=(Stage("dev", patch_group="dev", waves=(wave,)),))


def _failure(n: int) -> dict:
    return {"stage": "dev", "wave": "Install wave 1", "instance": f"i-f{n}", "os": "UBUNTU", "outcome": "failed", "reason": "Failed"}


@pytest.mark.parametrize(
    "report, view",
    [
        pytest.param(_report(failed=0), None, id="nothing-failed"),
        pytest.param(_report(failed=2), {"heading": "Needs attention: 2 instances did not succeed", "rows": [_failure(0), _failure(1)], "more": 0}, id="few"),
        pytest.param(_report(failed=12, succeeded=90_000), {"heading": "Needs attention: 12 instances did not succeed", "rows": [_failure(n) for n in range(10)],
                                                            "more": 2}, id="capped-at-ten"),
    ],
)
def test_a_run_card_lists_the_first_ten_nodes_that_need_attention(report, view):
    assert attention_view(report) == view


def test_a_wave_links_its_first_five_commands_and_counts_the_rest():
    wave = _report(failed=0, command_ids=tuple(f"cmd-{n}" for n in range(1_080))).stages[0].waves[0]
    row = wave_row(wave, "eu-west-1")
    assert ([command["id"] for command in row["commands"]], row["more_commands"]) == ([f"cmd-{n}" for n in range(5)], 1_075)


@pytest.mark.parametrize(
    "base_url, url",
    [
        pytest.param("", "/rollouts/runs/rollout_fleet/scheduled__2026-12-01T02%3A00%3A00%2B00%3A00/instances.csv", id="relative"),
        pytest.param("https://example.com/airflow/", "https://example.com/airflow/rollouts/runs/rollout_fleet/scheduled__2026-12-01T02%3A00%3A00%2B00%3A00/instances.csv",
                     id="base-url"),
    ],
)
def test_instances_url_sits_beside_the_run_s_report(base_url, url):
    assert instances_url(base_url, "rollout_fleet", RUN_ID) == url


def test_the_page_shows_a_run_s_first_failures_and_links_its_instances_csv():
    report = _report(failed=12, succeeded=20, command_ids=tuple(f"cmd-{n}" for n in range(8)))
    page = model.build_page(plans=[PLAN], fleet={"ok": True, "groups": {}, "registered": []}, ledger={"ok": True, "reports": [report], "failures": []}, now=NOW)
    html = render.render_page(page)
    csv_link = "<a class='download' href='/rollouts/runs/rollout_fleet/scheduled__2026-12-01T02%3A00%3A00%2B00%3A00/instances.csv' download>instances.csv</a>"
    assert f"&middot; {csv_link}</div>" in html
    assert "<span class='muted more-commands'>+3 more</span></li>" in html
    attention = html.split("<div class='attention'>")[1].split("</div>")[0]
    assert attention == (
        "<h4 class='gate-BLOCK'>Needs attention: 12 instances did not succeed</h4><table class='attention'><thead><tr>"
        "<th>stage</th><th>wave</th><th>instance</th><th>os</th><th>outcome</th><th>reason</th></tr></thead><tbody>"
        + "".join(f"<tr><td>dev</td><td>Install wave 1</td><td>i-f{n}</td><td>UBUNTU</td><td>failed</td><td>Failed</td></tr>" for n in range(10))
        + f"</tbody></table><p class='meta more'>and 2 more: see {csv_link}</p>"
    )


def test_a_run_without_failures_shows_no_attention_table():
    page = model.build_page(plans=[PLAN], fleet={"ok": True, "groups": {}, "registered": []},
                            ledger={"ok": True, "reports": [_report(failed=0)], "failures": []}, now=NOW)
    assert "class='attention'" not in render.render_page(page)


# --------------------------------------------------------------------------- serving the file


def test_instances_csv_is_the_run_s_own_or_built_from_its_records(tmp_path):
    uri = f"file://{tmp_path}/ledger"
    store = open_store(uri)
    done = RunLedger(store, "rollout_fleet", "manual__done")
    done.append("run_started", plan="fleet", stages=["dev"], all_stages=["dev"], dry_run=False, change_ticket="", params={})
    done.put_artifact("instances.csv", "stage,instance\r\n", "text/csv")
    running = RunLedger(store, "rollout_fleet", "manual__running")
    running.append("run_started", plan="fleet", stages=["dev"], all_stages=["dev"], dry_run=False, change_ticket="", params={})
    running.append("wave_result", stage="dev", wave=1, operation="Install", command_ids=["c-1"], instances=[_row("i-1").to_json()],
                   verdict={"passed": True, "reasons": []}, started_at="", finished_at="", polls=1)
    plans = [{**PLAN, "ledger_uri": uri}]
    assert gather.read_instances_csv(plans, "rollout_fleet", "manual__done") == ("stage,instance\r\n", None)
    body, failure = gather.read_instances_csv(plans, "rollout_fleet", "manual__running")
    assert (failure, body.split("\r\n")[1]) == (None, "dev,,,,Install,1,i-1,UBUNTU,succeeded,no,Success,,,,0,,,c-1,")
    assert gather.read_instances_csv(plans, "rollout_fleet", "manual__nope") == (
        None, {"kind": "not_found", "where": uri, "detail": "no ledger records for run manual__nope of rollout_fleet"})


@pytest.mark.parametrize(
    "user, readable, answer, status, headers, says",
    [
        pytest.param("ann", ("rollout_demo",), ("stage,instance\r\ndev,i-1\r\n", None), 200,
                     {"content-type": "text/csv; charset=utf-8", "content-disposition": 'attachment; filename="rollout_demo_manual__2026-12-01T02_00_00_00_00_instances.csv"'},
                     "stage,instance\r\ndev,i-1\r\n", id="the-file"),
        pytest.param("ann", ("rollout_demo",), (None, {"kind": "not_found", "where": "s3://x", "detail": "none"}), 404, {}, "No report for this run yet", id="no-records"),
        pytest.param("ann", ("rollout_demo",), (None, {"kind": "unreachable", "where": "s3://x", "detail": "no connection could be made"}), 503, {},
                     "The run ledger is unreachable", id="ledger-unreachable"),
        pytest.param("bob", ("rollout_weekly",), None, 403, {}, "may not read runs of rollout_demo", id="not-readable"),
    ],
)
def test_instances_csv_route(client, monkeypatch, user, readable, answer, status, headers, says):  # noqa: F811
    monkeypatch.setattr(gather, "read_instances_csv", lambda plans, dag_id, run_id, **kwargs: answer)
    client.as_user(user, readable)
    response = client.get("/runs/rollout_demo/manual__2026-12-01T02%3A00%3A00%2B00%3A00/instances.csv")
    assert (response.status_code, {key: response.headers[key] for key in headers}, says in response.text) == (status, headers, True)


def test_the_report_link_redirects_under_the_run_s_own_path_where_its_instances_csv_link_resolves(client):  # noqa: F811
    client.as_user("ann", ("rollout_demo",))
    response = client.get("/report", params={"dag_id": "rollout_demo", "run_id": "manual__2026-12-01T02:00:00+00:00"}, follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (307, "runs/rollout_demo/manual__2026-12-01T02%3A00%3A00%2B00%3A00/report.html")



def test_a_patch_group_of_fifty_thousand_members_is_counted_in_one_pass():
    members = [{"instance_id": f"i-{n}", "operating_system": "UBUNTU", "ping_status": "Online"} for n in range(50_000)]
    states = {f"i-{n}": {"MissingCount": n % 2, "OperationEndTime": "2026-12-01T03:00:00+00:00"} for n in range(50_000)}
    group = model.group_summary("prod", members, states, {}, NOW)
    assert {key: group[key] for key in ("instances", "compliant", "non_compliant", "no_data", "instances_missing", "bar")} == {
        "instances": 50_000, "compliant": 25_000, "non_compliant": 25_000, "no_data": 0, "instances_missing": 25_000,
        "bar": {"compliant": 50.0, "non_compliant": 50.0, "no_data": 0.0}}
