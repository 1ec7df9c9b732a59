"""A run over very many instances: report.md and report.html list a summary and the nodes that need attention, each
list capped with an `and N more: see instances.csv` line; instances.csv has every instance's row of every wave."""
from __future__ import annotations

import pytest

from patchflow.core.report import build_report, render_html, render_markdown, stage_facts, summary_rows
from patchflow.core.report_instances import (
    Capped, capped, command_cell, command_line, id_list, instances_csv, more_line, outcome_summary, spreadsheet_text, wave_table,
)
from patchflow.core.report_records import InstanceRow, Report, Stage, Wave

RUN = {"dag_id": "rollout_fleet", "run_id": "scheduled__2026-12-01T02:00:00+00:00"}


def _row(instance_id: str, outcome: str = "succeeded", details: str = "Success", **more) -> dict:
    return {"instance_id": instance_id, "operating_system": "AMAZON_LINUX_2023", "outcome": outcome, "status_details": details,
            "compliant": outcome == "succeeded", "pending_reboot": False, "missing": 0, "failed_patches": 0, "command_id": "c-1", **more}


def _unreachable(instance_id: str) -> dict:
    return {**_row(instance_id, "unreachable", "NotSent: agent ConnectionLost at preflight"), "command_id": "", "compliant": None}


def _fleet_rows(succeeded: int, failed: int = 0, unreachable: int = 0) -> list[dict]:
    """Failed nodes first (i-f*), then unreachable (i-u*), then the ones that succeeded (i-s*)."""
    return [*(_row(f"i-f{n}", "failed", "Failed") for n in range(failed)), *(_unreachable(f"i-u{n}") for n in range(unreachable)),
            *(_row(f"i-s{n}") for n in range(succeeded))]


def _records(rows: list[dict], command_ids: tuple[str, ...] = ("c-1",), **stage_records) -> list[dict]:
    """A run of one stage, dev, with one install wave of `rows`."""
    counts = {"targets": len(rows), "succeeded": sum(r["outcome"] == "succeeded" for r in rows), "failed": sum(r["outcome"] == "failed" for r in rows),
              "unreachable": sum(r["outcome"] == "unreachable" for r in rows)}
    verdict = {"passed": True, "reasons": [f"passed: {counts['succeeded']} of {len(rows)} instances succeeded"], "counts": counts, "thresholds": {}}
    return [
        {**RUN, "kind": "run_started", "at": "2026-12-01T02:00:00.000000Z", "plan": "fleet", "stages": ["dev"], "all_stages": ["dev"],
         "patch_groups": {"dev": "dev"}, "dry_run": False, "change_ticket": "", "params": {}},
        {**RUN, "kind": "preflight", "at": "2026-12-01T02:00:01.000000Z", "stage": "dev", "patch_group": "dev", "targets": [{"instance_id": r["instance_id"]} for r in rows],
         "offline": stage_records.get("offline", []), "baselines": {}, "default_baselines": {}, "warnings": []},
        {**RUN, "kind": "command_sent", "at": "2026-12-01T02:00:02.000000Z", "stage": "dev", "wave": 1, "operation": "Install", "command_ids": list(command_ids),
         "instance_count": len(rows), "not_sent": [], "reattached": [], "comments": [], "install_override_lists": [], "pinned_to": None, "nothing_new_for": []},
        {**RUN, "kind": "wave_result", "at": "2026-12-01T02:05:00.000000Z", "stage": "dev", "wave": 1, "operation": "Install", "command_ids": list(command_ids),
         "instances": rows, "verdict": verdict, "started_at": "2026-12-01T02:00:02Z", "finished_at": "2026-12-01T02:05:00Z", "polls": 3},
        {**RUN, "kind": "stage_verdict", "at": "2026-12-01T02:05:01.000000Z", "stage": "dev", "verdict": verdict},
        {**RUN, "kind": "run_finished", "at": "2026-12-01T02:05:02.000000Z", "outcome": "promoted", "blocking_stage": None, "reason": ""},
    ]


