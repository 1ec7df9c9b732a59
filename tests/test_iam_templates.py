"""The multi-account IAM files stay in step with the single-account policy and with each other.

include/iam/patchflow-airflow-policy.json is what one account needs; for many accounts it is split in two:
patchflow-hub-policy.json (the ledger, SNS and sts:AssumeRole, for the Airflow role in the hub) and
patchflow-target-role-policy.json (SSM, CloudWatch and EC2 reads, for the role in each target account). The
StackSet template creates that role with exactly those statements and a trust policy equal to
patchflow-target-trust-policy.json. The recording test in test_least_privilege.py proves each policy exact
against the calls a multi-account rollout makes in the hub and in the target accounts; these tests keep the
files' statements, resources and placeholders in step with each other.
"""
from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest
import yaml

from patchflow.core.scopes import DEFAULT_ROLE_TEMPLATE, role_arn_for
from tests.test_least_privilege import IAM_README, allowed_actions, as_list, load_policy

IAM = Path(__file__).resolve().parents[1] / "include" / "iam"
HUB_POLICY_PATH = IAM / "patchflow-hub-policy.json"
TARGET_POLICY_PATH = IAM / "patchflow-target-role-policy.json"
TRUST_POLICY_PATH = IAM / "patchflow-target-trust-policy.json"
BUCKET_POLICY_PATH = IAM / "patchflow-ledger-bucket-policy.json"
STACKSET_PATH = IAM / "patchflow-target-role.stackset.yaml"
NEW_POLICY_PATHS = [HUB_POLICY_PATH, TARGET_POLICY_PATH, TRUST_POLICY_PATH, BUCKET_POLICY_PATH]

# What stays in the hub account: the run ledger and the notification topic. Everything else is called in the
# account a stage patches, through the assumed role.
HUB_SIDS = ["RunLedgerObjects", "ListRunLedgerPrefixes", "LedgerWritesMustBeEncrypted", "PublishRolloutNotifications"]
ASSUME_SID = "AssumeTargetAccountRoles"
HUB_ACCOUNT = "123456789012"

# The placeholders the new files may hold, each listed in include/iam/README.md's multi-account section.
DOCUMENTED_PLACEHOLDERS = {
    "account": ["123456789012"],
    "Region": ["us-east-1"],
    "bucket": ["patchflow-ledger"],
    "ledger prefix": ["rollouts", "runs"],
    "topic": ["patch-rollouts"],
    "role": ["patchflow-airflow", "patchflow-target"],
    "patch group": ["dev", "prod", "test"],
    "organization id": ["o-a1b2c3d4e5"],
    "external id": ["patchflow"],
}
MULTI_ACCOUNT_HEADING = "## Many accounts: the hub and the target roles"


# --------------------------------------------------------------------------- reading CloudFormation


class CloudFormationLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short forms: `!Ref X` reads as {"Ref": X}, `!Sub s` as {"Fn::Sub": s}."""


def _short_form(loader: CloudFormationLoader, suffix: str, node: yaml.Node) -> dict:
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "GetAtt" and isinstance(value, str):
        return {"Fn::GetAtt": value.split(".", 1)}
    return {f"Fn::{suffix}": value}


CloudFormationLoader.add_multi_constructor("!", _short_form)

NO_VALUE = object()


def resolve(node, parameters: dict[str, str], conditions: dict[str, bool]):
    """The value CloudFormation gives `node` for these parameter values (the functions the template uses)."""
    if isinstance(node, list):
        return [item for item in (resolve(item, parameters, conditions) for item in node) if item is not NO_VALUE]
    if not isinstance(node, dict):
        return node
    if set(node) == {"Ref"}:
        return NO_VALUE if node["Ref"] == "AWS::NoValue" else parameters[node["Ref"]]
    if set(node) == {"Fn::Sub"}:
        return re.sub(r"\$\{([\w:]+)\}", lambda match: parameters[match.group(1)], node["Fn::Sub"])
    if set(node) == {"Fn::If"}:
        condition, when_true, when_false = node["Fn::If"]
        return resolve(when_true if conditions[condition] else when_false, parameters, conditions)
    if set(node) == {"Fn::Equals"}:
        left, right = resolve(node["Fn::Equals"], parameters, conditions)
        return left == right
    if set(node) == {"Fn::Not"}:
        (inner,) = resolve(node["Fn::Not"], parameters, conditions)
        return not inner
    resolved = {key: resolve(value, parameters, conditions) for key, value in node.items()}
    return {key: value for key, value in resolved.items() if value is not NO_VALUE}


def load_stackset() -> dict:
    return yaml.load(STACKSET_PATH.read_text(encoding="utf-8"), Loader=CloudFormationLoader)


def role_as_deployed(parameter_values: dict[str, str]) -> dict:
    """The role's properties once CloudFormation has applied the parameters (defaults where none is given)."""
    template = load_stackset()
    parameters = {name: spec["Default"] for name, spec in template["Parameters"].items() if "Default" in spec}
    parameters.update(parameter_values, **{"AWS::Partition": "aws"})
    conditions = {name: resolve(expression, parameters, {}) for name, expression in template["Conditions"].items()}
    return resolve(template["Resources"]["PatchflowTargetRole"]["Properties"], parameters, conditions)


