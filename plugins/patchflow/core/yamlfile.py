"""Reading user YAML (and JSON, which is YAML) safely, with errors that name the file."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from patchflow.core.errors import InvalidInput, Problem


def load_document(path: str | Path) -> Any:
    """Parse one YAML/JSON document with yaml.safe_load; raise InvalidInput naming the file."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidInput([Problem(source, "", "file not found")]) from None
    except IsADirectoryError:
        raise InvalidInput([Problem(source, "", "expected a file, got a directory")]) from None
    except UnicodeDecodeError as exc:
        raise InvalidInput([Problem(source, "", f"expected UTF-8 text, got undecodable byte at offset {exc.start}")]) from None
    return parse_document(text, source)


def parse_document(text: str, source: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1} column {mark.column + 1}" if mark else ""
        reason = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InvalidInput([Problem(source, where, f"expected valid YAML, got a syntax error ({reason})")]) from None
    except RecursionError:  # PyYAML builds nested collections recursively; a few hundred levels is its limit
        raise InvalidInput([Problem(source, "", "expected a document nested at most a few hundred levels deep, got deeper nesting")]) from None
    except (ValueError, TypeError, AttributeError, OverflowError, IndexError, KeyError) as exc:
        # PyYAML's own constructors fail this way on some explicitly tagged scalars, e.g. `!!timestamp ''`.
        raise InvalidInput([Problem(source, "", f"expected valid YAML, got a value it cannot read ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else 'no detail'})")]) from None


PROJECT_ROOT = Path(__file__).resolve().parents[3]


def display_path(path: str | Path) -> str:
    """Paths inside the project read as include/baselines/x.yaml; anything else as given."""
    resolved = Path(path).resolve()
    if resolved.is_relative_to(PROJECT_ROOT):
        return str(resolved.relative_to(PROJECT_ROOT))
    return str(path)
