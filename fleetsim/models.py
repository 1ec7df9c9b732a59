"""moto's SSM backend and responses, extended with the simulated fleet.

moto serves SSM from `ssm_backends`; `install()` swaps that registry's backend
class for `FleetSSMBackend` before the first request, and moto then finds
this module's sibling `urls.py` (it derives the URL module from the backend's
module name), which routes SSM requests to `FleetSSMResponse`. Everything
moto already does for SSM keeps working; what Patch Manager and Run Command
need is answered here, from the simulation in fleetsim.runcommand.
"""
from __future__ import annotations

import base64
import copy
import json
import random as _random
import re
import threading
from datetime import datetime, timezone
from fnmatch import fnmatchcase
from typing import Any, Callable
from urllib.parse import urlparse

from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.responses import ActionResult, EmptyResult
from moto.core.utils import camelcase_to_underscores
from moto.ssm.exceptions import SSMException
from moto.ssm.models import SimpleSystemManagerBackend, ssm_backends
from moto.ssm.responses import SimpleSystemManagerResponse

from fleetsim import baselines as baseline_rules
from fleetsim import ratecontrol, rollup
from fleetsim import targets as run_targets
from fleetsim.clock import SimClock
from fleetsim.fleet import AGENT_VERSION, PLUGIN_NAMES, SimInstance, build_instances
from fleetsim.patching import CVE_REPORTING_STATES, INSTALLED_STATES, NOT_APPLICABLE, STATE_COUNT_FIELDS, patch_filter_matches
from fleetsim.runcommand import PATCH_DOCUMENT, SHELL_DOCUMENTS, PLUGIN_OUTPUT_LIMIT, STDERR_LIMIT, STDOUT_LIMIT, RunCommand
from fleetsim.spec import FleetSpec, patch_group_of

FLEET_REGION = "us-east-1"
# Every request, and the ticker, runs under this lock: moto's models are not thread-safe.
SIMULATION_LOCK = threading.RLock()
INSTANCE_ID_PATTERN = re.compile(r"(^i-(\w{8}|\w{17})$)|(^mi-\w{17}$)")
GUID_PATTERN = re.compile(r"^[A-Fa-f0-9]{8}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{12}$")
OVERRIDE_URL_PATTERN = re.compile(r"^(https://.+|s3://[^/]+/.+)$")


def error(code: str, message: str) -> SSMException:
    # An SSMException, not a bare ServiceException: moto serializes errors with the model of the raising module's service.
    return SSMException(code, message)


def validation(*messages: str) -> SSMException:
    return error("ValidationException", baseline_rules.validation_message(list(messages)))


def constraint(value: object, where: str, rule: str) -> str:
    return f"Value '{value}' at '{where}' failed to satisfy constraint: {rule}"


class FleetSSMBackend(SimpleSystemManagerBackend):
    def __init__(self, region_name: str, account_id: str):
        super().__init__(region_name, account_id)
        self.fleet_baselines: dict[str, dict[str, Any]] = baseline_rules.predefined_baselines(region_name)
        self.baseline_times: dict[str, tuple[datetime, datetime]] = {}
        self.default_baseline_ids: dict[str, str] = {b["OperatingSystem"]: arn for arn, b in self.fleet_baselines.items()}
        self.group_baselines: dict[tuple[str, str], str] = {}
        self.instances: dict[str, SimInstance] = {}
        self.run_command: RunCommand | None = None
        self.clock = SimClock(1.0)

    # ---- the fleet ----------------------------------------------------------------------

    def attach_fleet(self, instances: list[SimInstance], clock: SimClock, seed: int, log: Callable[[str], None],
                     spec: FleetSpec | None = None) -> None:
        self.clock = clock
        self.instances = {i.instance_id: i for i in instances}
        now = clock.wall(0)
        for instance in instances:
            instance.registered_wall = now
        behaviour = {} if spec is None else {"offline_delivery": spec.offline_delivery, "compliance_lag_seconds": spec.compliance_lag_seconds}
        self.run_command = RunCommand(self, clock, seed, log, **behaviour)

    def commands(self) -> RunCommand:
        if self.run_command is None:
            self.run_command = RunCommand(self, self.clock, 0)
        self.run_command.advance()
        return self.run_command

    @property
    def ec2(self):
        from moto.ec2.models import ec2_backends

        return ec2_backends[self.account_id][self.region_name]

    def tags_of(self, instance_id: str) -> dict[str, str]:
        return self.ec2.tags.get(instance_id, {})

    def running_ids(self) -> set[str]:
        # One pass over moto's reservations; its get_instance() scans them all for every lookup.
        return {i.id for i in self.ec2.all_instances() if i._state.name == "running"}

    def patch_group(self, instance: SimInstance) -> str:
        return patch_group_of(self.tags_of(instance.instance_id))

    def resolve_targets(self, instance_ids: list[str], targets: list[dict]) -> list[str]:
        running = self.running_ids()
        if instance_ids:
            return [i for i in instance_ids if i in self.instances and i in running]
        selected = [i for i in self.instances.values() if i.instance_id in running]
        ec2_tags = self.ec2.tags
        for target in targets:
            key, values = target["Key"], set(target.get("Values") or [])
            if key == "InstanceIds":
                selected = [i for i in selected if i.instance_id in values]
            elif key == "tag-key":
                selected = [i for i in selected if values & set(ec2_tags.get(i.instance_id, {}))]
            elif key.startswith("tag:"):
                tag = key[4:]
                selected = [i for i in selected if ec2_tags.get(i.instance_id, {}).get(tag) in values]
        return [i.instance_id for i in selected]

    def baseline_for(self, instance: SimInstance) -> dict[str, Any]:
        operating_system = instance.platform.operating_system
        baseline_id = self.group_baselines.get((self.patch_group(instance), operating_system)) or self.default_baseline_ids[operating_system]
        return self.fleet_baselines[baseline_id]

    def _s3(self):
        from moto.s3.models import s3_backends

        return s3_backends[self.account_id][self.partition]

    def read_object(self, url: str) -> bytes | None:
        parsed = urlparse(url)
        if parsed.scheme == "s3":
            bucket, key = parsed.netloc, parsed.path.lstrip("/")
        elif parsed.scheme == "https" and parsed.netloc.startswith("s3"):
            bucket, _, key = parsed.path.lstrip("/").partition("/")
        else:
            return None
        try:
            found = self._s3().get_object(bucket, key)
        except Exception:
            return None
        return found.value if found is not None else None

    def write_object(self, bucket: str, key: str, text: str) -> None:
        s3 = self._s3()
        if bucket in s3.buckets:
            s3.put_object(bucket, key, text.encode("utf-8"))

    # ---- baselines ------------------------------------------------------------------------

    def find_baseline(self, baseline_id: str) -> dict[str, Any]:
        if baseline_id in self.fleet_baselines:
            return self.fleet_baselines[baseline_id]
        for arn, baseline in self.fleet_baselines.items():
            if arn.endswith("/" + baseline_id):
                return baseline
        if baseline_id.startswith("arn:") and "/" in baseline_id:
            short = baseline_id.rsplit("/", 1)[1]
            if short in self.fleet_baselines:
                return self.fleet_baselines[short]
        raise error("DoesNotExistException", f"Patch Baseline {baseline_id} does not exist.")

    def _validate_resource_type_and_id(self, resource_type: str, resource_id: str) -> str:
        if resource_type == "PatchBaseline":
            return self.find_baseline(resource_id)["BaselineId"]
        if resource_type == "ManagedInstance":
            if resource_id not in self.instances:
                raise error("InvalidResourceId", "The resource ID isn't valid. Verify that you entered the correct ID and try again.")
            return resource_id
        return super()._validate_resource_type_and_id(resource_type, resource_id)


