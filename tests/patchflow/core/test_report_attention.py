"""What a release manager reads first in the report: the nodes that did not succeed and why, the change ticket,
what the pin-source stage installed, the patch group of every stage, and one time format."""
from __future__ import annotations

import json

import pytest

from patchflow.core.report import build_report, headline, render_html, render_markdown, summary_table
from patchflow.core.report_attention import row_reason
from patchflow.core.report_fields import shown_time
from patchflow.core.report_patches import ListedPatch
from patchflow.core.report_records import InstanceRow, Report

RUN = {"dag_id": "rollout_demo", "run_id": "manual__7"}
VERDICT = {"passed": False, "reasons": ["2 of 4 instances counted as failed (limit 1)"], "counts": {"targets": 4, "succeeded": 2, "failed": 1, "unreachable": 1},
           "thresholds": {}}
OPENSSL = {"id": "openssl-libs.x86_64", "title": "openssl-libs.x86_64:1:3.0.8-1.amzn2023.0.14", "severity": "Important", "cve_ids": ["CVE-2024-0727"]}


def _row(instance_id: str, outcome: str = "succeeded", details: str = "Success", **more) -> dict:
    return {"instance_id": instance_id, "operating_system": "AMAZON_LINUX_2023", "outcome": outcome, "status_details": details, "compliant": outcome == "succeeded",
            "pending_reboot": False, "missing": 0, "failed_patches": 0, "command_id": "c-1", **more}


def records_of_a_run_with_failures() -> list[dict]:
    """dev (the pin source) scanned, then installed; one node failed two patches, one was unreachable, one failed once and
    succeeded when its wave was retried; test, pinned to dev, failed on a node that still lacks a manifest patch; prod never started."""
    wave = {**RUN, "kind": "wave_result", "stage": "dev", "wave": 1, "operation": "Install", "command_ids": ["c-1"], "verdict": VERDICT, "polls": 3,
            "started_at": "2026-12-01T02:01:00.123456+00:00", "finished_at": "2026-12-01T02:09:30.654321+00:00"}
    return [
        {**RUN, "kind": "run_started", "at": "2026-12-01T02:00:00.000001Z", "plan": "demo", "stages": ["dev", "test", "prod"], "all_stages": ["dev", "test", "prod"],
         "patch_groups": {"dev": "dev", "test": "test", "prod": "prod-web"}, "dry_run": False, "change_ticket": "CHG-42", "params": {}},
        {**RUN, "kind": "preflight", "at": "2026-12-01T02:00:01.000000Z", "stage": "dev", "patch_group": "dev",
         "targets": [{"instance_id": f"i-{n}"} for n in range(1, 5)], "offline": ["i-4"], "baselines": {}, "default_baselines": {}, "warnings": []},
        {**RUN, "kind": "wave_result", "at": "2026-12-01T02:00:50.000000Z", "stage": "dev", "wave": 1, "operation": "Scan", "command_ids": ["c-scan"],
         "verdict": {**VERDICT, "passed": True, "reasons": []}, "polls": 1, "started_at": "2026-12-01T02:00:02Z", "finished_at": "2026-12-01T02:00:50Z",
         "instances": [_row(f"i-{n}") for n in range(1, 4)], "missing_patches": {"AMAZON_LINUX_2023": [OPENSSL]}},
        {**wave, "at": "2026-12-01T02:05:00.000000Z", "instances": [_row("i-1"), _row("i-3", "failed", "Failed")]},
        # The retried wave: i-3 succeeded this time; i-2 failed two patches; i-4 was never sent to.
        {**wave, "at": "2026-12-01T02:09:31.000000Z", "instances": [
            _row("i-1"), _row("i-2", "failed", "Failed", failed_patches=2, failed_patch_ids=["curl.x86_64", "openssl-libs.x86_64"]), _row("i-3"),
            {**_row("i-4", "unreachable", "NotSent: agent ConnectionLost at preflight"), "command_id": "", "compliant": None}]},
        {**RUN, "kind": "stage_verdict", "at": "2026-12-01T02:09:32.000000Z", "stage": "dev", "verdict": {**VERDICT, "passed": True}},
        {**RUN, "kind": "manifest", "at": "2026-12-01T02:09:33.000000Z", "stage": "dev", "content_hash": "9f2c", "size": 2, "location": "s3://l/manifest.json",
         "override_lists": {}, "nothing_new_for": ["WINDOWS"], "without_scan_evidence": [], "release_id": "r-9f2c",
         "patches": {"AMAZON_LINUX_2023": [{"id": "zlib.x86_64", "title": "zlib.x86_64:0:1.2.11-33.amzn2023"},
                                           {"id": "openssl-libs.x86_64", "title": OPENSSL["title"]}], "WINDOWS": []}},
        {**wave, "at": "2026-12-01T02:20:00.000000Z", "stage": "test", "command_ids": ["c-2"], "started_at": "2026-12-01T02:15:00Z",
         "finished_at": "2026-12-01T02:20:00Z", "instances": [_row("i-9", "failed", "Failed", not_installed=["openssl-libs.x86_64"])]},
        {**RUN, "kind": "stage_verdict", "at": "2026-12-01T02:20:01.000000Z", "stage": "test", "verdict": VERDICT},
        {**RUN, "kind": "run_finished", "at": "2026-12-01T02:20:02.000000Z", "outcome": "blocked", "blocking_stage": "test",
         "reason": "gate: 2 of 4 instances counted as failed (limit 1)"},
    ]


