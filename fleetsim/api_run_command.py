"""Run Command actions: SendCommand, ListCommands, ListCommandInvocations, GetCommandInvocation, CancelCommand.

They read and start commands of the simulation in fleetsim.runcommand and answer
with its records (fleetsim.command_records) in SSM's shapes.
"""
from __future__ import annotations

import re
from typing import Any

from moto.core.responses import ActionResult, EmptyResult

from fleetsim import ratecontrol, rollup
from fleetsim import targets as run_targets
from fleetsim.api_conventions import INSTANCE_ID_PATTERN, FleetActions, constraint, elapsed, error, iso, page, parse_time, validation
from fleetsim.command_records import PATCH_DOCUMENT, PLUGIN_OUTPUT_LIMIT, SHELL_DOCUMENTS, STDERR_LIMIT, STDOUT_LIMIT
from fleetsim.shell_documents import plugin_output

GUID_PATTERN = re.compile(r"^[A-Fa-f0-9]{8}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{12}$")
OVERRIDE_URL_PATTERN = re.compile(r"^(https://.+|s3://[^/]+/.+)$")


class RunCommandActions(FleetActions):
    """SendCommand, ListCommands, ListCommandInvocations, GetCommandInvocation and CancelCommand."""

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
        unknown = [i for i in instance_ids if i not in fleet.instances or not fleet.is_running(i)]
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
                    Output=self._plugin_output(command, invocation),
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

    @staticmethod
    def _plugin_output(command, invocation) -> str:
        if command.document_name in SHELL_DOCUMENTS:
            return plugin_output(invocation.stdout, invocation.stderr, PLUGIN_OUTPUT_LIMIT)
        return (invocation.stdout + invocation.stderr)[:PLUGIN_OUTPUT_LIMIT]

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
        if command is not None and instance_id is None and not filters:
            # One command's invocations page by page, paired with it only for the page answered: a page of a
            # 100,000-node command costs the page, not a pass over every invocation.
            chunk, token = page(list(command.invocations.values()), self._get_param("NextToken"), size)
            return self._invocations_page([(command, i) for i in chunk], token, details)
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
        return self._invocations_page(chunk, token, details)

    def _invocations_page(self, chunk: list, token: str | None, details: bool) -> ActionResult:
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
