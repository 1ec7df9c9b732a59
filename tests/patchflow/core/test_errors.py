from __future__ import annotations

import pytest

from patchflow.core.errors import MISSING, InvalidInput, Problem, join_path, named_item, raise_if_any, shown, unnamed_path
from patchflow.core.yamlfile import load_document, read_document


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


@pytest.mark.parametrize(
    ("problem", "text"),
    [
        pytest.param(Problem("include/rollouts/weekly.yaml", "stages[1] (staging).window.timezone", "expected an IANA time zone, got 'Mars'", 23, 7),
                     "include/rollouts/weekly.yaml:23:7: stages[1] (staging).window.timezone: expected an IANA time zone, got 'Mars'", id="line-and-column"),
        pytest.param(Problem("weekly.yaml", "name", "expected a name, got 3", 1),
                     "weekly.yaml:1: name: expected a name, got 3", id="line-alone"),
        pytest.param(Problem("weekly.yaml", "", "expected valid YAML, got a syntax error (x)", 6, 1),
                     "weekly.yaml:6:1: expected valid YAML, got a syntax error (x)", id="whole-file-at-a-line"),
        pytest.param(Problem("params", "stages[0]", "expected one of dev, got 'qa'"),
                     "params: stages[0]: expected one of dev, got 'qa'", id="no-file-no-line"),
    ],
)
def test_a_problem_in_a_file_names_its_line_and_column_first(problem, text):
    assert str(problem) == text


@pytest.mark.parametrize(
    ("path", "unnamed"),
    [
        pytest.param(join_path(named_item("stages[1]", "staging"), "window", "timezone"), "stages[1].window.timezone", id="named-stage"),
        pytest.param(join_path(named_item("stages[0]", "dev"), "targets", 1, "regions", 0), "stages[0].targets[1].regions[0]", id="named-then-indexed"),
        pytest.param("tags.Owner (team)", "tags.Owner (team)", id="text-in-a-key-kept"),
        pytest.param("stages[2]", "stages[2]", id="unnamed"),
    ],
)
def test_unnamed_path_is_where_the_value_sits_in_the_document(path, unnamed):
    assert unnamed_path(path) == unnamed


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
    assert str(caught.value).startswith(f"{broken}:2:6: expected valid YAML, got a syntax error (")


def test_load_document_refuses_python_object_tags(tmp_path):
    hostile = tmp_path / "hostile.yaml"
    hostile.write_text("value: !!python/object/apply:os.system ['true']\n")
    with pytest.raises(InvalidInput) as caught:
        load_document(hostile)
    assert "expected valid YAML, got a syntax error" in str(caught.value)


POSITIONED = """\
name: weekly
stages:
  - name: dev
    window: {schedule: "cron(0 2 ? * SUN *)", timezone: Mars}
  - name: prod
    gate:
      max_failed: ten
base: &base
  soak: 5m
merged:
  <<: *base
  owner: me
yes: 1
twice: 1
twice: 2
"""


def test_read_document_knows_where_each_key_and_item_is_written(tmp_path):
    path = tmp_path / "plan.yaml"
    path.write_text(POSITIONED)
    document = read_document(path)
    assert document.positions == {
        "name": (1, 1),
        "stages": (2, 1),
        "stages[0]": (3, 5),
        "stages[0].name": (3, 5),
        "stages[0].window": (4, 5),
        "stages[0].window.schedule": (4, 14),
        "stages[0].window.timezone": (4, 47),
        "stages[1]": (5, 5),
        "stages[1].name": (5, 5),
        "stages[1].gate": (6, 5),
        "stages[1].gate.max_failed": (7, 7),
        "base": (8, 1),
        "base.soak": (9, 3),
        "merged": (10, 1),
        "merged.soak": (9, 3),  # a merged key is where its anchor writes it
        "merged.owner": (12, 3),
        "True": (13, 1),  # named as the reader names it: YAML reads yes as true
        "twice": (15, 1),  # the value that counts is the last one
    }
    assert document.data["merged"] == {"soak": "5m", "owner": "me"}


def test_read_document_walks_an_aliased_node_once(tmp_path):
    """A billion-laughs document costs its size, not its expansion."""
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{level}: &a{level} [{', '.join([f'*a{level - 1}'] * 10)}]" for level in range(1, 9)]
    path = tmp_path / "laughs.yaml"
    path.write_text("\n".join(lines) + "\n")
    positions = read_document(path).positions
    # Each of the nine lists is walked once: nine keys and ten items each, not ten to the ninth paths.
    assert (len(positions), positions["a8[9]"]) == (9 + 9 * 10, (8, 5))  # an alias's value is where its anchor writes it
