from __future__ import annotations

import json

import pytest

from patchflow.core.errors import InvalidInput
from patchflow.core.report import build_report, headline, render_html, render_markdown, stage_facts, summary_table
from patchflow.core.report_records import InstanceRow, MovedOn, Pin, Report, RunOutcome, Stage, StageManifest, StageState, Verdict, Wave


def _verdict(passed, reasons, **counts):
    base = {"targets": 0, "succeeded": 0, "failed": 0, "timed_out": 0, "unreachable": 0, "not_dispatched": 0}
    return {"passed": passed, "reasons": reasons, "counts": {**base, **counts}}


def _records(blocked: bool):
    records = [
        {"kind": "run_started", "at": "2026-11-28T10:00:00.000000Z", "dag_id": "rollout_demo", "run_id": "r1", "plan": "demo", "stages": ["dev", "test"], "dry_run": False, "change_ticket": "CHG1"},
        {"kind": "preflight", "at": "2026-11-28T10:00:01.000000Z", "dag_id": "rollout_demo", "run_id": "r1", "stage": "dev", "patch_group": "dev", "targets": [{"instance_id": "i-1"}, {"instance_id": "i-2"}], "offline": [], "baselines": {"AMAZON_LINUX_2023": "pb-1"}},
        {"kind": "command_sent", "at": "2026-11-28T10:00:02.000000Z", "dag_id": "rollout_demo", "run_id": "r1", "stage": "dev", "wave": 1, "command_ids": ["c-1"]},
        {
            "kind": "wave_result", "at": "2026-11-28T10:00:10.000000Z", "dag_id": "rollout_demo", "run_id": "r1", "stage": "dev", "wave": 1,
            "operation": "Install", "command_ids": ["c-1"], "started_at": "a", "finished_at": "b",
            "instances": [
                {"instance_id": "i-1", "operating_system": "AMAZON_LINUX_2023", "outcome": "SUCCEEDED", "status_details": "Success", "compliant": True, "pending_reboot": False, "command_id": "c-1"},
                {"instance_id": "i-2", "operating_system": "AMAZON_LINUX_2023", "outcome": "FAILED" if blocked else "SUCCEEDED", "status_details": "Failed" if blocked else "Success", "compliant": not blocked, "pending_reboot": False, "command_id": "c-1"},
            ],
            "verdict": _verdict(not blocked, ["1 of 2 instances failed (50.0%), above the limit of 0"] if blocked else ["2 of 2 succeeded"], targets=2, succeeded=1 if blocked else 2, failed=1 if blocked else 0),
        },
    ]
    if blocked:
        records.append({"kind": "stage_verdict", "at": "2026-11-28T10:00:11.000000Z", "dag_id": "rollout_demo", "run_id": "r1", "stage": "dev", "verdict": records[-1]["verdict"]})
        records.append({"kind": "run_finished", "at": "2026-11-28T10:00:12.000000Z", "dag_id": "rollout_demo", "run_id": "r1", "outcome": "blocked", "blocking_stage": "dev", "reason": "gate: 1 of 2 instances failed (50.0%), above the limit of 0"})
    else:
        records.append({"kind": "stage_verdict", "at": "2026-11-28T10:00:11.000000Z", "dag_id": "rollout_demo", "run_id": "r1", "stage": "dev", "verdict": records[-1]["verdict"]})
        records.append({"kind": "manifest", "at": "2026-11-28T10:00:12.000000Z", "dag_id": "rollout_demo", "run_id": "r1", "stage": "dev", "content_hash": "abc123", "size": 4})
        records.append({
            "kind": "command_sent", "at": "2026-11-28T10:00:13.000000Z", "dag_id": "rollout_demo", "run_id": "r1", "stage": "test", "wave": 1, "command_ids": ["c-2"],
            "install_override_lists": ["s3://ledger/runs/rollout_demo/r1/manifest/dev/AMAZON_LINUX_2023.yaml"],
        })
        records.append({"kind": "drift", "at": "2026-11-28T10:00:14.000000Z", "dag_id": "rollout_demo", "run_id": "r1", "stage": "test", "drift": {"AMAZON_LINUX_2023": ["curl.x86_64"]}})
        records.append({"kind": "stage_verdict", "at": "2026-11-28T10:00:20.000000Z", "dag_id": "rollout_demo", "run_id": "r1", "stage": "test", "verdict": _verdict(True, ["ok"], targets=3, succeeded=3)})
        records.append({"kind": "run_finished", "at": "2026-11-28T10:00:21.000000Z", "dag_id": "rollout_demo", "run_id": "r1", "outcome": "promoted", "blocking_stage": None, "reason": ""})
    return records


