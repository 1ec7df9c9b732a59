"""Run Command on a clock the test moves by hand: no server, exact simulated seconds.

    fleet = HandClockFleet({"groups": [{"count": 3, "platform": "AMAZON_LINUX_2023"}]})
    command = fleet.send(fleet.ids(), "Scan", TimeoutSeconds=600)
    fleet.at(300)                      # replays every event due by simulated second 300
    fleet.details(command)             # {"i-...": "Success", ...}

Time scale 1, so wall-clock instants in answers are START plus the simulated seconds.
"""
from __future__ import annotations

from datetime import datetime, timezone

from fleetsim.baselines import predefined_baselines
from fleetsim.clock import SimClock
from fleetsim.fleet import SimInstance, build_instances
from fleetsim.runcommand import Command, RunCommand
from fleetsim.spec import load_fleet, patch_group_of

START = datetime(2026, 3, 10, 15, 30, 0, 250_000, tzinfo=timezone.utc)
REGION = "us-east-1"


class HandClockFleet:
    """The `world` RunCommand asks about instances, baselines and S3, over a fleet spec; time moves only through at()."""

    region = REGION

    def __init__(self, spec: dict, *, seed: int = 5):
        fleet_spec = load_fleet(spec, "test fleet")
        ids = [f"i-{index:017x}" for index in range(1, fleet_spec.instance_count + 1)]
        self.instances: dict[str, SimInstance] = {i.instance_id: i for i in build_instances(fleet_spec, seed, ids)}
        self.objects: dict[str, bytes] = {}
        self.outputs: dict[tuple[str, str], str] = {}
        self.log: list[str] = []
        self.now = 0.0
        self.clock = SimClock(1.0, monotonic=lambda: self.now, wall=START)
        self._defaults = {}
        for arn, baseline in predefined_baselines(REGION).items():
            self._defaults[baseline["OperatingSystem"]] = baseline
        self.run = RunCommand(self, self.clock, seed, self.log.append, offline_delivery=fleet_spec.offline_delivery,
                              compliance_lag_seconds=fleet_spec.compliance_lag_seconds)

    # ---- what RunCommand asks of its world ----

    def resolve_targets(self, instance_ids: list[str], targets: list[dict], at: float | None = None) -> list[str]:
        return list(instance_ids)

    def patch_group(self, instance: SimInstance) -> str:
        return patch_group_of(instance.group.tags)

    def baseline_for(self, instance: SimInstance) -> dict:
        return self._defaults[instance.platform.operating_system]

    def read_object(self, url: str) -> bytes | None:
        return self.objects.get(url)

    def write_object(self, bucket: str, key: str, text: str) -> None:
        self.outputs[(bucket, key)] = text

    # ---- driving it ----

    def ids(self, name: str | None = None) -> list[str]:
        return [i.instance_id for i in self.instances.values() if name is None or i.group.name == name]

    def at(self, seconds: float) -> None:
        assert seconds >= self.now, "the hand clock only moves forward"
        self.now = seconds
        self.run.advance()

    def send(self, instance_ids: list[str], operation: str = "Install", *, document: str = "AWS-RunPatchBaseline",
             parameters: dict | None = None, TimeoutSeconds: int = 3600, MaxConcurrency: str = "50", MaxErrors: str = "0") -> Command:
        self.run.advance()
        if document == "AWS-RunPatchBaseline":
            parameters = {"Operation": [operation], **(parameters or {})}
        return self.run.send(
            document_name=document, parameters=parameters or {}, comment="", instance_ids=instance_ids, targets=[],
            timeout_seconds=TimeoutSeconds, max_concurrency=MaxConcurrency, max_errors=MaxErrors, output_bucket="",
            output_prefix="", output_region=REGION, service_role="", notification_config=None, cloudwatch=None,
        )

    def cancel(self, command: Command, instance_ids: list[str] | None = None) -> None:
        self.run.cancel(command, instance_ids)

    @staticmethod
    def details(command: Command) -> dict[str, str]:
        return {instance_id: invocation.detail for instance_id, invocation in command.invocations.items()}

    @staticmethod
    def summary(command: Command) -> dict:
        status, details = command.status()
        counters = command.counters()
        return {"Status": status, "StatusDetails": details, "CompletedCount": counters.completed_count,
                "ErrorCount": counters.error_count, "DeliveryTimedOutCount": counters.delivery_timed_out_count}
