"""fleetsim answers every SSM action it serves with the field names and value vocabulary of AWS's own examples.

The oracle is the AWS CLI's example outputs (`awscli/examples/ssm/<action>.rst` in the installed awscli):
for each action FleetSSMResponse answers, the test makes the request the example shows (or its nearest
equivalent on a simulated fleet), reads fleetsim's raw JSON answer and checks, recursively:

- every field the example has, fleetsim has too, except the omissions listed in ALLOWED_OMISSIONS, each
  with its reason and recorded in fleetsim/FIDELITY.md;
- every field fleetsim answers is a member of botocore's output shape (fleetsim invents none);
- every enum-like string fleetsim answers belongs to the wire vocabulary, and so does every value the
  examples show: botocore's enum where the examples use its spelling, WIRE_VOCABULARIES where AWS
  answers in another spelling (patch State) or the model types the field as a free string.
"""
from __future__ import annotations

import json
import re
import textwrap
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import awscli
import botocore.session
import pytest

from fleetsim.models import FleetSSMResponse
from fleetsim.testing import fleetsim_fixture

pytestmark = pytest.mark.fleetsim

EXAMPLES = Path(awscli.__file__).parent / "examples" / "ssm"
FIDELITY = Path(__file__).resolve().parents[2] / "fleetsim" / "FIDELITY.md"
SSM_MODEL = botocore.session.get_session().get_service_model("ssm")

WINDOWS_CLASSIFICATIONS = {"CriticalUpdates", "DefinitionUpdates", "Drivers", "FeaturePacks", "SecurityUpdates", "ServicePacks", "Tools",
                           "UpdateRollups", "Updates", "Upgrades"}
LINUX_CLASSIFICATIONS = {"Security", "Bugfix", "Enhancement", "Recommended", "Newpackage"}
MSRC_SEVERITIES = {"Critical", "Important", "Moderate", "Low", "Unspecified"}
LINUX_SEVERITIES = {"Critical", "Important", "Medium", "Low", "None"}
DEBIAN_PRIORITIES = {"Required", "Important", "Standard", "Optional", "Extra"}
# botocore's StatusDetails documentation (the values it lists for Command, CommandInvocation and
# CommandPlugin), plus what the User Guide's "Understanding command statuses" adds.
COMMAND_DETAILS = {"Pending", "In Progress", "Delayed", "Success", "Delivery Timed Out", "Execution Timed Out", "Failed", "Incomplete",
                   "Cancelled", "Rate Exceeded", "Access Denied", "No Instances In Tag"}
INVOCATION_DETAILS = {"Pending", "In Progress", "Delayed", "Success", "Delivery Timed Out", "Execution Timed Out", "Failed", "Cancelled",
                      "Undeliverable", "Terminated", "Invalid Platform", "Access Denied"}

# (structure, member) -> the values AWS answers, where botocore's enum is not the wire spelling or there is no enum.
WIRE_VOCABULARIES: dict[tuple[str, str], set[str]] = {
    # describe-instance-patches.rst answers "Installed", "InstalledOther", "Missing"; botocore's enum says INSTALLED...
    ("PatchComplianceData", "State"): {"Installed", "InstalledOther", "InstalledPendingReboot", "InstalledRejected", "Missing", "Failed",
                                       "NotApplicable", "AvailableSecurityUpdate"},
    # Empty for InstalledOther items in the example; otherwise the classification and severity names of the
    # User Guide's patch baseline pages (Windows, Amazon Linux, Debian/Ubuntu priorities as Severity).
    ("PatchComplianceData", "Classification"): WINDOWS_CLASSIFICATIONS | LINUX_CLASSIFICATIONS | {""},
    ("PatchComplianceData", "Severity"): MSRC_SEVERITIES | LINUX_SEVERITIES | DEBIAN_PRIORITIES | {""},
    ("Command", "StatusDetails"): COMMAND_DETAILS,
    ("CommandInvocation", "StatusDetails"): INVOCATION_DETAILS,
    ("GetCommandInvocationResult", "StatusDetails"): INVOCATION_DETAILS,
    # A multi-step document's steps that do not apply to the node: the agent's "Skipped" result status.
    ("CommandPlugin", "StatusDetails"): INVOCATION_DETAILS | {"Skipped"},
    # Every Run Command example answers an unset notification type as "", next to the model's enum.
    ("NotificationConfig", "NotificationType"): {"Command", "Invocation", ""},
}