def test_blocked_run_report_names_the_stage_and_reason_and_leaves_later_stages_not_started():
    report = build_report(reversed(_records(blocked=True)))  # record order on disk must not matter
    assert report.outcome is RunOutcome.BLOCKED
    assert [(s.name, s.state) for s in report.stages] == [("dev", StageState.BLOCKED), ("test", StageState.NOT_STARTED)]
    assert headline(report) == "BLOCKED at stage dev: gate: 1 of 2 instances failed (50.0%), above the limit of 0. Change ticket: CHG1."
    assert summary_table(report) == (
        "stage  group  targets  succeeded  failed  unreachable  gate   commands\n"
        "-----  -----  -------  ---------  ------  -----------  -----  --------\n"
        "dev    dev    2        1          1       0            BLOCK  c-1\n"
        "test   -      0        0          0       0            -      -"
    )


def test_promoted_run_report_carries_manifest_and_per_instance_outcomes():
    report = build_report(_records(blocked=False))
    assert report.outcome is RunOutcome.PROMOTED
    assert report.change_ticket == "CHG1"
    dev = report.stages[0]
    assert dev.manifest == StageManifest(hash="abc123", size=4, location=None)
    assert [i.outcome for i in dev.waves[0].instances] == ["SUCCEEDED", "SUCCEEDED"]
    assert headline(report) == "PROMOTED: every stage of demo passed its gate. Change ticket: CHG1."
    markdown = render_markdown(report)
    assert "| i-2 | AMAZON_LINUX_2023 | SUCCEEDED | Success | yes | no | c-1 |" in markdown
    assert "Pinned manifest: abc123 (4 patches)" in markdown
    page = render_html(report)
    assert "<td>i-1</td>" in page and "PROMOTED" in page


def test_a_retried_wave_is_listed_once_with_its_last_try_s_result_and_counted_once():
    records = _records(blocked=True)
    first_try = {**records[3], "at": "2026-11-28T10:00:09.000000Z", "instances": [{**row, "outcome": "TIMED_OUT", "status_details": "InProgress"} for row in records[3]["instances"]]}
    records = [*records[:3], first_try, *records[3:]]
    del records[-2]  # no stage verdict: the stage's counts come from its waves
    report = build_report(records)
    (dev, _) = report.stages
    assert [(w.wave, [i.outcome for i in w.instances]) for w in dev.waves] == [(1, ["SUCCEEDED", "FAILED"])]
    assert (dev.counts["targets"], dev.counts["succeeded"], dev.counts["failed"]) == (2, 1, 1)


LATE = ("scheduled for Sun 29 Nov 02:00 Europe/Berlin, started 3 days 4 hours late (limit 1 hour); nothing patched — "
        "the next scheduled run is Wed 09 Dec 02:00 (dev)")


def test_a_scheduled_run_that_started_too_late_reads_as_skipped_with_why_and_nothing_reached():
    records = [
        {"kind": "run_started", "at": "2026-12-02T05:00:00.000000Z", "dag_id": "rollout_monthly", "run_id": "scheduled__2026-11-29T01:00:00+00:00",
         "plan": "monthly", "stages": ["prod"], "all_stages": ["dev", "test", "prod"], "dry_run": False, "change_ticket": "", "params": {}},
        {"kind": "run_finished", "at": "2026-12-02T05:00:01.000000Z", "dag_id": "rollout_monthly", "run_id": "scheduled__2026-11-29T01:00:00+00:00",
         "outcome": "skipped", "blocking_stage": None, "reason": LATE},
    ]
    report = build_report(records)
    assert (report.outcome, report.reason, [(s.name, s.state) for s in report.stages]) == (RunOutcome.SKIPPED, LATE, [("prod", StageState.NOT_STARTED)])
    assert headline(report) == f"SKIPPED: {LATE}"
    assert (report.to_json()["outcome"], Report.from_json(report.to_json()) == report) == ("skipped", True)
    assert f"**SKIPPED: {LATE}**" in render_markdown(report)


def test_html_escapes_values_from_the_fleet():
    records = _records(blocked=True)
    records[3]["instances"][0]["status_details"] = "<script>x</script>"
    assert "<script>x</script>" not in render_html(build_report(records))


def test_a_pinned_stage_names_the_manifest_it_installed_and_the_drift_it_held_back():
    report = build_report(_records(blocked=False))
    test = report.stages[1]
    assert test.pinned_to == Pin(stage="dev", hash="abc123")
    for rendered in (render_markdown(report), render_html(report)):
        assert "Installed only the manifest of stage dev: abc123" in rendered
        assert "Drift on AMAZON_LINUX_2023 (approved here, not in the manifest, not installed): curl.x86_64" in rendered


