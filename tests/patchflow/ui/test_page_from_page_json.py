"""A finished run's card is the same whether the page reads the run's small page.json or its whole report.json, and a
run without a readable page.json (finished before runs wrote one, another version, another shape) still shows."""
from __future__ import annotations

import logging
from pathlib import Path

import pytest

from patchflow.aws.ledger import RunLedger, open_store
from patchflow.core.report import build_report
from patchflow.core.report_instances import ATTENTION_SHOWN
from patchflow.core.report_page import PAGE_JSON
from patchflow.core.report_records import Report
from patchflow.rollout.base import write_finish_artifacts
from patchflow.ui import gather, model, render
from patchflow.ui.stage_model import PAGE_ATTENTION_SHOWN
from tests.patchflow.core.test_report_dry_runs import records_of_a_dry_run
from tests.patchflow.ui import test_page_at_scale, test_page_health, test_page_model, test_page_scopes

NOW = test_page_model.NOW
PLANS = [test_page_model.PLAN, test_page_scopes.PLAN, test_page_health.PLAN, test_page_at_scale.PLAN]
FLEET = {"ok": True, "region": "us-east-1", "registered": [], "groups": {}}


def finished_runs() -> list[Report]:
    """Runs of every kind the page shows: blocked, in two Regions, blocked by health, a dry run, and 120 failed nodes of 150."""
    health = test_page_health._records(test_page_health.HEALTHY, test_page_health.FIRED, outcome="blocked", reason="soak: alarm")
    return [build_report(test_page_model.records_of_a_blocked_run()), build_report(test_page_scopes.records_of_a_run_blocked_in_one_region()),
            build_report(health), build_report(records_of_a_dry_run()), test_page_at_scale._report(failed=120, succeeded=30)]


def ledger_of(root: Path, reports: list[Report]) -> tuple[str, list[RunLedger]]:
    """A file ledger holding each run as the finish task leaves it: a record, report.json, page.json and the rest."""
    uri = f"file://{root}/ledger"
    ledgers = []
    for report in reports:
        ledger = RunLedger(open_store(uri), report.dag_id, report.run_id)
        ledger.append("run_started", plan=report.plan, stages=[s.name for s in report.stages], all_stages=[s.name for s in report.stages], dry_run=report.dry_run,
                      change_ticket=report.change_ticket, params={})
        write_finish_artifacts(ledger, report)
        ledgers.append(ledger)
    return uri, ledgers


def page_of(uri: str) -> tuple[dict, dict, str]:
    plans = [{**plan, "ledger_uri": uri} for plan in PLANS]
    ledger = gather.read_ledgers(plans)
    page = model.build_page(plans=plans, fleet=FLEET, ledger=ledger, now=NOW)
    return ledger, page, render.render_page(page)


def forget_page_files(ledgers: list[RunLedger], root: Path) -> None:
    for ledger in ledgers:
        (root / "ledger" / ledger.run_prefix / PAGE_JSON).unlink()


def test_every_run_s_card_is_the_same_from_its_page_json_as_from_its_report_json(tmp_path):
    reports = finished_runs()
    uri, ledgers = ledger_of(tmp_path, reports)
    from_pages, page, html = page_of(uri)
    forget_page_files(ledgers, tmp_path)
    from_reports, expected_page, expected_html = page_of(uri)

    keys = sorted((report.dag_id, report.run_id) for report in reports)
    assert (sorted(from_pages["attention"]), from_reports["attention"], from_pages["failures"], from_reports["failures"]) == (keys, {}, [], [])
    # The big run's report came from page.json: its rows cut to those behind the first ATTENTION_SHOWN failed nodes.
    big = next(r for r in from_pages["reports"] if r.dag_id == "rollout_fleet")
    assert sum(len(w.instances) for s in big.stages for w in s.waves) == ATTENTION_SHOWN
    assert (page, html) == (expected_page, expected_html)
    assert [run["attention"]["more"] for run in page["runs"] if run["dag_id"] == "rollout_fleet"] == [120 - PAGE_ATTENTION_SHOWN]


def test_page_json_keeps_at_least_the_rows_a_card_lists():
    assert PAGE_ATTENTION_SHOWN <= ATTENTION_SHOWN


def _write(ledger: RunLedger, root: Path, body: str | None) -> None:
    path = root / "ledger" / ledger.run_prefix / PAGE_JSON
    if body is None:
        path.unlink()
    else:
        path.write_text(body)


@pytest.mark.parametrize(
    "body, why",
    [
        pytest.param(None, None, id="finished-before-runs-wrote-page-json"),
        pytest.param("{", "JSONDecodeError: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)", id="not-json"),
        pytest.param('{"page": {"version": 2}}', "{file}: page.version: expected 1, got 2", id="another-version"),
        pytest.param('{"outcome": "blocked"}', "{file}: page: expected a mapping, got nothing", id="another-shape"),
    ],
)
def test_a_run_without_a_readable_page_json_is_read_from_its_report_json(tmp_path, caplog, body, why):
    report = build_report(test_page_model.records_of_a_blocked_run())
    uri, [ledger] = ledger_of(tmp_path, [report])
    _, expected_page, expected_html = page_of(uri)
    _write(ledger, tmp_path, body)

    with caplog.at_level(logging.WARNING, logger=gather.__name__):
        ledger_read, page, html = page_of(uri)
    file = f"{tmp_path.as_uri()}/ledger/{ledger.run_prefix}/{PAGE_JSON}"
    warnings = [] if why is None else [f"patch rollouts page: {file} cannot be read; the run is read from its report.json instead: {why.format(file=file)}"]
    assert ([r.getMessage() for r in caplog.records], ledger_read["attention"], ledger_read["failures"]) == (warnings, {}, [])
    assert (page, html) == (expected_page, expected_html)
