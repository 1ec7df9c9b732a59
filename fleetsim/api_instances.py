"""DescribeInstanceInformation: the fleet's managed nodes, their agents and platforms."""
from __future__ import annotations

from typing import Any

from moto.core.responses import ActionResult

from fleetsim.api_conventions import FleetActions, error, page, validation
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
