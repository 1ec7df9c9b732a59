"""Waiting cost and correctness at 50, 1,000 and 10,000 instances: ours vs the Amazon provider's. One command prints tables.

    .venv/bin/python bench/waiting_cost.py [--sizes 50,1000,10000] [--poll 1] [--time-scale 10]

For each fleet size, fleetsim serves a fleet in one patch group where exactly
one instance fails its Install, and that instance is the last one SSM lists
(the fleet spec puts it in the last group, and fleetsim lists invocations in
fleet order), so it sits beyond the first page of 50 invocations whenever the
fleet is bigger than 50.

Phase 1, side by side: one AWS-RunPatchBaseline Install is sent with Targets
(tag:Patch Group), and once its targets have resolved, three waiters watch
that same command at the same time with the same poll interval:

- ours: patchflow's CommandCompletionTrigger.run() (ListCommands counters), then
  the collection our operator does once afterwards (every invocation page and
  the patch states) and the gate;
- the provider's SsmRunCommandCompletedSensor, poke() every poll interval;
- the provider's SsmRunCommandTrigger.run() (aiobotocore), driven by asyncio.

A fourth waiter, the provider trigger started right after SendCommand (before
the targets resolve), shows what an early start does.

Phase 2: a wave that is only part of its patch group (the wave of a two-wave
stage, 50% then 100%, that holds the failing instance), sent the way
PatchWaveOperator sends it, through patchflow's own functions: the wave's EC2
instances get a run-scoped `patchflow:wave` tag, one command targets the
group's tag and that tag, follow-ups by InstanceIds go to tagged nodes the
command did not reach, one CommandCompletionTrigger waits, the collection and
gate follow, and the tags are removed. A wave of 50 nodes or fewer goes out as
one InstanceIds command. For comparison, the same wave is then sent as it was
before wave tags: one command per 50 instance ids.

API calls are counted per waiter on the client side (every boto3/aiobotocore
call is tagged with the waiter that made it) and cross-checked against
fleetsim's own per-API request counts for the same period.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(PROJECT_ROOT), str(PROJECT_ROOT / "plugins"), str(Path(__file__).resolve().parent)]
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "ERROR")

import report_doc  # noqa: E402
from waiting_tables import (  # noqa: E402
    MAX_CONCURRENCY, MAX_IDS, SENT_BEFORE, SENT_NOW, TIMEOUT_SECONDS, WAITER, WAVES, calls_of, calls_per_poll_rows, count_api_calls,
    findings, partial_wave_findings, partial_wave_per_poll, phase2_rows, rows_for, sent_as,
)

PATCH_GROUP = "bench-wait"

# --------------------------------------------------------------------------- fleet and commands


def fleet_spec(size: int) -> dict:
    """`size` healthy Amazon Linux 2023 instances, the last of which always fails its Install."""
    base = {"platform": "AMAZON_LINUX_2023", "tags": {"Patch Group": PATCH_GROUP, "Environment": "bench"}}
    groups = []
    if size > 1:
        groups.append({"name": "healthy", "count": size - 1, **base})
    groups.append({"name": "late-failure", "count": 1, "install_failure_probability": 1.0, **base})
    return {
        "seed": 7,
        "defaults": {"execution_seconds": [60, 180], "missing_share": 0.3, "install_failure_probability": 0.0},
        "groups": groups,
    }


def send_install(ssm, **target) -> str:
    return ssm.send_command(
        DocumentName="AWS-RunPatchBaseline",
        Parameters={"Operation": ["Install"], "RebootOption": ["NoReboot"]},
        MaxConcurrency=MAX_CONCURRENCY,
        MaxErrors="100%",
        TimeoutSeconds=TIMEOUT_SECONDS,
        Comment="bench waiting_cost",
        **target,
    )["Command"]["CommandId"]


def aware_epoch(moment) -> float:
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).timestamp()


def ground_truth(invocations: list[dict]) -> dict:
    """From every invocation (in ListCommandInvocations order): who failed, where, and when the last one ended."""
    failed = [(n + 1, inv["InstanceId"]) for n, inv in enumerate(invocations) if inv.get("Status") != "Success"]
    ends = []
    for inv in invocations:
        for plugin in inv.get("CommandPlugins", []):
            if plugin.get("ResponseFinishDateTime") and plugin.get("StatusDetails") != "Skipped":
                ends.append(aware_epoch(plugin["ResponseFinishDateTime"]))
    statuses = Counter(inv.get("StatusDetails", "") for inv in invocations)
    return {"failed": failed, "last_end": max(ends) if ends else None, "count": len(invocations), "statuses": statuses}


# --------------------------------------------------------------------------- the waiters


@dataclass
class Outcome:
    waiter: str
    returned_at: float = 0.0  # time.time()
    verdict: str = ""
    noticed: str = ""
    polls: int | None = None
    started_mono: float = 0.0
    extra: dict = field(default_factory=dict)


async def wait_ours(command_ids: list[str], invoked_after: datetime, poll: float) -> Outcome:
    from patchflow.rollout.triggers import CommandCompletionTrigger

    WAITER.set("ours")
    outcome = Outcome("ours", started_mono=time.monotonic())
    trigger = CommandCompletionTrigger(command_ids=command_ids, invoked_after=invoked_after.isoformat(), poll_interval=poll,
                                       aws_conn_id=None, region_name="us-east-1")
    async for event in trigger.run():
        payload = event.payload
        outcome.returned_at = time.time()
        outcome.polls = payload.get("polls")
        progress = payload.get("progress", {})
        errors = sum(p.get("error_count", 0) for p in progress.values())
        statuses = sorted({p.get("status_details", "") for p in progress.values()})
        outcome.verdict = f"{payload['status']}: {'/'.join(statuses)}"
        outcome.noticed = f"yes: ErrorCount {errors}" if errors else "no"
        outcome.extra["payload"] = payload
        break
    return outcome


def collect_like_our_operator(command_ids: list[str]) -> tuple[list[dict], dict, object]:
    """What PatchWaveOperator.execute_complete reads once the trigger fires, and the gate it evaluates."""
    from patchflow.core.gates import GateThresholds, InstanceResult, classify_invocation, evaluate_gate
    from patchflow.aws import commands as ssm_commands
    from patchflow.aws import inventory
    from patchflow.aws.client import aws_client

    WAITER.set("ours: collect")
    ssm = aws_client("ssm", region_name="us-east-1")
    invocations = [inv for command_id in command_ids for inv in ssm_commands.list_invocations(ssm, command_id)]
    states = inventory.patch_states(ssm, sorted({inv["InstanceId"] for inv in invocations}))
    results = [
        InstanceResult(inv["InstanceId"], classify_invocation(inv.get("Status", ""), inv.get("StatusDetails", "")),
                       compliant=inventory.is_compliant(states[inv["InstanceId"]]) if inv["InstanceId"] in states else None)
        for inv in invocations
    ]
    verdict = evaluate_gate(results, GateThresholds())  # max_failed 0, the default
    return invocations, states, verdict


async def wait_provider_sensor(command_id: str, poll: float) -> Outcome:
    from airflow.providers.amazon.aws.sensors.ssm import SsmRunCommandCompletedSensor

    WAITER.set("provider sensor")
    outcome = Outcome("provider sensor", started_mono=time.monotonic())
    sensor = SsmRunCommandCompletedSensor(task_id="provider_sensor", command_id=command_id, poke_interval=poll,
                                          aws_conn_id=None, region_name="us-east-1")
    pokes = 0
    while True:
        pokes += 1
        try:
            done = await asyncio.to_thread(sensor.poke, {})
        except RuntimeError as exc:
            outcome.returned_at, outcome.polls = time.time(), pokes
            outcome.verdict, outcome.noticed = f"raised: {exc}", "yes: raised (no instance named)"
            return outcome
        if done:
            outcome.returned_at, outcome.polls = time.time(), pokes
            outcome.verdict, outcome.noticed = "success", "no"
            return outcome
        await asyncio.sleep(poll)


async def wait_provider_trigger(command_id: str, poll: float, label: str) -> Outcome:
    from airflow.providers.amazon.aws.triggers.ssm import SsmRunCommandTrigger

    WAITER.set(label)
    outcome = Outcome(label, started_mono=time.monotonic())
    trigger = SsmRunCommandTrigger(command_id=command_id, waiter_delay=max(1, int(poll)), waiter_max_attempts=100_000,
                                   aws_conn_id=None, region_name="us-east-1")
    try:
        async for event in trigger.run():
            payload = event.payload
            outcome.returned_at = time.time()
            outcome.verdict = payload.get("status", "?")
            if payload.get("status") == "failed":
                outcome.verdict = f"failed: {payload.get('message')}"
                outcome.noticed = f"yes: names {payload.get('instance_id')}"
            else:
                outcome.noticed = "no"
            break
    except Exception as exc:  # noqa: BLE001 - an AWS-level failure raises from the provider trigger
        outcome.returned_at = time.time()
        outcome.verdict, outcome.noticed = f"raised {type(exc).__name__}", "yes: raised"
    return outcome


# --------------------------------------------------------------------------- one fleet size


def wait_until_resolved(ssm, command_id: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ssm.list_commands(CommandId=command_id)["Commands"][0]["TargetCount"] > 0:
            return
        time.sleep(0.05)
    raise SystemExit(f"command {command_id} never resolved its targets")


def measure_size(size: int, poll: float, time_scale: float, tag_visibility_seconds: float) -> dict:
    import fleetsim

    print(f"\n=== {size:,} instances: starting fleetsim (time scale {time_scale:g}, poll interval {poll:g} s)", flush=True)
    with fleetsim.running(fleet_spec(size), seed=7, time_scale=time_scale, tag_visibility_seconds=tag_visibility_seconds) as sim:
        os.environ.update(sim.env())
        WAITER.set("setup")
        ssm = sim.client("ssm")
        result: dict = {"size": size}

        # ---- phase 1: one Targets command, every waiter side by side
        sent_at = time.time()
        command_id = send_install(ssm, Targets=[{"Key": "tag:Patch Group", "Values": [PATCH_GROUP]}])
        invoked_after = datetime.now(timezone.utc)
        sim.reset_stats()
        mark = time.monotonic()

        async def phase1():
            early = asyncio.create_task(wait_provider_trigger(command_id, poll, "provider trigger, started at once"))
            await asyncio.to_thread(_resolved_uncounted, ssm, command_id)
            started = time.time()
            ours = asyncio.create_task(wait_ours([command_id], invoked_after, poll))
            sensor = asyncio.create_task(wait_provider_sensor(command_id, poll))
            provider = asyncio.create_task(wait_provider_trigger(command_id, poll, "provider trigger"))
            ours_outcome = await ours
            collected = await asyncio.to_thread(collect_like_our_operator, [command_id])
            ours_outcome.extra["verdict_at"] = time.time()
            return started, ours_outcome, collected, await sensor, await provider, await early

        started, ours, (invocations, _, verdict), sensor, provider, early = asyncio.run(phase1())
        period = (mark, time.monotonic())
        server = Counter(sim.stats())
        truth = ground_truth(invocations)
        result["phase1"] = {
            "command_id": command_id, "sent_at": sent_at, "started": started, "truth": truth, "verdict": verdict,
            "outcomes": [ours, sensor, provider, early], "period": period, "server": server,
            "client": calls_of(None, period),
        }
        result["phase1"]["resolve_delay"] = started - sent_at
        print(f"    phase 1 done: {truth['count']:,} invocations, failing instance(s) at position {truth['failed']}; "
              f"waiters started {started - sent_at:.1f} s after SendCommand, once the targets had resolved", flush=True)

        # ---- phase 2: a partial wave as PatchWaveOperator sends it, then the same wave as it was sent before wave tags
        from patchflow.aws.inventory import patch_group_members

        WAITER.set("setup")
        members = patch_group_members(ssm, PATCH_GROUP)
        wave, batch = wave_holding(members, truth["failed"][0][1] if truth["failed"] else None)
        whole_group = len(batch) == len(members)
        result["phase2"] = [measure_partial_wave(sim, ssm, batch, f"patchflow waiting-cost tagged I{wave}", poll, wave=wave,
                                                 whole_group=whole_group, shape=SENT_NOW)]
        if len(batch) > MAX_IDS:
            # Rows without a tag key are what wave_requests still sends as InstanceIds lists (nodes EC2 cannot tag).
            untaggable = [dict(row, tag_key=None) for row in batch]
            result["phase2"].append(measure_partial_wave(sim, ssm, untaggable, f"patchflow waiting-cost id-lists I{wave}", poll, wave=wave,
                                                         whole_group=whole_group, shape=SENT_BEFORE))
        for run in result["phase2"]:
            print(f"    phase 2 done ({run['shape']}): wave {wave} of {len(WAVES)}, {len(batch):,} nodes, {len(run['command_ids'])} command(s)", flush=True)
    return result


# --------------------------------------------------------------------------- phase 2: a partial wave


def wave_holding(members, instance_id: str | None) -> tuple[int, list[dict]]:
    """The wave of a stage with WAVES that holds `instance_id` (else the last), as the rows PatchWaveOperator batches."""
    from patchflow.core.ratecontrol import wave_batches

    rows = {m.instance_id: {"instance_id": m.instance_id, "operating_system": m.operating_system, "tag_key": m.tag_key} for m in members}
    batches = wave_batches(sorted(rows), WAVES)
    number = next((n for n, batch in enumerate(batches, start=1) if instance_id in batch), len(batches))
    return number, [rows[i] for i in batches[number - 1]]


def send_like_our_operator(ssm, ec2, batch: list[dict], prefix: str, started: datetime, poll: float, whole_group: bool) -> dict:
    """PatchWaveOperator.execute's send (`_requests`, the re-attach lookup, the wave tags, `send_or_reattach`, `_follow_ups`)."""
    from patchflow.aws import commands as ssm_commands
    from patchflow.aws import wave_tags

    template = ssm_commands.PatchCommandRequest(operation="Install", reboot_option="NoReboot", max_concurrency=MAX_CONCURRENCY,
                                                max_errors="100%", timeout_seconds=TIMEOUT_SECONDS, comment=prefix)
    requests = ssm_commands.wave_requests(template, batch, patch_group=PATCH_GROUP, whole_group=whole_group, overrides={}, split_by_os=False)
    WAITER.set("ours: send")
    ssm_commands.find_commands_by_comment(ssm, prefix, started)
    tagged = wave_tags.tag_wave_nodes(ec2, requests)
    command_ids = [ssm_commands.send_command_at_most_once(ssm, ssm, request, started)[0] for request in requests]
    follow_ups, unresolved = [], 0
    for request, command_id in zip(requests, command_ids):
        if request.wave_tag is None:
            continue
        missing = wave_tags.untargeted_nodes(ssm, command_id, request.instance_ids, poll_seconds=poll)
        unresolved += missing is None
        follow_ups += ssm_commands.follow_up_requests(request, missing or [])
    command_ids += [ssm_commands.send_command_at_most_once(ssm, ssm, request, started)[0] for request in follow_ups]
    WAITER.set("setup")
    return {"requests": requests, "follow_ups": follow_ups, "unresolved": unresolved, "tagged": tagged, "command_ids": command_ids}