# (action, field path) -> why fleetsim may leave out a field the CLI example shows. Each is in FIDELITY.md.
ALLOWED_OMISSIONS: dict[tuple[str, str], str] = {
    ("describe_instance_information", "InstanceInformationList[].AssociationOverview"):
        "fleetsim runs no State Manager associations, so it has no association overview to report",
}

AL, WINDOWS = "AMAZON_LINUX_2023", "WINDOWS"
FLEET = {
    # Patch states are read the moment a command ends; the reporting lag has tests of its own.
    "compliance_lag_seconds": 0,
    "defaults": {"execution_seconds": [30, 60]},
    "groups": [
        {"name": "al", "count": 2, "platform": AL, "tags": {"Patch Group": "conformance"}, "missing_share": 0.6},
        {"name": "win", "count": 2, "platform": WINDOWS, "tags": {"Patch Group": "conformance-win"}, "missing_share": 0.5,
         "not_applicable_share": 0.3},
    ],
}
conformance_fleet = fleetsim_fixture(FLEET, seed=11, time_scale=3000)


# ---- the CLI's example outputs ----------------------------------------------------------------


def example_outputs(action: str) -> list[Any]:
    """The JSON of every `Output::` block in the action's example file.

    The examples abbreviate: `...` stands for more items, and some lists lack the comma between items.
    Those are repaired; anything else that is not JSON fails loudly, naming the file and block.
    """
    path = EXAMPLES / f"{action.replace('_', '-')}.rst"
    lines = path.read_text(encoding="utf-8").expandtabs(4).splitlines()
    outputs = []
    for start, line in enumerate(lines):
        if line.strip() != "Output::":
            continue
        indent = len(line) - len(line.lstrip())
        block = []
        for following in lines[start + 1:]:
            if following.strip() and len(following) - len(following.lstrip()) <= indent:
                break
            block.append(following)
        text = textwrap.dedent("\n".join(block)).strip()
        text = "\n".join(row for row in text.splitlines() if row.strip() not in ("...", "...,"))
        text = re.sub(r"\}(\s*)\{", r"},\1{", text)
        text = re.sub(r",(\s*[\]}])", r"\1", text)
        text = re.sub(r'(:\s*)(\d{4}-\d\d-\d\dT[\d:.]+Z)(\s*[,}])', r'\1"\2"\3', text)  # get-maintenance-window's bare timestamp
        try:
            outputs.append(json.loads(text))
        except ValueError as exc:
            raise AssertionError(f"{path.name}: Output:: block at line {start + 1} is not JSON after repair: {exc}") from None
    return outputs


def test_example_outputs_read_past_the_abbreviations():
    outputs = example_outputs("describe_instance_patches")
    assert [[p["State"] for p in output["Patches"]] for output in outputs] == [["Installed", "InstalledOther"], ["Missing"], ["Installed"]]
    assert [len(output["Commands"]) for output in example_outputs("list_commands")] == [3]


# ---- walking an answer against botocore's output shape ----------------------------------------


def merged(items: list) -> Any:
    """One item that has every field any of the items has (the first value seen for each)."""
    if not items or not all(isinstance(i, dict) for i in items):
        return items[0] if items else None
    union: dict = {}
    for item in items:
        for key, value in item.items():
            union.setdefault(key, value)
    return union


def field_problems(shape, example: Any, answer: Any, path: str, action: str) -> list[str]:
    """Fields the example has and the answer lacks, and fields of the answer that are not in the shape."""
    problems: list[str] = []
    if shape is not None and shape.type_name == "map":
        return problems  # keys are data (document parameters, counts per status), not field names
    if isinstance(example, dict) and isinstance(answer, dict):
        members = shape.members if shape is not None and shape.type_name == "structure" else {}
        for name in answer:
            if shape is not None and name not in members:
                problems.append(f"{path}{name}: not a field of botocore's {shape.name}")
        for name, value in example.items():
            where = f"{path}{name}"
            if name not in answer:
                if (action, where) not in ALLOWED_OMISSIONS:
                    problems.append(f"{where}: in the CLI example, missing from fleetsim's answer")
                continue
            problems += field_problems(members.get(name), value, answer[name], f"{where}.", action)
    elif isinstance(example, list) and isinstance(answer, list):
        member = shape.member if shape is not None and shape.type_name == "list" else None
        example_item, answer_item = merged(example), merged(answer)
        if isinstance(example_item, dict):
            if answer_item is None:
                problems.append(f"{path.rstrip('.')}: fleetsim answered no items to compare with the example's")
            else:
                problems += field_problems(member, example_item, answer_item, path.rstrip(".") + "[].", action)
    return problems


