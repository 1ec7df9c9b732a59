"""DAG parse time for a dags/ folder with 20 rollout plans, against an empty DAG file. One command prints a table.

    .venv/bin/python bench/dag_parse.py [--plans 20] [--runs 7]

Writes 20 copies of include/rollouts/demo.yaml under different names into a
temporary folder, with one dags/ stub per plan exactly like the project's
own (`dag = dag_from_plan_file(...)`), and a second folder holding one DAG
file that builds an empty DAG. Each folder is parsed by Airflow's own DagBag
in a fresh Python process, several times, alternating; the median counts.

Every parse runs under a socket guard: any connect or DNS lookup is recorded
and refused, and AWS_ENDPOINT_URL points at a closed local port. The child
then makes one deliberate boto3 call to prove the guard sees traffic.
Target: the 20-plan folder parses in under 1.5x the empty baseline, and
parsing makes no network call.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(PROJECT_ROOT), str(PROJECT_ROOT / "plugins"), str(Path(__file__).resolve().parent)]

RATIO_TARGET = 1.5

EMPTY_DAG = '''"""Baseline: an Airflow DAG file that builds an empty DAG."""
from datetime import datetime

from airflow.sdk import DAG

dag = DAG(dag_id="empty_baseline", schedule=None, start_date=datetime(2026, 1, 1), catchup=False)
'''

STUB = '''"""Airflow DAG for the rollout plan {plan} (built by patchflow's DAG factory)."""
from patchflow.rollout.factory import dag_from_plan_file

dag = dag_from_plan_file({path!r})
'''


# --------------------------------------------------------------------------- the child (one fresh process per parse)


def child(folder: str, spawned_at: float) -> int:
    """Parse `folder` with DagBag under a socket guard, then serialize its DAGs; print one JSON line.

    `spawned_at` is the parent's time.time() just before it started this process, so the
    times reported include interpreter start-up but not the guard check at the end.
    """
    attempts: list[str] = []

    def refuse(what):
        def guard(*args, **kwargs):
            attempts.append(f"{what} {args[1] if what == 'connect' and len(args) > 1 else args[:2]}")
            raise ConnectionRefusedError(f"bench/dag_parse.py: network use at parse time ({what})")

        return guard

    socket.socket.connect = refuse("connect")
    socket.socket.connect_ex = refuse("connect")
    socket.create_connection = refuse("create_connection")
    socket.getaddrinfo = refuse("getaddrinfo")

    import_started = time.perf_counter()
    from airflow.dag_processing.dagbag import DagBag

    imported = time.perf_counter()
    bag = DagBag(dag_folder=folder, safe_mode=True)
    parsed = time.perf_counter()
    parsed_wall = time.time()
    parsed_cpu = time.process_time()  # CPU of this process since it started: barely moved by other load
    # What the DAG processor does next with every DAG it found.
    from airflow.serialization.serialized_objects import DagSerialization

    for dag in bag.dags.values():
        json.dumps(DagSerialization.to_dict(dag))
    serialized = time.perf_counter()
    serialized_wall = time.time()
    serialized_cpu = time.process_time()
    parse_attempts = list(attempts)

    # Positive control: the guard must see a real client trying to connect.
    control = "no call made"
    try:
        import boto3

        boto3.client("ssm", region_name="us-east-1").list_commands(MaxResults=1)
        control = "call went through (guard broken)"
    except Exception as exc:  # noqa: BLE001 - any failure is what we expect
        control = f"refused ({type(exc).__name__})"
    print(
        json.dumps(
            {
                "dags": len(bag.dags),
                "tasks": sum(len(d.tasks) for d in bag.dags.values()),
                "import_errors": {str(k): str(v)[-300:] for k, v in bag.import_errors.items()},
                "import_airflow_s": imported - import_started,
                "dagbag_s": parsed - imported,
                "serialize_s": serialized - parsed,
                "process_s": parsed_wall - spawned_at,
                "process_serialized_s": serialized_wall - spawned_at,
                "cpu_s": parsed_cpu,
                "cpu_serialized_s": serialized_cpu,
                "network_attempts": parse_attempts,
                "control_attempts": len(attempts) - len(parse_attempts),
                "control": control,
            }
        )
    )
    return 0


# --------------------------------------------------------------------------- the parent


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_folders(root: Path, plans: int) -> tuple[Path, Path]:
    source = (PROJECT_ROOT / "include" / "rollouts" / "demo.yaml").read_text(encoding="utf-8")
    plan_dir, dags_dir, empty_dir = root / "rollouts", root / "dags-plans", root / "dags-empty"
    for folder in (plan_dir, dags_dir, empty_dir):
        folder.mkdir(parents=True)
    for n in range(1, plans + 1):
        name = f"bench-{n:02d}"
        text, count = re.subn(r"(?m)^name: demo$", f"name: {name}", source)
        assert count == 1, "include/rollouts/demo.yaml no longer starts with 'name: demo'"
        plan_path = plan_dir / f"{name}.yaml"
        plan_path.write_text(text, encoding="utf-8")
        (dags_dir / f"rollout_{name.replace('-', '_')}.py").write_text(STUB.format(plan=plan_path.name, path=str(plan_path)), encoding="utf-8")
    (empty_dir / "empty_baseline.py").write_text(EMPTY_DAG, encoding="utf-8")
    return dags_dir, empty_dir


def child_env(airflow_home: Path, dags_folder: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW__", "AWS_"))}
    env.update(
        {
            "AIRFLOW_HOME": str(airflow_home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(PROJECT_ROOT / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "ERROR",
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{closed_port()}",
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_MAX_ATTEMPTS": "1",
            "AWS_EC2_METADATA_DISABLED": "true",
            "PYTHONPATH": os.pathsep.join([str(PROJECT_ROOT / "plugins"), str(PROJECT_ROOT)]),
        }
    )
    return env


def parse_once(folder: Path, airflow_home: Path) -> dict:
    finished = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child", str(folder), "--spawned-at", repr(time.time())],
        env=child_env(airflow_home, folder),
        capture_output=True,
        text=True,
        cwd=tempfile.gettempdir(),
    )
    if finished.returncode != 0:
        raise SystemExit(f"parse of {folder} failed (exit {finished.returncode}):\n{finished.stderr[-2000:]}")
    return json.loads(finished.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plans", type=int, default=20)
    parser.add_argument("--runs", type=int, default=11, help="fresh-process parses per folder (median counts)")
    parser.add_argument("--no-doc", action="store_true", help="print only; leave docs/benchmarks.md alone")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--spawned-at", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.child, args.spawned_at or time.time())

    import report_doc

    run_started = time.perf_counter()
    root = Path(tempfile.mkdtemp(prefix="bench-dag-parse-"))
    try:
        dags_dir, empty_dir = make_folders(root, args.plans)
        airflow_home = root / "airflow-home"
        airflow_home.mkdir()
        folders = {"empty": empty_dir, "plans": dags_dir}
        runs: dict[str, list[dict]] = {"empty": [], "plans": []}
        parse_once(empty_dir, airflow_home)  # warm the OS file cache and write airflow.cfg once, untimed
        for n in range(args.runs):
            for label in ("empty", "plans") if n % 2 == 0 else ("plans", "empty"):
                runs[label].append(parse_once(folders[label], airflow_home))
    finally:
        shutil.rmtree(root, ignore_errors=True)

    def median(label: str, key: str) -> float:
        return statistics.median(r[key] for r in runs[label])

    for label in runs:
        errors = runs[label][0]["import_errors"]
        if errors:
            raise SystemExit(f"{label}: import errors while parsing: {errors}")
    empty, plans = runs["empty"][0], runs["plans"][0]
    network = sorted({a for label in runs for r in runs[label] for a in r["network_attempts"]})
    control = {r["control"] for label in runs for r in runs[label]}
    control_seen = all(r["control_attempts"] > 0 for label in runs for r in runs[label])

    process_ratio = median("plans", "process_s") / median("empty", "process_s")
    cpu_ratio = median("plans", "cpu_s") / median("empty", "cpu_s")
    cpu_serialized_ratio = median("plans", "cpu_serialized_s") / median("empty", "cpu_serialized_s")
    import_noise = median("plans", "import_airflow_s") - median("empty", "import_airflow_s")
    serialized_ratio = median("plans", "process_serialized_s") / median("empty", "process_serialized_s")
    dagbag_ratio = median("plans", "dagbag_s") / median("empty", "dagbag_s")
    extra_ms = (median("plans", "dagbag_s") - median("empty", "dagbag_s")) * 1000
    serialize_per_dag_ms = median("plans", "serialize_s") * 1000 / max(plans["dags"], 1)
    headers = (f"measure (median of {args.runs} fresh processes)", "empty DAG file", f"{args.plans} plans", "ratio")
    table = [
        ("DAGs / tasks found", f"{empty['dags']} / {empty['tasks']}", f"{plans['dags']} / {plans['tasks']}", "-"),
        ("**parse**: start python, import Airflow, DagBag(folder)",
         f"{median('empty', 'process_s'):.2f} s", f"{median('plans', 'process_s'):.2f} s", f"**{process_ratio:.2f}x**"),
        ("same, CPU time of the parse process", f"{median('empty', 'cpu_s'):.2f} s", f"{median('plans', 'cpu_s'):.2f} s",
         f"{cpu_ratio:.2f}x"),
        ("  of which `import DagBag` (Airflow itself, wall)", f"{median('empty', 'import_airflow_s'):.2f} s",
         f"{median('plans', 'import_airflow_s'):.2f} s", "-"),
        ("  of which DagBag(folder) alone (imports patchflow, builds the DAGs)", f"{median('empty', 'dagbag_s') * 1000:.0f} ms",
         f"{median('plans', 'dagbag_s') * 1000:.0f} ms", f"{dagbag_ratio:.0f}x"),
        ("then serializing every DAG (the DAG processor's next step)", f"{median('empty', 'serialize_s') * 1000:.0f} ms",
         f"{median('plans', 'serialize_s') * 1000:.0f} ms", "-"),
        ("parse + serialize, whole process", f"{median('empty', 'process_serialized_s'):.2f} s",
         f"{median('plans', 'process_serialized_s'):.2f} s", f"{serialized_ratio:.2f}x"),
        ("parse + serialize, CPU time", f"{median('empty', 'cpu_serialized_s'):.2f} s",
         f"{median('plans', 'cpu_serialized_s'):.2f} s", f"{cpu_serialized_ratio:.2f}x"),
        ("network attempts while parsing and serializing (all runs)", str(sum(len(r["network_attempts"]) for r in runs["empty"])),
         str(sum(len(r["network_attempts"]) for r in runs["plans"])), "-"),
    ]
    report_doc.print_table(headers, [[c.replace("**", "") for c in row] for row in table],
                           title=f"DAG parse: {args.plans} plans vs an empty DAG file")
    print(f"\nguard check (one boto3 call after parsing, in every child): {', '.join(sorted(control))}")
    if network:
        print("network attempts:", *network, sep="\n  ")

    ratio_met = process_ratio < RATIO_TARGET
    per_plan_ms = extra_ms / args.plans
    parses = args.runs * 2 + 1
    targets = [
        report_doc.target_line(
            "parse under 1.5x the empty-DAG baseline",
            ratio_met,
            f"{process_ratio:.2f}x wall ({median('plans', 'process_s'):.2f} s vs {median('empty', 'process_s'):.2f} s), "
            f"{cpu_ratio:.2f}x in CPU time" + ("" if ratio_met else f"; {process_ratio - RATIO_TARGET:.2f}x over on the wall clock"),
        ),
        report_doc.target_line(
            "no network calls at parse time",
            not network and control_seen,
            (f"{len(network)} connect/DNS attempts over {parses} parses; the guard caught the deliberate boto3 call "
             f"in every child ({', '.join(sorted(control))})") if control_seen else "the guard did not see the control call",
        ),
    ]
    over = serialized_ratio >= RATIO_TARGET
    body = "\n".join(
        [
            f"{args.plans} copies of `include/rollouts/demo.yaml` (3 stages, {plans['tasks'] // max(plans['dags'], 1)} tasks per DAG) "
            "with one `dag_from_plan_file` stub each, against a folder with one file that builds an empty DAG. "
            f"Each folder was parsed by `airflow.dag_processing.dagbag.DagBag` in a fresh Python process {args.runs} times, "
            "alternating the two folders; medians. Process times run from spawning the child to the end of that step. "
            "A socket guard in every child refuses and records any connect or DNS lookup, `AWS_ENDPOINT_URL` points at "
            "a closed port, and after parsing the child makes one boto3 call on purpose to show the guard catches real traffic.",
            "",
            report_doc.markdown_table(headers, table),
            "",
            "Targets:",
            "",
            *targets,
            "",
            "How to read the ratios: the target is judged on a parse end to end in a fresh process, where Airflow's own "
            "import dominates. Both folders import the same Airflow, so the gap between their `import DagBag` lines "
            f"({import_noise:+.2f} s) is load from other processes, and it moves the wall-clock ratio; the CPU-time "
            "ratio is the steadier figure. `DagBag(folder)` alone is far above 1.5x because the baseline builds nothing: "
            f"{args.plans} plans add {extra_ms:.0f} ms, about {per_plan_ms:.0f} ms per plan on top of a one-off import of "
            "patchflow and the providers, well below the default `dagbag_import_timeout` of 30 s per file. "
            f"Serializing costs about {serialize_per_dag_ms:.0f} ms per {plans['tasks'] // max(plans['dags'], 1)}-task DAG; "
            + (f"counted in, the folder takes {serialized_ratio:.2f}x the baseline, over 1.5x by {serialized_ratio - RATIO_TARGET:.2f}x. "
               "A profile (cProfile of `DagSerialization.to_dict` on the demo DAG) puts about 90% of it in jsonschema: "
               "Airflow serializes the DAG's four trigger-form `Param`s with every operator and validates each Param's "
               "schema each time (25 operators x 4 Params, twice), so the cost grows with tasks x Params. It is paid once "
               "per parse by the DAG processor, never by a running task, and the 30 s per-file timeout is far away; "
               "moving `stages`' array/enum schema out of the DAG-level params, or fewer tasks per stage, would shrink it."
               if over else f"counted in, the folder still takes only {serialized_ratio:.2f}x the baseline."),
        ]
    )
    if not args.no_doc:
        report_doc.write_section("dag_parse", f"DAG parse time: {args.plans} plans vs an empty DAG file", body,
                                 runtime_seconds=time.perf_counter() - run_started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