def _with_drift_read(drift_read: dict | None) -> list[dict]:
    """_records(blocked=False), its drift record saying what it read (None: a record from before it said so)."""
    records = _records(blocked=False)
    if drift_read is not None:
        next(r for r in records if r["kind"] == "drift")["drift_read"] = drift_read
    return records


DRIFT = "Drift on AMAZON_LINUX_2023 (approved here, not in the manifest, not installed): curl.x86_64"


@pytest.mark.parametrize(
    "drift_read, sentence",
    [
        pytest.param(None, DRIFT, id="record-from-before-it-said-what-it-read"),
        pytest.param({"AMAZON_LINUX_2023": [3, 3]}, DRIFT, id="every-node-read"),
        pytest.param({"AMAZON_LINUX_2023": [50, 45000], "WINDOWS": [2, 2]}, DRIFT + " (read from 50 of 45,000 AMAZON_LINUX_2023 nodes)", id="a-sample-read"),
    ],
)
def test_the_drift_sentence_says_when_it_was_read_from_a_sample_of_the_nodes(drift_read, sentence):
    report = build_report(_with_drift_read(drift_read))
    test = report.stages[1]
    assert [fact for fact in stage_facts(test) if fact.startswith("Drift")] == [sentence]
    assert f"\n{sentence}\n" in render_markdown(report)
    assert f"<p>{sentence}</p>" in render_html(report)


def test_report_json_carries_what_the_drift_report_read_only_when_its_record_says():
    stages = build_report(_with_drift_read({"AMAZON_LINUX_2023": [50, 45000]})).to_json()["stages"]
    assert [stage.get("drift_read") for stage in stages] == [None, {"AMAZON_LINUX_2023": [50, 45000]}]
    assert [stage.get("drift_read") for stage in build_report(_with_drift_read(None)).to_json()["stages"]] == [None, None]


def test_the_html_report_carries_the_blocking_reasons_per_stage_and_wave():
    html_report = render_html(build_report(_records(blocked=True)))
    assert "<p class='block'>Gate: BLOCK</p>" in html_report
    assert html_report.count("<li>1 of 2 instances failed (50.0%), above the limit of 0</li>") == 2
    assert "<td>i-2</td><td>AMAZON_LINUX_2023</td><td>FAILED</td><td>Failed</td><td>no</td><td>no</td><td>c-1</td>" in html_report


def test_a_run_that_recorded_its_pins_is_never_second_guessed_from_storage_keys():
    records = _records(blocked=False)
    for record in records:
        if record["kind"] == "command_sent":
            record["pinned_to"] = None  # what a run writes for a stage it did not pin
    report = build_report(records)
    assert (report.pins_recorded, [s.pinned_to for s in report.stages]) == (True, [None, None])


def test_a_run_recorded_before_pins_were_recorded_is_read_from_its_override_list_keys():
    report = build_report(_records(blocked=False))
    assert (report.pins_recorded, [s.pinned_to for s in report.stages]) == (False, [None, Pin(stage="dev", hash="abc123")])


# --------------------------------------------------------------------------- report.json

RUN = {"dag_id": "rollout_demo", "run_id": "scheduled__2026-12-01T02:00:00+00:00"}
LEDGER = "s3://ledger/runs/rollout_demo/scheduled__2026-12-01T02:00:00+00:00"
HASH = "9f2c4e0b7d1a5c3e"
THRESHOLDS = {"unreachable_counts_as_failed": True, "not_dispatched_counts_as_failed": True, "min_targets": 1, "max_pending_reboot": None, "min_compliant_percent": None}
DEV_VERDICT = {
    "passed": True, "reasons": ["passed: 2 of 3 instances succeeded, 0 counted as failed (limit 50%)"],
    "counts": {"targets": 3, "succeeded": 2, "failed": 0, "timed_out": 0, "unreachable": 1, "not_dispatched": 0, "cancelled": 0, "in_progress": 0,
               "compliant": 2, "compliance_unknown": 1, "pending_reboot": 0, "counted_as_failed": 0},
    "thresholds": {**THRESHOLDS, "max_failed": "50%", "unreachable_counts_as_failed": False},
}
TEST_VERDICT = {
    "passed": True, "reasons": ["passed: 1 of 1 instances succeeded, 0 counted as failed (limit 0)"],
    "counts": {"targets": 1, "succeeded": 1, "failed": 0, "timed_out": 0, "unreachable": 0, "not_dispatched": 0, "cancelled": 0, "in_progress": 0,
               "compliant": 0, "compliance_unknown": 0, "pending_reboot": 0, "counted_as_failed": 0},
    "thresholds": {**THRESHOLDS, "max_failed": "0"},
}


