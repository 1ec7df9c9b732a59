"""What a node reports after AWS-RunPatchBaseline: when the report arrives, InstalledTime, and InstallOverrideList titles."""
from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest

from fleetsim.catalog import load_catalog
from fleetsim.fleet import install_age_at_start, reported_installed_time, superseded_patches
from fleetsim.patching import (
    HAVE_INSTALLED,
    HAVE_MISSING,
    INSTALLED_STATES,
    OverrideItem,
    OverrideList,
    offered_by_newer_repository,
    override_matches,
    pinned_titles_not_offered,
    run_patch_operation,
    superseding_version,
)
from fleetsim.spec import load_fleet
from tests.fleetsim.timeline import START, HandClockFleet

UTC = timezone.utc
OPENSSH = "openssh-server.x86_64"
OPENSSH_TITLE = "openssh-server.x86_64:0:8.7p1-8.amzn2023.0.13"
OPENSSH_NEWER_TITLE = "openssh-server.x86_64:0:8.7p1-9.amzn2023.0.13"


def catalog_patch(operating_system: str, patch_id: str):
    return next(p for p in load_catalog(operating_system) if p.id == patch_id)


# ---- compliance data arrives after the invocation ends ----------------------------------------------------


def one_node(**top_level) -> HandClockFleet:
    return HandClockFleet({**top_level, "groups": [
        {"name": "web", "count": 1, "platform": "AMAZON_LINUX_2023", "execution_seconds": 60, "missing_share": 1.0}]})


def test_the_patch_state_arrives_30_simulated_seconds_after_the_invocation_ends_by_default():
    fleet = one_node()
    (instance_id,) = fleet.ids()
    node = fleet.instances[instance_id]
    command = fleet.send([instance_id], "Scan")
    fleet.at(70)  # picked up at 4.4, 60 s of work
    ended = command.invocations[instance_id].end_sim
    assert (fleet.details(command), node.patch_state, node.patch_items) == ({instance_id: "Success"}, None, ())
    fleet.at(ended + 29.9)
    assert node.patch_state is None
    fleet.at(ended + 30)
    assert (node.patch_state["Operation"], node.patch_state["OperationEndTime"]) == ("Scan", fleet.clock.wall(ended))
    assert {o.state for o in node.patch_items} == {"Missing", "NotApplicable"}


def test_until_the_report_arrives_the_previous_patch_state_is_shown_though_the_packages_already_changed():
    fleet = one_node(compliance_lag_seconds=120)
    (instance_id,) = fleet.ids()
    node = fleet.instances[instance_id]
    fleet.send([instance_id], "Scan")
    fleet.at(300)
    scanned = node.patch_state
    install = fleet.send([instance_id], "Install", parameters={"RebootOption": ["NoReboot"]})
    fleet.at(400)
    ended = install.invocations[instance_id].end_sim
    installed = install.invocations[instance_id].result.installed_ids
    assert fleet.details(install) == {instance_id: "Success"} and installed
    assert {patch_id: node.have[patch_id] for patch_id in installed} == {patch_id: HAVE_INSTALLED for patch_id in installed}
    fleet.at(ended + 119)
    assert node.patch_state is scanned and node.patch_state["MissingCount"] == len(installed)
    fleet.at(ended + 120)
    assert (node.patch_state["Operation"], node.patch_state["MissingCount"], node.patch_state["InstalledPendingRebootCount"]) == (
        "Install", 0, len(installed))


def test_a_zero_lag_reports_at_the_end_of_the_invocation():
    fleet = one_node(compliance_lag_seconds=0)
    (instance_id,) = fleet.ids()
    command = fleet.send([instance_id], "Scan")
    fleet.at(100)
    assert fleet.instances[instance_id].patch_state["OperationEndTime"] == fleet.clock.wall(command.invocations[instance_id].end_sim)


