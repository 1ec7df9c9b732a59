"""`python -m patchflow import`: arguments, what it prints, what it writes and tags, and when it refuses.

The account is the seed's setup of tests/patchflow/core/test_adoption.py, handed to the command in place of
the boto3 reader (patchflow.aws.adoption is tested against fleetsim in tests/patchflow/aws/test_adoption.py,
the whole flow in tests/patchflow/rollout/test_import_end_to_end.py).
"""
from __future__ import annotations

from dataclasses import replace

import pytest
from botocore.exceptions import ClientError

from patchflow.cli import adopt as command
from patchflow.cli.main import main
from patchflow.core.adoption import PatchManagerSetup
from patchflow.core.yamlfile import PROJECT_ROOT
from tests.patchflow.core.test_adoption import (
    AWS_UBUNTU_DEFAULT,
    NOW,
    REGION,
    SEED_BASELINE,
    SEED_BASELINE_FILE,
    SEED_PLAN,
    seed_setup,
    window,
)

BASELINE_ID = SEED_BASELINE["BaselineId"]
ACCESS_DENIED = ClientError({"Error": {"Code": "AccessDeniedException", "Message": "User is not authorized to perform: ssm:AddTagsToResource"}},
                            "AddTagsToResource")


@pytest.fixture
def project(tmp_path):
    """A project's include/baselines, include/rollouts and dags, empty."""
    for folder in ("baselines", "rollouts", "dags"):
        (tmp_path / folder).mkdir()
    return tmp_path


class Account:
    """What the command reads and tags, in place of boto3."""

    def __init__(self, setup: PatchManagerSetup, tag_error: Exception | None = None, read_error: Exception | None = None):
        self.setup, self.tag_error, self.read_error = setup, tag_error, read_error
        self.tagged: list[str] = []

    def read_setup(self, ssm) -> PatchManagerSetup:
        if self.read_error:
            raise self.read_error
        return self.setup

    def tag_adopted(self, ssm, baseline_ids, report=print) -> None:
        for baseline_id in baseline_ids:
            if self.tag_error:
                raise self.tag_error
            self.tagged.append(baseline_id)
            report(baseline_id)


@pytest.fixture
def account(monkeypatch):
    """account(setup, ...) -> Account: the account the command sees, at the core tests' NOW."""

    def use(setup: PatchManagerSetup = None, **errors) -> Account:
        import patchflow.aws.adoption
        import patchflow.aws.client

        found = Account(setup if setup is not None else seed_setup(), **errors)
        monkeypatch.setattr(patchflow.aws.adoption, "read_setup", found.read_setup)
        monkeypatch.setattr(patchflow.aws.adoption, "tag_adopted", found.tag_adopted)
        monkeypatch.setattr(patchflow.aws.client, "aws_client", lambda service, region_name=None: f"{service} client")
        monkeypatch.setattr(command, "current_time", lambda: NOW)
        return found

    return use


def run_import(capsys, project, *argv):
    code = main(["import", "--baselines", str(project / "baselines"), "--rollouts", str(project / "rollouts"), "--dags", str(project / "dags"), *argv])
    out, err = capsys.readouterr()
    return code, out, err


def files(project) -> dict[str, str]:
    return {str(p.relative_to(project)): p.read_text() for p in sorted(project.rglob("*")) if p.is_file()}


# --------------------------------------------------------------------------- arguments