def install() -> None:
    """Make moto build FleetSSMBackend for SSM; call before the server answers its first request."""
    ssm_backends.backend = FleetSSMBackend
    for account in list(ssm_backends.keys()):
        del ssm_backends[account]


def launch_fleet(spec: FleetSpec, seed: int, clock: SimClock, log: Callable[[str], None]) -> FleetSSMBackend:
    """Create the spec's instances in moto EC2 and attach them to the SSM backend."""
    from moto.ec2.models import ec2_backends
    from moto.moto_api._internal import mock_random

    from fleetsim.fleet import PLATFORMS

    mock_random.seed(seed)  # instance ids come from moto's own generator
    ec2 = ec2_backends[DEFAULT_ACCOUNT_ID][FLEET_REGION]
    ids: list[str] = []
    for group in spec.groups:
        platform = PLATFORMS[group.platform]
        reservation = ec2.run_instances(
            platform.image_id, group.count, None, [],
            tags={"instance": dict(group.tags)} if group.tags else {},
            instance_type="t3.medium" if platform.platform_type == "Linux" else "m5.large",
            is_instance_type_default=False,
            region_name=FLEET_REGION,
            # No root volumes: moto attaches each by scanning every instance, O(n^2) at fleet scale.
            block_device_mappings=[],
        )
        ids += [instance.id for instance in reservation.instances]
    backend = ssm_backends[DEFAULT_ACCOUNT_ID][FLEET_REGION]
    backend.attach_fleet(build_instances(spec, seed, ids), clock, seed, log, spec)
    return backend


# ---- pagination and small readers ------------------------------------------------------------


