"""SendCommand `Targets` keys: which ones Run Command resolves, and how each is spelled on the wire.

AWS's own examples send `Key=instanceids` (the AWS CLI's send-command.rst and create-association.rst,
the User Guide's "Using Targets and Rate Controls to Send Commands to a Fleet"), and the service echoes
such a target back as `"Key": "InstanceIds"` (create-association.rst output). So the InstanceIds key is
matched without regard to case and answered in its canonical spelling. `tag:<tag-key>` keeps the tag
key exactly as given, because EC2 tag keys are case-sensitive; `tag-key` and the resource-group keys
only ever appear in lower case in AWS's text and are matched as written.
"""
from __future__ import annotations

import unicodedata

INSTANCE_IDS = "InstanceIds"
TAG_KEY = "tag-key"
TAG_PREFIX = "tag:"
RESOURCE_GROUP_KEYS = ("resource-groups:Name", "resource-groups:ResourceTypeFilters")
MAX_KEY_LENGTH = 163
KEY_PATTERN = "^[\\p{L}\\p{Z}\\p{N}_.:/=\\-@]*$|resource-groups:ResourceTypeFilters|resource-groups:Name"
_PUNCTUATION = frozenset("_.:/=-@")


def satisfies_key_pattern(key: str) -> bool:
    """botocore's TargetKey pattern: letters, separators, numbers and `_.:/=-@` (Python's re has no \\p{..})."""
    return key in RESOURCE_GROUP_KEYS or all(
        ch in _PUNCTUATION or unicodedata.category(ch)[0] in "LZN" for ch in key
    )


def canonical_target_key(key: str) -> str | None:
    """The key as Run Command resolves and echoes it, or None when it is not a Run Command target key."""
    if key.casefold() == INSTANCE_IDS.casefold():
        return INSTANCE_IDS
    if key == TAG_KEY or key in RESOURCE_GROUP_KEYS:
        return key
    if key.startswith(TAG_PREFIX) and len(key) > len(TAG_PREFIX):
        return key
    return None
