"""The Releases tables of the Patch rollouts page as pure functions: a plan and its releases in, the rows a release manager reads out."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from patchflow.core.releases import Release, ReleaseEvent, ReleaseEventKind, standing_of
from patchflow.ui import model, render
from patchflow.ui.releases_model import release_notice, release_table, release_tables, standing_data

NOW = datetime(2026, 12, 15, 2, 0, tzinfo=timezone.utc)
DAY = timedelta(days=1)
PLAN = {
    "name": "weekly",
    "dag_id": "rollout_weekly",
    "ledger_uri": "s3://ledger/rollouts",
    "stages": [
        {"name": "dev", "patch_group": "dev", "pin_to": None, "after_stage": None},
        {"name": "test", "patch_group": "test", "pin_to": "dev", "after_stage": "dev"},
        {"name": "prod", "patch_group": "prod", "pin_to": "dev", "after_stage": "test"},
    ],
}
NO_RELEASE_YET = {"plan": "weekly", "dag_id": "rollout_weekly", "stages": ["dev", "test", "prod"], "releases": [], "older": 0, "note": ""}


def release(number: int, created: datetime) -> Release:
    content_hash = f"{number:02d}" * 32
    return Release(
        id=f"r-{content_hash[:16]}", plan="weekly", source_stage="dev", source_dag_id="rollout_weekly", source_run_id=f"scheduled__{number}",
        created_at=created, content_hash=content_hash, size=number + 6, manifest_location="s3://ledger/m.json", override_lists={},
    )


def event(rel: Release, kind: ReleaseEventKind, at: datetime, stage: str = "", by: str = "", reason: str = "") -> ReleaseEvent:
    return ReleaseEvent(rel.id, kind, at, stage=stage, run_id=f"run-{stage}" if stage else "", by=by, reason=reason)


def proved(rel: Release, *more: ReleaseEvent) -> dict:
    """`rel` as gather hands it over: proved by dev when it was made, then `more`."""
    return standing_data(standing_of(rel, [event(rel, ReleaseEventKind.PASSED, rel.created_at, "dev"), *more]))


ONE = release(1, NOW - 3 * DAY - timedelta(hours=4))
# ONE's row before anything but dev happened to it; each case changes what it changes.
ROW = {
    "id": "r-0101010101010101",
    "age": "3 days 4 hours",
    "patches": 7,
    "source": {"stage": "dev", "run_id": "scheduled__1", "report_url": "/rollouts/report?dag_id=rollout_weekly&run_id=scheduled__1"},
    "cells": [
        {"stage": "dev", "state": "proved", "text": "proved 2026-12-11 22:00:00 UTC", "tone": "ok"},
        {"stage": "test", "state": "not yet", "text": "not yet", "tone": "idle"},
        {"stage": "prod", "state": "not yet", "text": "not yet", "tone": "idle"},
    ],
    "standing": {"state": "installable", "text": "installable by test", "tone": "active"},
}
TEST_PASSED = {"stage": "test", "state": "passed", "text": "passed 2026-12-12 10:00:00 UTC", "tone": "ok"}
PROD_PASSED = {"stage": "prod", "state": "passed", "text": "passed 2026-12-14 10:00:00 UTC", "tone": "ok"}
AT_TEST, AT_PROD = ONE.created_at + DAY / 2, ONE.created_at + 2 * DAY + DAY / 2


@pytest.mark.parametrize(
    "plan, releases, expected",
    [
        pytest.param(PLAN, [], {**NO_RELEASE_YET, "note": "No releases yet: dev makes one when its gate passes."}, id="no releases"),
        pytest.param(PLAN, None, {**NO_RELEASE_YET, "note": "Releases are unavailable: see the notice above."}, id="ledger unreadable"),
        pytest.param(PLAN, [proved(ONE)], {**NO_RELEASE_YET, "releases": [ROW]}, id="one release proved by dev only"),
        pytest.param(
            PLAN, [proved(ONE, event(ONE, ReleaseEventKind.PASSED, AT_TEST, "test"))],
            {**NO_RELEASE_YET, "releases": [{**ROW, "cells": [ROW["cells"][0], TEST_PASSED, ROW["cells"][2]], "standing": {"state": "installable", "text": "installable by prod", "tone": "active"}}]},
            id="passed test",
        ),
        pytest.param(
            PLAN, [proved(ONE, event(ONE, ReleaseEventKind.BLOCKED, AT_TEST, "test"))],
            # test's gate blocked it, yet it has passed dev, which is all test asks: a later test run may install it again
            {**NO_RELEASE_YET, "releases": [{**ROW, "cells": [ROW["cells"][0], {"stage": "test", "state": "blocked", "text": "blocked 2026-12-12 10:00:00 UTC", "tone": "bad"}, ROW["cells"][2]]}]},
            id="blocked at test",
        ),
        pytest.param(
            {**PLAN, "stages": [PLAN["stages"][0], PLAN["stages"][1], {**PLAN["stages"][2], "next_run": "2026-12-22T08:00:00+00:00"}]},
            [proved(ONE, event(ONE, ReleaseEventKind.PASSED, AT_TEST, "test"))],
            {**NO_RELEASE_YET, "releases": [{**ROW, "cells": [ROW["cells"][0], TEST_PASSED, ROW["cells"][2]],
                                             "standing": {"state": "installable", "text": "installable by prod, scheduled 2026-12-22 08:00:00 UTC", "tone": "active"}}]},
            id="passed test, prod on a calendar",
        ),
        pytest.param(
            PLAN, [proved(ONE, event(ONE, ReleaseEventKind.PASSED, AT_TEST, "test"), event(ONE, ReleaseEventKind.PASSED, AT_PROD, "prod"))],
            {**NO_RELEASE_YET, "releases": [{**ROW, "cells": [ROW["cells"][0], TEST_PASSED, PROD_PASSED], "standing": {"state": "done", "text": "passed every stage", "tone": "ok"}}]},
            id="passed every stage",
        ),
        pytest.param(
            PLAN, [proved(ONE, event(ONE, ReleaseEventKind.PASSED, AT_TEST, "test"), event(ONE, ReleaseEventKind.HELD, NOW - DAY, by="ana", reason="CAB meets Friday"))],
            {**NO_RELEASE_YET, "releases": [{**ROW, "cells": [ROW["cells"][0], TEST_PASSED, ROW["cells"][2]], "standing": {"state": "held", "text": "held by ana: CAB meets Friday", "tone": "warn"}}]},
            id="held",
        ),
        pytest.param(
            PLAN, [proved(ONE, event(ONE, ReleaseEventKind.HELD, NOW - 2 * DAY, by="ana", reason="CAB"), event(ONE, ReleaseEventKind.RELEASED, NOW - DAY, by="ana"))],
            {**NO_RELEASE_YET, "releases": [ROW]},
            id="hold lifted",
        ),
        pytest.param(
            PLAN, [proved(ONE, event(ONE, ReleaseEventKind.PASSED, AT_TEST, "test"), event(ONE, ReleaseEventKind.PASSED, AT_PROD, "prod"),
                          event(ONE, ReleaseEventKind.HELD, NOW - 2 * DAY, by="bo", reason="CAB"), event(ONE, ReleaseEventKind.REVOKED, NOW - DAY, by="ana", reason="breaks nginx on AL2023"))],
            # revoked outranks held: it is never installed again, whatever else happened to it
            {**NO_RELEASE_YET, "releases": [{**ROW, "cells": [ROW["cells"][0], TEST_PASSED, PROD_PASSED], "standing": {"state": "revoked", "text": "revoked by ana: breaks nginx on AL2023", "tone": "bad"}}]},
            id="revoked",
        ),
        pytest.param(
            PLAN, [proved(ONE, event(ONE, ReleaseEventKind.REVOKED, NOW - DAY))],
            {**NO_RELEASE_YET, "releases": [{**ROW, "standing": {"state": "revoked", "text": "revoked by someone unnamed: no reason given", "tone": "bad"}}]},
            id="revoked by no one named for no reason given",
        ),
        pytest.param(
            {**PLAN, "stages": [*PLAN["stages"][:2], {"name": "lab", "patch_group": "lab", "pin_to": None, "after_stage": None}]}, [proved(ONE)],
            {**NO_RELEASE_YET, "stages": ["dev", "test", "lab"], "releases": [{**ROW, "cells": [*ROW["cells"][:2], {"stage": "lab", "state": "elsewhere", "text": "-", "tone": "idle"}]}]},
            id="a stage that does not install dev's releases",
        ),
        pytest.param(
            # qa was put between dev and test after the release had passed test: prod still waits for qa
            {**PLAN, "stages": [PLAN["stages"][0], {"name": "qa", "patch_group": "qa", "pin_to": "dev", "after_stage": "dev"},
                                {**PLAN["stages"][1], "after_stage": "qa"}, PLAN["stages"][2]]},
            [proved(ONE, event(ONE, ReleaseEventKind.PASSED, AT_TEST, "test"))],
            {**NO_RELEASE_YET, "stages": ["dev", "qa", "test", "prod"], "releases": [{**ROW, "cells": [ROW["cells"][0], {**ROW["cells"][1], "stage": "qa"}, TEST_PASSED, ROW["cells"][2]],
                                                                                      "standing": {"state": "installable", "text": "installable by qa", "tone": "active"}}]},
            id="a stage added before one it passed",
        ),
        pytest.param(
            {**PLAN, "stages": [PLAN["stages"][0], {**PLAN["stages"][2], "after_stage": "test"}]}, [proved(ONE)],
            {**NO_RELEASE_YET, "stages": ["dev", "prod"], "releases": [{**ROW, "cells": [ROW["cells"][0], ROW["cells"][2]],
                                                                        "standing": {"state": "not installable", "text": "not installable by prod: it has not passed test", "tone": "idle"}}]},
            id="the stage before it left the plan",
        ),
    ],
)
def test_release_table(plan, releases, expected):
    assert release_table(plan, releases, NOW, base_url="") == expected


def test_more_than_ten_releases_show_the_ten_newest_and_say_how_many_are_older():
    releases = [proved(release(n, NOW - (12 - n) * DAY)) for n in range(12)]  # release 11 is the newest
    table = release_table(PLAN, releases[::2] + releases[1::2], NOW, base_url="https://airflow.example.com")
    assert {**table, "releases": [(r["id"], r["age"], r["source"]["report_url"]) for r in table["releases"]]} == {
        **NO_RELEASE_YET,
        "releases": [
            (f"r-{n:02d}{n:02d}{n:02d}{n:02d}{n:02d}{n:02d}{n:02d}{n:02d}", f"{12 - n} day{'s' if n != 11 else ''}",
             f"https://airflow.example.com/rollouts/report?dag_id=rollout_weekly&run_id=scheduled__{n}")
            for n in range(11, 1, -1)
        ],
        "older": 2,
        "note": "2 older releases not shown: `python -m patchflow releases weekly` lists every one.",
    }


def test_a_release_as_gather_hands_it_over_is_the_ledgers_own_json():
    revoked = event(ONE, ReleaseEventKind.REVOKED, NOW - DAY, by="ana", reason="breaks nginx")
    standing = standing_of(ONE, [event(ONE, ReleaseEventKind.PASSED, ONE.created_at, "dev"), event(ONE, ReleaseEventKind.BLOCKED, AT_TEST, "test"), revoked])
    assert standing_data(standing) == {
        "release": ONE.to_json(),
        "passed": {"dev": event(ONE, ReleaseEventKind.PASSED, ONE.created_at, "dev").to_json()},
        "blocked": {"test": event(ONE, ReleaseEventKind.BLOCKED, AT_TEST, "test").to_json()},
        "hold": None,
        "revocation": revoked.to_json(),
    }


def test_only_plans_that_pin_a_stage_get_a_table_and_one_not_read_is_unavailable():
    unpinned = {**PLAN, "name": "nightly", "dag_id": "rollout_nightly", "stages": [PLAN["stages"][0]]}
    daily = {**PLAN, "name": "daily", "dag_id": "rollout_daily"}
    ledger = {"ok": True, "reports": [], "failures": [], "releases": {"weekly": [proved(ONE)]}, "release_failures": []}
    assert release_tables([unpinned, PLAN, daily], ledger, NOW, "") == [
        {**NO_RELEASE_YET, "releases": [ROW]},
        {**NO_RELEASE_YET, "plan": "daily", "dag_id": "rollout_daily", "note": "Releases are unavailable: see the notice above."},
    ]
    assert release_tables([PLAN], {"ok": False, "failure": {"kind": "unreachable"}}, NOW, "") == [{**NO_RELEASE_YET, "note": "Releases are unavailable: see the notice above."}]


@pytest.mark.parametrize(
    "failure, expected",
    [
        pytest.param(
            {"kind": "error", "where": "s3://ledger/rollouts", "detail": "JSONDecodeError: Expecting value: line 1 column 1 (char 0)", "plan": "weekly"},
            {"level": "error", "source": "releases", "kind": "error", "title": "The releases of plan weekly could not be read",
             "detail": "Reading the releases of plan weekly from the ledger s3://ledger/rollouts failed: JSONDecodeError: Expecting value: line 1 column 1 (char 0).",
             "action": "Reload; if it persists, the API server log names the cause."},
            id="a broken release file",
        ),
        pytest.param(
            {"kind": "no_permission", "where": "s3://ledger/rollouts", "detail": "AccessDenied: Access Denied", "plan": "weekly"},
            {"level": "error", "source": "releases", "kind": "no_permission", "title": "The releases of plan weekly could not be read",
             "detail": "Reading the releases of plan weekly from the ledger s3://ledger/rollouts failed: AccessDenied: Access Denied.",
             "action": "Grant the API server's role s3:ListBucket, s3:GetObject (see include/iam/), then reload."},
            id="no permission",
        ),
    ],
)
def test_a_ledger_whose_releases_cannot_be_read_is_a_notice_naming_the_plan_and_the_ledger(failure, expected):
    assert release_notice(failure) == expected


def _page(ledger: dict) -> dict:
    return model.build_page(plans=[PLAN], fleet={"ok": True, "region": "us-east-1", "registered": [], "groups": {}}, ledger=ledger, now=NOW, base_url="")


def test_the_page_model_carries_the_tables_and_the_notices_as_plain_json():
    ledger = {
        "ok": True, "reports": [], "failures": [], "releases": {"weekly": [proved(ONE)]},
        "release_failures": [{"kind": "error", "where": "s3://ledger/rollouts", "detail": "KeyError: 'id'", "plan": "weekly"}],
    }
    page = _page(ledger)
    assert (page["releases"], [n["title"] for n in page["notices"]]) == (
        [{**NO_RELEASE_YET, "releases": [ROW]}], ["No rollouts yet", "The releases of plan weekly could not be read"],
    )
    assert json.loads(json.dumps(page)) == page  # /rollouts/api/page serves this very model


def test_the_rendered_table_colours_each_cell_and_marks_held_and_revoked_releases():
    held, revoked = release(2, NOW - 2 * DAY), release(3, NOW - DAY)
    releases = [
        proved(ONE, event(ONE, ReleaseEventKind.BLOCKED, AT_TEST, "test")),
        proved(held, event(held, ReleaseEventKind.PASSED, NOW - DAY, "test"), event(held, ReleaseEventKind.HELD, NOW - DAY / 2, by="ana", reason="CAB meets Friday")),
        proved(revoked, event(revoked, ReleaseEventKind.REVOKED, NOW - DAY / 2, by="ana", reason="breaks nginx")),
    ]
    html = render.render_page(_page({"ok": True, "reports": [], "failures": [], "releases": {"weekly": releases}}))
    section = html.split("<h2>Releases</h2>")[1]
    rows = [row.split("</tr>")[0] for row in section.split("<tr data-release=")[1:]]
    assert [row.split("'")[1:4:2] for row in rows] == [["r-0303030303030303", "revoked"], ["r-0202020202020202", "held"], ["r-0101010101010101", "installable"]]
    assert "<span class='pill tone-bad'>revoked by ana: breaks nginx</span>" in rows[0]
    assert "<span class='pill tone-warn'>held by ana: CAB meets Friday</span>" in rows[1]
    assert "<td data-stage='test' data-state='passed'><span class='pill tone-ok'>passed 2026-12-14 02:00:00 UTC</span></td>" in rows[1]
    assert "<td data-stage='test' data-state='blocked'><span class='pill tone-bad'>blocked 2026-12-12 10:00:00 UTC</span></td>" in rows[2]
    assert "<td data-stage='dev' data-state='proved'><span class='pill tone-ok'>proved 2026-12-11 22:00:00 UTC</span></td>" in rows[2]
    assert "run <a target='_blank' rel='noopener' href='/rollouts/report?dag_id=rollout_weekly&amp;run_id=scheduled__1'>scheduled__1</a>" in rows[2]
    assert ".tone-warn{background:#fff8c5;color:#9a6700}" in html.split("</style>")[0]  # held: the page's warning colours


@pytest.mark.parametrize(
    "releases, says",
    [
        pytest.param([], "<p class='muted'>No releases yet: dev makes one when its gate passes.</p>", id="no releases"),
        pytest.param([proved(release(n, NOW - n * DAY)) for n in range(11)], "<p class='meta'>1 older release not shown: `python -m patchflow releases weekly` lists every one.</p>", id="eleven releases"),
    ],
)
def test_the_rendered_table_says_why_it_is_empty_or_short(releases, says):
    html = render.render_page(_page({"ok": True, "reports": [], "failures": [], "releases": {"weekly": releases}}))
    assert says in html.split("<h2>Releases</h2>")[1]
