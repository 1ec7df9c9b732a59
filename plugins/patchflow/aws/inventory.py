"""Who is in a patch group, what they run, and what their patch state is."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

from patchflow.core.patch_states import canonical_state, is_compliant  # noqa: F401 (read here by the shells)
from patchflow.core.platforms import operating_system_of
from patchflow.core.preflight import registrations_for_group
from patchflow.aws.commands import _paginate, chunked
from patchflow.aws.side_by_side import read_each

PATCH_GROUP_TAG_KEYS = ("Patch Group", "PatchGroup")


@dataclass(frozen=True)
class ManagedInstance:
    instance_id: str
    operating_system: str | None
    platform_name: str
    ping_status: str
    tag_key: str  # which of the two patch-group tag keys put it in the group

    @property
    def online(self) -> bool:
        return self.ping_status == "Online"

    def to_json(self) -> dict:
        return dict(self.__dict__)


def patch_group_members(ssm, patch_group: str) -> list[ManagedInstance]:
    """Managed nodes tagged into `patch_group` under either tag key, sorted by id."""
    members: dict[str, ManagedInstance] = {}
    for tag_key in PATCH_GROUP_TAG_KEYS:
        filters = [{"Key": f"tag:{tag_key}", "Values": [patch_group]}]
        for info in _paginate(ssm.describe_instance_information, "InstanceInformationList", Filters=filters, MaxResults=50):
            members.setdefault(
                info["InstanceId"],
                ManagedInstance(
                    instance_id=info["InstanceId"],
                    operating_system=operating_system_of(
                        info.get("PlatformType", ""), info.get("PlatformName", ""), info.get("PlatformVersion", "")
                    ),
                    platform_name=info.get("PlatformName", ""),
                    ping_status=info.get("PingStatus", ""),
                    tag_key=tag_key,
                ),
            )
    return [members[i] for i in sorted(members)]


def baselines_for_group(ssm, patch_group: str, operating_systems: Iterable[str]) -> dict[str, str | None]:
    """The baseline id SSM says each OS of the group uses: the registered one, else the OS default.

    GetPatchBaselineForPatchGroup answers the OS default for a group with nothing
    registered, so this cannot tell the two apart; `registered_baselines` can.
    """
    in_force: dict[str, str | None] = {}
    for operating_system in sorted(set(operating_systems)):
        answer = ssm.get_patch_baseline_for_patch_group(PatchGroup=patch_group, OperatingSystem=operating_system)
        in_force[operating_system] = answer.get("BaselineId") or None
    return in_force


def registered_baselines(ssm, patch_group: str) -> dict[str, str]:
    """Operating system -> the baseline registered for exactly `patch_group` (DescribePatchGroups, every page)."""
    mappings = _paginate(
        ssm.describe_patch_groups, "Mappings", Filters=[{"Key": "NAME_PREFIX", "Values": [patch_group]}], MaxResults=100
    )
    return registrations_for_group(patch_group, mappings)


def patch_states(ssm, instance_ids: Sequence[str]) -> dict[str, dict]:
    """DescribeInstancePatchStates for any number of instances (50 per call, paginated, a few chunks side by side)."""

    def read_chunk(chunk: Sequence[str]) -> list[dict]:
        return list(_paginate(ssm.describe_instance_patch_states, "InstancePatchStates", InstanceIds=list(chunk), MaxResults=50))

    return {state["InstanceId"]: state for found in read_each(read_chunk, chunked(list(instance_ids))) for state in found}


def instance_patches(ssm, instance_id: str, states: Sequence[str] = ()) -> list[dict]:
    """DescribeInstancePatches, every page, each item's State in the service's spelling.

    `states` may be given in either spelling (Installed or botocore's INSTALLED); the filter is sent
    in the service's, the only one its State filter matches.
    """
    wire_states = list(dict.fromkeys(canonical_state(s) for s in states))
    filters = [{"Key": "State", "Values": wire_states}] if wire_states else []
    return [
        {**item, "State": canonical_state(item.get("State", ""))}
        for item in _paginate(ssm.describe_instance_patches, "Patches", InstanceId=instance_id, Filters=filters, MaxResults=100)
    ]


