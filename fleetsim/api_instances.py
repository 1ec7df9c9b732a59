"""DescribeInstanceInformation: the fleet's managed nodes, their agents and platforms."""
from __future__ import annotations

from typing import Any

from moto.core.responses import ActionResult

from fleetsim.api_conventions import FleetActions, error, page_where, validation
from fleetsim.fleet import AGENT_VERSION, SimInstance


class InstanceInformationActions(FleetActions):
    """DescribeInstanceInformation, with its filters (tags and PingStatus among them) and pagination."""

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
        ec2_tags = fleet.ec2.tags
        tests: list = [lambda i: fleet.is_running(i.instance_id)]
        for key, values in pairs:
            if not values or len(values) > 100:
                raise error("InvalidInstanceInformationFilterValue", f"Filter {key} needs 1 to 100 values.")
            wanted = frozenset(values)
            if key in ("InstanceIds", "SourceIds"):
                tests.append(lambda i, wanted=wanted: i.instance_id in wanted)
            elif key == "PingStatus":
                bad = wanted - {"Online", "ConnectionLost", "Inactive"}
                if bad:
                    raise error("InvalidInstanceInformationFilterValue", f"PingStatus values {sorted(bad)} are not valid; expected Online, ConnectionLost or Inactive.")
                tests.append(lambda i, wanted=wanted: i.ping_status in wanted)
            elif key == "PlatformTypes":
                tests.append(lambda i, wanted=wanted: i.platform.platform_type in wanted)
            elif key == "AgentVersion":
                tests.append(lambda i, every=AGENT_VERSION in wanted: every)
            elif key == "ResourceType":
                tests.append(lambda i, every="EC2Instance" in wanted: every)
            elif key == "AssociationStatus":
                tests.append(lambda i, every="Success" in wanted: every)
            elif key == "SourceTypes":
                tests.append(lambda i, every="AWS::EC2::Instance" in wanted: every)
            elif key in ("ActivationIds", "IamRole"):
                tests.append(lambda i: False)
            elif key == "tag-key":
                tests.append(lambda i, wanted=wanted: not wanted.isdisjoint(ec2_tags.get(i.instance_id, ())))
            elif isinstance(key, str) and key.startswith("tag:") and len(key) > 4:
                tests.append(lambda i, tag=key[4:], wanted=wanted: ec2_tags.get(i.instance_id, {}).get(tag) in wanted)
            else:
                raise error("InvalidInstanceInformationFilterValue" if key in valid_keys else "InvalidFilterKey", f"Filter key {key} is not valid.")
        chunk, token = page_where(list(fleet.instances.values()), lambda i: all(test(i) for test in tests), self._get_param("NextToken"), size)
        result: dict[str, Any] = {"InstanceInformationList": [self._instance_view(i) for i in chunk]}
        if token:
            result["NextToken"] = token
        return ActionResult(result)