def _wave(rows: list[dict]) -> Wave:
    return Wave(1, targets=len(rows), instances=tuple(InstanceRow(row) for row in rows))


def _ids(shown: Capped[InstanceRow]) -> tuple[tuple[str, ...], int]:
    return tuple(row.instance_id for row in shown.shown), shown.more


# --------------------------------------------------------------------------- the capped lists


@pytest.mark.parametrize(
    "items, limit, expected",
    [
        pytest.param([], 3, Capped(()), id="empty"),
        pytest.param([1, 2, 3], 3, Capped((1, 2, 3)), id="at-the-limit"),
        pytest.param([1, 2, 3, 4, 5], 3, Capped((1, 2, 3), 2), id="over-the-limit"),
    ],
)
def test_capped_keeps_the_first_items_and_counts_the_rest(items, limit, expected):
    assert capped(items, limit) == expected


@pytest.mark.parametrize(
    "more, line",
    [
        pytest.param(0, "", id="nothing-left-out"),
        pytest.param(1, "and 1 more: see instances.csv", id="one"),
        pytest.param(89_975, "and 89,975 more: see instances.csv", id="thousands"),
    ],
)
def test_the_more_line_points_at_instances_csv(more, line):
    assert more_line(more) == line


@pytest.mark.parametrize(
    "rows, shown",
    [
        pytest.param(_fleet_rows(2, failed=1), (("i-f0", "i-s0", "i-s1"), 0), id="small-wave-lists-every-node-problems-first"),
        pytest.param([*_fleet_rows(24), _row("i-late", "failed", "Failed")], (("i-late", *(f"i-s{n}" for n in range(24))), 0), id="25-nodes-are-still-small"),
        pytest.param(_fleet_rows(30, failed=2, unreachable=1), (("i-f0", "i-f1", "i-u0"), 30), id="big-wave-lists-only-its-problems"),
        pytest.param(_fleet_rows(100), ((), 100), id="big-wave-without-problems-lists-none"),
        pytest.param(_fleet_rows(10, failed=30), (tuple(f"i-f{n}" for n in range(25)), 15), id="more-problems-than-the-cap"),
    ],
)
def test_a_wave_table_lists_every_node_of_a_small_wave_and_only_the_problems_of_a_big_one(rows, shown):
    assert _ids(wave_table(_wave(rows))) == shown


@pytest.mark.parametrize(
    "rows, summary",
    [
        pytest.param([], "no instances", id="none"),
        pytest.param(_fleet_rows(3), "3 succeeded", id="all-succeeded"),
        pytest.param([_row("i-1", "TIMED_OUT"), *_fleet_rows(53_800, failed=90, unreachable=60), _row("i-2", "weird")],
                     "53,800 succeeded, 90 failed, 1 timed out, 60 unreachable, 1 weird", id="known-outcomes-in-order-then-others"),
    ],
)
def test_a_wave_summary_counts_its_outcomes(rows, summary):
    assert outcome_summary(_wave(rows)) == summary


@pytest.mark.parametrize(
    "render, values, expected",
    [
        pytest.param(id_list, ["i-1", "i-2"], "i-1, i-2", id="ids"),
        pytest.param(id_list, [f"i-{n}" for n in range(27)], ", ".join(f"i-{n}" for n in range(25)) + " and 2 more (see instances.csv)", id="ids-capped"),
        pytest.param(command_cell, [], "-", id="no-commands-in-a-cell"),
        pytest.param(command_cell, ["0123456789-a", "abcdefghij-b"], "01234567 abcdefgh", id="commands-in-a-cell-by-their-start"),
        pytest.param(command_cell, [f"command-{n}" for n in range(1_080)], "command- command- command- command- command- +1,075 more", id="commands-in-a-cell-capped"),
        pytest.param(command_line, [], "-", id="no-commands-on-a-wave-line"),
        pytest.param(command_line, [f"c-{n}" for n in range(7)], "c-0, c-1, c-2, c-3, c-4 and 2 more (see instances.csv)", id="commands-on-a-wave-line-capped"),
    ],
)
def test_id_and_command_lists_name_the_first_ones_and_count_the_rest(render, values, expected):
    assert render(values) == expected


