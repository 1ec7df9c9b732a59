"""A dry run in the report: never a promotion, its passing stages scanned, and what it would install per operating system."""
from __future__ import annotations

import json

import pytest

from patchflow.core.errors import InvalidInput
from patchflow.core.report import build_report, headline, render_html, render_markdown, summary_table
from patchflow.core.report_patches import ListedPatch, missing_by_os
from patchflow.core.report_records import Report, RunOutcome, StageState

RUN = {"dag_id": "rollout_demo", "run_id": "manual__dry"}
PASSED = {"passed": True, "reasons": ["passed: 2 of 2 instances succeeded, 0 counted as failed (limit 0)"], "counts": {"targets": 2, "succeeded": 2},
          "thresholds": {}}
OPENSSL = {"id": "openssl-libs.x86_64", "title": "openssl-libs.x86_64:1:3.0.8-1.amzn2023.0.14", "severity": "Important", "cve_ids": ["CVE-2024-0727", "CVE-2024-2511"]}
CURL = {"id": "curl.x86_64", "title": "curl.x86_64:0:8.5.0-1.amzn2023.0.4", "severity": "Medium", "cve_ids": ["CVE-2024-2398"]}
TZDATA = {"id": "tzdata.noarch", "title": "tzdata.noarch:0:2024a-1.amzn2023.0.1", "severity": "None", "cve_ids": []}


def _row(instance_id: str, operating_system: str) -> dict:
    return {"instance_id": instance_id, "operating_system": operating_system, "outcome": "succeeded", "status_details": "Success", "compliant": False,
            "pending_reboot": False, "missing": 2, "failed_patches": 0, "command_id": "c-scan"}


def records_of_a_dry_run(finished: dict | None = None) -> list[dict]:
    """dev scanned by its scan and its one wave (a dry run scans instead of installing), its gate passed; prod never started."""
    scan = {**RUN, "kind": "wave_result", "stage": "dev", "operation": "Scan", "command_ids": ["c-scan"], "verdict": PASSED, "polls": 1}
    return [
        {**RUN, "kind": "run_started", "at": "2026-12-01T02:00:00.000001Z", "plan": "demo", "stages": ["dev", "prod"], "all_stages": ["dev", "prod"],
         "patch_groups": {"dev": "dev", "prod": "prod-web"}, "dry_run": True, "change_ticket": "CHG-9", "params": {}},
        {**RUN, "kind": "preflight", "at": "2026-12-01T02:00:01.000000Z", "stage": "dev", "patch_group": "dev",
         "targets": [{"instance_id": "i-1"}, {"instance_id": "i-2"}], "offline": [], "baselines": {}, "default_baselines": {}, "warnings": []},
        {**scan, "at": "2026-12-01T02:03:00.000000Z", "wave": 1, "instances": [_row("i-1", "AMAZON_LINUX_2023"), _row("i-2", "WINDOWS")],
         "started_at": "2026-12-01T02:00:02.000000+00:00", "finished_at": "2026-12-01T02:03:00.000000+00:00",
         "missing_patches": {"AMAZON_LINUX_2023": [CURL, OPENSSL], "WINDOWS": []}},
        # The install wave, run as a scan: the same node again, and a patch the first scan did not see.
        {**scan, "at": "2026-12-01T02:06:00.000000Z", "wave": 1, "instances": [_row("i-1", "AMAZON_LINUX_2023")],
         "started_at": "2026-12-01T02:03:05.000000+00:00", "finished_at": "2026-12-01T02:06:00.000000+00:00",
         "missing_patches": {"AMAZON_LINUX_2023": [OPENSSL, TZDATA]}},
        {**RUN, "kind": "stage_verdict", "at": "2026-12-01T02:06:01.000000Z", "stage": "dev", "verdict": PASSED},
        finished or {**RUN, "kind": "run_finished", "at": "2026-12-01T02:06:02.000000Z", "outcome": "dry_run", "blocking_stage": None, "reason": ""},
    ]


