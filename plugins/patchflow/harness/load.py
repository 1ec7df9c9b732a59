"""`e2e-distributed --load CASE`: five rollouts of different plans at once on the running topology.

After the command's other runs, on the same Airflow: fleetsim restarts with the case's
throttled fleet on the same port, the plans' baselines are synced, `patchflow pools --apply`
creates their scope's pool and the release manager's script resizes it to the case's slots
through /api/v2; then every plan's DAG is triggered at once and followed to its end. With
`--load-alone` each plan first runs on its own, for the figures to compare against. What it
requires is in patchflow.harness.load_case.
"""
from __future__ import annotations

import json
import shutil
import sys
import time
import urllib.request
from pathlib import Path
from typing import Callable

from patchflow.harness.airflow_api import Api, dag_if_present, follow_run
from patchflow.harness.checks import check_blocked, check_promoted
from patchflow.harness.load_case import LoadCase, check_in_flight, check_throttled, check_verdicts, throttling_mentions
from patchflow.harness.processes import Processes, step, wait_for
from patchflow.core.yamlfile import PROJECT_ROOT


def load_dags_folder(case: LoadCase, work: Path) -> Path:
    """The project's DAG files and one per load plan: the folder every Airflow process of a load run reads."""
    from patchflow.harness.demo import dag_stub_source

    folder = work / "dags"
    folder.mkdir()
    for dag_file in sorted((PROJECT_ROOT / "dags").glob("*.py")):
        shutil.copy(dag_file, folder / dag_file.name)
    for rollout in case.rollouts:
        (folder / f"load_{rollout.plan.stem.replace('-', '_')}.py").write_text(dag_stub_source(rollout.plan.resolve(), f"the load case's plan {rollout.plan.name}"))
    return folder


# The load plans reach their account through this Airflow connection, defined as a deployment defines one.
LOAD_CONNECTION_ID = "aws_load_hub"


def load_connections(env: dict[str, str]) -> dict[str, str]:
    """AIRFLOW_CONN_<ID> for the load plans' account: the same keys and Region as the rollout's own credentials."""
    return {f"AIRFLOW_CONN_{LOAD_CONNECTION_ID.upper()}": json.dumps({
        "conn_type": "aws", "login": env["AWS_ACCESS_KEY_ID"], "password": env["AWS_SECRET_ACCESS_KEY"],
        "extra": {"region_name": env.get("AWS_DEFAULT_REGION", "us-east-1")},
    })}


def fleetsim_stats(endpoint: str, method: str = "GET") -> dict:
    request = urllib.request.Request(f"{endpoint}/_fleetsim/stats", method=method)
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())


