"""The bad rollout plan corpus: every file in plans_invalid/ fails with exactly its .expected message.

The same files fail `patchflow lint` with the same lines, since lint runs the
same validation DAG parsing does.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from patchflow.core.errors import InvalidInput
from patchflow.cli.lint import lint
from patchflow.core.plan import load_plan

INVALID = Path(__file__).parent / "plans_invalid"
INVALID_FILES = sorted(p for p in INVALID.iterdir() if p.suffix in (".yaml", ".yml"))


def expected_message(path: Path) -> str:
    return path.with_suffix(".expected").read_text(encoding="utf-8").rstrip("\n")


def test_corpus_is_large_and_complete():
    assert len(INVALID_FILES) >= 12
    assert sorted(p.stem for p in INVALID.glob("*.expected")) == sorted(p.stem for p in INVALID_FILES)


@pytest.mark.parametrize("path", INVALID_FILES, ids=[p.stem for p in INVALID_FILES])
def test_invalid_plan_fails_with_exactly_the_expected_message(path):
    with pytest.raises(InvalidInput) as raised:
        load_plan(path)
    assert str(raised.value) == expected_message(path)


@pytest.mark.parametrize("name", ["prod-no-approval-no-gate", "prod-not-last-ungated", "no-gate-anywhere"])
def test_lint_rejects_an_ungated_prod_stage(name):
    path = INVALID / f"{name}.yaml"
    result = lint([path])
    assert [str(p) for p in result.problems] == expected_message(path).splitlines()
    assert result.plans == []


@pytest.mark.parametrize("name", ["yaml-syntax-error", "window-bad-time-zone-hides-nothing", "unknown-keys-nearest"])
def test_lint_prints_each_problem_at_the_line_loading_names(name):
    path = INVALID / f"{name}.yaml"
    result = lint([path])
    assert [str(p) for p in result.problems] == expected_message(path).splitlines()


def test_saying_so_explicitly_lets_an_ungated_prod_stage_through(tmp_path):
    for name in ("prod-no-approval-no-gate", "prod-not-last-ungated"):
        text = (INVALID / f"{name}.yaml").read_text(encoding="utf-8")
        explicit = tmp_path / "rollouts" / f"{name}.yaml"
        explicit.parent.mkdir(exist_ok=True)
        explicit.write_text(text.replace("    patch_group: prod\n", "    patch_group: prod\n    allow_ungated: true\n"), encoding="utf-8")
        plan = load_plan(explicit)
        prod = plan.stage("prod")
        assert (prod.gated, prod.approval, prod.allow_ungated) == (False, None, True)
        assert lint([explicit]).problems == []
