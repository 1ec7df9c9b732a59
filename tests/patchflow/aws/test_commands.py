"""How one wave becomes SendCommand calls: pure, table-driven."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from patchflow.aws import commands as ssm_commands
from patchflow.aws.commands import PatchCommandRequest, cancel_and_settle, follow_up_requests, wave_requests

TEMPLATE = PatchCommandRequest(operation="Install", reboot_option="RebootIfNeeded", max_concurrency="10%", max_errors="5%", timeout_seconds=600, comment="patchflow t0k3n prod I1")


def rows(count: int, os_name: str = "AMAZON_LINUX_2023", tag_key: str = "Patch Group", start: int = 0, prefix: str = "i-") -> list[dict]:
    return [{"instance_id": f"{prefix}{n:05d}", "operating_system": os_name, "tag_key": tag_key} for n in range(start, start + count)]


def shape(requests: list[PatchCommandRequest]) -> list[tuple]:
    return [(r.comment, len(r.instance_ids), r.target_tag, r.wave_tag and r.wave_tag[1], r.install_override_list) for r in requests]


GROUP_TAG = ("Patch Group", "prod")
AL, WIN, UBUNTU = "AMAZON_LINUX_2023", "WINDOWS", "UBUNTU"


@pytest.mark.parametrize(
    ("batch", "whole_group", "split_by_os", "expected"),
    [
        pytest.param(rows(10), True, False, [("patchflow t0k3n prod I1 all c1", 10, None, None, None)], id="small-whole-group-by-ids"),
        pytest.param(rows(120), True, False, [("patchflow t0k3n prod I1 all group", 0, GROUP_TAG, None, None)], id="big-whole-group-by-its-tag"),
        pytest.param(rows(50), False, False, [("patchflow t0k3n prod I1 all c1", 50, None, None, None)], id="partial-wave-of-one-id-list-by-ids"),
        pytest.param(
            rows(51), False, False, [("patchflow t0k3n prod I1 all w1", 51, GROUP_TAG, "t0k3n prod I1 all w1", None)],
            id="partial-wave-over-one-id-list-by-group-and-wave-tag",
        ),
        pytest.param(
            rows(45_000), False, False, [("patchflow t0k3n prod I1 all w1", 45_000, GROUP_TAG, "t0k3n prod I1 all w1", None)],
            id="45000-node-wave-is-one-command",
        ),
        pytest.param(
            rows(60) + rows(60, tag_key="PatchGroup", start=60), True, False,
            [
                ("patchflow t0k3n prod I1 all w1", 60, GROUP_TAG, "t0k3n prod I1 all w1", None),
                ("patchflow t0k3n prod I1 all w2", 60, ("PatchGroup", "prod"), "t0k3n prod I1 all w2", None),
            ],
            id="mixed-tag-keys-one-tagged-command-per-key",
        ),
        pytest.param(
            rows(60) + rows(10, tag_key="PatchGroup", start=60), False, False,
            [("patchflow t0k3n prod I1 all w1", 60, GROUP_TAG, "t0k3n prod I1 all w1", None), ("patchflow t0k3n prod I1 all c1", 10, None, None, None)],
            id="a-key-with-few-nodes-goes-by-ids",
        ),
        pytest.param(
            rows(60) + rows(70, prefix="mi-", start=60), False, False,
            [
                ("patchflow t0k3n prod I1 all w1", 60, GROUP_TAG, "t0k3n prod I1 all w1", None),
                ("patchflow t0k3n prod I1 all c1", 50, None, None, None),
                ("patchflow t0k3n prod I1 all c2", 20, None, None, None),
            ],
            id="managed-nodes-ec2-cannot-tag-go-by-ids",
        ),
        pytest.param(
            rows(60) + rows(3, os_name=WIN, start=60), True, True,
            [
                ("patchflow t0k3n prod I1 AMAZON_LINUX_2023 w1", 60, GROUP_TAG, "t0k3n prod I1 AMAZON_LINUX_2023 w1", "s3://l/al.yaml"),
                ("patchflow t0k3n prod I1 WINDOWS c1", 3, None, None, "s3://l/win.yaml"),
            ],
            id="pinned-splits-by-os-with-each-override",
        ),
        pytest.param(
            rows(80) + rows(70, os_name=WIN, start=80), False, True,
            [
                ("patchflow t0k3n prod I1 AMAZON_LINUX_2023 w1", 80, GROUP_TAG, "t0k3n prod I1 AMAZON_LINUX_2023 w1", "s3://l/al.yaml"),
                ("patchflow t0k3n prod I1 WINDOWS w1", 70, GROUP_TAG, "t0k3n prod I1 WINDOWS w1", "s3://l/win.yaml"),
            ],
            id="pinned-partial-wave-one-tagged-command-per-os",
        ),
    ],
)
def test_wave_requests(batch, whole_group, split_by_os, expected):
    overrides = {AL: "s3://l/al.yaml", WIN: "s3://l/win.yaml"} if split_by_os else {}
    requests = wave_requests(TEMPLATE, batch, patch_group="prod", whole_group=whole_group, overrides=overrides, split_by_os=split_by_os)
    assert shape(requests) == expected
    assert {(r.operation, r.max_concurrency, r.max_errors, r.timeout_seconds) for r in requests} == {("Install", "10%", "5%", 600)}


def test_a_tagged_request_tags_its_own_nodes_and_the_wave_tags_name_the_run_first():
    requests = wave_requests(TEMPLATE, rows(60) + rows(60, os_name=UBUNTU, start=60), patch_group="prod", whole_group=False, overrides={},
                             split_by_os=True)
    assert [(r.instance_ids[0], r.instance_ids[-1], r.wave_tag) for r in requests] == [
        ("i-00000", "i-00059", ("patchflow:wave", "t0k3n prod I1 AMAZON_LINUX_2023 w1")),
        ("i-00060", "i-00119", ("patchflow:wave", "t0k3n prod I1 UBUNTU w1")),
    ]


@pytest.mark.parametrize(
    ("batch", "whole_group", "expected_targets"),
    [
        pytest.param(rows(51), True, [{"Key": "tag:Patch Group", "Values": ["prod"]}], id="whole-group-its-tag"),
        pytest.param(rows(51), False, [{"Key": "tag:Patch Group", "Values": ["prod"]}, {"Key": "tag:patchflow:wave", "Values": ["t0k3n prod I1 all w1"]}],
                     id="partial-wave-group-and-wave-tag"),
    ],
)
def test_a_tag_targeted_request_sends_targets_not_instance_ids(batch, whole_group, expected_targets):
    (request,) = wave_requests(TEMPLATE, batch, patch_group="prod", whole_group=whole_group, overrides={}, split_by_os=False)
    kwargs = request.send_kwargs()
    assert (kwargs["Targets"], "InstanceIds" in kwargs) == (expected_targets, False)


@pytest.mark.parametrize(
    ("untargeted", "expected"),
    [
        pytest.param([], [], id="all-reached-none"),
        pytest.param(["i-00007", "i-00003"], [("patchflow t0k3n prod I1 UBUNTU w1 f1", ("i-00003", "i-00007"))], id="a-few-in-one"),
        pytest.param([f"i-{n:05d}" for n in range(120)], [
            ("patchflow t0k3n prod I1 UBUNTU w1 f1", 50), ("patchflow t0k3n prod I1 UBUNTU w1 f2", 50), ("patchflow t0k3n prod I1 UBUNTU w1 f3", 20),
        ], id="none-reached-chunks-of-50"),
    ],
)
def test_follow_up_requests_send_the_untargeted_nodes_by_instance_ids(untargeted, expected):
    (tagged,) = wave_requests(TEMPLATE, rows(120, os_name=UBUNTU), patch_group="prod", whole_group=False, overrides={UBUNTU: "s3://l/u.yaml"},
                              split_by_os=True)
    follow_ups = follow_up_requests(tagged, untargeted)
    assert [(r.comment, r.instance_ids if len(expected) == 1 else len(r.instance_ids)) for r in follow_ups] == expected
    for request in follow_ups:
        kwargs = request.send_kwargs()
        assert ("Targets" in kwargs, kwargs["InstanceIds"], kwargs["Parameters"]["InstallOverrideList"]) == (False, list(request.instance_ids), ["s3://l/u.yaml"])


@pytest.mark.parametrize(
    ("batch", "expected"),
    [
        pytest.param(rows(2) + rows(2, os_name=UBUNTU, start=2), [
            ("patchflow t0k3n prod I1 AMAZON_LINUX_2023 c1", ("i-00000", "i-00001"), "Install", "RebootIfNeeded", "s3://l/al.yaml"),
            ("patchflow t0k3n prod I1 UBUNTU c1", ("i-00002", "i-00003"), "Scan", "NoReboot", None),
        ], id="by-ids"),
        pytest.param(rows(2) + rows(51, os_name=UBUNTU, start=2), [
            ("patchflow t0k3n prod I1 AMAZON_LINUX_2023 c1", ("i-00000", "i-00001"), "Install", "RebootIfNeeded", "s3://l/al.yaml"),
            ("patchflow t0k3n prod I1 UBUNTU w1", tuple(f"i-{n:05d}" for n in range(2, 53)), "Scan", "NoReboot", None),
        ], id="tagged"),
    ],
)
def test_an_os_whose_source_stage_installed_nothing_new_is_scanned_not_installed(batch, expected):
    requests = wave_requests(
        TEMPLATE, batch, patch_group="prod", whole_group=True, overrides={AL: "s3://l/al.yaml"}, split_by_os=True, scan_only=[UBUNTU],
    )
    assert [(r.comment, r.instance_ids, r.operation, r.reboot_option, r.install_override_list) for r in requests] == expected


class CountingSSM:
    """ListCommands answers from a script, one answer per call; CancelCommand is recorded."""

    def __init__(self, statuses: list[str]):
        self.statuses = list(statuses)
        self.cancelled: list[str] = []
        self.exceptions = type("Exceptions", (), {"ClientError": Exception})

    def cancel_command(self, CommandId):
        self.cancelled.append(CommandId)

    def list_commands(self, CommandId):
        status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        return {"Commands": [{"CommandId": CommandId, "Status": status, "StatusDetails": status, "TargetCount": 2, "CompletedCount": 1}]}


@pytest.mark.parametrize(
    ("statuses", "expected_status", "sleeps"),
    [
        pytest.param(["Cancelling", "Cancelling", "Cancelled"], "Cancelled", 2, id="waits-through-cancelling"),
        pytest.param(["Cancelling", "Success"], "Success", 1, id="an-install-that-finished-is-success"),
        pytest.param(["Cancelling"], "Cancelling", 5, id="bounded-then-returned-unsettled"),
    ],
)
def test_cancel_and_settle_waits_until_the_command_is_terminal(statuses, expected_status, sleeps):
    ssm, slept, clock = CountingSSM(statuses), [], [0.0]

    def sleep(seconds):
        slept.append(seconds)
        clock[0] += seconds

    progress = cancel_and_settle(ssm, ["c-1"], timeout_seconds=10, poll_seconds=2, sleep=sleep, monotonic=lambda: clock[0])
    assert (ssm.cancelled, progress["c-1"].status, len(slept)) == (["c-1"], expected_status, sleeps)


RETRY_STARTED = datetime(2026, 5, 12, 10, 30, tzinfo=timezone.utc)


def _progress(requested_at: str) -> ssm_commands.CommandProgress:
    return ssm_commands.CommandProgress("c-1", "Success", "Success", 2, 2, 0, 0, "patchflow t dev I1 all c1", requested_at)


@pytest.mark.parametrize(
    "reattached, expected",
    [
        pytest.param({}, RETRY_STARTED, id="nothing-re-attached"),
        pytest.param({"a": _progress("2026-05-12T10:20:00+00:00")}, datetime(2026, 5, 12, 10, 20, tzinfo=timezone.utc), id="sent-before-the-retry"),
        pytest.param(
            {"a": _progress("2026-05-12T10:25:00Z"), "b": _progress("2026-05-12T10:21:00")},
            datetime(2026, 5, 12, 10, 21, tzinfo=timezone.utc),
            id="earliest-of-several-naive-read-as-utc",
        ),
        pytest.param({"a": _progress("")}, RETRY_STARTED, id="no-requested-time"),
    ],
)
def test_a_retry_judges_from_when_the_re_attached_commands_were_sent(reattached, expected):
    assert ssm_commands.first_sent_at(RETRY_STARTED, reattached) == expected


def test_command_progress_keeps_when_ssm_accepted_the_command():
    answer = {"CommandId": "c-1", "Status": "Success", "RequestedDateTime": datetime(2026, 5, 12, 10, 20, 5, tzinfo=timezone.utc)}
    assert ssm_commands.CommandProgress.from_api(answer).requested_at == "2026-05-12T10:20:05+00:00"
