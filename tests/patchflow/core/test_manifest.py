from __future__ import annotations

import json

import botocore.session
import pytest
import yaml

from patchflow.core.errors import InvalidInput
from patchflow.core.manifest import (
    NOT_YET_INSTALLED_COUNTS,
    EvidenceSelection,
    InstanceEvidence,
    Manifest,
    ManifestPatch,
    PinnedCompliance,
    ReportedPatch,
    VersionMovedOn,
    build_manifest,
    drift,
    install_override_document,
    judge_against_manifest,
    manifest_from_evidence,
    missing_before_artifact,
    missing_before_json,
    needs_patch_listing,
    read_missing_before,
    select_evidence,
)

INSTALLED = {
    "AMAZON_LINUX_2023": [
        ("openssl-libs.x86_64", "openssl-libs.x86_64:1:3.0.8-1.amzn2023.0.14"),
        ("curl.x86_64", "curl.x86_64:0:8.5.0-1.amzn2023.0.4"),
        ("openssl-libs.x86_64", "openssl-libs.x86_64:1:3.0.8-1.amzn2023.0.14"),  # seen on a second instance
    ],
    "WINDOWS": [("KB5031361", "2023-10 Cumulative Update for Windows Server 2022"), ("KB5031364", "")],
    "UBUNTU": [],
}


def test_build_manifest_groups_sorts_and_deduplicates_and_keeps_an_os_with_nothing_new():
    manifest = build_manifest("dev", INSTALLED)
    assert (manifest.source_stage, dict(manifest.patches)) == (
        "dev",
        {
            "UBUNTU": (),
            "AMAZON_LINUX_2023": (
                ManifestPatch("curl.x86_64", "curl.x86_64:0:8.5.0-1.amzn2023.0.4"),
                ManifestPatch("openssl-libs.x86_64", "openssl-libs.x86_64:1:3.0.8-1.amzn2023.0.14"),
            ),
            "WINDOWS": (
                ManifestPatch("KB5031361", "2023-10 Cumulative Update for Windows Server 2022"),
                ManifestPatch("KB5031364", ""),
            ),
        },
    )


def test_content_hash_ignores_order_and_duplicates():
    shuffled = {os_name: list(reversed(pairs)) + pairs for os_name, pairs in reversed(list(INSTALLED.items()))}
    assert build_manifest("dev", shuffled).content_hash == build_manifest("dev", INSTALLED).content_hash


@pytest.mark.parametrize(
    "changed",
    [
        pytest.param({"WINDOWS": [("KB5031361", "")]}, id="fewer-patches"),
        pytest.param({k: v for k, v in INSTALLED.items() if k != "UBUNTU"}, id="an-os-no-longer-patched"),
        pytest.param({**INSTALLED, "WINDOWS": [("KB5031361", "other title"), ("KB5031364", "")]}, id="different-title"),
    ],
)
def test_content_hash_changes_with_the_content(changed):
    assert build_manifest("dev", changed).content_hash != build_manifest("dev", INSTALLED).content_hash


def test_content_hash_is_of_the_patches_not_the_stage():
    assert build_manifest("dev", INSTALLED).content_hash == build_manifest("test", INSTALLED).content_hash


def test_json_round_trip():
    manifest = build_manifest("dev", INSTALLED)
    assert Manifest.from_json(json.loads(json.dumps(manifest.to_json()))) == manifest


def test_from_json_refuses_a_hash_that_does_not_match():
    data = build_manifest("dev", INSTALLED).to_json()
    data["patches"]["WINDOWS"].append({"id": "KB9999999", "title": ""})
    with pytest.raises(ValueError) as caught:
        Manifest.from_json(data)
    assert str(caught.value).startswith("manifest content_hash: expected ")
    assert str(caught.value).endswith(f", got {data['content_hash']!r}")


