"""The account's patch baselines as include/baselines files: one per custom baseline, predefined ones named.

Each custom baseline (owned by the account) becomes a snake_case YAML file
that patchflow.core.baselines reads back into a Baseline equal, field for
field, to what GetPatchBaseline answered, with its patch groups and its
default flag, so that `patchflow sync` finds nothing to change. A baseline
the files cannot express is not written and is listed with the loader's
reasons. Predefined (AWS-owned) baselines are referenced by AWS, never
copied; those holding patch groups are named.

Inputs are boto3's answers as plain dicts: DescribePatchBaselines'
BaselineIdentities, GetPatchBaseline by BaselineId, and DescribePatchGroups'
Mappings. Pure: no boto3, no files.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import yaml

from patchflow.core.adoption_tasks import Unmapped
from patchflow.core.baseline_model import Baseline
from patchflow.core.baseline_rules import LINUX_SYSTEMS
from patchflow.core.baselines import parse_baseline
from patchflow.core.errors import InvalidInput

BASELINE_MODELINE = "# yaml-language-server: $schema=../schemas/baseline.schema.json"


@dataclass(frozen=True)
class BaselineFile:
    """A custom baseline as the file include/baselines/<file_name> holds it."""

    file_name: str
    baseline_id: str
    text: str
    baseline: Baseline  # what the text reads back as


@dataclass(frozen=True)
class PredefinedBaseline:
    """An AWS-owned baseline that holds patch groups: named, never copied."""

    name: str
    baseline_id: str
    operating_system: str
    patch_groups: tuple[str, ...]
    default_for_os: bool

    def __str__(self) -> str:
        default = f"; the {self.operating_system} default" if self.default_for_os else ""
        return f"{self.name} ({self.operating_system}, predefined by AWS): patch groups {', '.join(self.patch_groups)}{default}"


def owned_by_aws(identity: Mapping) -> bool:
    """AWS's own baselines answer with an ARN for an id (the AWS CLI example of describe-patch-baselines) and an AWS- name."""
    return str(identity.get("BaselineId", "")).startswith("arn:") or str(identity.get("BaselineName", "")).startswith("AWS-")


def groups_by_baseline(documents: Mapping[str, Mapping], mappings: Sequence[Mapping]) -> dict[str, tuple[str, ...]]:
    """Baseline id -> its patch groups, from GetPatchBaseline's PatchGroups and DescribePatchGroups, in the order SSM gave them."""
    groups: dict[str, list[str]] = {}
    for baseline_id, document in documents.items():
        groups.setdefault(baseline_id, []).extend(document.get("PatchGroups") or [])
    for mapping in mappings:
        baseline_id = (mapping.get("BaselineIdentity") or {}).get("BaselineId")
        holder = groups.setdefault(baseline_id, [])
        if mapping.get("PatchGroup") not in holder:
            holder.append(mapping.get("PatchGroup"))
    return {baseline_id: tuple(dict.fromkeys(found)) for baseline_id, found in groups.items()}


class IndentedDumper(yaml.SafeDumper):
    """Lists indented under their key, as the project's own YAML files write them."""

    def increase_indent(self, flow: bool = False, indentless: bool = False):
        return super().increase_indent(flow, False)


def represent_text(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    # A repository's configuration spans lines: as a literal block it reads as it would in a .repo file.
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style="|" if "\n" in text else None)


IndentedDumper.add_representer(str, represent_text)


def dump_yaml(document: Mapping[str, Any]) -> str:
    """Block style, short lists and small mappings on one line; quoting wherever YAML would read a value back differently."""
    return yaml.dump(dict(document), Dumper=IndentedDumper, sort_keys=False, default_flow_style=None, allow_unicode=True, width=120)