def string_values(shape, data: Any, parent: str = "") -> Iterator[tuple[tuple[str, str], str]]:
    """((structure, member), value) for every string member in `data`, walking botocore's shape."""
    if shape is None:
        return
    if shape.type_name == "structure" and isinstance(data, dict):
        for name, value in data.items():
            member = shape.members.get(name)
            if member is None:
                continue
            if member.type_name == "string" and isinstance(value, str):
                yield (shape.name, name), value
            else:
                yield from string_values(member, value, shape.name)
    elif shape.type_name == "list" and isinstance(data, list):
        for item in data:
            if shape.member.type_name == "string":
                continue
            yield from string_values(shape.member, item, parent)


def vocabulary(structure: str, member: str) -> set[str] | None:
    """The values AWS answers for this field, or None where the field is free text (ids, names, times)."""
    if (structure, member) in WIRE_VOCABULARIES:
        return WIRE_VOCABULARIES[(structure, member)]
    enum = SSM_MODEL.shape_for(structure).members[member].enum
    return set(enum) if enum else None


def vocabulary_problems(shape, data: Any, whose: str) -> list[str]:
    problems = []
    for (structure, member), value in string_values(shape, data):
        allowed = vocabulary(structure, member)
        if allowed is not None and value not in allowed:
            problems.append(f"{whose} {structure}.{member} = {value!r}: not in AWS's vocabulary {sorted(allowed)}")
    return problems


def vocabulary_fields(shape, data: Any) -> set[tuple[str, str]]:
    return {field for field, _ in string_values(shape, data) if vocabulary(*field) is not None}


# ---- the requests ---------------------------------------------------------------------------------


def wait(ssm, command_id: str) -> dict:
    deadline = time.monotonic() + 60
    while True:
        command = ssm.list_commands(CommandId=command_id)["Commands"][0]
        if command["Status"] in ("Success", "Failed", "TimedOut", "Cancelled") or time.monotonic() > deadline:
            return command
        time.sleep(0.05)


def members(ssm, patch_group: str) -> list[str]:
    found = ssm.describe_instance_information(Filters=[{"Key": "tag:Patch Group", "Values": [patch_group]}])["InstanceInformationList"]
    return sorted(i["InstanceId"] for i in found)


def windows_baseline(ssm, name: str) -> str:
    # The get-patch-baseline example's baseline: one PRODUCT rule, CRITICAL, approved at once.
    return ssm.create_patch_baseline(
        Name=name, OperatingSystem="WINDOWS", Description="Patches for Windows Servers",
        ApprovalRules={"PatchRules": [{"PatchFilterGroup": {"PatchFilters": [{"Key": "PRODUCT", "Values": ["WindowsServer2016"]}]},
                                       "ComplianceLevel": "CRITICAL", "ApproveAfterDays": 0, "EnableNonSecurity": False}]},
    )["BaselineId"]


