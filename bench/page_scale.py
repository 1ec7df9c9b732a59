"""The report and the Patch rollouts page of a 100,000-instance run: size and time of each. One command prints a table.

    .venv/bin/python bench/page_scale.py [--repeats 3] [--runs 1 5] [--no-doc]

Builds the ledger records of one promoted run over dev (2,000 instances, one
wave), test (8,000, two waves) and prod (90,000, waves of 9,000, 27,000 and
54,000), a few hundred nodes failed, timed out, unreachable or not dispatched,
shaped like the records the operators write (patchflow.core.ledger_records):
a preflight with every target, a command_sent per wave with one command per 50
instance ids, a wave_result per wave with every row, the gate's verdicts. No
Airflow, no fleet. Then it times what the finish task writes (report.json,
report.md, report.html, instances.csv, page.json) and what a load of the Patch
rollouts page does with that run: read its report.json back, build the page
model (with the run's three patch groups, 100,000 members, as the fleet read
them) and render the page. Last, a page load listing `--runs` such runs from a
file ledger, as the page's app reads it (gather.read_ledgers, the model, the
HTML), once with each run's page.json and once with report.json alone (runs
finished before runs wrote page.json); the two pages must be identical. Times
are medians of several runs. Target: a page load in under 2 s.
"""
from __future__ import annotations

import argparse
import gc
import json
import random
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parents[1] / "plugins"), str(Path(__file__).resolve().parent)]

import report_doc  # noqa: E402
from patchflow.core.report import build_report, render_html, render_markdown  # noqa: E402
from patchflow.aws.ledger import RunLedger, open_store  # noqa: E402
from patchflow.core.report_instances import instances_csv  # noqa: E402
from patchflow.core.report_page import PAGE_JSON, page_json, read_page_json  # noqa: E402
from patchflow.core.report_records import Report  # noqa: E402
from patchflow.ui import gather  # noqa: E402
from patchflow.ui.model import build_page  # noqa: E402
from patchflow.ui.render import render_page  # noqa: E402

PAGE_TARGET_S = 2.0
RUN = {"dag_id": "rollout_fleet", "run_id": "scheduled__2026-12-01T02:00:00+00:00"}
PLATFORMS = ("AMAZON_LINUX_2023", "UBUNTU", "WINDOWS")
COMMAND_SIZE = 50  # instance ids per SendCommand (patchflow.aws.commands.MAX_INSTANCE_IDS_PER_COMMAND)
# stage -> its waves' sizes
STAGES = {"dev": (2_000,), "test": (4_000, 4_000), "prod": (9_000, 27_000, 54_000)}
# stage -> how many nodes failed, timed out, were unreachable (agent offline at preflight, never sent to) and not dispatched
PROBLEMS = {"dev": (12, 2, 6, 0), "test": (30, 5, 20, 5), "prod": (140, 20, 110, 20)}
DETAILS = {"succeeded": "Success", "failed": "Failed", "timed_out": "ExecutionTimedOut", "unreachable": "NotSent: agent ConnectionLost at preflight",
           "not_dispatched": "NoInvocation"}
# Measured on the same records with the report and page as they were before the lists were capped (2026-12-01).
BEFORE = {"report.md": "11.9 MB, 0.6 s", "report.html": "16.9 MB, 2.3 s", "page": "0.49 MB for this run's card (4.9 MB with ten such runs)"}