def test_the_markdown_names_every_node_that_did_not_succeed_and_why_before_the_summary():
    markdown = render_markdown(build_report(records_of_a_run_with_failures()))
    assert markdown.split("## Summary")[0].splitlines() == [
        "# Patch rollout report: demo",
        "",
        "**BLOCKED at stage test: gate: 2 of 4 instances counted as failed (limit 1). Change ticket: CHG-42.**",
        "",
        "- DAG run: `rollout_demo` / `manual__7`",
        "- Started: 2026-12-01T02:00:00Z  Finished: 2026-12-01T02:20:02Z",
        "- Dry run (scan only): no",
        "- Change ticket: CHG-42",
        "- Every instance, one row per wave: [instances.csv](instances.csv)",
        "",
        "## Needs attention: 3 instances did not succeed",
        "",
        "| stage | wave | instance | os | outcome | reason |",
        "|---|---|---|---|---|---|",
        "| dev | Install wave 1 | i-2 | AMAZON_LINUX_2023 | failed | Failed; 2 patches failed: curl.x86_64, openssl-libs.x86_64 |",
        "| dev | Install wave 1 | i-4 | AMAZON_LINUX_2023 | unreachable | NotSent: agent ConnectionLost at preflight |",
        "| test | Install wave 1 | i-9 | AMAZON_LINUX_2023 | failed | Failed; not installed: openssl-libs.x86_64 |",
        "",
    ]


@pytest.mark.parametrize(
    "row, reason",
    [
        pytest.param(_row("i-2", "failed", "Failed", failed_patches=1, failed_patch_ids=["KB5034441"]), "Failed; 1 patch failed: KB5034441", id="named"),
        pytest.param(_row("i-2", "failed", "Failed", failed_patches=2), "Failed; 2 patches failed", id="older-ledger-counts-only"),
        pytest.param(_row("i-2", "failed", "Failed"), "Failed", id="no-failed-patches"),
        pytest.param(_row("i-9", "failed", "Failed", failed_patches=1, failed_patch_ids=["curl.x86_64"], not_installed=["zlib.x86_64"]),
                     "Failed; 1 patch failed: curl.x86_64; not installed: zlib.x86_64", id="pinned-stage"),
    ],
)
def test_the_reason_names_the_failed_patches_where_the_row_recorded_them(row, reason):
    assert row_reason(InstanceRow(row)) == reason


def test_each_wave_table_lists_its_failed_and_unreachable_nodes_first():
    markdown = render_markdown(build_report(records_of_a_run_with_failures()))
    # The retried wave is listed once, with its last try's rows.
    (_, retried) = markdown.split("- Commands: c-1; 2026-12-01T02:01:00Z to 2026-12-01T02:09:30Z")
    assert [line.split(" | ")[0] for line in retried.split("\n\n")[1].splitlines()[2:]] == ["| i-2", "| i-4", "| i-1", "| i-3"]


