"""Bad requests get the error code and message SSM would send, never a 500."""
from __future__ import annotations

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.fleetsim.conftest import instances_in

pytestmark = pytest.mark.fleetsim

UNKNOWN_COMMAND = "11111111-2222-4333-8444-555555555555"
GOOD_ID = "i-0123456789abcdef0"

CASES = [
    ("send_command", {"DocumentName": "AWS-RunPatchBaseline", "InstanceIds": [GOOD_ID], "Parameters": {"Operation": ["Scan"]}},
     "InvalidInstanceId", f"Instances [[{GOOD_ID}]] not in a valid state for account 123456789012"),
    ("send_command", {"DocumentName": "AWS-RunPatchBaseline", "InstanceIds": ["i-bad"], "Parameters": {"Operation": ["Scan"]}},
     "ValidationException", "1 validation error detected: Value 'i-bad' at 'instanceIds.1.member' failed to satisfy constraint: "
     "Member must satisfy regular expression pattern: (^i-(\\w{8}|\\w{17})$)|(^mi-\\w{17}$)"),
    ("send_command", {"DocumentName": "AWS-RunPatchBaseline", "InstanceIds": [GOOD_ID, GOOD_ID], "Parameters": {"Operation": ["Scan"]}},
     "DuplicateInstanceId", "Instance IDs must be unique."),
    ("send_command", {"DocumentName": "AWS-RunPatchBaseline", "Parameters": {"Operation": ["Scan"]}},
     "ValidationException", "1 validation error detected: Specify either InstanceIds or Targets."),
    ("send_command", {"DocumentName": "AWS-RunPatchBaseline", "Targets": [{"Key": "tag:Patch Group", "Values": ["web"]}], "Parameters": {"Operation": ["Patch"]}},
     "InvalidParameters", "Parameter Operation must be one of [Scan, Install], got 'Patch'."),
    ("send_command", {"DocumentName": "AWS-RunPatchBaseline", "Targets": [{"Key": "tag:Patch Group", "Values": ["web"]}], "Parameters": {"Operation": ["Scan"], "Force": ["yes"]}},
     "InvalidParameters", "Parameters [Force] are not valid for document AWS-RunPatchBaseline."),
    ("send_command", {"DocumentName": "AWS-RunPatchBaseline", "Targets": [{"Key": "tag:Patch Group", "Values": ["web"]}], "Parameters": {"Operation": ["Install"], "InstallOverrideList": ["ftp://x/y"]}},
     "InvalidParameters", "Parameter InstallOverrideList must be an https:// or s3:// URL, got 'ftp://x/y'."),
    ("send_command", {"DocumentName": "AWS-RunPatchBaseline", "Targets": [{"Key": "tag:Patch Group", "Values": ["web"]}], "Parameters": {"Operation": ["Scan"]}, "MaxConcurrency": "0"},
     "ValidationException", "1 validation error detected: Value '0' at 'maxConcurrency' failed to satisfy constraint: "
     "Member must satisfy regular expression pattern: ^([1-9][0-9]*|[1-9][0-9]%|[1-9]%|100%)$"),
    ("send_command", {"DocumentName": "No-Such-Document", "Targets": [{"Key": "tag:Patch Group", "Values": ["web"]}]},
     "InvalidDocument", "Document with name No-Such-Document does not exist."),
    ("list_commands", {"CommandId": UNKNOWN_COMMAND}, "InvalidCommandId", "Invalid command ID."),
    ("list_commands", {"Filters": [{"key": "Status", "value": "Done"}]}, "InvalidFilterValue",
     "Status filter value Done is not valid; expected one of Pending, InProgress, Success, Cancelled, Failed, TimedOut, AccessDenied, "
     "DeliveryTimedOut, ExecutionTimedOut, Incomplete, NoInstancesInTag, LimitExceeded."),
    ("list_command_invocations", {"CommandId": UNKNOWN_COMMAND}, "InvalidCommandId", "Invalid command ID."),
    ("list_command_invocations", {"NextToken": "garbage"}, "InvalidNextToken", "The specified token isn't valid."),
    ("get_command_invocation", {"CommandId": UNKNOWN_COMMAND, "InstanceId": GOOD_ID}, "InvalidCommandId", "Invalid command ID."),
    ("cancel_command", {"CommandId": UNKNOWN_COMMAND}, "InvalidCommandId", "Invalid command ID."),
    ("get_patch_baseline", {"BaselineId": "pb-0123456789abcdef0"}, "DoesNotExistException", "Patch Baseline pb-0123456789abcdef0 does not exist."),
    ("delete_patch_baseline", {"BaselineId": "arn:aws:ssm:us-east-1:075727635805:patchbaseline/pb-09ca3fb51f0412ec3"}, "InvalidResourceId",
     "Patch baseline arn:aws:ssm:us-east-1:075727635805:patchbaseline/pb-09ca3fb51f0412ec3 is owned by AWS and can't be deleted."),
    ("update_patch_baseline", {"BaselineId": "pb-0123456789abcdef0", "Name": "x-y-z"}, "DoesNotExistException", "Patch Baseline pb-0123456789abcdef0 does not exist."),
    ("create_patch_baseline", {"Name": "bad name!", "OperatingSystem": "AMAZON_LINUX_2023"}, "ValidationException",
     "1 validation error detected: Value 'bad name!' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9_\\-.]{3,128}$"),
    ("create_patch_baseline", {"Name": "too-late", "ApprovalRules": {"PatchRules": [{"PatchFilterGroup": {"PatchFilters": [{"Key": "PRODUCT", "Values": ["*"]}]}, "ApproveAfterDays": 400}]}},
     "ValidationException", "1 validation error detected: Value '400' at 'approvalRules.patchRules.1.member.approveAfterDays' failed to satisfy constraint: Member must have value less than or equal to 360"),
    ("register_patch_baseline_for_patch_group", {"BaselineId": "pb-0123456789abcdef0", "PatchGroup": "web"}, "DoesNotExistException",
     "Patch Baseline pb-0123456789abcdef0 does not exist."),
    ("deregister_patch_baseline_for_patch_group", {"BaselineId": "arn:aws:ssm:us-east-1:075727635805:patchbaseline/pb-09ca3fb51f0412ec3", "PatchGroup": "web"},
     "DoesNotExistException", "Patch Baseline arn:aws:ssm:us-east-1:075727635805:patchbaseline/pb-09ca3fb51f0412ec3 is not registered for Patch Group web."),
    ("describe_instance_patches", {"InstanceId": GOOD_ID}, "InvalidInstanceId", f"Instance ID {GOOD_ID} is not valid."),
    ("describe_instance_information", {"Filters": [{"Key": "tag:Patch Group", "Values": ["web"]}, {"Key": "PingStatus", "Values": ["Online"]}]},
     "InvalidFilter", "Tag filters can't be combined with other filters."),
    ("describe_instance_information", {"Filters": [{"Key": "PingStatus", "Values": ["Asleep"]}]}, "InvalidInstanceInformationFilterValue",
     "PingStatus values ['Asleep'] are not valid; expected Online, ConnectionLost or Inactive."),
    ("describe_instance_patch_states_for_patch_group", {"PatchGroup": "web", "Filters": [{"Key": "MissingCount", "Values": ["x"], "Type": "Equal"}]},
     "ValidationException", "1 validation error detected: Value '['x']' at 'filters.1.member.values' failed to satisfy constraint: Member must be one integer greater than or equal to 0"),
    ("add_tags_to_resource", {"ResourceType": "PatchBaseline", "ResourceId": "pb-0123456789abcdef0", "Tags": [{"Key": "a", "Value": "b"}]},
     "DoesNotExistException", "Patch Baseline pb-0123456789abcdef0 does not exist."),
]