@pytest.fixture(scope="module")
def world(conformance_fleet) -> dict:
    """A fleet with patch states, commands and a registered baseline, and a way to read raw answers."""
    ssm = conformance_fleet.client("ssm")
    bodies: list[bytes] = []
    ssm.meta.events.register("after-call.ssm", lambda http_response, **_: bodies.append(http_response.content))
    al, win = members(ssm, "conformance"), members(ssm, "conformance-win")
    scan = ssm.send_command(DocumentName="AWS-RunPatchBaseline", Targets=[{"Key": "tag:Patch Group", "Values": ["conformance-win"]}],
                            Parameters={"Operation": ["Scan"]})["Command"]["CommandId"]
    install = ssm.send_command(DocumentName="AWS-RunPatchBaseline", Targets=[{"Key": "tag:Patch Group", "Values": ["conformance"]}],
                               Parameters={"Operation": ["Install"], "RebootOption": ["NoReboot"]})["Command"]["CommandId"]
    assert [wait(ssm, scan)["Status"], wait(ssm, install)["Status"]] == ["Success", "Success"]
    baseline = windows_baseline(ssm, "WindowsPatching")
    ssm.register_patch_baseline_for_patch_group(BaselineId=baseline, PatchGroup="Production")

    def answer(method: str, **kwargs) -> dict:
        getattr(ssm, method)(**kwargs)
        return json.loads(bodies[-1] or b"{}")

    return {"ssm": ssm, "answer": answer, "al": al, "win": win, "install": install, "baseline": baseline}


def cancel_a_command(w) -> dict:
    command_id = w["ssm"].send_command(DocumentName="AWS-RunShellScript", InstanceIds=w["al"][:1], Parameters={"commands": ["sleep 60"]})["Command"]["CommandId"]
    return w["answer"]("cancel_command", CommandId=command_id)


def deregister_a_registration(w) -> dict:
    baseline = windows_baseline(w["ssm"], "DeregisterMe")
    w["ssm"].register_patch_baseline_for_patch_group(BaselineId=baseline, PatchGroup="Staging")
    return w["answer"]("deregister_patch_baseline_for_patch_group", PatchGroup="Staging", BaselineId=baseline)


def delete_a_baseline(w) -> dict:
    return w["answer"]("delete_patch_baseline", BaselineId=windows_baseline(w["ssm"], "DeleteMe"))


def register_a_group(w) -> dict:
    return w["answer"]("register_patch_baseline_for_patch_group", BaselineId=windows_baseline(w["ssm"], "DevPatching"), PatchGroup="Development")


def a_window(w, name: str, schedule: str = "rate(3 days)") -> str:
    return w["ssm"].create_maintenance_window(Name=name, Schedule=schedule, Duration=6, Cutoff=1, AllowUnassociatedTargets=True)["WindowId"]


def a_window_target(w, window_id: str) -> str:
    # describe-maintenance-window-targets.rst, example 2: a tag target with OwnerInformation and a Name.
    return w["ssm"].register_target_with_maintenance_window(
        WindowId=window_id, ResourceType="INSTANCE", Targets=[{"Key": "tag:Environment", "Values": ["Prod"]}],
        OwnerInformation="CostCenter1", Name="ProdTarget1")["WindowTargetId"]


def register_a_window_task(w, window_id: str) -> dict:
    # get-maintenance-window-task.rst: a Run Command task with RunCommand invocation parameters.
    return w["answer"](
        "register_task_with_maintenance_window", WindowId=window_id, TaskArn="AWS-RunPowerShellScript", TaskType="RUN_COMMAND",
        Targets=[{"Key": "WindowTargetIds", "Values": [a_window_target(w, window_id)]}], Priority=1, MaxConcurrency="1", MaxErrors="1",
        Name="ExampleTask", Description="Runs a command", TaskInvocationParameters={"RunCommand": {"Comment": "", "TimeoutSeconds": 600,
        "Parameters": {"commands": ["echo Hello"], "executionTimeout": ["3600"], "workingDirectory": [""]}}})


def describe_windows(w) -> dict:
    a_window(w, "MyMaintenanceWindow-1", "rate(180 minutes)")
    return w["answer"]("describe_maintenance_windows", Filters=[{"Key": "Name", "Values": ["MyMaintenanceWindow"]}])


def describe_window_targets(w) -> dict:
    window_id = a_window(w, "Targets-Window")
    a_window_target(w, window_id)
    return w["answer"]("describe_maintenance_window_targets", WindowId=window_id)


def deregister_a_window_target(w) -> dict:
    window_id = a_window(w, "Deregister-Target-Window")
    return w["answer"]("deregister_target_from_maintenance_window", WindowId=window_id, WindowTargetId=a_window_target(w, window_id))