def test_a_dry_run_that_passed_every_gate_is_a_dry_run_never_a_promotion():
    report = build_report(records_of_a_dry_run())
    assert (report.outcome, [(s.name, s.patch_group, s.state) for s in report.stages]) == (
        RunOutcome.DRY_RUN, [("dev", "dev", StageState.SCANNED), ("prod", "prod-web", StageState.NOT_STARTED)])
    assert headline(report) == "DRY RUN: nothing was installed; every gate of demo passed as a scan. Change ticket: CHG-9."
    assert "PROMOTED" not in summary_table(report) + render_markdown(report) + render_html(report)


def test_a_dry_run_lists_what_it_would_install_per_operating_system_in_report_json():
    stored = build_report(records_of_a_dry_run()).to_json()
    assert (stored["outcome"], stored["dry_run"]) == ("dry_run", True)
    assert [(stage["name"], stage["state"], stage.get("would_install")) for stage in stored["stages"]] == [
        ("dev", "scanned", {"AMAZON_LINUX_2023": [CURL, OPENSSL, TZDATA], "WINDOWS": []}),
        ("prod", "not started", None),
    ]
    assert Report.from_json(json.loads(json.dumps(stored))) == build_report(records_of_a_dry_run())


def test_the_markdown_of_a_dry_run_lists_each_patch_it_would_install_with_severity_and_cves():
    markdown = render_markdown(build_report(records_of_a_dry_run()))
    section = markdown.split("## Stage dev (patch group `dev`): scanned\n")[1].split("### Scan wave 1")[0]
    assert section.splitlines() == [
        "",
        "Gate: PASS",
        "- passed: 2 of 2 instances succeeded, 0 counted as failed (limit 0)",
        "",
        "### Would install (the scans found these missing): 3 patches (AMAZON_LINUX_2023 3, WINDOWS none)",
        "",
        "| os | patch | title | severity | CVEs |",
        "|---|---|---|---|---|",
        "| AMAZON_LINUX_2023 | curl.x86_64 | curl.x86_64:0:8.5.0-1.amzn2023.0.4 | Medium | CVE-2024-2398 |",
        "| AMAZON_LINUX_2023 | openssl-libs.x86_64 | openssl-libs.x86_64:1:3.0.8-1.amzn2023.0.14 | Important | CVE-2024-0727, CVE-2024-2511 |",
        "| AMAZON_LINUX_2023 | tzdata.noarch | tzdata.noarch:0:2024a-1.amzn2023.0.1 | None | - |",
        "",
    ]
    assert "## Stage prod (patch group `prod-web`): not started" in markdown


def test_the_html_of_a_dry_run_lists_what_it_would_install():
    page = render_html(build_report(records_of_a_dry_run()))
    assert "<p class='dry'><strong>DRY RUN: nothing was installed; every gate of demo passed as a scan. Change ticket: CHG-9.</strong></p>" in page
    assert "<h3>Would install (the scans found these missing): 3 patches (AMAZON_LINUX_2023 3, WINDOWS none)</h3>" in page
    assert ("<tr><td>AMAZON_LINUX_2023</td><td>openssl-libs.x86_64</td><td>openssl-libs.x86_64:1:3.0.8-1.amzn2023.0.14</td><td>Important</td>"
            "<td>CVE-2024-0727, CVE-2024-2511</td></tr>") in page


BLOCKED = {**RUN, "kind": "run_finished", "at": "2026-12-01T02:06:02.000000Z", "outcome": "blocked", "blocking_stage": "dev",
           "reason": "scan wave 1: 1 of 2 instances unreachable, above the limit of 0"}


@pytest.mark.parametrize(
    "finished, outcome, said",
    [
        pytest.param(None, RunOutcome.DRY_RUN, "DRY RUN: nothing was installed; every gate of demo passed as a scan.", id="passed"),
        # A dry run finished before dry runs had an outcome of their own wrote promoted.
        pytest.param({**BLOCKED, "outcome": "promoted", "blocking_stage": None, "reason": ""}, RunOutcome.DRY_RUN,
                     "DRY RUN: nothing was installed; every gate of demo passed as a scan.", id="recorded-as-promoted-before"),
        pytest.param(BLOCKED, RunOutcome.BLOCKED, "DRY RUN BLOCKED at stage dev: scan wave 1: 1 of 2 instances unreachable, above the limit of 0.", id="blocked"),
        pytest.param({**BLOCKED, "outcome": "failed", "reason": "SSM stopped answering"}, RunOutcome.FAILED, "DRY RUN FAILED: SSM stopped answering.", id="failed"),
    ],
)
def test_a_dry_run_says_so_however_it_ended(finished, outcome, said):
    report = build_report(records_of_a_dry_run(finished))
    assert (report.outcome, headline(report)) == (outcome, f"{said} Change ticket: CHG-9.")


