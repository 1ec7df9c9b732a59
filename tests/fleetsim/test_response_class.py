"""The response class moto dispatches SSM requests to: one mixin per area of the API, each answer written by fleetsim.

moto calls the method named after the action in snake_case on FleetSSMResponse, so an action is answered by
whichever class of its MRO defines that name first; fleetsim's mixins must come before moto's own class. The
answers the mixins build are written by fleetsim's own JSON writer (moto's model-driven serializer costs
milliseconds per item at fleet scale, and drops what botocore's shape does not name), the rest by moto's.
"""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from moto.core.responses import ActionResult, EmptyResult

from fleetsim.models import FleetSSMResponse

# Each area of the SSM API fleetsim answers, and the module whose mixin answers it.
AREAS = {
    "fleetsim.api_run_command": ["cancel_command", "get_command_invocation", "list_command_invocations", "list_commands", "send_command"],
    "fleetsim.api_instances": ["describe_instance_information"],
    "fleetsim.api_baselines": [
        "create_patch_baseline", "delete_patch_baseline", "deregister_patch_baseline_for_patch_group", "describe_patch_baselines",
        "describe_patch_groups", "get_default_patch_baseline", "get_patch_baseline", "get_patch_baseline_for_patch_group",
        "register_default_patch_baseline", "register_patch_baseline_for_patch_group", "update_patch_baseline",
    ],
    "fleetsim.api_compliance": [
        "describe_instance_patch_states", "describe_instance_patch_states_for_patch_group", "describe_instance_patches",
        "describe_patch_group_state",
    ],
    "fleetsim.api_maintenance_windows": [
        "create_maintenance_window", "delete_maintenance_window", "deregister_target_from_maintenance_window",
        "deregister_task_from_maintenance_window", "describe_maintenance_window_targets", "describe_maintenance_window_tasks",
        "describe_maintenance_windows", "get_maintenance_window", "get_maintenance_window_task", "register_target_with_maintenance_window",
        "register_task_with_maintenance_window", "update_maintenance_window",
    ],
}
SERVED = sorted(action for actions in AREAS.values() for action in actions)

NEVER_INSTALLED = datetime(1970, 1, 1, tzinfo=timezone.utc)
INSTALLED = datetime(2026, 11, 16, 12, 0, 0, 123456, tzinfo=timezone.utc)
# Fields botocore's output shapes do not have, so only fleetsim's writer keeps them: whoever wrote the body shows.
ANSWER = {"When": NEVER_INSTALLED, "Items": [{"At": INSTALLED, "Unset": None}], "Unset": None}


def operation_name(action: str) -> str:
    return "".join(part.title() for part in action.split("_"))


def serialized(action: str, result: ActionResult) -> tuple[int, str, str]:
    response = FleetSSMResponse()
    # What moto's setup_class would read from boto3's request for this action.
    response.headers = {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": f"AmazonSSM.{operation_name(action)}"}
    response.querystring = {}
    response.response_headers = {"server": "amazon.com"}
    status, headers, body = response.serialized(result)
    return status, headers.get("Content-Type", ""), body


def test_each_action_fleetsim_serves_is_answered_by_the_mixin_of_its_area():
    answered_by: dict[str, list[str]] = {}
    for action in dir(FleetSSMResponse):
        method = getattr(FleetSSMResponse, action)
        if callable(method) and not action.startswith("_") and getattr(method, "__module__", "").startswith("fleetsim.api_"):
            answered_by.setdefault(method.__module__, []).append(action)
    assert answered_by == AREAS


@pytest.mark.parametrize("action", SERVED, ids=[a.replace("_", "-") for a in SERVED])
def test_fleetsim_writes_the_answers_of_the_actions_it_serves(action):
    assert serialized(action, ActionResult(ANSWER)) == (
        200, "application/x-amz-json-1.1", '{"When":0.0,"Items":[{"At":1794830400.123456}]}',
    )


@pytest.mark.parametrize(
    ("action", "result", "body"),
    [
        ("get_document", ActionResult({"Name": "AWS-RunShellScript", **ANSWER}), '{"Name": "AWS-RunShellScript"}'),
        ("cancel_command", EmptyResult(), "{}"),
    ],
    ids=["an-action-moto-answers", "an-answer-with-no-fields"],
)
def test_moto_writes_the_answers_fleetsim_leaves_to_it(action, result, body):
    assert serialized(action, result) == (200, "application/x-amz-json-1.1", body)
