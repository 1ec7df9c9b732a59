"""The Patch rollouts page as a release manager sees it: real api-server, real demo rollout, headless Chromium.

Once per module: start fleetsim, run `python -m patchflow demo` against it
(the whole rollout through `airflow dags test`, about a minute), then start
`airflow api-server` on the demo's AIRFLOW_HOME with SimpleAuthManager and a
known password. The tests then read the page the way a person would (table
cells, verdict words, link targets), keep screenshots in test-artifacts/, and
finally stop the fleet to check the page says so instead of failing.
"""
from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import quote

import pytest

from patchflow.core.releases import release_id_for
from patchflow.core.report_records import Report
from patchflow.core.run_params import MAX_FAILED_SPELLING
from patchflow.core.yamlfile import PROJECT_ROOT
from tests.patchflow.ui.chromium import Chromium, chromium_binary

pytestmark = [pytest.mark.airflow, pytest.mark.fleetsim]

if chromium_binary() is None:
    pytest.skip(
        "headless Chromium is not installed and this machine could not install it; `make test` installs it "
        "(apt-get install chromium chromium-driver, as root)",
        allow_module_level=True,
    )

ARTIFACTS = PROJECT_ROOT / "test-artifacts"
PASSWORD = "rollouts-" + secrets.token_hex(4)
GROUPS = ("dev", "test", "prod")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _subprocess_env(base: dict[str, str]) -> dict[str, str]:
    env = dict(base)
    env.pop("AIRFLOW__CORE__UNIT_TEST_MODE", None)
    return env


class Fleet:
    """fleetsim for this module, stoppable mid-way (the last test takes it away)."""

    def __init__(self):
        from fleetsim import running

        # Five times `make demo`'s scale: the page shows counts and real-clock ages, nothing that depends on simulated time.
        self._context = running(str(PROJECT_ROOT / "include/fleets/demo.yaml"), seed=7, time_scale=600)
        self.sim = self._context.__enter__()
        self.endpoint = self.sim.endpoint
        self.running = True

    def stop(self) -> None:
        if self.running:
            self.running = False
            self._context.__exit__(None, None, None)


@pytest.fixture(scope="module")
def fleet():
    started = Fleet()
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture(scope="module")
def stack(fleet, tmp_path_factory):
    """A migrated AIRFLOW_HOME, `airflow api-server` on it, and the real demo rollout run into it.

    The api-server (SimpleAuthManager, auth on, user admin with a known password)
    starts while the demo runs, since each takes a while; both share the home, so
    the server sees the demo's DAG run, task instances and extra-link XComs.
    """
    from patchflow.harness.demo import airflow_env

    home = tmp_path_factory.mktemp("rollouts-page-airflow-home")
    env = _subprocess_env(airflow_env(home, home / "demo-dags", fleet.endpoint))
    migrated = subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert migrated.returncode == 0, migrated.stdout[-2000:] + migrated.stderr[-2000:]
    (home / ".migrated").touch()  # the demo skips its own migration

    passwords = home / "passwords.json"
    passwords.write_text(json.dumps({"admin": PASSWORD}))
    port = _free_port()
    server_env = dict(env)
    server_env.update(
        {
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(16),
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        }
    )
    log_path = home / "api-server.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "airflow", "api-server", "--port", str(port)],
            cwd=PROJECT_ROOT, env=server_env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        reports = home / "reports"
        finished = subprocess.run(
            [sys.executable, "-m", "patchflow", "demo", "--endpoint", fleet.endpoint, "--airflow-home", str(home), "--reports", str(reports)],
            cwd=PROJECT_ROOT, env=_subprocess_env(os.environ), capture_output=True, text=True, timeout=600,
        )
        demo_log = (home / "demo.log").read_text() if (home / "demo.log").exists() else ""
        assert finished.returncode == 0, f"demo failed:\n{finished.stdout}\n{finished.stderr}\n{demo_log[-4000:]}"
        report = Report.from_json(json.loads((reports / "report.json").read_text()), source=str(reports / "report.json"))

        deadline = time.monotonic() + 180
        while True:
            assert process.poll() is None, f"api-server exited {process.returncode}:\n{log_path.read_text()[-4000:]}"
            try:
                with urllib.request.urlopen(f"{base}/api/v2/monitor/health", timeout=5) as answer:
                    if answer.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            assert time.monotonic() < deadline, f"api-server did not answer in 180 s:\n{log_path.read_text()[-4000:]}"
            time.sleep(0.5)
        yield {"base": base, "log": log_path, "home": home, "report": report}
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)


@pytest.fixture(scope="module")
def server(stack):
    return stack


@pytest.fixture(scope="module")
def demo(stack):
    return stack


