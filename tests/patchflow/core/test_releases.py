from datetime import datetime, timedelta, timezone

import pytest

from patchflow.core.releases import (
    PromotionRule,
    Release,
    ReleaseEvent,
    ReleaseEventKind,
    choose_release,
    format_duration,
    release_id_for,
    standing_of,
)

NOW = datetime(2026, 12, 15, 2, 0, tzinfo=timezone.utc)
DAY = timedelta(days=1)


def release(hash_char: str, created: datetime) -> Release:
    content_hash = hash_char * 64
    return Release(
        id=release_id_for(content_hash), plan="weekly", source_stage="dev", source_dag_id="rollout_weekly", source_run_id=f"run-{hash_char}",
        created_at=created, content_hash=content_hash, size=3, manifest_location="s3://ledger/m.json",
        override_lists={"AMAZON_LINUX_2023": "s3://ledger/al2023.yaml"}, gate_summary="0 failed of 4",
    )


def event(rel: Release, kind: ReleaseEventKind, at: datetime, stage: str = "", **more) -> ReleaseEvent:
    return ReleaseEvent(rel.id, kind, at, stage=stage, run_id=more.pop("run_id", "run-x"), **more)


OLD = release("a", NOW - 20 * DAY)
NEW = release("b", NOW - 2 * DAY)
STALE = release("c", NOW - 31 * DAY - timedelta(hours=5))
def passed(rel, stage, at, run_id="run-x"):
    return event(rel, ReleaseEventKind.PASSED, at, stage, run_id=run_id)


TEST_RULE = PromotionRule(stage="test", after_stage="dev")
PROD_RULE = PromotionRule(stage="prod", after_stage="test", min_bake_seconds=3 * 86400, max_age_seconds=30 * 86400)