def _clock():
    ticks = iter(range(1, 10**6))
    return lambda: datetime.fromtimestamp(1_796_090_400 + next(ticks), timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _outcomes(rng: random.Random, ids: list[str], problems: tuple[int, int, int, int]) -> dict[str, str]:
    picked = iter(rng.sample(ids, sum(problems)))
    return {next(picked): outcome for outcome, count in zip(("failed", "timed_out", "unreachable", "not_dispatched"), problems) for _ in range(count)}


def _row(instance_id: str, operating_system: str, outcome: str, command_id: str) -> dict:
    row = {"instance_id": instance_id, "operating_system": operating_system, "outcome": outcome, "status_details": DETAILS[outcome],
           "compliant": {"succeeded": True, "failed": False, "timed_out": False}.get(outcome), "pending_reboot": False,
           "missing": 0 if outcome == "succeeded" else 3, "failed_patches": 2 if outcome == "failed" else 0,
           "command_id": "" if outcome in ("unreachable", "not_dispatched") else command_id}
    if outcome == "failed":
        row["failed_patch_ids"] = ["KB5034441", "openssl-libs.x86_64"]
    return row


def run_records(seed: int = 7) -> list[dict]:
    """The ledger records of one promoted dev -> test -> prod run over 100,000 instances."""
    rng, at = random.Random(seed), _clock()

    def record(kind: str, **fields) -> dict:
        return {"kind": kind, "at": at(), **RUN, **fields}

    records = [record("run_started", plan="fleet", stages=list(STAGES), all_stages=list(STAGES), dry_run=False, change_ticket="CHG-100000", params={},
                      patch_groups={stage: stage for stage in STAGES})]
    first = 0
    for stage, waves in STAGES.items():
        ids = [f"i-{first + n:017x}" for n in range(sum(waves))]
        first += len(ids)
        oses = {instance: PLATFORMS[n % len(PLATFORMS)] for n, instance in enumerate(ids)}
        outcomes = _outcomes(rng, ids, PROBLEMS[stage])
        offline = [instance for instance in ids if outcomes.get(instance) == "unreachable"]
        records.append(record("preflight", stage=stage, patch_group=stage, offline=offline, default_baselines={}, warnings=[],
                              baselines={os_name: f"pb-{stage}-{os_name.lower()}" for os_name in PLATFORMS},
                              targets=[{"instance_id": i, "operating_system": oses[i], "platform_name": oses[i], "tag_key": "Patch Group",
                                        "ping_status": "ConnectionLost" if outcomes.get(i) == "unreachable" else "Online"} for i in ids]))
        totals: dict[str, int] = {}
        start = 0
        for wave, size in enumerate(waves, 1):
            batch, start = ids[start:start + size], start + size
            commands = [f"{rng.getrandbits(128):032x}" for _ in range(-(-size // COMMAND_SIZE))]
            commands = [f"{c[:8]}-{c[8:12]}-{c[12:16]}-{c[16:20]}-{c[20:]}" for c in commands]
            records.append(record("command_sent", stage=stage, wave=wave, operation="Install", command_ids=commands, instance_count=size,
                                  not_sent=[i for i in batch if outcomes.get(i) == "unreachable"], reattached=[], comments=[],
                                  install_override_lists=[], pinned_to=None, nothing_new_for=[]))
            rows = [_row(i, oses[i], outcomes.get(i, "succeeded"), commands[n // COMMAND_SIZE]) for n, i in enumerate(batch)]
            counts = {outcome: sum(row["outcome"] == outcome for row in rows) for outcome in DETAILS}
            counts["targets"] = size
            for key, count in counts.items():
                totals[key] = totals.get(key, 0) + count
            reasons = [f"passed: {counts['succeeded']:,} of {size:,} instances succeeded, {size - counts['succeeded']:,} counted as failed (limit 2%)"]
            records.append(record("wave_result", stage=stage, wave=wave, operation="Install", command_ids=commands, instances=rows, polls=12,
                                  verdict={"passed": True, "reasons": reasons, "counts": counts, "thresholds": {}}, started_at=at(), finished_at=at()))
        records.append(record("stage_verdict", stage=stage, verdict={"passed": True, "reasons": ["passed"], "counts": totals, "thresholds": {}}))
        if stage == "dev":
            records.append(record("manifest", stage=stage, content_hash="9f2c4e0b7d1a5c3e", size=42, location="s3://ledger/runs/manifest.json"))
    records.append(record("run_finished", outcome="promoted", blocking_stage=None, reason=""))
    return records


def fleet_of(records: list[dict]) -> dict:
    """The run's patch groups as the page's fleet read finds them: every target, its patch state, its group's baselines."""
    groups = {}
    for preflight in (r for r in records if r["kind"] == "preflight"):
        offline = set(preflight["offline"])
        groups[preflight["stage"]] = {
            "members": [{"instance_id": t["instance_id"], "operating_system": t["operating_system"], "ping_status": t["ping_status"]} for t in preflight["targets"]],
            "states": {t["instance_id"]: {"MissingCount": 3 if t["instance_id"] in offline else 0, "FailedCount": 0, "OperationEndTime": "2026-12-01T03:00:00+00:00"}
                       for t in preflight["targets"]},
            "baselines": {os_name: {"id": baseline, "name": baseline, "default": False} for os_name, baseline in preflight["baselines"].items()},
        }
    return {"ok": True, "region": "eu-west-1", "registered": sorted(groups), "groups": groups}


def timed(call, repeats: int) -> tuple[float, object]:
    """Median wall time over `repeats` calls, and the last call's result."""
    times, result = [], None
    for _ in range(repeats):
        gc.collect()
        started = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def ledger_of(report: Report, count: int, directory: Path) -> tuple[str, list[Path]]:
    """A file ledger holding `count` copies of the run, each under its own run id, as the finish task leaves them (a
    record, report.json, page.json); the page.json files' paths."""
    uri, pages = f"file://{directory}/ledger", []
    for number in range(count):
        run = replace(report, run_id=f"{RUN['run_id']}-{number}")
        ledger = RunLedger(open_store(uri), run.dag_id, run.run_id)
        ledger.append("run_started", plan=run.plan, stages=list(STAGES), all_stages=list(STAGES), dry_run=False, change_ticket=run.change_ticket, params={})
        ledger.put_artifact("report.json", json.dumps(run.to_json()), "application/json")
        ledger.put_artifact(PAGE_JSON, json.dumps(page_json(run)), "application/json")
        pages.append(directory / "ledger" / ledger.run_prefix / PAGE_JSON)
    return uri, pages


def page_loads(report: Report, plan: dict, fleet: dict, now: datetime, counts: list[int], repeats: int) -> list[dict]:
    """Per count of listed runs and per file read (page.json, then report.json alone): the median times of reading the
    ledger, of the model and HTML, and the page's HTML."""
    loads = []
    with tempfile.TemporaryDirectory(prefix="page-scale-") as directory:
        uri, pages = ledger_of(report, max(counts), Path(directory))
        plans = [{**plan, "ledger_uri": uri}]
        for source in (PAGE_JSON, "report.json"):
            if source == "report.json":
                for path in pages:
                    path.unlink()
            for count in counts:
                read_s, ledger = timed(lambda: gather.read_ledgers(plans, limit=count), repeats)
                shown_s, html = timed(lambda: render_page(build_page(plans=plans, fleet=fleet, ledger=ledger, now=now)), repeats)
                loads.append({"runs": count, "source": source, "read_s": read_s, "shown_s": shown_s, "html": html, "listed": len(ledger["reports"])})
    return loads


def runs_listed(count: int) -> str:
    return f"{count} run{'s' if count != 1 else ''}"


def load_target(from_pages: dict, from_reports: dict) -> str:
    """The target line of a page load from page.json, beside the same load from report.json alone."""
    took, took_before = from_pages["read_s"] + from_pages["shown_s"], from_reports["read_s"] + from_reports["shown_s"]
    return report_doc.target_line(
        f"a page load listing {runs_listed(from_pages['runs'])} of this size under 2 s, each read from its page.json",
        took < PAGE_TARGET_S and from_pages["listed"] == from_pages["runs"],
        f"{took * 1000:.0f} ms, of which {from_pages['read_s'] * 1000:.0f} ms reading the ledger ({took_before * 1000:.0f} ms from report.json alone)")


def size(text: str) -> str:
    size_bytes = len(text.encode())
    return f"{size_bytes / 1024 / 1024:.1f} MB" if size_bytes >= 1024 * 1024 else f"{size_bytes / 1024:.0f} KB"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--runs", type=int, nargs="+", default=[1], help="time page loads listing this many such runs (e.g. --runs 1 5)")
    parser.add_argument("--no-doc", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = parser.parse_args()
    run_started = time.perf_counter()

    records = run_records()
    instances = sum(len(r["instances"]) for r in records if r["kind"] == "wave_result")
    problems = sum(row["outcome"] != "succeeded" for r in records if r["kind"] == "wave_result" for row in r["instances"])
    plan = {"name": "fleet", "dag_id": RUN["dag_id"], "ledger_uri": "s3://ledger/runs", "stages": [{"name": s, "patch_group": s, "pin_to": None} for s in STAGES]}
    fleet, now = fleet_of(records), datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)

    build_s, report = timed(lambda: build_report(records), args.repeats)
    json_s, stored = timed(lambda: json.dumps(report.to_json()), args.repeats)
    markdown_s, markdown = timed(lambda: render_markdown(report), args.repeats)
    html_s, html = timed(lambda: render_html(report), args.repeats)
    csv_s, rows = timed(lambda: instances_csv(report), args.repeats)
    page_json_s, page_stored = timed(lambda: json.dumps(page_json(report)), args.repeats)
    read_s, read_back = timed(lambda: Report.from_json(json.loads(stored)), args.repeats)
    page_read_s, _ = timed(lambda: read_page_json(json.loads(page_stored)), args.repeats)
    model_s, model = timed(lambda: build_page(plans=[plan], fleet=fleet, ledger={"ok": True, "reports": [read_back], "failures": []}, now=now), args.repeats)
    page_s, page = timed(lambda: render_page(model), args.repeats)

    table = [
        ("build_report (the finish task, from the records)", "-", f"{build_s * 1000:.0f} ms"),
        ("report.json (every row: the machine format)", size(stored), f"{json_s * 1000:.0f} ms"),
        ("report.md", size(markdown), f"{markdown_s * 1000:.0f} ms"),
        ("report.html", size(html), f"{html_s * 1000:.0f} ms"),
        ("instances.csv (every row, one per instance per wave)", size(rows), f"{csv_s * 1000:.0f} ms"),
        ("page.json (report.json cut to the rows the page lists, and their counts)", size(page_stored), f"{page_json_s * 1000:.0f} ms"),
        ("page: read report.json back (json.loads + Report.from_json)", "-", f"{read_s * 1000:.0f} ms"),
        ("page: read page.json back (json.loads + read_page_json)", "-", f"{page_read_s * 1000:.0f} ms"),
        ("page: build the model (run + 3 patch groups of 100,000 members)", "-", f"{model_s * 1000:.0f} ms"),
        ("page: render the HTML", size(page), f"{page_s * 1000:.0f} ms"),
    ]
    headers = ("artifact or step", "size", f"median time ({args.repeats} runs)")
    report_doc.print_table(headers, table, title=f"A {instances:,}-instance run ({problems} nodes did not succeed)")

    loads = page_loads(report, plan, fleet, now, sorted(set(args.runs)), args.repeats)
    load_headers = ("runs listed", "each read from", "read the ledger", "model and HTML", "page load")
    load_table = [(load["runs"], load["source"], f"{load['read_s'] * 1000:.0f} ms", f"{load['shown_s'] * 1000:.0f} ms",
                   f"{(load['read_s'] + load['shown_s']) * 1000:.0f} ms") for load in loads]
    report_doc.print_table(load_headers, load_table, title=f"Page loads listing {instances:,}-instance runs, from a file ledger")
    by_source = {(load["runs"], load["source"]): load for load in loads}

    rendered = model_s + page_s
    targets = [
        report_doc.target_line("the page renders in under 2 s", rendered < PAGE_TARGET_S,
                               f"model and HTML of a {instances:,}-instance run in {rendered * 1000:.0f} ms, {size(page)} of HTML"),
        *(load_target(by_source[(count, PAGE_JSON)], by_source[(count, "report.json")]) for count in sorted(set(args.runs))),
        report_doc.target_line("the page is the same from page.json as from report.json",
                               all(by_source[(count, PAGE_JSON)]["html"] == by_source[(count, "report.json")]["html"] for count in set(args.runs)),
                               "identical HTML for " + ", ".join(runs_listed(count) for count in sorted(set(args.runs)))),
        report_doc.target_line("the human formats do not grow with the fleet", len(markdown) < 1024 * 1024 and len(html) < 1024 * 1024,
                               f"report.md {size(markdown)}, report.html {size(html)} (before capping: report.md {BEFORE['report.md']}, "
                               f"report.html {BEFORE['report.html']})"),
    ]
    print("", *targets, sep="\n")
    body = "\n".join([
        f"One promoted dev -> test -> prod run over {instances:,} instances (dev 2,000 in one wave; test 8,000 in two; prod 90,000 in waves "
        f"of 9,000, 27,000 and 54,000; one command per 50 instance ids), {problems} of them failed, timed out, unreachable or not "
        "dispatched, built as ledger records shaped like the operators' (no Airflow, no fleet). Times are medians of "
        f"{args.repeats} runs.",
        "",
        report_doc.markdown_table(headers, table),
        "",
        "A page load listing such runs, each a copy of this one, from a file ledger as the page's app reads it (`gather.read_ledgers`, "
        "the model with the three patch groups, the HTML): each run read from its page.json, then, with the page.json files removed, "
        "from its report.json alone, as runs finished before the finish task wrote page.json are read.",
        "",
        report_doc.markdown_table(load_headers, load_table),
        "",
        "Targets:",
        "",
        *targets,
        "",
        "report.md, report.html and the page list a summary per stage and wave and the nodes that need attention (at most 100 "
        "in the report, 25 per wave, 10 per run on the page), each cut list closed by an `and N more: see instances.csv` line; "
        "every row is in instances.csv and report.json. Before the lists were capped, the same run gave report.md "
        f"{BEFORE['report.md']}, report.html {BEFORE['report.html']} and a page card of {BEFORE['page']}. Reading report.json back "
        "costs a page load that much for each such run among the ten the page lists, so the finish task also writes page.json: "
        "report.json with each wave's rows cut to those behind the first 100 nodes that need attention, and how many there are in "
        "all. The page reads it instead, and reads report.json where a run has none or it cannot be read.",
    ])
    if not args.no_doc:
        report_doc.write_section("page_scale", "The report and the Patch rollouts page of a 100,000-instance run", body,
                                 runtime_seconds=time.perf_counter() - run_started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
