"""`python -m fleetsim serve`: moto's server with the simulated fleet, plus the /_fleetsim/ endpoints.

    GET    /_fleetsim/health        {"ok": true, "instances": N, ...}
    GET    /_fleetsim/stats         {"calls": {"ListCommands": 3, ...}, "throttled": {...},
                                     "api_calls": {"ssm:ListCommands": 3, "s3:PutObject": 1, ...},
                                     "api_calls_by_scope": {"111111111111": {"us-east-1": {"ssm:ListCommands": 1}}}}
    DELETE /_fleetsim/stats         reset the counters (POST /_fleetsim/stats/reset does the same)
    POST   /_fleetsim/agents        {"instance_ids": ["i-..."], "ping_status": "ConnectionLost"}
    POST   /_fleetsim/credentials   {"account": "111111111111"} (or an alias): keys of an IAM user there
    POST   /moto-api/reset          moto's reset; the fleet is then rebuilt as it was at start

Every AWS request is counted by action, and again as `service:Action` (the
service from the SigV4 credential scope, S3 operations named from the method,
path and query) so a test can list every API a client used, in all and per
account and Region (the ones moto answers it in, fleetsim.identity); SSM actions
above the fleet spec's `throttling` rate, per account and Region as SSM counts
them, get `ThrottlingException` (HTTP 400), as SSM answers. STS AssumeRole is
refused where AWS would refuse it (fleetsim.assume_role) before moto grants it.
"""
from __future__ import annotations

import argparse
import io
import json
import logging
import os
import re
import signal
import sys
import threading
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from urllib.parse import parse_qs

from fleetsim.accounts import account_id_of
from fleetsim.faults import Fault, parse_fault

AMIS_PATH = Path(__file__).with_name("amis.json")
READY_PREFIX = "fleetsim: serving"


class TokenBucket:
    """`rate` requests per second with a burst of one second's worth, and at least one request
    (a rate below one a second still answers a call now and then)."""

    def __init__(self, rate: float, monotonic=time.monotonic):
        self.rate = rate
        self.burst = max(1.0, rate)
        self.tokens = self.burst
        self._monotonic = monotonic
        self.updated = monotonic()

    def take(self) -> bool:
        now = self._monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


