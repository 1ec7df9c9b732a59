from __future__ import annotations

import copy
from pathlib import Path

import pytest

from patchflow.core.yamlfile import PROJECT_ROOT
from patchflow.core.errors import InvalidInput
from patchflow.core.gates import GateThresholds, Limit
from patchflow.core.plan import Approval, load_plan, load_plans, parse_plan, path_of_stage
from patchflow.core.run_params import RunParams, validate_run_params

SOURCE = "include/rollouts/weekly.yaml"

BASE = {
    "name": "demo-weekly",
    "description": "Weekly OS patching, dev -> test -> prod",
    "owner": "release-engineering",
    "tags": ["patching"],
    "schedule": {"cron": "cron(0 2 ? * SUN *)", "timezone": "Europe/Berlin"},
    "ledger": "s3://patchflow-ledger/runs",
    "notifications": {"sns_topic_arn": "arn:aws:sns:us-east-1:123456789012:patch-rollouts", "slack_connection_id": None},
    "defaults": {"max_errors": "10%", "soak": "30s", "gate": {"max_failed": "10%"}},
    "stages": [
        {
            "name": "dev",
            "patch_group": "dev",
            "waves": [1, "50%", "100%"],
            "gate": {"min_compliant_percent": 90, "max_pending_reboot": "0"},
            "window": {"schedule": "cron(0 2 ? * SUN *)", "timezone": "UTC", "duration": 4, "cutoff": 1},
        },
        {"name": "test", "patch_group": "test", "pin_to": "dev", "window": {"schedule": "cron(0 2 ? * SUN *)", "duration": "PT4H", "cutoff": "PT1H"}},
        {"name": "prod", "patch_group": "prod", "pin_to": "dev", "approval": {"required": True, "timeout": "4h"}, "notify": ["block"]},
    ],
}


def changed(edit) -> dict:
    data = copy.deepcopy(BASE)
    edit(data)
    return data


