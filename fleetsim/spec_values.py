"""Readers of single values of a fleet spec: numbers, shares, tags, catalog patch ids, patch groups.

Each reader appends a fleetsim.errors.Problem naming where the value is written when it is bad.
"""
from __future__ import annotations

import math
from typing import Any, Mapping

from fleetsim.catalog import load_catalog
from fleetsim.errors import Problem

PATCH_GROUP_TAG_KEYS = ("Patch Group", "PatchGroup")


def is_number(value: object) -> bool:
    """A finite int or float (never a bool, inf, nan, or an int too large to be a float)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def read_share(value: object, where: str, source: str, problems: list[Problem], what: str = "a number from 0 to 1") -> float:
    if not is_number(value) or not 0 <= value <= 1:
        problems.append(Problem.expected(source, where, what, value))
        return 0.0
    return float(value)


def parse_tags(raw: Any, at_tag, source: str, problems: list[Problem]) -> dict[str, str]:
    """Tags as EC2 and CloudWatch take them; `at_tag(*more)` is where the mapping (or one of its keys) is written."""
    tags: dict[str, str] = {}
    if raw is None:
        return tags
    if not isinstance(raw, Mapping):
        problems.append(Problem.expected(source, at_tag(), "a mapping of tag key to value", raw))
        return tags
    for key, value in raw.items():
        if not isinstance(key, str) or not 1 <= len(key) <= 128 or key.lower().startswith("aws:"):
            problems.append(Problem.expected(source, at_tag(str(key)), "a tag key of 1-128 characters not starting with 'aws:'", key))
        elif not isinstance(value, (str, int, float)) or isinstance(value, bool) or len(str(value)) > 256:
            problems.append(Problem.expected(source, at_tag(key), "a tag value of at most 256 characters", value))
        else:
            tags[key] = str(value)
    return tags


def catalog_ids(platforms: tuple[str, ...]) -> frozenset[str]:
    """The patch ids fleetsim's catalog has for any of these platforms."""
    return frozenset(patch.id for platform in platforms for patch in load_catalog(platform))


def catalog_words(platforms: tuple[str, ...]) -> str:
    listed = platforms[0] if len(platforms) == 1 else f"{', '.join(platforms[:-1])} or {platforms[-1]}"
    return f"a patch id of the {listed} catalog (include/catalog/)"


def patch_shares(raw: Any, at_patch, platforms: tuple[str, ...], source: str, problems: list[Problem]) -> dict[str, float]:
    """A mapping of catalog patch id to a share from 0 to 1; `at_patch(*more)` is where it is written."""
    shares: dict[str, float] = {}
    if raw is None:
        return shares
    if not isinstance(raw, Mapping):
        problems.append(Problem.expected(source, at_patch(), "a mapping of patch id to a number from 0 to 1", raw))
        return shares
    known = catalog_ids(platforms)
    for patch_id, share in raw.items():
        if str(patch_id) not in known:
            # A misspelt id would never be installed, and the scenario would silently stay healthy.
            problems.append(Problem.expected(source, at_patch(str(patch_id)), catalog_words(platforms), patch_id))
        shares[str(patch_id)] = read_share(share, at_patch(str(patch_id)), source, problems)
    return shares


def patch_group_of(tags: Mapping[str, str]) -> str:
    """The node's patch group from its tags; 'Patch Group' is read first when both keys are set."""
    for key in PATCH_GROUP_TAG_KEYS:
        if key in tags:
            return tags[key]
    return ""