class InFlight:
    """Requests received and not yet answered, and the most there were at once since start or the last reset.

    Counted before a request waits for the simulation lock: what a client side had in flight together,
    however fleetsim then serialises the work.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self.now = 0
        self.peak = 0

    def __enter__(self) -> "InFlight":
        with self._lock:
            self.now += 1
            self.peak = max(self.peak, self.now)
        return self

    def __exit__(self, *exc_info) -> None:
        with self._lock:
            self.now -= 1

    def reset_peak(self) -> None:
        with self._lock:
            self.peak = self.now


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


TARGET_PREFIX_SERVICES = {"AmazonSSM": "ssm"}
CREDENTIAL_SCOPE = re.compile(r"Credential=[^/,\s]+/\d{8}/[^/]+/([a-z0-9-]+)/aws4_request")
S3_BUCKET_SUBRESOURCES = {
    "acl": "Acl", "cors": "Cors", "encryption": "Encryption", "lifecycle": "LifecycleConfiguration", "location": "Location",
    "logging": "Logging", "notification": "NotificationConfiguration", "ownershipControls": "OwnershipControls",
    "policy": "Policy", "publicAccessBlock": "PublicAccessBlock", "tagging": "Tagging", "versioning": "Versioning",
    "website": "Website", "object-lock": "ObjectLockConfiguration", "replication": "Replication",
}


def request_service(environ: dict) -> str:
    """The service a request is for: its SigV4 credential scope, else its X-Amz-Target prefix, else 'unknown'."""
    scope = CREDENTIAL_SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
    if scope:
        return scope.group(1)
    credential = parse_qs(environ.get("QUERY_STRING", "")).get("X-Amz-Credential", [""])[0]
    parts = credential.split("/")
    if len(parts) == 5 and parts[4] == "aws4_request":
        return parts[3]
    prefix = environ.get("HTTP_X_AMZ_TARGET", "").partition(".")[0]
    return TARGET_PREFIX_SERVICES.get(prefix, "unknown")


def s3_operation(environ: dict) -> str:
    """The S3 API operation of a path-style request (PutObject, ListObjectsV2, HeadBucket, ...)."""
    method = environ.get("REQUEST_METHOD", "GET").upper()
    bucket, _, key = environ.get("PATH_INFO", "/").lstrip("/").partition("/")
    query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    verbs = {"GET": "Get", "PUT": "Put", "DELETE": "Delete"}
    if not bucket:
        return "ListBuckets" if method == "GET" else f"{method}Service"
    if not key:
        for name, suffix in S3_BUCKET_SUBRESOURCES.items():
            if name in query and method in verbs:
                return f"{verbs[method]}Bucket{suffix}"
        if method == "POST" and "delete" in query:
            return "DeleteObjects"
        if method == "GET" and "uploads" in query:
            return "ListMultipartUploads"
        if method == "GET" and "versions" in query:
            return "ListObjectVersions"
        return {"GET": "ListObjectsV2" if query.get("list-type") == ["2"] else "ListObjects",
                "PUT": "CreateBucket", "HEAD": "HeadBucket", "DELETE": "DeleteBucket"}.get(method, f"{method}Bucket")
    if "tagging" in query and method in verbs:
        return f"{verbs[method]}ObjectTagging"
    if "acl" in query and method in ("GET", "PUT"):
        return f"{verbs[method]}ObjectAcl"
    if method == "POST" and "uploads" in query:
        return "CreateMultipartUpload"
    if "uploadId" in query:
        return {"PUT": "UploadPart", "POST": "CompleteMultipartUpload", "DELETE": "AbortMultipartUpload", "GET": "ListParts"}.get(method, f"{method}Object")
    if method == "PUT" and environ.get("HTTP_X_AMZ_COPY_SOURCE"):
        return "CopyObject"
    return {"GET": "GetObject", "PUT": "PutObject", "HEAD": "HeadObject", "DELETE": "DeleteObject"}.get(method, f"{method}Object")


def request_api_call(environ: dict) -> str:
    """`service:Action` of an AWS request, e.g. ssm:SendCommand, sns:Publish, s3:PutObject (call after request_action)."""
    service = request_service(environ)
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target:
        return f"{service}:{target.partition('.')[2]}"
    action = ""
    if "application/x-www-form-urlencoded" in environ.get("CONTENT_TYPE", ""):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        action = parse_qs(body.decode("utf-8", "replace")).get("Action", [""])[0]
    action = action or parse_qs(environ.get("QUERY_STRING", "")).get("Action", [""])[0]
    if action:
        return f"{service}:{action}"
    if service in ("s3", "unknown"):
        return f"s3:{s3_operation(environ)}"
    return f"{service}:{environ.get('REQUEST_METHOD', '')} {environ.get('PATH_INFO', '')}"


# EC2 writes whose effect on Run Command's target resolution may lag (fleetsim.models.FleetSSMBackend.tags_changed).
TAG_WRITES = frozenset({"ec2:CreateTags", "ec2:DeleteTags"})


def tagged_resources(body: bytes) -> list[str]:
    """The resource ids an EC2 CreateTags or DeleteTags query request names (ResourceId.1, ResourceId.2, ...)."""
    form = parse_qs(body.decode("utf-8", "replace"))
    return [values[0] for key, values in form.items() if key.startswith("ResourceId.") and values]


def read_body(environ: dict) -> bytes:
    """The request body, left in place for whoever reads it next."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(body)
    return body


