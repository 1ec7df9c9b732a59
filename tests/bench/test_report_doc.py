"""bench/report_doc.py: each benchmark script rewrites only its own section of docs/benchmarks.md."""
from __future__ import annotations

import sys

import pytest

from patchflow.core.yamlfile import PROJECT_ROOT
from tests.bench.conftest import bench_module


@pytest.fixture(scope="module")
def report_doc():
    with bench_module("report_doc") as module:
        yield module


def sections(text: str) -> list[str]:
    return [line.split(":", 1)[1].split(" ", 1)[0] for line in text.splitlines() if line.startswith("<!-- bench:")]


def test_a_section_is_added_then_replaced_in_place_and_others_are_kept(report_doc, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", [str(PROJECT_ROOT / "bench" / "gate_eval.py"), "--repeats", "3"])
    doc = tmp_path / "benchmarks.md"
    report_doc.write_section("fleetsim_capacity", "Capacity", "capacity v1", doc=doc)
    report_doc.write_section("gate_eval", "Gate", "gate v1", doc=doc)
    report_doc.write_section("my_new_bench", "New", "new v1", doc=doc)
    report_doc.write_section("gate_eval", "Gate", "gate v2", doc=doc, runtime_seconds=12.3)

    text = doc.read_text()
    assert text.startswith("# Benchmarks\n")
    assert sections(text) == ["gate_eval", "fleetsim_capacity", "my_new_bench"]  # the fixed order, unknown ones last
    assert "gate v2" in text and "gate v1" not in text
    assert "capacity v1" in text and "new v1" in text
    assert "Command: `.venv/bin/python bench/gate_eval.py --repeats 3` (ran in 12 s," in text
    assert "Machine: " in text and "Python 3" in text


def test_tables_escape_pipes_and_align_in_text(report_doc):
    markdown = report_doc.markdown_table(("a", "b"), [("x|y", 1)])
    assert markdown.splitlines() == ["| a | b |", "|---|---|", "| x\\|y | 1 |"]
    text = report_doc.text_table(("name", "n"), [("long name", 10)])
    assert text.splitlines() == ["name       n", "---------  --", "long name  10"]
