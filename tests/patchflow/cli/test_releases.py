"""`patchflow releases PLAN`: the listing, hold / unhold / revoke recorded in the ledger, and every refusal."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import boto3
import pytest
from moto import mock_aws

from patchflow.aws.ledger import FileStore, S3Store
from patchflow.aws.release_store import ReleaseStore
from patchflow.cli import plan_argument
from patchflow.cli import releases as releases_cli
from patchflow.cli.main import main
from patchflow.core.releases import Release, ReleaseEvent, ReleaseEventKind, release_id_for

NOW = datetime(2026, 12, 15, 2, 0, tzinfo=timezone.utc)
DAY = timedelta(days=1)

PLAN = """name: weekly
owner: release-engineering
ledger: {ledger}
stages:
  - {{name: dev, patch_group: dev}}
  - {{name: test, patch_group: test}}
  - {{name: prod, patch_group: prod, gate: {{max_failed: "2%"}}}}
"""
PINNED_PLAN = """name: weekly
owner: release-engineering
ledger: {ledger}
stages:
  - {{name: dev, patch_group: dev}}
  - {{name: test, patch_group: test, pin_to: dev}}
  - {{name: prod, patch_group: prod, pin_to: dev, gate: {{max_failed: "2%"}}}}
"""


def release(hash_char: str, created: datetime, size: int = 3) -> Release:
    content_hash = hash_char * 64
    return Release(
        id=release_id_for(content_hash), plan="weekly", source_stage="dev", source_dag_id="rollout_weekly", source_run_id=f"run-{hash_char}",
        created_at=created, content_hash=content_hash, size=size, manifest_location=f"s3://ledger/{hash_char}/manifest.json",
        override_lists={"AMAZON_LINUX_2023": f"s3://ledger/{hash_char}/al2023.yaml"}, gate_summary="0 failed of 4",
    )


OLD = release("a", NOW - 20 * DAY, size=1)
NEW = release("b", NOW - 2 * DAY)


def passed(rel: Release, stage: str, at: datetime) -> ReleaseEvent:
    return ReleaseEvent(rel.id, ReleaseEventKind.PASSED, at, stage=stage, run_id=f"run-{stage}")


def blocked(rel: Release, stage: str, at: datetime) -> ReleaseEvent:
    return ReleaseEvent(rel.id, ReleaseEventKind.BLOCKED, at, stage=stage, run_id=f"run-{stage}")


def decided(rel: Release, kind: ReleaseEventKind, at: datetime, by: str, reason: str = "") -> ReleaseEvent:
    return ReleaseEvent(rel.id, kind, at, by=by, reason=reason)


# OLD went all the way and was revoked later; NEW passed dev, was blocked at test and is held.
OLD_EVENTS = [passed(OLD, "dev", OLD.created_at), passed(OLD, "test", OLD.created_at + DAY), passed(OLD, "prod", OLD.created_at + 4 * DAY),
              decided(OLD, ReleaseEventKind.REVOKED, NOW - 3 * DAY, "ana", "breaks nginx on AL2023")]
NEW_EVENTS = [passed(NEW, "dev", NEW.created_at), blocked(NEW, "test", NEW.created_at + timedelta(hours=3)),
              decided(NEW, ReleaseEventKind.HELD, NOW - DAY, "bo", "CAB meets Friday")]
BOTH = [(OLD, OLD_EVENTS), (NEW, NEW_EVENTS)]
FRESH = [(NEW, [passed(NEW, "dev", NEW.created_at)])]


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A plan in a rollouts folder of its own, with a file:// ledger; the clock and the login name fixed."""
    rollouts = tmp_path / "rollouts"
    rollouts.mkdir()
    plan = rollouts / "weekly-os.yaml"
    plan.write_text(PLAN.format(ledger=(tmp_path / "ledger").as_uri()))
    monkeypatch.setattr(plan_argument, "PLANS_DIR", rollouts)
    monkeypatch.setattr(releases_cli, "current_time", lambda: NOW)
    monkeypatch.setattr(releases_cli, "login_name", lambda: "ops-oncall")
    return plan