def _row(instance_id: str, outcome: str, details: str, command_id: str, **judged) -> dict:
    """A wave row as WaveRow.to_json writes it; `judged` are the fields only a pinned stage's rows carry."""
    return {"instance_id": instance_id, "operating_system": "UBUNTU", "outcome": outcome, "status_details": details, "compliant": outcome == "SUCCEEDED",
            "pending_reboot": False, "missing": 0, "failed_patches": 0, "command_id": command_id, **judged}


def records_of_a_pinned_run_that_failed() -> list[dict]:
    """dev promoted with an offline node; test pinned to dev's manifest, a version moved on, then SSM stopped answering; prod never reached."""
    return [
        {**RUN, "kind": "run_started", "at": "2026-12-01T02:00:00.000001Z", "plan": "demo", "stages": ["dev", "test", "prod"], "all_stages": ["dev", "test", "prod"],
         "dry_run": False, "change_ticket": "CHG-7", "params": {"stages": ["dev", "test", "prod"], "dry_run": False, "change_ticket": "CHG-7"}},
        {**RUN, "kind": "preflight", "at": "2026-12-01T02:00:01.000000Z", "stage": "dev", "patch_group": "dev",
         "targets": [{"instance_id": "i-1", "operating_system": "UBUNTU", "ping_status": "Online"}, {"instance_id": "i-2", "operating_system": "UBUNTU", "ping_status": "Online"},
                     {"instance_id": "i-3", "operating_system": "UBUNTU", "ping_status": "ConnectionLost"}],
         "offline": ["i-3"], "baselines": {"UBUNTU": "pb-dev-ubuntu", "WINDOWS": None}, "default_baselines": {"WINDOWS": "AWS-DefaultPatchBaseline"}},
        {**RUN, "kind": "command_sent", "at": "2026-12-01T02:00:02.000000Z", "stage": "dev", "wave": 1, "operation": "Install", "command_ids": ["c-dev-1"], "instance_count": 3,
         "not_sent": ["i-3"], "reattached": [], "comments": ["patchflow 1a2b3c4d5e6f dev I1"], "install_override_lists": [], "pinned_to": None, "nothing_new_for": []},
        {**RUN, "kind": "wave_result", "at": "2026-12-01T02:05:00.000000Z", "stage": "dev", "wave": 1, "operation": "Install", "command_ids": ["c-dev-1"],
         "instances": [_row("i-1", "SUCCEEDED", "Success", "c-dev-1"), _row("i-2", "SUCCEEDED", "Success", "c-dev-1"),
                       {**_row("i-3", "UNREACHABLE", "NotSent: agent ConnectionLost at preflight", ""), "compliant": None}],
         "verdict": DEV_VERDICT, "started_at": "2026-12-01T02:00:02.000000+00:00", "finished_at": "2026-12-01T02:05:00.000000+00:00"},
        {**RUN, "kind": "stage_verdict", "at": "2026-12-01T02:05:01.000000Z", "stage": "dev", "verdict": DEV_VERDICT},
        {**RUN, "kind": "manifest", "at": "2026-12-01T02:05:02.000000Z", "stage": "dev", "content_hash": HASH, "size": 3, "location": f"{LEDGER}/manifest/dev/manifest.json",
         "override_lists": {"UBUNTU": f"{LEDGER}/manifest/dev/UBUNTU.yaml"}, "nothing_new_for": ["WINDOWS"], "without_scan_evidence": []},
        {**RUN, "kind": "preflight", "at": "2026-12-01T02:06:00.000000Z", "stage": "test", "patch_group": "test",
         "targets": [{"instance_id": "i-4", "operating_system": "UBUNTU", "ping_status": "Online"}, {"instance_id": "i-5", "operating_system": "UBUNTU", "ping_status": "Online"}],
         "offline": [], "baselines": {"UBUNTU": "pb-test-ubuntu"}, "default_baselines": {}},
        {**RUN, "kind": "drift", "at": "2026-12-01T02:06:30.000000Z", "stage": "test", "drift": {"UBUNTU": ["openssl", "libssl3"], "WINDOWS": []}},
        {**RUN, "kind": "command_sent", "at": "2026-12-01T02:07:00.000000Z", "stage": "test", "wave": 1, "operation": "Install", "command_ids": ["c-test-1"], "instance_count": 1,
         "not_sent": [], "reattached": [], "comments": ["patchflow 1a2b3c4d5e6f test I1"], "install_override_lists": [f"{LEDGER}/manifest/dev/UBUNTU.yaml"],
         "pinned_to": {"stage": "dev", "hash": HASH}, "nothing_new_for": ["WINDOWS"]},
        {**RUN, "kind": "wave_result", "at": "2026-12-01T02:10:00.000000Z", "stage": "test", "wave": 1, "operation": "Install", "command_ids": ["c-test-1"],
         "instances": [_row("i-4", "SUCCEEDED", "Success", "c-test-1", not_installed=["curl"], drift=2,
                            moved_on=[{"id": "curl", "pinned_title": "curl 8.5.0-2ubuntu10.1", "offered_title": "curl 8.5.0-2ubuntu10.2"}])],
         "verdict": TEST_VERDICT, "started_at": "2026-12-01T02:07:00.000000+00:00", "finished_at": "2026-12-01T02:10:00.000000+00:00"},
        {**RUN, "kind": "command_sent", "at": "2026-12-01T02:10:05.000000Z", "stage": "test", "wave": 2, "operation": "Install", "command_ids": ["c-test-2"], "instance_count": 1,
         "not_sent": [], "reattached": [], "comments": ["patchflow 1a2b3c4d5e6f test I2"], "install_override_lists": [f"{LEDGER}/manifest/dev/UBUNTU.yaml"],
         "pinned_to": {"stage": "dev", "hash": HASH}, "nothing_new_for": ["WINDOWS"]},
        {**RUN, "kind": "stage_failed", "at": "2026-12-01T02:40:05.000000Z", "stage": "test", "wave": 2, "reason": "SSM stopped answering while waiting on c-test-2", "command_ids": ["c-test-2"]},
        {**RUN, "kind": "run_finished", "at": "2026-12-01T02:40:06.000000Z", "outcome": "failed", "blocking_stage": "test", "reason": "SSM stopped answering while waiting on c-test-2"},
    ]


