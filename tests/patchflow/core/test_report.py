from __future__ import annotations

from patchflow.core.report import build_report, headline, render_html, render_markdown, summary_table


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
    assert report["outcome"] == "blocked"
    assert [(s["name"], s["state"]) for s in report["stages"]] == [("dev", "blocked"), ("test", "not started")]
    assert headline(report) == "BLOCKED at stage dev: gate: 1 of 2 instances failed (50.0%), above the limit of 0"
    assert summary_table(report) == (
        "stage  group  targets  succeeded  failed  unreachable  gate   commands\n"
        "-----  -----  -------  ---------  ------  -----------  -----  --------\n"
        "dev    dev    2        1          1       0            BLOCK  c-1\n"
        "test   -      0        0          0       0            -      -"
    )


def test_promoted_run_report_carries_manifest_and_per_instance_outcomes():
    report = build_report(_records(blocked=False))
    assert report["outcome"] == "promoted"
    assert report["change_ticket"] == "CHG1"
    dev = report["stages"][0]
    assert dev["manifest"] == {"hash": "abc123", "size": 4, "location": None}
    assert [i["outcome"] for i in dev["waves"][0]["instances"]] == ["SUCCEEDED", "SUCCEEDED"]
    assert headline(report) == "PROMOTED: every stage of demo passed its gate."
    markdown = render_markdown(report)
    assert "| i-2 | AMAZON_LINUX_2023 | SUCCEEDED | Success | yes | no | c-1 |" in markdown
    assert "Pinned manifest: abc123 (4 patches)" in markdown
    page = render_html(report)
    assert "<td>i-1</td>" in page and "PROMOTED" in page


def test_html_escapes_values_from_the_fleet():
    records = _records(blocked=True)
    records[3]["instances"][0]["status_details"] = "<script>x</script>"
    assert "<script>x</script>" not in render_html(build_report(records))


def test_a_pinned_stage_names_the_manifest_it_installed_and_the_drift_it_held_back():
    report = build_report(_records(blocked=False))
    test = report["stages"][1]
    assert test["pinned_to"] == {"stage": "dev", "hash": "abc123"}
    for rendered in (render_markdown(report), render_html(report)):
        assert "Installed only the manifest of stage dev: abc123" in rendered
        assert "Drift on AMAZON_LINUX_2023 (approved here, not in the manifest, not installed): curl.x86_64" in rendered


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
    assert (report["pins_recorded"], [s["pinned_to"] for s in report["stages"]]) == (True, [None, None])


def test_a_run_recorded_before_pins_were_recorded_is_read_from_its_override_list_keys():
    report = build_report(_records(blocked=False))
    assert (report["pins_recorded"], [s["pinned_to"] for s in report["stages"]]) == (False, [None, {"stage": "dev", "hash": "abc123"}])
