"""A stage in several accounts and Regions: the report names where every stage, wave and instance ran."""
from __future__ import annotations

from patchflow.core.report import build_report, summary_table
from patchflow.core.report_records import Report

PROD = "333333333333"
WEST = {"account": PROD, "account_alias": "prod", "region": "eu-west-1"}
CENTRAL = {"account": PROD, "account_alias": "prod", "region": "eu-central-1"}


def record(kind: str, at: str, **fields) -> dict:
    return {"kind": kind, "at": f"2026-12-02T10:00:{at}Z", "dag_id": "rollout_multi_account", "run_id": "manual__1", **fields}


def row(instance_id: str, outcome: str = "succeeded") -> dict:
    return {"instance_id": instance_id, "operating_system": "WINDOWS", "outcome": outcome, "status_details": "Success", "compliant": True,
            "pending_reboot": False, "command_id": "c"}


def verdict(passed: bool, reasons: list[str], targets: int) -> dict:
    return {"passed": passed, "reasons": reasons, "counts": {"targets": targets, "succeeded": targets}, "thresholds": {}}


RECORDS = [
    record("run_started", "00", plan="multi-account", stages=["prod"], all_stages=["prod"], dry_run=False, change_ticket="", params={}),
    record("preflight", "01", stage="prod", patch_group="prod", targets=[{"instance_id": "i-w1"}, {"instance_id": "i-w2"}], offline=[], **WEST),
    record("wave_result", "02", stage="prod", wave=1, operation="Install", command_ids=["c1"], instances=[row("i-w1"), row("i-w2")],
           verdict=verdict(True, ["passed"], 2), **WEST),
    record("stage_verdict", "03", stage="prod", verdict=verdict(True, ["passed"], 2), **WEST),
    record("preflight", "04", stage="prod", patch_group="prod", targets=[{"instance_id": "i-c1"}], offline=["i-c1"], **CENTRAL),
    record("wave_result", "05", stage="prod", wave=1, operation="Install", command_ids=["c2"], instances=[row("i-c1")],
           verdict=verdict(True, ["passed"], 1), **CENTRAL),
    record("stage_verdict", "06", stage="prod", verdict=verdict(True, ["passed"], 1), **CENTRAL),
    record("stage_verdict", "07", stage="prod", verdict=verdict(True, ["all 2 accounts and Regions together: passed"], 3)),
    record("run_finished", "08", outcome="promoted", blocking_stage=None, reason=""),
]


def test_the_report_names_the_account_and_region_of_every_scope_wave_and_instance():
    report = build_report(RECORDS)
    stage = report.to_json()["stages"][0]
    assert (stage["targets"], stage["offline"], stage["scopes"], [(w["account"], w["region"], [(r["instance_id"], r["region"]) for r in w["instances"]])
                                                                  for w in stage["waves"]], stage["verdict"]["reasons"]) == (
        3, ["i-c1"],
        [{**WEST, "targets": 2, "verdict": {"passed": True, "reasons": ["passed"]}},
         {**CENTRAL, "targets": 1, "verdict": {"passed": True, "reasons": ["passed"]}}],
        [(PROD, "eu-west-1", [("i-w1", "eu-west-1"), ("i-w2", "eu-west-1")]), (PROD, "eu-central-1", [("i-c1", "eu-central-1")])],
        ["all 2 accounts and Regions together: passed"],
    )


def test_a_stored_report_with_scopes_reads_back_as_written():
    written = build_report(RECORDS).to_json()
    assert Report.from_json(written).to_json() == written


def test_the_summary_says_where_each_stage_ran():
    assert summary_table(build_report(RECORDS)).splitlines()[:3] == [
        "stage  group  where                              targets  succeeded  failed  unreachable  gate  commands",
        "-----  -----  ---------------------------------  -------  ---------  ------  -----------  ----  --------",
        "prod   prod   prod eu-west-1, prod eu-central-1  3        3          0       0            PASS  -",
    ]