# ---- InstalledTime ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "operating_system, instant, expected",
    [
        ("WINDOWS", datetime(2026, 3, 10, 15, 30, 4, 355_000, tzinfo=UTC), datetime(2026, 3, 10, tzinfo=UTC)),
        ("WINDOWS", datetime(2026, 3, 10, 23, 59, 59, tzinfo=UTC), datetime(2026, 3, 10, tzinfo=UTC)),
        ("WINDOWS", datetime(2026, 3, 11, 1, 0, tzinfo=timezone(timedelta(hours=2))), datetime(2026, 3, 10, tzinfo=UTC)),
        ("AMAZON_LINUX_2023", datetime(2026, 3, 10, 15, 30, 4, 999_999, tzinfo=UTC), datetime(2026, 3, 10, 15, 30, 4, tzinfo=UTC)),
        ("UBUNTU", datetime(2026, 3, 10, 15, 30, 4, 1, tzinfo=UTC), datetime(2026, 3, 10, 15, 30, 4, tzinfo=UTC)),
    ],
    ids=["windows-keeps-the-day", "windows-late-evening", "windows-day-in-utc", "rpm-whole-seconds", "dpkg-whole-seconds"],
)
def test_installed_time_as_the_operating_system_reports_it(operating_system, instant, expected):
    assert reported_installed_time(operating_system, instant) == expected


@pytest.mark.parametrize(
    "released_before_start, draw, expected",
    [(86_400 * 10, 0.0, 86_400 * 9.5), (86_400 * 10, 0.999_999_999, 86_400 * 0.5), (86_400, 0.5, 43_200), (100, 0.5, 60), (-5, 0.3, 60)],
    ids=["soon-after-release", "long-after-release", "half-way", "at-least-a-minute-before-start", "released-after-start"],
)
def test_a_patch_present_at_start_was_installed_after_its_release_and_before_the_start(released_before_start, draw, expected):
    assert install_age_at_start(released_before_start, draw) == pytest.approx(expected)


def test_installed_times_per_platform_before_the_start_and_during_the_run():
    fleet = HandClockFleet({"groups": [
        {"name": name, "count": 1, "platform": platform, "execution_seconds": 60}
        for name, platform in (("al2023", "AMAZON_LINUX_2023"), ("ubuntu", "UBUNTU"), ("windows", "WINDOWS"))]})
    command = fleet.send(fleet.ids(), "Install", parameters={"RebootOption": ["NoReboot"]})
    fleet.at(300)
    requested = fleet.clock.wall(command.requested_sim)
    for instance_id, node in fleet.instances.items():
        invocation = command.invocations[instance_id]
        installed = [o for o in node.patch_items if o.state in INSTALLED_STATES]
        newly = {o.patch.id: fleet.run.installed_time(node, o.patch) for o in installed if o.newly_installed}
        earlier = {o.patch.id: fleet.run.installed_time(node, o.patch) for o in installed if not o.newly_installed}
        assert newly and earlier, node.group.name
        assert all(START - timedelta(days=90) < t < START for t in earlier.values()), node.group.name
        if node.platform.operating_system == "WINDOWS":
            # Whole days: what this run installed shows the day it ran, before the command was even sent.
            assert set(newly.values()) == {datetime(2026, 3, 10, tzinfo=UTC)} and requested > datetime(2026, 3, 10, tzinfo=UTC)
            assert all((t.hour, t.minute, t.second, t.microsecond) == (0, 0, 0, 0) for t in earlier.values())
        else:
            run_start, run_end = fleet.clock.wall(invocation.start_sim), fleet.clock.wall(invocation.end_sim)
            assert all(run_start.replace(microsecond=0) <= t <= run_end and t.microsecond == 0 for t in newly.values()), node.group.name
            assert len(set(newly.values())) == len(newly), "one package after another"


def test_installed_times_of_the_initial_inventory_are_the_same_in_every_report():
    fleet = HandClockFleet({"groups": [{"count": 1, "platform": "AMAZON_LINUX_2023", "missing_share": 0.3, "execution_seconds": 60}]})
    (instance_id,) = fleet.ids()
    node = fleet.instances[instance_id]
    fleet.send([instance_id], "Scan")
    fleet.at(200)
    first = {o.patch.id: fleet.run.installed_time(node, o.patch) for o in node.patch_items if o.state in INSTALLED_STATES}
    fleet.send([instance_id], "Scan")
    fleet.at(400)
    assert {o.patch.id: fleet.run.installed_time(node, o.patch) for o in node.patch_items if o.state in INSTALLED_STATES} == first and first


# ---- InstallOverrideList titles and versions a repository no longer offers --------------------------------


