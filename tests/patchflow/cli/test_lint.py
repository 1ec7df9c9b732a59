"""`python -m patchflow lint` and the plans' accounts files: checked alone, and through the plans that name them."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from patchflow.cli import lint as lint_command
from patchflow.cli.lint import lint
from tests.patchflow.cli.test_main import run_cli

ACCOUNTS = {"role": "arn:aws:iam::{account}:role/patchflow-target", "external_id": "patchflow",
            "list": [{"id": "111111111111", "alias": "dev"}, {"id": "333333333333", "alias": "prod"}]}
BROKEN_ACCOUNTS = {"list": [{"id": "111111111111", "alias": "dev"}, {"id": "111111111111", "alias": "Prod"}]}


def plan_naming(accounts: str) -> dict:
    return {"name": "scoped", "owner": "release-engineering", "accounts": accounts, "stages": [
        {"name": "dev", "patch_group": "dev", "targets": {"account": "dev", "regions": ["us-east-1"]}},
        {"name": "prod", "patch_group": "prod", "approval": True, "targets": {"account": "prod", "regions": ["eu-west-1", "eu-central-1"]}},
    ]}


def project(root: Path, accounts: dict | None, plan: dict | None = None) -> Path:
    """root/include with accounts/org.yaml (None: no accounts folder) and rollouts/scoped.yaml naming it.

    YAML is written with sorted keys, so an account's alias comes before its id."""
    include = root / "include"
    (include / "rollouts").mkdir(parents=True)
    if accounts is not None:
        (include / "accounts").mkdir()
        (include / "accounts" / "org.yaml").write_text(yaml.safe_dump(accounts), encoding="utf-8")
    (include / "rollouts" / "scoped.yaml").write_text(yaml.safe_dump(plan or plan_naming("org")), encoding="utf-8")
    return include


def test_the_accounts_folder_is_linted_by_default():
    assert lint_command.DEFAULT_PATHS == ("include/baselines", "include/accounts", "include/rollouts")


def test_defaults_lint_the_accounts_files_and_skip_a_default_folder_that_is_not_there(capsys, tmp_path, monkeypatch):
    project(tmp_path, ACCOUNTS)
    monkeypatch.setattr(lint_command, "PROJECT_ROOT", tmp_path)
    assert run_cli(capsys, "lint") == (0, "OK: 0 baselines, 1 accounts file and 1 rollout plans in 2 files\n", "")


def test_without_accounts_files_the_summary_reads_as_before(capsys, tmp_path, monkeypatch):
    project(tmp_path, None, {**plan_naming("org"), "accounts": ACCOUNTS})
    monkeypatch.setattr(lint_command, "PROJECT_ROOT", tmp_path)
    assert run_cli(capsys, "lint") == (0, "OK: 0 baselines and 1 rollout plans in 1 files\n", "")


def test_a_broken_accounts_file_is_reported_once_though_a_plan_names_it_too(capsys, tmp_path):
    include = project(tmp_path, BROKEN_ACCOUNTS)
    source = include.resolve() / "accounts" / "org.yaml"
    code, out, err = run_cli(capsys, "lint", str(include / "accounts"), str(include / "rollouts"))
    assert (code, out, err) == (1, (
        f"{source}:4:3: list[1].alias: expected an account alias of lower-case letters, digits and - (up to 63, starting with a letter or digit; "
        "not 12 digits), got 'Prod'\n"
        f"{source}:5:3: list[1].id: expected an account id not listed before (list[0] has it), got '111111111111'\n"
    ), "2 problems in 1 of 2 files\n")


def test_a_plan_names_the_broken_accounts_file_when_linted_alone(tmp_path):
    include = project(tmp_path, BROKEN_ACCOUNTS)
    result = lint([include / "rollouts" / "scoped.yaml"])
    assert ([str(p.source) for p in result.problems], result.plans, result.accounts_files) == ([str(include.resolve() / "accounts" / "org.yaml")] * 2, [], 0)


@pytest.mark.parametrize(
    "folders, kind",
    [
        pytest.param(("include", "accounts"), "accounts", id="accounts-folder"),
        pytest.param(("accounts", "checkout", "include", "rollouts"), "plan", id="rollouts-inside-a-folder-called-accounts"),
        pytest.param(("rollouts", "checkout", "include", "accounts"), "accounts", id="accounts-inside-a-folder-called-rollouts"),
    ],
)
def test_the_nearest_accounts_or_rollouts_folder_says_what_a_file_is(tmp_path, folders, kind):
    folder = tmp_path.joinpath(*folders)
    folder.mkdir(parents=True)
    document = ACCOUNTS if kind == "accounts" else {**plan_naming("org"), "accounts": ACCOUNTS}
    (folder / "file.yaml").write_text(yaml.safe_dump(document), encoding="utf-8")
    result = lint([folder])
    assert (result.problems, result.accounts_files, len(result.plans)) == ([], 1 if kind == "accounts" else 0, 1 if kind == "plan" else 0)