@pytest.mark.parametrize(
    ("argv", "lines"),
    [
        pytest.param(["--name", "Imported Plan"], ["--name: expected a plan name matching ^[a-z0-9][a-z0-9_-]{2,62}$, got 'Imported Plan'"], id="bad-name"),
        pytest.param(["--order", "Staging,,Production"], ["--order: expected patch groups or window names separated by commas, got 'Staging,,Production'"],
                     id="empty-name-in-order"),
        pytest.param(["--ledger", "ftp://ledger"], ["--ledger: expected file://PATH or s3://BUCKET/PREFIX, got 'ftp://ledger'"], id="bad-ledger"),
        pytest.param(["--rollouts", "no/such/folder"], ["--rollouts: expected an existing folder, got 'no/such/folder'"], id="missing-folder"),
        pytest.param(["--dags", "no/dags"], ["--dags: expected an existing folder, got 'no/dags'"], id="missing-dags-folder"),
        pytest.param(["--name", "x", "--ledger", "bucket"], ["--name: expected a plan name matching ^[a-z0-9][a-z0-9_-]{2,62}$, got 'x'",
                                                             "--ledger: expected file://PATH or s3://BUCKET/PREFIX, got 'bucket'"], id="every-bad-argument"),
        pytest.param(["--order", "Prod"], ["--order: order[0]: expected a patch group or window name of a drafted stage (Production, Weekly-Patch-Window), got 'Prod'"],
                     id="order-names-no-window-found"),
        pytest.param(["--overwrite"], ["--overwrite: expected no such argument, got '--overwrite'"], id="unknown-argument"),
    ],
)
def test_bad_arguments_give_one_line_each_and_exit_2_before_anything_is_written(capsys, project, account, argv, lines):
    found = account()
    code, out, err = run_import(capsys, project, *argv)
    assert (code, out, err, files(project), found.tagged) == (2, "", "".join(f"patchflow import: {line}\n" for line in lines), {}, [])


# --------------------------------------------------------------------------- writing


SEED_BASELINE_PATH, SEED_PLAN_PATH, SEED_STUB_PATH = "baselines/MyCustomPatchBaseline.yaml", "rollouts/imported.yaml", "dags/rollout_imported.py"


def seed_stub(project) -> str:
    """The stub of the seed's plan: outside the project's include/rollouts, so named by its absolute path."""
    return ('"""Airflow DAG for the rollout plan {plan} (built by patchflow\'s DAG factory)."""\n'
            "from patchflow.rollout.factory import dag_from_plan_file\n"
            "\n"
            'dag = dag_from_plan_file("{plan}")\n').format(plan=(project / SEED_PLAN_PATH).resolve())


def seed_files(project) -> dict[str, str]:
    return {SEED_BASELINE_PATH: SEED_BASELINE_FILE, SEED_STUB_PATH: seed_stub(project), SEED_PLAN_PATH: SEED_PLAN}


def test_import_tags_the_adopted_baseline_and_writes_its_file_the_plan_and_its_dag_stub(capsys, project, account):
    found = account()
    code, out, err = run_import(capsys, project)
    assert (code, err, found.tagged, files(project)) == (0, "", [BASELINE_ID], seed_files(project))
    assert out == (
        f"tagged baseline MyCustomPatchBaseline ({BASELINE_ID}) managed-by=patchflow\n"
        f"wrote {project}/{SEED_BASELINE_PATH}: baseline MyCustomPatchBaseline ({BASELINE_ID})\n"
        f"wrote {project}/{SEED_PLAN_PATH}: plan imported, stage production\n"
        f"wrote {project}/{SEED_STUB_PATH}: DAG rollout_imported for plan imported\n"
        "import: wrote 3 files, tagged 1 baseline; 0 items not mapped (left in SSM as it is)\n"
        "next: patchflow lint, then patchflow sync --dry-run (it reports no change for the adopted baselines)\n"
    )


def test_dry_run_prints_every_file_whole_and_changes_nothing(capsys, project, account):
    found = account()
    code, out, err = run_import(capsys, project, "--dry-run")
    assert (code, err, found.tagged, files(project)) == (0, "", [], {})
    assert out == (
        f"would write {project}/{SEED_BASELINE_PATH}:\n{SEED_BASELINE_FILE}"
        f"would write {project}/{SEED_PLAN_PATH}:\n{SEED_PLAN}"
        f"would write {project}/{SEED_STUB_PATH}:\n{seed_stub(project)}"
        f"would tag baseline MyCustomPatchBaseline ({BASELINE_ID}) managed-by=patchflow\n"
        "import: would write 3 files and tag 1 baseline; 0 items not mapped (left in SSM as it is)\n"
    )


