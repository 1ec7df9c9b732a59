"""Every DAG in dags/ imports cleanly and carries what a release manager needs to find and trust it."""
from __future__ import annotations

import socket
from pathlib import Path

import pytest

from patchflow.core.yamlfile import PROJECT_ROOT

DAGS_DIR = PROJECT_ROOT / "dags"
PLANS_DIR = PROJECT_ROOT / "include" / "rollouts"


@pytest.fixture(scope="module")
def dag_bag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS_DIR))


def test_every_dag_file_imports_without_errors(dag_bag):
    assert dag_bag.import_errors == {}


def test_every_dag_has_owner_tags_and_docs(dag_bag):
    assert dag_bag.dags, "no DAGs were found"
    for dag_id, dag in dag_bag.dags.items():
        assert dag.tags, f"{dag_id} has no tags"
        assert dag.doc_md, f"{dag_id} has no docs"
        assert {t.owner for t in dag.tasks} - {"airflow"}, f"{dag_id} has no owner"


def test_every_plan_has_a_dag_stub_and_every_stub_a_plan():
    plans = {p.stem.replace("-", "_") for p in PLANS_DIR.glob("*.yaml")}  # a DAG id has no dash (patchflow.core.plan_model.dag_id_for)
    stubs = {p.stem.removeprefix("rollout_") for p in DAGS_DIR.glob("rollout_*.py")}
    assert plans == stubs


def test_parsing_makes_no_network_calls(monkeypatch):
    from airflow.dag_processing.dagbag import DagBag

    def refuse(*args, **kwargs):
        raise AssertionError(f"network call during DAG parsing: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    bag = DagBag(dag_folder=str(DAGS_DIR))
    assert bag.import_errors == {}


def test_a_broken_plan_is_its_own_dag_files_import_error_with_the_lint_message(tmp_path):
    from airflow.dag_processing.dagbag import DagBag

    good_plan = PLANS_DIR / "demo.yaml"
    broken_plan = tmp_path / "broken.yaml"
    broken_plan.write_text(good_plan.read_text().replace("patch_group: dev", "patch_group: 42", 1))
    dags = tmp_path / "dags"
    dags.mkdir()
    for name, plan in (("rollout_good.py", good_plan), ("rollout_broken.py", broken_plan)):
        (dags / name).write_text(
            '"""Airflow DAG stub."""\nfrom patchflow.rollout.factory import dag_from_plan_file\n\n'
            f"dag = dag_from_plan_file({str(plan)!r})\n"
        )
    bag = DagBag(dag_folder=str(dags))
    assert list(bag.dag_ids) == ["rollout_demo"]
    (error_file, message), = bag.import_errors.items()
    assert Path(error_file).name == "rollout_broken.py"
    line, text = next((number, text) for number, text in enumerate(broken_plan.read_text().splitlines(), 1) if "patch_group: 42" in text)
    assert f"{broken_plan}:{line}:{text.index('patch_group') + 1}: stages[0] (dev).patch_group: expected " in message
