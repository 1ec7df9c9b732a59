from __future__ import annotations

import pytest

from patchflow.core.errors import MISSING, InvalidInput, Problem, join_path, raise_if_any, shown
from patchflow.core.yamlfile import load_document


@pytest.mark.parametrize(
    ("parts", "path"),
    [
        pytest.param(("stages", 2, "patch_group"), "stages[2].patch_group", id="index-then-key"),
        pytest.param(("approval_rules",), "approval_rules", id="single-key"),
        pytest.param((0, "id"), "[0].id", id="leading-index"),
        pytest.param(("", "name"), "name", id="empty-part-skipped"),
    ],
)
def test_join_path(parts, path):
    assert join_path(*parts) == path


@pytest.mark.parametrize(
    ("value", "text"),
    [
        pytest.param("seven", "'seven'", id="string"),
        pytest.param(7, "7", id="integer"),
        pytest.param(None, "None", id="none"),
        pytest.param(MISSING, "nothing", id="missing"),
        pytest.param({"a": 1}, "a mapping", id="mapping"),
        pytest.param([1], "a list", id="list"),
    ],
)
def test_shown(value, text):
    assert shown(value) == text


def test_problem_message_names_file_path_expected_and_got():
    problem = Problem.expected("include/baselines/prod-al2023.yaml", "approval_rules[1].approve_after_days", "an integer 0-360", "seven")
    assert str(problem) == (
        "include/baselines/prod-al2023.yaml: approval_rules[1].approve_after_days: expected an integer 0-360, got 'seven'"
    )


def test_invalid_input_lists_every_problem():
    problems = [Problem("a.yaml", "name", "expected a string, got 3"), Problem("b.yaml", "", "file not found")]
    with pytest.raises(InvalidInput) as caught:
        raise_if_any(problems)
    assert str(caught.value) == "a.yaml: name: expected a string, got 3\nb.yaml: file not found"
    assert caught.value.problems == tuple(problems)


def test_raise_if_any_is_silent_without_problems():
    raise_if_any([])


def test_load_document_reports_missing_file(tmp_path):
    missing = tmp_path / "nope.yaml"
    with pytest.raises(InvalidInput) as caught:
        load_document(missing)
    assert str(caught.value) == f"{missing}: file not found"


def test_load_document_reports_syntax_error_with_position(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: [unclosed\nother: 1\n")
    with pytest.raises(InvalidInput) as caught:
        load_document(broken)
    assert str(caught.value).startswith(f"{broken}: line 2 column 6: expected valid YAML, got a syntax error (")


def test_load_document_refuses_python_object_tags(tmp_path):
    hostile = tmp_path / "hostile.yaml"
    hostile.write_text("value: !!python/object/apply:os.system ['true']\n")
    with pytest.raises(InvalidInput) as caught:
        load_document(hostile)
    assert "expected valid YAML, got a syntax error" in str(caught.value)