def test_parse_plan_builds_the_whole_model():
    plan = parse_plan(BASE, SOURCE)
    assert (plan.name, plan.dag_id, plan.owner, plan.tags, plan.ledger_uri, plan.source) == (
        "demo-weekly", "rollout_demo_weekly", "release-engineering", ("patching",), "s3://patchflow-ledger/runs", SOURCE,
    )
    assert (plan.schedule.expression, plan.schedule.timezone) == ("cron(0 2 ? * SUN *)", "Europe/Berlin")
    dev, test, prod = plan.stages
    assert (dev.waves, dev.max_errors, dev.max_concurrency, dev.soak_seconds, dev.scan_first, dev.reboot_option) == (
        (1, "50%", "100%"), "10%", "50", 30, True, "RebootIfNeeded",
    )
    assert dev.gate == GateThresholds(max_failed=Limit(10, True), min_compliant_percent=90, max_pending_reboot=Limit(0, False))
    assert (dev.window.duration_hours, dev.window.cutoff_hours, dev.window.schedule.timezone) == (4, 1, "UTC")
    assert (test.window.duration_hours, test.window.cutoff_hours, test.pin_to) == (4, 1, "dev")
    assert (prod.approval, prod.window, prod.notify, dev.notify) == (
        Approval(14400), None, frozenset({"block"}), frozenset({"block", "approval", "complete"}),
    )
    assert (prod.gated, prod.gate) == (True, GateThresholds(max_failed=Limit(10, True)))


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        pytest.param(lambda d: d["stages"][2].update(pin_to="qa"), f"{SOURCE}: stages[2] (prod).pin_to: expected the name of an earlier stage (dev, test), got 'qa'", id="pin-to-unknown"),
        pytest.param(lambda d: d["stages"][1].update(pin_to="prod"), f"{SOURCE}: stages[1] (test).pin_to: expected the name of an earlier stage (dev), got 'prod'", id="pin-to-later"),
        pytest.param(lambda d: d["stages"][0].update(pin_to="dev"), f"{SOURCE}: stages[0] (dev).pin_to: expected null (the first stage has no earlier stage to pin to), got 'dev'", id="pin-first-stage"),
        pytest.param(lambda d: d["stages"][1].update(name="test\n"), f"{SOURCE}: stages[1].name: expected a stage name of lower-case letters, digits, _ and - (up to 40, starting with a letter), got 'test\\n'", id="stage-name-with-newline"),
        pytest.param(lambda d: d["stages"][1].update(name="dev"), f"{SOURCE}: stages[1] (dev).name: expected a stage name not used by an earlier stage, got 'dev'", id="duplicate-stage-name"),
        pytest.param(lambda d: d["stages"][2].update(patch_group="dev"), f"{SOURCE}: stages[2] (prod).patch_group: expected a patch group no other stage uses (stages[0] (dev) uses it), got 'dev'", id="duplicate-patch-group"),
        pytest.param(lambda d: d["stages"][0].update(patch_group=42), f"{SOURCE}: stages[0] (dev).patch_group: expected a patch group name (1-256 letters, digits, spaces or _.:/=+-@; no space at either end), got 42", id="patch-group-not-text"),
        pytest.param(lambda d: d["stages"][0].update(patch_group="dev "), f"{SOURCE}: stages[0] (dev).patch_group: expected a patch group name (1-256 letters, digits, spaces or _.:/=+-@; no space at either end), got 'dev '", id="patch-group-trailing-space"),
        pytest.param(lambda d: d["stages"][0].update(patch_group="dev\tweb"), f"{SOURCE}: stages[0] (dev).patch_group: expected a patch group name (1-256 letters, digits, spaces or _.:/=+-@; no space at either end), got 'dev\\tweb'", id="patch-group-tab-inside"),
        pytest.param(lambda d: d["stages"][0].update(gaet={}), f"{SOURCE}: stages[0] (dev).gaet: expected a known key (did you mean 'gate'?), got 'gaet'", id="unknown-stage-key"),
        pytest.param(lambda d: d["stages"][0].update(colour="red"), f"{SOURCE}: stages[0] (dev).colour: expected a known key (name, patch_group, scan_first, reboot_option, max_concurrency, max_errors, waves, expected_min_targets, timeout_seconds, execution_timeout_seconds, gate, soak, approval, window, pin_to, notify, allow_ungated, require_registered_baseline, min_bake, max_age, schedule, health, targets, order), got 'colour'", id="unknown-stage-key-unlike-any"),
        pytest.param(lambda d: d.update(stage=[]), f"{SOURCE}: stage: expected a known key (did you mean 'stages'?), got 'stage'", id="unknown-plan-key"),
        pytest.param(lambda d: d["stages"][0]["gate"].update(max_fail="1"), f"{SOURCE}: stages[0] (dev).gate.max_fail: expected a known key (did you mean 'max_failed'?), got 'max_fail'", id="unknown-gate-key"),
        pytest.param(lambda d: d["stages"][0].update(waves=[1, "50%"]), f"{SOURCE}: stages[0] (dev).waves: expected the last wave to be '100%' so every instance is patched, got '50%'", id="waves-not-ending-at-100"),
        pytest.param(lambda d: d["stages"][0].update(waves=["50%", "10%", "100%"]), f"{SOURCE}: stages[0] (dev).waves: expected wave 2 above the earlier 50% (waves are cumulative), got '10%'", id="waves-decreasing"),
        pytest.param(lambda d: d["stages"][0].update(max_concurrency="0"), f"{SOURCE}: stages[0] (dev).max_concurrency: expected a MaxConcurrency of a count 1 or more or a percentage 1%-100%, got '0'", id="bad-max-concurrency"),
        pytest.param(lambda d: d["defaults"].update(max_errors="lots"), f"{SOURCE}: defaults.max_errors: expected a MaxErrors of a count 0 or more or a percentage 0%-100%, got 'lots'", id="bad-default-reported-once-where-written"),
        pytest.param(lambda d: d["defaults"]["gate"].update(max_failed="ten"), f"{SOURCE}: defaults.gate.max_failed: expected a count like 2 or a percentage like 10% (0-100%), got 'ten'", id="bad-default-gate-key"),
        pytest.param(lambda d: d["stages"][0].update(timeout_seconds=10), f"{SOURCE}: stages[0] (dev).timeout_seconds: expected an integer 30-2592000, got 10", id="timeout-too-short"),
        pytest.param(lambda d: d["stages"][0].update(reboot_option="Always"), f"{SOURCE}: stages[0] (dev).reboot_option: expected RebootIfNeeded or NoReboot, got 'Always'", id="reboot-option"),
        pytest.param(lambda d: d["stages"][0].update(soak="a while"), f"{SOURCE}: stages[0] (dev).soak: expected a duration like 30s, 5m, 2h or PT30M, got 'a while'", id="soak"),
        pytest.param(lambda d: d["stages"][2].update(min_bake="a while"), f"{SOURCE}: stages[2] (prod).min_bake: expected a duration like 30s, 5m, 2h or PT30M, got 'a while'", id="min-bake-not-a-duration"),
        pytest.param(lambda d: d["defaults"].update(max_age=-1), f"{SOURCE}: defaults.max_age: expected a duration like 30s, 5m, 2h or PT30M, got -1", id="default-max-age-negative"),
        pytest.param(lambda d: d["stages"][0].update(min_bake="3d"), f"{SOURCE}: stages[0] (dev).min_bake: expected min_bake only on a stage with pin_to (it applies to the release a pinned stage installs), got '3d'", id="min-bake-on-unpinned-stage"),
        pytest.param(lambda d: d["stages"][0].update(max_age=0), f"{SOURCE}: stages[0] (dev).max_age: expected max_age only on a stage with pin_to (it applies to the release a pinned stage installs), got 0", id="max-age-on-unpinned-stage"),
        pytest.param(lambda d: d["stages"][1]["window"].update(cutoff="PT30M"), f"{SOURCE}: stages[1] (test).window.cutoff: expected whole hours 0-23, got 'PT30M' (30 minutes; maintenance windows take integer hours, so sub-hour values are impossible)", id="sub-hour-cutoff"),
        pytest.param(lambda d: d["stages"][1]["window"].update(cutoff=4), f"{SOURCE}: stages[1] (test).window.cutoff: expected a cutoff below the duration of 4 hours, got 4", id="cutoff-not-below-duration"),
        pytest.param(lambda d: d["stages"][0]["window"].update(schedule="cron(0 2 * * SUN *)"), f"{SOURCE}: stages[0] (dev).window.schedule: expected '?' in exactly one of day-of-month and day-of-week in cron(0 2 * * SUN *), got '*' and 'SUN'", id="window-cron"),
        pytest.param(lambda d: d["stages"][0]["window"].update(timezone="Berlin"), f"{SOURCE}: stages[0] (dev).window.timezone: expected an IANA time zone such as UTC or Europe/Berlin, got 'Berlin'", id="window-timezone"),
        pytest.param(lambda d: d["stages"][0]["window"].update(timezone="Berlin", schedule="cron(0 2 * * SUN *)", cutoff=4),
                     f"{SOURCE}: stages[0] (dev).window.timezone: expected an IANA time zone such as UTC or Europe/Berlin, got 'Berlin'\n"
                     f"{SOURCE}: stages[0] (dev).window.schedule: expected '?' in exactly one of day-of-month and day-of-week in cron(0 2 * * SUN *), got '*' and 'SUN'\n"
                     f"{SOURCE}: stages[0] (dev).window.cutoff: expected a cutoff below the duration of 4 hours, got 4", id="window-timezone-hides-nothing"),
        pytest.param(lambda d: d["stages"][0]["window"].pop("duration"), f"{SOURCE}: stages[0] (dev).window: expected a duration, got nothing", id="window-without-duration"),
        pytest.param(lambda d: d["stages"][2].update(approval="yes"), f"{SOURCE}: stages[2] (prod).approval: expected true, false, or a mapping with required and timeout, got 'yes'", id="approval-shape"),
        pytest.param(lambda d: d["stages"][2].update(notify=["sms"]), f"{SOURCE}: stages[2] (prod).notify[0]: expected one of block, approval, complete, got 'sms'", id="notify-event"),
        pytest.param(lambda d: d.update(schedule={"cron": "cron(0 2 ? * SUN 2027)"}), f"{SOURCE}: schedule.cron: expected a cron() schedule Airflow can run, got 'cron(0 2 ? * SUN 2027)' (cron(0 2 ? * SUN 2027) restricts the year; unix cron has no year field)", id="dag-schedule-airflow-cannot-run"),
        pytest.param(lambda d: d.update(schedule={"cron": "rate(1 day)"}), f"{SOURCE}: schedule.cron: expected a cron(...) expression such as cron(0 2 ? * SUN *), got 'rate(1 day)'", id="dag-schedule-rate"),
        pytest.param(lambda d: d.update(ledger="ftp://x"), f"{SOURCE}: ledger: expected file://PATH or s3://BUCKET/PREFIX, got 'ftp://x'", id="ledger"),
        pytest.param(lambda d: d["notifications"].update(sns_topic_arn="patch-rollouts"), f"{SOURCE}: notifications.sns_topic_arn: expected an SNS topic ARN like arn:aws:sns:us-east-1:123456789012:patch-rollouts, or null, got 'patch-rollouts'", id="sns-arn"),
        pytest.param(lambda d: d.update(name="Weekly Plan"), f"{SOURCE}: name: expected a plan name matching ^[a-z0-9][a-z0-9_-]{{2,62}}$, got 'Weekly Plan'", id="plan-name"),
        pytest.param(lambda d: d.pop("owner"), f"{SOURCE}: expected an owner, got nothing", id="no-owner"),
        pytest.param(lambda d: d.update(stages=[]), f"{SOURCE}: stages: expected a list of at least one stage, got a list", id="no-stages"),
        pytest.param(lambda d: d["defaults"].update(patch_group="all"), f"{SOURCE}: defaults.patch_group: expected only keys stages can share, got 'patch_group', which each stage sets itself", id="per-stage-key-in-defaults"),
        pytest.param(lambda d: d["stages"][2].update(approval=False, gate="none"), f"{SOURCE}: stages[2] (prod): expected an approval or a gate on the last stage (or allow_ungated: true), got neither", id="ungated-last-stage"),
        pytest.param(
            lambda d: (d["stages"][2].update(approval=False, gate=None), d["defaults"].pop("gate")),
            f"{SOURCE}: stages[2] (prod): expected an approval or a gate on the last stage (or allow_ungated: true), got neither",
            id="no-gate-anywhere",
        ),
    ],
)
def test_parse_plan_rejects(edit, message):
    with pytest.raises(InvalidInput) as caught:
        parse_plan(changed(edit), SOURCE)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("stage", "path"),
    [
        pytest.param({"name": "staging", "patch_group": "staging"}, "stages[1] (staging)", id="named"),
        pytest.param({"name": "Staging"}, "stages[1]", id="invalid-name-left-out"),
        pytest.param({"name": "staging\n"}, "stages[1]", id="name-with-newline-left-out"),
        pytest.param({"name": 7}, "stages[1]", id="name-not-text"),
        pytest.param({"patch_group": "staging"}, "stages[1]", id="no-name"),
        pytest.param("staging", "stages[1]", id="not-a-mapping"),
    ],
)
def test_a_stage_path_names_the_stage_when_it_has_a_valid_name(stage, path):
    assert path_of_stage(1, stage) == path