def baseline_document(answer: Mapping, patch_groups: Sequence[str], default_for_os: bool) -> dict[str, Any]:
    """A GetPatchBaseline answer in the project's snake_case spelling; fields at their default are left out."""
    operating_system = answer.get("OperatingSystem", "WINDOWS")
    linux = operating_system in LINUX_SYSTEMS

    def filters(group: Mapping | None) -> dict[str, list] | list[dict]:
        found = (group or {}).get("PatchFilters") or []
        keys = [f["Key"] for f in found]
        if len(set(keys)) == len(keys):  # KEY: [values], as the project's files write filters
            return {f["Key"]: list(f["Values"]) for f in found}
        # A key twice cannot be a mapping; written as a list, the loader names the repeat.
        return [{"key": f["Key"], "values": list(f["Values"])} for f in found]

    def rule(found: Mapping) -> dict[str, Any]:
        out: dict[str, Any] = {"patch_filters": filters(found.get("PatchFilterGroup"))}
        if found.get("ApproveAfterDays") is not None:
            out["approve_after_days"] = found["ApproveAfterDays"]
        if found.get("ApproveUntilDate"):
            out["approve_until_date"] = found["ApproveUntilDate"]
        out["compliance_level"] = found.get("ComplianceLevel") or "UNSPECIFIED"
        if linux and found.get("EnableNonSecurity"):
            out["enable_non_security"] = True
        return out

    document: dict[str, Any] = {"name": answer.get("Name"), "operating_system": operating_system}
    if answer.get("Description"):
        document["description"] = answer["Description"]
    if filters(answer.get("GlobalFilters")):
        document["global_filters"] = filters(answer.get("GlobalFilters"))
    rules = [rule(found) for found in (answer.get("ApprovalRules") or {}).get("PatchRules") or []]
    if rules:
        document["approval_rules"] = rules
    if answer.get("ApprovedPatches"):
        document["approved_patches"] = list(answer["ApprovedPatches"])
    if (answer.get("ApprovedPatchesComplianceLevel") or "UNSPECIFIED") != "UNSPECIFIED":
        document["approved_patches_compliance_level"] = answer["ApprovedPatchesComplianceLevel"]
    if linux and answer.get("ApprovedPatchesEnableNonSecurity"):
        document["approved_patches_enable_non_security"] = True
    if answer.get("RejectedPatches"):
        document["rejected_patches"] = list(answer["RejectedPatches"])
    if (answer.get("RejectedPatchesAction") or "ALLOW_AS_DEPENDENCY") != "ALLOW_AS_DEPENDENCY":
        document["rejected_patches_action"] = answer["RejectedPatchesAction"]
    if answer.get("Sources"):
        document["sources"] = [{"name": s["Name"], "products": list(s["Products"]), "configuration": s["Configuration"]} for s in answer["Sources"]]
    if answer.get("AvailableSecurityUpdatesComplianceStatus"):
        document["available_security_updates_compliance_status"] = answer["AvailableSecurityUpdatesComplianceStatus"]
    if patch_groups:
        document["patch_groups"] = list(patch_groups)
    if default_for_os:
        document["default_for_os"] = True
    return document


def baseline_text(document: Mapping[str, Any], baseline_id: str) -> str:
    header = [
        BASELINE_MODELINE,
        f"# Imported from SSM patch baseline {baseline_id}. From here on this file is the baseline:",
        "# `patchflow sync` makes SSM match it (it updates the baselines tagged managed-by=patchflow).",
    ]
    return "\n".join(header) + "\n" + dump_yaml(document)


def adopt_baselines(
    identities: Sequence[Mapping], documents: Mapping[str, Mapping], mappings: Sequence[Mapping] = ()
) -> tuple[list[BaselineFile], list[PredefinedBaseline], list[Unmapped]]:
    """Files for the custom baselines, the predefined ones holding patch groups, and what could not be written."""
    groups = groups_by_baseline(documents, mappings)
    files: list[BaselineFile] = []
    predefined: list[PredefinedBaseline] = []
    unmapped: list[Unmapped] = []
    custom = [identity for identity in identities if not owned_by_aws(identity)]
    ids_by_name: dict[str, list[str]] = {}
    for identity in custom:
        ids_by_name.setdefault(identity.get("BaselineName", ""), []).append(identity["BaselineId"])
    for identity in identities:
        baseline_id, name = identity["BaselineId"], identity.get("BaselineName", "")
        default = bool(identity.get("DefaultBaseline"))
        if owned_by_aws(identity):
            if groups.get(baseline_id):
                predefined.append(PredefinedBaseline(name, baseline_id, identity.get("OperatingSystem", "WINDOWS"), groups[baseline_id], default))
            continue
        item = f"baseline {name} ({baseline_id})"
        if len(ids_by_name[name]) > 1:
            unmapped.append(Unmapped(item, f"{len(ids_by_name[name])} baselines are named {name} ({', '.join(ids_by_name[name])}); "
                                           "patchflow knows a baseline by its name, so rename all but one in SSM"))
            continue
        answer = documents.get(baseline_id)
        if answer is None:
            unmapped.append(Unmapped(item, "GetPatchBaseline gave no answer for it"))
            continue
        file_name = f"{name}.yaml"
        text = baseline_text(baseline_document(answer, groups.get(baseline_id, ()), default), baseline_id)
        try:
            baseline = parse_baseline(yaml.safe_load(text), file_name)
        except InvalidInput as exc:
            reasons = "; ".join(f"{p.path}: {p.message}" if p.path else p.message for p in exc.problems)
            unmapped.append(Unmapped(item, f"its file would not pass lint ({reasons})"))
            continue
        files.append(BaselineFile(file_name, baseline_id, text, baseline))
    return files, predefined, unmapped