OFFERED = catalog_patch("AMAZON_LINUX_2023", OPENSSH)
APT_PATCH = catalog_patch("UBUNTU", "libc6")
WINDOWS_PATCH = catalog_patch("WINDOWS", "KB5044224")


@pytest.mark.parametrize(
    "patch, items, selects, pins_not_offered",
    [
        (OFFERED, ["openssh-server.x86_64"], True, ()),
        (OFFERED, [OverrideItem("openssh-server.x86_64")], True, ()),
        (OFFERED, [OverrideItem("openssh-*", OPENSSH_TITLE)], True, ()),
        (OFFERED, [OverrideItem("openssh-server.x86_64", "0:8.7p1-8.amzn2023.0.13")], True, ()),
        (OFFERED, [OverrideItem("openssh-server.x86_64", "*8.7p1-8.*")], True, ()),
        (OFFERED, [OverrideItem("openssh-server.x86_64", OPENSSH_NEWER_TITLE)], False, (OPENSSH_NEWER_TITLE,)),
        (OFFERED, [OverrideItem("openssh-server.x86_64", OPENSSH_NEWER_TITLE), OverrideItem("openssh-server.x86_64")], True, ()),
        (OFFERED, [OverrideItem("sudo.x86_64", OPENSSH_TITLE)], False, ()),
        (APT_PATCH, [OverrideItem("libc6.amd64", "libc6.amd64:2.35-0ubuntu3.8")], True, ()),
        (APT_PATCH, [OverrideItem("libc6", "2.35-0ubuntu3.8")], True, ()),
        (APT_PATCH, [OverrideItem("libc6", "libc6.amd64:2.35-0ubuntu3.7")], False, ("libc6.amd64:2.35-0ubuntu3.7",)),
        (WINDOWS_PATCH, [OverrideItem("KB5044224", "any title at all")], True, ()),
    ],
    ids=["plain-id", "item-without-title", "wildcard-id-full-title", "version-part-title", "wildcard-title",
         "title-of-another-version", "another-item-without-title", "title-under-another-id", "apt-full-title", "apt-version-title",
         "apt-older-version", "windows-ignores-titles"],
)
def test_override_items_match_by_id_and_by_title_on_linux(patch, items, selects, pins_not_offered):
    assert (override_matches(patch, items), pinned_titles_not_offered(patch, items)) == (selects, pins_not_offered)
    remembered = OverrideList(items)
    # Asked twice: the second answer comes from what the list remembered, and must be the same.
    assert [remembered.selection(patch), remembered.selection(patch)] == [(selects, pins_not_offered)] * 2


def test_a_remembered_override_list_tells_versions_of_one_package_apart():
    items = OverrideList([OverrideItem(OFFERED.id, OPENSSH_TITLE)])
    newer = offered_by_newer_repository(OFFERED)
    assert [items.selection(OFFERED), items.selection(newer), items.selection(OFFERED)] == [(True, ()), (False, (OPENSSH_TITLE,)), (True, ())]


@pytest.mark.parametrize(
    "version, expected",
    [("0:8.7p1-8.amzn2023.0.13", "0:8.7p1-9.amzn2023.0.13"), ("0:6.1.112-122.189.amzn2023", "0:6.1.112-123.189.amzn2023"),
     ("2.35-0ubuntu3.8", "2.35-1ubuntu3.8"), ("2.4.0ubuntu4", "2.4.0ubuntu5"), ("20240203~22.04.1", "20240203~22.04.2"), ("abc", "abc.1")],
    ids=["rpm-release", "kernel-release", "debian-revision", "no-revision", "no-revision-tilde", "no-number"],
)
def test_a_repository_that_moved_on_offers_the_next_release(version, expected):
    assert superseding_version(version) == expected


def test_a_pinned_version_that_is_not_offered_fails_the_patch_and_names_the_title():
    decisions = {OFFERED.id: type("Verdict", (), {"approved": True, "rejected": False, "compliance_level": "CRITICAL"})()}
    result = run_patch_operation(
        patches=(OFFERED,), decisions=decisions, have={OFFERED.id: HAVE_MISSING}, pending_reboot=frozenset(), operation="Install",
        reboot_option="NoReboot", rejected_action="ALLOW_AS_DEPENDENCY", failing_ids=frozenset(),
        override_ids=(OverrideItem(OFFERED.id, OPENSSH_NEWER_TITLE),),
    )
    assert ([(o.patch.id, o.state) for o in result.outcomes], result.installed_ids, result.failed_ids, dict(result.unavailable_titles)) == (
        [(OFFERED.id, "Failed")], frozenset(), frozenset({OFFERED.id}), {OFFERED.id: OPENSSH_NEWER_TITLE})


