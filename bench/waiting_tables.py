"""The tables and findings bench/waiting_cost.py prints, and how it counts every API call per waiter.

Apart from the measuring so the measuring script reads as what it does; nothing here talks to a fleet.
"""
from __future__ import annotations

import contextvars
import math
import time
from collections import Counter

MAX_IDS = 50  # SendCommand's InstanceIds limit, and ListCommandInvocations' page size
WAVES = ("50%", "100%")  # phase 2's stage: the wave holding the failing instance is half the group
SENT_NOW = "as sent now"
MAX_CONCURRENCY = "20%"  # a realistic rate: the shipped plans use 10% to 50%
TIMEOUT_SECONDS = 600  # every command's TimeoutSeconds: how long SSM may take to start it on a node
SENT_BEFORE = "before wave tags: one command per 50 ids"

# --------------------------------------------------------------------------- counting every API call per waiter

WAITER: contextvars.ContextVar[str] = contextvars.ContextVar("waiter", default="setup")
CALLS: list[tuple[str, str, float]] = []  # (waiter, operation, monotonic time)


def count_api_calls() -> None:
    """Tag every boto3 and aiobotocore API call with the waiter (context variable) that made it."""
    import aiobotocore.client
    import botocore.client

    sync_call = botocore.client.BaseClient._make_api_call
    async_call = aiobotocore.client.AioBaseClient._make_api_call

    def counted(self, operation_name, api_params):
        CALLS.append((WAITER.get(), operation_name, time.monotonic()))
        return sync_call(self, operation_name, api_params)

    async def counted_async(self, operation_name, api_params):
        CALLS.append((WAITER.get(), operation_name, time.monotonic()))
        return await async_call(self, operation_name, api_params)

    botocore.client.BaseClient._make_api_call = counted
    aiobotocore.client.AioBaseClient._make_api_call = counted_async


def calls_of(waiter: str | None, period: tuple[float, float]) -> Counter:
    """Calls per operation made by `waiter` (None: by anyone) between the period's two monotonic marks."""
    since, until = period
    return Counter(op for who, op, at in CALLS if (waiter is None or who == waiter) and since <= at <= until)


def busiest_window(waiter: str, seconds: float, period: tuple[float, float]) -> int:
    """Most calls this waiter made inside any window of one poll interval."""
    times = sorted(at for who, _, at in CALLS if who == waiter and period[0] <= at <= period[1])
    best, start = 0, 0
    for end, at in enumerate(times):
        while at - times[start] >= seconds * 0.999:
            start += 1
        best = max(best, end - start + 1)
    return best


# --------------------------------------------------------------------------- tables and findings

def fmt_calls(counter: Counter) -> str:
    return ", ".join(f"{n:,} {op}" for op, n in sorted(counter.items())) or "0"


def rows_for(result: dict, poll: float) -> tuple[list[tuple], list[str]]:
    size = f"{result['size']:,}"
    phase = result["phase1"]
    truth, period = phase["truth"], phase["period"]
    last_end = truth["last_end"]
    rows, notes = [], []
    for outcome in phase["outcomes"]:
        calls = calls_of(outcome.waiter, period)
        total = sum(calls.values())
        waited = outcome.returned_at - (phase["sent_at"] if "at once" in outcome.waiter else phase["started"])
        polls = outcome.polls
        if polls is None:
            polls = max(1, math.ceil(waited / poll))
        per_poll = f"{total / polls:.2f}" if polls else "-"
        peak = busiest_window(outcome.waiter, poll, period)
        vs_end = f"{outcome.returned_at - last_end:+.1f} s" if last_end else "-"
        name = outcome.waiter
        if outcome.waiter == "ours":
            collect = calls_of("ours: collect", period)
            verdict_at = outcome.extra["verdict_at"]
            rows.append((size, "ours: CommandCompletionTrigger", polls, per_poll, peak, fmt_calls(calls), vs_end, outcome.verdict, outcome.noticed))
            gate = phase["verdict"]
            failed_ids = [i for _, i in truth["failed"]]
            named = "yes: gate names " + ", ".join(failed_ids) if not gate.passed and failed_ids else ("no" if gate.passed else "yes")
            rows.append((size, "ours: + collect once and gate", "-", "-", "-", f"+ {fmt_calls(collect)}",
                         f"{verdict_at - last_end:+.1f} s" if last_end else "-", f"gate passed={gate.passed}", named))
            continue
        rows.append((size, name, polls, per_poll, peak, fmt_calls(calls), vs_end, outcome.verdict, outcome.noticed))
    client, server = phase["client"], phase["server"]
    match = all(client.get(op, 0) == server.get(op, 0) for op in set(client) | set(server))
    notes.append(f"{size}: waiters started {phase['resolve_delay']:.1f} s after SendCommand; failing instance at position {', '.join(str(p) for p, _ in truth['failed']) or 'none'} of "
                 f"{truth['count']:,} in ListCommandInvocations order; client-side counts {'match' if match else 'DO NOT match'} "
                 f"fleetsim's for the same period (fleetsim: {fmt_calls(server)})")
    return rows, notes


