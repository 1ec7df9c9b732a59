"""One fleetsim serves several AWS accounts and Regions: each request is answered in the account of its keys and
the Region of its signature, STS AssumeRole hands out keys of the role's account or refuses as AWS does, and
instances, commands, baselines, windows, alarms and API counts stay where they are (fleetsim/FIDELITY.md,
"Accounts, Regions and AssumeRole").
"""
from __future__ import annotations

import json
import time
import urllib.request
import uuid

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from fleetsim.clock import SimClock
from fleetsim.fleet import stable_random
from fleetsim.runcommand import RunCommand
from fleetsim.testing import fleetsim_fixture

from tests.fleetsim.conftest import all_invocations, wait_for_command

pytestmark = pytest.mark.fleetsim

HUB, DEV, TEST, PROD = "123456789012", "111111111111", "222222222222", "333333333333"
multi_account = fleetsim_fixture("include/fleets/multi-account.yaml", seed=7, time_scale=3000)
OPS = "444444444444"
# Its own server: throttled, and reset by moto's reset endpoint.
small = fleetsim_fixture({
    "throttling": {"DescribeInstanceInformation": 0.001},
    "accounts": [{"id": OPS, "alias": "ops", "roles": [{"name": "reader", "trusted_accounts": [HUB]}]}],
    "groups": [{"count": 1, "platform": "UBUNTU"}, {"count": 2, "platform": "WINDOWS", "account": "ops", "region": "us-west-2"}],
}, seed=7)


def role_arn(account: str) -> str:
    return f"arn:aws:iam::{account}:role/patchflow-target"


def assumed(sim, account: str, session: str = "patchflow-run-1", **caller) -> dict:
    """Credentials of the account's patchflow-target role, assumed from the hub (or from `caller`'s account/credentials)."""
    sts = sim.client("sts", **caller)
    return sts.assume_role(RoleArn=role_arn(account), RoleSessionName=session, ExternalId="patchflow")["Credentials"]


def instance_ids(ssm) -> list[str]:
    pages = ssm.get_paginator("describe_instance_information").paginate()
    return sorted(i["InstanceId"] for page in pages for i in page["InstanceInformationList"])


def ec2_ids(ec2) -> list[str]:
    return sorted(i["InstanceId"] for r in ec2.describe_instances()["Reservations"] for i in r["Instances"])


def test_each_account_and_region_answers_with_its_own_instances_only(multi_account):
    where = {(HUB, "us-east-1"): {}, (PROD, "us-east-1"): {"credentials": assumed(multi_account, PROD)}}
    for account, region in ((DEV, "us-east-1"), (TEST, "us-east-1"), (PROD, "eu-west-1"), (PROD, "eu-central-1")):
        where[account, region] = {"credentials": assumed(multi_account, account), "region": region}
    ssm_seen = {scope: instance_ids(multi_account.client("ssm", **kwargs)) for scope, kwargs in where.items()}
    ec2_seen = {scope: ec2_ids(multi_account.client("ec2", **kwargs)) for scope, kwargs in where.items()}
    assert ({scope: len(ids) for scope, ids in ssm_seen.items()}, len(set().union(*ssm_seen.values())), ssm_seen) == (
        {(HUB, "us-east-1"): 0, (PROD, "us-east-1"): 0, (DEV, "us-east-1"): 7, (TEST, "us-east-1"): 7, (PROD, "eu-west-1"): 7,
         (PROD, "eu-central-1"): 7}, 28, ec2_seen)


def test_a_command_in_prods_first_region_is_listed_there_and_nowhere_else(multi_account):
    prod = assumed(multi_account, PROD)
    west = multi_account.client("ssm", region="eu-west-1", credentials=prod)
    # The output bucket is the hub's: bucket names are global, and nodes write to it from any account.
    multi_account.client("s3").create_bucket(Bucket="hub-command-output")
    command_id = west.send_command(DocumentName="AWS-RunPatchBaseline", Targets=[{"Key": "tag:Patch Group", "Values": ["prod"]}],
                                   Parameters={"Operation": ["Scan"]}, OutputS3BucketName="hub-command-output")["Command"]["CommandId"]
    command = wait_for_command(west, command_id)
    invocations = all_invocations(west, command_id)
    written = multi_account.client("s3").list_objects_v2(Bucket="hub-command-output", Prefix=command_id)["KeyCount"]
    central = multi_account.client("ssm", region="eu-central-1", credentials=prod)
    # Read once the first Region's reports are in: the second had no command, so it has nothing to report.
    reported = {"eu-west-1": patch_states(west, wanted=7), "eu-central-1": patch_states(central, wanted=0)}
    others = {(account, region): multi_account.client("ssm", region=region, credentials=assumed(multi_account, account)).list_commands()["Commands"]
              for account, region in ((PROD, "eu-central-1"), (PROD, "us-east-1"), (TEST, "us-east-1"))}
    assert (command["Status"], sorted(i["InstanceId"] for i in invocations), written, reported, others,
            multi_account.client("ssm").list_commands()["Commands"]) == (
        "Success", instance_ids(west), 7, {"eu-west-1": instance_ids(west), "eu-central-1": []},
        {(PROD, "eu-central-1"): [], (PROD, "us-east-1"): [], (TEST, "us-east-1"): []}, [])