# --------------------------------------------------------------------------- instances.csv


def test_instances_csv_has_every_row_of_every_wave_with_where_it_ran_and_why_it_failed():
    report = Report(stages=(
        Stage("dev", waves=(Wave(1, instances=(
            InstanceRow(_row("i-1")),
            InstanceRow(_row("i-2", "failed", "Failed", missing=2, failed_patches=2, failed_patch_ids=["KB5034441", "curl.x86_64"])),
            InstanceRow(_unreachable("i-3")),
        )), Wave(None, operation="Scan", instances=(InstanceRow({"instance_id": "i-old"}),)))),
        Stage("prod", waves=(Wave(2, where={"account": "333333333333", "account_alias": "prod", "region": "eu-west-1"}, instances=(
            InstanceRow(_row("i-9", "failed", "Failed, \"quoted\"", command_id="c-9", not_installed=["zlib.x86_64", "curl.x86_64"],
                             verification={"passed": False, "status_details": "Failed", "response_code": 1, "output_tail": "boom\n"})),
        )),)),
        Stage("later"),
    ))
    assert instances_csv(report).split("\r\n") == [
        "stage,account,account_alias,region,operation,wave,instance,os,outcome,needs_attention,status_details,compliant,pending_reboot,missing,"
        "failed_patches,failed_patch_ids,not_installed,command_id,health_check",
        "dev,,,,Install,1,i-1,AMAZON_LINUX_2023,succeeded,no,Success,yes,no,0,0,,,c-1,",
        "dev,,,,Install,1,i-2,AMAZON_LINUX_2023,failed,yes,Failed,no,no,2,2,KB5034441 curl.x86_64,,c-1,",
        "dev,,,,Install,1,i-3,AMAZON_LINUX_2023,unreachable,yes,NotSent: agent ConnectionLost at preflight,,no,0,0,,,,",
        "dev,,,,Scan,,i-old,,,yes,,,,,0,,,,",
        'prod,333333333333,prod,eu-west-1,Install,2,i-9,AMAZON_LINUX_2023,failed,yes,"Failed, ""quoted""",no,no,0,0,,zlib.x86_64 curl.x86_64,c-9,failed (exit 1)',
        "",
    ]


def test_instances_csv_of_a_run_that_reached_no_wave_is_its_header_alone():
    assert instances_csv(Report(stages=(Stage("dev"),))).count("\r\n") == 1


# --------------------------------------------------------------------------- report.md and report.html


def test_a_big_wave_lists_its_problems_and_says_how_many_more_are_in_instances_csv():
    markdown = render_markdown(build_report(_records(_fleet_rows(40, failed=1, unreachable=1), command_ids=tuple(f"c-{n}" for n in range(7)))))
    assert markdown.split("### Install wave 1")[1].splitlines() == [
        ": 42 instances, PASS",
        "",
        "- passed: 40 of 42 instances succeeded",
        "- Outcomes: 40 succeeded, 1 failed, 1 unreachable",
        "- Commands: c-0, c-1, c-2, c-3, c-4 and 2 more (see instances.csv); 2026-12-01T02:00:02Z to 2026-12-01T02:05:00Z",
        "",
        "| instance | os | outcome | status | compliant | pending reboot | command |",
        "|---|---|---|---|---|---|---|",
        "| i-f0 | AMAZON_LINUX_2023 | failed | Failed | no | no | c-1 |",
        "| i-u0 | AMAZON_LINUX_2023 | unreachable | NotSent: agent ConnectionLost at preflight | - | no |  |",
        "",
        "and 40 more: see [instances.csv](instances.csv)",
    ]