def ledger_of(plan) -> ReleaseStore:
    return ReleaseStore(FileStore(plan.parent.parent / "ledger"), "weekly")


def seed(releases: ReleaseStore, seeded) -> None:
    for rel, events in seeded:
        releases.record(rel, events[0])
        for event in events[1:]:
            releases.add_event(event)


def run_cli(capsys, *argv):
    try:
        code = main(["releases", *argv])
    except SystemExit as exit_:
        code = exit_.code
    out, err = capsys.readouterr()
    return code, out, err


# --------------------------------------------------------------------------- the listing

OLD_LINES = [
    "  r-aaaaaaaaaaaaaaaa (20 days old): dev passed Wed 25 Nov 02:00 UTC, test passed Thu 26 Nov 02:00 UTC, prod passed Sun 29 Nov 02:00 UTC, "
    "revoked Sat 12 Dec 02:00 UTC by ana: breaks nginx on AL2023",
    "      1 patch from dev in run run-a; content aaaaaaaaaaaa",
]
NEW_LINES = [
    "  r-bbbbbbbbbbbbbbbb (2 days old): dev passed Sun 13 Dec 02:00 UTC, test blocked Sun 13 Dec 05:00 UTC, held Mon 14 Dec 02:00 UTC by bo: CAB meets Friday",
    "      3 patches from dev in run run-b; content bbbbbbbbbbbb",
]
LISTINGS = [
    pytest.param([], ["plan weekly: no release in {ledger} yet; a stage makes one only when a later stage pins to it (pin_to), and no stage of this plan does"],
                 id="empty"),
    pytest.param(BOTH, ["plan weekly: 2 releases in {ledger}, newest first", *NEW_LINES, *OLD_LINES], id="two-releases-newest-first"),
    pytest.param([(NEW, [decided(NEW, ReleaseEventKind.HELD, NOW - DAY, "bo", "CAB"), passed(NEW, "dev", NEW.created_at),
                         decided(NEW, ReleaseEventKind.RELEASED, NOW - DAY / 2, "bo")])],
                 ["plan weekly: 1 release in {ledger}, newest first",
                  "  r-bbbbbbbbbbbbbbbb (2 days old): dev passed Sun 13 Dec 02:00 UTC", NEW_LINES[1]], id="lifted-hold-not-shown"),
]


@pytest.mark.parametrize("seeded, expected", LISTINGS)
def test_the_listing(capsys, project, seeded, expected):
    seed(ledger_of(project), seeded)
    ledger = (project.parent.parent / "ledger").as_uri()
    assert run_cli(capsys, str(project)) == (0, "\n".join(expected).format(ledger=ledger) + "\n", "")


@pytest.mark.parametrize("given", ["weekly-os", "weekly"], ids=["by-file-stem", "by-plan-name"])
def test_a_plan_in_the_rollouts_folder_is_found_by_stem_or_name(capsys, project, given):
    ledger = (project.parent.parent / "ledger").as_uri()
    assert run_cli(capsys, given) == (0, LISTINGS[0].values[1][0].format(ledger=ledger) + "\n", "")


def test_json_lists_every_release_with_its_events(capsys, project):
    seed(ledger_of(project), [(NEW, NEW_EVENTS)])
    code, out, err = run_cli(capsys, str(project), "--json")
    assert (code, err) == (0, "")
    assert json.loads(out) == {
        "plan": "weekly",
        "ledger": (project.parent.parent / "ledger").as_uri(),
        "releases": [{
            "release": {
                "id": "r-bbbbbbbbbbbbbbbb", "plan": "weekly", "source_stage": "dev", "source_dag_id": "rollout_weekly", "source_run_id": "run-b",
                "created_at": "2026-12-13T02:00:00+00:00", "content_hash": "b" * 64, "size": 3, "manifest_location": "s3://ledger/b/manifest.json",
                "override_lists": {"AMAZON_LINUX_2023": "s3://ledger/b/al2023.yaml"}, "gate_summary": "0 failed of 4",
            },
            "passed": {"dev": {"release_id": "r-bbbbbbbbbbbbbbbb", "kind": "passed", "at": "2026-12-13T02:00:00+00:00", "stage": "dev",
                               "run_id": "run-dev", "by": "", "reason": ""}},
            "blocked": {"test": {"release_id": "r-bbbbbbbbbbbbbbbb", "kind": "blocked", "at": "2026-12-13T05:00:00+00:00", "stage": "test",
                                 "run_id": "run-test", "by": "", "reason": ""}},
            "hold": {"release_id": "r-bbbbbbbbbbbbbbbb", "kind": "held", "at": "2026-12-14T02:00:00+00:00", "stage": "", "run_id": "",
                     "by": "bo", "reason": "CAB meets Friday"},
            "revocation": None,
        }],
    }