def patch_states(ssm, wanted: int, timeout: float = 30.0) -> list[str]:
    """The instances of patch group prod whose patch state has been reported, once `wanted` are or the time is up."""
    deadline = time.monotonic() + timeout
    while True:
        states = sorted(s["InstanceId"] for s in ssm.describe_instance_patch_states_for_patch_group(PatchGroup="prod")["InstancePatchStates"])
        if len(states) >= wanted or time.monotonic() > deadline:
            return states
        time.sleep(0.05)


def test_command_ids_depend_on_the_account_and_region_except_in_the_default_one():
    def first_command_id(id_scope: tuple) -> str:
        run = RunCommand(None, SimClock(1.0), 7, id_scope=id_scope)
        return run.send(document_name="AWS-RunShellScript", parameters={}, comment="", instance_ids=[], targets=[], timeout_seconds=None,
                        max_concurrency="50", max_errors="0", output_bucket="", output_prefix="", output_region="", service_role="",
                        notification_config=None, cloudwatch=None).command_id

    scopes = [(), (DEV, "us-east-1"), (PROD, "eu-west-1"), (PROD, "eu-central-1")]
    assert (first_command_id(()), len({first_command_id(scope) for scope in scopes})) == (
        str(uuid.UUID(int=stable_random(7, "command", 0).getrandbits(128), version=4)), 4)


def refused(call) -> tuple[int, str, str]:
    with pytest.raises(ClientError) as raised:
        call()
    error = raised.value.response
    return error["ResponseMetadata"]["HTTPStatusCode"], error["Error"]["Code"], error["Error"]["Message"]


def denied(caller: str, account: str, role: str = "patchflow-target") -> tuple[int, str, str]:
    return 403, "AccessDenied", f"User: {caller} is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::{account}:role/{role}"


@pytest.mark.parametrize(
    "caller, request_, expected",
    [
        pytest.param("hub", {"RoleArn": role_arn(PROD), "RoleSessionName": "run-1"}, denied(f"arn:aws:sts::{HUB}:user/moto", PROD),
                     id="without-the-external-id"),
        pytest.param("hub", {"RoleArn": role_arn(PROD), "RoleSessionName": "run-1", "ExternalId": "patchflow-prod"},
                     denied(f"arn:aws:sts::{HUB}:user/moto", PROD), id="with-another-external-id"),
        pytest.param("hub", {"RoleArn": role_arn("444444444444"), "RoleSessionName": "run-1", "ExternalId": "patchflow"},
                     denied(f"arn:aws:sts::{HUB}:user/moto", "444444444444"), id="in-an-account-the-fleet-does-not-have"),
        pytest.param("hub", {"RoleArn": f"arn:aws:iam::{PROD}:role/admin", "RoleSessionName": "run-1"},
                     denied(f"arn:aws:sts::{HUB}:user/moto", PROD, "admin"), id="a-role-the-account-does-not-have"),
        pytest.param("test-user", {"RoleArn": role_arn(PROD), "RoleSessionName": "run-1", "ExternalId": "patchflow"},
                     denied(f"arn:aws:iam::{TEST}:user/fleetsim", PROD), id="from-an-account-the-role-does-not-trust"),
        pytest.param("dev-role", {"RoleArn": role_arn(PROD), "RoleSessionName": "run-1", "ExternalId": "patchflow"},
                     denied(f"arn:aws:sts::{DEV}:assumed-role/patchflow-target/patchflow-run-1", PROD), id="chained-from-an-untrusted-role"),
        pytest.param("hub", {"RoleArn": role_arn(PROD), "RoleSessionName": "rollout/run 1", "ExternalId": "patchflow"},
                     (400, "ValidationError", "1 validation error detected: Value 'rollout/run 1' at 'roleSessionName' failed to satisfy constraint: "
                                              "Member must satisfy regular expression pattern: [\\w+=,.@-]*"), id="session-name-pattern"),
        pytest.param("hub", {"RoleArn": role_arn(PROD), "RoleSessionName": "r" * 65, "ExternalId": "patchflow"},
                     (400, "ValidationError", f"1 validation error detected: Value '{'r' * 65}' at 'roleSessionName' failed to satisfy constraint: "
                                              "Member must have length less than or equal to 64"), id="session-name-too-long"),
    ],
)
def test_assume_role_is_refused_with_awss_whole_answer(multi_account, caller, request_, expected):
    callers = {"hub": lambda: {}, "test-user": lambda: {"account": "test"}, "dev-role": lambda: {"credentials": assumed(multi_account, DEV)}}
    sts = multi_account.client("sts", **callers[caller]())
    assert refused(lambda: sts.assume_role(**request_)) == expected


