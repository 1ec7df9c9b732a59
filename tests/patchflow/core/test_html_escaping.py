"""Every string that reaches report.html or the Patch rollouts page arrives as text, never as markup.

Plan and stage names, patch groups (an instance tag), instance ids, baseline names, reasons,
change tickets, drift ids, alarm names and state reasons (CloudWatch), a health check's output
and who held or revoked a release and why all come from files, the fleet and the ledger; the
page is served on Airflow's own origin, so one of them rendered as markup would be script
injection there.
Each case puts one hostile value into one field and checks the whole rendering.
"""
from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest

from patchflow.core.html_templates import TEMPLATES
from patchflow.core.releases import Release, ReleaseEvent, ReleaseEventKind, standing_of
from patchflow.core.report import build_report, render_html
from patchflow.ui.model import build_page
from patchflow.ui.releases_model import standing_data
from patchflow.ui.render import render_message_page, render_page

NOW = datetime(2026, 11, 29, 12, 0, 0, tzinfo=timezone.utc)
SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
# The pages quote attributes with ', so this one would add an attribute if ' went through unescaped.
ATTRIBUTE = "' onmouseover='alert(1)"
PAYLOADS = [pytest.param(SCRIPT, id="script"), pytest.param(IMG, id="img"), pytest.param(ATTRIBUTE, id="attribute")]
# Each payload as escaped text; a quote may be spelt either way (&#34; or &quot;, &#39; or &#x27;).
ESCAPED = {
    SCRIPT: re.compile(re.escape("&lt;script&gt;alert(1)&lt;/script&gt;")),
    IMG: re.compile("(&#34;|&quot;)" + re.escape("&gt;&lt;img src=x onerror=alert(1)&gt;")),
    ATTRIBUTE: re.compile("(&#39;|&#x27;) onmouseover=(&#39;|&#x27;)" + re.escape("alert(1)")),
}
RAW_MARKUP = re.compile(r"<\s*(script|img)\b", re.IGNORECASE)


def _health_check(run: dict, at: str, stage: str, passed: bool, reasons: list[str], alarm: dict, nodes: list[dict]) -> dict:
    counts = {"targets": len(nodes), "passed": sum(n["passed"] for n in nodes), "failed": sum(not n["passed"] for n in nodes)}
    return {**run, "kind": "health_check", "at": at, "stage": stage, "phase": "wave", "wave": 1, "passed": passed, "reasons": reasons, "alarms": [alarm],
            "verification": {"documents": ["AWS-RunShellScript"], "command_ids": [f"cmd-{stage}-v1"], "counts": counts, "nodes": nodes}, "polls": None, "checked_at": at}


