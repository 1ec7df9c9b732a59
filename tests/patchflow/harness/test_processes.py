"""Process supervision: every process the end-to-end run starts is stopped by its PID, with what it forked."""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from patchflow.harness.processes import Processes


def test_stop_all_stops_each_process_and_what_it_forked(tmp_path):
    processes = Processes(tmp_path)
    child_pid_file = tmp_path / "child.pid"
    # A parent that ignores SIGTERM and leaves a child behind: both must be gone afterwards.
    script = (
        "import os, signal, subprocess, sys, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        f"child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\n"
        f"open({str(child_pid_file)!r}, 'w').write(str(child.pid))\n"
        "time.sleep(600)\n"
    )
    stubborn = processes.start("stubborn", [sys.executable, "-c", script], dict(os.environ))
    polite = processes.start("polite", [sys.executable, "-c", "import time; time.sleep(600)"], dict(os.environ))
    deadline = time.monotonic() + 30
    while not child_pid_file.exists() or not child_pid_file.read_text():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    child_pid = int(child_pid_file.read_text())
    lines = processes.stop_all(grace=1.0)
    assert lines == [f"polite (pid {polite.process.pid}) stopped", f"stubborn (pid {stubborn.process.pid}) killed after no exit in 1s"]
    assert stubborn.process.poll() is not None and polite.process.poll() is not None
    deadline = time.monotonic() + 10
    while _alive(child_pid):
        assert time.monotonic() < deadline, "the forked child outlived stop_all"
        time.sleep(0.05)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie waiting for its (dead) parent to be reaped counts as gone
    state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] if Path(f"/proc/{pid}/stat").exists() else "X"
    return state != "Z"