def test_the_needs_attention_table_lists_the_first_hundred_and_says_how_many_more():
    report = build_report(_records(_fleet_rows(10, failed=130, unreachable=2)))
    attention = render_markdown(report).split("## Needs attention: 132 instances did not succeed\n\n")[1].split("\n\n## Summary")[0].splitlines()
    assert (len(attention), attention[2], attention[-3], attention[-1]) == (
        104, "| dev | Install wave 1 | i-f0 | AMAZON_LINUX_2023 | failed | Failed |", "| dev | Install wave 1 | i-f99 | AMAZON_LINUX_2023 | failed | Failed |",
        "and 32 more: see [instances.csv](instances.csv)",
    )
    page = render_html(report)
    # The attention table's hundred rows, then the wave's own table of its first 25 problems.
    assert (page.count("<td>failed</td><td>Failed</td></tr>"), page.count("<td>failed</td><td>Failed</td><td>no</td>")) == (100, 25)
    assert page.count("<p class='more'>and 32 more: see <a href='instances.csv' download>instances.csv</a></p>") == 1
    assert page.count("<p class='more'>and 117 more: see <a href='instances.csv' download>instances.csv</a></p>") == 1


def test_both_human_formats_link_instances_csv():
    report = build_report(_records(_fleet_rows(3)))
    assert "- Every instance, one row per wave: [instances.csv](instances.csv)\n" in render_markdown(report)
    assert "<p>Every instance, one row per wave: <a class='download' href='instances.csv' download>instances.csv</a></p>" in render_html(report)


def test_long_id_lists_in_a_stage_s_facts_and_summary_are_capped():
    offline = [f"i-u{n}" for n in range(30)]
    report = build_report(_records(_fleet_rows(5, unreachable=30), command_ids=tuple(f"command-{n}" for n in range(9)), offline=offline))
    assert stage_facts(report.stages[0]) == ["Offline agents at preflight: " + ", ".join(offline[:25]) + " and 5 more (see instances.csv)"]
    assert summary_rows(report)[0][-1] == "command- command- command- command- command- +4 more"


@pytest.mark.parametrize("render", [pytest.param(render_markdown, id="markdown"), pytest.param(render_html, id="html")])
def test_the_human_formats_do_not_grow_with_the_nodes_that_succeeded(render):
    small, big = (render(build_report(_records(_fleet_rows(succeeded, failed=3, unreachable=2)))) for succeeded in (100, 20_000))
    # The same lines; only the counts have more digits.
    assert (len(big.splitlines()), 0 < len(big) - len(small) < 100) == (len(small.splitlines()), True)


@pytest.mark.parametrize(
    "value, cell",
    [
        pytest.param("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")", id="formula"),
        pytest.param("+1", "'+1", id="plus"),
        pytest.param("-2+3", "'-2+3", id="minus"),
        pytest.param("@SUM(A1)", "'@SUM(A1)", id="at"),
        pytest.param("\tcmd", "'\tcmd", id="tab"),
        pytest.param("curl.x86_64", "curl.x86_64", id="plain-text"),
        pytest.param("i-0abc", "i-0abc", id="dash-inside"),
        pytest.param(3, 3, id="number"),
        pytest.param("", "", id="empty"),
    ],
)
def test_a_csv_cell_that_would_start_a_formula_is_kept_as_text(value, cell):
    assert spreadsheet_text(value) == cell


def test_instances_csv_keeps_a_node_reported_patch_id_as_text():
    report = Report(stages=(Stage("dev", waves=(Wave(1, instances=(
        InstanceRow(_row("i-1", "failed", "Failed", failed_patches=1, failed_patch_ids=["=cmd|' /C calc'!A0"])),)),)),))
    assert instances_csv(report).split("\r\n")[1] == (
        "dev,,,,Install,1,i-1,AMAZON_LINUX_2023,failed,yes,Failed,no,no,0,1,'=cmd|' /C calc'!A0,,c-1,")