def _records() -> list[dict]:
    """One run that touches every part of the report: baselines, offline agents, a pinned manifest, drift, health checks, a failed stage."""
    run = {"dag_id": "rollout_demo", "run_id": "manual__1"}
    passed = {"passed": True, "reasons": ["2 of 2 instances succeeded"], "counts": {"targets": 2, "succeeded": 2}}
    blocked = {"passed": False, "reasons": ["1 of 1 instances failed (limit 0)"], "counts": {"targets": 1, "failed": 1}}
    return [
        {**run, "kind": "run_started", "at": "2026-11-29T10:00:00Z", "plan": "demo", "stages": ["dev", "test", "prod"], "dry_run": False, "change_ticket": "CHG-1"},
        {**run, "kind": "preflight", "at": "2026-11-29T10:00:01Z", "stage": "dev", "patch_group": "dev", "targets": [{}, {}], "offline": ["i-off"],
         "baselines": {"UBUNTU": "pb-dev", "AMAZON_LINUX_2023": None}, "default_baselines": {"AMAZON_LINUX_2023": "AWS-AmazonLinux2023DefaultPatchBaseline"}},
        {**run, "kind": "command_sent", "at": "2026-11-29T10:00:02Z", "stage": "dev", "command_ids": ["cmd-dev-1"], "not_sent": ["i-asleep"]},
        {**run, "kind": "wave_result", "at": "2026-11-29T10:01:00Z", "stage": "dev", "wave": 1, "operation": "Install", "command_ids": ["cmd-dev-1"],
         "started_at": "2026-11-29T10:00:02Z", "finished_at": "2026-11-29T10:01:00Z", "verdict": passed,
         "instances": [
             {"instance_id": "i-1", "operating_system": "UBUNTU", "outcome": "SUCCEEDED", "status_details": "Success", "compliant": True, "pending_reboot": False, "command_id": "cmd-dev-1"},
             {"instance_id": "i-2", "operating_system": "UBUNTU", "outcome": "SUCCEEDED", "status_details": "Success", "compliant": True, "pending_reboot": False, "command_id": "cmd-dev-1"},
         ]},
        _health_check(run, "2026-11-29T10:01:00.5Z", "dev", True, ["healthy: 1 alarm(s) OK, 2 of 2 instances verified"],
                      {"name": "storefront-dev-5xx", "state": "OK", "reason": "Threshold Crossed: no datapoint was greater than the threshold", "updated_at": "2026-11-29T09:00:00+00:00"},
                      [{"instance_id": "i-1", "passed": True, "status_details": "Success", "response_code": 0, "output_tail": "running"},
                       {"instance_id": "i-2", "passed": True, "status_details": "Success", "response_code": 0, "output_tail": "running"}]),
        {**run, "kind": "stage_verdict", "at": "2026-11-29T10:01:01Z", "stage": "dev", "verdict": passed},
        {**run, "kind": "manifest", "at": "2026-11-29T10:01:02Z", "stage": "dev", "content_hash": "0123456789abcdef", "size": 3},
        {**run, "kind": "command_sent", "at": "2026-11-29T10:02:00Z", "stage": "test", "command_ids": ["cmd-test-1"], "pinned_to": {"stage": "dev", "hash": "0123456789abcdef"}, "nothing_new_for": ["WINDOWS"]},
        {**run, "kind": "drift", "at": "2026-11-29T10:02:01Z", "stage": "test", "drift": {"UBUNTU": ["openssl"]}},
        {**run, "kind": "wave_result", "at": "2026-11-29T10:03:00Z", "stage": "test", "wave": 1, "operation": "Install", "command_ids": ["cmd-test-1"],
         "started_at": "2026-11-29T10:02:00Z", "finished_at": "2026-11-29T10:03:00Z", "verdict": blocked,
         "instances": [{"instance_id": "i-3", "operating_system": "UBUNTU", "outcome": "FAILED", "status_details": "Failed", "compliant": False, "pending_reboot": False, "command_id": "cmd-test-1",
                        "moved_on": [{"id": "curl", "pinned_title": "curl 8.5.0-2ubuntu10.1", "offered_title": "curl 8.5.0-2ubuntu10.2"}]}]},
        _health_check(run, "2026-11-29T10:03:00.5Z", "test", False, ["verification failed on 1 of 1 instances (100%): i-3 (exit 1: down)"],
                      {"name": "storefront-test-5xx", "state": "ALARM", "reason": "Threshold Crossed: 1 datapoint was greater than the threshold", "updated_at": "2026-11-29T10:02:30+00:00"},
                      [{"instance_id": "i-3", "passed": False, "status_details": "Failed", "response_code": 1, "output_tail": "down"}]),
        {**run, "kind": "stage_verdict", "at": "2026-11-29T10:03:01Z", "stage": "test", "verdict": blocked},
        {**run, "kind": "stage_failed", "at": "2026-11-29T10:03:02Z", "stage": "prod", "reason": "preflight: no instance carries the patch group"},
        {**run, "kind": "run_finished", "at": "2026-11-29T10:03:03Z", "outcome": "blocked", "blocking_stage": "test", "reason": "install wave 1: 1 of 1 instances failed"},
    ]