def test_every_problem_is_reported_in_one_pass():
    def edit(d):
        d["stages"][0].update(max_errors="x", soak="later")
        d["stages"][2].update(pin_to="qa")
        d.update(ledger=3)

    with pytest.raises(InvalidInput) as caught:
        parse_plan(changed(edit), SOURCE)
    assert str(caught.value).splitlines() == [
        f"{SOURCE}: ledger: expected file://PATH or s3://BUCKET/PREFIX, got 3",
        f"{SOURCE}: stages[0] (dev).max_errors: expected a MaxErrors of a count 0 or more or a percentage 0%-100%, got 'x'",
        f"{SOURCE}: stages[0] (dev).soak: expected a duration like 30s, 5m, 2h or PT30M, got 'later'",
        f"{SOURCE}: stages[2] (prod).pin_to: expected the name of an earlier stage (dev, test), got 'qa'",
    ]


@pytest.mark.parametrize(
    ("edit", "check"),
    [
        pytest.param(lambda d: d["stages"][2].update(approval=False, gate="none", allow_ungated=True), lambda p: (p.stages[2].gated, p.stages[2].approval), id="allow-ungated"),
        pytest.param(lambda d: d["stages"][2].update(approval=True), lambda p: p.stages[2].approval == Approval(14400), id="approval-shorthand"),
        pytest.param(lambda d: d["stages"][2].update(approval={"required": False, "timeout": "1h"}), lambda p: p.stages[2].approval is None, id="approval-not-required"),
        pytest.param(lambda d: d.update(schedule="manual"), lambda p: p.schedule is None, id="manual"),
        pytest.param(lambda d: d.update(schedule={"cron": "cron(0 2 15W * ? *)"}), lambda p: p.schedule.expression == "cron(0 2 15W * ? *)", id="dag-schedule-nearest-weekday"),
        pytest.param(lambda d: d["stages"][0].update(window=None), lambda p: p.stages[0].window is None, id="window-omitted-always-open"),
        pytest.param(lambda d: d["stages"][1].update(gate="none"), lambda p: (p.stages[1].gated, p.stages[1].gate == GateThresholds.permissive()), id="gate-none-earlier-stage"),
    ],
)
def test_parse_plan_accepts(edit, check):
    assert check(parse_plan(changed(edit), SOURCE)) in (True, (False, None), (False, True))


