"""`patchflow runs`: argument errors as whole lines, then the command against a real Airflow.

Once per module: fleetsim with the demo fleet, then PostgreSQL, api-server, scheduler, dag-processor and
triggerer (LocalExecutor), DAG stubs in a temporary folder. The CLI is called as a person calls it, with
its own login (user admin, the password from the environment), and never touches Airflow otherwise.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import re
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from unittest import mock

import pytest

from patchflow.cli.main import main
from patchflow.core.yamlfile import PROJECT_ROOT

GATED_PLAN = """\
name: cli-gated
description: one stage behind an approval
owner: release-engineering
schedule: manual
ledger: s3://patchflow-ledger/runs
notifications: {sns_topic_arn: "arn:aws:sns:us-east-1:123456789012:patch-rollouts", slack_connection_id: null}
defaults: {max_concurrency: "100%", max_errors: "10%", timeout_seconds: 600, execution_timeout_seconds: 3600, soak: 1s,
           gate: {max_failed: "10%", min_targets: 1}}
stages:
  - {name: prod, patch_group: prod, expected_min_targets: 1, approval: {required: true, timeout: 1h}}
"""

WEEKLY_STYLE_PLAN = """\
name: cli-weekly
description: dev in its window, then prod behind an approval
owner: release-engineering
schedule: manual
ledger: s3://patchflow-ledger/runs
notifications: {{sns_topic_arn: "arn:aws:sns:us-east-1:123456789012:patch-rollouts", slack_connection_id: null}}
defaults: {{max_concurrency: "100%", max_errors: "10%", timeout_seconds: 600, execution_timeout_seconds: 3600, soak: 1s,
           gate: {{max_failed: "10%", min_targets: 1}}}}
stages:
  - name: dev
    patch_group: dev
    expected_min_targets: 1
    window: {{schedule: "cron({minute} {hour} ? * * *)", timezone: UTC, duration: 1, cutoff: 0}}
  - name: prod
    patch_group: prod
    expected_min_targets: 1
    approval: {{required: true, timeout: 1h}}