# report.json of the run above, as the report wrote it before it was a typed record (and must go on writing it).
PINNED_RUN_THAT_FAILED_JSON = {
    "plan": "demo", "dag_id": "rollout_demo", "run_id": "scheduled__2026-12-01T02:00:00+00:00", "dry_run": False, "change_ticket": "CHG-7",
    "started_at": "2026-12-01T02:00:00.000001Z", "finished_at": "2026-12-01T02:40:06.000000Z",
    "outcome": "failed", "blocking_stage": "test", "reason": "SSM stopped answering while waiting on c-test-2", "pins_recorded": True,
    "stages": [
        {
            "name": "dev", "patch_group": "dev", "state": "promoted", "targets": 3, "offline": ["i-3"],
            "baselines": {"UBUNTU": "pb-dev-ubuntu", "WINDOWS": None}, "default_baselines": {"WINDOWS": "AWS-DefaultPatchBaseline"}, "command_ids": ["c-dev-1"],
            "waves": [{
                "wave": 1, "operation": "Install", "command_ids": ["c-dev-1"], "targets": 3,
                "counts": {"targets": 3, "succeeded": 2, "failed": 0, "timed_out": 0, "unreachable": 1, "not_dispatched": 0, "cancelled": 0, "in_progress": 0,
                           "compliant": 2, "compliance_unknown": 1, "pending_reboot": 0, "counted_as_failed": 0},
                "verdict": {"passed": True, "reasons": ["passed: 2 of 3 instances succeeded, 0 counted as failed (limit 50%)"]},
                "instances": [
                    {"instance_id": "i-1", "operating_system": "UBUNTU", "outcome": "SUCCEEDED", "status_details": "Success", "compliant": True,
                     "pending_reboot": False, "missing": 0, "failed_patches": 0, "command_id": "c-dev-1"},
                    {"instance_id": "i-2", "operating_system": "UBUNTU", "outcome": "SUCCEEDED", "status_details": "Success", "compliant": True,
                     "pending_reboot": False, "missing": 0, "failed_patches": 0, "command_id": "c-dev-1"},
                    {"instance_id": "i-3", "operating_system": "UBUNTU", "outcome": "UNREACHABLE", "status_details": "NotSent: agent ConnectionLost at preflight",
                     "compliant": None, "pending_reboot": False, "missing": 0, "failed_patches": 0, "command_id": ""},
                ],
                "started_at": "2026-12-01T02:00:02.000000+00:00", "finished_at": "2026-12-01T02:05:00.000000+00:00",
            }],
            "counts": {"targets": 3, "succeeded": 2, "failed": 0, "timed_out": 0, "unreachable": 1, "not_dispatched": 0, "cancelled": 0, "in_progress": 0,
                       "compliant": 2, "compliance_unknown": 1, "pending_reboot": 0, "counted_as_failed": 0},
            "verdict": {"passed": True, "reasons": ["passed: 2 of 3 instances succeeded, 0 counted as failed (limit 50%)"]},
            "manifest": {"hash": "9f2c4e0b7d1a5c3e", "size": 3, "location": "s3://ledger/runs/rollout_demo/scheduled__2026-12-01T02:00:00+00:00/manifest/dev/manifest.json"},
            "drift": {}, "install_override_lists": [], "pinned_to": None, "nothing_new_for": [], "not_sent": ["i-3"], "moved_on": {},
        },
        {
            "name": "test", "patch_group": "test", "state": "failed", "targets": 2, "offline": [],
            "baselines": {"UBUNTU": "pb-test-ubuntu"}, "default_baselines": {}, "command_ids": ["c-test-1", "c-test-2"],
            "waves": [{
                "wave": 1, "operation": "Install", "command_ids": ["c-test-1"], "targets": 1,
                "counts": {"targets": 1, "succeeded": 1, "failed": 0, "timed_out": 0, "unreachable": 0, "not_dispatched": 0, "cancelled": 0, "in_progress": 0,
                           "compliant": 0, "compliance_unknown": 0, "pending_reboot": 0, "counted_as_failed": 0},
                "verdict": {"passed": True, "reasons": ["passed: 1 of 1 instances succeeded, 0 counted as failed (limit 0)"]},
                "instances": [
                    {"instance_id": "i-4", "operating_system": "UBUNTU", "outcome": "SUCCEEDED", "status_details": "Success", "compliant": True,
                     "pending_reboot": False, "missing": 0, "failed_patches": 0, "command_id": "c-test-1", "not_installed": ["curl"], "drift": 2,
                     "moved_on": [{"id": "curl", "pinned_title": "curl 8.5.0-2ubuntu10.1", "offered_title": "curl 8.5.0-2ubuntu10.2"}]},
                ],
                "started_at": "2026-12-01T02:07:00.000000+00:00", "finished_at": "2026-12-01T02:10:00.000000+00:00",
            }],
            # No stage verdict (SSM stopped answering): the waves' counts added up, zeros left out.
            "counts": {"targets": 1, "succeeded": 1},
            "verdict": None, "manifest": None,
            "drift": {"UBUNTU": ["openssl", "libssl3"], "WINDOWS": []},
            "install_override_lists": ["s3://ledger/runs/rollout_demo/scheduled__2026-12-01T02:00:00+00:00/manifest/dev/UBUNTU.yaml"],
            "pinned_to": {"stage": "dev", "hash": "9f2c4e0b7d1a5c3e"}, "nothing_new_for": ["WINDOWS"], "not_sent": [],
            "moved_on": {"curl": {"id": "curl", "pinned_title": "curl 8.5.0-2ubuntu10.1", "offered_title": "curl 8.5.0-2ubuntu10.2", "instances": ["i-4"]}},
            "error": "SSM stopped answering while waiting on c-test-2",
        },
        {
            "name": "prod", "patch_group": "", "state": "not started", "targets": 0, "offline": [], "baselines": {}, "default_baselines": {}, "command_ids": [],
            "waves": [], "counts": {}, "verdict": None, "manifest": None, "drift": {}, "install_override_lists": [], "pinned_to": None,
            "nothing_new_for": [], "not_sent": [], "moved_on": {},
        },
    ],
}