@pytest.mark.parametrize(
    ("edit", "ages"),
    [
        pytest.param(lambda d: None, [("dev", 0, None), ("test", 0, None), ("prod", 0, None)], id="absent"),
        pytest.param(lambda d: d["stages"][2].update(min_bake="3d"), [("dev", 0, None), ("test", 0, None), ("prod", 259200, None)], id="min-bake-days"),
        pytest.param(lambda d: d["stages"][1].update(max_age="PT72H"), [("dev", 0, None), ("test", 0, 259200), ("prod", 0, None)], id="max-age-iso"),
        pytest.param(lambda d: d["stages"][2].update(min_bake=3600, max_age=None), [("dev", 0, None), ("test", 0, None), ("prod", 3600, None)], id="seconds-and-null"),
        # From defaults they reach every stage; only a pinned stage ever installs a release, so dev's are never used.
        pytest.param(lambda d: d["defaults"].update(min_bake="12h", max_age="P7D"), [("dev", 43200, 604800), ("test", 43200, 604800), ("prod", 43200, 604800)],
                     id="from-defaults"),
        pytest.param(lambda d: (d["defaults"].update(min_bake="12h"), d["stages"][2].update(min_bake="2d")),
                     [("dev", 43200, None), ("test", 43200, None), ("prod", 172800, None)], id="stage-overrides-default"),
    ],
)
def test_a_pinned_stage_reads_min_bake_and_max_age(edit, ages):
    plan = parse_plan(changed(edit), SOURCE)
    assert [(s.name, s.min_bake_seconds, s.max_age_seconds) for s in plan.stages] == ages


# --------------------------------------------------------------------------- stages on their own calendar


def on_stage_calendar(data: dict) -> None:
    """dev the evening of Patch Tuesday, test a week later, prod a week after that, in the time zone at the top."""
    data["schedule"] = {"timezone": "Europe/Berlin"}
    for stage, cron in zip(data["stages"], ("cron(0 22 ? * TUE#2 *)", "cron(0 22 ? * TUE#3 *)", "cron(0 9 ? * TUE#4 *)")):
        stage["schedule"] = {"cron": cron}


def calendar_changed(edit) -> dict:
    return changed(lambda d: (on_stage_calendar(d), edit(d)))


