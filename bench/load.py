"""Five rollouts of different plans at once on the CeleryExecutor topology, against a throttled fleetsim.

    .venv/bin/python bench/load.py

Runs `python -m patchflow e2e-distributed --load bench/load/rollouts.yaml --load-alone`:
PostgreSQL, Redis, fleetsim, the API server, scheduler, dag-processor, triggerer and two
Celery workers as processes; each plan of the case on its own, then all five at once. Writes
the section `load` of docs/benchmarks.md from the command's result.json: per run the SSM
calls, the calls fleetsim throttled (each one retried by the client), task retries, the most
SSM calls in flight at once and wall time; then the checks the case requires.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import report_doc  # noqa: E402

CASE = "bench/load/rollouts.yaml"
RESULT = report_doc.PROJECT_ROOT / "reports" / "e2e-distributed" / "result.json"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", default=CASE, help="the load case file")
    parser.add_argument("--no-doc", action="store_true", help="print the figures, leave docs/benchmarks.md alone")
    args = parser.parse_args()
    started = time.perf_counter()
    command = [sys.executable, "-m", "patchflow", "e2e-distributed", "--load", args.case, "--load-alone", "--timeout", "3000"]
    finished = subprocess.run(command, cwd=report_doc.PROJECT_ROOT)
    if not RESULT.is_file():
        print(f"load: {' '.join(command[2:])} wrote no result.json (exit {finished.returncode})", file=sys.stderr)
        return 1
    load = json.loads(RESULT.read_text()).get("load")
    if not load:
        print(f"load: result.json has no load figures (exit {finished.returncode})", file=sys.stderr)
        return 1
    headers = ["run", "outcome", "wall s", "SSM calls", "throttled", "task retries", "most SSM calls in flight"]
    rows = []
    for alone in load["alone"]:
        run = alone["runs"][0]
        rows.append([f"{run['plan']} alone", outcome(run), alone["wall_seconds"], alone["ssm_calls"], alone["throttled"], alone["task_retries"],
                     alone["ssm_in_flight_peak"]])
    together = load["together"]
    rows.append([f"all {len(together['runs'])} at once", ", ".join(outcome(run) for run in together["runs"]), together["wall_seconds"],
                 together["ssm_calls"], together["throttled"], together["task_retries"], together["ssm_in_flight_peak"]])
    report_doc.print_table(headers, rows, title="Five rollouts, alone and at once")
    longest_alone = max((alone["wall_seconds"] for alone in load["alone"]), default=0)
    summed_alone = sum(alone["wall_seconds"] for alone in load["alone"])
    throttled = ", ".join(f"{api} {count}" for api, count in sorted(together["throttled_by_api"].items())) or "none"
    checks = [report_doc.target_line(check["name"], check["passed"], check["detail"]) for check in load["checks"]]
    body = "\n".join([
        f"The load case `{load['case']}`: five plans of different shapes (two stages; canary waves; a stage pinned to dev; scan "
        "first; one whose dev installs all fail, so it blocks at dev), each with patch groups of its own, on the CeleryExecutor "
        "topology (PostgreSQL, Redis, API server, scheduler, dag-processor, triggerer, two Celery workers of 2 slots each) against "
        f"the throttled fleet `bench/load/fleet.yaml`. Every stage takes pool `{load['pool']}`, resized to {load['pool_slots']} slots. "
        "Each plan ran alone first, then all five were triggered at once.",
        "",
        report_doc.markdown_table(headers, rows),
        "",
        f"At once: {together['wall_seconds']} s, against {longest_alone} s for the longest plan alone and {round(summed_alone, 1)} s for "
        f"the five one after the other. Throttled calls at once, by API: {throttled}; the client retried each (botocore's adaptive "
        "mode), none surfaced as a failed task.",
        "",
        "Checks:",
        "",
        *checks,
    ])
    if not args.no_doc:
        report_doc.write_section("load", "Five rollouts at once against a throttled fleet", body, runtime_seconds=time.perf_counter() - started)
    return 0 if all(check["passed"] for check in load["checks"]) else 1


def outcome(run: dict) -> str:
    return run["expect"] if run["passed"] else f"NOT {run['expect']}: {run['detail'][:80]}"


if __name__ == "__main__":
    sys.exit(main())