def measure_partial_wave(sim, ssm, batch: list[dict], prefix: str, poll: float, *, wave: int, whole_group: bool, shape: str) -> dict:
    """Send one wave as our operator does, wait with our trigger, collect and gate, remove the wave tags; every call counted."""
    from patchflow.aws import wave_tags

    ec2 = sim.client("ec2")
    sim.reset_stats()
    mark = time.monotonic()
    started = datetime.now(timezone.utc)
    sent = send_like_our_operator(ssm, ec2, batch, prefix, started, poll, whole_group)

    async def wait_and_collect():
        ours = await wait_ours(sent["command_ids"], started, poll)
        collected = await asyncio.to_thread(collect_like_our_operator, sent["command_ids"])
        ours.extra["verdict_at"] = time.time()
        return ours, collected

    ours, (invocations, _, verdict) = asyncio.run(wait_and_collect())
    WAITER.set("ours: clean-up")
    removed = wave_tags.remove_wave_tags(ec2, sent["tagged"]) if sent["tagged"] else 0
    WAITER.set("setup")
    period = (mark, time.monotonic())
    return {"shape": shape, "wave": wave, "nodes": len(batch), **sent, "removed": removed, "ours": ours, "truth": ground_truth(invocations),
            "verdict": verdict, "period": period, "server": Counter(sim.stats()), "client": calls_of(None, period)}