# report.json of _records(blocked=False): a run from before command_sent recorded pinned_to, its pin read from the override list's key.
PROMOTED_BEFORE_PINS_WERE_RECORDED_JSON = {
    "plan": "demo", "dag_id": "rollout_demo", "run_id": "r1", "dry_run": False, "change_ticket": "CHG1",
    "started_at": "2026-11-28T10:00:00.000000Z", "finished_at": "2026-11-28T10:00:21.000000Z",
    "outcome": "promoted", "blocking_stage": None, "reason": "", "pins_recorded": False,
    "stages": [
        {
            "name": "dev", "patch_group": "dev", "state": "promoted", "targets": 2, "offline": [],
            "baselines": {"AMAZON_LINUX_2023": "pb-1"}, "default_baselines": {}, "command_ids": ["c-1"],
            "waves": [{
                "wave": 1, "operation": "Install", "command_ids": ["c-1"], "targets": 2,
                "counts": {"targets": 2, "succeeded": 2, "failed": 0, "timed_out": 0, "unreachable": 0, "not_dispatched": 0},
                "verdict": {"passed": True, "reasons": ["2 of 2 succeeded"]},
                "instances": [
                    {"instance_id": "i-1", "operating_system": "AMAZON_LINUX_2023", "outcome": "SUCCEEDED", "status_details": "Success", "compliant": True, "pending_reboot": False, "command_id": "c-1"},
                    {"instance_id": "i-2", "operating_system": "AMAZON_LINUX_2023", "outcome": "SUCCEEDED", "status_details": "Success", "compliant": True, "pending_reboot": False, "command_id": "c-1"},
                ],
                "started_at": "a", "finished_at": "b",
            }],
            "counts": {"targets": 2, "succeeded": 2, "failed": 0, "timed_out": 0, "unreachable": 0, "not_dispatched": 0},
            "verdict": {"passed": True, "reasons": ["2 of 2 succeeded"]},
            "manifest": {"hash": "abc123", "size": 4, "location": None},
            "drift": {}, "install_override_lists": [], "pinned_to": None, "nothing_new_for": [], "not_sent": [], "moved_on": {},
        },
        {
            "name": "test", "patch_group": "", "state": "promoted", "targets": 0, "offline": [], "baselines": {}, "default_baselines": {}, "command_ids": ["c-2"],
            "waves": [],
            "counts": {"targets": 3, "succeeded": 3, "failed": 0, "timed_out": 0, "unreachable": 0, "not_dispatched": 0},
            "verdict": {"passed": True, "reasons": ["ok"]},
            "manifest": None,
            "drift": {"AMAZON_LINUX_2023": ["curl.x86_64"]},
            "install_override_lists": ["s3://ledger/runs/rollout_demo/r1/manifest/dev/AMAZON_LINUX_2023.yaml"],
            "pinned_to": {"stage": "dev", "hash": "abc123"}, "nothing_new_for": [], "not_sent": [], "moved_on": {},
        },
    ],
}


