"""`make demo`'s path end to end (a smaller fleet), and its one-line refusals of bad input."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml

from patchflow.core.report_records import Report
from patchflow.core.yamlfile import PROJECT_ROOT

SMALL_FLEET = {
    "seed": 7,
    "defaults": {"execution_seconds": [60, 180], "missing_share": 0.5},
    "groups": [
        {"name": f"{stage}-{platform.lower()}", "count": 1, "platform": platform, "tags": {"Patch Group": stage}}
        for stage in ("dev", "test", "prod")
        for platform in ("AMAZON_LINUX_2023", "UBUNTU")
    ],
    # The demo plan's health gates name these; a selector matching no alarm would stop the run at its start.
    "alarms": [
        {"name": name, "tags": {"Application": "storefront", "Environment": stage}}
        for name, stage in (("storefront-dev-5xx", "dev"), ("storefront-test-5xx", "test"), ("storefront-prod-5xx", "prod"), ("storefront-prod-latency", "prod"))
    ],
}

# fleetsim's scale for these runs: five times `make demo`'s 120. Nothing here waits on simulated time
# (the soak is real seconds, no alarm fires), so only how long the patching takes changes.
FAST = 600.0


def demo(tmp_path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "patchflow", "demo", "--airflow-home", str(tmp_path / "airflow"), "--reports", str(tmp_path / "reports"), *args],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        timeout=600,
    )


@pytest.mark.airflow
def test_the_demo_promotes_a_small_fleet_and_writes_the_reports(tmp_path):
    fleet = tmp_path / "small.yaml"
    fleet.write_text(yaml.safe_dump(SMALL_FLEET))

    finished = demo(tmp_path, "--fleet", str(fleet), "--time-scale", str(FAST))

    assert finished.returncode == 0, finished.stdout + finished.stderr
    lines = finished.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("stage  group  targets"))
    assert [line.split()[:7] for line in lines[header + 2 : header + 5]] == [
        ["dev", "dev", "2", "2", "0", "0", "PASS"],
        ["test", "test", "2", "2", "0", "0", "PASS"],
        ["prod", "prod", "2", "2", "0", "0", "PASS"],
    ]
    assert "PROMOTED: every stage of demo passed its gate." in finished.stdout
    report = Report.from_json(json.loads((tmp_path / "reports/report.json").read_text()), source="reports/report.json")
    assert [(s.name, s.state) for s in report.stages] == [("dev", "promoted"), ("test", "promoted"), ("prod", "promoted")]
    assert (tmp_path / "reports/report.html").read_text().startswith("<!doctype html>")
    assert "# Patch rollout report: demo" in (tmp_path / "reports/report.md").read_text()

    # The demo's fleetsim, and the S3 ledger in it, are gone; `make airflow` puts what the demo kept into its own
    # fresh fleetsim, so the Patch rollouts page reads the same run.
    assert read_back_in_a_fresh_fleetsim(tmp_path / "airflow", fleet) == report


def test_a_demo_on_an_airflow_home_another_airflow_runs_on_is_refused_before_anything_starts(tmp_path):
    import fcntl

    home = tmp_path / "airflow"
    home.mkdir()
    with (home / "airflow-home.lock").open("a+") as held:  # as `make airflow` holds it
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        finished = demo(tmp_path)
    assert (finished.returncode, finished.stderr.strip(), finished.stdout) == (
        2, f"demo: --airflow-home {home}: expected no other Airflow on it, got one running (a standalone or a demo: stop it first)", "")
    assert sorted(p.name for p in home.iterdir()) == ["airflow-home.lock"]


def read_back_in_a_fresh_fleetsim(airflow_home, fleet) -> Report:
    from fleetsim import running
    from patchflow.core.plan import load_plan
    from patchflow.harness.demo import airflow_env, latest_report, prepare_aws, restore_ledger

    plan = load_plan(PROJECT_ROOT / "include" / "rollouts" / "demo.yaml")
    with running(str(fleet), seed=7) as sim, pytest.MonkeyPatch.context() as patch:
        env = airflow_env(airflow_home, airflow_home / "demo-dags", sim.endpoint)
        for name in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            patch.setenv(name, env[name])
        prepare_aws(plan, env)
        assert latest_report(plan) is None
        assert restore_ledger(plan, env, airflow_home) > 0
        return latest_report(plan)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["--fleet", "no/such/fleet.yaml"], "demo: FLEET=no/such/fleet.yaml: expected an existing file, got no such file", id="missing-fleet"),
        pytest.param(["--plan", "include"], "demo: PLAN=include: expected an existing file, got a directory", id="plan-is-a-directory"),
        pytest.param(["--conf", "{dry_run"], "demo: --conf: expected a JSON object, got invalid JSON (Expecting property name enclosed in double quotes)", id="bad-conf"),
        pytest.param(["--time-scale", "0"], "patchflow demo: --time-scale: expected a number > 0, got '0'", id="time-standing-still"),
        pytest.param(["--time-scale", "fast"], "patchflow demo: --time-scale: expected a number > 0, got 'fast'", id="time-scale-not-a-number"),
    ],
)
def test_bad_demo_input_is_one_line_and_exit_2(tmp_path, args, message):
    finished = demo(tmp_path, *args)
    assert (finished.returncode, finished.stderr.strip(), "Traceback" in finished.stderr) == (2, message, False)


def test_a_fleet_spec_with_problems_names_each_and_starts_nothing(tmp_path):
    fleet = tmp_path / "broken.yaml"
    fleet.write_text("groups:\n  - count: ten\n    platform: AMAZON_LINUX_2023\n")
    finished = demo(tmp_path, "--fleet", str(fleet))
    assert finished.returncode == 2
    assert "Traceback" not in finished.stderr
    assert finished.stderr.strip() == f"demo: {fleet}: groups[0].count: expected an integer >= 1, got 'ten'"


@pytest.mark.airflow
def test_dev_alone_then_test_and_prod_in_a_second_demo_run_promote_dev_s_release(tmp_path):
    """Two demo runs against one fleetsim and one Airflow home: the second installs the release the first proved."""
    from fleetsim import running

    fleet = tmp_path / "small.yaml"
    fleet.write_text(yaml.safe_dump(SMALL_FLEET))
    with running(str(fleet), seed=7, time_scale=FAST) as sim:
        first = demo(tmp_path, "--endpoint", sim.endpoint, "--conf", json.dumps({"stages": ["dev"]}))
        assert first.returncode == 0, first.stdout + first.stderr
        dev_report = Report.from_json(json.loads((tmp_path / "reports/report.json").read_text()))

        second = demo(tmp_path, "--endpoint", sim.endpoint, "--conf", json.dumps({"stages": ["test", "prod"]}))
        assert second.returncode == 0, second.stdout + second.stderr
        report = Report.from_json(json.loads((tmp_path / "reports/report.json").read_text()))

    assert [(s.name, s.state) for s in dev_report.stages] == [("dev", "promoted")]
    assert [(s.name, s.state) for s in report.stages] == [("test", "promoted"), ("prod", "promoted")]
    test_stage, prod_stage = report.stages
    assert (test_stage.release.source_stage, test_stage.release.source_run_id) == ("dev", dev_report.run_id)
    assert test_stage.pinned_to.release == prod_stage.pinned_to.release == test_stage.release.id
    assert f"Release {test_stage.release.id} from stage dev of run {dev_report.run_id}" in (tmp_path / "reports/report.md").read_text()
    assert "PROMOTED: every stage of demo passed its gate." in second.stdout