def sent_as(run: dict) -> str:
    """The commands of one phase-2 wave, by how they are aimed."""
    tagged = [r for r in run["requests"] if r.wave_tag]
    by_ids = [r for r in run["requests"] if not r.wave_tag]
    parts = [f"{len(tagged)} on `tag:{tagged[0].target_tag[0]}` + `tag:{tagged[0].wave_tag[0]}`"] if tagged else []
    if by_ids:
        parts.append(f"{len(by_ids)} by InstanceIds (up to {MAX_IDS} each)")
    if run["follow_ups"]:
        parts.append(f"{len(run['follow_ups'])} follow-ups by InstanceIds")
    if run["unresolved"]:
        parts.append(f"{run['unresolved']} whose targets did not resolve in time")
    return f"{run['shape']}: " + ", ".join(parts)


def partial_wave_per_poll(run: dict) -> float:
    return sum(calls_of("ours", run["period"]).values()) / (run["ours"].polls or 1)


def phase2_rows(result: dict) -> list[tuple]:
    rows = []
    for run in result.get("phase2", []):
        ours, truth, period = run["ours"], run["truth"], run["period"]
        client, server = run["client"], run["server"]
        match = all(client.get(op, 0) == server.get(op, 0) for op in set(client) | set(server))
        cleanup = calls_of("ours: clean-up", period)
        rows.append((
            f"{result['size']:,}", f"{run['wave']} of {len(WAVES)}: {run['nodes']:,} nodes", sent_as(run), fmt_calls(calls_of("ours: send", period)),
            ours.polls or 1, f"{partial_wave_per_poll(run):.2f}", fmt_calls(calls_of("ours", period)), fmt_calls(calls_of("ours: collect", period)),
            f"{fmt_calls(cleanup)} ({run['removed']:,} tags)" if cleanup else "-",
            f"{ours.returned_at - truth['last_end']:+.1f} s" if truth["last_end"] else "-",
            f"{ours.extra['verdict_at'] - truth['last_end']:+.1f} s" if truth["last_end"] else "-",
            ", ".join(f"{n:,} {status}" for status, n in sorted(truth["statuses"].items())),
            f"passed={run['verdict'].passed}", "match" if match else "MISMATCH",
        ))
    return rows


def calls_per_poll_rows(results: list[dict]) -> list[tuple]:
    """Per fleet size: ours on one Targets command, on a partial wave as sent now and before wave tags, and what reading every invocation costs."""
    rows = []
    for result in results:
        size = result["size"]
        ours = next(o for o in result["phase1"]["outcomes"] if o.waiter == "ours")
        runs = {run["shape"]: run for run in result.get("phase2", [])}
        now, before = runs.get(SENT_NOW), runs.get(SENT_BEFORE)
        rows.append((
            f"{size:,}", f"{sum(calls_of('ours', result['phase1']['period']).values()) / (ours.polls or 1):.2f}",
            f"{partial_wave_per_poll(now):.2f} ({len(now['command_ids'])} command{'s' * (len(now['command_ids']) != 1)})" if now else "-",
            f"{partial_wave_per_poll(before):.2f} ({len(before['command_ids'])} commands)" if before else f"- (the wave fits one {MAX_IDS}-id command)",
            f"{math.ceil(size / MAX_IDS):,} (ceil(N/50), computed)", f"{math.ceil(size / MAX_IDS):,} (computed)",
        ))
    return rows


