"""moto's SSM backend and responses, extended with the simulated fleet.

moto serves SSM from `ssm_backends`; `install()` swaps that registry's backend
class for `FleetSSMBackend` before the first request, and moto then finds
this module's sibling `urls.py` (it derives the URL module from the backend's
module name), which routes SSM requests to `FleetSSMResponse`. Everything
moto already does for SSM keeps working; what Patch Manager and Run Command
need is answered by FleetSSMResponse's mixins, one module per area of the API
(fleetsim.api_run_command, api_instances, api_baselines, api_compliance,
api_maintenance_windows, on the shared conventions of fleetsim.api_conventions),
from the simulation in fleetsim.runcommand.

moto keeps one backend per account and Region and builds one for whichever a
request names (fleetsim.identity); the fleet spec puts each group and alarm in
one of them, and every backend runs on the fleet's one simulated clock.
"""
from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Iterator
from urllib.parse import urlparse

from moto.core.responses import ActionResult
from moto.core.utils import camelcase_to_underscores
from moto.ssm.models import SimpleSystemManagerBackend, ssm_backends
from moto.ssm.responses import SimpleSystemManagerResponse

from fleetsim import baselines as baseline_rules
from fleetsim import ec2_lookup
from fleetsim.accounts import DEFAULT_ACCOUNT_ID, DEFAULT_REGION
from fleetsim.alarms import launch_alarms
from fleetsim.api_baselines import PatchBaselineActions
from fleetsim.api_compliance import PatchComplianceActions
from fleetsim.api_conventions import FleetActions, error
from fleetsim.api_instances import InstanceInformationActions
from fleetsim.api_maintenance_windows import MaintenanceWindowActions, WindowRecord
from fleetsim.api_run_command import RunCommandActions
from fleetsim.clock import SimClock
from fleetsim.fleet import SimInstance, build_instances
from fleetsim.identity import create_accounts
from fleetsim.runcommand import RunCommand
from fleetsim.spec import FleetSpec, patch_group_of

# Every request, and the ticker, runs under this lock: moto's models are not thread-safe.
SIMULATION_LOCK = threading.RLock()


@dataclass
class FleetSettings:
    """What every backend of one launched fleet shares: its clock, seed, log and the spec's Run Command behaviour."""

    clock: SimClock
    seed: int = 0
    log: Callable[[str], None] = lambda line: None
    behaviour: dict = field(default_factory=dict)
    # Simulated seconds from an EC2 CreateTags/DeleteTags until Run Command's target resolution sees it
    # (fleetsim/FIDELITY.md, "Behaviours AWS leaves open"); 0: at once.
    tag_visibility_seconds: float = 0.0