"""


def patchflow(*argv: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with mock.patch.dict(os.environ, env or {}), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(argv))
        except SystemExit as exc:  # argparse's own errors
            code = exc.code
    return code, out.getvalue(), err.getvalue()


# --------------------------------------------------------------------------- arguments (no Airflow needed)

NO_AIRFLOW = {"PATCHFLOW_AIRFLOW_TOKEN": "", "PATCHFLOW_AIRFLOW_URL": "http://127.0.0.1:9"}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(["runs"], "patchflow runs: ACTION: expected a value, got nothing", id="no-action"),
        pytest.param(["runs", "status"], "patchflow runs status: RUN: expected a value, got nothing", id="no-run"),
        pytest.param(["runs", "approve", "r1"], "patchflow runs approve: STAGE: expected a value, got nothing", id="no-stage"),
        pytest.param(["runs", "status", "r1"], "patchflow runs status: --token: expected a token (--token or PATCHFLOW_AIRFLOW_TOKEN) or --user NAME, got nothing",
                     id="no-login"),
        pytest.param(["runs", "status", "r1", "--token", "t", "--user", "ana"], "patchflow runs status: --token: expected --token or --user, got both", id="two-logins"),
        pytest.param(["runs", "list", "--token", "t", "--url", "localhost:8080"],
                     "patchflow runs list: --url: expected an address like http://localhost:8080, got 'localhost:8080'", id="url-without-scheme"),
        pytest.param(["runs", "start", "demo", "--stages", "dev", "nope", "--token", "t"],
                     "patchflow runs start: --stages: expected one of dev, test, prod, got 'nope'", id="unknown-stage"),
        pytest.param(["runs", "start", "demo", "--ticket", "change 12", "--token", "t"],
                     "patchflow runs start: --ticket: expected a change ticket like CHG0012345, or nothing, got 'change 12'", id="bad-ticket"),
        pytest.param(["runs", "start", "nothere", "--token", "t"],
                     "patchflow runs start: PLAN: expected a plan file or the name of one in include/rollouts (demo, monthly, multi-account, weekly), got 'nothere'",
                     id="unknown-plan"),
        pytest.param(["runs", "follow", "r1", "--token", "t", "--interval", "0"], "patchflow runs follow: --interval: expected seconds above 0, got 0",
                     id="no-interval"),
        pytest.param(["runs", "list", "--token", "t", "--limit", "0"], "patchflow runs list: --limit: expected a count of 1 or more, got 0", id="no-limit"),
    ],
)
def test_argument_errors_are_one_line_and_exit_2(argv, message):
    assert patchflow(*argv, env=NO_AIRFLOW) == (2, "", message + "\n")


def test_a_user_without_a_terminal_or_password_is_refused_before_anything_is_sent():
    with mock.patch("sys.stdin", io.StringIO()):
        result = patchflow("runs", "list", "--user", "ana", env={**NO_AIRFLOW, "PATCHFLOW_AIRFLOW_PASSWORD": ""})
    assert result == (2, "", "patchflow runs list: --user: expected a terminal to ask ana's password at, or PATCHFLOW_AIRFLOW_PASSWORD, got neither\n")


def test_airflow_not_answering_is_one_line_and_exit_1():
    assert patchflow("runs", "list", "--token", "t", env=NO_AIRFLOW) == (
        1, "", "patchflow runs list: Airflow at http://127.0.0.1:9: expected an answer to GET /api/v2/dags/~/dagRuns, got [Errno 111] Connection refused\n"
    )


# --------------------------------------------------------------------------- against a real Airflow


class Terminal:
    """What a release manager's shell has: Airflow's address, their login, AWS credentials for the ledger."""

    def __init__(self, airflow, plans: Path):
        self.airflow = airflow
        self.plans = plans
        self.env = {
            "PATCHFLOW_AIRFLOW_URL": airflow.url,
            "PATCHFLOW_AIRFLOW_PASSWORD": airflow.password,
            "PATCHFLOW_AIRFLOW_TOKEN": "",
            **{key: airflow.env[key] for key in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")},
            "AWS_SESSION_TOKEN": "",
        }

    def runs(self, *argv: str) -> tuple[int, str, str]:
        return patchflow("runs", *argv, "--user", "admin", env=self.env)

    def start(self, plan: Path, *options: str) -> str:
        code, out, err = self.runs("start", str(plan), *options)
        assert (code, err) == (0, ""), out
        return re.match(r"started run (\S+) of ", out).group(1)

    def failed_task_logs(self, dag_id: str, run_id: str) -> str:
        """Each failed task's last try's log, for a failure message: what Airflow saw, not only what the CLI said."""
        from patchflow.harness.airflow_api import Api

        api = Api(self.airflow.url)
        api.login("admin", self.airflow.password)
        failed = [ti for ti in api.task_instances(dag_id, run_id) if ti["state"] == "failed"]
        return "".join(f"\n--- {ti['task_id']} try {ti['try_number']}:\n{api.log_text(dag_id, run_id, ti['task_id'], ti['try_number'])[-4000:]}"
                       for ti in failed)

    def status_until(self, run_id: str, plan: Path, wanted, timeout: float) -> dict:
        """Polls `runs status --json` until wanted(status) holds."""
        deadline = time.monotonic() + timeout
        while True:
            code, out, err = self.runs("status", run_id, "--plan", str(plan), "--json")
            assert (code, err) == (0, ""), out
            status = json.loads(out)
            if wanted(status):
                return status
            assert time.monotonic() < deadline, f"not there within {timeout:.0f}s: {json.dumps(status)[:3000]}"
            time.sleep(1)


def stage_of(status: dict, name: str) -> dict:
    return next(stage for stage in status["stages"] if stage["name"] == name)


@dataclass(frozen=True)
class WeeklyRun:
    """A weekly-style run started first, so that its window's minute passes while the module's other tests run."""

    run_id: str
    plan: Path
    opens: datetime
    window_status: str  # `runs status` while dev waits for its window


def start_weekly_run(terminal: Terminal) -> WeeklyRun:
    # The first whole minute at least 40 s away: adding the plan, starting the run and seeing its window task defer
    # take about 15 s, so it waits well before the window opens. The module's other tests run meanwhile (about 40 s);
    # every second the window opens after they end, the weekly test sits waiting.
    opens = (datetime.now(timezone.utc) + timedelta(seconds=99)).replace(second=0, microsecond=0)
    plan = terminal.plans / "cli-weekly.yaml"
    plan.write_text(WEEKLY_STYLE_PLAN.format(minute=opens.minute, hour=opens.hour))
    terminal.airflow.add_plan(plan)
    run_id = terminal.start(plan, "--ticket", "CHG-7")
    terminal.status_until(run_id, plan, lambda s: stage_of(s, "dev")["state"] == "waiting", 50)
    code, window_status, err = terminal.runs("status", run_id, "--plan", str(plan))
    assert (code, err) == (0, "")
    return WeeklyRun(run_id, plan, opens, window_status)


@pytest.fixture(scope="module")
def terminal(tmp_path_factory):
    from fleetsim import running
    from patchflow.harness.local_airflow import local_airflow

    work = tmp_path_factory.mktemp("runs-cli")
    plans = work / "plans"
    plans.mkdir()
    (plans / "cli-gated.yaml").write_text(GATED_PLAN)
    with running(str(PROJECT_ROOT / "include/fleets/demo.yaml"), seed=7, time_scale=600) as sim:
        with local_airflow(sim.endpoint) as airflow:
            airflow.add_plan(plans / "cli-gated.yaml")
            yield Terminal(airflow, plans)


@pytest.fixture(scope="module")
def weekly_run(terminal) -> WeeklyRun:
    return start_weekly_run(terminal)


@pytest.mark.airflow
@pytest.mark.fleetsim
def test_start_list_status_reject_and_follow_to_the_verdict(terminal, weekly_run):
    # weekly_run only starts the weekly-style run, whose window opens while this test and the next run.
    plan = terminal.plans / "cli-gated.yaml"
    run_id = terminal.start(plan, "--ticket", "CHG-42")
    assert re.fullmatch(r"cli-gated-\d{8}T\d{6}Z", run_id)

    code, out, err = terminal.runs("list", "--json")
    assert (code, err) == (0, "")
    assert [(r["dag_id"], r["conf"]) for r in json.loads(out)["runs"] if r["dag_run_id"] == run_id] == [
        ("rollout_cli_gated", {"dry_run": False, "change_ticket": "CHG-42"})
    ]

    terminal.status_until(run_id, plan, lambda s: stage_of(s, "prod")["state"] == "waiting", 120)
    code, out, err = terminal.runs("status", run_id, "--plan", str(plan))
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert re.fullmatch(rf"run {run_id} of rollout_cli_gated: running in Airflow since \S+", lines[0])
    assert lines[1] == "  change ticket CHG-42"
    assert lines[2].startswith("  prod  waiting for approval")

    assert terminal.runs("approve", run_id, "dev") == (
        2, "", f"patchflow runs approve: STAGE: expected a stage of run {run_id} with an approval (prod), got 'dev'\n"
    )
    assert terminal.runs("reject", run_id, "prod", "--note", "change freeze") == (0, f"prod of run {run_id}: rejected by admin: change freeze\n", "")
    assert terminal.runs("reject", run_id, "prod")[0] == 1  # answered already

    code, out, err = terminal.runs("follow", run_id, "--plan", str(plan), "--interval", "1")
    assert (code, err) == (1, "")
    assert out.splitlines()[-1].startswith("FAILED: ") and "prod" in out.splitlines()[-1], out


@pytest.mark.airflow
@pytest.mark.fleetsim
def test_cancel_stops_the_run_and_follow_says_so(terminal):
    plan = terminal.plans / "cli-gated.yaml"
    run_id = terminal.start(plan)
    terminal.status_until(run_id, plan, lambda s: s["state"] == "running", 120)

    assert terminal.runs("cancel", run_id) == (0, f"run {run_id} of rollout_cli_gated: stopped (failed in Airflow)\n", "")
    assert terminal.runs("cancel", run_id) == (
        1, "", f"patchflow runs cancel: RUN {run_id}: expected a run that has not finished, got one that ended failed\n"
    )
    code, out, err = terminal.runs("follow", run_id, "--plan", str(plan), "--json")
    events = [json.loads(line) for line in out.splitlines()]
    assert (code, err, events[-1]["event"], events[-1]["exit_code"]) == (1, "", "verdict", 1)
    assert events[-1]["line"].startswith("STOPPED")


@pytest.mark.airflow
@pytest.mark.fleetsim
def test_a_weekly_style_rollout_from_the_terminal(terminal, weekly_run):
    """start, status shows the window wait with its time, approve, follow to the promoted verdict (exit 0)."""
    run_id, plan, opens, window_status = weekly_run.run_id, weekly_run.plan, weekly_run.opens, weekly_run.window_status

    terminal.status_until(run_id, plan, lambda s: stage_of(s, "prod")["state"] == "waiting", 240)
    assert terminal.runs("approve", run_id, "prod", "--note", "CAB ok") == (0, f"prod of run {run_id}: approved by admin: CAB ok\n", "")

    code, out, err = terminal.runs("follow", run_id, "--plan", str(plan), "--interval", "1")
    assert (code, err, out.splitlines()[-1]) == (0, "", "PROMOTED: every stage of cli-weekly passed its gate. Change ticket: CHG-7."), (
        out + terminal.failed_task_logs("rollout_cli_weekly", run_id))
    assert "dev: promoted" in out.splitlines()
    # The window's own time comes from the ledger's `waiting` record, written by the window task as it defers.
    window = rf"^  dev   waiting for window, opens {opens:%a %d %b %H:%M} UTC \(in (1 min|\d+ s)\): the plan's window cron\({opens.minute} {opens.hour} \? \* \* \*\)$"
    assert re.search(window, window_status, re.M), window_status


@pytest.mark.parametrize(
    ("created_seconds_ago", "slept"),
    [
        pytest.param(5.0, 10.0, id="a-fresh-request-waits-out-the-rest"),
        pytest.param(20.0, None, id="a-settled-request-is-answered-at-once"),
        pytest.param(None, None, id="no-creation-time-no-wait"),
    ],
)
def test_an_answer_waits_until_the_request_is_fifteen_seconds_old(monkeypatch, created_seconds_ago, slept):
    from patchflow.cli import runs

    now = datetime(2026, 12, 3, 8, 0, tzinfo=timezone.utc)
    slept_for = []
    monkeypatch.setattr(runs, "datetime", mock.Mock(now=lambda tz: now, fromisoformat=datetime.fromisoformat))
    monkeypatch.setattr(runs.time, "sleep", slept_for.append)
    created = {} if created_seconds_ago is None else {"created_at": (now - timedelta(seconds=created_seconds_ago)).isoformat().replace("+00:00", "Z")}
    runs.wait_until_the_request_settled(created)
    assert slept_for == ([] if slept is None else [pytest.approx(slept)])