def _record(records: list[dict], kind: str, stage: str | None = None) -> dict:
    return next(r for r in records if r["kind"] == kind and (stage is None or r.get("stage") == stage))


def _rename_stage(records: list[dict], old: str, new: str) -> None:
    for record in records:
        if record.get("stage") == old:
            record["stage"] = new
        if record["kind"] == "run_started":
            record["stages"] = [new if s == old else s for s in record["stages"]]


def _rename_key(mapping: dict, old: str, new: str) -> None:
    mapping[new] = mapping.pop(old)


# What each case puts the hostile value into: (records, value) -> None.
REPORT_FIELDS = [
    pytest.param(lambda rs, v: _record(rs, "run_started").update(plan=v), id="plan name"),
    pytest.param(lambda rs, v: [r.update(dag_id=v) for r in rs], id="dag id"),
    pytest.param(lambda rs, v: [r.update(run_id=v) for r in rs], id="run id"),
    pytest.param(lambda rs, v: _rename_stage(rs, "dev", v), id="stage name"),
    pytest.param(lambda rs, v: _record(rs, "preflight").update(patch_group=v), id="patch group"),
    pytest.param(lambda rs, v: _record(rs, "preflight").update(offline=[v]), id="offline instance id"),
    pytest.param(lambda rs, v: _record(rs, "preflight")["baselines"].update(UBUNTU=v), id="baseline"),
    pytest.param(lambda rs, v: _record(rs, "preflight")["default_baselines"].update(AMAZON_LINUX_2023=v), id="default baseline"),
    pytest.param(lambda rs, v: _rename_key(_record(rs, "preflight")["baselines"], "UBUNTU", v), id="baseline operating system"),
    pytest.param(lambda rs, v: _record(rs, "command_sent", "dev").update(not_sent=[v]), id="not sent instance id"),
    pytest.param(lambda rs, v: [_record(rs, kind, "dev").update(command_ids=[v]) for kind in ("command_sent", "wave_result")], id="command id"),
    pytest.param(lambda rs, v: _record(rs, "wave_result", "dev").update(operation=v), id="wave operation"),
    pytest.param(lambda rs, v: _record(rs, "wave_result", "dev").update(started_at=v), id="wave start"),
    pytest.param(lambda rs, v: _record(rs, "wave_result", "dev")["instances"][0].update(instance_id=v), id="instance id"),
    pytest.param(lambda rs, v: _record(rs, "wave_result", "dev")["instances"][0].update(operating_system=v), id="instance operating system"),
    pytest.param(lambda rs, v: _record(rs, "wave_result", "dev")["instances"][0].update(outcome=v), id="instance outcome"),
    pytest.param(lambda rs, v: _record(rs, "wave_result", "dev")["instances"][0].update(status_details=v), id="status details"),
    pytest.param(lambda rs, v: _record(rs, "wave_result", "dev")["instances"][0].update(command_id=v), id="instance command id"),
    pytest.param(lambda rs, v: _record(rs, "wave_result", "test").update(verdict={**_record(rs, "wave_result", "test")["verdict"], "reasons": [v]}), id="wave reason"),
    pytest.param(lambda rs, v: _record(rs, "stage_verdict", "test").update(verdict={**_record(rs, "stage_verdict", "test")["verdict"], "reasons": [v]}), id="gate reason"),
    pytest.param(lambda rs, v: _record(rs, "manifest").update(content_hash=v), id="manifest hash"),
    pytest.param(lambda rs, v: _record(rs, "command_sent", "test").update(pinned_to={"stage": "dev", "hash": v}), id="pinned manifest hash"),
    pytest.param(lambda rs, v: _record(rs, "command_sent", "test").update(nothing_new_for=[v]), id="nothing new for"),
    pytest.param(lambda rs, v: _record(rs, "drift").update(drift={"UBUNTU": [v]}), id="drift patch id"),
    pytest.param(lambda rs, v: _record(rs, "drift").update(drift={v: ["openssl"]}), id="drift operating system"),
    pytest.param(lambda rs, v: _record(rs, "wave_result", "test")["instances"][0]["moved_on"][0].update(id=v), id="moved on patch id"),
    pytest.param(lambda rs, v: _record(rs, "wave_result", "test")["instances"][0]["moved_on"][0].update(pinned_title=v), id="moved on pinned title"),
    pytest.param(lambda rs, v: _record(rs, "wave_result", "test")["instances"][0]["moved_on"][0].update(offered_title=v), id="moved on offered title"),
    pytest.param(lambda rs, v: _record(rs, "stage_failed").update(reason=v), id="stage error"),
    pytest.param(lambda rs, v: _record(rs, "run_finished").update(reason=v), id="run reason"),
    pytest.param(lambda rs, v: _record(rs, "health_check", "dev")["alarms"][0].update(name=v), id="alarm name"),
    pytest.param(lambda rs, v: _record(rs, "health_check", "dev")["alarms"][0].update(reason=v), id="alarm reason"),
    pytest.param(lambda rs, v: _record(rs, "health_check", "test")["alarms"][0].update(updated_at=v), id="alarm fired at"),
    pytest.param(lambda rs, v: _record(rs, "health_check", "dev").update(reasons=[v]), id="passed health check reason"),
    pytest.param(lambda rs, v: _record(rs, "health_check", "test").update(reasons=[v]), id="health block reason"),
    pytest.param(lambda rs, v: _record(rs, "health_check", "dev")["verification"]["nodes"][0].update(output_tail=v), id="verification output tail"),
    pytest.param(lambda rs, v: _record(rs, "health_check", "test")["verification"]["nodes"][0].update(status_details=v), id="verification status"),
]