def of_a_window_task(action: str) -> Callable[[dict], dict]:
    """The action's answer about a window with one registered Run Command task."""

    def request(w) -> dict:
        window_id = a_window(w, f"Task-Window-{action.replace('_', '-')}")
        task_id = register_a_window_task(w, window_id)["WindowTaskId"]
        by_task = {} if action == "describe_maintenance_window_tasks" else {"WindowTaskId": task_id}
        return w["answer"](action, WindowId=window_id, **by_task)

    return request


# action -> the example's request, made on the simulated fleet
REQUESTS: dict[str, Callable[[dict], dict]] = {
    "send_command": lambda w: w["answer"]("send_command", DocumentName="AWS-RunShellScript", Parameters={"commands": ["echo HelloWorld"]},
                                          Targets=[{"Key": "instanceids", "Values": w["al"][:1]}], Comment="echo HelloWorld"),
    "list_commands": lambda w: w["answer"]("list_commands"),
    "list_command_invocations": lambda w: w["answer"]("list_command_invocations", CommandId=w["install"], Details=True),
    "get_command_invocation": lambda w: w["answer"]("get_command_invocation", CommandId=w["install"], InstanceId=w["al"][0]),
    "cancel_command": cancel_a_command,
    "describe_instance_information": lambda w: w["answer"]("describe_instance_information", Filters=[{"Key": "tag-key", "Values": ["Patch Group"]}]),
    "create_patch_baseline": lambda w: w["answer"](
        "create_patch_baseline", Name="Windows-Production-Baseline-AutoApproval", OperatingSystem="WINDOWS",
        ApprovalRules={"PatchRules": [{"PatchFilterGroup": {"PatchFilters": [
            {"Key": "MSRC_SEVERITY", "Values": ["Critical", "Important", "Moderate"]},
            {"Key": "CLASSIFICATION", "Values": ["SecurityUpdates", "Updates", "UpdateRollups", "CriticalUpdates"]}]}, "ApproveAfterDays": 7}]},
        Description="Baseline containing all updates approved for Windows Server production systems"),
    "get_patch_baseline": lambda w: w["answer"]("get_patch_baseline", BaselineId=w["baseline"]),
    "update_patch_baseline": lambda w: w["answer"]("update_patch_baseline", BaselineId=w["baseline"], RejectedPatches=["KB2032276", "MS10-048"],
                                                   ApprovedPatches=["KB2124261"]),
    "delete_patch_baseline": delete_a_baseline,
    "describe_patch_baselines": lambda w: w["answer"]("describe_patch_baselines"),
    "get_default_patch_baseline": lambda w: w["answer"]("get_default_patch_baseline"),
    "register_default_patch_baseline": lambda w: w["answer"](
        "register_default_patch_baseline", BaselineId=w["ssm"].get_default_patch_baseline(OperatingSystem="CENTOS")["BaselineId"]),
    "register_patch_baseline_for_patch_group": register_a_group,
    "deregister_patch_baseline_for_patch_group": deregister_a_registration,
    "get_patch_baseline_for_patch_group": lambda w: w["answer"]("get_patch_baseline_for_patch_group", PatchGroup="Production"),
    "describe_patch_groups": lambda w: w["answer"]("describe_patch_groups"),
    "describe_patch_group_state": lambda w: w["answer"]("describe_patch_group_state", PatchGroup="conformance"),
    "describe_instance_patch_states": lambda w: w["answer"]("describe_instance_patch_states", InstanceIds=w["al"] + w["win"]),
    "describe_instance_patch_states_for_patch_group": lambda w: w["answer"]("describe_instance_patch_states_for_patch_group", PatchGroup="conformance"),
    "describe_instance_patches": lambda w: w["answer"]("describe_instance_patches", InstanceId=w["win"][0], MaxResults=10),
    "create_maintenance_window": lambda w: w["answer"](
        "create_maintenance_window", Name="My-Tutorial-Maintenance-Window", Schedule="rate(5 minutes)", Duration=2, Cutoff=1,
        AllowUnassociatedTargets=True, Tags=[{"Key": "Purpose", "Value": "Tutorial"}]),
    "get_maintenance_window": lambda w: w["answer"]("get_maintenance_window", WindowId=a_window(w, "My-Maintenance-Window")),
    "update_maintenance_window": lambda w: w["answer"]("update_maintenance_window", WindowId=a_window(w, "My-MW", "cron(0 16 ? * TUE *)"),
                                                       Name="My-Renamed-MW"),
    "describe_maintenance_windows": describe_windows,
    "delete_maintenance_window": lambda w: w["answer"]("delete_maintenance_window", WindowId=a_window(w, "Delete-Me-Window")),
    "register_target_with_maintenance_window": lambda w: w["answer"](
        "register_target_with_maintenance_window", WindowId=a_window(w, "Register-Target-Window"), ResourceType="INSTANCE",
        Targets=[{"Key": "InstanceIds", "Values": w["win"][:1]}], OwnerInformation="Single instance"),
    "describe_maintenance_window_targets": describe_window_targets,
    "deregister_target_from_maintenance_window": deregister_a_window_target,
    "register_task_with_maintenance_window": lambda w: register_a_window_task(w, a_window(w, "Register-Task-Window")),
    "describe_maintenance_window_tasks": of_a_window_task("describe_maintenance_window_tasks"),
    "get_maintenance_window_task": of_a_window_task("get_maintenance_window_task"),
    "deregister_task_from_maintenance_window": of_a_window_task("deregister_task_from_maintenance_window"),
}