def _http(url: str, *, token: str | None = None, cookie: str | None = None) -> tuple[int, str, str]:
    """(status, Location header, body) without following redirects."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    if cookie:
        request.add_header("Cookie", cookie)
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(request, timeout=60) as answer:
            return answer.status, answer.headers.get("Location", ""), answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Location", ""), error.read().decode()


@pytest.fixture(scope="module")
def token(server):
    request = urllib.request.Request(
        f"{server['base']}/auth/token", data=json.dumps({"username": "admin", "password": PASSWORD}).encode(),
        headers={"Content-Type": "application/json"}, method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.load(answer)["access_token"]


@pytest.fixture(scope="module")
def person(server):
    """A browser in which someone signed in through Airflow's own login form."""
    with Chromium(width=1400, height=1000) as browser:
        landed = browser.open(f"{server['base']}/rollouts/")
        assert "/auth/login" in landed
        browser.type_into("input[name=username]", "admin")
        browser.type_into("input[name=password]", PASSWORD)
        browser.wait_for("!document.querySelector('button[type=submit]').disabled", what="the Sign in button")
        browser.evaluate("window.__patchflowOld = true")
        browser.click("button[type=submit]")
        browser.wait_for(
            "window.__patchflowOld === undefined && document.readyState === 'complete' && location.pathname === '/rollouts/'",
            what="the page after signing in", timeout=60,
        )
        yield browser


GROUP_ROWS = """Object.fromEntries([...document.querySelectorAll('#groups tbody tr')].map(tr =>
  [tr.cells[0].querySelector('strong').innerText, [...tr.cells].map(td => td.innerText.trim().split('\\n')[0])]))"""
RUN_CARDS = """[...document.querySelectorAll('section.run')].map(card => ({
  text: card.innerText,
  outcome: card.querySelector('header .pill').innerText,
  dagRun: card.querySelector("a[href*='/dags/']").getAttribute('href'),
  report: card.querySelector("a[href*='/rollouts/report']").getAttribute('href'),
  stages: [...card.querySelectorAll('table.stages tbody tr')].map(tr => [...tr.cells].map(td => td.innerText.trim())),
  path: [...card.querySelectorAll('svg g.stage')].map(g => [g.dataset.stage, g.dataset.state]),
}))"""

RELEASE_ROWS = """[...document.querySelectorAll("section.releases[data-plan='demo'] table.releases tbody tr")].map(tr => ({
  id: tr.dataset.release, standing: tr.dataset.standing, visible: tr.getBoundingClientRect().height > 0,
  cells: [...tr.querySelectorAll('td[data-stage]')].map(td => [td.dataset.stage, td.dataset.state]),
}))"""


def _fleet_truth(fleet) -> dict[str, dict[str, int]]:
    """What SSM itself says of each group, read independently of the page."""
    from patchflow.aws import inventory

    ssm = fleet.sim.client("ssm")
    truth = {}
    for group in GROUPS:
        members = inventory.patch_group_members(ssm, group)
        states = inventory.patch_states(ssm, [m.instance_id for m in members])
        truth[group] = {
            "instances": len(members),
            "compliant": sum(1 for s in states.values() if inventory.is_compliant(s)),
            "non_compliant": sum(1 for s in states.values() if not inventory.is_compliant(s)),
            "missing": sum(int(s.get("MissingCount", 0)) for s in states.values()),
            "failed": sum(int(s.get("FailedCount", 0)) for s in states.values()),
            "pending_reboot": sum(1 for s in states.values() if int(s.get("InstalledPendingRebootCount", 0)) > 0),
            "offline": sum(1 for m in members if not m.online),
        }
    return truth


def test_without_login_the_page_does_not_load(server):
    base = server["base"]
    with Chromium(width=1200, height=800) as browser:
        landed = browser.open(f"{base}/rollouts/")
        browser.wait_for("document.body.innerText.includes('Sign into Airflow')", what="Airflow's login form")
        text = browser.text()
        browser.screenshot(ARTIFACTS / "rollouts-login-required.png", full_page=False)
    assert "/auth/login" in landed and "next=" in landed
    assert "Patch groups" not in text and "Recent rollout runs" not in text

    status, location, _ = _http(f"{base}/rollouts/")
    assert (status, "/auth/login" in location) == (302, True)
    status, _, body = _http(f"{base}/rollouts/api/page")
    assert status == 401 and "Not authenticated" in body and "dev" not in body
    status, location, _ = _http(f"{base}/rollouts/report?dag_id=rollout_demo&run_id=x")
    assert (status, "/auth/login" in location) == (302, True)
    status, location, _ = _http(f"{base}/rollouts/", cookie="_token=not-a-real-token")
    assert (status, "/auth/login" in location) == (302, True)