@pytest.mark.parametrize(
    ("operating_system", "document"),
    [
        pytest.param(
            "AMAZON_LINUX_2023",
            "patches:\n"
            "  - id: curl.x86_64\n"
            "    title: curl.x86_64:0:8.5.0-1.amzn2023.0.4\n"
            "  - id: openssl-libs.x86_64\n"
            "    title: openssl-libs.x86_64:1:3.0.8-1.amzn2023.0.14\n",
            id="linux",
        ),
        pytest.param(
            "WINDOWS",
            "patches:\n  - id: KB5031361\n    title: 2023-10 Cumulative Update for Windows Server 2022\n  - id: KB5031364\n",
            id="windows-title-left-out-when-empty",
        ),
        pytest.param("UBUNTU", "patches: []\n", id="nothing-installed-means-install-nothing"),
    ],
)
def test_install_override_document(operating_system, document):
    assert install_override_document(build_manifest("dev", INSTALLED), operating_system) == document


def test_install_override_document_quotes_what_yaml_would_misread():
    manifest = build_manifest("dev", {"WINDOWS": [("KB1", "Update: yes # not a comment")]})
    text = install_override_document(manifest, "WINDOWS")
    assert yaml.safe_load(text) == {"patches": [{"id": "KB1", "title": "Update: yes # not a comment"}]}


@pytest.mark.parametrize(
    ("operating_system", "approved", "drifted"),
    [
        pytest.param("WINDOWS", ["KB5031361", "KB5040000", "KB5039999"], ["KB5039999", "KB5040000"], id="new-approvals"),
        pytest.param("WINDOWS", ["KB5031361"], [], id="nothing-new"),
        pytest.param("UBUNTU", ["libc6.amd64"], ["libc6.amd64"], id="os-not-in-manifest"),
    ],
)
def test_drift(operating_system, approved, drifted):
    assert drift(build_manifest("dev", INSTALLED), operating_system, approved) == drifted


def test_covers_an_os_patched_with_nothing_new_but_not_an_os_never_patched():
    manifest = build_manifest("dev", INSTALLED)
    assert (manifest.covers("UBUNTU"), manifest.ids("UBUNTU"), manifest.covers("SUSE"), manifest.size) == (True, frozenset(), False, 4)


AL = "AMAZON_LINUX_2023"
CURL = ("curl.x86_64", "curl.x86_64:0:8.5.0-1.amzn2023.0.4")
OPENSSL = ("openssl-libs.x86_64", "openssl-libs.x86_64:1:3.0.8-1.amzn2023.0.14")
KERNEL = ("kernel.x86_64", "kernel.x86_64:0:6.1.112-122.189.amzn2023")


@pytest.mark.parametrize(
    ("evidence", "expected"),
    [
        pytest.param(
            [InstanceEvidence(AL, frozenset({CURL[0]}), dict([CURL, OPENSSL]))],
            {AL: [CURL]},
            id="installed-before-the-run-is-not-in-it",
        ),
        pytest.param(
            [InstanceEvidence(AL, frozenset({CURL[0]}), dict([CURL])), InstanceEvidence(AL, frozenset({OPENSSL[0]}), dict([CURL, OPENSSL]))],
            {AL: [CURL, OPENSSL]},
            id="union-over-instances",
        ),
        pytest.param(
            [InstanceEvidence(AL, frozenset({CURL[0], KERNEL[0]}), dict([CURL]))],
            {AL: [CURL]},
            id="missing-and-still-missing-is-not-in-it",
        ),
        pytest.param(
            [InstanceEvidence("WINDOWS", frozenset(), {"KB5031361": "2023-10 Cumulative Update"}), InstanceEvidence(AL, frozenset({CURL[0]}), dict([CURL]))],
            {"WINDOWS": [], AL: [CURL]},
            id="nothing-new-for-an-os-is-an-empty-entry",
        ),
        pytest.param([], {}, id="no-evidence-covers-nothing"),
    ],
)
def test_manifest_from_evidence_is_missing_before_and_installed_after(evidence, expected):
    assert manifest_from_evidence("dev", evidence) == build_manifest("dev", expected)