def test_stages_on_their_own_calendar_read_into_the_model():
    from patchflow.core.aws_schedules import parse_schedule
    from patchflow.core.plan import PlanSchedule

    plan = parse_plan(calendar_changed(lambda d: d["schedule"].update(late_start_limit="90m")), SOURCE)
    assert plan.schedule == PlanSchedule(None, "Europe/Berlin", None, 5400)
    assert [(s.name, s.schedule) for s in plan.stages] == [
        ("dev", parse_schedule("cron(0 22 ? * TUE#2 *)", "Europe/Berlin")),
        ("test", parse_schedule("cron(0 22 ? * TUE#3 *)", "Europe/Berlin")),
        ("prod", parse_schedule("cron(0 9 ? * TUE#4 *)", "Europe/Berlin")),
    ]


@pytest.mark.parametrize(
    ("edit", "schedule", "stage_schedules"),
    [
        pytest.param(lambda d: d.pop("schedule"), (None, "UTC", None, 3600), ["cron(0 22 ? * TUE#2 *)", "cron(0 22 ? * TUE#3 *)", "cron(0 9 ? * TUE#4 *)"],
                     id="time-zone-defaults-to-utc"),
        pytest.param(lambda d: d["stages"][1].pop("schedule"), (None, "Europe/Berlin", None, 3600), ["cron(0 22 ? * TUE#2 *)", None, "cron(0 9 ? * TUE#4 *)"],
                     id="a-stage-without-a-schedule-runs-when-triggered"),
        pytest.param(lambda d: d["stages"][1].update(schedule="none"), (None, "Europe/Berlin", None, 3600), ["cron(0 22 ? * TUE#2 *)", None, "cron(0 9 ? * TUE#4 *)"],
                     id="schedule-none-word"),
        pytest.param(lambda d: d["stages"][1]["schedule"].update(cron="cron(0 22 ? * TUE#2 *)"), (None, "Europe/Berlin", None, 3600),
                     ["cron(0 22 ? * TUE#2 *)", "cron(0 22 ? * TUE#2 *)", "cron(0 9 ? * TUE#4 *)"], id="a-pinned-stage-sharing-its-sources-cron"),
        pytest.param(lambda d: d["schedule"].update(late_start_limit=86400), (None, "Europe/Berlin", None, 86400),
                     ["cron(0 22 ? * TUE#2 *)", "cron(0 22 ? * TUE#3 *)", "cron(0 9 ? * TUE#4 *)"], id="late-start-limit-in-seconds"),
    ],
)
def test_stage_calendars_accept(edit, schedule, stage_schedules):
    plan = parse_plan(calendar_changed(edit), SOURCE)
    assert ((plan.schedule.expression, plan.schedule.timezone, plan.schedule.schedule, plan.schedule.late_start_limit_seconds),
            [s.schedule.expression if s.schedule else None for s in plan.stages]) == (schedule, stage_schedules)


