"""fleetsim's own reading of its inputs: YAML files and patch catalog files, each problem one line naming
the file, the path inside it, what was expected and what was found."""
from __future__ import annotations

import json

import pytest

from fleetsim.catalog import CATALOG_DIR, load_catalog, parse_catalog
from fleetsim.errors import MISSING, InvalidInput, Problem, join_path, read_yaml, shown

GOOD_ENTRY = {
    "id": "KB5044281", "title": "2026-10 Cumulative Update (KB5044281)", "operating_system": "WINDOWS", "product": "WindowsServer2022",
    "classification": "SecurityUpdates", "severity": "Critical", "release_date": "2026-10-08T17:00:00Z",
}


@pytest.mark.parametrize(
    ("found", "words"),
    [pytest.param(MISSING, "nothing", id="absent"), pytest.param(None, "None", id="null"), pytest.param("ten", "'ten'", id="text"),
     pytest.param({"a": 1}, "a mapping", id="mapping"), pytest.param([1], "a list", id="list"), pytest.param(True, "True", id="bool")],
)
def test_shown(found, words):
    assert shown(found) == words


@pytest.mark.parametrize(
    ("parts", "path"),
    [pytest.param(("groups", 1, "count"), "groups[1].count", id="index-then-key"), pytest.param(("", "seed"), "seed", id="empty-root"),
     pytest.param(("patches", 0), "patches[0]", id="trailing-index"), pytest.param((), "", id="nothing")],
)
def test_join_path(parts, path):
    assert join_path(*parts) == path


def test_problems_print_source_path_and_message_one_per_line():
    problems = [Problem.expected("a.yaml", "groups[0].count", "an integer >= 1", 0), Problem("a.yaml", "", "file not found")]
    assert str(InvalidInput(problems)) == "a.yaml: groups[0].count: expected an integer >= 1, got 0\na.yaml: file not found"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param(b"groups: [1\n", "{path}: line 2 column 1: expected valid YAML, got a syntax error (expected ',' or ']', but got '<stream end>')",
                     id="syntax-error"),
        pytest.param(b"a: \xff\n", "{path}: expected UTF-8 text, got undecodable byte at offset 3", id="not-utf8"),
        pytest.param(b"a: !!timestamp ''\n", "{path}: expected valid YAML, got a value it cannot read (AttributeError: 'NoneType' object has no attribute 'groupdict')",
                     id="unreadable-tagged-scalar"),
        pytest.param(b"[" * 1200, "{path}: expected a document nested at most a few hundred levels deep, got deeper nesting", id="deep-nesting"),
        pytest.param(b"a: !!python/object:os.system {}\n",
                     "{path}: line 1 column 4: expected valid YAML, got a syntax error (could not determine a constructor for the tag "
                     "'tag:yaml.org,2002:python/object:os.system')", id="no-python-objects"),
    ],
)
def test_read_yaml_refuses_naming_the_file(tmp_path, content, message):
    path = tmp_path / "fleet.yaml"
    path.write_bytes(content)
    with pytest.raises(InvalidInput) as raised:
        read_yaml(path)
    assert str(raised.value) == message.format(path=path)


def test_read_yaml_of_a_missing_file_or_a_directory(tmp_path):
    with pytest.raises(InvalidInput) as missing:
        read_yaml(tmp_path / "absent.yaml")
    with pytest.raises(InvalidInput) as directory:
        read_yaml(tmp_path)
    assert (str(missing.value), str(directory.value)) == (f"{tmp_path / 'absent.yaml'}: file not found", f"{tmp_path}: expected a file, got a directory")


@pytest.mark.parametrize(
    ("document", "lines"),
    [
        pytest.param([], ["cat.json: expected an object with a 'patches' list, got a list"], id="not-an-object"),
        pytest.param({"patches": {}}, ["cat.json: patches: expected a list of patches, got a mapping"], id="patches-not-a-list"),
        pytest.param({"patches": ["KB1"]}, ["cat.json: patches[0]: expected an object with the patch's fields, got 'KB1'"], id="entry-not-an-object"),
        pytest.param(
            {"patches": [{**GOOD_ENTRY, "id": 5044281, "colour": "red", "cve_ids": ["CVE-1", 2], "security": "yes"},
                         {key: value for key, value in GOOD_ENTRY.items() if key != "title"} | {"release_date": "2026-10-08"}]},
            ["cat.json: patches[0].colour: unknown key; expected one of id, title, operating_system, product, classification, severity, "
             "release_date, cve_ids, requires_reboot, security, priority, section, product_family, patch_set, kb_id, version",
             "cat.json: patches[0].id: expected a string, got 5044281",
             "cat.json: patches[0].cve_ids: expected a list of strings, got a list",
             "cat.json: patches[0].security: expected true or false, got 'yes'",
             "cat.json: patches[1].title: expected a string, got nothing",
             "cat.json: patches[1].release_date: expected a UTC time like 2026-11-16T12:00:00Z, got '2026-10-08'"],
            id="every-problem-of-every-entry",
        ),
        pytest.param({"patches": [GOOD_ENTRY, GOOD_ENTRY, {**GOOD_ENTRY, "id": "KB2", "operating_system": "UBUNTU"}]},
                     ["cat.json: patches[1].id: expected an id no other entry has, got 'KB5044281'",
                      "cat.json: patches[2].operating_system: expected 'WINDOWS', got 'UBUNTU'"], id="duplicate-and-other-os"),
    ],
)
def test_a_malformed_catalog_names_every_problem(document, lines):
    with pytest.raises(InvalidInput) as raised:
        parse_catalog(document, "cat.json", "WINDOWS")
    assert str(raised.value).splitlines() == lines


def test_a_good_catalog_entry_reads_with_the_documented_defaults():
    (patch,) = parse_catalog({"patches": [GOOD_ENTRY]}, "cat.json", "WINDOWS")
    assert (patch.to_json()["release_date"], patch.cve_ids, patch.security, patch.patch_set, patch.kb_id) == ("2026-10-08T17:00:00Z", (), True, "OS", "")


def test_catalog_files_that_cannot_be_read(tmp_path):
    (tmp_path / "WINDOWS.json").write_text('{"patches": [}', encoding="utf-8")
    with pytest.raises(InvalidInput) as unreadable:
        load_catalog("WINDOWS", str(tmp_path))
    with pytest.raises(InvalidInput) as missing:
        load_catalog("MACOS", str(tmp_path))
    assert (str(unreadable.value), str(missing.value)) == (
        f"{tmp_path / 'WINDOWS.json'}: line 1 column 14: expected valid JSON, got a syntax error (Expecting value)",
        f"{tmp_path / 'MACOS.json'}: file not found",
    )


def test_the_shipped_catalogs_read_back_as_written():
    for operating_system in ("AMAZON_LINUX_2023", "UBUNTU", "WINDOWS"):
        written = json.loads((CATALOG_DIR / f"{operating_system}.json").read_text())["patches"]
        assert [patch.to_json() for patch in load_catalog(operating_system)] == written