def encode_token(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def decode_token(token: str | None) -> int:
    if not token:
        return 0
    try:
        offset = json.loads(base64.urlsafe_b64decode(token.encode()))["offset"]
        if isinstance(offset, int) and offset >= 0:
            return offset
    except Exception:
        pass
    raise error("InvalidNextToken", "The specified token isn't valid.")


def page(items: list, token: str | None, size: int) -> tuple[list, str | None]:
    start = decode_token(token)
    chunk = items[start : start + size]
    return chunk, (encode_token(start + size) if start + size < len(items) else None)


def iso(instant: datetime | None) -> str:
    if instant is None:
        return ""
    return instant.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{instant.microsecond // 1000:03d}Z"


def elapsed(seconds: float) -> str:
    seconds = max(0.0, seconds)
    minutes, rest = divmod(seconds, 60)
    hours, minutes = divmod(int(minutes), 60)
    return f"PT{hours}H{minutes}M{rest:.3f}S" if hours else f"PT{minutes}M{rest:.3f}S" if minutes else f"PT{rest:.3f}S"


def parse_time(value: str, where: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (ValueError, AttributeError):
        raise error("InvalidFilterValue", f"{where} value {value!r} is not a valid date time, expected ISO 8601 such as 2024-11-20T00:00:00Z.") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _json_ready(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _json_ready(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [_json_ready(v) for v in value]
    if isinstance(value, datetime):
        return value.timestamp()
    return value


class FleetSSMResponse(SimpleSystemManagerResponse):
    """SSM actions answered from the simulation; the rest are moto's."""

    def serialized(self, action_result: ActionResult):
        # moto's model-driven serializer costs milliseconds per item; at fleet scale the pages this class
        # builds are plain JSON-protocol data (timestamps as epoch seconds), so they are written directly.
        result = action_result.result
        if isinstance(result, dict) and camelcase_to_underscores(self._get_action()) in type(self).__dict__:
            body = json.dumps(_json_ready(result), separators=(",", ":"))
            headers = {"Content-Type": "application/x-amz-json-1.1", **self.response_headers}
            return 200, headers, body
        return super().serialized(action_result)

    @property
    def fleet(self) -> FleetSSMBackend:
        return self.ssm_backend  # type: ignore[return-value]

    def _int(self, name: str, default: int | None, low: int, high: int) -> int | None:
        value = self._get_param(name)
        if value is None:
            return default
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            where = name[0].lower() + name[1:]
            rule = f"Member must have value greater than or equal to {low}" if isinstance(value, int) and value < low else f"Member must have value less than or equal to {high}"
            raise validation(constraint(value, where, rule))
        return value

    # ---- Run Command ----------------------------------------------------------------------

    def send_command(self) -> ActionResult:
        document_name = self._get_param("DocumentName")
        instance_ids = self._get_param("InstanceIds") or []
        targets = self._get_param("Targets") or []
        parameters = self._get_param("Parameters") or {}
        comment = self._get_param("Comment") or ""
        max_concurrency = self._get_param("MaxConcurrency") or ratecontrol.DEFAULT_MAX_CONCURRENCY
        max_errors = self._get_param("MaxErrors") or ratecontrol.DEFAULT_MAX_ERRORS
        timeout = self._int("TimeoutSeconds", None, 30, 2_592_000)
        problems = []
        if not isinstance(document_name, str) or not re.match(r"^[a-zA-Z0-9_\-.:/]{3,128}$", document_name):
            problems.append(constraint(document_name, "documentName", "Member must satisfy regular expression pattern: ^[a-zA-Z0-9_\\-.:/]{3,128}$"))
        if len(instance_ids) > 50:
            problems.append(constraint(instance_ids, "instanceIds", "Member must have length less than or equal to 50"))
        for index, instance_id in enumerate(instance_ids, start=1):
            if not isinstance(instance_id, str) or not INSTANCE_ID_PATTERN.match(instance_id):
                problems.append(constraint(instance_id, f"instanceIds.{index}.member", "Member must satisfy regular expression pattern: (^i-(\\w{8}|\\w{17})$)|(^mi-\\w{17}$)"))
        if len(targets) > 5:
            problems.append(constraint(targets, "targets", "Member must have length less than or equal to 5"))
        if len(comment) > 100:
            problems.append(constraint(comment, "comment", "Member must have length less than or equal to 100"))
        for name, parse in (("MaxConcurrency", ratecontrol.parse_max_concurrency), ("MaxErrors", ratecontrol.parse_max_errors)):
            try:
                parse(max_concurrency if name == "MaxConcurrency" else max_errors)
            except ValueError as exc:
                problems.append(str(exc).split(": ", 1)[1])
        if problems:
            raise validation(*problems)
        if instance_ids and targets:
            raise validation("Specify either InstanceIds or Targets, not both.")
        if not instance_ids and not targets:
            raise validation("Specify either InstanceIds or Targets.")
        if len(set(instance_ids)) != len(instance_ids):
            raise error("DuplicateInstanceId", "Instance IDs must be unique.")
        targets = self._canonical_targets(targets)
        self._check_document(document_name, parameters)
        fleet = self.fleet
        running = fleet.running_ids()
        unknown = [i for i in instance_ids if i not in fleet.instances or i not in running]
        if unknown:
            raise error("InvalidInstanceId", f"Instances [[{', '.join(unknown)}]] not in a valid state for account {self.current_account}")
        bucket = self._get_param("OutputS3BucketName") or ""
        if bucket and not 3 <= len(bucket) <= 63:
            raise validation(constraint(bucket, "outputS3BucketName", "Member must have length between 3 and 63"))
        command = fleet.commands().send(
            document_name=document_name,
            document_version=self._get_param("DocumentVersion") or "$DEFAULT",
            parameters=parameters,
            comment=comment,
            instance_ids=instance_ids,
            targets=targets,
            timeout_seconds=timeout,
            max_concurrency=max_concurrency,
            max_errors=max_errors,
            output_bucket=bucket,
            output_prefix=self._get_param("OutputS3KeyPrefix") or "",
            output_region=self._get_param("OutputS3Region") or self.region,
            service_role=self._get_param("ServiceRoleArn") or "",
            notification_config=self._get_param("NotificationConfig"),
            cloudwatch=self._get_param("CloudWatchOutputConfig"),
        )
        return ActionResult({"Command": self._command_view(command, sending=True)})

    def _canonical_targets(self, targets: list) -> list[dict]:
        """The Targets with each key as Run Command resolves it (Key=instanceids becomes InstanceIds)."""
        canonical = []
        for index, target in enumerate(targets, start=1):
            key, values = target.get("Key", ""), target.get("Values") or []
            where = f"targets.{index}.member"
            if not 1 <= len(key) <= run_targets.MAX_KEY_LENGTH:
                rule = "Member must have length greater than or equal to 1" if not key else f"Member must have length less than or equal to {run_targets.MAX_KEY_LENGTH}"
                raise validation(constraint(key, f"{where}.key", rule))
            if not run_targets.satisfies_key_pattern(key):
                raise validation(constraint(key, f"{where}.key", f"Member must satisfy regular expression pattern: {run_targets.KEY_PATTERN}"))
            resolved = run_targets.canonical_target_key(key)
            if resolved is None:
                raise error("InvalidParameters", f"Target key {key} is not valid for Run Command; expected InstanceIds, tag:<tag-key>, tag-key or resource-groups:Name.")
            if resolved in run_targets.RESOURCE_GROUP_KEYS:
                raise error("InvalidParameters", f"Target key {key} is not supported by this simulated fleet; use InstanceIds, tag:<key> or tag-key.")
            if len(values) > 50:
                raise validation(constraint(values, f"{where}.values", "Member must have length less than or equal to 50"))
            canonical.append({**target, "Key": resolved})
        return canonical

    def _check_document(self, document_name: str, parameters: dict) -> None:
        name = document_name.rsplit("/", 1)[-1] if document_name.startswith("arn:") else document_name
        if not isinstance(parameters, dict) or not all(isinstance(v, list) for v in parameters.values()):
            raise error("InvalidParameters", "Parameters must map each name to a list of strings.")
        if name == PATCH_DOCUMENT:
            allowed = {"Operation", "SnapshotId", "InstallOverrideList", "BaselineOverride", "RebootOption", "AssociationId"}
            unknown = sorted(set(parameters) - allowed)
            if unknown:
                raise error("InvalidParameters", f"Parameters [{', '.join(unknown)}] are not valid for document {PATCH_DOCUMENT}.")
            operation = (parameters.get("Operation") or [None])[0]
            if operation not in ("Scan", "Install"):
                raise error("InvalidParameters", f"Parameter Operation must be one of [Scan, Install], got {operation!r}.")
            reboot = (parameters.get("RebootOption") or ["RebootIfNeeded"])[0]
            if reboot not in ("RebootIfNeeded", "NoReboot"):
                raise error("InvalidParameters", f"Parameter RebootOption must be one of [RebootIfNeeded, NoReboot], got {reboot!r}.")
            for url_parameter in ("InstallOverrideList", "BaselineOverride"):
                url = (parameters.get(url_parameter) or [""])[0]
                if url and not OVERRIDE_URL_PATTERN.match(url):
                    raise error("InvalidParameters", f"Parameter {url_parameter} must be an https:// or s3:// URL, got {url!r}.")
            snapshot = (parameters.get("SnapshotId") or [""])[0]
            if snapshot and not GUID_PATTERN.match(snapshot):
                raise error("InvalidParameters", f"Parameter SnapshotId must be a GUID, got {snapshot!r}.")
            return
        if name in SHELL_DOCUMENTS:
            if not parameters.get("commands"):
                raise error("InvalidParameters", f"Parameter commands is required for document {name}.")
            return
        if name not in self.fleet._documents:
            raise error("InvalidDocument", f"Document with name {name} does not exist.")

    def _command_view(self, command, sending: bool = False) -> dict[str, Any]:
        status, details = command.status()
        counters = command.counters()
        targets_based = bool(command.targets)
        if sending:
            # The SendCommand answer: targets not resolved yet, nothing completed; TargetCount as ListCommands will say.
            status, details = "Pending", rollup.PENDING
            counters = rollup.Counters(command.counters().target_count, 0, 0, 0)
        return {
            "CommandId": command.command_id,
            "DocumentName": command.document_name,
            "DocumentVersion": command.document_version,
            "Comment": command.comment,
            "ExpiresAfter": command.expires_wall,
            "Parameters": command.parameters,
            "InstanceIds": [] if targets_based else command.requested_instance_ids,
            "Targets": command.targets,
            "RequestedDateTime": command.requested_wall,
            "Status": status,
            "StatusDetails": details,
            "OutputS3Region": command.output_region,
            "OutputS3BucketName": command.output_bucket,
            "OutputS3KeyPrefix": command.output_prefix,
            "MaxConcurrency": command.max_concurrency,
            "MaxErrors": command.max_errors,
            "TargetCount": counters.target_count,
            "CompletedCount": counters.completed_count,
            "ErrorCount": counters.error_count,
            "DeliveryTimedOutCount": counters.delivery_timed_out_count,
            "ServiceRole": command.service_role,
            "NotificationConfig": command.notification_config,
            "CloudWatchOutputConfig": command.cloudwatch,
            "TimeoutSeconds": command.timeout_seconds,
        }

    def _find_command(self, command_id: str | None):
        commands = self.fleet.commands()
        if command_id is not None:
            if not isinstance(command_id, str) or len(command_id) != 36 or command_id not in commands.commands:
                raise error("InvalidCommandId", "Invalid command ID.")
            return commands.commands[command_id]
        return None

    def _check_instance_id(self, instance_id: str | None) -> None:
        if instance_id is not None and (not isinstance(instance_id, str) or not INSTANCE_ID_PATTERN.match(instance_id)):
            raise error("InvalidInstanceId", f"Instance ID {instance_id} is not valid.")

    def _filters(self, allowed: tuple[str, ...]) -> list[tuple[str, str]]:
        filters = self._get_param("Filters") or []
        if len(filters) > 5:
            raise validation(constraint(filters, "filters", "Member must have length less than or equal to 5"))
        out = []
        for f in filters:
            key, value = f.get("key"), f.get("value")
            if key not in allowed:
                raise validation(constraint(key, "filters.1.member.key", f"Member must satisfy enum value set: [{', '.join(allowed)}]"))
            if not isinstance(value, str) or not value:
                raise validation(constraint(value, "filters.1.member.value", "Member must have length greater than or equal to 1"))
            out.append((key, value))
        return out

    def list_commands(self) -> ActionResult:
        command_id = self._get_param("CommandId")
        instance_id = self._get_param("InstanceId")
        size = self._int("MaxResults", 50, 1, 50)
        filters = self._filters(("InvokedAfter", "InvokedBefore", "Status", "DocumentName", "ExecutionStage"))
        self._check_instance_id(instance_id)
        command = self._find_command(command_id)
        commands = self.fleet.commands()
        if command is not None:
            candidates = [command]
        elif instance_id:
            candidates = commands.commands_for(instance_id)
        else:
            candidates = commands.order
        for key, value in filters:
            if key == "Status":
                if value not in rollup.COMMAND_FILTER_VALUES:
                    raise error("InvalidFilterValue", f"Status filter value {value} is not valid; expected one of {', '.join(rollup.COMMAND_FILTER_VALUES)}.")
                pairs = rollup.COMMAND_FILTER_VALUES[value]
                candidates = [c for c in candidates if any(c.status()[0] == s and (d is None or c.status()[1] == d) for s, d in pairs)]
            elif key == "ExecutionStage":
                if value not in ("Executing", "Complete"):
                    raise error("InvalidFilterValue", f"ExecutionStage filter value {value} is not valid; expected Executing or Complete.")
                finished = {"Success", "Failed", "TimedOut", "Cancelled"}
                candidates = [c for c in candidates if (c.status()[0] in finished) == (value == "Complete")]
            elif key == "DocumentName":
                candidates = [c for c in candidates if c.document_name == value]
            elif key in ("InvokedAfter", "InvokedBefore"):
                instant = parse_time(value, key)
                if key == "InvokedAfter":
                    candidates = [c for c in candidates if c.requested_wall >= instant]
                else:
                    candidates = [c for c in candidates if c.requested_wall <= instant]
        newest_first = sorted(candidates, key=lambda c: c.seq, reverse=True)
        chunk, token = page(newest_first, self._get_param("NextToken"), size)
        result: dict[str, Any] = {"Commands": [self._command_view(c) for c in chunk]}
        if token:
            result["NextToken"] = token
        return ActionResult(result)

    def _plugin_views(self, command, invocation) -> list[dict[str, Any]]:
        clock = self.fleet.clock
        views = []
        ran = invocation.instance.platform.plugin_name if command.document_name == PATCH_DOCUMENT else command.plugin_names()[0]
        for name in command.plugin_names():
            status, code = rollup.INVOCATION_STATUS[invocation.detail]
            view: dict[str, Any] = {"Name": name, "OutputS3Region": command.output_region, "OutputS3BucketName": command.output_bucket, "OutputS3KeyPrefix": command.output_prefix}
            if name == ran:
                view.update(
                    Status=status,
                    StatusDetails=invocation.detail,
                    ResponseCode=code,
                    Output=(invocation.stdout + invocation.stderr)[:PLUGIN_OUTPUT_LIMIT],
                    StandardOutputUrl=self._output_url(command, invocation, 0),
                    StandardErrorUrl=self._output_url(command, invocation, 1),
                )
                if invocation.start_sim is not None:
                    view["ResponseStartDateTime"] = clock.wall(invocation.start_sim)
                if invocation.end_sim is not None and invocation.detail in rollup.TERMINAL_DETAILS:
                    view["ResponseFinishDateTime"] = clock.wall(invocation.end_sim)
            else:
                skipped = invocation.detail in (rollup.SUCCESS, rollup.FAILED)
                view.update(
                    Status="Success" if skipped else status,
                    StatusDetails="Skipped" if skipped else invocation.detail,
                    ResponseCode=0 if skipped else code,
                    Output=f"Step execution skipped due to unsatisfied preconditions. Step name: {name}" if skipped else "",
                    StandardOutputUrl="",
                    StandardErrorUrl="",
                )
            views.append(view)
        return views

    def _output_url(self, command, invocation, which: int) -> str:
        if not invocation.output_keys or not invocation.output_keys[which]:
            return ""
        return f"https://s3.{command.output_region or self.region}.amazonaws.com/{command.output_bucket}/{invocation.output_keys[which]}"

    def _invocation_view(self, command, invocation, details: bool) -> dict[str, Any]:
        status, _ = rollup.INVOCATION_STATUS[invocation.detail]
        view = {
            "CommandId": command.command_id,
            "InstanceId": invocation.instance_id,
            "InstanceName": invocation.instance.computer_name,
            "Comment": command.comment,
            "DocumentName": command.document_name,
            "DocumentVersion": command.document_version,
            "RequestedDateTime": command.requested_wall,
            "Status": status,
            "StatusDetails": invocation.detail,
            "TraceOutput": "",
            "StandardOutputUrl": self._output_url(command, invocation, 0),
            "StandardErrorUrl": self._output_url(command, invocation, 1),
            "ServiceRole": command.service_role,
            "NotificationConfig": command.notification_config,
            "CloudWatchOutputConfig": command.cloudwatch,
            "CommandPlugins": self._plugin_views(command, invocation) if details else [],
        }
        return view

    def list_command_invocations(self) -> ActionResult:
        command_id = self._get_param("CommandId")
        instance_id = self._get_param("InstanceId")
        size = self._int("MaxResults", 50, 1, 50)
        details = bool(self._get_param("Details"))
        filters = self._filters(("InvokedAfter", "InvokedBefore", "Status", "DocumentName"))
        self._check_instance_id(instance_id)
        command = self._find_command(command_id)
        commands = self.fleet.commands()
        if command is not None:
            pairs = [(command, inv) for inv in command.invocations.values() if instance_id is None or inv.instance_id == instance_id]
        elif instance_id:
            pairs = [(c, c.invocations[instance_id]) for c in reversed(commands.commands_for(instance_id)) if instance_id in c.invocations]
        else:
            pairs = [(c, inv) for c in reversed(commands.order) for inv in c.invocations.values()]
        for key, value in filters:
            if key == "Status":
                if value not in rollup.INVOCATION_FILTER_VALUES:
                    raise error("InvalidFilterValue", f"Status filter value {value} is not valid; expected one of {', '.join(rollup.INVOCATION_FILTER_VALUES)}.")
                if value == "Pending" and instance_id:
                    raise validation("InstanceId can't be combined with the Status filter value Pending.")
                wanted = rollup.INVOCATION_FILTER_VALUES[value]
                pairs = [(c, i) for c, i in pairs if i.detail in wanted]
            elif key == "DocumentName":
                pairs = [(c, i) for c, i in pairs if c.document_name == value]
            else:
                instant = parse_time(value, key)
                after = key == "InvokedAfter"
                pairs = [(c, i) for c, i in pairs if (c.requested_wall >= instant) == after or c.requested_wall == instant]
        chunk, token = page(pairs, self._get_param("NextToken"), size)
        result: dict[str, Any] = {"CommandInvocations": [self._invocation_view(c, i, details) for c, i in chunk]}
        if token:
            result["NextToken"] = token
        return ActionResult(result)

    def get_command_invocation(self) -> ActionResult:
        command_id = self._get_param("CommandId")
        instance_id = self._get_param("InstanceId")
        plugin_name = self._get_param("PluginName")
        self._check_instance_id(instance_id)
        command = self._find_command(command_id)
        invocation = command.invocations.get(instance_id)
        if invocation is None:
            raise error("InvocationDoesNotExist", "An invocation for this command and instance does not exist.")
        if plugin_name is not None and plugin_name not in command.plugin_names():
            raise error("InvalidPluginName", f"The plugin name {plugin_name} is not valid for document {command.document_name}.")
        ran = invocation.instance.platform.plugin_name if command.document_name == PATCH_DOCUMENT else command.plugin_names()[0]
        plugin = next(p for p in self._plugin_views(command, invocation) if p["Name"] == (plugin_name or ran))
        stdout = invocation.stdout if plugin["Name"] == ran else plugin["Output"]
        stderr = invocation.stderr if plugin["Name"] == ran else ""
        clock = self.fleet.clock
        start = clock.wall(invocation.start_sim) if invocation.start_sim is not None and plugin["Name"] == ran else None
        end = clock.wall(invocation.end_sim) if invocation.end_sim is not None and invocation.detail in rollup.TERMINAL_DETAILS else None
        return ActionResult(
            {
                "CommandId": command.command_id,
                "InstanceId": instance_id,
                "Comment": command.comment,
                "DocumentName": command.document_name,
                "DocumentVersion": command.document_version,
                "PluginName": plugin["Name"],
                "ResponseCode": plugin["ResponseCode"],
                "ExecutionStartDateTime": iso(start),
                "ExecutionElapsedTime": elapsed((end - start).total_seconds()) if start and end else "",
                "ExecutionEndDateTime": iso(end),
                "Status": plugin["Status"],
                "StatusDetails": plugin["StatusDetails"],
                "StandardOutputContent": stdout[:STDOUT_LIMIT],
                "StandardOutputUrl": plugin["StandardOutputUrl"],
                "StandardErrorContent": stderr[:STDERR_LIMIT],
                "StandardErrorUrl": plugin["StandardErrorUrl"],
                "CloudWatchOutputConfig": command.cloudwatch,
            }
        )

    def cancel_command(self) -> ActionResult:
        command = self._find_command(self._get_param("CommandId"))
        instance_ids = self._get_param("InstanceIds") or []
        for instance_id in instance_ids:
            self._check_instance_id(instance_id)
        if command.resolved:
            unknown = [i for i in instance_ids if i not in command.invocations]
            if unknown:
                raise error("InvalidInstanceId", f"Instances [[{', '.join(unknown)}]] are not targets of command {command.command_id}.")
        self.fleet.commands().cancel(command, instance_ids or None)
        return EmptyResult()

    # ---- managed instances --------------------------------------------------------------------

    def _instance_view(self, instance: SimInstance) -> dict[str, Any]:
        platform = instance.platform
        fleet = self.fleet
        ping_wall = fleet.clock.wall(fleet.clock.now()) if instance.ping_status == "Online" else instance.registered_wall
        return {
            "InstanceId": instance.instance_id,
            "PingStatus": instance.ping_status,
            "LastPingDateTime": ping_wall,
            "AgentVersion": AGENT_VERSION,
            "IsLatestVersion": True,
            "PlatformType": platform.platform_type,
            "PlatformName": platform.platform_name,
            "PlatformVersion": platform.platform_version,
            "ResourceType": "EC2Instance",
            "IPAddress": instance.private_ip,
            "ComputerName": instance.computer_name,
            "AssociationStatus": "Success",
            "LastAssociationExecutionDate": instance.registered_wall,
            "LastSuccessfulAssociationExecutionDate": instance.registered_wall,
            "SourceId": instance.instance_id,
            "SourceType": "AWS::EC2::Instance",
        }

    def describe_instance_information(self) -> ActionResult:
        fleet = self.fleet
        fleet.commands()
        size = self._int("MaxResults", 10, 5, 50)
        legacy = self._get_param("InstanceInformationFilterList") or []
        filters = self._get_param("Filters") or []
        if legacy and filters:
            raise validation("InstanceInformationFilterList and Filters can't be used together.")
        valid_keys = ("InstanceIds", "AgentVersion", "PingStatus", "PlatformTypes", "ActivationIds", "IamRole", "ResourceType", "AssociationStatus", "SourceIds", "SourceTypes")
        pairs = [(f.get("key"), f.get("valueSet") or []) for f in legacy] + [(f.get("Key"), f.get("Values") or []) for f in filters]
        tag_filters = [k for k, _ in pairs if isinstance(k, str) and (k.startswith("tag:") or k == "tag-key")]
        if tag_filters and len(tag_filters) != len(pairs):
            raise error("InvalidFilter", "Tag filters can't be combined with other filters.")
        running = fleet.running_ids()
        selected = [i for i in fleet.instances.values() if i.instance_id in running]
        for key, values in pairs:
            if not values or len(values) > 100:
                raise error("InvalidInstanceInformationFilterValue", f"Filter {key} needs 1 to 100 values.")
            wanted = set(values)
            if key == "InstanceIds":
                selected = [i for i in selected if i.instance_id in wanted]
            elif key == "PingStatus":
                bad = wanted - {"Online", "ConnectionLost", "Inactive"}
                if bad:
                    raise error("InvalidInstanceInformationFilterValue", f"PingStatus values {sorted(bad)} are not valid; expected Online, ConnectionLost or Inactive.")
                selected = [i for i in selected if i.ping_status in wanted]
            elif key == "PlatformTypes":
                selected = [i for i in selected if i.platform.platform_type in wanted]
            elif key == "AgentVersion":
                selected = [i for i in selected if AGENT_VERSION in wanted]
            elif key == "ResourceType":
                selected = [i for i in selected if "EC2Instance" in wanted]
            elif key == "AssociationStatus":
                selected = [i for i in selected if "Success" in wanted]
            elif key == "SourceIds":
                selected = [i for i in selected if i.instance_id in wanted]
            elif key == "SourceTypes":
                selected = [i for i in selected if "AWS::EC2::Instance" in wanted]
            elif key in ("ActivationIds", "IamRole"):
                selected = []
            elif key == "tag-key":
                selected = [i for i in selected if wanted & set(fleet.tags_of(i.instance_id))]
            elif isinstance(key, str) and key.startswith("tag:") and len(key) > 4:
                selected = [i for i in selected if fleet.tags_of(i.instance_id).get(key[4:]) in wanted]
            else:
                raise error("InvalidInstanceInformationFilterValue" if key in valid_keys else "InvalidFilterKey", f"Filter key {key} is not valid.")
        chunk, token = page(selected, self._get_param("NextToken"), size)
        result: dict[str, Any] = {"InstanceInformationList": [self._instance_view(i) for i in chunk]}
        if token:
            result["NextToken"] = token
        return ActionResult(result)

    # ---- patch baselines ------------------------------------------------------------------------

    def _baseline_request(self) -> dict[str, Any]:
        return {k: self._get_param(k) for k in (
            "Name", "OperatingSystem", "GlobalFilters", "ApprovalRules", "ApprovedPatches", "ApprovedPatchesComplianceLevel",
            "ApprovedPatchesEnableNonSecurity", "RejectedPatches", "RejectedPatchesAction", "Description", "Sources",
            "AvailableSecurityUpdatesComplianceStatus",
        )}

    def create_patch_baseline(self) -> ActionResult:
        request = self._baseline_request()
        errors = baseline_rules.validate_baseline_fields(request, creating=True)
        if errors:
            raise validation(*errors)
        fleet = self.fleet
        baseline_id = "pb-" + "".join(_random.choice("0123456789abcdef") for _ in range(17))
        baseline = {
            "BaselineId": baseline_id,
            "Name": request["Name"],
            "OperatingSystem": request["OperatingSystem"] or "WINDOWS",
            "GlobalFilters": request["GlobalFilters"] or {"PatchFilters": []},
            "ApprovalRules": request["ApprovalRules"] or {"PatchRules": []},
            "ApprovedPatches": request["ApprovedPatches"] or [],
            "ApprovedPatchesComplianceLevel": request["ApprovedPatchesComplianceLevel"] or "UNSPECIFIED",
            "ApprovedPatchesEnableNonSecurity": bool(request["ApprovedPatchesEnableNonSecurity"]),
            "RejectedPatches": request["RejectedPatches"] or [],
            "RejectedPatchesAction": request["RejectedPatchesAction"] or "ALLOW_AS_DEPENDENCY",
            "Description": request["Description"] or "",
            "Sources": request["Sources"] or [],
        }
        if request.get("AvailableSecurityUpdatesComplianceStatus"):
            baseline["AvailableSecurityUpdatesComplianceStatus"] = request["AvailableSecurityUpdatesComplianceStatus"]
        fleet.fleet_baselines[baseline_id] = baseline
        now = datetime.now(timezone.utc)
        fleet.baseline_times[baseline_id] = (now, now)
        tags = self._get_param("Tags") or []
        if tags:
            fleet.add_tags_to_resource("PatchBaseline", baseline_id, {t["Key"]: t["Value"] for t in tags})
        return ActionResult({"BaselineId": baseline_id})

    def _baseline_view(self, baseline: dict[str, Any]) -> dict[str, Any]:
        fleet = self.fleet
        created, modified = fleet.baseline_times.get(baseline["BaselineId"], (datetime(2018, 1, 1, tzinfo=timezone.utc),) * 2)
        groups = sorted({group for (group, os_), bid in fleet.group_baselines.items() if bid == baseline["BaselineId"]})
        view = copy.deepcopy(baseline)
        view.update(CreatedDate=created, ModifiedDate=modified, PatchGroups=groups)
        return view

    def get_patch_baseline(self) -> ActionResult:
        baseline_id = self._get_param("BaselineId")
        if not isinstance(baseline_id, str) or not baseline_rules.BASELINE_ID_PATTERN.match(baseline_id):
            raise validation(constraint(baseline_id, "baselineId", "Member must satisfy regular expression pattern: ^[a-zA-Z0-9_\\-:/]{20,128}$"))
        return ActionResult(self._baseline_view(self.fleet.find_baseline(baseline_id)))

    def update_patch_baseline(self) -> ActionResult:
        baseline_id = self._get_param("BaselineId")
        fleet = self.fleet
        baseline = fleet.find_baseline(baseline_id)
        if baseline["BaselineId"].startswith("arn:"):
            raise error("InvalidResourceId", f"Patch baseline {baseline_id} is owned by AWS and can't be modified.")
        request = self._baseline_request()
        request.pop("OperatingSystem")
        replace = bool(self._get_param("Replace"))
        errors = baseline_rules.validate_baseline_fields(request, creating=replace)
        if errors:
            raise validation(*errors)
        empty = {"GlobalFilters": {"PatchFilters": []}, "ApprovalRules": {"PatchRules": []}, "ApprovedPatches": [],
                 "ApprovedPatchesComplianceLevel": "UNSPECIFIED", "ApprovedPatchesEnableNonSecurity": False, "RejectedPatches": [],
                 "RejectedPatchesAction": "ALLOW_AS_DEPENDENCY", "Description": "", "Sources": []}
        for key, value in request.items():
            if value is not None:
                baseline[key] = value
            elif replace and key in empty:
                baseline[key] = copy.deepcopy(empty[key])
        created, _ = fleet.baseline_times.get(baseline["BaselineId"], (datetime.now(timezone.utc),) * 2)
        fleet.baseline_times[baseline["BaselineId"]] = (created, datetime.now(timezone.utc))
        view = self._baseline_view(baseline)
        view.pop("PatchGroups", None)
        return ActionResult(view)

    def delete_patch_baseline(self) -> ActionResult:
        baseline_id = self._get_param("BaselineId")
        fleet = self.fleet
        baseline = fleet.find_baseline(baseline_id)
        real_id = baseline["BaselineId"]
        if real_id.startswith("arn:"):
            raise error("InvalidResourceId", f"Patch baseline {baseline_id} is owned by AWS and can't be deleted.")
        if real_id in fleet.default_baseline_ids.values():
            raise error("ResourceInUseException", f"Patch baseline {real_id} is the default baseline for {baseline['OperatingSystem']} and can't be deleted.")
        groups = sorted(group for (group, _), bid in fleet.group_baselines.items() if bid == real_id)
        if groups:
            raise error("ResourceInUseException", f"Patch baseline {real_id} is registered with patch groups [{', '.join(groups)}] and can't be deleted.")
        del fleet.fleet_baselines[real_id]
        return ActionResult({"BaselineId": real_id})

    def describe_patch_baselines(self) -> ActionResult:
        fleet = self.fleet
        size = self._int("MaxResults", 100, 1, 100)
        baselines = list(fleet.fleet_baselines.values())
        for f in self._get_param("Filters") or []:
            key, values = f.get("Key"), f.get("Values") or []
            if key == "NAME_PREFIX":
                baselines = [b for b in baselines if any(b["Name"].startswith(v) for v in values)]
            elif key == "OWNER":
                owners = {v.upper() for v in values}
                if "ALL" not in owners:
                    baselines = [b for b in baselines if ("AWS" if b["BaselineId"].startswith("arn:") else "SELF") in owners]
            elif key == "OPERATING_SYSTEM":
                baselines = [b for b in baselines if b["OperatingSystem"] in values]
            else:
                raise validation(constraint(key, "filters.1.member.key", "Member must be one of NAME_PREFIX, OWNER, OPERATING_SYSTEM"))
        defaults = set(fleet.default_baseline_ids.values())
        identities = [
            {"BaselineId": b["BaselineId"], "BaselineName": b["Name"], "OperatingSystem": b["OperatingSystem"],
             "BaselineDescription": b.get("Description", ""), "DefaultBaseline": b["BaselineId"] in defaults}
            for b in baselines
        ]
        chunk, token = page(identities, self._get_param("NextToken"), size)
        result: dict[str, Any] = {"BaselineIdentities": chunk}
        if token:
            result["NextToken"] = token
        return ActionResult(result)

    def get_default_patch_baseline(self) -> ActionResult:
        operating_system = self._get_param("OperatingSystem") or "WINDOWS"
        if operating_system not in baseline_rules.OPERATING_SYSTEMS:
            raise validation(constraint(operating_system, "operatingSystem", f"Member must satisfy enum value set: [{', '.join(baseline_rules.OPERATING_SYSTEMS)}]"))
        return ActionResult({"BaselineId": self.fleet.default_baseline_ids[operating_system], "OperatingSystem": operating_system})

    def register_default_patch_baseline(self) -> ActionResult:
        baseline = self.fleet.find_baseline(self._get_param("BaselineId") or "")
        self.fleet.default_baseline_ids[baseline["OperatingSystem"]] = baseline["BaselineId"]
        return ActionResult({"BaselineId": baseline["BaselineId"]})

    def _patch_group_param(self) -> str:
        group = self._get_param("PatchGroup")
        if not isinstance(group, str) or not 1 <= len(group) <= 256 or not baseline_rules.PATCH_GROUP_PATTERN.match(group):
            raise validation(constraint(group, "patchGroup", "Member must satisfy regular expression pattern: ^([\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*)$"))
        return group

    def register_patch_baseline_for_patch_group(self) -> ActionResult:
        group = self._patch_group_param()
        fleet = self.fleet
        baseline = fleet.find_baseline(self._get_param("BaselineId") or "")
        key = (group, baseline["OperatingSystem"])
        if key in fleet.group_baselines:
            raise error("AlreadyExistsException", f"Patch Group {group} already has a baseline registered for OperatingSystem {baseline['OperatingSystem']}.")
        fleet.group_baselines[key] = baseline["BaselineId"]
        return ActionResult({"BaselineId": baseline["BaselineId"], "PatchGroup": group})

    def deregister_patch_baseline_for_patch_group(self) -> ActionResult:
        group = self._patch_group_param()
        fleet = self.fleet
        baseline = fleet.find_baseline(self._get_param("BaselineId") or "")
        key = (group, baseline["OperatingSystem"])
        if fleet.group_baselines.get(key) != baseline["BaselineId"]:
            raise error("DoesNotExistException", f"Patch Baseline {baseline['BaselineId']} is not registered for Patch Group {group}.")
        del fleet.group_baselines[key]
        return ActionResult({"BaselineId": baseline["BaselineId"], "PatchGroup": group})

    def get_patch_baseline_for_patch_group(self) -> ActionResult:
        group = self._patch_group_param()
        operating_system = self._get_param("OperatingSystem") or "WINDOWS"
        if operating_system not in baseline_rules.OPERATING_SYSTEMS:
            raise validation(constraint(operating_system, "operatingSystem", f"Member must satisfy enum value set: [{', '.join(baseline_rules.OPERATING_SYSTEMS)}]"))
        fleet = self.fleet
        baseline_id = fleet.group_baselines.get((group, operating_system)) or fleet.default_baseline_ids[operating_system]
        return ActionResult({"BaselineId": baseline_id, "PatchGroup": group, "OperatingSystem": operating_system})

    def describe_patch_groups(self) -> ActionResult:
        fleet = self.fleet
        size = self._int("MaxResults", 100, 1, 100)
        mappings = sorted(fleet.group_baselines.items())
        for f in self._get_param("Filters") or []:
            key, values = f.get("Key"), f.get("Values") or []
            if key == "NAME_PREFIX":
                mappings = [m for m in mappings if any(m[0][0].startswith(v) for v in values)]
            elif key == "OPERATING_SYSTEM":
                mappings = [m for m in mappings if m[0][1] in values]
            else:
                raise validation(constraint(key, "filters.1.member.key", "Member must be one of NAME_PREFIX, OPERATING_SYSTEM"))
        defaults = set(fleet.default_baseline_ids.values())
        items = []
        for (group, operating_system), baseline_id in mappings:
            baseline = fleet.fleet_baselines.get(baseline_id, {})
            items.append({"PatchGroup": group, "BaselineIdentity": {
                "BaselineId": baseline_id, "BaselineName": baseline.get("Name", ""), "OperatingSystem": operating_system,
                "BaselineDescription": baseline.get("Description", ""), "DefaultBaseline": baseline_id in defaults}})
        chunk, token = page(items, self._get_param("NextToken"), size)
        result: dict[str, Any] = {"Mappings": chunk}
        if token:
            result["NextToken"] = token
        return ActionResult(result)

    # ---- patch compliance ---------------------------------------------------------------------------

    def _states_in_group(self, group: str) -> list[dict[str, Any]]:
        fleet = self.fleet
        fleet.commands()
        return [
            i.patch_state for i in fleet.instances.values()
            if i.patch_state is not None and fleet.patch_group(i) == group
        ]

    def describe_patch_group_state(self) -> ActionResult:
        group = self._patch_group_param()
        states = self._states_in_group(group)

        def having(field: str) -> int:
            return sum(1 for s in states if s.get(field, 0) > 0)

        return ActionResult({
            "Instances": len(states),
            "InstancesWithInstalledPatches": having("InstalledCount"),
            "InstancesWithInstalledOtherPatches": having("InstalledOtherCount"),
            "InstancesWithInstalledPendingRebootPatches": having("InstalledPendingRebootCount"),
            "InstancesWithInstalledRejectedPatches": having("InstalledRejectedCount"),
            "InstancesWithMissingPatches": having("MissingCount"),
            "InstancesWithFailedPatches": having("FailedCount"),
            "InstancesWithNotApplicablePatches": having("NotApplicableCount"),
            "InstancesWithUnreportedNotApplicablePatches": having("UnreportedNotApplicableCount"),
            "InstancesWithCriticalNonCompliantPatches": having("CriticalNonCompliantCount"),
            "InstancesWithSecurityNonCompliantPatches": having("SecurityNonCompliantCount"),
            "InstancesWithOtherNonCompliantPatches": having("OtherNonCompliantCount"),
            "InstancesWithAvailableSecurityUpdates": having("AvailableSecurityUpdateCount"),
        })

    def describe_instance_patch_states(self) -> ActionResult:
        instance_ids = self._get_param("InstanceIds")
        size = self._int("MaxResults", 10, 10, 100)
        if not isinstance(instance_ids, list) or not instance_ids:
            raise validation(constraint(instance_ids, "instanceIds", "Member must not be null"))
        if len(instance_ids) > 50:
            raise validation(constraint(instance_ids, "instanceIds", "Member must have length less than or equal to 50"))
        for instance_id in instance_ids:
            self._check_instance_id(instance_id)
        fleet = self.fleet
        fleet.commands()
        states = [fleet.instances[i].patch_state for i in instance_ids if i in fleet.instances and fleet.instances[i].patch_state]
        chunk, token = page(states, self._get_param("NextToken"), size)
        result: dict[str, Any] = {"InstancePatchStates": chunk}
        if token:
            result["NextToken"] = token
        return ActionResult(result)

    def describe_instance_patch_states_for_patch_group(self) -> ActionResult:
        group = self._patch_group_param()
        size = self._int("MaxResults", 10, 10, 100)
        filters = self._get_param("Filters") or []
        if len(filters) > 4:
            raise validation(constraint(filters, "filters", "Member must have length less than or equal to 4"))
        keys = ("InstalledCount", "InstalledOtherCount", "InstalledPendingRebootCount", "InstalledRejectedCount", "MissingCount",
                "FailedCount", "NotApplicableCount", "UnreportedNotApplicableCount")
        checks = []
        for f in filters:
            key, values, kind = f.get("Key"), f.get("Values") or [], f.get("Type")
            if key not in keys:
                raise validation(constraint(key, "filters.1.member.key", f"Member must be one of {', '.join(keys)}"))
            if kind not in ("Equal", "NotEqual", "LessThan", "GreaterThan"):
                raise validation(constraint(kind, "filters.1.member.type", "Member must satisfy enum value set: [Equal, NotEqual, LessThan, GreaterThan]"))
            if len(values) != 1 or not str(values[0]).isdigit():
                raise validation(constraint(values, "filters.1.member.values", "Member must be one integer greater than or equal to 0"))
            checks.append((key, kind, int(values[0])))
        compare = {"Equal": lambda a, b: a == b, "NotEqual": lambda a, b: a != b, "LessThan": lambda a, b: a < b, "GreaterThan": lambda a, b: a > b}
        states = [s for s in self._states_in_group(group) if all(compare[k](s.get(key, 0), v) for key, k, v in checks)]
        chunk, token = page(states, self._get_param("NextToken"), size)
        result: dict[str, Any] = {"InstancePatchStates": chunk}
        if token:
            result["NextToken"] = token
        return ActionResult(result)

    def describe_instance_patches(self) -> ActionResult:
        instance_id = self._get_param("InstanceId")
        self._check_instance_id(instance_id)
        size = self._int("MaxResults", 10, 10, 100)
        fleet = self.fleet
        fleet.commands()
        instance = fleet.instances.get(instance_id)
        if instance is None:
            raise error("InvalidInstanceId", f"Instance ID {instance_id} is not valid.")
        filter_fields = {"Classification": "Classification", "KBId": "KBId", "Severity": "Severity", "State": "State"}
        filters = self._get_param("Filters") or []
        if len(filters) > 5:
            raise validation(constraint(filters, "filters", "Member must have length less than or equal to 5"))
        items = []
        linux = instance.platform.platform_type == "Linux"
        for outcome in instance.patch_items:
            if linux and outcome.state == NOT_APPLICABLE:
                continue
            patch = outcome.patch
            installed_time = instance.installed_at.get(patch.id, instance.registered_wall) if outcome.state in INSTALLED_STATES else datetime(1970, 1, 1, tzinfo=timezone.utc)
            item = {
                "Title": patch.title,
                "KBId": patch.kb_id or patch.id if not linux else patch.id,
                "Classification": patch.classification,
                "Severity": patch.severity or patch.priority,
                "State": outcome.state,
                "InstalledTime": installed_time,
            }
            if outcome.state in CVE_REPORTING_STATES and patch.cve_ids:
                item["CVEIds"] = ",".join(patch.cve_ids)
            items.append(item)
        for f in filters:
            key, values = f.get("Key"), f.get("Values") or []
            if key not in filter_fields:
                raise error("InvalidFilter", f"Filter key {key} is not valid; expected one of Classification, KBId, Severity, State.")
            items = [item for item in items if patch_filter_matches(key, item[filter_fields[key]], values)]
        chunk, token = page(items, self._get_param("NextToken"), size)
        result: dict[str, Any] = {"Patches": chunk}
        if token:
            result["NextToken"] = token
        return ActionResult(result)
