"""fleetsim: a simulated EC2 fleet that answers like SSM Patch Manager and Run Command.

    with fleetsim.running("include/fleets/demo.yaml", seed=7, time_scale=120) as sim:
        ssm = sim.client("ssm")          # or set AWS_ENDPOINT_URL=sim.endpoint
        ssm.send_command(...)

The server runs as a subprocess (`python -m fleetsim serve`) on a free
loopback port and is always stopped when the block exits. See README.md for
the fleet spec and what is simulated.

A fleet may span accounts and Regions; clients pick theirs as AWS clients do:
`sim.client("ssm", region="eu-west-1")`, `sim.client("ssm", account="dev")`
(keys of an IAM user in that account), or `sim.client("ssm", credentials=creds)`
with the `Credentials` of an STS AssumeRole answer.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Mapping

PROJECT_ROOT = Path(__file__).resolve().parents[1]
READY_PREFIX = "fleetsim: serving"
DEFAULT_REGION = "us-east-1"
DEFAULT_KEYS = {"AccessKeyId": "fleetsim", "SecretAccessKey": "fleetsim"}  # moto answers unknown keys as 123456789012
# One boto3 session per thread makes every client (keys are given per client): a fresh session costs a few tenths of
# a second, and a test reaching several accounts and Regions makes many clients. boto3 sessions are not thread-safe.
_SESSIONS = threading.local()


def _boto3_session():
    import boto3

    if getattr(_SESSIONS, "session", None) is None:
        _SESSIONS.session = boto3.session.Session(aws_access_key_id=DEFAULT_KEYS["AccessKeyId"],
                                                  aws_secret_access_key=DEFAULT_KEYS["SecretAccessKey"], region_name=DEFAULT_REGION)
    return _SESSIONS.session


class FleetSimError(RuntimeError):
    """The server did not start; the message ends with its last output line."""


@dataclass(frozen=True)
class Running:
    endpoint: str
    port: int
    pid: int
    log_path: str

    def credentials(self, account: str | None = None) -> dict[str, str]:
        """Keys that call as `account` (an id, or an alias of the spec's accounts): an IAM user's there, created on first use.

        Without an account, the default account's (`fleetsim`/`fleetsim`, which moto answers as 123456789012).
        """
        if account is None:
            return dict(DEFAULT_KEYS)
        keys = self._call("POST", "/_fleetsim/credentials", {"account": account})
        return {"AccessKeyId": keys["AccessKeyId"], "SecretAccessKey": keys["SecretAccessKey"]}

    def _keys(self, account: str | None, credentials: Mapping[str, str] | None) -> Mapping[str, str]:
        if credentials is not None and account is not None:
            raise ValueError("give account or credentials, not both: credentials already name their account")
        return credentials if credentials is not None else self.credentials(account)

    def client(self, service: str, *, account: str | None = None, region: str | None = None,
               credentials: Mapping[str, str] | None = None, **kwargs):
        """A boto3 client for `service` aimed at this fleet: the default account and us-east-1 unless told otherwise.

        `credentials` are keys as STS answers them (AccessKeyId, SecretAccessKey, SessionToken), e.g. an AssumeRole's.
        """
        keys = self._keys(account, credentials)
        region_name = kwargs.pop("region_name", None) or region or DEFAULT_REGION
        return _boto3_session().client(service, endpoint_url=self.endpoint, region_name=region_name, aws_access_key_id=keys["AccessKeyId"],
                                       aws_secret_access_key=keys["SecretAccessKey"], aws_session_token=keys.get("SessionToken"), **kwargs)

    def env(self, *, account: str | None = None, region: str | None = None, credentials: Mapping[str, str] | None = None) -> dict[str, str]:
        """Environment variables that point AWS SDKs and the AWS CLI at this fleet (as `client` picks account and Region)."""
        keys = self._keys(account, credentials)
        env = {"AWS_ENDPOINT_URL": self.endpoint, "AWS_ACCESS_KEY_ID": keys["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": keys["SecretAccessKey"],
               "AWS_DEFAULT_REGION": region or DEFAULT_REGION}
        if keys.get("SessionToken"):
            env["AWS_SESSION_TOKEN"] = keys["SessionToken"]
        return env

    def aws_cli(self, *args: str, timeout: float = 120, account: str | None = None, region: str | None = None,
                credentials: Mapping[str, str] | None = None) -> subprocess.CompletedProcess:
        """The AWS CLI (`python -m awscli ARGS --output json`) run against this fleet, as a person would run it."""
        ours = self.env(account=account, region=region, credentials=credentials)
        # A session token left in the caller's environment would belong to other keys.
        env = {**{k: v for k, v in os.environ.items() if k != "AWS_SESSION_TOKEN"}, **ours}
        return subprocess.run([sys.executable, "-m", "awscli", *args, "--output", "json"], env=env,
                              capture_output=True, text=True, timeout=timeout)

    def _call(self, method: str, path: str, payload: dict | None = None) -> dict:
        data = json.dumps(payload).encode() if payload is not None else None
        request = urllib.request.Request(f"{self.endpoint}{path}", data=data, method=method, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            raise ValueError(json.loads(exc.read()).get("error", str(exc))) from None

    def stats(self) -> dict[str, int]:
        """API calls per action since start or the last reset."""
        return self._call("GET", "/_fleetsim/stats")["calls"]

    def api_calls(self, *, account: str | None = None, region: str | None = None) -> dict[str, int]:
        """Every AWS API call since start or the last reset, as `service:Action` -> count (ssm:SendCommand, s3:PutObject, sns:Publish, ...).

        With `account` (an id) and/or `region`, only the calls moto answered in that account and/or Region.
        """
        stats = self._call("GET", "/_fleetsim/stats")
        if account is None and region is None:
            return stats["api_calls"]
        counts: Counter = Counter()
        for called_account, regions in stats["api_calls_by_scope"].items():
            for called_region, calls in regions.items():
                if account in (None, called_account) and region in (None, called_region):
                    counts.update(calls)
        return dict(sorted(counts.items()))

    def reset_stats(self) -> None:
        self._call("DELETE", "/_fleetsim/stats")

    def set_ping_status(self, instance_ids: list[str], ping_status: str) -> None:
        self._call("POST", "/_fleetsim/agents", {"instance_ids": list(instance_ids), "ping_status": ping_status})

    def inject_fault(self, *, after_action: str, fail_action: str, after_count: int = 1, fail_count: int = 1,
                     status: int = 500, code: str = "InternalServerError", message: str = "injected by fleetsim",
                     accept_first: bool = False) -> dict:
        """After `after_count` calls of `after_action`, the next `fail_count` calls of `fail_action` fail.

        accept_first=True carries each failing call out before answering the error (an answer lost after AWS accepted the call).
        """
        return self._call("POST", "/_fleetsim/faults", {
            "after": {"action": after_action, "count": after_count},
            "fail": {"action": fail_action, "count": fail_count},
            "error": {"status": status, "code": code, "message": message},
            "accept_first": accept_first,
        })

    def faults(self) -> list[dict]:
        return self._call("GET", "/_fleetsim/faults")["faults"]


def _wait_ready(process: subprocess.Popen, log_path: Path, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = log_path.read_text(encoding="utf-8", errors="replace") if log_path.exists() else ""
        for line in text.splitlines():
            if line.startswith(READY_PREFIX):
                return int(line.split("http://", 1)[1].split(" ", 1)[0].rsplit(":", 1)[1])
        if process.poll() is not None:
            last = [line for line in text.splitlines() if line.strip()]
            raise FleetSimError(f"fleetsim exited with code {process.returncode}: {last[-1] if last else 'no output'}")
        time.sleep(0.05)
    raise FleetSimError(f"fleetsim did not answer within {timeout:.0f}s; see {log_path}")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


@contextmanager
def running(fleet: str | os.PathLike | Mapping, seed: int = 0, time_scale: float = 1.0, port: int | None = None,
            *, host: str = "127.0.0.1", startup_timeout: float = 120.0, tag_visibility_seconds: float = 0.0) -> Iterator[Running]:
    """Start `python -m fleetsim serve` for `fleet` (a path or a spec dict), yield once it answers, always stop it.

    `tag_visibility_seconds`: simulated seconds before an EC2 tag write reaches Run Command's target resolution (0: at once).
    An invalid fleet raises fleetsim.errors.InvalidInput before anything starts.
    """
    import yaml

    from fleetsim.spec import load_fleet

    workdir = Path(tempfile.mkdtemp(prefix="fleetsim-"))
    try:
        if isinstance(fleet, Mapping):
            load_fleet(fleet, "fleet")
            fleet_path = workdir / "fleet.yaml"
            fleet_path.write_text(yaml.safe_dump(dict(fleet), sort_keys=False), encoding="utf-8")
        else:
            fleet_path = Path(fleet)
            load_fleet(fleet_path)
        log_path = workdir / "server.log"
        command = [sys.executable, "-m", "fleetsim", "serve", "--fleet", str(fleet_path), "--port", str(port or 0),
                   "--host", host, "--seed", str(seed), "--time-scale", repr(float(time_scale)),
                   "--tag-visibility-seconds", repr(float(tag_visibility_seconds))]
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PROJECT_ROOT), env.get("PYTHONPATH", "")) if p)
        env["PYTHONUNBUFFERED"] = "1"
        with log_path.open("w") as log:
            process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, cwd=PROJECT_ROOT)
        try:
            bound = _wait_ready(process, log_path, startup_timeout)
            yield Running(endpoint=f"http://127.0.0.1:{bound}", port=bound, pid=process.pid, log_path=str(log_path))
        finally:
            _stop(process)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