class FleetSimApp:
    def __init__(self, moto_app, fleet, throttling: dict[str, float], lock, relaunch):
        self.moto_app = moto_app
        self.fleet = fleet  # fleetsim.models.LaunchedFleet
        # Builds the fleet again from its spec, seed and time scale once moto has emptied its backends.
        self.relaunch = relaunch
        self.lock = lock
        self.throttling = throttling
        self.buckets: dict[tuple[str, str, str], TokenBucket] = {}
        self.calls: Counter = Counter()
        self.api_calls: Counter = Counter()
        self.scope_calls: Counter = Counter()  # (account, Region, service:Action)
        self.throttled: Counter = Counter()
        self.faults: list[Fault] = []
        self.ssm_in_flight = InFlight()

    def _bucket(self, scope: tuple[str, str], action: str) -> TokenBucket | None:
        rate = self.throttling.get(action, self.throttling.get("*"))
        if rate is None:
            return None
        key = (*scope, action)  # SSM's request rates are per account and Region
        if key not in self.buckets:
            self.buckets[key] = TokenBucket(rate)
        return self.buckets[key]

    def _clear_counters(self) -> None:
        for counter in (self.calls, self.api_calls, self.scope_calls, self.throttled):
            counter.clear()
        self.ssm_in_flight.reset_peak()

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO", "").startswith("/_fleetsim/"):
            return self._admin(environ, start_response)
        if environ.get("PATH_INFO", "").startswith("/moto-api"):
            return self._moto_api(environ, start_response)
        action, is_ssm = request_action(environ)
        if not is_ssm:
            return self._answer(environ, start_response, action, is_ssm)
        with self.ssm_in_flight:
            return self._answer(environ, start_response, action, is_ssm)

    def _answer(self, environ, start_response, action: str, is_ssm: bool):
        from fleetsim.identity import assume_role_refusal, request_scope

        api_call = request_api_call(environ)
        with self.lock:
            scope = request_scope(environ)
            self.calls[action] += 1
            self.api_calls[api_call] += 1
            self.scope_calls[(*scope, api_call)] += 1
            injected = next((f for f in self.faults if f.observe(action)), None)
            if injected is not None:
                if injected.accept_first:
                    # The request takes effect as if AWS had accepted it; only its answer is lost.
                    self.fleet.advance()
                    list(self.moto_app(environ, lambda status, headers, exc_info=None: None))
                return self._injected_error(injected, action, start_response)
            if api_call == "sts:AssumeRole":
                refused = assume_role_refusal(environ, read_body(environ), self.fleet.spec.accounts)
                if refused is not None:
                    log(f"AssumeRole refused: {refused.code}: {refused.message}")
                    body = refused.body(f"fleetsim-{self.calls.total()}")
                    reason = {400: "Bad Request", 403: "Forbidden"}[refused.status]
                    start_response(f"{refused.status} {reason}", [("Content-Type", "text/xml"), ("Content-Length", str(len(body)))])
                    return [body]
            bucket = self._bucket(scope, action) if is_ssm else None
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
            self.fleet.advance()
            backend = self.fleet.backends.get(scope) if api_call in TAG_WRITES else None
            if backend is None or not backend.settings.tag_visibility_seconds:
                return list(self.moto_app(environ, start_response))
            before = backend.tags_before_change(tagged_resources(read_body(environ)))
            answer = list(self.moto_app(environ, start_response))
            backend.tags_changed(before)
            return answer

    def _moto_api(self, environ, start_response):
        """moto's own control API: not an AWS call, so never counted, throttled or failed by a fault.

        Its reset (what moto's server-mode tests send before and after each test) drops every backend;
        the fleet is then served as it was at start: same instances, a fresh clock, no counters or faults.
        """
        with self.lock:
            body = list(self.moto_app(environ, start_response))
            if self._dropped_by_moto():
                self.fleet = self.relaunch()
                self._clear_counters()
                self.buckets.clear()
                self.faults.clear()
                log(f"moto reset: fleet rebuilt, {self.fleet.instance_count} instances "
                    f"(seed {self.fleet.seed}, time scale {self.fleet.clock.time_scale:g})")
        return body

    def _dropped_by_moto(self) -> bool:
        from moto.ssm.models import ssm_backends

        # dict.get: moto's registries build a fresh backend on a missing key, which would hide the reset.
        default = self.fleet.default
        regions = dict.get(ssm_backends, default.account_id) or {}
        return dict.get(regions, default.region_name) is not default

    def _admin(self, environ, start_response):
        path = environ["PATH_INFO"].rstrip("/")
        method = environ.get("REQUEST_METHOD", "GET")
        with self.lock:
            if path == "/_fleetsim/health" and method == "GET":
                return self._json(start_response, 200, self._health())
            if path == "/_fleetsim/stats" and method == "GET":
                by_scope: dict = {}
                for (account, region, api_call), count in sorted(self.scope_calls.items()):
                    by_scope.setdefault(account, {}).setdefault(region, {})[api_call] = count
                return self._json(start_response, 200, {"calls": dict(sorted(self.calls.items())), "throttled": dict(sorted(self.throttled.items())),
                                                        "api_calls": dict(sorted(self.api_calls.items())), "api_calls_by_scope": by_scope,
                                                        "ssm_in_flight_peak": self.ssm_in_flight.peak})
            if (path == "/_fleetsim/stats" and method == "DELETE") or (path == "/_fleetsim/stats/reset" and method == "POST"):
                self._clear_counters()
                return self._json(start_response, 200, {"calls": {}, "throttled": {}, "api_calls": {}, "api_calls_by_scope": {},
                                                        "ssm_in_flight_peak": self.ssm_in_flight.peak})
            if path == "/_fleetsim/faults" and method == "POST":
                return self._add_fault(environ, start_response)
            if path == "/_fleetsim/faults" and method == "GET":
                return self._json(start_response, 200, {"faults": [f.to_json() for f in self.faults]})
            if path == "/_fleetsim/faults" and method == "DELETE":
                self.faults.clear()
                return self._json(start_response, 200, {"faults": []})
            if path == "/_fleetsim/agents" and method == "POST":
                return self._set_agents(environ, start_response)
            if path == "/_fleetsim/credentials" and method == "POST":
                return self._credentials(environ, start_response)
        return self._json(start_response, 404, {"error": f"no such fleetsim endpoint: {method} {path}"})

    def _health(self) -> dict:
        fleet = self.fleet
        health = {"ok": True, "instances": fleet.instance_count, "commands": fleet.command_count(),
                  "simulated_seconds": round(fleet.clock.now(), 3), "time_scale": fleet.clock.time_scale}
        if len(fleet.backends) > 1:
            health["scopes"] = [{"account": account, "region": region, "instances": len(backend.instances), "commands": len(backend.commands().order)}
                                for (account, region), backend in fleet.backends.items()]
        return health

    def _credentials(self, environ, start_response):
        from fleetsim.identity import operator_keys

        try:
            request = json.loads(read_body(environ) or b"{}")
        except ValueError:
            request = None
        wanted = request.get("account") if isinstance(request, dict) else None
        aliases = {a.alias: a.id for a in self.fleet.spec.accounts if a.alias}
        account = account_id_of(wanted) or (aliases.get(wanted) if isinstance(wanted, str) else None)
        if account is None:
            known = f" ({', '.join(aliases)})" if aliases else ""
            return self._json(start_response, 400, {"error": f"account: expected a 12-digit account id or an alias of the fleet's accounts{known}, "
                                                             f"got {wanted!r}"})
        return self._json(start_response, 200, {"Account": account, **operator_keys(account)})

    def _add_fault(self, environ, start_response):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        try:
            fault = parse_fault(json.loads(environ["wsgi.input"].read(length) or b"{}"))
        except ValueError as exc:
            return self._json(start_response, 400, {"error": str(exc)})
        self.faults.append(fault)
        log(f"fault armed: after {fault.after_count} {fault.after_action}, fail {fault.fail_count} {fault.fail_action} with {fault.code}")
        return self._json(start_response, 200, fault.to_json())

    @staticmethod
    def _injected_error(fault: Fault, action: str, start_response):
        log(f"injected {fault.code} on {action}")
        reason = {400: "Bad Request", 403: "Forbidden", 500: "Internal Server Error", 503: "Service Unavailable"}.get(fault.status, "Error")
        if action.startswith("s3:"):
            body = f"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{fault.code}</Code><Message>{fault.message}</Message></Error>".encode()
            content_type = "application/xml"
        else:
            body = json.dumps({"__type": fault.code, "message": fault.message}).encode()
            content_type = "application/x-amz-json-1.1"
        start_response(f"{fault.status} {reason}", [("Content-Type", content_type), ("x-amzn-ErrorType", fault.code), ("Content-Length", str(len(body)))])
        return [body]

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
        unknown = [i for i in ids if self.fleet.instance(i) is None]
        if unknown:
            return self._json(start_response, 400, {"error": f"instance_ids: not in the fleet: {', '.join(unknown)}"})
        self.fleet.advance()
        for instance_id in ids:
            self.fleet.instance(instance_id).ping_status = status
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
    parser.add_argument("--tag-visibility-seconds", type=float, default=0.0,
                        help="simulated seconds before an EC2 CreateTags/DeleteTags reaches Run Command's target resolution "
                             "(default 0: at once; see fleetsim/FIDELITY.md)")