CASES = [
    pytest.param(
        [(OLD, [passed(OLD, "dev", OLD.created_at)]), (NEW, [passed(NEW, "dev", NEW.created_at, "run-b")])], TEST_RULE, "",
        NEW.id, "newest release that passed dev (Sun 13 Dec 02:00 UTC, run run-b)", id="newest-that-passed",
    ),
    pytest.param(
        [(OLD, [passed(OLD, "dev", OLD.created_at)]), (NEW, [passed(NEW, "dev", NEW.created_at), event(NEW, ReleaseEventKind.REVOKED, NOW - DAY, by="ana", reason="breaks nginx")])],
        TEST_RULE, "", OLD.id, "newest release that passed dev (Wed 25 Nov 02:00 UTC, run run-x)", id="revoked-newest-falls-back-to-older",
    ),
    pytest.param(
        [(NEW, [passed(NEW, "dev", NEW.created_at), event(NEW, ReleaseEventKind.HELD, NOW - DAY, by="ana", reason="CAB on Friday")])], TEST_RULE, "",
        None, "no release test may install: release r-bbbbbbbbbbbbbbbb is held since Mon 14 Dec 02:00 UTC by ana: CAB on Friday", id="held",
    ),
    pytest.param(
        [(NEW, [passed(NEW, "dev", NEW.created_at), event(NEW, ReleaseEventKind.HELD, NOW - DAY, by="ana"), event(NEW, ReleaseEventKind.RELEASED, NOW - DAY / 2, by="ana")])],
        TEST_RULE, "", NEW.id, "newest release that passed dev (Sun 13 Dec 02:00 UTC, run run-x)", id="hold-lifted",
    ),
    pytest.param(
        [(NEW, [passed(NEW, "dev", NEW.created_at), event(NEW, ReleaseEventKind.REVOKED, NOW - DAY, by="ana", reason="x"), event(NEW, ReleaseEventKind.RELEASED, NOW - DAY / 2)])],
        TEST_RULE, "", None, "no release test may install: release r-bbbbbbbbbbbbbbbb was revoked Mon 14 Dec 02:00 UTC by ana: x", id="revocation-is-final",
    ),
    pytest.param([], TEST_RULE, "", None, "no release in the ledger yet: run dev first", id="empty-ledger"),
    pytest.param(
        [(NEW, [passed(NEW, "dev", NEW.created_at)])], PROD_RULE, "", None, "no release prod may install: release r-bbbbbbbbbbbbbbbb has not passed test", id="not-passed-before-stage",
    ),
    pytest.param(
        [(NEW, [passed(NEW, "dev", NEW.created_at), event(NEW, ReleaseEventKind.BLOCKED, NOW - DAY, "test")])], PROD_RULE, "", None,
        "no release prod may install: release r-bbbbbbbbbbbbbbbb has not passed test; it was blocked at test Mon 14 Dec 02:00 UTC", id="blocked-before-stage",
    ),
    pytest.param(
        [(NEW, [passed(NEW, "dev", NEW.created_at), passed(NEW, "test", NOW - DAY - timedelta(hours=2))])], PROD_RULE, "", None,
        "no release prod may install: release r-bbbbbbbbbbbbbbbb passed test 1 day 2 hours ago; prod wants it baked there for 3 days (another 1 day 22 hours)",
        id="not-baked-long-enough",
    ),
    pytest.param(
        [(NEW, [passed(NEW, "dev", NEW.created_at), passed(NEW, "test", NOW - DAY - timedelta(hours=2))]), (OLD, [passed(OLD, "dev", OLD.created_at), passed(OLD, "test", NOW - 10 * DAY)])],
        PROD_RULE, "", OLD.id, "newest release that passed test (Sat 05 Dec 02:00 UTC, run run-x)", id="baking-newest-leaves-the-older-baked-one",
    ),
    pytest.param(
        [(STALE, [passed(STALE, "dev", STALE.created_at), passed(STALE, "test", STALE.created_at + DAY)])], PROD_RULE, "", None,
        "no release prod may install: release r-cccccccccccccccc is 31 days 5 hours old, older than prod's max_age of 30 days", id="too-old",
    ),
    pytest.param(
        [(OLD, [passed(OLD, "dev", OLD.created_at)]), (NEW, [passed(NEW, "dev", NEW.created_at)])], TEST_RULE, OLD.id,
        OLD.id, "release r-aaaaaaaaaaaaaaaa, named by the run's params", id="named-release",
    ),
    pytest.param(
        [(NEW, [passed(NEW, "dev", NEW.created_at)])], TEST_RULE, "r-0123456789abcdef", None,
        "no release r-0123456789abcdef in the ledger (newest: r-bbbbbbbbbbbbbbbb)", id="named-release-unknown",
    ),
    pytest.param(
        [(NEW, [passed(NEW, "dev", NEW.created_at), event(NEW, ReleaseEventKind.REVOKED, NOW - DAY, by="ana", reason="breaks nginx")])], TEST_RULE, NEW.id, None,
        "release r-bbbbbbbbbbbbbbbb was revoked Mon 14 Dec 02:00 UTC by ana: breaks nginx", id="named-release-revoked",
    ),
]


@pytest.mark.parametrize(("history", "rule", "requested", "chosen", "reason"), CASES)
def test_choose_release(history, rule, requested, chosen, reason):
    standings = [standing_of(rel, events) for rel, events in history]
    choice = choose_release(standings, rule, NOW, requested)
    assert (choice.release.id if choice.release else None, choice.reason) == (chosen, reason)


def test_a_release_round_trips_through_json_and_its_id_comes_from_its_content():
    events = [passed(NEW, "dev", NEW.created_at), event(NEW, ReleaseEventKind.HELD, NOW, by="ana", reason="why")]
    assert Release.from_json(NEW.to_json()) == NEW
    assert [ReleaseEvent.from_json(e.to_json()) for e in events] == events
    assert release_id_for("0123456789abcdef" * 4) == "r-0123456789abcdef"


