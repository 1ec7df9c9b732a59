"""moto's EC2 instance lookups by id, answered from an index instead of a pass over every reservation.

moto finds an instance by id by walking all its reservations (`get_instance_by_id`, `get_instance`), and
CreateTags does that once per resource id: 500 ids a call at 100,000 instances is 50 million steps. The index
gives the same instance objects in O(1).

It stays right without hooking moto's writes because moto only ever adds: RunInstances puts a new reservation
at the end of `reservations` and appends its instances to it; stop, start and terminate change an instance's
state in place and nothing removes one. So (reservation count, instance count of the newest reservation)
changes whenever an instance appears, and the index is rebuilt then. A moto reset builds new backends, which
start without an index.

CreateTags also refuses an instance id EC2 does not know, as EC2 does ("InvalidInstanceID.NotFound: The
instance ID 'i-08c333804c6bef15d' does not exist", quoted in hazelcast/hazelcast-simulator#1531); moto accepts it.
"""
from __future__ import annotations

from typing import Any

INDEX_ATTRIBUTE = "_fleetsim_instances_by_id"
STAMP_ATTRIBUTE = "_fleetsim_instances_stamp"


def _stamp(ec2_backend) -> tuple[int, int]:
    reservations = ec2_backend.reservations
    if not reservations:
        return 0, 0
    newest = reservations[next(reversed(reservations))]
    return len(reservations), len(newest.instances)


def instances_by_id(ec2_backend) -> dict[str, Any]:
    """Every instance `ec2_backend` holds (terminated ones too, as moto keeps them), by instance id."""
    stamp = _stamp(ec2_backend)
    index = ec2_backend.__dict__.get(INDEX_ATTRIBUTE)
    if index is None or ec2_backend.__dict__.get(STAMP_ATTRIBUTE) != stamp:
        index = {instance.id: instance for reservation in ec2_backend.reservations.values() for instance in reservation.instances}
        setattr(ec2_backend, INDEX_ATTRIBUTE, index)
        setattr(ec2_backend, STAMP_ATTRIBUTE, stamp)
    return index


def install() -> None:
    """Make every moto EC2 backend look instances up through the index, and CreateTags refuse unknown instance ids."""
    from moto.ec2.exceptions import InvalidInstanceIdError
    from moto.ec2.models import EC2Backend
    from moto.ec2.utils import EC2_RESOURCE_TO_PREFIX, get_prefix

    if getattr(EC2Backend, "_fleetsim_indexed", False):
        return
    scanning_check = EC2Backend.do_resources_exist
    instance_prefix = EC2_RESOURCE_TO_PREFIX["instance"]

    def get_instance_by_id(self, instance_id: str):
        return instances_by_id(self).get(instance_id)

    def get_instance(self, instance_id: str):
        found = instances_by_id(self).get(instance_id)
        if found is None:
            raise InvalidInstanceIdError(instance_id)
        return found

    def do_resources_exist(self, resource_ids: list[str]) -> bool:
        # moto's check, id by id in the order given, except that an unknown instance id is refused.
        for resource_id in resource_ids:
            if get_prefix(resource_id) == instance_prefix:
                get_instance(self, resource_id)
            else:
                scanning_check(self, [resource_id])
        return True

    EC2Backend.get_instance_by_id = get_instance_by_id
    EC2Backend.get_instance = get_instance
    EC2Backend.do_resources_exist = do_resources_exist
    EC2Backend._fleetsim_indexed = True
