"""`python -m patchflow`: the command registry, lint and preview."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from patchflow.core.yamlfile import PROJECT_ROOT
from patchflow.cli import main as cli
from patchflow.cli.main import COMMANDS, main

INVALID = Path(__file__).parents[1] / "core" / "baselines_invalid"


def run_cli(capsys, *argv):
    try:
        code = main(list(argv))
    except SystemExit as exit_:
        code = exit_.code
    out, err = capsys.readouterr()
    return code, out, err


# --------------------------------------------------------------------------- the registry


def test_every_registered_module_exposes_add_arguments_and_run():
    import importlib

    for name, module_name, help_text in COMMANDS:
        module = importlib.import_module(module_name)
        assert callable(module.add_arguments) and callable(module.run) and help_text, name


def test_names_stay_unique():
    names = [name for name, _, _ in COMMANDS]
    assert len(names) == len(set(names))


def test_the_readme_gives_the_exit_codes_of_every_command_in_registry_order():
    section = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8").split("\n## Commands and exit codes\n")[1].split("\n## ")[0]
    rows = [line.split(" | ")[0] for line in section.splitlines() if line.startswith("| `")]
    assert [row.removeprefix("| `").split()[0].rstrip("`") for row in rows] == [name for name, _, _ in COMMANDS]


def test_only_the_chosen_command_is_imported(monkeypatch):
    imported = []
    real_import = cli.importlib.import_module
    monkeypatch.setattr(cli.importlib, "import_module", lambda name: imported.append(name) or real_import(name))
    cli.build_parser("lint")
    assert imported == ["patchflow.cli.lint"]


BAD_ARGS = [
    pytest.param(["frob"], "patchflow: COMMAND: expected one of lint, check, preview, sync, groups, releases, pools, runs, import, demo, standalone, e2e-distributed, got 'frob'", id="unknown-command"),
    pytest.param([], "patchflow: COMMAND: expected a command, got nothing", id="no-command"),
    pytest.param(["preview", "prod-al2023"], "patchflow preview: --on: expected a value, got nothing", id="preview-without-on"),
    pytest.param(["preview", "prod-al2023", "--on", "16/11/2026"], "patchflow preview: --on: expected a date YYYY-MM-DD or YYYY-MM-DDTHH:MM[Z], got '16/11/2026'", id="preview-bad-date"),
    pytest.param(["preview", "prod-al2023", "--on", "2026-11-16", "--diff-to", "2026-11-01"], "patchflow preview: --diff-to: expected a date on or after --on (2026-11-16), got '2026-11-01'", id="preview-diff-backwards"),
    pytest.param(["preview", "prod-al2023", "--on", "2026-11-16", "--catalog", "no-such-dir"], "patchflow preview: --catalog: expected an existing folder, got 'no-such-dir'", id="preview-bad-catalog"),
    pytest.param(["preview", "staging-al2023", "--on", "2026-11-16"], None, id="preview-unknown-baseline"),
    pytest.param(["preview", "legacy-ubuntu-aws-default", "--on", "2026-11-16"], "patchflow preview: BASELINE: expected a custom baseline (AWS keeps the rules of predefined ones), got 'AWS-UbuntuDefaultPatchBaseline'", id="preview-predefined"),
    pytest.param(["lint", "no/such/path"], "patchflow lint: PATHS: expected an existing file or folder, got 'no/such/path'", id="lint-missing-path"),
    pytest.param(["preview", "prod-al2023", "--on"], "patchflow preview: --on: expected a value, got nothing", id="preview-on-without-value"),
    pytest.param(["preview", "--on", "2026-11-16"], "patchflow preview: BASELINE: expected a value, got nothing", id="preview-without-baseline"),
    pytest.param(["lint", "--strict"], "patchflow lint: --strict: expected no such argument, got '--strict'", id="lint-unknown-option"),
]


@pytest.mark.parametrize("argv, message", BAD_ARGS)
def test_bad_arguments_give_one_line_and_exit_2(capsys, argv, message):
    code, out, err = run_cli(capsys, *argv)
    assert (code, out) == (2, "")
    assert err.count("\n") == 1
    if message is None:
        assert err.startswith("patchflow preview: BASELINE: expected a baseline file or one of ") and err.endswith(", got 'staging-al2023'\n")
    else:
        assert err == message + "\n"


def test_bad_arguments_never_show_a_traceback():
    finished = subprocess.run(
        [sys.executable, "-m", "patchflow", "preview", "prod-al2023", "--on", "soon"], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60
    )
    assert (finished.returncode, finished.stdout, finished.stderr) == (
        2, "", "patchflow preview: --on: expected a date YYYY-MM-DD or YYYY-MM-DDTHH:MM[Z], got 'soon'\n")


# --------------------------------------------------------------------------- lint


def test_lint_defaults_pass(capsys):
    baselines = len([p for p in (PROJECT_ROOT / "include" / "baselines").iterdir() if p.suffix in (".yaml", ".json")])
    plans = len(list((PROJECT_ROOT / "include" / "rollouts").glob("*.yaml")))
    assert run_cli(capsys, "lint") == (0, f"OK: {baselines} baselines and {plans} rollout plans in {baselines + plans} files\n", "")


def test_lint_prints_every_problem_of_every_file(capsys):
    expected = "".join(p.read_text() for p in sorted(INVALID.glob("*.expected")))
    code, out, err = run_cli(capsys, "lint", str(INVALID))
    files = len(list(INVALID.glob("*.expected")))
    assert (code, out, err) == (1, expected, f"{expected.count(chr(10))} problems in {files} of {files} files\n")


def test_lint_dispatches_plans_and_checks_baselines_as_a_set(capsys, tmp_path):
    rollouts = tmp_path / "rollouts"
    rollouts.mkdir()
    (rollouts / "broken.yaml").write_text("name: broken\n")
    (tmp_path / "plan-by-key.yaml").write_text("stages: 3\n")
    (tmp_path / "a.yaml").write_text("name: one\noperating_system: WINDOWS\napproved_patches: [KB2032276]\ndefault_for_os: true\n")
    (tmp_path / "b.yaml").write_text("name: two\noperating_system: WINDOWS\napproved_patches: [KB2032276]\ndefault_for_os: true\n")
    code, out, err = run_cli(capsys, "lint", str(tmp_path))
    lines = out.replace(f"{tmp_path}/", "").splitlines()
    assert code == 1
    assert lines[-1] == "b.yaml: default_for_os: expected false (one default per operating system; a.yaml is the WINDOWS default), got True"
    assert any(line.startswith("plan-by-key.yaml: ") for line in lines)
    assert any(line.startswith("rollouts/broken.yaml: ") for line in lines)
    assert not any("expected a mapping of baseline fields" in line or "known key" in line for line in lines)


# --------------------------------------------------------------------------- preview

CATALOG = [
    {"id": "openssl-libs.x86_64", "title": "openssl", "operating_system": "AMAZON_LINUX_2023", "product": "AmazonLinux2023",
     "classification": "Security", "severity": "Critical", "release_date": "2026-11-01T18:00:00Z", "cve_ids": ["CVE-2024-0727", "CVE-2024-5535"]},
    {"id": "vim.x86_64", "title": "vim", "operating_system": "AMAZON_LINUX_2023", "product": "AmazonLinux2023",
     "classification": "Security", "severity": "Low", "release_date": "2026-11-01T09:00:00Z"},
    {"id": "curl.x86_64", "title": "curl", "operating_system": "AMAZON_LINUX_2023", "product": "AmazonLinux2023",
     "classification": "Bugfix", "severity": "None", "release_date": "2026-11-10T02:00:00Z"},
]
BASELINE = """name: preview-me
operating_system: AMAZON_LINUX_2023
approval_rules:
  - patch_filters: {CLASSIFICATION: [Security], SEVERITY: [Critical]}
    approve_after_days: 7
    compliance_level: CRITICAL
  - patch_filters: {CLASSIFICATION: [Bugfix]}
    approve_after_days: 3
    compliance_level: LOW