@pytest.mark.parametrize(
    "records, expected",
    [
        pytest.param(records_of_a_pinned_run_that_failed, PINNED_RUN_THAT_FAILED_JSON, id="pinned-run-that-failed"),
        pytest.param(lambda: _records(blocked=False), PROMOTED_BEFORE_PINS_WERE_RECORDED_JSON, id="promoted-before-pins-were-recorded"),
    ],
)
def test_report_json_is_what_the_report_always_wrote(records, expected):
    assert build_report(records()).to_json() == expected


def test_the_typed_report_of_a_pinned_run_that_failed():
    report = build_report(records_of_a_pinned_run_that_failed())
    dev, test, prod = report.stages
    assert (report.outcome, report.blocking_stage, report.pins_recorded) == (RunOutcome.FAILED, "test", True)
    assert (dev.state, dev.offline, dev.not_sent, dev.default_baselines) == (StageState.PROMOTED, ("i-3",), ("i-3",), {"WINDOWS": "AWS-DefaultPatchBaseline"})
    assert dev.waves[0].instances[2] == InstanceRow({**_row("i-3", "UNREACHABLE", "NotSent: agent ConnectionLost at preflight", ""), "compliant": None})
    assert (test.state, test.error, test.verdict, test.command_ids) == (StageState.FAILED, "SSM stopped answering while waiting on c-test-2", None, ("c-test-1", "c-test-2"))
    assert (test.pinned_to, test.nothing_new_for) == (Pin("dev", HASH), ("WINDOWS",))
    assert test.moved_on == {"curl": MovedOn("curl", "curl 8.5.0-2ubuntu10.1", "curl 8.5.0-2ubuntu10.2", ("i-4",))}
    assert test.drift == {"UBUNTU": ("openssl", "libssl3"), "WINDOWS": ()}
    assert prod == Stage("prod")


@pytest.mark.parametrize(
    "records",
    [
        pytest.param(records_of_a_pinned_run_that_failed, id="pinned-run-that-failed"),
        pytest.param(lambda: _records(blocked=False), id="promoted-before-pins-were-recorded"),
        pytest.param(lambda: _with_drift_read({"AMAZON_LINUX_2023": [50, 45000]}), id="drift-read-from-a-sample"),
        pytest.param(lambda: _records(blocked=True), id="blocked"),
        pytest.param(lambda: _records(blocked=True)[:3], id="still-running"),
        pytest.param(list, id="no-records"),
    ],
)
def test_a_stored_report_json_reads_back_as_the_same_report(records):
    report = build_report(records())
    assert Report.from_json(json.loads(json.dumps(report.to_json()))) == report