def test_superseded_is_drawn_per_instance_and_only_for_patches_missing_at_start():
    group = load_fleet({"groups": [{"count": 1, "platform": "al2023", "superseded": {"a.x86_64": 0.5, "b.x86_64": 1.0, "c.x86_64": 1.0}}]}).groups[0]
    have = {"a.x86_64": HAVE_MISSING, "b.x86_64": HAVE_MISSING, "c.x86_64": HAVE_INSTALLED}
    drawn = [superseded_patches(group, have, random.Random(seed)) for seed in range(200)]
    assert {frozenset(s) for s in drawn} == {frozenset({"b.x86_64"}), frozenset({"a.x86_64", "b.x86_64"})}
    assert 70 < sum("a.x86_64" in s for s in drawn) < 130


MOVED_ON = {"groups": [
    {"name": "current", "count": 1, "platform": "AMAZON_LINUX_2023", "execution_seconds": 60, "missing_share": 1.0, "not_applicable_share": 0},
    {"name": "moved-on", "count": 1, "platform": "AMAZON_LINUX_2023", "execution_seconds": 60, "missing_share": 1.0, "not_applicable_share": 0,
     "superseded": {OPENSSH: 1.0}},
]}


def reported(fleet: HandClockFleet, instance_id: str, patch_id: str) -> tuple[str, str]:
    return next((o.patch.title, o.state) for o in fleet.instances[instance_id].patch_items if o.patch.id == patch_id)


def test_a_node_whose_repository_moved_on_reports_the_newer_version_and_installs_it_without_a_pin():
    fleet = HandClockFleet(MOVED_ON)
    (current,), (moved_on,) = fleet.ids("current"), fleet.ids("moved-on")
    fleet.send(fleet.ids(), "Scan")
    fleet.at(200)
    assert (reported(fleet, current, OPENSSH), reported(fleet, moved_on, OPENSSH)) == (
        (OPENSSH_TITLE, "Missing"), (OPENSSH_NEWER_TITLE, "Missing"))
    fleet.objects["s3://lists/openssh.yaml"] = f"patches:\n  - id: '{OPENSSH}'\n".encode()
    command = fleet.send(fleet.ids(), "Install", parameters={"InstallOverrideList": ["s3://lists/openssh.yaml"], "RebootOption": ["NoReboot"]})
    fleet.at(400)
    assert fleet.summary(command)["StatusDetails"] == "Success"
    assert reported(fleet, moved_on, OPENSSH) == (OPENSSH_NEWER_TITLE, "InstalledPendingReboot")


def test_a_title_pinning_a_version_the_node_is_no_longer_offered_fails_the_patch_and_the_invocation():
    fleet = HandClockFleet(MOVED_ON)
    (current,), (moved_on,) = fleet.ids("current"), fleet.ids("moved-on")
    fleet.objects["s3://lists/pinned.yaml"] = f"patches:\n  - id: '{OPENSSH}'\n    title: '{OPENSSH_TITLE}'\n".encode()
    command = fleet.send(fleet.ids(), "Install", parameters={"InstallOverrideList": ["s3://lists/pinned.yaml"], "RebootOption": ["NoReboot"]},
                         MaxErrors="1")
    fleet.at(400)
    assert fleet.details(command) == {current: "Success", moved_on: "Failed"}
    assert (reported(fleet, current, OPENSSH), reported(fleet, moved_on, OPENSSH)) == (
        (OPENSSH_TITLE, "InstalledPendingReboot"), (OPENSSH_NEWER_TITLE, "Failed"))
    assert fleet.instances[moved_on].have[OPENSSH] == HAVE_MISSING
    assert command.invocations[moved_on].stderr == (
        f"Failed to install package {OPENSSH}: version {OPENSSH_TITLE} was not found in the repositories of this node.\n")
    assert fleet.instances[moved_on].patch_state["FailedCount"] == 1