# --------------------------------------------------------------------------- decisions recorded


def where_it_stands(releases: ReleaseStore) -> dict:
    """Release id -> (hold, revocation) as (by, reason, at); and how many events the ledger holds."""
    def decision(event):
        return None if event is None else (event.by, event.reason, event.at)

    standings = {s.release.id: (decision(s.hold), decision(s.revocation)) for s in releases.standings()}
    return {"standings": standings, "events": len(releases.store.keys(releases.prefix + "/")) - len(standings)}


N, O = NEW.id, OLD.id
DECISIONS = [
    pytest.param(FRESH, ["--hold", N, "--reason", "CAB meets Friday", "--by", "ana"],
                 f"{N}: held by ana: CAB meets Friday; pinned stages will not install it until --unhold",
                 {N: (("ana", "CAB meets Friday", NOW), None)}, 2, id="hold"),
    pytest.param(FRESH, ["--hold", N, "--reason", "  CAB  "], f"{N}: held by ops-oncall: CAB; pinned stages will not install it until --unhold",
                 {N: (("ops-oncall", "CAB", NOW), None)}, 2, id="hold-by-the-login-name"),
    pytest.param([(NEW, NEW_EVENTS)], ["--unhold", N, "--by", "ana"], f"{N}: hold lifted by ana; pinned stages may install it again",
                 {N: (None, None)}, 4, id="unhold"),
    pytest.param([(NEW, NEW_EVENTS)], ["--unhold", N, "--by", "ana", "--reason", "CAB approved"],
                 f"{N}: hold lifted by ana: CAB approved; pinned stages may install it again", {N: (None, None)}, 4, id="unhold-with-a-reason"),
    pytest.param(FRESH, ["--unhold", N], f"{N}: not held; nothing recorded", {N: (None, None)}, 1, id="unhold-not-held-records-nothing"),
    pytest.param([(NEW, NEW_EVENTS)], ["--revoke", N, "--reason", "breaks nginx", "--by", "ana"],
                 f"{N}: revoked by ana: breaks nginx; it will never be installed again",
                 {N: (("bo", "CAB meets Friday", NOW - DAY), ("ana", "breaks nginx", NOW))}, 4, id="revoke-a-held-release"),
    pytest.param(BOTH, ["--revoke", O, "--reason", "again", "--by", "cy"],
                 f"{O}: already revoked Sat 12 Dec 02:00 UTC by ana: breaks nginx on AL2023; nothing recorded",
                 {N: (("bo", "CAB meets Friday", NOW - DAY), None), O: (None, ("ana", "breaks nginx on AL2023", NOW - 3 * DAY))}, 7,
                 id="revoke-twice-records-nothing"),
]


@pytest.mark.parametrize("seeded, options, out, stands, events", DECISIONS)
def test_a_decision_is_one_event_with_who_and_why(capsys, project, seeded, options, out, stands, events):
    releases = ledger_of(project)
    seed(releases, seeded)
    assert run_cli(capsys, str(project), *options) == (0, out + "\n", "")
    assert where_it_stands(releases) == {"standings": stands, "events": events}