def test_the_template_parses_with_its_parameters_and_one_role():
    template = load_stackset()
    assert {name: (spec["Type"], spec.get("Default")) for name, spec in template["Parameters"].items()} == {
        "HubAccountId": ("String", None),
        "HubRoleName": ("String", "patchflow-airflow"),
        "RoleName": ("String", "patchflow-target"),
        "ExternalId": ("String", ""),
    }
    assert {name: resource["Type"] for name, resource in template["Resources"].items()} == {"PatchflowTargetRole": "AWS::IAM::Role"}
    assert template["Conditions"] == {"HasExternalId": {"Fn::Not": [{"Fn::Equals": [{"Ref": "ExternalId"}, ""]}]}}
    assert template["Outputs"]["RoleArn"]["Value"] == {"Fn::GetAtt": ["PatchflowTargetRole", "Arn"]}


def test_the_templates_inline_policy_is_the_target_role_policy_word_for_word():
    (policy,) = load_stackset()["Resources"]["PatchflowTargetRole"]["Properties"]["Policies"]
    assert policy == {"PolicyName": "patchflow-target", "PolicyDocument": load_policy(TARGET_POLICY_PATH)}


def without_condition(policy: dict) -> dict:
    policy = copy.deepcopy(policy)
    for statement in policy["Statement"]:
        statement.pop("Condition")
    return policy


@pytest.mark.parametrize(
    ("parameters", "expected_trust"),
    [
        pytest.param({"HubAccountId": HUB_ACCOUNT, "ExternalId": "patchflow"}, load_policy(TRUST_POLICY_PATH), id="with-external-id"),
        pytest.param({"HubAccountId": HUB_ACCOUNT}, without_condition(load_policy(TRUST_POLICY_PATH)), id="without-external-id"),
    ],
)
def test_the_deployed_role_trusts_the_hubs_airflow_role_as_the_trust_policy_file_says(parameters, expected_trust):
    role = role_as_deployed(parameters)
    assert (role["RoleName"], role["AssumeRolePolicyDocument"]) == ("patchflow-target", expected_trust)