def test_force_overwrites_and_says_so(capsys, project, account):
    account()
    (project / SEED_PLAN_PATH).write_text("name: imported\n")
    (project / SEED_STUB_PATH).write_text("dag = None\n")
    code, out, err = run_import(capsys, project, "--force")
    assert (code, err, files(project)) == (0, "", seed_files(project))
    assert out.splitlines()[1:4] == [
        f"wrote {project}/{SEED_BASELINE_PATH}: baseline MyCustomPatchBaseline ({BASELINE_ID})",
        f"overwrote {project}/{SEED_PLAN_PATH}: plan imported, stage production",
        f"overwrote {project}/{SEED_STUB_PATH}: DAG rollout_imported for plan imported",
    ]


@pytest.mark.parametrize(
    ("existing", "argv", "refusals"),
    [
        pytest.param({SEED_PLAN_PATH: "name: imported\n"}, [],
                     ["{project}/rollouts/imported.yaml: expected no file there (--force overwrites it), got an existing file"], id="plan-exists"),
        pytest.param({SEED_PLAN_PATH: "name: imported\n"}, ["--dry-run"],
                     ["{project}/rollouts/imported.yaml: expected no file there (--force overwrites it), got an existing file"], id="dry-run-refuses-too"),
        pytest.param({SEED_STUB_PATH: "dag = None\n"}, [],
                     ["{project}/dags/rollout_imported.py: expected no file there (--force overwrites it), got an existing file"], id="dag-stub-exists"),
        pytest.param({SEED_BASELINE_PATH: "name: MyCustomPatchBaseline\n", SEED_PLAN_PATH: "name: imported\n", SEED_STUB_PATH: "dag = None\n"}, [],
                     ["{project}/baselines/MyCustomPatchBaseline.yaml: expected no file there (--force overwrites it), got an existing file",
                      "{project}/rollouts/imported.yaml: expected no file there (--force overwrites it), got an existing file",
                      "{project}/dags/rollout_imported.py: expected no file there (--force overwrites it), got an existing file"], id="all-exist"),
        pytest.param({"baselines/custom.json": '{"Name": "MyCustomPatchBaseline", "OperatingSystem": "WINDOWS"}'}, ["--force"],
                     ["{project}/baselines/custom.json: expected no other file for baseline MyCustomPatchBaseline "
                      "(import writes {project}/baselines/MyCustomPatchBaseline.yaml), got one holding it; remove or rename one of them"],
                     id="baseline-held-by-another-file-even-with-force"),
    ],
)
def test_an_existing_file_refuses_the_whole_import(capsys, project, account, existing, argv, refusals):
    found = account()
    for path, text in existing.items():
        (project / path).write_text(text)
    code, out, err = run_import(capsys, project, *argv)
    expected_err = "".join(f"patchflow import: {line.format(project=project)}\n" for line in refusals) + "patchflow import: nothing written, nothing tagged\n"
    assert (code, out, err, found.tagged, files(project)) == (1, "", expected_err, [], existing)


def test_other_files_in_the_folders_are_left_alone(capsys, project, account):
    account()
    (project / "baselines" / "dev-windows.yaml").write_text("name: dev-windows\n")
    (project / "baselines" / "broken.yaml").write_text("name: [\n")
    code, _, err = run_import(capsys, project)
    assert (code, err, sorted(files(project))) == (0, "", ["baselines/MyCustomPatchBaseline.yaml", "baselines/broken.yaml",
                                                            "baselines/dev-windows.yaml", "dags/rollout_imported.py", "rollouts/imported.yaml"])


def stub_text(docstring_path: str, named: str) -> str:
    return (f'"""Airflow DAG for the rollout plan {docstring_path} (built by patchflow\'s DAG factory)."""\n'
            "from patchflow.rollout.factory import dag_from_plan_file\n"
            "\n"
            f"dag = dag_from_plan_file({named})\n")