def test_signed_in_person_reads_groups_counts_and_verdicts(person, server, demo, fleet):
    base, report = server["base"], demo["report"]
    person.open(f"{base}/rollouts/")
    rows = person.evaluate(GROUP_ROWS)
    cards = person.evaluate(RUN_CARDS)
    releases = person.evaluate(RELEASE_ROWS)
    text = person.text()
    person.screenshot(ARTIFACTS / "rollouts-page.png")

    truth = _fleet_truth(fleet)
    seen = {
        group: {
            "instances": int(rows[group][1]), "compliant": int(rows[group][3]), "non_compliant": int(rows[group][4]),
            "missing": int(rows[group][5]), "failed": int(rows[group][6]), "pending_reboot": int(rows[group][7]), "offline": int(rows[group][8]),
        }
        for group in GROUPS
    }
    assert seen == truth
    assert all(truth[g]["instances"] == 10 for g in GROUPS)
    for group in GROUPS:
        assert f"patchflow-{group}-al2023" in rows[group][9]  # baseline in force, by name
        assert re.fullmatch(r"just now|\d+ min ago", rows[group][10])  # how old the compliance data is: minutes
        assert "%" in rows[group][2]  # the compliance bar's caption

    assert "The fleet is unreachable" not in text and "Traceback" not in text
    run = next(card for card in cards if report.run_id in card["dagRun"] or quote(report.run_id, safe="") in card["dagRun"])
    assert run["outcome"] == "Promoted" and "every stage passed its gate" in run["text"]
    assert [s[0].split("\n")[0] for s in run["stages"]] == [s.name for s in report.stages] == list(GROUPS)
    for cells, stage in zip(run["stages"], report.stages):
        assert cells[2].split("\n")[0] == "PASS"
        for reason in stage.verdict.reasons:
            assert reason in cells[2]
        assert cells[3:7] == [str(stage.counts["targets"]), str(stage.counts["succeeded"]), "0", "0"]
        assert cells[7].count("PASS") == len(stage.waves)
    assert run["path"] == [[name, "promoted"] for name in GROUPS]
    manifest = report.stages[0].manifest
    assert f"{manifest.hash[:12]} ({manifest.size} patches)" in run["text"]
    assert run["dagRun"] == f"/dags/rollout_demo/runs/{quote(report.run_id, safe='')}"
    # the demo's dev proved one release and test and prod passed it in the same run
    assert releases == [{"id": release_id_for(manifest.hash), "standing": "done", "visible": True, "cells": [["dev", "proved"], ["test", "passed"], ["prod", "passed"]]}]

    person.open(base + run["report"])
    assert "Patch rollout report: demo" in person.text() and "PROMOTED" in person.text()
    person.open(base + run["dagRun"])
    person.wait_for(f"document.body.innerText.includes({json.dumps(report.run_id)})", what="Airflow's own DAG run page", timeout=60)


def test_the_page_sits_in_airflows_browse_menu(person, server):
    person.open(f"{server['base']}/plugin/patch-rollouts")
    person.wait_for(
        "(() => { const f = document.querySelector('iframe'); const d = f && f.contentDocument;"
        " return !!(d && d.body && d.body.innerText.includes('Recent rollout runs')); })()",
        what="the page inside the Airflow UI", timeout=60,
    )
    person.resize(1400, 1560)  # tall enough for the whole demo page inside the UI's frame
    time.sleep(1.0)  # let the UI lay the frame out again and paint its icons
    shot = person.screenshot(ARTIFACTS / "rollouts-page-in-airflow.png", full_page=False)
    person.resize(1400, 1000)
    if os.environ.get("PATCHFLOW_README_SCREENSHOT"):  # refresh the README's picture: PATCHFLOW_README_SCREENSHOT=1 pytest <this file>
        shutil.copyfile(shot, PROJECT_ROOT / "docs" / "images" / "rollouts-page.png")