def partial_wave_findings(results: list[dict]) -> list[str]:
    """Sentences on phase 2 from the measured figures."""
    runs = [(r["size"], run) for r in results for run in r.get("phase2", [])]
    now = [(size, run) for size, run in runs if run["shape"] == SENT_NOW]
    before = [(size, run) for size, run in runs if run["shape"] == SENT_BEFORE]
    if not now:
        return []
    sizes = ", ".join(f"{size:,}" for size, _ in now)
    follow_ups = sum(len(run["follow_ups"]) for _, run in now)
    unresolved = sum(run["unresolved"] for _, run in now)
    lines = [
        f"- A partial wave as sent now: {' / '.join(f'{partial_wave_per_poll(run):.2f}' for _, run in now)} calls per poll at {sizes} instances "
        f"({' / '.join(str(len(run['command_ids'])) for _, run in now)} commands); sending cost "
        + "; ".join(f"{fmt_calls(calls_of('ours: send', run['period']))} at {size:,}" for size, run in now)
        + (f"; {follow_ups} follow-up commands went to tagged nodes the wave-tag command did not reach" if follow_ups else
           "; the wave-tag command reached every tagged node, so no follow-up was sent")
        + (f", and {unresolved} command(s) had not resolved their targets within the bound." if unresolved else "."),
        "- The gate after a partial wave " + ("failed at every size, on a wave whose invocations held the failing instance."
                                              if all(not run["verdict"].passed and run["truth"]["failed"] for _, run in now)
                                              else "did NOT fail on the failing instance at every size."),
    ]
    per_chunk = math.ceil(int(MAX_CONCURRENCY.rstrip("%")) * MAX_IDS / 100)
    for size, run in runs:
        timed_out = run["truth"]["statuses"].get("Delivery Timed Out", 0)
        if timed_out:
            lines.append(
                f"- {size:,} instances, {run['shape']}: {timed_out} invocation(s) ended Delivery Timed Out: not started within the "
                f"command's TimeoutSeconds ({TIMEOUT_SECONDS} s), they stay Pending until the command expires, so the trigger waited "
                f"{run['ours'].polls} polls."
                + (f" At MaxConcurrency {MAX_CONCURRENCY} a {MAX_IDS}-id command runs {per_chunk} nodes at a time, so its last nodes "
                   f"wait for about {MAX_IDS // per_chunk - 1} runs of 60-180 simulated s each, close to that bound." if run["shape"] == SENT_BEFORE else "")
            )
    if before:
        lines.append(
            f"- {SENT_BEFORE[0].upper()}{SENT_BEFORE[1:]}, the same waves cost "
            + ", ".join(f"{partial_wave_per_poll(run):.2f} calls per poll at {size:,} ({len(run['command_ids'])} commands)" for size, run in before)
            + ": the trigger pages `ListCommands` for several commands, 50 a page, and the page also holds every other AWS-RunPatchBaseline "
            "command sent in the account since 5 minutes before the wave (here the phase-1 command and the wave-tag one)."
        )
    return lines


def summarize(result: dict, waiter: str) -> dict:
    phase = result["phase1"]
    outcome = next(o for o in phase["outcomes"] if o.waiter == waiter)
    calls = calls_of(waiter, phase["period"])
    last_end = phase["truth"]["last_end"]
    return {
        "noticed": outcome.noticed.startswith("yes"),
        "vs_end": outcome.returned_at - last_end if last_end else 0.0,
        "calls": sum(calls.values()),
        "per_poll": sum(calls.values()) / (outcome.polls or 1) if outcome.polls else None,
        "verdict": outcome.verdict,
    }