def test_a_plan_cron_keeps_its_time_zone_and_late_start_limit():
    plan = parse_plan(changed(lambda d: d["schedule"].update(late_start_limit="2h")), SOURCE)
    assert (plan.schedule.expression, plan.schedule.timezone, plan.schedule.late_start_limit_seconds, [s.schedule for s in plan.stages]) == (
        "cron(0 2 ? * SUN *)", "Europe/Berlin", 7200, [None, None, None])


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        pytest.param(lambda d: d["schedule"].update(cron="cron(0 2 ? * SUN *)"),
                     f"{SOURCE}: schedule.cron: expected no cron when stages have schedules of their own (dev, test, prod), got 'cron(0 2 ? * SUN *)'",
                     id="plan-cron-and-stage-crons"),
        pytest.param(lambda d: d.update(schedule="manual"),
                     f"{SOURCE}: schedule: expected a mapping with the time zone of the stage schedules, such as {{timezone: Europe/Berlin}}, got 'manual'",
                     id="manual-plan-with-stage-crons"),
        pytest.param(lambda d: d["stages"][2]["schedule"].update(timezone="America/New_York"),
                     f"{SOURCE}: stages[2] (prod).schedule.timezone: expected no time zone here (every stage schedule runs in the plan's, written at the top as "
                     "schedule: {timezone: ...}; Airflow runs one calendar per DAG), got 'America/New_York'",
                     id="stage-time-zone"),
        pytest.param(lambda d: d["stages"][2]["schedule"].update(colour="red"),
                     f"{SOURCE}: stages[2] (prod).schedule.colour: expected a known key (cron), got 'colour'", id="unknown-stage-schedule-key"),
        pytest.param(lambda d: d["stages"][0].update(schedule={}), f"{SOURCE}: stages[0] (dev).schedule: expected a cron expression such as cron(0 2 ? * WED *), got nothing",
                     id="stage-schedule-without-cron"),
        pytest.param(lambda d: d["stages"][0].update(schedule="cron(0 22 ? * TUE#2 *)"),
                     f"{SOURCE}: stages[0] (dev).schedule: expected a mapping with cron, or none, got 'cron(0 22 ? * TUE#2 *)'", id="stage-cron-without-mapping"),
        pytest.param(lambda d: d["stages"][0]["schedule"].update(cron="rate(30 days)"),
                     f"{SOURCE}: stages[0] (dev).schedule.cron: expected a cron(...) expression such as cron(0 2 ? * SUN *), got 'rate(30 days)'", id="stage-rate"),
        pytest.param(lambda d: d["stages"][0]["schedule"].update(cron="cron(0 22 ? * TUE#2 2027)"),
                     f"{SOURCE}: stages[0] (dev).schedule.cron: expected a cron() schedule Airflow can run, got 'cron(0 22 ? * TUE#2 2027)' "
                     "(cron(0 22 ? * TUE#2 2027) restricts the year; unix cron has no year field)", id="stage-cron-airflow-cannot-run"),
        pytest.param(lambda d: d["stages"][0]["schedule"].update(cron="cron(0 22 ? * TUE#6 *)"),
                     f"{SOURCE}: stages[0] (dev).schedule.cron: expected n#k with k of 1-5 in cron(0 22 ? * TUE#6 *), got 'TUE#6'", id="stage-cron-bad"),
        pytest.param(lambda d: d["defaults"].update(schedule={"cron": "cron(0 22 ? * TUE#2 *)"}),
                     f"{SOURCE}: defaults.schedule: expected only keys stages can share, got 'schedule', which each stage sets itself", id="schedule-in-defaults"),
        pytest.param(lambda d: d["schedule"].update(late_start_limit="4m"),
                     f"{SOURCE}: schedule.late_start_limit: expected a late_start_limit from 5 minutes to 7 days, got '4m'", id="late-start-limit-too-short"),
        pytest.param(lambda d: d["schedule"].update(late_start_limit="whenever"),
                     f"{SOURCE}: schedule.late_start_limit: expected a duration like 30s, 5m, 2h or PT30M, got 'whenever'", id="late-start-limit-not-a-duration"),
        pytest.param(lambda d: d["schedule"].update(timezone="Berlin"),
                     f"{SOURCE}: schedule.timezone: expected an IANA time zone such as UTC or Europe/Berlin, got 'Berlin'", id="plan-time-zone"),
        pytest.param(lambda d: (d["schedule"].update(timezone="Berlin"), d["stages"][0]["schedule"].update(cron="cron(0 22 ? * TUE#6 *)"),
                                d["stages"][1]["schedule"].update(cron="cron(0 22 ? * TUE#2 2027)")),
                     f"{SOURCE}: schedule.timezone: expected an IANA time zone such as UTC or Europe/Berlin, got 'Berlin'\n"
                     f"{SOURCE}: stages[0] (dev).schedule.cron: expected n#k with k of 1-5 in cron(0 22 ? * TUE#6 *), got 'TUE#6'\n"
                     f"{SOURCE}: stages[1] (test).schedule.cron: expected a cron() schedule Airflow can run, got 'cron(0 22 ? * TUE#2 2027)' "
                     "(cron(0 22 ? * TUE#2 2027) restricts the year; unix cron has no year field)", id="plan-time-zone-hides-no-stage-cron"),
        pytest.param(lambda d: [stage.pop("schedule") for stage in d["stages"]],
                     f"{SOURCE}: schedule: expected a cron expression such as cron(0 2 ? * SUN *), or stages with schedules of their own, got nothing",
                     id="time-zone-without-any-cron"),
        pytest.param(lambda d: (d["stages"][0]["schedule"].update(cron="cron(0 22 ? * TUE *)"), d["stages"][2]["schedule"].update(cron="cron(0 22 ? * TUE#4 *)")),
                     f"{SOURCE}: stages[2] (prod).schedule.cron: expected a schedule that never runs prod with dev but without test (prod installs only a release "
                     "that passed test), got 'cron(0 22 ? * TUE#4 *)', which runs with dev on Tue 27 Jan 22:00 Europe/Berlin",
                     id="pinned-stage-with-its-source-but-without-the-stage-before"),
        pytest.param(lambda d: d["stages"][2]["schedule"].update(cron="cron(0 22 ? * TUE#2 *)"),
                     f"{SOURCE}: stages[2] (prod).schedule.cron: expected a schedule that never runs prod with dev but without test (prod installs only a release "
                     "that passed test), got 'cron(0 22 ? * TUE#2 *)', which runs with dev on Tue 13 Jan 22:00 Europe/Berlin",
                     id="pinned-stage-sharing-its-sources-cron-but-not-the-stage-befores"),
    ],
)
def test_stage_calendars_reject(edit, message):
    with pytest.raises(InvalidInput) as caught:
        parse_plan(calendar_changed(edit), SOURCE)
    assert str(caught.value) == message