def run_load(api: Api, env: dict[str, str], processes: Processes, case: LoadCase, *, endpoint: str, restart_fleetsim: Callable[[Path], None],
             run_one_shots: Callable, alone: bool, deadline: float) -> dict:
    from patchflow.core.api_pools import SSM_READS_AT_ONCE, plan_pools, ssm_calls_in_flight_budget
    from patchflow.core.plan import load_plan
    from patchflow.harness.demo import prepare_aws
    from patchflow.harness.distributed import ledger_report

    plans = [load_plan(rollout.plan.resolve()) for rollout in case.rollouts]
    restart_fleetsim(case.fleet)
    for plan in {plan.ledger_uri: plan for plan in plans}.values():
        prepare_aws(plan, env)
    folders = sorted({str(rollout.plan.resolve().parent) for rollout in case.rollouts})
    patchflow = [sys.executable, "-m", "patchflow"]
    run_one_shots(processes, [(f"load-sync-{n}", patchflow + ["sync", "--plans", folder]) for n, folder in enumerate(folders, start=1)], env)
    run_one_shots(processes, [(f"load-pools-{n}", patchflow + ["pools", "--apply", "--plans", folder]) for n, folder in enumerate(folders, start=1)], env)
    pools = plan_pools(plans)
    for pool in pools:
        step(f"as a release manager: resize pool {pool.name} to {case.pool_slots} slots through /api/v2")
        api.request("PATCH", f"/api/v2/pools/{pool.name}", {"name": pool.name, "slots": case.pool_slots, "include_deferred": False}, expect=(200,))
    for plan in plans:
        dag = wait_for(f"DAG {plan.dag_id} parsed by the dag-processor", lambda p=plan: dag_if_present(api, p.dag_id), 240, processes, 1.0)
        if dag.get("is_paused"):
            api.request("PATCH", f"/api/v2/dags/{plan.dag_id}", {"is_paused": False})

    def together(batch: list[int], label: str) -> dict:
        fleetsim_stats(endpoint, "DELETE")
        started = time.monotonic()
        run_ids = {index: trigger(api, plans[index].dag_id, case.conf, label) for index in batch}
        observations = {index: follow_run(api, plans[index].dag_id, run_ids[index], processes, deadline=deadline) for index in batch}
        wall = round(time.monotonic() - started, 1)
        stats = fleetsim_stats(endpoint)
        runs = []
        for index in batch:
            plan, rollout, observation = plans[index], case.rollouts[index], observations[index]
            observation.report = ledger_report(plan, run_ids[index])
            check = check_promoted(observation) if rollout.expect == "promoted" else check_blocked(
                observation, plan.stages[0].name, [s.name for s in plan.stages[1:]])
            runs.append({"plan": plan.name, "loaded_plan": plan, "dag_id": plan.dag_id, "run_id": run_ids[index], "expect": rollout.expect, "check": check,
                         "observation": observation})
        return {"label": label, "wall_seconds": wall, "stats": stats, "runs": runs}

    alone_results = [together([index], "alone") for index in range(len(plans))] if alone else []
    step(f"as a release manager: trigger {len(plans)} rollouts at once ({', '.join(p.name for p in plans)})")
    at_once = together(list(range(len(plans))), "together")

    texts: dict[str, str] = {}
    for run in at_once["runs"]:
        for ti in run["observation"].task_instances:
            if ti.get("state") == "failed" or (ti.get("try_number") or 1) > 1:
                tries = range(1, (ti.get("try_number") or 1) + 1)
                texts[f"{run['plan']}:{ti['task_id']}"] = "\n".join(api.log_text(run["dag_id"], run["run_id"], ti["task_id"], t) for t in tries)
        records = ledger_records(run["loaded_plan"], run["run_id"])
        texts[f"{run['plan']}:ledger"] = json.dumps(records, default=str)
    pool_name = pools[0].name if pools else "default_pool"
    checks = [
        check_verdicts((run["plan"], run["expect"], run["check"]) for run in at_once["runs"]),
        check_throttled(at_once["stats"], throttling_mentions(texts)),
        check_in_flight(at_once["stats"], ssm_calls_in_flight_budget(triggerers=1, slots=case.pool_slots), pool_name, case.pool_slots,
                        SSM_READS_AT_ONCE),
    ]
    for check in checks:
        print(check.line(), flush=True)
    return {
        "case": str(case.source.relative_to(PROJECT_ROOT)) if case.source.resolve().is_relative_to(PROJECT_ROOT) else str(case.source),
        "pool": pool_name,
        "pool_slots": case.pool_slots,
        "alone": [figures(result) for result in alone_results],
        "together": figures(at_once),
        "checks": [check.__dict__ for check in checks],
    }


def trigger(api: Api, dag_id: str, conf: dict, label: str) -> str:
    triggered = api.request("POST", f"/api/v2/dags/{dag_id}/dagRuns",
                            {"logical_date": None, "conf": conf, "note": f"triggered by patchflow e2e-distributed --load ({label})"}, expect=(200,))
    print(f"    {dag_id}: run {triggered['dag_run_id']} queued", flush=True)
    return triggered["dag_run_id"]


def ledger_records(plan, run_id: str) -> list[dict]:
    from patchflow.aws.ledger import RunLedger, open_store

    return RunLedger(open_store(plan.ledger_uri), plan.dag_id, run_id).records()


def figures(result: dict) -> dict:
    """What bench/load.py writes into docs/benchmarks.md for one batch of runs."""
    stats = result["stats"]
    return {
        "label": result["label"],
        "wall_seconds": result["wall_seconds"],
        "ssm_calls": sum(count for api_call, count in (stats.get("api_calls") or {}).items() if api_call.startswith("ssm:")),
        "throttled": sum((stats.get("throttled") or {}).values()),
        "throttled_by_api": stats.get("throttled") or {},
        "ssm_in_flight_peak": stats.get("ssm_in_flight_peak"),
        "task_retries": sum(max(0, (ti.get("try_number") or 1) - 1) for run in result["runs"] for ti in run["observation"].task_instances),
        "runs": [{"plan": run["plan"], "run_id": run["run_id"], "expect": run["expect"], "passed": run["check"].passed,
                  "detail": run["check"].detail, "run_state": run["observation"].run.get("state")} for run in result["runs"]],
    }
