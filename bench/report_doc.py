"""Shared by the bench/ scripts: print a table and write one script's section of docs/benchmarks.md.

Each script owns one section, delimited by HTML comments
(`<!-- bench:NAME -->` ... `<!-- /bench:NAME -->`), and replaces only that
section, so scripts can run in any order (even at the same time: the file is
rewritten under an exclusive lock) and the other sections keep their figures.
"""
from __future__ import annotations

import contextlib
import datetime
import fcntl
import os
import platform
import re
import shlex
import sys
import tempfile
from pathlib import Path
from typing import Iterator, Sequence

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DOC = PROJECT_ROOT / "docs" / "benchmarks.md"

# Sections appear in this order; a script not listed here appends its section at the end.
ORDER = ("waiting_cost", "gate_eval", "dag_parse", "rehearsal", "rehearsal-100000", "load", "fleetsim_capacity", "fleetsim_capacity_100k", "page_scale")

HEADER = """# Benchmarks

Measured figures for the claims the project makes about scale. Every section
below is written by one script under `bench/` (run it to refresh just that
section) and says which command made it, on which machine and when. Nothing
here is asserted in tests: timings on a shared machine are evidence, not
pass/fail checks.

**Noise.** The figures come from a 2-core machine that other engineers use
for test runs at the same time, so wall-clock timings can be off by tens of
percent from one run to the next. API call counts are exact and do not depend
on load. Sections that take a median say how many runs it was over.

Rerun everything (about 15 minutes in total, one script after the other):

```
.venv/bin/python bench/waiting_cost.py
.venv/bin/python bench/gate_eval.py
.venv/bin/python bench/dag_parse.py
.venv/bin/python bench/rehearsal.py
.venv/bin/python bench/fleetsim_capacity.py
.venv/bin/python bench/fleetsim_capacity.py --fleet include/fleets/scale-100k.yaml
.venv/bin/python bench/page_scale.py
```

The 100,000-instance rehearsal is run on its own (`.venv/bin/python bench/rehearsal.py --scale 100000 --polls 15`), and so
is the load case on the Celery topology (`.venv/bin/python bench/load.py`, about 13 minutes).
"""


def machine() -> dict[str, str]:
    """Where the figures were measured: CPU count and model, Python, OS, date (UTC)."""
    model = platform.processor() or "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory = ""
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f", {int(line.split()[1]) / 1024 / 1024:.1f} GB RAM"
    return {
        "cpus": f"{os.cpu_count()} x {model}{memory}",
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "os": f"{platform.system()} {platform.release()}",
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


def command_line() -> str:
    """The command that ran this script, as someone would type it from the project root."""
    script = Path(sys.argv[0]).resolve()
    shown = script.relative_to(PROJECT_ROOT) if script.is_relative_to(PROJECT_ROOT) else script
    return " ".join([".venv/bin/python", str(shown), *(shlex.quote(a) for a in sys.argv[1:])])


def _cell(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(_cell(h) for h in headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def text_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    out = ["  ".join(c.ljust(w) for c, w in zip(cells[0], widths)).rstrip(), "  ".join("-" * w for w in widths)]
    out += ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells[1:]]
    return "\n".join(out)


def print_table(headers: Sequence[str], rows: Sequence[Sequence[object]], title: str | None = None) -> None:
    if title:
        print(f"\n{title}")
    print(text_table(headers, rows), flush=True)


def target_line(name: str, met: bool, detail: str) -> str:
    """One bullet for the doc: `- **met** ...` or `- **MISSED** ...`."""
    return f"- {'**met**' if met else '**MISSED**'}: {name}: {detail}"


def section(name: str, title: str, body: str, *, runtime_seconds: float | None = None, extra_machine: str = "") -> str:
    info = machine()
    ran = f" in {runtime_seconds:.0f} s" if runtime_seconds is not None else ""
    lines = [
        f"<!-- bench:{name} -->",
        f"## {title}",
        "",
        f"Command: `{command_line()}` (ran{ran}, {info['date']}).  ",
        f"Machine: {info['cpus']}; {info['python']}; {info['os']}{extra_machine}.",
        "",
        body.strip(),
        f"<!-- /bench:{name} -->",
    ]
    return "\n".join(lines)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    # The lock file lives outside the repository so it never shows up in `git status`.
    with open(Path(tempfile.gettempdir()) / f"patchflow-{path.stem}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


_SECTION = re.compile(r"<!-- bench:(?P<name>[\w-]+) -->.*?<!-- /bench:(?P=name) -->", re.S)


def _sections(text: str) -> dict[str, str]:
    return {m.group("name"): m.group(0) for m in _SECTION.finditer(text)}


_TARGET = re.compile(r"^- \*\*(met|MISSED)\*\*: (.*)$", re.M)


def at_a_glance(sections: dict[str, str], ordered: list[str]) -> str:
    """Every section's target lines, collected under its title, so the doc opens with the verdicts."""
    lines = ["## Targets at a glance", "", "Collected from the sections below (each is as fresh as its own date).", ""]
    for name in ordered:
        text = sections[name]
        title = next((line[3:] for line in text.splitlines() if line.startswith("## ")), name)
        for verdict, detail in _TARGET.findall(text):
            lines.append(f"- {'**met**' if verdict == 'met' else '**MISSED**'} ({title}): {detail}")
    return "\n".join(lines)


def write_section(name: str | None, title: str = "", body: str = "", *, runtime_seconds: float | None = None,
                  extra_machine: str = "", doc: Path = DOC) -> Path:
    """Replace (or add) section `name` of the benchmarks doc, keeping every other section as it is.

    `name=None` only re-renders the doc (header and targets at a glance) from the sections it holds.
    """
    with _locked(doc):
        existing = _sections(doc.read_text(encoding="utf-8")) if doc.exists() else {}
        if name is not None:
            existing[name] = section(name, title, body, runtime_seconds=runtime_seconds, extra_machine=extra_machine)
        ordered = [n for n in ORDER if n in existing] + sorted(n for n in existing if n not in ORDER)
        parts = [HEADER.rstrip(), at_a_glance(existing, ordered), *(existing[n] for n in ordered)]
        text = "\n\n".join(parts) + "\n"
        temporary = doc.with_suffix(".md.partial")
        temporary.write_text(text, encoding="utf-8")
        temporary.replace(doc)
    print(f"\nwrote {f'section {name!r} of ' if name else ''}{doc.relative_to(PROJECT_ROOT) if doc.is_relative_to(PROJECT_ROOT) else doc}", flush=True)
    return doc