class FleetSSMBackend(SimpleSystemManagerBackend):
    # Set by launch_fleet: a backend moto builds on demand, for an account and Region the spec put nothing in,
    # still runs on the fleet's clock.
    settings = FleetSettings(SimClock(1.0))

    def __init__(self, region_name: str, account_id: str):
        super().__init__(region_name, account_id)
        self.fleet_baselines: dict[str, dict[str, Any]] = baseline_rules.predefined_baselines(region_name)
        self.baseline_times: dict[str, tuple[datetime, datetime]] = {}
        self.default_baseline_ids: dict[str, str] = {b["OperatingSystem"]: arn for arn, b in self.fleet_baselines.items()}
        self.group_baselines: dict[tuple[str, str], str] = {}
        # What SSM keeps about a maintenance window and moto's FakeMaintenanceWindow does not, by window id.
        self.window_records: dict[str, WindowRecord] = {}
        self.instances: dict[str, SimInstance] = {}
        self.run_command: RunCommand | None = None
        self.clock = self.settings.clock
        # instance id -> [(simulated second a tag change reaches target resolution, the tags it saw before)], oldest first.
        self.pending_tag_views: dict[str, list[tuple[float, dict[str, str]]]] = {}

    # ---- the fleet ----------------------------------------------------------------------

    def attach_fleet(self, instances: list[SimInstance]) -> None:
        self.instances = {i.instance_id: i for i in instances}
        now = self.clock.wall(0)
        for instance in instances:
            instance.registered_wall = now
        self.run_command = self._new_run_command()

    def _new_run_command(self) -> RunCommand:
        settings = self.settings
        # The default account and Region keep the command ids they always had; elsewhere the ids also depend on where.
        where = () if (self.account_id, self.region_name) == (DEFAULT_ACCOUNT_ID, DEFAULT_REGION) else (self.account_id, self.region_name)
        return RunCommand(self, self.clock, settings.seed, settings.log, id_scope=where, **settings.behaviour)

    def commands(self) -> RunCommand:
        if self.run_command is None:
            self.run_command = self._new_run_command()
        self.run_command.advance()
        return self.run_command

    @property
    def ec2(self):
        from moto.ec2.models import ec2_backends

        return ec2_backends[self.account_id][self.region_name]

    def tags_of(self, instance_id: str) -> dict[str, str]:
        return self.ec2.tags.get(instance_id, {})

    def running_ids(self) -> set[str]:
        # One pass over the instances, without moto's all_instances(), which copies every reservation first.
        return {instance_id for instance_id, i in ec2_lookup.instances_by_id(self.ec2).items() if i._state.name == "running"}

    def is_running(self, instance_id: str) -> bool:
        """Whether the fleet's instance is in EC2 state running, without a pass over every reservation."""
        found = ec2_lookup.instances_by_id(self.ec2).get(instance_id) if instance_id in self.instances else None
        return found is not None and found._state.name == "running"

    def patch_group(self, instance: SimInstance) -> str:
        return patch_group_of(self.tags_of(instance.instance_id))

    def resolve_targets(self, instance_ids: list[str], targets: list[dict], at: float | None = None) -> list[str]:
        """The running nodes a command reaches: its InstanceIds, or those matching every one of its Targets at simulated second `at`."""
        if instance_ids:
            return [i for i in instance_ids if i in self.instances and self.is_running(i)]
        running = self.running_ids()
        selected = [i for i in self.instances if i in running]
        moment = self.clock.now() if at is None else at
        ec2_tags = self.ec2.tags  # looked up once: moto's backend registry costs microseconds a lookup, 100,000 times a target
        no_tags: dict[str, str] = {}

        def seen(instance_id: str) -> dict[str, str]:
            return self._tags_seen(ec2_tags.get(instance_id, no_tags), instance_id, moment)

        for target in targets:
            key, values = target["Key"], set(target.get("Values") or [])
            if key == "InstanceIds":
                selected = [i for i in selected if i in values]
            elif key == "tag-key":
                selected = [i for i in selected if not values.isdisjoint(seen(i))]
            elif key.startswith("tag:"):
                tag = key[4:]
                selected = [i for i in selected if seen(i).get(tag) in values]
        return selected

    # ---- tags as Run Command sees them --------------------------------------------------

    def tags_before_change(self, resource_ids: list[str]) -> dict[str, dict[str, str]]:
        """The tags of the fleet's instances among `resource_ids`, as they are before an EC2 tag write."""
        return {i: dict(self.tags_of(i)) for i in resource_ids if i in self.instances}

    def tags_changed(self, before: dict[str, dict[str, str]]) -> None:
        """An EC2 tag write changed these instances' tags: target resolution keeps seeing `before` for tag_visibility_seconds."""
        lag = self.settings.tag_visibility_seconds
        if not lag:
            return
        now = self.clock.now()
        visible_at = now + lag
        for instance_id, tags in before.items():
            # Every event up to now has been replayed (the server advances the fleet before each request): a change
            # already visible is never needed again.
            pending = [entry for entry in self.pending_tag_views.get(instance_id, []) if entry[0] > now]
            pending.append((visible_at, tags))
            self.pending_tag_views[instance_id] = pending

    def tags_seen_by_run_command(self, instance_id: str, at: float) -> dict[str, str]:
        """The instance's tags as target resolution sees them at simulated second `at`: EC2's, less the changes not yet visible.

        Each pending entry holds the tags from before its change; the first change not yet visible at `at` still
        shows the tags as they were before it, which is what every earlier, visible change left.
        """
        return self._tags_seen(self.tags_of(instance_id), instance_id, at)

    def _tags_seen(self, ec2_tags: dict[str, str], instance_id: str, at: float) -> dict[str, str]:
        """tags_seen_by_run_command given the instance's tags in EC2 now."""
        for visible_at, tags in self.pending_tag_views.get(instance_id, ()):
            if visible_at > at:
                return tags
        return ec2_tags

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
        from moto.s3.models import s3_backends

        # Bucket names are global: a node writes its output to the bucket, whichever account owns it.
        owner = s3_backends.bucket_accounts.get(bucket)
        if owner is not None:
            partition, account_id = owner
            s3_backends[account_id][partition].put_object(bucket, key, text.encode("utf-8"))

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
    """Make moto build FleetSSMBackend for SSM, and find EC2 instances by id through an index (fleetsim.ec2_lookup);
    call before the server answers its first request."""
    ec2_lookup.install()
    ssm_backends.backend = FleetSSMBackend
    for account in list(ssm_backends.keys()):
        del ssm_backends[account]


def every_backend() -> Iterator[FleetSSMBackend]:
    """Every SSM backend moto holds now, launched with the fleet or built on demand (none is built by looking)."""
    for regions in list(dict.values(ssm_backends)):
        yield from list(dict.values(regions))