@pytest.mark.parametrize("operation, kwargs, code, message", CASES, ids=[f"{c[0]}-{c[2]}-{i}" for i, c in enumerate(CASES)])
def test_error_code_and_message(api_fleet, operation, kwargs, code, message):
    # Client-side validation off: the server itself must refuse, as SSM does for any client.
    ssm = api_fleet.client("ssm", config=Config(parameter_validation=False, retries={"max_attempts": 1}))
    with pytest.raises(ClientError) as caught:
        getattr(ssm, operation)(**kwargs)
    assert (caught.value.response["ResponseMetadata"]["HTTPStatusCode"], caught.value.response["Error"]) == (400, {"Code": code, "Message": message})


def test_cancel_with_an_instance_outside_the_command(api_fleet, ssm):
    spare = instances_in(ssm, "spare")
    command_id = ssm.send_command(DocumentName="AWS-RunPatchBaseline", InstanceIds=spare[:1], Parameters={"Operation": ["Scan"]})["Command"]["CommandId"]
    import time

    time.sleep(0.2)
    with pytest.raises(ClientError) as caught:
        ssm.cancel_command(CommandId=command_id, InstanceIds=[GOOD_ID])
    assert caught.value.response["Error"] == {"Code": "InvalidInstanceId", "Message": f"Instances [[{GOOD_ID}]] are not targets of command {command_id}."}