def test_assumed_credentials_are_the_roles_account_for_boto3_and_the_aws_cli(multi_account):
    prod = assumed(multi_account, PROD, session="patchflow-run-7")
    central = multi_account.client("ssm", region="eu-central-1", credentials=prod)
    identity = json.loads(multi_account.aws_cli("sts", "get-caller-identity", credentials=prod).stdout)
    listed = json.loads(multi_account.aws_cli("ssm", "describe-instance-information", region="eu-central-1", credentials=prod).stdout)
    by_the_cli = multi_account.aws_cli("sts", "assume-role", "--role-arn", role_arn(PROD), "--role-session-name", "run-1")
    assert ((identity["Account"], identity["Arn"]), sorted(i["InstanceId"] for i in listed["InstanceInformationList"]),
            by_the_cli.returncode, by_the_cli.stderr.strip()) == (
        (PROD, f"arn:aws:sts::{PROD}:assumed-role/patchflow-target/patchflow-run-7"), instance_ids(central),
        255, f"An error occurred (AccessDenied) when calling the AssumeRole operation: User: arn:aws:sts::{HUB}:user/moto is not authorized to "
             f"perform: sts:AssumeRole on resource: {role_arn(PROD)}")


def test_the_spec_accounts_have_their_alias_and_roles_in_iam(multi_account):
    iam = multi_account.client("iam", credentials=assumed(multi_account, DEV))
    role = iam.get_role(RoleName="patchflow-target")["Role"]
    assert (iam.list_account_aliases()["AccountAliases"], role["Arn"], role["AssumeRolePolicyDocument"]) == (
        ["dev"], role_arn(DEV), {"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"AWS": [f"arn:aws:iam::{HUB}:root"]}, "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"sts:ExternalId": "patchflow"}}}]})


def test_alarms_baselines_and_maintenance_windows_stay_in_their_account_and_region(multi_account):
    prod = assumed(multi_account, PROD)
    clients = {(PROD, region): multi_account.client("ssm", region=region, credentials=prod) for region in ("eu-west-1", "eu-central-1")}
    clients[DEV, "us-east-1"] = multi_account.client("ssm", credentials=assumed(multi_account, DEV))
    west = clients[PROD, "eu-west-1"]
    baseline_id = west.create_patch_baseline(Name="prod-west", OperatingSystem="AMAZON_LINUX_2023",
                                             ApprovalRules={"PatchRules": [{"PatchFilterGroup": {"PatchFilters": [
                                                 {"Key": "CLASSIFICATION", "Values": ["Security"]}]}, "ApproveAfterDays": 7}]})["BaselineId"]
    window_id = west.create_maintenance_window(Name="prod-west", Schedule="rate(7 days)", Duration=2, Cutoff=1,
                                               AllowUnassociatedTargets=False)["WindowId"]
    seen = {scope: ([b["BaselineId"] for b in ssm.describe_patch_baselines(Filters=[{"Key": "OWNER", "Values": ["Self"]}])["BaselineIdentities"]],
                    [w["WindowId"] for w in ssm.describe_maintenance_windows()["WindowIdentities"]])
            for scope, ssm in clients.items()}
    callers = {HUB: {}, DEV: {"credentials": assumed(multi_account, DEV)}, TEST: {"credentials": assumed(multi_account, TEST)}, PROD: {"credentials": prod}}
    alarms = {(account, region): sorted(a["AlarmName"] for a in multi_account.client("cloudwatch", region=region, **callers[account])
                                        .describe_alarms()["MetricAlarms"])
              for account, region in ((HUB, "us-east-1"), (DEV, "us-east-1"), (TEST, "us-east-1"), (PROD, "eu-west-1"), (PROD, "eu-central-1"))}
    assert (seen, alarms) == (
        {(PROD, "eu-west-1"): ([baseline_id], [window_id]), (PROD, "eu-central-1"): ([], []), (DEV, "us-east-1"): ([], [])},
        {(HUB, "us-east-1"): [], (DEV, "us-east-1"): ["storefront-dev-5xx"], (TEST, "us-east-1"): ["storefront-test-5xx"],
         (PROD, "eu-west-1"): ["storefront-prod-5xx", "storefront-prod-latency"],
         (PROD, "eu-central-1"): ["storefront-prod-5xx", "storefront-prod-latency"]})