def test_a_run_that_is_not_dry_has_no_would_install_list():
    records = [{**r, "dry_run": False} if r["kind"] == "run_started" else r for r in records_of_a_dry_run({**BLOCKED, "outcome": "promoted", "blocking_stage": None})]
    report = build_report(records)
    assert (report.outcome, [s.state for s in report.stages], ["would_install" in s for s in report.to_json()["stages"]]) == (
        RunOutcome.PROMOTED, [StageState.PROMOTED, StageState.NOT_STARTED], [False, False])


def _item(kb_id: str, title: str = "", severity: str | None = None, cves: str | None = None) -> dict:
    """A DescribeInstancePatches item as the service answers it (CVEIds one comma-separated string, absent when none)."""
    item = {"KBId": kb_id, "Title": title, "Classification": "Security", "State": "Missing"}
    return {**item, **({"Severity": severity} if severity is not None else {}), **({"CVEIds": cves} if cves is not None else {})}


@pytest.mark.parametrize(
    "scanned, recorded",
    [
        pytest.param([], {}, id="nothing-scanned"),
        pytest.param([("UBUNTU", [])], {"UBUNTU": []}, id="nothing-missing"),
        pytest.param(
            [("WINDOWS", [_item("KB5034439", "2024-01 Security Update", "Critical", "CVE-2024-20666,CVE-2024-20674")]),
             ("WINDOWS", [_item("KB5034439", "2024-01 Security Update", "Critical", "CVE-2024-20666,CVE-2024-20674"), _item("KB5034122", "2024-01 Cumulative")]),
             (None, [_item("zlib.x86_64", "zlib", "")])],
            {"WINDOWS": [{"id": "KB5034122", "title": "2024-01 Cumulative", "severity": "", "cve_ids": []},
                         {"id": "KB5034439", "title": "2024-01 Security Update", "severity": "Critical", "cve_ids": ["CVE-2024-20666", "CVE-2024-20674"]}],
             "unknown": [{"id": "zlib.x86_64", "title": "zlib", "severity": "", "cve_ids": []}]},
            id="each-patch-once-per-os-sorted",
        ),
    ],
)
def test_what_a_scan_records_as_missing(scanned, recorded):
    assert missing_by_os(scanned) == recorded


def test_a_listed_patch_reads_a_service_item():
    assert ListedPatch.from_reported(_item("curl.x86_64", "curl", "Medium", "CVE-2024-2398, CVE-2024-2004")) == ListedPatch(
        "curl.x86_64", "curl", "Medium", ("CVE-2024-2398", "CVE-2024-2004"))


def _stored_dry_run(change) -> dict:
    stored = build_report(records_of_a_dry_run()).to_json()
    change(stored["stages"][0]["would_install"])
    return stored


@pytest.mark.parametrize(
    "stored, problems",
    [
        pytest.param(_stored_dry_run(lambda lists: lists.update(WINDOWS="none")), ["report.json: stages[0].would_install.WINDOWS: expected a list, got 'none'"],
                     id="not-a-list"),
        pytest.param(_stored_dry_run(lambda lists: lists["AMAZON_LINUX_2023"][1].update(cve_ids="CVE-2024-0727", severity=None)),
                     ["report.json: stages[0].would_install.AMAZON_LINUX_2023[1].severity: expected text, got None",
                      "report.json: stages[0].would_install.AMAZON_LINUX_2023[1].cve_ids: expected a list of text, got 'CVE-2024-0727'"],
                     id="patch-fields"),
    ],
)
def test_a_would_install_list_of_another_shape_is_refused_naming_each_field(stored, problems):
    with pytest.raises(InvalidInput) as refused:
        Report.from_json(stored)
    assert [str(p) for p in refused.value.problems] == problems