def assert_shown_as_text(page: str, value: str) -> None:
    assert (value in page, RAW_MARKUP.findall(page)) == (False, [])
    assert ESCAPED[value].search(page), f"{value!r} does not appear as escaped text"


@pytest.mark.parametrize("value", PAYLOADS)
@pytest.mark.parametrize("put", REPORT_FIELDS)
def test_the_html_report_shows_hostile_values_as_text(put, value):
    records = _records()
    put(records, value)
    assert_shown_as_text(render_html(build_report(records)), value)


def _plan() -> dict:
    return {
        "name": "demo",
        "dag_id": "rollout_demo",
        "ledger_uri": "s3://ledger/runs",
        "stages": [{"name": "dev", "patch_group": "dev", "pin_to": None}, {"name": "test", "patch_group": "test", "pin_to": "dev"}, {"name": "prod", "patch_group": "prod", "pin_to": "dev"}],
    }


def _fleet() -> dict:
    members = [{"instance_id": "i-1", "operating_system": "UBUNTU", "ping_status": "Online"}, {"instance_id": "i-off", "operating_system": "UBUNTU", "ping_status": "ConnectionLost"}]
    states = {"i-1": {"OperationEndTime": "2026-11-29T11:00:00Z", "BaselineId": "pb-u"}}
    group = {"members": members, "states": states, "baselines": {"UBUNTU": {"id": "pb-u", "name": "ubuntu-security"}}}
    return {"ok": True, "region": "eu-west-1", "registered": [], "groups": {"dev": group, "test": group, "prod": group}}


def _releases() -> list[dict]:
    """One release of the demo plan, proved by dev and revoked since, as the page's ledger reader hands it over."""
    created = datetime(2026, 11, 28, 10, 1, 2, tzinfo=timezone.utc)
    release = Release(
        id="r-0123456789abcdef", plan="demo", source_stage="dev", source_dag_id="rollout_demo", source_run_id="manual__0", created_at=created,
        content_hash="0123456789abcdef" * 4, size=3, manifest_location="s3://ledger/runs/rollout_demo/manual__0/manifest/dev/manifest.json", override_lists={},
    )
    events = [
        ReleaseEvent(release.id, ReleaseEventKind.PASSED, created, stage="dev", run_id="manual__0"),
        ReleaseEvent(release.id, ReleaseEventKind.REVOKED, NOW, by="ana", reason="breaks nginx"),
    ]
    return [standing_data(standing_of(release, events))]