@pytest.mark.parametrize(
    ("plan_path", "stub"),
    [
        pytest.param(PROJECT_ROOT / "include" / "rollouts" / "weekly.yaml", (PROJECT_ROOT / "dags" / "rollout_weekly.py").read_text(),
                     id="project-plan-as-dags-rollout_weekly"),
        pytest.param(PROJECT_ROOT / "include" / "rollouts" / ".." / "rollouts" / "weekly.yaml", stub_text("include/rollouts/weekly.yaml", '"weekly.yaml"'),
                     id="project-plan-by-a-roundabout-path"),
        pytest.param(PROJECT_ROOT / "include" / "drafts" / "imported.yaml",
                     stub_text("include/drafts/imported.yaml", f'"{PROJECT_ROOT}/include/drafts/imported.yaml"'),
                     id="other-folder-in-the-project-by-absolute-path"),
        pytest.param(PROJECT_ROOT.parent / 'plans "q3"' / "imported.yaml",
                     stub_text(f'{PROJECT_ROOT.parent}/plans \\"q3\\"/imported.yaml', f'"{PROJECT_ROOT.parent}/plans \\"q3\\"/imported.yaml"'),
                     id="quotes-in-the-path-are-escaped"),
    ],
)
def test_the_dag_stub_names_the_plan_by_file_name_in_include_rollouts_and_by_absolute_path_elsewhere(plan_path, stub):
    assert command.dag_stub(plan_path) == stub


# --------------------------------------------------------------------------- what the account holds


def with_more() -> PatchManagerSetup:
    """The seed plus AWS's Ubuntu baseline holding a patch group, and a window the draft cannot map."""
    seed = seed_setup()
    legacy = {"PatchGroup": "legacy-ubuntu", "BaselineIdentity": dict(AWS_UBUNTU_DEFAULT)}
    return replace(seed, baselines=[*seed.baselines, AWS_UBUNTU_DEFAULT], patch_groups=[legacy],
                   windows=[*seed.windows, window("Inventory", "mw-0d0d0d0d0d0d0d0d0", "rate(1 day)")])


def test_predefined_baselines_and_everything_not_mapped_are_listed(capsys, project, account):
    account(with_more())
    code, out, err = run_import(capsys, project)
    assert (code, err) == (0, "")
    assert out.splitlines()[4:] == [
        "predefined, referenced by AWS and not copied: AWS-UbuntuDefaultPatchBaseline (UBUNTU, predefined by AWS): patch groups legacy-ubuntu; the UBUNTU default",
        "not mapped: window Inventory (mw-0d0d0d0d0d0d0d0d0): runs no AWS-RunPatchBaseline Install task, so no stage is drafted from it",
        "import: wrote 3 files, tagged 1 baseline; 1 item not mapped (left in SSM as it is)",
        "next: patchflow lint, then patchflow sync --dry-run (it reports no change for the adopted baselines)",
    ]


def test_an_account_with_nothing_to_adopt_writes_nothing(capsys, project, account):
    account(PatchManagerSetup(baselines=[AWS_UBUNTU_DEFAULT], region=REGION))
    assert run_import(capsys, project) == (0, "import: wrote 0 files, tagged 0 baselines; 0 items not mapped (left in SSM as it is)\n", "")
    assert files(project) == {}


@pytest.mark.parametrize(
    ("errors", "message"),
    [
        pytest.param({"read_error": ClientError({"Error": {"Code": "AccessDeniedException", "Message": "not authorized"}}, "DescribeMaintenanceWindows")},
                     "patchflow import: An error occurred (AccessDeniedException) when calling the DescribeMaintenanceWindows operation: not authorized\n",
                     id="read-refused"),
        pytest.param({"tag_error": ACCESS_DENIED},
                     "patchflow import: An error occurred (AccessDeniedException) when calling the AddTagsToResource operation: "
                     "User is not authorized to perform: ssm:AddTagsToResource\npatchflow import: nothing written\n", id="tag-refused"),
    ],
)
def test_a_refused_call_to_aws_exits_1_and_writes_nothing(capsys, project, account, errors, message):
    account(**errors)
    code, out, err = run_import(capsys, project)
    assert (code, out, err, files(project)) == (1, "", message, {})

