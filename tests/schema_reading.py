"""Reading the JSON Schemas in include/schemas/ and the files they describe as an editor does.

Shared by the plan/baseline/membership schema tests and the fleet schema test; imports neither
patchflow nor fleetsim, so the fleet test stays free of patchflow.
"""
from __future__ import annotations

import json
from pathlib import Path

import yaml
from jsonschema import Draft202012Validator

SCHEMAS = Path(__file__).resolve().parents[1] / "include" / "schemas"


class EditorYaml(yaml.SafeLoader):
    """YAML as an editor's language server reads it (YAML 1.2): an unquoted 2026-11-30 stays text."""


EditorYaml.yaml_implicit_resolvers = {
    first: [(tag, pattern) for tag, pattern in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def read_schema(name: str) -> dict:
    return json.loads((SCHEMAS / f"{name}.schema.json").read_text(encoding="utf-8"))


def validator_for(schema: dict) -> Draft202012Validator:
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def read_as_an_editor(path: Path):
    return yaml.load(path.read_text(encoding="utf-8"), Loader=EditorYaml)


def refused_at(validator: Draft202012Validator, document) -> list[str]:
    """Where the schema finds a problem, as JSON paths ($.stages[0].gate)."""
    return sorted({error.json_path for error in validator.iter_errors(document)})


def declares_a_mapping(node: dict) -> bool:
    """A schema that says which keys a mapping has; an if/then or anyOf refining one only narrows them."""
    kinds = node.get("type", ())
    return "additionalProperties" in node or "object" in ([kinds] if isinstance(kinds, str) else kinds)


def undescribed(node, path: str = "$") -> list[str]:
    """Every declared property, at any depth, whose schema has no description for the editor to show."""
    missing = []
    if isinstance(node, dict):
        if declares_a_mapping(node):
            missing += [f"{path}.{name}" for name, schema in node.get("properties", {}).items() if "description" not in schema]
        for key, value in node.items():
            missing += undescribed(value, f"{path}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            missing += undescribed(value, f"{path}[{index}]")
    return missing