def _page_inputs() -> dict:
    return {"plans": [_plan()], "plan_problems": [], "fleet": _fleet(), "records": _records(), "ledger_failures": [], "user": "admin",
            "releases": _releases(), "release_failures": []}


def _render(inputs: dict) -> str:
    ledger = {"ok": True, "reports": [build_report(inputs["records"])] if inputs["records"] else [], "failures": inputs["ledger_failures"],
              "releases": {"demo": inputs["releases"]}, "release_failures": inputs["release_failures"]}
    page = build_page(plans=inputs["plans"], plan_problems=inputs["plan_problems"], fleet=inputs["fleet"], ledger=ledger, now=NOW, base_url="", user=inputs["user"])
    return render_page(page)


def _rename_page_stage(inputs: dict, value: str) -> None:
    inputs["plans"][0]["stages"][0]["name"] = value
    inputs["plans"][0]["stages"][1]["pin_to"] = value
    _rename_stage(inputs["records"], "dev", value)


def _rename_patch_group(inputs: dict, value: str) -> None:
    inputs["plans"][0]["stages"][0]["patch_group"] = value
    _rename_key(inputs["fleet"]["groups"], "dev", value)
    _record(inputs["records"], "preflight", "dev")["patch_group"] = value


def _set_plan_name(inputs: dict, value: str) -> None:
    inputs["plans"][0]["name"] = value
    inputs["records"] = []  # with no run, the plan's own name is what the page shows


def _set_dag_id(inputs: dict, value: str) -> None:
    inputs["plans"][0]["dag_id"] = value
    inputs["records"] = []  # the page then says which DAG to trigger


def _set_fleet_group(inputs: dict, **fields) -> None:
    inputs["fleet"]["groups"]["dev"] = {**inputs["fleet"]["groups"]["dev"], **fields}