REFUSALS = [
    pytest.param(BOTH, ["--hold", "r-cccccccccccccccc", "--reason", "x"],
                 f"patchflow releases: --hold: expected a release of plan weekly ({N}, {O}), got 'r-cccccccccccccccc'", id="unknown-release"),
    pytest.param([], ["--revoke", "r-cccccccccccccccc", "--reason", "x"],
                 "patchflow releases: --revoke: expected a release of plan weekly (it has none yet), got 'r-cccccccccccccccc'", id="no-release-yet"),
    pytest.param(BOTH, ["--hold", O, "--reason", "x"],
                 f"patchflow releases: --hold: expected a release that is not revoked, got {O} (revoked Sat 12 Dec 02:00 UTC by ana: breaks nginx on AL2023)",
                 id="hold-after-revoke"),
    pytest.param(BOTH, ["--unhold", O],
                 f"patchflow releases: --unhold: expected a release that is not revoked, got {O} (revoked Sat 12 Dec 02:00 UTC by ana: breaks nginx on AL2023)",
                 id="unhold-after-revoke"),
]


@pytest.mark.parametrize("seeded, options, err", REFUSALS)
def test_a_refused_decision_records_nothing_and_exits_1(capsys, project, seeded, options, err):
    releases = ledger_of(project)
    seed(releases, seeded)
    before = where_it_stands(releases)
    assert run_cli(capsys, str(project), *options) == (1, "", err + "\n")
    assert where_it_stands(releases) == before


def test_only_the_newest_ten_known_releases_are_named(capsys, project):
    many = [release(char, NOW - (i + 1) * DAY) for i, char in enumerate("0123456789ab")]
    seed(ledger_of(project), [(rel, [passed(rel, "dev", rel.created_at)]) for rel in many])
    newest = ", ".join(rel.id for rel in many[:10])
    assert run_cli(capsys, str(project), "--unhold", "r-x") == (
        1, "", f"patchflow releases: --unhold: expected a release of plan weekly ({newest} and 2 older), got 'r-x'\n")


# --------------------------------------------------------------------------- bad arguments


def no_login_name():
    raise OSError("No username set in the environment")


BAD_ARGUMENTS = [
    pytest.param(["--hold", N], "--reason: expected why the release is held, got nothing", id="hold-without-reason"),
    pytest.param(["--revoke", N], "--reason: expected why the release is revoked, got nothing", id="revoke-without-reason"),
    pytest.param(["--revoke", N, "--reason", " "], "--reason: expected why the release is revoked, got ' '", id="blank-reason"),
    pytest.param(["--hold", N, "--revoke", N, "--reason", "x"], "--revoke: expected one of --hold, --unhold, --revoke at a time, got --hold and --revoke",
                 id="two-decisions"),
    pytest.param(["--reason", "x"], "--reason: expected --hold, --unhold or --revoke with it, got --reason alone", id="reason-alone"),
    pytest.param(["--by", "ana"], "--by: expected --hold, --unhold or --revoke with it, got --by alone", id="by-alone"),
    pytest.param(["--unhold", N, "--json"], "--json: expected no --unhold with it (--json is for the listing), got --json --unhold", id="json-with-decision"),
    pytest.param(["--unhold", N, "--by", ""], "--by: expected a name, got ''", id="blank-by"),
    pytest.param(["--unhold", " "], "--unhold: expected a release id such as r-0123456789abcdef, got ' '", id="blank-release"),
    pytest.param(["--hold"], "--hold: expected a value, got nothing", id="hold-without-release"),
]


@pytest.mark.parametrize("options, err", BAD_ARGUMENTS)
def test_bad_arguments_give_one_line_and_exit_2(capsys, project, options, err):
    releases = ledger_of(project)
    seed(releases, FRESH)
    assert run_cli(capsys, str(project), *options) == (2, "", f"patchflow releases: {err}\n")
    assert where_it_stands(releases) == {"standings": {N: (None, None)}, "events": 1}


def test_without_a_login_name_by_is_needed(capsys, project, monkeypatch):
    monkeypatch.setattr(releases_cli, "login_name", no_login_name)
    assert run_cli(capsys, str(project), "--unhold", N) == (
        2, "", "patchflow releases: --by: expected a name (there is no login name to default to), got nothing\n")


def test_an_unknown_plan_names_the_plans_there_are(capsys, project):
    assert run_cli(capsys, "monthly") == (
        2, "", "patchflow releases: PLAN: expected a plan file or the name of one in include/rollouts (weekly), got 'monthly'\n")


