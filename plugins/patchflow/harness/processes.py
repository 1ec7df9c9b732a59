"""Process supervision for the end-to-end run: every process it starts, in its own session, stopped by PID.

Also the waiting (`wait_for`), the logs' last lines for error messages (`tail`)
and the one-line progress output (`step`) that the other harness modules share.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

from patchflow.core.yamlfile import PROJECT_ROOT


class SetupError(Exception):
    """One line: why the topology could not be started."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Started:
    name: str
    process: subprocess.Popen
    log_path: Path


class Processes:
    """Every process this command started, each in its own session, stopped by its PID in reverse order."""

    def __init__(self, log_dir: Path):
        self.log_dir = log_dir
        self.started: list[Started] = []

    def start(self, name: str, argv: list[str], env: Mapping[str, str], *, user: str | None = None, cwd: Path = PROJECT_ROOT) -> Started:
        log_path = self.log_dir / f"{name}.log"
        with log_path.open("ab") as log:
            process = subprocess.Popen(
                argv, env=dict(env), cwd=cwd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, user=user
            )
        started = Started(name, process, log_path)
        self.started.append(started)
        print(f"    started {name} (pid {process.pid})", flush=True)
        return started

    def check_alive(self) -> None:
        for s in self.started:
            if s.process.poll() is not None:
                raise SetupError(f"{s.name} (pid {s.process.pid}) exited with code {s.process.returncode}; last lines of {s.log_path}:\n{tail(s.log_path)}")

    def stop_all(self, grace: float = 30.0) -> list[str]:
        """SIGTERM each PID (newest first), wait, then SIGKILL what is left of its process group. Returns a line per process."""
        return [self.stop(s, grace) for s in reversed(list(self.started))]

    def stop(self, s: Started, grace: float = 30.0) -> str:
        """Stops one process this command started (see stop_all) and forgets it; returns a line saying how it went."""
        pid = s.process.pid
        if s.process.poll() is None:
            s.process.send_signal(signal.SIGINT if s.name == "postgres" else signal.SIGTERM)
            try:
                s.process.wait(timeout=grace)
                how = "stopped"
            except subprocess.TimeoutExpired:
                how = "killed after no exit in %.0fs" % grace
        else:
            how = f"had already exited ({s.process.returncode})"
        # Children it forked (Celery pool, task supervisors, API workers) share its session, i.e. process group `pid`.
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if s.process.poll() is None:
            s.process.wait(timeout=10)
        self.started.remove(s)
        return f"{s.name} (pid {pid}) {how}"


def tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join("      " + line for line in text[-lines:])


def wait_for(what: str, probe: Callable[[], Any], timeout: float, processes: Processes | None = None, interval: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout
    last_error = None
    while time.monotonic() < deadline:
        if processes is not None:
            processes.check_alive()
        try:
            result = probe()
            if result:
                return result
        except Exception as exc:  # not ready yet
            last_error = exc
        time.sleep(interval)
    raise SetupError(f"{what} not ready within {timeout:.0f}s" + (f" (last error: {last_error})" if last_error else ""))


def step(title: str) -> None:
    print(f"==> {title}", flush=True)