# What each case puts the hostile value into: (inputs, value) -> None.
PAGE_FIELDS = [
    pytest.param(_set_plan_name, id="plan name"),
    pytest.param(lambda i, v: _record(i["records"], "run_started").update(plan=v), id="plan name of a run"),
    pytest.param(_set_dag_id, id="dag id"),
    pytest.param(lambda i, v: [r.update(run_id=v) for r in i["records"]], id="run id"),
    pytest.param(_rename_page_stage, id="stage name"),
    pytest.param(_rename_patch_group, id="patch group"),
    pytest.param(lambda i, v: i["fleet"]["groups"]["dev"]["members"][1].update(instance_id=v), id="offline instance id"),
    pytest.param(lambda i, v: _set_fleet_group(i, baselines={"UBUNTU": {"id": "pb-u", "name": v}}), id="baseline name"),
    pytest.param(lambda i, v: _set_fleet_group(i, baselines={"UBUNTU": {"id": v}}), id="baseline id"),
    pytest.param(lambda i, v: _set_fleet_group(i, baselines={v: {"id": "pb-u", "name": "ubuntu-security"}}), id="baseline operating system"),
    pytest.param(lambda i, v: _record(i["records"], "run_started").update(change_ticket=v), id="change ticket"),
    pytest.param(lambda i, v: _record(i["records"], "manifest").update(content_hash=v), id="manifest hash"),
    pytest.param(lambda i, v: _record(i["records"], "wave_result", "dev").update(command_ids=[v]), id="command id"),
    pytest.param(lambda i, v: _record(i["records"], "wave_result", "dev").update(operation=v), id="wave operation"),
    pytest.param(lambda i, v: _record(i["records"], "wave_result", "test").update(verdict={**_record(i["records"], "wave_result", "test")["verdict"], "reasons": [v]}), id="wave reason"),
    pytest.param(lambda i, v: _record(i["records"], "stage_verdict", "test").update(verdict={**_record(i["records"], "stage_verdict", "test")["verdict"], "reasons": [v]}), id="gate reason"),
    pytest.param(lambda i, v: _record(i["records"], "stage_failed").update(reason=v), id="stage error"),
    pytest.param(lambda i, v: _record(i["records"], "run_finished").update(reason=v), id="run reason"),
    pytest.param(lambda i, v: _record(i["records"], "health_check", "test").update(reasons=[v]), id="health block reason"),
    pytest.param(lambda i, v: i["fleet"].update(region=v), id="region"),
    pytest.param(lambda i, v: i.update(user=v), id="user"),
    pytest.param(lambda i, v: i.update(plan_problems=[v]), id="plan problem"),
    pytest.param(lambda i, v: i.update(ledger_failures=[{"kind": "error", "where": "s3://ledger/runs", "detail": v}]), id="ledger failure"),
    pytest.param(lambda i, v: i.update(fleet={"ok": False, "failure": {"kind": "unreachable", "where": v, "detail": "no connection could be made"}}), id="fleet endpoint"),
    pytest.param(lambda i, v: i["releases"][0]["revocation"].update(by=v, reason=v), id="release revoked by and why"),
    pytest.param(lambda i, v: i["releases"][0]["revocation"].update(by=v), id="release revoked by"),
    pytest.param(lambda i, v: i["releases"][0]["revocation"].update(reason=v), id="release revocation reason"),
    pytest.param(lambda i, v: i["releases"][0].update(revocation=None, hold={**i["releases"][0]["revocation"], "kind": "held", "reason": v}), id="release hold reason"),
    pytest.param(lambda i, v: i["releases"][0]["release"].update(id=v), id="release id"),
    pytest.param(lambda i, v: i["releases"][0]["release"].update(source_run_id=v), id="release source run"),
    pytest.param(lambda i, v: i.update(release_failures=[{"kind": "error", "where": "s3://ledger/runs", "detail": v, "plan": "demo"}]), id="release failure"),
    pytest.param(lambda i, v: i.update(release_failures=[{"kind": "error", "where": v, "detail": "KeyError: 'id'", "plan": "demo"}]), id="release failure ledger"),
]


@pytest.mark.parametrize("value", PAYLOADS)
@pytest.mark.parametrize("put", PAGE_FIELDS)
def test_the_rollouts_page_shows_hostile_values_as_text(put, value):
    inputs = _page_inputs()
    put(inputs, value)
    assert_shown_as_text(_render(inputs), value)


MESSAGE_FIELDS = [
    pytest.param(lambda v: {"title": v}, id="title"),
    pytest.param(lambda v: {"detail": v}, id="detail"),
    pytest.param(lambda v: {"action": v}, id="action"),
    pytest.param(lambda v: {"level": v}, id="level"),
    pytest.param(lambda v: {"links": [(v, "/home")]}, id="link text"),
    pytest.param(lambda v: {"links": [("Airflow", v)]}, id="link target"),
]


@pytest.mark.parametrize("value", PAYLOADS)
@pytest.mark.parametrize("field", MESSAGE_FIELDS)
def test_the_message_page_shows_hostile_values_as_text(field, value):
    arguments = {"title": "No permission to see patch rollouts", "detail": "You are signed in as bob.", "action": "Ask an admin.", **field(value)}
    title, detail, action = arguments.pop("title"), arguments.pop("detail"), arguments.pop("action")
    assert_shown_as_text(render_message_page(title, detail, action, **arguments), value)


def test_every_template_sits_in_the_shipped_folder_as_html_and_is_autoescaped():
    # The package ships patchflow/core/templates/*.html; a template elsewhere would be missing from an install.
    names = TEMPLATES.list_templates()
    assert [n for n in names if "/" in n or not n.endswith(".html")] == []
    assert [n for n in names if not TEMPLATES.get_template(n).new_context().eval_ctx.autoescape] == []
    assert {"report.html", "rollouts_page.html", "rollouts_message.html"} <= set(names)