def test_renamed_roles_and_another_hub_reach_the_trust_policy():
    role = role_as_deployed({"HubAccountId": "444455556666", "HubRoleName": "airflow-prod", "RoleName": "patching", "ExternalId": "x1"})
    (statement,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert (role["RoleName"], statement["Principal"], statement["Condition"]) == (
        "patching", {"AWS": "arn:aws:iam::444455556666:role/airflow-prod"}, {"StringEquals": {"sts:ExternalId": "x1"}})


def test_the_default_role_names_agree_with_the_plans_default_role_and_the_hub_policy():
    template = load_stackset()
    (assume,) = [s for s in load_policy(HUB_POLICY_PATH)["Statement"] if s["Sid"] == ASSUME_SID]
    (trust,) = load_policy(TRUST_POLICY_PATH)["Statement"]
    assert role_arn_for(DEFAULT_ROLE_TEMPLATE, "111111111111") == f"arn:aws:iam::111111111111:role/{template['Parameters']['RoleName']['Default']}"
    assert assume == {"Sid": ASSUME_SID, "Effect": "Allow", "Action": ["sts:AssumeRole"], "Resource": [role_arn_for(DEFAULT_ROLE_TEMPLATE, "*")]}
    assert trust["Principal"] == {"AWS": f"arn:aws:iam::{HUB_ACCOUNT}:role/{template['Parameters']['HubRoleName']['Default']}"}


# --------------------------------------------------------------------------- the split equals the single-account policy


def test_hub_and_target_policies_together_grant_exactly_the_single_account_actions_and_assume_role():
    hub, target = allowed_actions(load_policy(HUB_POLICY_PATH)), allowed_actions(load_policy(TARGET_POLICY_PATH))
    assert (sorted(hub | target), sorted(hub & target)) == (sorted(allowed_actions(load_policy()) | {"sts:AssumeRole"}), [])


def with_any_account_and_region(statement: dict) -> dict:
    """The statement as the target role carries it: one policy for every account and Region, so `*` in place of
    each ARN's account and Region. A field the ARN leaves empty stays empty (AWS-owned documents have no account)."""
    def any_account_and_region(arn: str) -> str:
        if not arn.startswith("arn:"):
            return arn
        arn_prefix, partition, service, region, account, resource = arn.split(":", 5)
        return ":".join([arn_prefix, partition, service, region and "*", account and "*", resource])
    resources = statement["Resource"]
    if isinstance(resources, list):
        return {**statement, "Resource": [any_account_and_region(arn) for arn in resources]}
    return {**statement, "Resource": any_account_and_region(resources)}


@pytest.mark.parametrize(
    ("resource", "expected"),
    [
        pytest.param(["arn:aws:ec2:us-east-1:123456789012:instance/*"], ["arn:aws:ec2:*:*:instance/*"], id="region-and-account"),
        pytest.param(["arn:aws:ssm:eu-west-1::document/AWS-RunPatchBaseline"], ["arn:aws:ssm:*::document/AWS-RunPatchBaseline"], id="document-without-account"),
        pytest.param(["arn:aws:ssm:us-east-1:*:patchbaseline/*"], ["arn:aws:ssm:*:*:patchbaseline/*"], id="account-already-any"),
        pytest.param(["arn:aws:cloudwatch:us-east-1:123456789012:alarm:prod:*"], ["arn:aws:cloudwatch:*:*:alarm:prod:*"], id="colons-in-the-resource"),
        pytest.param(["arn:aws:s3:::patchflow-ledger/runs/*"], ["arn:aws:s3:::patchflow-ledger/runs/*"], id="global-service"),
        pytest.param("arn:aws:ssm:us-east-1:123456789012:maintenancewindow/*", "arn:aws:ssm:*:*:maintenancewindow/*", id="one-arn-not-in-a-list"),
        pytest.param("*", "*", id="any-resource"),
    ],
)
def test_the_target_form_of_a_statement_has_any_account_and_region_and_is_otherwise_unchanged(resource, expected):
    statement = {"Sid": "S", "Effect": "Allow", "Action": ["ssm:SendCommand"], "Resource": resource, "Condition": {"StringEquals": {"k": "v"}}}
    assert with_any_account_and_region(statement) == {**statement, "Resource": expected}


def test_every_single_account_statement_is_in_the_hub_or_the_target_policy_unchanged_but_for_account_and_region():
    single = load_policy()["Statement"]
    expected_hub = [{"Sid": ASSUME_SID, "Effect": "Allow", "Action": ["sts:AssumeRole"], "Resource": ["arn:aws:iam::*:role/patchflow-target"]}]
    expected_hub += [s for s in single if s["Sid"] in HUB_SIDS]
    assert load_policy(HUB_POLICY_PATH) == {"Version": "2012-10-17", "Statement": expected_hub}
    expected_target = [with_any_account_and_region(s) for s in single if s["Sid"] not in HUB_SIDS]
    assert load_policy(TARGET_POLICY_PATH) == {"Version": "2012-10-17", "Statement": expected_target}


def test_the_target_role_policy_names_no_account_and_no_region():
    arns = [arn for s in load_policy(TARGET_POLICY_PATH)["Statement"] for arn in as_list(s["Resource"]) if arn != "*"]
    assert [arn for arn in arns if arn.split(":")[3] not in ("", "*") or arn.split(":")[4] not in ("", "*")] == []


# --------------------------------------------------------------------------- well formed, placeholders documented

ALLOWED_KEYS = {
    HUB_POLICY_PATH: {"Sid", "Effect", "Action", "Resource", "Condition"},
    TARGET_POLICY_PATH: {"Sid", "Effect", "Action", "Resource", "Condition"},
    TRUST_POLICY_PATH: {"Sid", "Effect", "Principal", "Action", "Condition"},
    BUCKET_POLICY_PATH: {"Sid", "Effect", "Principal", "Action", "Resource", "Condition"},
}


@pytest.mark.parametrize("path", NEW_POLICY_PATHS, ids=lambda p: p.name)
def test_new_policy_is_well_formed_and_wildcard_free_in_its_actions(path):
    policy = load_policy(path)
    assert policy["Version"] == "2012-10-17"
    sids = [s["Sid"] for s in policy["Statement"]]
    assert len(sids) == len(set(sids)) and all(re.fullmatch(r"[A-Za-z0-9]+", sid) for sid in sids), sids
    for statement in policy["Statement"]:
        assert statement["Effect"] in ("Allow", "Deny") and set(statement) <= ALLOWED_KEYS[path], statement
        for action in as_list(statement["Action"]):
            service, _, name = action.partition(":")
            assert service in ("ssm", "s3", "sns", "ec2", "cloudwatch", "sts") and name.isalnum() and name[0].isupper(), action


def test_the_bucket_policy_lets_only_the_organization_read_only_the_install_override_lists():
    (statement,) = load_policy(BUCKET_POLICY_PATH)["Statement"]
    assert statement == {
        "Sid": "OrganizationNodesReadInstallOverrideLists", "Effect": "Allow", "Principal": "*", "Action": ["s3:GetObject"],
        "Resource": ["arn:aws:s3:::patchflow-ledger/rollouts/*/manifest/*", "arn:aws:s3:::patchflow-ledger/runs/*/manifest/*"],
        "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}},
    }


CONDITION_PLACEHOLDERS = {"aws:PrincipalOrgID": "organization id", "sts:ExternalId": "external id", "s3:prefix": "ledger prefix",
                          "ssm:resourceTag/Patch Group": "patch group", "ssm:resourceTag/PatchGroup": "patch group",
                          "ec2:ResourceTag/Patch Group": "patch group", "ec2:ResourceTag/PatchGroup": "patch group"}


def placeholders_in(policy: dict) -> list[tuple[str, str]]:
    """Every value in the policy a reader replaces with their own: the parts of its ARNs and its condition values."""
    found = []
    for statement in policy["Statement"]:
        principal = statement.get("Principal", {})
        arns = as_list(statement.get("Resource", [])) + (as_list(principal.get("AWS", [])) if isinstance(principal, dict) else [])
        for arn in arns:
            if not arn.startswith("arn:"):
                continue
            _, _, service, region, account, resource = arn.split(":", 5)
            found += [("Region", region)] if region not in ("", "*") else []
            found += [("account", account)] if account not in ("", "*") else []
            if service == "s3":
                bucket, _, key = resource.partition("/")
                found += [("bucket", bucket)] + ([("ledger prefix", key.split("/")[0])] if key else [])
            elif service == "sns":
                found.append(("topic", resource))
            elif service == "iam":
                found.append(("role", resource.removeprefix("role/")))
        for keys in statement.get("Condition", {}).values():
            for key, values in keys.items():
                if key in CONDITION_PLACEHOLDERS:
                    found += [(CONDITION_PLACEHOLDERS[key], value.split("/")[0]) for value in as_list(values)]
    return sorted(set(found))


def undocumented_placeholders(policy: dict, source: str) -> list[str]:
    return [f"{source}: {kind} {value!r} is not one of the documented placeholders ({', '.join(DOCUMENTED_PLACEHOLDERS.get(kind, [])) or 'none of that kind'})"
            for kind, value in placeholders_in(policy) if value not in DOCUMENTED_PLACEHOLDERS.get(kind, [])]


@pytest.mark.parametrize("path", NEW_POLICY_PATHS, ids=lambda p: p.name)
def test_every_placeholder_in_the_new_files_is_a_documented_one(path):
    assert undocumented_placeholders(load_policy(path), path.name) == []


def one_statement(**statement) -> dict:
    return {"Version": "2012-10-17", "Statement": [{"Sid": "S", "Effect": "Allow", "Action": ["s3:GetObject"], **statement}]}


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        pytest.param(one_statement(Resource=["arn:aws:sns:eu-west-1:999999999999:alerts"]),
                     ["p.json: Region 'eu-west-1' is not one of the documented placeholders (us-east-1)",
                      "p.json: account '999999999999' is not one of the documented placeholders (123456789012)",
                      "p.json: topic 'alerts' is not one of the documented placeholders (patch-rollouts)"], id="region-account-topic"),
        pytest.param(one_statement(Resource=["arn:aws:s3:::my-ledger/ledger/*/manifest/*"]),
                     ["p.json: bucket 'my-ledger' is not one of the documented placeholders (patchflow-ledger)",
                      "p.json: ledger prefix 'ledger' is not one of the documented placeholders (rollouts, runs)"], id="bucket-and-prefix"),
        pytest.param(one_statement(Principal="*", Resource=["arn:aws:s3:::patchflow-ledger/runs/*"],
                                   Condition={"StringEquals": {"aws:PrincipalOrgID": "o-zzzzzzzzzz"}}),
                     ["p.json: organization id 'o-zzzzzzzzzz' is not one of the documented placeholders (o-a1b2c3d4e5)"], id="organization"),
        pytest.param(one_statement(Principal={"AWS": "arn:aws:iam::123456789012:role/admin"}, Condition={"StringEquals": {"sts:ExternalId": "secret"}}),
                     ["p.json: external id 'secret' is not one of the documented placeholders (patchflow)",
                      "p.json: role 'admin' is not one of the documented placeholders (patchflow-airflow, patchflow-target)"], id="trust"),
        pytest.param(one_statement(Resource=["arn:aws:ec2:us-east-1:*:instance/*"], Condition={"StringEquals": {"ssm:resourceTag/PatchGroup": ["qa", "dev"]}}),
                     ["p.json: patch group 'qa' is not one of the documented placeholders (dev, prod, test)"], id="patch-group"),
        pytest.param(one_statement(Resource=["arn:aws:ssm:us-east-1::document/AWS-RunPatchBaseline", "*"]), [], id="documents-have-no-account"),
    ],
)
def test_an_undocumented_placeholder_is_named_with_the_documented_ones(policy, expected):
    assert undocumented_placeholders(policy, "p.json") == expected


def multi_account_section() -> str:
    text = IAM_README.read_text(encoding="utf-8")
    assert MULTI_ACCOUNT_HEADING in text, f"{IAM_README.name}: expected a section {MULTI_ACCOUNT_HEADING!r}"
    return text.split(MULTI_ACCOUNT_HEADING, 1)[1].split("\n## ", 1)[0]


def test_the_readme_section_names_every_file_statement_and_placeholder():
    section = multi_account_section()
    names = [path.name for path in NEW_POLICY_PATHS + [STACKSET_PATH]]
    single_account_sids = {s["Sid"] for s in load_policy()["Statement"]}  # documented in the table above the section
    sids = [s["Sid"] for path in NEW_POLICY_PATHS for s in load_policy(path)["Statement"] if s["Sid"] not in single_account_sids]
    values = [f"`{value}`" for values in DOCUMENTED_PLACEHOLDERS.values() for value in values]
    assert [needle for needle in names + sids + values if needle not in section] == []