@dataclass
class LaunchedFleet:
    """The spec's instances in moto: one SSM backend per account and Region of the spec, the default one first."""

    spec: FleetSpec
    seed: int
    clock: SimClock
    backends: dict[tuple[str, str], FleetSSMBackend]

    @property
    def default(self) -> FleetSSMBackend:
        return self.backends[DEFAULT_ACCOUNT_ID, DEFAULT_REGION]

    def advance(self) -> None:
        """Move every backend's Run Command to the present, those built on demand included."""
        for backend in every_backend():
            backend.commands()

    def instance(self, instance_id: str) -> SimInstance | None:
        return next((b.instances[instance_id] for b in self.backends.values() if instance_id in b.instances), None)

    @property
    def instance_count(self) -> int:
        return sum(len(b.instances) for b in self.backends.values())

    def command_count(self) -> int:
        return sum(len(b.commands().order) for b in every_backend())


def launch_fleet(spec: FleetSpec, seed: int, clock: SimClock, log: Callable[[str], None], *, tag_visibility_seconds: float = 0.0) -> LaunchedFleet:
    """Create the spec's instances in moto EC2, each group in its account and Region, and attach them to the SSM
    backends there; create the CloudWatch alarms, and the accounts' aliases and roles in IAM.

    `tag_visibility_seconds`: how long an EC2 tag write takes to reach Run Command's target resolution (0: at once)."""
    from moto.ec2.models import ec2_backends
    from moto.moto_api._internal import mock_random

    from fleetsim.fleet import PLATFORMS

    FleetSSMBackend.settings = FleetSettings(clock, seed, log, {"offline_delivery": spec.offline_delivery,
                                                                "compliance_lag_seconds": spec.compliance_lag_seconds},
                                             tag_visibility_seconds=tag_visibility_seconds)
    mock_random.seed(seed)  # instance ids come from moto's own generator
    ids: list[str] = []
    for group in spec.groups:
        platform = PLATFORMS[group.platform]
        reservation = ec2_backends[group.account][group.region].run_instances(
            platform.image_id, group.count, None, [],
            tags={"instance": dict(group.tags)} if group.tags else {},
            instance_type="t3.medium" if platform.platform_type == "Linux" else "m5.large",
            is_instance_type_default=False,
            region_name=group.region,
            # No root volumes: moto attaches each by scanning every instance, O(n^2) at fleet scale.
            block_device_mappings=[],
        )
        ids += [instance.id for instance in reservation.instances]
    instances = build_instances(spec, seed, ids)
    backends: dict[tuple[str, str], FleetSSMBackend] = {}
    for account_id, region in spec.scopes:
        backend = ssm_backends[account_id][region]
        backend.attach_fleet([i for i in instances if (i.group.account, i.group.region) == (account_id, region)])
        launch_alarms(tuple(a for a in spec.alarms if a.scope == (account_id, region)), account_id=account_id, region=region, seed=seed,
                      clock=clock, run_command=backend.run_command, instances=backend.instances.values(), log=log)
        backends[account_id, region] = backend
    create_accounts(spec.accounts)
    return LaunchedFleet(spec, seed, clock, backends)


# Values JSON writes as they are: most of a page, so they are passed through without a call each.
_JSON_LEAVES = frozenset({str, int, float, bool})


def _json_ready(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: v if type(v) in _JSON_LEAVES else _json_ready(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [v if type(v) in _JSON_LEAVES else _json_ready(v) for v in value]
    if isinstance(value, datetime):
        return value.timestamp()
    return value


class FleetSSMResponse(RunCommandActions, InstanceInformationActions, PatchBaselineActions, PatchComplianceActions,
                       MaintenanceWindowActions, SimpleSystemManagerResponse):
    """SSM actions answered from the simulation, one mixin per area of the API; the rest are moto's.

    moto calls the method named after the action in snake_case, looked up on this class and its bases,
    so the mixins' methods answer their actions; they come before moto's class so they replace its own.
    """

    def serialized(self, action_result: ActionResult):
        # moto's model-driven serializer costs milliseconds per item; at fleet scale the pages the mixins
        # build are plain JSON-protocol data (timestamps as epoch seconds), so they are written directly.
        result = action_result.result
        if isinstance(result, dict) and camelcase_to_underscores(self._get_action()) in FLEET_ACTIONS:
            body = json.dumps(_json_ready(result), separators=(",", ":"))
            headers = {"Content-Type": "application/x-amz-json-1.1", **self.response_headers}
            return 200, headers, body
        return super().serialized(action_result)


# The actions the mixins answer: their own methods, not the ones FleetSSMResponse inherits from moto.
FLEET_ACTIONS = frozenset(
    name
    for area in FleetSSMResponse.__mro__ if issubclass(area, FleetActions) and area is not FleetSSMResponse
    for name, value in vars(area).items() if callable(value) and not name.startswith("_")
)
