"""The bench scripts are files, not a package: tests load the one they try by its path."""
from __future__ import annotations

import importlib.util
import sys
from contextlib import contextmanager
from typing import Iterator

from patchflow.core.yamlfile import PROJECT_ROOT


@contextmanager
def bench_module(name: str) -> Iterator[object]:
    """bench/<name>.py as a module, registered while it is in use (dataclasses look their module up while a class is built)."""
    bench = str(PROJECT_ROOT / "bench")
    spec = importlib.util.spec_from_file_location(f"bench_{name}", f"{bench}/{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    # A bench script imports its siblings by name, as it does when run from bench/.
    sys.path.insert(0, bench)
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.path.remove(bench)
        del sys.modules[spec.name]