PINNED = build_manifest("dev", {AL: [CURL, KERNEL], "WINDOWS": [("KB5031361", "2023-10 Cumulative Update")]})


@pytest.mark.parametrize(
    ("operating_system", "reported", "expected"),
    [
        pytest.param(AL, [], PinnedCompliance(True, (), (), (), ()), id="everything-installed"),
        pytest.param(
            AL,
            [ReportedPatch("bash.x86_64", "bash.x86_64:0:5.2.15-1.amzn2023.0.2", "Missing")],
            PinnedCompliance(True, (), (), (), ("bash.x86_64",)),
            id="approved-beyond-the-manifest-is-drift-not-a-failure",
        ),
        pytest.param(
            AL,
            [ReportedPatch(CURL[0], CURL[1], "Missing")],
            PinnedCompliance(False, (CURL[0],), (), (), ()),
            id="a-manifest-patch-still-missing",
        ),
        pytest.param(
            AL,
            [ReportedPatch(CURL[0], CURL[1], "InstalledPendingReboot")],
            PinnedCompliance(False, (CURL[0],), (), (), ()),
            id="a-manifest-patch-awaiting-its-reboot",
        ),
        pytest.param(
            AL,
            [ReportedPatch("bash.x86_64", "bash.x86_64:0:5.2.15-1.amzn2023.0.2", "Failed")],
            PinnedCompliance(False, (), ("bash.x86_64",), (), ()),
            id="anything-failed",
        ),
        pytest.param(
            AL,
            [ReportedPatch(KERNEL[0], "kernel.x86_64:0:6.1.115-126.197.amzn2023", "Failed")],
            PinnedCompliance(
                False, (KERNEL[0],), (KERNEL[0],), (VersionMovedOn(KERNEL[0], KERNEL[1], "kernel.x86_64:0:6.1.115-126.197.amzn2023"),), ()
            ),
            id="the-pinned-version-moved-on",
        ),
        pytest.param(
            "WINDOWS",
            [ReportedPatch("KB5031361", "2023-10 Cumulative Update (re-released)", "Failed")],
            PinnedCompliance(False, ("KB5031361",), ("KB5031361",), (), ()),
            id="windows-titles-pin-no-version",
        ),
        pytest.param(
            "UBUNTU",
            [ReportedPatch("libc6", "libc6:2.35-0ubuntu3.8", "Missing")],
            PinnedCompliance(True, (), (), (), ("libc6",)),
            id="an-os-with-nothing-pinned",
        ),
    ],
)
def test_judge_against_manifest(operating_system, reported, expected):
    assert judge_against_manifest(PINNED, operating_system, reported) == expected


# A node's DescribeInstancePatchStates item after an install with everything installed: counts of the states the
# judgement never reads are anything (UnreportedNotApplicableCount is -1 when NotApplicable was cut short).
ALL_INSTALLED = {
    "InstanceId": "i-0123456789abcdef0", "PatchGroup": "test", "BaselineId": "pb-0123456789abcdef0", "Operation": "Install",
    "InstalledCount": 42, "InstalledOtherCount": 7, "InstalledPendingRebootCount": 0, "InstalledRejectedCount": 0,
    "MissingCount": 0, "FailedCount": 0, "NotApplicableCount": 300, "UnreportedNotApplicableCount": -1,
    "AvailableSecurityUpdateCount": 2, "CriticalNonCompliantCount": 0, "SecurityNonCompliantCount": 0, "OtherNonCompliantCount": 0,
}


def _without(key: str) -> dict:
    return {k: v for k, v in ALL_INSTALLED.items() if k != key}


