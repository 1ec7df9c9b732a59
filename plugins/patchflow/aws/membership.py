"""Read the fleet's patch group membership from SSM and EC2; apply tag changes through EC2.

The rules live in patchflow.core.groups; this module only moves data.
"""
from __future__ import annotations

from typing import Iterable

from patchflow.core.groups import Node, Registration, TagChange
from patchflow.core.platforms import operating_system_of
from patchflow.aws.commands import _paginate, chunked

# CreateTags and DeleteTags take up to 1000 resources per call.
TAG_BATCH = 500


def managed_nodes(ssm, ec2) -> list[Node]:
    """Every node DescribeInstanceInformation knows, with its tags (EC2 tags; SSM tags for hybrid nodes)."""
    infos = list(_paginate(ssm.describe_instance_information, "InstanceInformationList", MaxResults=50))
    ec2_ids = {i["InstanceId"] for i in infos if i.get("ResourceType", "EC2Instance") == "EC2Instance"}
    tags = ec2_instance_tags(ec2, ec2_ids) if ec2_ids else {}
    nodes = []
    for info in infos:
        instance_id = info["InstanceId"]
        is_ec2 = instance_id in ec2_ids
        nodes.append(Node(
            instance_id=instance_id,
            operating_system=operating_system_of(info.get("PlatformType", ""), info.get("PlatformName", ""), info.get("PlatformVersion", "")),
            platform_name=info.get("PlatformName", ""),
            ping_status=info.get("PingStatus", ""),
            tags=tags.get(instance_id, {}) if is_ec2 else hybrid_node_tags(ssm, instance_id),
            ec2=is_ec2,
        ))
    return nodes


def ec2_instance_tags(ec2, instance_ids: Iterable[str]) -> dict[str, dict[str, str]]:
    """Tags of the given instances. One sweep over the account's instance tags costs fewer calls than
    filtering by resource id, whose filter takes a bounded number of values."""
    wanted = set(instance_ids)
    tags: dict[str, dict[str, str]] = {}
    pages = ec2.get_paginator("describe_tags").paginate(
        Filters=[{"Name": "resource-type", "Values": ["instance"]}], PaginationConfig={"PageSize": 1000}
    )
    for page in pages:
        for tag in page.get("Tags", []):
            if tag["ResourceId"] in wanted:
                tags.setdefault(tag["ResourceId"], {})[tag["Key"]] = tag.get("Value", "")
    return tags


def hybrid_node_tags(ssm, instance_id: str) -> dict[str, str]:
    answer = ssm.list_tags_for_resource(ResourceType="ManagedInstance", ResourceId=instance_id)
    return {t["Key"]: t["Value"] for t in answer.get("TagList", [])}


def patch_group_registrations(ssm) -> dict[tuple[str, str], Registration]:
    """DescribePatchGroups as (patch group, OS) -> the baseline registered for it."""
    return {
        (mapping["PatchGroup"], mapping["BaselineIdentity"]["OperatingSystem"]): Registration(
            mapping["BaselineIdentity"]["BaselineId"], mapping["BaselineIdentity"].get("BaselineName", "")
        )
        for mapping in _paginate(ssm.describe_patch_groups, "Mappings", MaxResults=100)
    }


def apply_tag_changes(ec2, changes: Iterable[TagChange], report=print) -> None:
    """CreateTags for every new value, then DeleteTags for the key each instance drops, batched by tag.

    Setting before removing keeps a moved instance in a group throughout. DeleteTags
    names the value, so a tag someone changed since the plan was read is left alone.
    """
    changes = list(changes)
    for action, call in (("set", ec2.create_tags), ("remove", ec2.delete_tags)):
        by_tag: dict[tuple[str, str], list[TagChange]] = {}
        for change in changes:
            if change.action == action:
                by_tag.setdefault((change.key, change.value), []).append(change)
        for (key, value), batch in sorted(by_tag.items()):
            for chunk in chunked([c.instance_id for c in batch], TAG_BATCH):
                call(Resources=list(chunk), Tags=[{"Key": key, "Value": value}])
            for change in batch:
                report(str(change))
