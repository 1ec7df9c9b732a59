"""Reading user YAML (and JSON, which is YAML) safely, with errors that name the file and the line."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml

from patchflow.core.errors import InvalidInput, Problem, join_path

# Where a value is written: 1-based line and column.
Position = tuple[int, int]


@dataclass(frozen=True)
class Document:
    """A parsed file and where each of its values is written.

    `positions` maps each path (as join_path writes it: stages[1].window.timezone) to the
    position of its key in a mapping, or of the item itself in a list.
    """

    data: Any
    positions: Mapping[str, Position] = field(default_factory=dict)


def load_document(path: str | Path) -> Any:
    """Parse one YAML/JSON document with PyYAML's safe loader; raise InvalidInput naming the file."""
    return read_document(path).data


def read_document(path: str | Path) -> Document:
    """load_document(), and where each value is written."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidInput([Problem(source, "", "file not found")]) from None
    except IsADirectoryError:
        raise InvalidInput([Problem(source, "", "expected a file, got a directory")]) from None
    except UnicodeDecodeError as exc:
        raise InvalidInput([Problem(source, "", f"expected UTF-8 text, got undecodable byte at offset {exc.start}")]) from None
    return parse_located(text, source)


def parse_document(text: str, source: str) -> Any:
    return parse_located(text, source).data


def parse_located(text: str, source: str) -> Document:
    try:
        return located_document(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        reason = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        message = f"expected valid YAML, got a syntax error ({reason})"
        if mark is None:
            raise InvalidInput([Problem(source, "", message)]) from None
        raise InvalidInput([Problem(source, "", message, mark.line + 1, mark.column + 1)]) from None
    except RecursionError:  # PyYAML builds nested collections recursively; a few hundred levels is its limit
        raise InvalidInput([Problem(source, "", "expected a document nested at most a few hundred levels deep, got deeper nesting")]) from None
    except (ValueError, TypeError, AttributeError, OverflowError, IndexError, KeyError) as exc:
        # PyYAML's own constructors fail this way on some explicitly tagged scalars, e.g. `!!timestamp ''`.
        raise InvalidInput([Problem(source, "", f"expected valid YAML, got a value it cannot read ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else 'no detail'})")]) from None


def located_document(text: str) -> Document:
    """yaml.safe_load(text), keeping the composed nodes to tell where each value is written."""
    loader = yaml.SafeLoader(text)  # it reads the text's first characters already, and may refuse them
    try:
        node = loader.get_single_node()
        if node is None:
            return Document(None)
        return Document(loader.construct_document(node), node_positions(node, loader))
    finally:
        loader.dispose()


def node_positions(root: yaml.Node, loader: yaml.SafeLoader) -> dict[str, Position]:
    """Path -> position for every key and list item under `root`, as the constructed document reads them.

    A key is named as the readers name it: str() of the constructed key (`yes:` reads as True).
    A node met again through an alias is not walked again, so an alias bomb costs no more than its
    text; a path below such a second meeting finds the nearest position above it. An alias's value is
    where its anchor writes it. PyYAML has already folded merge keys (`<<: *base`) into each mapping,
    and a repeated key keeps its last value, as in the data.
    """
    positions: dict[str, Position] = {}
    walked: set[int] = set()
    pending: list[tuple[yaml.Node, str]] = [(root, "")]
    while pending:  # not recursive: PyYAML reads nesting deeper than Python's recursion limit allows here
        node, path = pending.pop()
        if id(node) in walked:
            continue
        walked.add(id(node))
        if isinstance(node, yaml.MappingNode):
            # The safe loader refuses collections as keys before this walk, so every key is a scalar.
            children = {join_path(path, str(loader.construct_object(key))): (key, value) for key, value in node.value if isinstance(key, yaml.ScalarNode)}
            for child, (key, value) in children.items():
                positions[child] = (key.start_mark.line + 1, key.start_mark.column + 1)
                pending.append((value, child))
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                child = join_path(path, index)
                positions[child] = (item.start_mark.line + 1, item.start_mark.column + 1)
                pending.append((item, child))
    return positions


PROJECT_ROOT = Path(__file__).resolve().parents[3]


def display_path(path: str | Path) -> str:
    """Paths inside the project read as include/baselines/x.yaml; anything else as given."""
    resolved = Path(path).resolve()
    if resolved.is_relative_to(PROJECT_ROOT):
        return str(resolved.relative_to(PROJECT_ROOT))
    return str(path)