def test_the_standing_summary_reads_as_a_promotion_path():
    standing = standing_of(NEW, [
        passed(NEW, "dev", NEW.created_at), event(NEW, ReleaseEventKind.BLOCKED, NOW - DAY, "test"),
        passed(NEW, "test", NOW - DAY / 2), event(NEW, ReleaseEventKind.HELD, NOW - DAY / 4, by="ana", reason="CAB"),
    ])
    assert standing.summary(("dev", "test", "prod"), NOW) == (
        "r-bbbbbbbbbbbbbbbb (2 days old): dev passed Sun 13 Dec 02:00 UTC, test passed Mon 14 Dec 14:00 UTC, held Mon 14 Dec 20:00 UTC by ana: CAB"
    )


@pytest.mark.parametrize(("delta", "spoken"), [
    (timedelta(days=3, hours=4, minutes=12, seconds=5), "3 days 4 hours"),
    (timedelta(hours=2, minutes=5, seconds=40), "2 hours 5 minutes"),
    (timedelta(seconds=40), "40 seconds"),
    (timedelta(seconds=-5), "0 seconds"),
], ids=["days", "hours", "seconds", "negative"])
def test_format_duration(delta, spoken):
    assert format_duration(delta) == spoken


def blocked(rel, stage, at, run_id="run-x"):
    return event(rel, ReleaseEventKind.BLOCKED, at, stage, run_id=run_id)


@pytest.mark.parametrize(
    ("events", "passed_at", "blocked_at"),
    [
        pytest.param([passed(NEW, "dev", NOW - 2 * DAY)], {"dev": NOW - 2 * DAY}, {}, id="passed"),
        pytest.param([passed(NEW, "dev", NOW - 2 * DAY), blocked(NEW, "dev", NOW - DAY)], {}, {"dev": NOW - DAY},
                     id="a-later-block-voids-the-pass"),
        pytest.param([blocked(NEW, "dev", NOW - 2 * DAY), passed(NEW, "dev", NOW - DAY)], {"dev": NOW - DAY}, {"dev": NOW - 2 * DAY},
                     id="a-pass-after-a-block-stands"),
        pytest.param([passed(NEW, "dev", NOW - 3 * DAY), blocked(NEW, "dev", NOW - 2 * DAY), passed(NEW, "dev", NOW - DAY)],
                     {"dev": NOW - DAY}, {"dev": NOW - 2 * DAY}, id="a-later-pass-restores-it-from-its-own-time"),
        pytest.param([passed(NEW, "dev", NOW - 2 * DAY), passed(NEW, "test", NOW - 2 * DAY), blocked(NEW, "test", NOW - DAY)],
                     {"dev": NOW - 2 * DAY}, {"test": NOW - DAY}, id="a-block-voids-only-its-own-stage"),
        pytest.param([passed(NEW, "dev", NOW - 3 * DAY), passed(NEW, "dev", NOW - 2 * DAY)], {"dev": NOW - 3 * DAY}, {},
                     id="the-first-of-two-passes-counts"),
    ],
)
def test_a_block_after_a_pass_at_the_same_stage_voids_it(events, passed_at, blocked_at):
    standing = standing_of(NEW, events)
    assert ({s: e.at for s, e in standing.passed.items()}, {s: e.at for s, e in standing.blocked.items()}) == (passed_at, blocked_at)


def test_a_release_blocked_by_its_soak_after_passing_is_not_installable_there():
    standing = standing_of(NEW, [passed(NEW, "dev", NEW.created_at), blocked(NEW, "dev", NEW.created_at + timedelta(minutes=5))])
    choice = choose_release([standing], TEST_RULE, NOW)
    assert (choice.release, choice.reason) == (
        None, "no release test may install: release r-bbbbbbbbbbbbbbbb has not passed dev; it was blocked at dev Sun 13 Dec 02:05 UTC",
    )
