"""fleetsim.run_patch_baseline: what every node makes of an InstallOverrideList, read once per content."""
from __future__ import annotations

import pytest

from fleetsim.command_records import CommandFault
from fleetsim.run_patch_baseline import RunPatchBaselineDocument

URL = "s3://ledger/manifest/dev/AMAZON_LINUX_2023.yaml"


class FileInBucket:
    """The world as the document sees it: one object whose content can change, and how often it was read."""

    def __init__(self, body: bytes | None):
        self.body = body
        self.reads = 0

    def read_object(self, url: str) -> bytes | None:
        self.reads += 1
        return self.body if url == URL else None


def document(world: FileInBucket) -> RunPatchBaselineDocument:
    found = RunPatchBaselineDocument()
    found.world = world
    found._override_lists = {}
    return found


def test_each_node_reads_the_file_and_a_changed_file_is_read_as_it_is_now():
    world = FileInBucket(b"patches:\n- id: openssl.x86_64\n")
    reader = document(world)
    first, second = reader._override_ids(URL), reader._override_ids(URL)
    world.body = b"patches:\n- id: sudo.x86_64\n  title: sudo.x86_64:1.9.15-1\n"
    changed = reader._override_ids(URL)
    assert ([(i.id, i.title) for i in first.items], second is first, [(i.id, i.title) for i in changed.items], world.reads) == (
        [("openssl.x86_64", None)], True, [("sudo.x86_64", "sudo.x86_64:1.9.15-1")], 3)


@pytest.mark.parametrize(
    "body, message",
    [
        (None, f"Unable to download the InstallOverrideList file from {URL}."),
        (b"patches: [\n", f"The InstallOverrideList file {URL} is not valid YAML."),
        (b"patches:\n- name: openssl\n", f"The InstallOverrideList file {URL} must hold 'patches: [{{id, title}}]'."),
    ],
    ids=["missing", "not-yaml", "no-ids"],
)
def test_a_bad_file_fails_every_node_that_reads_it_with_the_same_reason(body, message):
    reader = document(FileInBucket(body))
    reasons = []
    for _ in range(2):
        with pytest.raises(CommandFault) as failed:
            reader._override_ids(URL)
        reasons.append(str(failed.value))
    assert reasons == [message, message]