def test_extra_links_lead_to_the_console_and_the_report(server, demo, token):
    base, report = server["base"], demo["report"]
    run_id = quote(report.run_id, safe="")
    links = {}
    for task in ("dev.wave_1", "prod.wave_2", "dev.gate", "prod.gate"):
        status, _, body = _http(f"{base}/api/v2/dags/rollout_demo/dagRuns/{run_id}/taskInstances/{task}/links", token=token)
        assert status == 200, body
        links[task] = json.loads(body)["extra_links"]
    dev_wave, prod_wave = report.stages[0].waves[1], report.stages[2].waves[2]
    console = "https://us-east-1.console.aws.amazon.com/systems-manager/run-command/{}?region=us-east-1"
    report_link = f"/rollouts/report?dag_id=rollout_demo&run_id={run_id}"
    assert links == {
        "dev.wave_1": {"AWS console: SSM command": console.format(dev_wave.command_ids[0])},
        "prod.wave_2": {"AWS console: SSM command": console.format(prod_wave.command_ids[0])},
        "dev.gate": {"Rollout report": report_link},
        "prod.gate": {"Rollout report": report_link},
    }
    # The report is served under the run's own path, where its relative link to instances.csv finds the file.
    status, location, _ = _http(base + report_link, token=token)
    assert (status, location) == (307, f"runs/rollout_demo/{run_id}/report.html")
    status, _, body = _http(f"{base}/rollouts/{location}", token=token)
    assert status == 200 and "Patch rollout report: demo" in body and "<a class='download' href='instances.csv' download>" in body
    status, _, rows = _http(f"{base}/rollouts/runs/rollout_demo/{run_id}/instances.csv", token=token)
    listed = [line.split(",")[:2] for line in rows.splitlines()]
    assert (status, listed[0], len(listed) - 1) == (200, ["stage", "account"], sum(len(w.instances) for s in report.stages for w in s.waves))


TRIGGER_DIALOG = "document.querySelector('[data-scope=dialog][data-part=content]')"
TRIGGER_FORM = f"""(() => {{ const dialog = {TRIGGER_DIALOG};
  const fields = [...dialog.querySelectorAll("label[for]")].map(label => label.innerText.trim().split('\\n'));
  return {{
    required: Object.fromEntries(fields.filter(f => ['Dry run', 'Stages', 'Tighter failure limit', 'Change ticket', 'Release'].includes(f[0]))
      .map(f => [f[0], f.includes('*')])),
    trigger_enabled: ![...dialog.querySelectorAll('button')].find(b => b.innerText.trim() === 'Trigger').disabled,
  }}; }})()"""


def _dag_state(base: str, token: str) -> tuple[bool, int]:
    """(rollout_demo paused, how many runs it has), from Airflow's REST API."""
    _, _, dag = _http(f"{base}/api/v2/dags/rollout_demo", token=token)
    _, _, runs = _http(f"{base}/api/v2/dags/rollout_demo/dagRuns", token=token)
    return json.loads(dag)["is_paused"], json.loads(runs)["total_entries"]


def test_the_trigger_form_needs_no_limit_or_ticket_and_refuses_a_limit_the_schema_does_not_allow(person, server, token):
    base = server["base"]
    before = _dag_state(base, token)
    person.open(f"{base}/dags/rollout_demo")
    person.click("button[aria-label='Trigger Dag']")
    person.wait_for(f"!!{TRIGGER_DIALOG} && !!document.querySelector('#element_max_failed')", what="the trigger form", timeout=60)
    empty = person.evaluate(TRIGGER_FORM)
    person.screenshot(ARTIFACTS / "trigger-form.png", full_page=False)
    assert empty == {
        "required": {"Dry run": True, "Stages": True, "Tighter failure limit": False, "Change ticket": False, "Release": False},
        "trigger_enabled": True,
    }

    # A paused DAG's form offers to unpause it on trigger; left ticked, even a refused trigger would unpause it.
    person.evaluate(
        f"(() => {{ const box = [...{TRIGGER_DIALOG}.querySelectorAll('label')].find(l => l.innerText.trim().startsWith('Unpause'));"
        " if (box && box.querySelector('input').checked) box.click(); })()"
    )
    person.type_into("#element_max_failed", "5 percent")
    person.evaluate(f"[...{TRIGGER_DIALOG}.querySelectorAll('button')].find(b => b.innerText.trim() === 'Trigger').click()")
    shown = person.wait_for(
        f"(() => {{ const text = {TRIGGER_DIALOG}.innerText; return text.includes('400 Bad Request') && text; }})()",
        what="the refusal in the trigger form", timeout=60,
    )
    person.screenshot(ARTIFACTS / "trigger-form-refused.png", full_page=False)
    assert f"Invalid input for param max_failed: '5 percent' does not match {MAX_FAILED_SPELLING!r}" in shown.splitlines()
    assert _dag_state(base, token) == before  # no run, and the DAG paused or not as it was


def test_with_the_fleet_unreachable_the_page_says_so(person, server, fleet):
    fleet.stop()
    started = time.monotonic()
    person.open(f"{server['base']}/rollouts/", timeout=60)
    took = time.monotonic() - started
    text = person.text()
    person.screenshot(ARTIFACTS / "rollouts-page-fleet-unreachable.png")
    assert "The fleet is unreachable" in text
    assert "Patch group figures are unavailable" in text
    assert "What to do: Check the API server's network route" in text
    assert "The run ledger is unreachable" in text  # locally the ledger lives on the simulated fleet too
    assert "Traceback" not in text and "botocore" not in text
    assert took < 20, f"the page took {took:.1f}s with the fleet down"