@pytest.mark.parametrize(
    ("patch_state", "needed"),
    [
        pytest.param(ALL_INSTALLED, False, id="nothing-missing-failed-rejected-or-awaiting-a-reboot"),
        pytest.param({**ALL_INSTALLED, "MissingCount": 3}, True, id="missing"),
        pytest.param({**ALL_INSTALLED, "FailedCount": 1}, True, id="failed"),
        pytest.param({**ALL_INSTALLED, "InstalledPendingRebootCount": 2}, True, id="awaiting-a-reboot"),
        pytest.param({**ALL_INSTALLED, "InstalledRejectedCount": 1}, True, id="installed-rejected"),
        pytest.param(_without("MissingCount"), True, id="missing-count-absent-is-unknown"),
        pytest.param(_without("FailedCount"), True, id="failed-count-absent-is-unknown"),
        pytest.param(_without("InstalledPendingRebootCount"), True, id="pending-reboot-count-absent-is-unknown"),
        pytest.param(_without("InstalledRejectedCount"), True, id="rejected-count-absent-is-unknown"),
        pytest.param({**ALL_INSTALLED, "MissingCount": None}, True, id="a-null-count-is-unknown"),
        pytest.param({**ALL_INSTALLED, "FailedCount": "0"}, True, id="a-count-that-is-no-number-is-unknown"),
        pytest.param({**ALL_INSTALLED, "InstalledRejectedCount": -1}, True, id="a-negative-count-is-unknown"),
        pytest.param({}, True, id="no-counts-at-all"),
    ],
)
def test_needs_patch_listing(patch_state, needed):
    assert needs_patch_listing(patch_state) is needed


def test_the_counts_read_are_the_apis_own_names_for_the_judged_states():
    answered = botocore.session.get_session().get_service_model("ssm").shape_for("InstancePatchState").members
    assert NOT_YET_INSTALLED_COUNTS == ("FailedCount", "InstalledPendingRebootCount", "InstalledRejectedCount", "MissingCount")
    assert set(NOT_YET_INSTALLED_COUNTS) <= set(answered)


# --------------------------------------------------------------------------- evidence from the source stage


def test_missing_before_file_round_trip_and_format():
    text = missing_before_json({"i-2": ["b", "a"], "i-1": []})
    assert (missing_before_artifact("dev"), text) == ("evidence/dev/missing-before.json", '{\n  "i-1": [],\n  "i-2": [\n    "a",\n    "b"\n  ]\n}')
    assert read_missing_before(text.encode(), "s3://ledger/r1/evidence/dev/missing-before.json") == {"i-1": frozenset(), "i-2": frozenset({"a", "b"})}


@pytest.mark.parametrize(
    "text, message",
    [
        pytest.param("{not json", "ledger/evidence.json: expected JSON, got text that does not parse (Expecting property name enclosed in double quotes: line 1 column 2 (char 1))", id="not-json"),
        pytest.param('["i-1"]', "ledger/evidence.json: expected a mapping of instance id to a list of patch ids, got a list", id="not-a-mapping"),
        pytest.param('{"i-1": "KB1", "i-2": [1], "i-3": ["KB3"]}', "ledger/evidence.json: i-1: expected a list of patch ids, got 'KB1'\nledger/evidence.json: i-2: expected a list of patch ids, got a list",
                     id="entries-not-lists-of-ids"),
    ],
)
def test_a_bad_missing_before_file_is_named_with_what_was_expected(text, message):
    with pytest.raises(InvalidInput) as raised:
        read_missing_before(text, "ledger/evidence.json")
    assert str(raised.value) == message


@pytest.mark.parametrize(
    "patched, missing_before, with_scan, without_scan",
    [
        pytest.param({"i-2": "WINDOWS", "i-1": "UBUNTU"}, {"i-1": frozenset(), "i-2": frozenset({"KB1"})}, {"i-1": "UBUNTU", "i-2": "WINDOWS"}, (), id="all-scanned"),
        pytest.param({"i-1": "UBUNTU", "i-9": "UBUNTU"}, {"i-1": frozenset()}, {"i-1": "UBUNTU"}, ("i-9",), id="tagged-in-after-the-scan"),
        pytest.param({}, {"i-1": frozenset({"a"})}, {}, (), id="scanned-but-not-patched"),
    ],
)
def test_which_patched_instances_give_evidence(patched, missing_before, with_scan, without_scan):
    assert select_evidence(patched, missing_before) == EvidenceSelection(with_scan, without_scan)