def test_api_calls_are_counted_by_the_account_and_region_that_answered_them(multi_account):
    prod = assumed(multi_account, PROD)
    multi_account.reset_stats()
    multi_account.client("ssm").list_commands()
    multi_account.client("ssm", account="dev").list_commands()
    for _ in range(2):
        multi_account.client("ssm", region="eu-west-1", credentials=prod).list_commands()
    multi_account.client("sts", credentials=prod).get_caller_identity()
    assert (multi_account.api_calls(), multi_account.api_calls(account=PROD), multi_account.api_calls(account=PROD, region="eu-west-1"),
            multi_account.api_calls(region="us-east-1"), multi_account.api_calls(account=TEST)) == (
        {"ssm:ListCommands": 4, "sts:GetCallerIdentity": 1}, {"ssm:ListCommands": 2, "sts:GetCallerIdentity": 1}, {"ssm:ListCommands": 2},
        {"ssm:ListCommands": 2, "sts:GetCallerIdentity": 1}, {})


def test_credentials_for_an_account_are_an_iam_users_there(multi_account):
    by_alias, by_id = multi_account.credentials("dev"), multi_account.credentials(DEV)
    identity = multi_account.client("sts", credentials=by_alias).get_caller_identity()
    with pytest.raises(ValueError) as unknown:
        multi_account.credentials("stage")
    assert ((identity["Account"], identity["Arn"]), by_alias == by_id, str(unknown.value)) == (
        (DEV, f"arn:aws:iam::{DEV}:user/fleetsim"), True,
        "account: expected a 12-digit account id or an alias of the fleet's accounts (dev, test, prod), got 'stage'")


def test_health_counts_instances_per_account_and_region(multi_account):
    health = multi_account._call("GET", "/_fleetsim/health")
    assert (health["instances"], [(s["account"], s["region"], s["instances"]) for s in health["scopes"]]) == (
        28, [(HUB, "us-east-1", 0), (DEV, "us-east-1", 7), (TEST, "us-east-1", 7), (PROD, "eu-west-1", 7), (PROD, "eu-central-1", 7)])


def test_a_role_the_spec_does_not_declare_can_be_assumed_once_a_client_creates_it(small):
    sts, iam = small.client("sts"), small.client("iam")
    before = refused(lambda: sts.assume_role(RoleArn=f"arn:aws:iam::{HUB}:role/tester", RoleSessionName="s1"))
    iam.create_role(RoleName="tester", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}))
    granted = sts.assume_role(RoleArn=f"arn:aws:iam::{HUB}:role/tester", RoleSessionName="s1")["AssumedRoleUser"]["Arn"]
    assert (before, granted) == (denied(f"arn:aws:sts::{HUB}:user/moto", HUB, "tester"), f"arn:aws:sts::{HUB}:assumed-role/tester/s1")


def test_ssm_throttles_each_account_and_region_on_its_own(small):
    def answer(**where) -> str:
        try:
            small.client("ssm", **where).describe_instance_information()
        except ClientError as exc:
            return exc.response["Error"]["Code"]
        return "ok"

    # One call in 1,000 s and no retries: the second call in a row in one account and Region is throttled, and no other.
    no_retries = Config(retries={"max_attempts": 1, "mode": "standard"})
    small.reset_stats()
    answers = [answer(config=no_retries), answer(config=no_retries), answer(config=no_retries, region="us-west-2"),
               answer(config=no_retries, account="ops")]
    assert answers == ["ok", "ThrottlingException", "ok", "ok"]


def test_a_moto_reset_rebuilds_every_account_with_its_instances_and_roles(small):
    def ops_view() -> tuple[list[str], str]:
        reader = small.client("sts").assume_role(RoleArn=f"arn:aws:iam::{OPS}:role/reader", RoleSessionName="s1")["Credentials"]
        return instance_ids(small.client("ssm", region="us-west-2", credentials=reader)), small.client("iam", credentials=reader).get_role(
            RoleName="reader")["Role"]["Arn"]

    before = ops_view()
    urllib.request.urlopen(urllib.request.Request(f"{small.endpoint}/moto-api/reset", method="POST"), timeout=30).read()
    assert (len(before[0]), ops_view()) == (2, before)
