"""The boto3 shell of `patchflow import`: the account's Patch Manager setup in, the managed tag on adopted baselines out.

read_setup() reads what patchflow.core.adoption decides on, as SSM answers it:

* every patch baseline (DescribePatchBaselines, all pages) and the document of
  each custom one (GetPatchBaseline; AWS keeps the rules of its own), with the
  patch group registrations (DescribePatchGroups). DescribePatchBaselines
  already says which baseline is its OS's default, so no GetDefaultPatchBaseline;
* every maintenance window (DescribeMaintenanceWindows, then GetMaintenanceWindow
  for the fields the listing lacks, such as CreatedDate), its targets and its
  tasks (DescribeMaintenanceWindowTargets/Tasks, all pages). A task that runs
  AWS-RunPatchBaseline is read again with GetMaintenanceWindowTask: only that
  answer carries TaskInvocationParameters (Operation, RebootOption, overrides).

tag_adopted() writes the one thing import changes in the account: the tag
`managed-by=patchflow` on each baseline it wrote a file for, the tag
`patchflow sync` takes as "this baseline is mine" (patchflow.aws.baseline_sync).
"""
from __future__ import annotations

from typing import Iterable

from patchflow.aws.baseline_sync import MANAGED_TAG_KEY, MANAGED_TAG_VALUE, RESOURCE_TYPE
from patchflow.core.adoption import PatchManagerSetup
from patchflow.core.adoption_baselines import owned_by_aws
from patchflow.aws.maintenance_windows import ssm_answer, window_tasks


def _pages(ssm, operation: str, key: str, **kwargs) -> list[dict]:
    return [item for page in ssm.get_paginator(operation).paginate(**kwargs) for item in page.get(key, [])]


def read_setup(ssm) -> PatchManagerSetup:
    """Everything of the account's Patch Manager setup that import maps or lists, in the client's region."""
    identities = _pages(ssm, "describe_patch_baselines", "BaselineIdentities")
    documents = {
        identity["BaselineId"]: ssm_answer(ssm.get_patch_baseline(BaselineId=identity["BaselineId"]))
        for identity in identities if not owned_by_aws(identity)
    }
    windows = [ssm_answer(ssm.get_maintenance_window(WindowId=listed["WindowId"]))
               for listed in _pages(ssm, "describe_maintenance_windows", "WindowIdentities")]
    targets = {window["WindowId"]: _pages(ssm, "describe_maintenance_window_targets", "Targets", WindowId=window["WindowId"])
               for window in windows}
    tasks = {window["WindowId"]: window_tasks(ssm, window["WindowId"]) for window in windows}
    return PatchManagerSetup(
        windows=windows,
        window_targets=targets,
        window_tasks=tasks,
        baselines=identities,
        baseline_documents=documents,
        patch_groups=_pages(ssm, "describe_patch_groups", "Mappings"),
        region=ssm.meta.region_name,
    )


def tag_adopted(ssm, baseline_ids: Iterable[str], report=print) -> None:
    """Tag each baseline managed-by=patchflow, so `patchflow sync` keeps it as its file says; one line per baseline tagged."""
    for baseline_id in baseline_ids:
        ssm.add_tags_to_resource(ResourceType=RESOURCE_TYPE, ResourceId=baseline_id,
                                 Tags=[{"Key": MANAGED_TAG_KEY, "Value": MANAGED_TAG_VALUE}])
        report(baseline_id)