def served_actions() -> set[str]:
    # FleetSSMResponse is composed of one mixin per area of the API; moto's own classes follow them in its MRO.
    fleetsim_classes = [c for c in FleetSSMResponse.__mro__ if c.__module__.startswith("fleetsim.")]
    return {name for c in fleetsim_classes for name, value in vars(c).items()
            if callable(value) and not name.startswith("_") and name != "serialized"}


def test_every_action_fleetsim_serves_is_checked_against_its_cli_example():
    assert (set(REQUESTS), sorted(a for a in REQUESTS if not (EXAMPLES / f"{a.replace('_', '-')}.rst").exists())) == (served_actions(), [])


def output_shape(action: str):
    return SSM_MODEL.operation_model("".join(part.title() for part in action.split("_"))).output_shape


@pytest.mark.parametrize("action", sorted(REQUESTS), ids=sorted(a.replace("_", "-") for a in REQUESTS))
def test_fleetsim_answers_with_the_cli_examples_fields_and_vocabulary(world, action):
    answer = REQUESTS[action](world)
    shape = output_shape(action)
    examples = example_outputs(action)
    problems = []
    for example in examples:
        problems += field_problems(shape, example, answer, "", action)
        problems += vocabulary_problems(shape, example, "the CLI example's")
    problems += vocabulary_problems(shape, answer, "fleetsim's")
    unanswered = set().union(*(vocabulary_fields(shape, e) for e in examples)) - vocabulary_fields(shape, answer) if examples else set()
    problems += [f"{s}.{m}: the CLI example shows a value, fleetsim's answer has none to compare" for s, m in sorted(unanswered)]
    assert sorted(set(problems)) == []


def test_patch_states_are_the_cli_examples_spelling_not_botocores_enum():
    shown = {p["State"] for output in example_outputs("describe_instance_patches") for p in output["Patches"]}
    enum = set(SSM_MODEL.shape_for("PatchComplianceDataState").enum)
    assert (shown <= WIRE_VOCABULARIES[("PatchComplianceData", "State")], shown & enum) == (True, set())


def test_a_fleetsim_answer_in_botocores_enum_spelling_is_caught():
    reverted = {"Patches": [{"Title": "", "KBId": "KB1", "Classification": "", "Severity": "", "State": "INSTALLED", "InstalledTime": 0.0}]}
    assert vocabulary_problems(output_shape("describe_instance_patches"), reverted, "fleetsim's") == [
        "fleetsim's PatchComplianceData.State = 'INSTALLED': not in AWS's vocabulary "
        "['AvailableSecurityUpdate', 'Failed', 'Installed', 'InstalledOther', 'InstalledPendingReboot', 'InstalledRejected', 'Missing', 'NotApplicable']"]


def test_every_allowed_omission_is_recorded_in_fidelity():
    text = FIDELITY.read_text(encoding="utf-8")
    assert [path for _, path in ALLOWED_OMISSIONS if path.rsplit(".", 1)[-1] not in text] == []
