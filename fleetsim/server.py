"""`python -m fleetsim serve`: moto's server with the simulated fleet, plus the /_fleetsim/ endpoints.

    GET    /_fleetsim/health        {"ok": true, "instances": N, ...}
    GET    /_fleetsim/stats         {"calls": {"ListCommands": 3, ...}, "throttled": {...}}
    DELETE /_fleetsim/stats         reset the counters (POST /_fleetsim/stats/reset does the same)
    POST   /_fleetsim/agents        {"instance_ids": ["i-..."], "ping_status": "ConnectionLost"}

Every AWS request is counted by action; SSM actions above the fleet spec's
`throttling` rate get `ThrottlingException` (HTTP 400), as SSM answers.
"""
from __future__ import annotations

import argparse
import io
import json
import logging
import os
import signal
import sys
import threading
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from urllib.parse import parse_qs

AMIS_PATH = Path(__file__).with_name("amis.json")
READY_PREFIX = "fleetsim: serving"


class TokenBucket:
    """`rate` requests per second with a burst of one second's worth."""

    def __init__(self, rate: float, monotonic=time.monotonic):
        self.rate = rate
        self.tokens = rate
        self._monotonic = monotonic
        self.updated = monotonic()

    def take(self) -> bool:
        now = self._monotonic()
        self.tokens = min(self.rate, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


def request_action(environ: dict) -> tuple[str, bool]:
    """(action name, is an SSM action); reads a form body without consuming it."""
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target:
        prefix, _, action = target.partition(".")
        return action, prefix == "AmazonSSM"
    if "application/x-www-form-urlencoded" in environ.get("CONTENT_TYPE", ""):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        action = parse_qs(body.decode("utf-8", "replace")).get("Action", [""])[0]
        if action:
            return action, False
    query_action = parse_qs(environ.get("QUERY_STRING", "")).get("Action", [""])[0]
    if query_action:
        return query_action, False
    return f"s3:{environ.get('REQUEST_METHOD', '')}", False


class FleetSimApp:
    def __init__(self, moto_app, backend, throttling: dict[str, float], lock):
        self.moto_app = moto_app
        self.backend = backend
        self.lock = lock
        self.throttling = throttling
        self.buckets: dict[str, TokenBucket] = {}
        self.calls: Counter = Counter()
        self.throttled: Counter = Counter()

    def _bucket(self, action: str) -> TokenBucket | None:
        rate = self.throttling.get(action, self.throttling.get("*"))
        if rate is None:
            return None
        if action not in self.buckets:
            self.buckets[action] = TokenBucket(rate)
        return self.buckets[action]

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO", "").startswith("/_fleetsim/"):
            return self._admin(environ, start_response)
        action, is_ssm = request_action(environ)
        with self.lock:
            self.calls[action] += 1
            bucket = self._bucket(action) if is_ssm else None
            if bucket is not None and not bucket.take():
                self.throttled[action] += 1
                body = json.dumps({"__type": "ThrottlingException", "message": "Rate exceeded"}).encode()
                start_response("400 Bad Request", [
                    ("Content-Type", "application/x-amz-json-1.1"),
                    ("x-amzn-ErrorType", "ThrottlingException"),
                    ("x-amzn-RequestId", f"fleetsim-{self.calls.total()}"),
                    ("Content-Length", str(len(body))),
                ])
                return [body]
            self.backend.commands()
            return list(self.moto_app(environ, start_response))

    def _admin(self, environ, start_response):
        path = environ["PATH_INFO"].rstrip("/")
        method = environ.get("REQUEST_METHOD", "GET")
        with self.lock:
            if path == "/_fleetsim/health" and method == "GET":
                return self._json(start_response, 200, self._health())
            if path == "/_fleetsim/stats" and method == "GET":
                return self._json(start_response, 200, {"calls": dict(sorted(self.calls.items())), "throttled": dict(sorted(self.throttled.items()))})
            if (path == "/_fleetsim/stats" and method == "DELETE") or (path == "/_fleetsim/stats/reset" and method == "POST"):
                self.calls.clear()
                self.throttled.clear()
                return self._json(start_response, 200, {"calls": {}, "throttled": {}})
            if path == "/_fleetsim/agents" and method == "POST":
                return self._set_agents(environ, start_response)
        return self._json(start_response, 404, {"error": f"no such fleetsim endpoint: {method} {path}"})

    def _health(self) -> dict:
        commands = self.backend.commands()
        return {"ok": True, "instances": len(self.backend.instances), "commands": len(commands.order),
                "simulated_seconds": round(self.backend.clock.now(), 3), "time_scale": self.backend.clock.time_scale}

    def _set_agents(self, environ, start_response):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        try:
            request = json.loads(environ["wsgi.input"].read(length) or b"{}")
        except ValueError:
            return self._json(start_response, 400, {"error": "expected a JSON body {\"instance_ids\": [...], \"ping_status\": ...}"})
        ids = request.get("instance_ids") if isinstance(request, dict) else None
        status = request.get("ping_status") if isinstance(request, dict) else None
        if status not in ("Online", "ConnectionLost", "Inactive"):
            return self._json(start_response, 400, {"error": f"ping_status: expected Online, ConnectionLost or Inactive, got {status!r}"})
        if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
            return self._json(start_response, 400, {"error": f"instance_ids: expected a non-empty list of instance ids, got {ids!r}"})
        unknown = [i for i in ids if i not in self.backend.instances]
        if unknown:
            return self._json(start_response, 400, {"error": f"instance_ids: not in the fleet: {', '.join(unknown)}"})
        self.backend.commands()
        for instance_id in ids:
            self.backend.instances[instance_id].ping_status = status
        log(f"agent ping status set to {status} on {len(ids)} instance(s)")
        return self._json(start_response, 200, {"updated": ids, "ping_status": status})

    @staticmethod
    def _json(start_response, status: int, payload: dict):
        body = json.dumps(payload).encode()
        reason = {200: "OK", 400: "Bad Request", 404: "Not Found"}[status]
        start_response(f"{status} {reason}", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]


def log(message: str) -> None:
    print(f"fleetsim {datetime.now().strftime('%H:%M:%S')} {message}", flush=True)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--fleet", required=True, help="fleet spec YAML (see fleetsim/README.md)")
    parser.add_argument("--port", type=int, default=5000, help="port to listen on; 0 picks a free one")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (0.0.0.0 in a container)")
    parser.add_argument("--seed", type=int, default=None, help="seed for ids and outcomes (default: the spec's seed, else 0)")
    parser.add_argument("--time-scale", type=float, default=1.0, help="simulated seconds per real second")


def serve(args: argparse.Namespace) -> int:
    from patchflow.errors import InvalidInput

    from fleetsim.spec import load_fleet

    if not args.time_scale > 0:
        print(f"fleetsim: --time-scale: expected a number > 0, got {args.time_scale}", file=sys.stderr)
        return 2
    try:
        spec = load_fleet(args.fleet)
    except InvalidInput as exc:
        print(f"fleetsim: {exc}", file=sys.stderr)
        return 2
    seed = args.seed if args.seed is not None else (spec.seed or 0)

    # Before moto is imported: only the three AMIs the fleet uses, so launching 10,000 instances stays fast.
    os.environ["MOTO_AMIS_PATH"] = str(AMIS_PATH)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import make_server

    from fleetsim import models
    from fleetsim.clock import SimClock

    started = time.monotonic()
    models.install()
    clock = SimClock(args.time_scale)
    backend = models.launch_fleet(spec, seed, clock, log)
    app = FleetSimApp(DomainDispatcherApplication(create_backend_app), backend, dict(spec.throttling), models.SIMULATION_LOCK)
    try:
        server = make_server(args.host, args.port, app, threaded=True, request_handler=MotoRequestHandler)
    except OSError as exc:
        print(f"fleetsim: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 2

    stop = threading.Event()

    def tick() -> None:
        while not stop.wait(0.2):
            with models.SIMULATION_LOCK:
                backend.commands()

    threading.Thread(target=tick, name="fleetsim-ticker", daemon=True).start()

    def on_signal(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    port = server.server_address[1]
    shown_host = "127.0.0.1" if args.host in ("0.0.0.0", "") else args.host
    log(f"{spec.instance_count} instances from {args.fleet} ready in {time.monotonic() - started:.1f}s")
    print(f"{READY_PREFIX} {spec.instance_count} instances on http://{shown_host}:{port} (seed {seed}, time scale {args.time_scale:g})", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        server.server_close()
        log("stopped")
    return 0