def test_the_pin_source_stage_lists_what_it_installed_with_the_severity_and_cves_its_scan_saw():
    report = build_report(records_of_a_run_with_failures())
    assert report.stages[0].installed == {
        "AMAZON_LINUX_2023": (ListedPatch("openssl-libs.x86_64", OPENSSL["title"], "Important", ("CVE-2024-0727",)),
                              ListedPatch("zlib.x86_64", "zlib.x86_64:0:1.2.11-33.amzn2023")),
        "WINDOWS": (),
    }
    markdown = render_markdown(report)
    assert markdown.split("### Installed (the stage's manifest)")[1].split("\n\n### ")[0].splitlines() == [
        ": 2 patches (AMAZON_LINUX_2023 2, WINDOWS none)",
        "",
        "| os | patch | title | severity | CVEs |",
        "|---|---|---|---|---|",
        "| AMAZON_LINUX_2023 | openssl-libs.x86_64 | openssl-libs.x86_64:1:3.0.8-1.amzn2023.0.14 | Important | CVE-2024-0727 |",
        "| AMAZON_LINUX_2023 | zlib.x86_64 | zlib.x86_64:0:1.2.11-33.amzn2023 | - | - |",
    ]
    stored = report.to_json()
    assert [("installed" in stage, "would_install" in stage) for stage in stored["stages"]] == [(True, False), (False, False), (False, False)]
    assert Report.from_json(json.loads(json.dumps(stored))) == report


def test_the_html_says_the_same_first():
    page = render_html(build_report(records_of_a_run_with_failures()))
    assert page.index("Needs attention: 3 instances did not succeed") < page.index("<h2>Summary</h2>")
    for shown in (
        "<strong>BLOCKED at stage test: gate: 2 of 4 instances counted as failed (limit 1). Change ticket: CHG-42.</strong>",
        "<p>Dry run (scan only): no; change ticket: CHG-42</p>",
        "started 2026-12-01T02:00:00Z, finished 2026-12-01T02:20:02Z",
        "<tr><td>dev</td><td>Install wave 1</td><td>i-2</td><td>AMAZON_LINUX_2023</td><td>failed</td>"
        "<td>Failed; 2 patches failed: curl.x86_64, openssl-libs.x86_64</td></tr>",
        "<h3>Installed (the stage&#39;s manifest): 2 patches (AMAZON_LINUX_2023 2, WINDOWS none)</h3>",
        "<p>Commands: c-1; 2026-12-01T02:01:00Z to 2026-12-01T02:09:30Z</p>",
        "<h2>Stage prod (patch group <code>prod-web</code>): not started</h2>",
    ):
        assert shown in page, shown


def test_the_summary_names_the_group_of_a_stage_that_never_started_and_its_headline_the_ticket():
    report = build_report(records_of_a_run_with_failures())
    assert summary_table(report).splitlines()[-1].split() == ["prod", "prod-web", "0", "0", "0", "0", "-", "-"]
    assert headline(report).endswith(" Change ticket: CHG-42.")


@pytest.mark.parametrize(
    "recorded, shown",
    [
        pytest.param("2026-12-01T02:00:00.000001Z", "2026-12-01T02:00:00Z", id="ledger-time"),
        pytest.param("2026-12-01T02:01:00.123456+00:00", "2026-12-01T02:01:00Z", id="isoformat-utc"),
        pytest.param("2026-12-01T03:01:00+01:00", "2026-12-01T02:01:00Z", id="other-offset"),
        pytest.param("2026-12-01T02:01:00", "2026-12-01T02:01:00Z", id="naive-is-utc"),
        pytest.param(None, "-", id="none"),
        pytest.param("soon", "soon", id="not-a-time"),
    ],
)
def test_every_time_is_shown_as_iso_8601_utc_with_a_z(recorded, shown):
    assert shown_time(recorded) == shown