def findings(results: list[dict], poll: float) -> list[str]:
    """Plain sentences from the measured figures, so the doc never claims more than the run showed."""
    big = [r for r in results if r["size"] > MAX_IDS]
    sizes = ", ".join(f"{r['size']:,}" for r in results)
    lines = []
    ours = [summarize(r, "ours") for r in results]
    gates = [r["phase1"]["verdict"] for r in results]
    lines.append(
        f"- Ours: {' / '.join(format(o['per_poll'] or 0, '.2f') for o in ours)} `ListCommands` per poll at {sizes} instances; fired {min(o['vs_end'] for o in ours):.1f} to {max(o['vs_end'] for o in ours):.1f} s "
        f"after the last invocation ended (poll interval {poll:g} s); saw the failure in `ErrorCount` "
        f"{'at every size' if all(o['noticed'] for o in ours) else 'NOT at every size'}; the gate after the one-off collection "
        f"{'failed and named the failing instance at every size' if all(not g.passed for g in gates) else 'did NOT fail at every size'}."
    )
    collect = []
    for r in results:
        phase = r["phase1"]
        ours_outcome = next(o for o in phase["outcomes"] if o.waiter == "ours")
        calls = sum(calls_of("ours: collect", phase["period"]).values())
        collect.append(f"{calls:,} calls and {ours_outcome.extra['verdict_at'] - ours_outcome.returned_at:.1f} s at {r['size']:,}")
        now = next((run for run in r.get("phase2", []) if run["shape"] == SENT_NOW), None)
        if now:
            collect[-1] += f" ({now['ours'].extra['verdict_at'] - now['ours'].returned_at:.1f} s for phase 2's wave of {now['nodes']:,}, waiting alone)"
    lines.append(
        "- Ours, after the wait: the one-off collection (every invocation page with details, every patch state, then "
        f"the gate) took {'; '.join(collect)}. It grows with the fleet (2 calls per 50 instances) and at 10,000 "
        "instances it, not the poll interval, dominates the time from the last invocation to the verdict; see the "
        "fleetsim capacity section for how fast a page of invocations is served."
    )
    for waiter, label in (("provider sensor", "The provider sensor"), ("provider trigger", "The provider trigger")):
        small = [summarize(r, waiter) for r in results if r["size"] <= MAX_IDS]
        large = [(r["size"], summarize(r, waiter)) for r in big]
        parts = []
        if small:
            parts.append(f"at {MAX_IDS} instances it {'noticed' if all(x['noticed'] for x in small) else 'missed'} the failure")
        if large:
            missed = [size for size, x in large if not x["noticed"]]
            early = [(size, -x["vs_end"]) for size, x in large if x["vs_end"] < 0]
            parts.append(
                f"beyond {MAX_IDS} ({', '.join(f'{size:,}' for size, _ in large)}) it "
                + (f"missed the failure on the last instance every time and reported success" if len(missed) == len(large)
                   else f"missed the failure at {', '.join(f'{m:,}' for m in missed) or 'no size'}")
                + (f", returning {', '.join(f'{sec:.1f} s' for _, sec in early)} before the last invocation ended" if early else "")
            )
        calls = [summarize(r, waiter)["calls"] for r in results]
        parts.append(f"{', '.join(f'{c:,}' for c in calls)} calls over the whole wait")
        lines.append(f"- {label}: " + "; ".join(parts) + ".")
    lines.append(
        "- Why: both provider waiters read only the first page of `ListCommandInvocations` (at most 50 invocations) "
        "and never paginate; the sensor pokes that one page, the trigger then waits on those instances one by one "
        "with `GetCommandInvocation` (hence its bursts once each instance finishes). One call per poll is cheap "
        "only because they look at 50 of the instances."
    )
    early = [summarize(r, "provider trigger, started at once") for r in results]
    instant = [r["size"] for r, e in zip(results, early) if e["calls"] <= 1 and not e["noticed"]]
    lines.append(
        "- The provider trigger started right after SendCommand "
        + (f"got an empty invocation list and reported success at once at {', '.join(f'{x:,}' for x in instant)} instances "
           "(a Targets command lists no invocations until its targets resolve)."
           if instant else "saw the invocations in this run (the targets had already resolved by its first call); an "
           "earlier first call would get an empty list, which it reads as success.")
    )
    return lines
