"""bench/moto_ssm_suite.py's decisions: which failures FIDELITY.md expects, what a JUnit report says, the verdict."""
from __future__ import annotations

import pytest

from tests.bench.conftest import bench_module


@pytest.fixture(scope="module")
def suite():
    with bench_module("moto_ssm_suite") as module:
        yield module


FIDELITY_TEXT = """# record

## Run Command targets

| `test_ssm/test_ssm.py::test_elsewhere` | not this section |

## moto's own test suite and the reset endpoint

Last run: ...

| behaviour | AWS source | fleetsim | pinned by |
|---|---|---|---|
| `POST /moto-api/reset` | — | rebuilt | `tests/fleetsim/test_harnesses.py::test_x` |
| `test_ssm/test_ssm.py::test_send_command`, `test_ssm/test_ssm.py::test_list_commands`: ids | model | refused | `test_harnesses.py::test_y[case]` |
| `test_ssm/test_ssm_patch_group.py::test_register[a-b]`: message | model | names it | `test_errors.py` |

## An independent oracle

| `test_ssm/test_ssm.py::test_after` | not this section either |
"""


def test_expected_differences_are_the_moto_test_ids_of_that_section_only(suite):
    assert suite.expected_differences(FIDELITY_TEXT) == {
        "test_ssm/test_ssm.py::test_send_command",
        "test_ssm/test_ssm.py::test_list_commands",
        "test_ssm/test_ssm_patch_group.py::test_register[a-b]",
    }


def test_a_record_without_the_section_is_refused_by_name(suite):
    with pytest.raises(ValueError) as caught:
        suite.expected_differences("# record\n\n## Something else\n")
    assert str(caught.value) == "fleetsim/FIDELITY.md: expected a section \"## moto's own test suite and the reset endpoint\", found none"


JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" tests="5">
<testcase classname="tests.test_ssm.test_ssm" name="test_ok" file="tests/test_ssm/test_ssm.py" line="1" time="0.1"/>
<testcase classname="tests.test_ssm.test_ssm" name="test_param[by-arn]" file="tests/test_ssm/test_ssm.py" line="2" time="0.1"/>
<testcase classname="tests.test_ssm.test_ssm" name="test_bad" file="tests/test_ssm/test_ssm.py" line="3" time="0.1"><failure message="x">x</failure></testcase>
<testcase classname="tests.test_ssm.test_ssm_docs" name="test_broken" file="tests/test_ssm/test_ssm_docs.py" line="4" time="0.1"><error message="y">y</error></testcase>
<testcase classname="tests.test_ssm.test_ssm_docs.TestDocs" name="test_skip" file="tests/test_ssm/test_ssm_docs.py" line="5" time="0.0"><skipped message="z">z</skipped></testcase>
</testsuite></testsuites>
"""


def test_junit_outcomes_by_test_id_relative_to_motos_tests_folder(suite):
    assert suite.junit_outcomes(JUNIT) == {
        "test_ssm/test_ssm.py::test_ok": "passed",
        "test_ssm/test_ssm.py::test_param[by-arn]": "passed",
        "test_ssm/test_ssm.py::test_bad": "failed",
        "test_ssm/test_ssm_docs.py::test_broken": "failed",
        "test_ssm/test_ssm_docs.py::TestDocs::test_skip": "skipped",
    }


@pytest.mark.parametrize(
    "outcomes, expected, verdict",
    [
        ({"a": "passed", "b": "failed", "c": "skipped"}, {"b"}, (1, ["b"], 1, [], [], True)),
        ({"a": "failed", "b": "failed"}, {"b"}, (0, ["a", "b"], 0, ["a"], [], False)),
        ({"a": "passed", "b": "passed"}, {"b"}, (2, [], 0, [], ["b"], False)),
        ({"a": "passed"}, {"gone"}, (1, [], 0, [], ["gone"], False)),
        ({"a": "skipped"}, {"a"}, (0, [], 1, [], ["a"], False)),
    ],
    ids=["all-failures-listed", "unlisted-failure", "listed-test-passes-now", "listed-test-not-run", "listed-test-skipped"],
)
def test_judge(suite, outcomes, expected, verdict):
    judged = suite.judge(outcomes, expected)
    assert (judged.passed, judged.failed, judged.skipped, judged.unexpected_failures, judged.listed_but_not_failing, judged.as_documented) == verdict


@pytest.mark.parametrize(
    "files, problems",
    [
        ({"PKG-INFO": "Metadata-Version: 2.1\nName: moto\nVersion: 5.2.5\n", "tests/test_ssm/test_ssm.py": ""}, []),
        ({"moto/__init__.py": '__version__ = "5.2.5"\n', "tests/test_ssm/test_ssm.py": ""}, []),
        ({"moto/__init__.py": '__version__ = "5.2.4.dev"\n', "tests/test_ssm/test_ssm.py": ""},
         ["--moto-src {src}: expected moto 5.2.5 (the installed moto fleetsim runs on), found version 5.2.4.dev"]),
        ({"README.md": ""},
         ["--moto-src {src}: expected a moto source tree with tests/test_ssm, found none",
          "--moto-src {src}: expected moto 5.2.5 (the installed moto fleetsim runs on), found no version (neither PKG-INFO nor moto/__init__.py)"]),
    ],
    ids=["sdist", "checkout", "checkout-of-another-version", "not-a-moto-tree"],
)
def test_check_source(suite, tmp_path, files, problems):
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert suite.check_source(tmp_path, "5.2.5") == [p.format(src=tmp_path) for p in problems]
