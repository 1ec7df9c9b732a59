"""Maintenance windows kept in SSM that a stage references (window: {ssm_window: NAME-or-ID}).

Reads only: which window a reference names and SSM's whole answer for it, and the tasks that
window runs (so preflight can warn when it still patches the same nodes itself, and import can
map its patch task). Which window a name picks, and what its answer means, is decided in the core
(patchflow.core.maintenance_windows, patchflow.core.stage_windows).
"""
from __future__ import annotations

from typing import Mapping

from botocore.exceptions import ClientError

from patchflow.core.adoption_tasks import is_patch_task
from patchflow.core.maintenance_windows import SsmWindowRef, ssm_window_identity
from patchflow.aws.commands import _paginate

# DescribeMaintenanceWindows and DescribeMaintenanceWindowTasks take MaxResults 10-100.
PAGE_SIZE = 100


def find_window(ssm, ref: SsmWindowRef) -> Mapping | str:
    """SSM's GetMaintenanceWindow answer for the window `ref` names, or why there is none.

    A name is looked up with DescribeMaintenanceWindows' Name filter, which matches names starting
    with it, so the one window named exactly so is picked from every page; an id is read directly.
    SSM refusing a call (no permission, a throttle it kept up) is a reason too, so the stage stops
    with it rather than with a traceback.
    """
    region = ssm.meta.region_name
    try:
        if ref.is_id:
            try:
                return ssm_answer(ssm.get_maintenance_window(WindowId=ref.name_or_id))
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "DoesNotExistException":
                    raise
                return ssm_window_identity(ref, [], region)
        identities = list(_paginate(ssm.describe_maintenance_windows, "WindowIdentities",
                                    Filters=[{"Key": "Name", "Values": [ref.name_or_id]}], MaxResults=PAGE_SIZE))
        found = ssm_window_identity(ref, identities, region)
        if isinstance(found, str):
            return found
        return ssm_answer(ssm.get_maintenance_window(WindowId=found["WindowId"]))
    except ClientError as exc:
        error = exc.response.get("Error", {})
        return f"SSM refused to read maintenance window {ref.name_or_id} in {region}: {error.get('Code', '?')}: {error.get('Message', '')}"


def window_tasks(ssm, window_id: str) -> list[dict]:
    """Every task registered with the window (DescribeMaintenanceWindowTasks, all pages), each AWS-RunPatchBaseline
    task as GetMaintenanceWindowTask answers it: DescribeMaintenanceWindowTasks leaves out TaskInvocationParameters,
    where a task registered without the deprecated TaskParameters keeps its Operation."""
    tasks = list(_paginate(ssm.describe_maintenance_window_tasks, "Tasks", WindowId=window_id, MaxResults=PAGE_SIZE))
    return [
        ssm_answer(ssm.get_maintenance_window_task(WindowId=window_id, WindowTaskId=task["WindowTaskId"])) if is_patch_task(task) else task
        for task in tasks
    ]


def ssm_answer(answer: Mapping) -> dict:
    """A boto3 response as SSM's answer, without the SDK's own metadata."""
    return {key: value for key, value in answer.items() if key != "ResponseMetadata"}