approved_patches: [vim]
"""


@pytest.fixture
def preview_files(tmp_path):
    (tmp_path / "catalog").mkdir()
    (tmp_path / "catalog" / "AMAZON_LINUX_2023.json").write_text(json.dumps({"patches": CATALOG}))
    (tmp_path / "preview-me.yaml").write_text(BASELINE)
    return tmp_path


PREVIEWS = [
    pytest.param(["--on", "2026-11-08"], [
        "preview-me (AMAZON_LINUX_2023) approves on 2026-11-08: 2 of 3 catalog patches",
        "ID                   CLASSIFICATION  SEVERITY  RELEASED          COMPLIANCE   REASON               CVES",
        "openssl-libs.x86_64  Security        Critical  2026-11-01 18:00  CRITICAL     approval rule 1      CVE-2024-0727, CVE-2024-5535",
        "vim.x86_64           Security        Low       2026-11-01 09:00  UNSPECIFIED  approved patch list  -",
    ], id="end-of-day-includes-18h"),
    pytest.param(["--on", "2026-11-08T17:59"], [
        "preview-me (AMAZON_LINUX_2023) approves on 2026-11-08T17:59Z: 1 of 3 catalog patches",
        "ID          CLASSIFICATION  SEVERITY  RELEASED          COMPLIANCE   REASON               CVES",
        "vim.x86_64  Security        Low       2026-11-01 09:00  UNSPECIFIED  approved patch list  -",
    ], id="one-minute-early"),
    pytest.param(["--on", "2026-11-05", "--diff-to", "2026-11-20"], [
        "preview-me (AMAZON_LINUX_2023) adds between 2026-11-05 and 2026-11-20: 2 of 3 catalog patches",
        "ID                   CLASSIFICATION  SEVERITY  RELEASED          COMPLIANCE  REASON           CVES",
        "openssl-libs.x86_64  Security        Critical  2026-11-01 18:00  CRITICAL    approval rule 1  CVE-2024-0727, CVE-2024-5535",
        "curl.x86_64          Bugfix          None      2026-11-10 02:00  LOW         approval rule 2  -",
    ], id="diff-to-later-date"),
    pytest.param(["--on", "2026-11-20", "--diff-to", "2026-11-20"], [
        "preview-me (AMAZON_LINUX_2023) adds between 2026-11-20 and 2026-11-20: 0 of 3 catalog patches",
    ], id="diff-same-date-adds-nothing"),
]


@pytest.mark.parametrize("options, expected", PREVIEWS)
def test_preview_table(capsys, preview_files, options, expected):
    argv = ["preview", str(preview_files / "preview-me.yaml"), *options, "--catalog", str(preview_files / "catalog")]
    assert run_cli(capsys, *argv) == (0, "\n".join(expected) + "\n", "")


SIMULATED = (
    "Note: this is fleetsim's synthetic catalog: package names, versions and titles follow real ones, but release dates, "
    "advisory and KB numbers and CVE ids are made up."
)


def test_preview_by_name_uses_the_project_catalog_and_says_once_that_it_is_synthetic(capsys):
    code, out, err = run_cli(capsys, "preview", "MyCustomPatchBaseline", "--on", "2026-11-16")
    # The seed baseline targets Windows Server 2016; the catalog is Windows Server 2022.
    assert (code, out, err) == (0, f"MyCustomPatchBaseline (WINDOWS) approves on 2026-11-16: 0 of 26 catalog patches\n{SIMULATED}\n", "")


def test_preview_of_the_project_catalog_shows_each_patchs_cves(capsys):
    code, out, err = run_cli(capsys, "preview", "dev-al2023", "--on", "2026-11-10", "--diff-to", "2026-11-16")
    assert (code, out.splitlines(), err) == (0, [
        "patchflow-dev-al2023 (AMAZON_LINUX_2023) adds between 2026-11-10 and 2026-11-16: 3 of 36 catalog patches",
        "ID               CLASSIFICATION  SEVERITY   RELEASED          COMPLIANCE  REASON           CVES",
        "python3.x86_64   Security        Medium     2026-11-13 09:00  MEDIUM      approval rule 2  CVE-2026-33455, CVE-2026-43865",
        "sudo.x86_64      Security        Important  2026-11-15 02:00  CRITICAL    approval rule 1  CVE-2026-22025, CVE-2026-32261, CVE-2026-35107",
        "git-core.x86_64  Security        Important  2026-11-16 09:00  CRITICAL    approval rule 1  CVE-2026-21964, CVE-2026-23761, CVE-2026-39629",
        SIMULATED,
    ], "")


def test_a_catalog_copied_from_the_simulated_one_is_called_synthetic_too(capsys, preview_files):
    catalog = preview_files / "catalog" / "AMAZON_LINUX_2023.json"
    catalog.write_text(json.dumps({"generated_by": "python -m fleetsim.build_catalog", "patches": CATALOG}))
    argv = ["preview", str(preview_files / "preview-me.yaml"), "--on", "2026-11-05", "--catalog", str(preview_files / "catalog")]
    assert run_cli(capsys, *argv) == (0, "\n".join([
        "preview-me (AMAZON_LINUX_2023) approves on 2026-11-05: 1 of 3 catalog patches",
        "ID          CLASSIFICATION  SEVERITY  RELEASED          COMPLIANCE   REASON               CVES",
        "vim.x86_64  Security        Low       2026-11-01 09:00  UNSPECIFIED  approved patch list  -",
        SIMULATED,
    ]) + "\n", "")


def test_preview_of_an_invalid_file_prints_its_problems_and_exits_1(capsys):
    code, out, err = run_cli(capsys, "preview", str(INVALID / "days-word.yaml"), "--on", "2026-11-16")
    assert (code, out, err) == (1, "", (INVALID / "days-word.expected").read_text())