def test_an_invalid_plan_prints_its_problems_and_exits_1(capsys, tmp_path, project):
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: weekly\nowner: me\nledger: ftp://x\nstages: []\n")
    assert run_cli(capsys, str(broken)) == (1, "", (
        f"{broken}:3:1: ledger: expected file://PATH or s3://BUCKET/PREFIX, got 'ftp://x'\n"
        f"{broken}:4:1: stages: expected a list of at least one stage, got a list\n"))


# --------------------------------------------------------------------------- unreadable ledgers


def ledger_is_a_file(tmp_path, monkeypatch):
    (tmp_path / "ledger-file").write_text("not a folder\n")
    return (tmp_path / "ledger-file").as_uri(), "expected a ledger folder, got a file"


def corrupt_release(tmp_path, monkeypatch):
    key = ReleaseStore(FileStore(tmp_path / "ledger"), "weekly")._release_key(NEW.id)
    (tmp_path / "ledger" / key).parent.mkdir(parents=True)
    (tmp_path / "ledger" / key).write_text("{")
    return (tmp_path / "ledger").as_uri(), (
        "expected a ledger patchflow can read and write, got JSONDecodeError: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)")


def s3_without_credentials(tmp_path, monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return "s3://patchflow-ledger/rollouts", "expected a ledger patchflow can read and write, got NoCredentialsError: Unable to locate credentials"


UNREADABLE = [
    pytest.param(ledger_is_a_file, id="file-ledger-is-a-file"),
    pytest.param(corrupt_release, id="corrupt-release-json"),
    pytest.param(s3_without_credentials, id="s3-without-credentials"),
]


@pytest.mark.parametrize("make_ledger", UNREADABLE)
@pytest.mark.parametrize("options", [[], ["--revoke", N, "--reason", "x"]], ids=["listing", "revoke"])
def test_an_unreadable_ledger_is_one_line_and_exit_1(capsys, tmp_path, monkeypatch, project, make_ledger, options):
    ledger, problem = make_ledger(tmp_path, monkeypatch)
    project.write_text(PLAN.format(ledger=ledger))
    assert run_cli(capsys, str(project), *options) == (1, "", f"{ledger}: {problem}\n")


# --------------------------------------------------------------------------- an s3:// ledger (moto)


def test_an_s3_ledger_lists_records_and_refuses_like_a_folder(capsys, project):
    project.write_text(PINNED_PLAN.format(ledger="s3://patchflow-ledger/rollouts"))
    with mock_aws():
        assert run_cli(capsys, str(project)) == (1, "", (
            "s3://patchflow-ledger/rollouts: expected a ledger patchflow can read and write, got NoSuchBucket from ListObjectsV2: "
            "The specified bucket does not exist\n"))
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="patchflow-ledger")
        assert run_cli(capsys, str(project)) == (
            0, "plan weekly: no release in s3://patchflow-ledger/rollouts yet; dev makes one each time its gate passes in a run\n", "")
        releases = ReleaseStore(S3Store(s3, "patchflow-ledger", "rollouts"), "weekly")
        seed(releases, FRESH)
        assert run_cli(capsys, str(project), "--revoke", N, "--reason", "breaks nginx", "--by", "ana") == (
            0, f"{N}: revoked by ana: breaks nginx; it will never be installed again\n", "")
        assert run_cli(capsys, str(project), "--hold", N, "--reason", "CAB") == (
            1, "", f"patchflow releases: --hold: expected a release that is not revoked, got {N} (revoked Tue 15 Dec 02:00 UTC by ana: breaks nginx)\n")
        assert run_cli(capsys, str(project)) == (0, "\n".join([
            "plan weekly: 1 release in s3://patchflow-ledger/rollouts, newest first",
            f"  {N} (2 days old): dev passed Sun 13 Dec 02:00 UTC, revoked Tue 15 Dec 02:00 UTC by ana: breaks nginx",
            NEW_LINES[1],
        ]) + "\n", "")
        assert where_it_stands(releases) == {"standings": {N: (None, ("ana", "breaks nginx", NOW))}, "events": 2}
