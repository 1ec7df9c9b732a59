"""The bad fleet spec corpus: every file in specs_invalid/ fails with exactly its .expected message.

Paths are given relative to the project root, as `--fleet tests/fleetsim/...`
would be, so the messages name the file the way a user typed it.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from fleetsim.errors import InvalidInput
from fleetsim.spec import load_fleet

PROJECT_ROOT = Path(__file__).resolve().parents[2]
INVALID = Path(__file__).parent / "specs_invalid"
INVALID_FILES = sorted(p for p in INVALID.iterdir() if p.suffix in (".yaml", ".yml"))


def relative(path: Path) -> str:
    return str(path.relative_to(PROJECT_ROOT))


def test_corpus_is_large_and_complete():
    assert len(INVALID_FILES) >= 12
    assert sorted(p.stem for p in INVALID.glob("*.expected")) == sorted(p.stem for p in INVALID_FILES)


@pytest.mark.parametrize("path", INVALID_FILES, ids=[p.stem for p in INVALID_FILES])
def test_invalid_spec_fails_with_exactly_the_expected_message(path, monkeypatch):
    monkeypatch.chdir(PROJECT_ROOT)
    with pytest.raises(InvalidInput) as raised:
        load_fleet(relative(path))
    assert str(raised.value) == path.with_suffix(".expected").read_text(encoding="utf-8").rstrip("\n")


def test_the_server_refuses_a_corpus_file_with_the_same_lines_and_exit_2():
    path = INVALID / "shares-out-of-range.yaml"
    finished = subprocess.run([sys.executable, "-m", "fleetsim", "serve", "--fleet", relative(path), "--port", "0"],
                              cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60)
    expected = path.with_suffix(".expected").read_text(encoding="utf-8").rstrip("\n")
    assert finished.returncode == 2
    assert finished.stderr.rstrip("\n") == f"fleetsim: {expected}"