def _resolved_uncounted(ssm, command_id: str) -> None:
    WAITER.set("setup (wait for targets)")
    wait_until_resolved(ssm, command_id)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="50,1000,10000", help="comma-separated fleet sizes")
    parser.add_argument("--poll", type=float, default=1.0, help="poll interval in seconds for every waiter (integer for the provider trigger)")
    parser.add_argument("--time-scale", type=float, default=30.0, help="fleetsim time scale (simulated seconds per real second)")
    parser.add_argument("--tag-visibility-seconds", type=float, default=0.0,
                        help="simulated seconds before fleetsim's Run Command sees an EC2 tag write (0: at once)")
    parser.add_argument("--no-doc", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = parser.parse_args()
    run_started = time.perf_counter()
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]

    count_api_calls()
    # Import every waiter's module up front: importing Airflow inside the event loop would
    # block it for seconds and start the waiters late.
    import airflow.providers.amazon.aws.hooks.ssm  # noqa: F401
    import airflow.providers.amazon.aws.sensors.ssm  # noqa: F401
    import airflow.providers.amazon.aws.triggers.ssm  # noqa: F401
    import patchflow.rollout.triggers  # noqa: F401
    import patchflow.aws.inventory  # noqa: F401
    results = [measure_size(size, args.poll, args.time_scale, args.tag_visibility_seconds) for size in sizes]

    headers1 = ("instances", "waiter", "polls", "calls/poll", "most calls in one poll interval", "calls over the whole wait",
                "returned vs last invocation end", "verdict", "noticed the late failure")
    rows1, notes = [], []
    for result in results:
        rows, more = rows_for(result, args.poll)
        rows1 += rows
        notes += more
    headers2 = ("instances", "wave", "sent as", "calls to send", "polls", "calls/poll", "calls while waiting", "collect once afterwards",
                "tag clean-up", "trigger fired vs last invocation end", "gate verdict vs last invocation end", "invocations", "gate", "fleetsim counts")
    rows2 = [row for result in results for row in phase2_rows(result)]
    headers3 = ("instances", "ours: one Targets command (whole group)", "ours: a partial wave, as sent now",
                "a partial wave before wave tags (50-id commands)", "any waiter reading every invocation each poll",
                "one provider sensor per 50-id command")
    rows3 = calls_per_poll_rows(results)

    report_doc.print_table(headers1, rows1, title="Phase 1: one Targets command, every waiter watching it side by side")
    print(*notes, sep="\n")
    if rows2:
        report_doc.print_table(headers2, rows2, title="Phase 2: a partial wave as PatchWaveOperator sends it, and as it did before wave tags")
    report_doc.print_table(headers3, rows3, title="API calls per poll")
    print("", *findings(results, args.poll), *partial_wave_findings(results), sep="\n")

    ours_constant = all(abs(float(r[1]) - 1.0) < 1e-9 for r in rows3)
    partial = [(result["size"], run) for result in results for run in result.get("phase2", []) if run["shape"] == SENT_NOW]
    partial_constant = bool(partial) and all(abs(partial_wave_per_poll(run) - 1.0) < 1e-9 for _, run in partial)
    worst_size, worst_run = max(partial, key=lambda item: partial_wave_per_poll(item[1]), default=(0, None))
    body = [
        f"Fleets of {', '.join(f'{s:,}' for s in sizes)} instances on fleetsim (time scale {args.time_scale:g}, "
        f"execution 60-180 simulated s per instance, MaxConcurrency {MAX_CONCURRENCY}), one patch group; exactly one instance fails "
        f"its Install and it is the last one ListCommandInvocations lists. Every waiter polls every {args.poll:g} s. "
        "Calls are counted per waiter on the client (each boto3/aiobotocore call tagged with the waiter that made it) "
        "and cross-checked against fleetsim's per-API counts for the same period. \"Returned vs last invocation end\" "
        "compares the moment a waiter returned with the `ResponseFinishDateTime` of the last invocation to finish: "
        "negative means it returned while instances were still patching.",
        "",
        "**Phase 1**: one Install sent with `Targets` (`tag:Patch Group`); once its targets resolved, the three "
        "waiters started on that same command together. The provider trigger was also started a second time "
        "right after SendCommand, before the targets resolved, which is when a deferrable operator usually defers.",
        "",
        report_doc.markdown_table(headers1, rows1),
        "",
        *[f"- {note}" for note in notes],
        "",
    ]
    if rows2:
        body += [
            "**Phase 2**: a wave that is only part of its patch group (the later waves of a canary, or a pinned stage split by OS): "
            f"of a stage with waves {', '.join(WAVES)}, the wave that holds the failing instance, half the group. It is sent the way "
            "`PatchWaveOperator.execute` sends it, through patchflow's own functions: `wave_requests` gives one command targeting "
            "the group's tag and a run-scoped `patchflow:wave` tag that `tag_wave_nodes` first puts on the wave's EC2 instances "
            f"(CreateTags, 500 a call; a wave of {MAX_IDS} nodes or fewer goes out as one InstanceIds command instead), "
            "`untargeted_nodes` checks the command reached every tagged node and `follow_up_requests` would send the rest by "
            "InstanceIds; one `CommandCompletionTrigger` waits, the same collection and gate follow, and `remove_wave_tags` "
            "takes the tags off (DescribeTags, DeleteTags). fleetsim made tag writes visible to Run Command "
            + (f"after {args.tag_visibility_seconds:g} simulated s" if args.tag_visibility_seconds else "at once")
            + ". Then, for comparison, the same wave is sent as it was before wave tags, one command per 50 instance ids (the shape "
            "`wave_requests` still gives nodes EC2 cannot tag), watched and collected the same way. Each row counts its own "
            "period; the trigger, when it watches several commands, pages `ListCommands` filtered by document and invocation "
            "time, 50 commands a page.",
            "",
            report_doc.markdown_table(headers2, rows2),
            "",
        ]
    body += [
        "**Calls per poll** side by side, with what reading every invocation each poll would cost:",
        "",
        report_doc.markdown_table(headers3, rows3),
        "",
        "Targets:",
        "",
        report_doc.target_line("constant calls per poll for ours, one command (a whole-group wave: `PatchWaveOperator` aims it at the group's tag)", ours_constant,
                               "1 `ListCommands` per poll at every size" if ours_constant else "see the table"),
        report_doc.target_line(
            "constant calls per poll for ours, a partial wave (`PatchWaveOperator` tags the wave's nodes and aims one command at the group's tag and the wave tag)",
            partial_constant,
            f"1 `ListCommands` per poll at every size ({', '.join(f'{size:,}' for size, _ in partial)})" if partial_constant else
            f"{partial_wave_per_poll(worst_run):.2f} calls per poll at {worst_size:,} instances instead of 1 ({sent_as(worst_run)})" if worst_run else
            "no partial wave was measured"),
        "",
        "What the tables show (these sentences are generated from the figures above):",
        "",
        *findings(results, args.poll),
        *partial_wave_findings(results),
    ]
    if not args.no_doc:
        report_doc.write_section("waiting_cost", "Waiting cost and correctness: ours vs the Amazon provider",
                                 "\n".join(body), runtime_seconds=time.perf_counter() - run_started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