def _remember_moto_modules() -> None:
    """moto's dispatcher lists its own package folder (a stat per service) on every request to find the service a
    host names; the folder does not change while the server runs, so the list is read once."""
    from moto import backends

    modules = tuple(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: modules


def serve(args: argparse.Namespace) -> int:
    from fleetsim.errors import InvalidInput
    from fleetsim.spec import load_fleet

    if not args.time_scale > 0:
        print(f"fleetsim: --time-scale: expected a number > 0, got {args.time_scale}", file=sys.stderr)
        return 2
    if not args.tag_visibility_seconds >= 0:
        print(f"fleetsim: --tag-visibility-seconds: expected a number of simulated seconds >= 0, got {args.tag_visibility_seconds}", file=sys.stderr)
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

    def launch():
        return models.launch_fleet(spec, seed, SimClock(args.time_scale), log, tag_visibility_seconds=args.tag_visibility_seconds)

    started = time.monotonic()
    models.install()
    _remember_moto_modules()
    app = FleetSimApp(DomainDispatcherApplication(create_backend_app), launch(), dict(spec.throttling), models.SIMULATION_LOCK, relaunch=launch)
    try:
        server = make_server(args.host, args.port, app, threaded=True, request_handler=MotoRequestHandler)
    except OSError as exc:
        print(f"fleetsim: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 2

    stop = threading.Event()

    def tick() -> None:
        while not stop.wait(0.2):
            with models.SIMULATION_LOCK:
                app.fleet.advance()  # through the app: a moto reset swaps in a new fleet

    threading.Thread(target=tick, name="fleetsim-ticker", daemon=True).start()

    def on_signal(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    port = server.server_address[1]
    shown_host = "127.0.0.1" if args.host in ("0.0.0.0", "") else args.host
    # Inside the try: a SIGTERM sent the moment the ready line appears must still stop cleanly.
    try:
        log(f"{spec.instance_count} instances from {args.fleet} ready in {time.monotonic() - started:.1f}s")
        print(f"{READY_PREFIX} {spec.instance_count} instances on http://{shown_host}:{port} (seed {seed}, time scale {args.time_scale:g})", flush=True)
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        server.server_close()
        log("stopped")
    return 0
