"""How much fleetsim serves at fleet scale: one command prints a table.

    .venv/bin/python bench/fleetsim_capacity.py [--fleet include/fleets/scale-10k.yaml] [--seconds 2]
    .venv/bin/python bench/fleetsim_capacity.py --fleet include/fleets/scale-100k.yaml

Starts fleetsim on the fleet (10,000 instances by default; scale-100k.yaml is the
rehearsal's dev 2,000 / test 8,000 / prod 90,000), times the fleet load and one
Install across every instance (MaxConcurrency 100%), then measures requests
per second for the APIs a rollout polls, how long reading every page takes, and
the server's resident memory. The figures go in the "fleetsim capacity at N
instances" section of docs/benchmarks.md, one section per fleet size;
nothing here asserts on time.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parents[1] / "plugins"), str(Path(__file__).resolve().parent)]

import fleetsim  # noqa: E402
import report_doc  # noqa: E402
from fleetsim.spec import load_fleet  # noqa: E402


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    """Resident memory of a process in MB: now (VmRSS) or its peak so far (VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def section_name(instance_count: int) -> str:
    """The doc section of a fleet size: the 10,000-instance one keeps the name it always had."""
    return "fleetsim_capacity" if instance_count == 10_000 else f"fleetsim_capacity_{instance_count // 1000}k"


def timed_pages(pages) -> tuple[float, int, int]:
    """(seconds, pages, items) to walk a paginator's pages one after the other."""
    started, count, items = time.perf_counter(), 0, 0
    for items_on_page in pages:
        count += 1
        items += items_on_page
    return time.perf_counter() - started, count, items


def rate(call, seconds: float) -> tuple[float, int]:
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        call()
        count += 1
    return count / (time.perf_counter() - started), count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fleet", default="include/fleets/scale-10k.yaml")
    parser.add_argument("--seconds", type=float, default=2.0, help="how long to hammer each API")
    parser.add_argument("--time-scale", type=float, default=1000.0)
    parser.add_argument("--no-doc", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = parser.parse_args()
    run_started = time.perf_counter()
    instance_count = load_fleet(args.fleet).instance_count

    rows: list[tuple[str, str]] = []
    started = time.perf_counter()
    with fleetsim.running(args.fleet, seed=11, time_scale=args.time_scale, startup_timeout=600) as sim:
        rows.append(("fleet load until answering", f"{time.perf_counter() - started:.1f} s"))
        rows.append(("server RSS after load", f"{rss_mb(sim.pid):.0f} MB"))
        ssm = sim.client("ssm")
        instances: list[str] = []

        def instance_pages():
            for page in ssm.get_paginator("describe_instance_information").paginate(PaginationConfig={"PageSize": 50}):
                instances.extend(i["InstanceId"] for i in page["InstanceInformationList"])
                yield len(page["InstanceInformationList"])

        seconds, pages, _ = timed_pages(instance_pages())
        rows.append(("instances", f"{len(instances):,}"))
        rows.append(("DescribeInstanceInformation, every page of 50", f"{seconds:.1f} s ({pages:,} pages, {seconds / pages * 1000:.1f} ms a page)"))

        started = time.perf_counter()
        command_id = ssm.send_command(DocumentName="AWS-RunPatchBaseline", Targets=[{"Key": "tag-key", "Values": ["Patch Group"]}],
                                      Parameters={"Operation": ["Install"]}, MaxConcurrency="100%", MaxErrors="100%")["Command"]["CommandId"]
        polls = 0
        while (command := ssm.list_commands(CommandId=command_id)["Commands"][0])["Status"] not in ("Success", "Failed", "TimedOut", "Cancelled"):
            polls += 1
            time.sleep(0.2)
        rows.append(("one Install on every instance", f"{time.perf_counter() - started:.1f} s ({command['Status']}/{command['StatusDetails']}, "
                     f"{command['CompletedCount']:,} complete, {command['ErrorCount']} errors, {polls} polls)"))
        rows.append(("server RSS after the install", f"{rss_mb(sim.pid):.0f} MB"))
        invocation_pages = (len(page["CommandInvocations"]) for page in ssm.get_paginator("list_command_invocations").paginate(
            CommandId=command_id, Details=True, PaginationConfig={"PageSize": 50}))
        read_seconds, read_pages, read_items = timed_pages(invocation_pages)
        rows.append(("ListCommandInvocations, every page of 50 with Details",
                     f"{read_seconds:.1f} s ({read_pages:,} pages, {read_items:,} invocations, {read_seconds / read_pages * 1000:.1f} ms a page)"))

        batch = instances[:50]
        probes = {
            "ListCommands (one command)": lambda: ssm.list_commands(CommandId=command_id),
            "ListCommands (page of 50)": lambda: ssm.list_commands(MaxResults=50),
            "ListCommandInvocations (page of 50, Details)": lambda: ssm.list_command_invocations(CommandId=command_id, MaxResults=50, Details=True),
            "GetCommandInvocation": lambda: ssm.get_command_invocation(CommandId=command_id, InstanceId=batch[0], PluginName="PatchLinux"),
            "DescribeInstanceInformation (page of 50)": lambda: ssm.describe_instance_information(MaxResults=50),
            "DescribeInstancePatchStates (50 ids)": lambda: ssm.describe_instance_patch_states(InstanceIds=batch, MaxResults=50),
            "DescribeInstancePatchStatesForPatchGroup (100)": lambda: ssm.describe_instance_patch_states_for_patch_group(PatchGroup="dev", MaxResults=100),
            "SendCommand (50 ids, Scan)": lambda: ssm.send_command(DocumentName="AWS-RunPatchBaseline", InstanceIds=batch, Parameters={"Operation": ["Scan"]}),
        }
        rates: dict[str, float] = {}
        for name, call in probes.items():
            per_second, count = rate(call, args.seconds)
            rates[name] = per_second
            rows.append((f"{name}", f"{per_second:,.0f} req/s ({count} calls)"))
        rows.append(("server RSS at the end", f"{rss_mb(sim.pid):.0f} MB"))
        rows.append(("server peak RSS (VmHWM)", f"{rss_mb(sim.pid, 'VmHWM'):.0f} MB"))

    report_doc.print_table(("measure", "result"), rows)
    if not args.no_doc:
        body = "\n".join([
            f"fleetsim serving `{args.fleet}` ({rows[2][1]} instances) at time scale {args.time_scale:g}: fleet load, one "
            "Install on every instance (MaxConcurrency 100%, MaxErrors 100%), then each API below called "
            f"back to back for {args.seconds:g} s from one client (requests per second, one connection, so this is "
            "latency-bound, not the server's parallel ceiling), and the server's resident memory.",
            "",
            report_doc.markdown_table(("measure", "result"), rows),
            "",
            f"What it means for the other benchmarks: at {instance_count:,} instances one `ListCommands` costs the same as at 10 "
            f"(counters are kept incrementally; {rates['ListCommands (one command)']:,.0f} req/s), and a page of 50 "
            f"invocations with details runs at {rates['ListCommandInvocations (page of 50, Details)']:,.0f} req/s whatever "
            f"the page's depth (a page is sliced, not found by a pass over the fleet). Reading every invocation of the "
            f"{instance_count:,}-instance command ({read_pages:,} pages) took {read_seconds:.0f} s, which is why our "
            "waiter polls counters and reads the invocations only once, after the command ends.",
        ])
        report_doc.write_section(section_name(instance_count), f"fleetsim capacity at {instance_count:,} instances", body,
                                 runtime_seconds=time.perf_counter() - run_started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