def test_load_plan_names_the_file_and_keeps_the_yaml_error(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: [oops\n")
    with pytest.raises(InvalidInput) as caught:
        load_plan(broken)
    assert str(caught.value).startswith(f"{broken}:2:1: expected valid YAML, got a syntax error (")


def test_load_plan_refuses_a_document_that_is_not_a_mapping(tmp_path):
    listed = tmp_path / "listed.yaml"
    listed.write_text("- name: dev\n")
    with pytest.raises(InvalidInput) as caught:
        load_plan(listed)
    assert str(caught.value) == f"{listed}: expected a mapping with name, owner and stages, got a list"


def test_load_plans_keeps_going_past_a_broken_file(tmp_path):
    (tmp_path / "a.yaml").write_text((PROJECT_ROOT / "include/rollouts/demo.yaml").read_text())
    (tmp_path / "b.yaml").write_text("name: b\n")
    (tmp_path / "c.yaml").write_text((PROJECT_ROOT / "include/rollouts/demo.yaml").read_text())
    (tmp_path / "notes.txt").write_text("not a plan")
    plans, broken = load_plans(tmp_path)
    assert [p.name for p in plans] == ["demo"]
    assert {path.name: str(error) for path, error in broken.items()} == {
        "b.yaml": f"{tmp_path / 'b.yaml'}:1:1: name: expected a plan name matching ^[a-z0-9][a-z0-9_-]{{2,62}}$, got 'b'\n"
        f"{tmp_path / 'b.yaml'}: expected an owner, got nothing\n"
        f"{tmp_path / 'b.yaml'}: stages: expected a list of at least one stage, got nothing",
        "c.yaml": f"{tmp_path / 'c.yaml'}:8:1: name: expected a plan name whose DAG id no other plan has, got 'demo' (rollout_demo is also {tmp_path / 'a.yaml'})",
    }


def test_a_gates_keys_are_the_thresholds_gates_defines_not_a_second_list():
    from patchflow.core import gates, plan

    assert plan.GATE_KEYS is gates.GATE_KEYS


def test_shipped_plans_load_and_describe_themselves_relative_to_the_project():
    plans, broken = load_plans(PROJECT_ROOT / "include" / "rollouts")
    assert broken == {}
    by_name = {p.name: p for p in plans}
    assert set(by_name) >= {"demo", "weekly"}
    demo, weekly = by_name["demo"], by_name["weekly"]
    assert demo.source == "include/rollouts/demo.yaml"
    assert [(s.name, s.patch_group, s.pin_to, s.window, s.approval, s.gated) for s in demo.stages] == [
        ("dev", "dev", None, None, None, True),
        ("test", "test", "dev", None, None, True),
        ("prod", "prod", "dev", None, None, True),
    ]
    assert (demo.schedule, demo.stages[2].waves, demo.stages[2].gate.max_failed, demo.stages[0].soak_seconds) == (None, (1, "50%", "100%"), Limit(10, True), 2)
    assert weekly.stages[-1].waves == (1, "10%", "100%")
    assert weekly.stages[-1].approval == Approval(4 * 3600)
    assert all(s.window is not None for s in weekly.stages)


# --------------------------------------------------------------------------- trigger params

PLAN = parse_plan(BASE, SOURCE)


@pytest.mark.parametrize(
    ("params", "run"),
    [
        pytest.param({}, RunParams(False, ("dev", "test", "prod"), None, ""), id="defaults"),
        pytest.param({"dry_run": True, "stages": ["prod"], "max_failed": "", "change_ticket": ""}, RunParams(True, ("prod",), None, ""), id="dry-run-may-skip-pin-source"),
        pytest.param({"stages": ["test", "dev"], "max_failed": "5%", "change_ticket": "CHG0012345"}, RunParams(False, ("dev", "test"), Limit(5, True), "CHG0012345"), id="plan-order-kept"),
        pytest.param({"stages": ["dev", "dev"], "max_failed": 0}, RunParams(False, ("dev",), Limit(0, False), ""), id="duplicates-and-int-limit"),
        pytest.param({"dry_run": None, "stages": None, "max_failed": None, "change_ticket": None}, RunParams(False, ("dev", "test", "prod"), None, ""), id="nulls"),
        pytest.param({"change_ticket": "  OPS-42 "}, RunParams(False, ("dev", "test", "prod"), None, "OPS-42"), id="ticket-spaces-dropped"),
        pytest.param({"stages": ["prod"]}, RunParams(False, ("prod",), None, ""), id="pinned-without-source"),
        pytest.param({"stages": ["test", "prod"]}, RunParams(False, ("test", "prod"), None, ""), id="pinned-stages-without-source"),
        pytest.param({"dry_run": True, "stages": ["dev", "prod"]}, RunParams(True, ("dev", "prod"), None, ""), id="dry-run-may-skip-the-stage-between"),
        pytest.param({"stages": ["prod"], "release": "  r-0123456789abcdef "}, RunParams(False, ("prod",), None, "", "r-0123456789abcdef"), id="release-spaces-dropped"),
        pytest.param({"stages": ["test", "prod"], "release": "r-fedcba9876543210"}, RunParams(False, ("test", "prod"), None, "", "r-fedcba9876543210"),
                     id="release-for-the-first-stage-from-the-ledger"),
        pytest.param({"release": "  "}, RunParams(False, ("dev", "test", "prod"), None, ""), id="release-blank"),
        pytest.param({"release": None}, RunParams(False, ("dev", "test", "prod"), None, ""), id="release-null"),
    ],
)
def test_validate_run_params(params, run):
    assert validate_run_params(PLAN, params) == run


@pytest.mark.parametrize(
    ("params", "message"),
    [
        pytest.param({"stages": ["dev", "qa"]}, "params: stages[1]: expected one of dev, test, prod, got 'qa'", id="unknown-stage"),
        pytest.param({"stages": []}, "params: stages: expected at least one of dev, test, prod, got an empty list", id="no-stages"),
        pytest.param({"stages": "dev"}, "params: stages: expected a list of stage names from dev, test, prod, got 'dev'", id="stages-not-a-list"),
        pytest.param({"stages": ["dev", "prod"]}, "params: stages: expected test as well, because prod installs only a release that passed test, got dev, prod", id="pin-source-without-the-stage-between"),
        pytest.param({"stages": ["prod"], "release": "latest"}, "params: release: expected a release id like r-0123456789abcdef, or nothing, got 'latest'", id="release-word"),
        pytest.param({"stages": ["prod"], "release": "r-0123456789abcdef0"}, "params: release: expected a release id like r-0123456789abcdef, or nothing, got 'r-0123456789abcdef0'", id="release-too-long"),
        pytest.param({"stages": ["prod"], "release": ["r-0123456789abcdef"]}, "params: release: expected a release id like r-0123456789abcdef, or nothing, got a list", id="release-list"),
        pytest.param({"release": "r-0123456789abcdef"}, "params: release: expected stages that install a release from an earlier run (test, prod, without their source), got dev, test, prod, which prove their own", id="release-on-a-full-run"),
        pytest.param({"stages": ["dev", "test"], "release": "r-0123456789abcdef"}, "params: release: expected stages that install a release from an earlier run (test, prod, without their source), got dev, test, which prove their own", id="release-with-the-source"),
        pytest.param({"stages": ["dev"], "release": "r-0123456789abcdef"}, "params: release: expected stages that install a release from an earlier run (test, prod, without their source), got dev, which prove their own", id="release-for-the-source-alone"),
        pytest.param({"max_failed": "20%"}, "params: max_failed: expected a limit no looser than the plan's 10%, got '20%' for stages dev, test, prod", id="looser-max-failed"),
        pytest.param({"stages": ["dev", "test"], "max_failed": "3"}, "params: max_failed: expected a limit no looser than the plan's 10% (a percentage up to 10%, or 0), got '3' for stages dev, test", id="count-against-percent-plan"),
        pytest.param({"max_failed": "many"}, "params: max_failed: expected a count like 2 or a percentage like 10% (0-100%), got 'many'", id="bad-max-failed"),
        pytest.param({"dry_run": "yes"}, "params: dry_run: expected true or false, got 'yes'", id="dry-run-not-bool"),
        pytest.param({"change_ticket": "fix the thing"}, "params: change_ticket: expected a change ticket like CHG0012345, or nothing, got 'fix the thing'", id="ticket"),
        pytest.param({"dryrun": True}, "params: dryrun: expected a known key (did you mean 'dry_run'?), got 'dryrun'", id="typo-param-is-refused"),
    ],
)
def test_validate_run_params_rejects(params, message):
    with pytest.raises(InvalidInput) as caught:
        validate_run_params(PLAN, params)
    assert str(caught.value) == message


def test_a_release_is_refused_by_a_plan_without_pinned_stages():
    unpinned = parse_plan(changed(lambda d: [stage.pop("pin_to", None) for stage in d["stages"]]), SOURCE)
    with pytest.raises(InvalidInput) as caught:
        validate_run_params(unpinned, {"stages": ["prod"], "release": "r-0123456789abcdef"})
    assert str(caught.value) == (
        "params: release: expected stages that install a release from an earlier run (none in this plan, without their source), "
        "got prod, which install no release"
    )


@pytest.mark.parametrize(
    ("max_failed", "stage", "gate"),
    [
        pytest.param(None, "dev", GateThresholds(max_failed=Limit(10, True), min_compliant_percent=90, max_pending_reboot=Limit(0, False)), id="plan-limit-kept"),
        pytest.param("5%", "dev", GateThresholds(max_failed=Limit(5, True), min_compliant_percent=90, max_pending_reboot=Limit(0, False)), id="tighter-percent"),
        pytest.param(0, "prod", GateThresholds(max_failed=Limit(0, False)), id="zero"),
    ],
)
def test_a_runs_max_failed_reaches_the_gate_already_read(max_failed, stage, gate):
    assert validate_run_params(PLAN, {"max_failed": max_failed}).gate_for(PLAN.stage(stage)) == gate


def test_a_run_params_limit_looser_than_the_stage_is_refused_at_the_gate_too():
    with pytest.raises(InvalidInput) as caught:
        RunParams(False, ("dev",), Limit(20, True), "").gate_for(PLAN.stage("dev"))
    assert str(caught.value) == "params: max_failed: expected a limit no looser than the plan's 10%, got '20%'"