def test_a_report_json_from_before_the_later_fields_reads_with_their_defaults():
    stored = build_report(_records(blocked=True)).to_json()
    del stored["pins_recorded"]
    for stage in stored["stages"]:
        for later in ("default_baselines", "install_override_lists", "pinned_to", "nothing_new_for", "not_sent", "moved_on"):
            del stage[later]
    assert Report.from_json(stored) == build_report(_records(blocked=True))


def _stored(change) -> dict:
    """report.json of the pinned run that failed, with one change made to it."""
    stored = json.loads(json.dumps(PINNED_RUN_THAT_FAILED_JSON))
    change(stored)
    return stored


@pytest.mark.parametrize(
    "stored, problems",
    [
        pytest.param(["not", "a", "report"], ["report.json: expected a mapping, got a list"], id="not-a-mapping"),
        pytest.param(_stored(lambda r: r.pop("outcome")),
                     ["report.json: outcome: expected one of 'running', 'promoted', 'blocked', 'failed', 'skipped', 'dry_run', got nothing"], id="no-outcome"),
        pytest.param(_stored(lambda r: r.update(dry_run="no", stages={})),
                     ["report.json: dry_run: expected true or false, got 'no'", "report.json: stages: expected a list, got a mapping"], id="every-problem-in-file-order"),
        pytest.param(_stored(lambda r: r["stages"].__setitem__(2, "prod")), ["report.json: stages[2]: expected a mapping, got 'prod'"], id="stage-not-a-mapping"),
        pytest.param(_stored(lambda r: r["stages"][2].update(state="skipped")),
                     ["report.json: stages[2].state: expected one of 'not started', 'running', 'promoted', 'blocked', 'failed', 'scanned', got 'skipped'"], id="unknown-stage-state"),
        pytest.param(_stored(lambda r: r["stages"][0]["waves"][0]["instances"][1].update(compliant="yes")),
                     ["report.json: stages[0].waves[0].instances[1].compliant: expected true, false or null, got 'yes'"], id="instance-row-field"),
        pytest.param(_stored(lambda r: r["stages"][1]["moved_on"]["curl"].pop("offered_title")),
                     ["report.json: stages[1].moved_on.curl.offered_title: expected text, got nothing"], id="moved-on-without-the-offered-version"),
        pytest.param(_stored(lambda r: r["stages"][1]["pinned_to"].update(hash=None)),
                     ["report.json: stages[1].pinned_to.hash: expected text, got None"], id="pin-without-a-hash"),
        pytest.param(_stored(lambda r: r["stages"][0]["counts"].update(succeeded="2")),
                     ["report.json: stages[0].counts: expected a mapping of integers, got a mapping"], id="count-not-an-integer"),
        pytest.param(_stored(lambda r: r["stages"][1].update(drift_read={"UBUNTU": [50]})),
                     ["report.json: stages[1].drift_read: expected a mapping of [listed, of] pairs of integers, got a mapping"], id="drift-read-not-a-pair"),
    ],
)
def test_a_report_json_of_another_shape_is_refused_naming_each_field(stored, problems):
    with pytest.raises(InvalidInput) as refused:
        Report.from_json(stored)
    assert [str(p) for p in refused.value.problems] == problems


def test_a_refusal_names_the_file_it_was_read_from():
    with pytest.raises(InvalidInput) as refused:
        Report.from_json({}, source="s3://ledger/runs/rollout_demo/r1/report.json")
    assert str(refused.value).splitlines()[:2] == [
        "s3://ledger/runs/rollout_demo/r1/report.json: plan: expected text, got nothing",
        "s3://ledger/runs/rollout_demo/r1/report.json: dag_id: expected text, got nothing",
    ]


def test_renderers_read_a_typed_report_built_by_hand():
    wave = Wave(1, command_ids=("c-9",), targets=1, verdict=Verdict(False, ("1 of 1 instances failed",)),
                instances=(InstanceRow({"instance_id": "i-9", "outcome": "FAILED"}),))
    report = Report(plan="demo", outcome=RunOutcome.BLOCKED, blocking_stage="dev", reason="gate: 1 of 1 instances failed",
                    stages=(Stage("dev", state=StageState.BLOCKED, counts={"targets": 1, "failed": 1}, verdict=Verdict(False, ("1 of 1 instances failed",)), waves=(wave,)),))
    assert summary_table(report).splitlines()[2] == "dev    -      1        0          1       0            BLOCK  -"
    assert "| i-9 | - | FAILED |  | - | - |  |" in render_markdown(report)
    assert "<td>i-9</td><td>-</td><td>FAILED</td><td></td><td>-</td><td>-</td><td></td>" in render_html(report)
