"""fleetsim.approval and patchflow.core.approval, each written separately from AWS's text, agree on generated baselines.

Each case is a baseline for one of the catalog's operating systems (global filters, up to three
approval rules with the catalog's own filter values, dates around its release dates, approved and
rejected lists in every documented name format) and an instant; both evaluators judge every catalog
patch and must agree on approved, rejected and compliance level. Instants start at the catalog's
reference date: fleetsim's approval calendar starts there (fleetsim/clock.py), so no earlier
instant ever reaches its evaluator. Only values AWS documents for the OS are generated; how the two
treat other spellings is listed in fleetsim/FIDELITY.md, "Behaviours AWS leaves open".
"""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import patchflow.core.catalog
from fleetsim.approval import approval, rpm_names
from fleetsim.build_catalog import CATALOG_REFERENCE_DATE
from fleetsim.catalog import Patch, load_catalog
from patchflow.core.approval import evaluate

OPERATING_SYSTEMS = ("AMAZON_LINUX_2023", "UBUNTU", "WINDOWS")
CATALOGS = {name: load_catalog(name) for name in OPERATING_SYSTEMS}
PATCHFLOW_PATCHES = {name: {p.id: p for p in patchflow.core.catalog.load_catalog(name)} for name in OPERATING_SYSTEMS}
# The PatchFilter keys DescribePatchProperties lists for each OS, and the catalog field holding their values.
FILTER_FIELDS = {
    "AMAZON_LINUX_2023": {"PRODUCT": "product", "CLASSIFICATION": "classification", "SEVERITY": "severity"},
    "UBUNTU": {"PRODUCT": "product", "PRIORITY": "priority", "SECTION": "section"},
    "WINDOWS": {"PRODUCT": "product", "PRODUCT_FAMILY": "product_family", "CLASSIFICATION": "classification",
                "MSRC_SEVERITY": "severity", "PATCH_SET": "patch_set"},
}
COMPLIANCE_LEVELS = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "INFORMATIONAL", "UNSPECIFIED")
DIFFERENTIAL = settings(max_examples=400, derandomize=True, database=None, deadline=None, print_blob=False,
                        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@dataclass(frozen=True)
class Case:
    operating_system: str
    baseline: dict
    at: datetime
    on_a_boundary: bool  # `at` is exactly release + ApproveAfterDays of some patch and rule


def catalog_values(operating_system: str, field: str) -> list[str]:
    return sorted({getattr(patch, field) for patch in CATALOGS[operating_system]})


@st.composite
def filter_lists(draw, operating_system: str, max_size: int) -> list[dict]:
    keys = draw(st.lists(st.sampled_from(sorted(FILTER_FIELDS[operating_system])), unique=True, max_size=max_size))
    filters = []
    for key in keys:
        values = catalog_values(operating_system, FILTER_FIELDS[operating_system][key])
        filters.append({"Key": key, "Values": draw(st.just(["*"]) | st.lists(st.sampled_from(values), min_size=1, max_size=3, unique=True))})
    return filters


@st.composite
def rules(draw, operating_system: str) -> dict:
    rule: dict = {"PatchFilterGroup": {"PatchFilters": draw(filter_lists(operating_system, 3))}}
    if operating_system != "UBUNTU":  # a rule must set one date condition; Debian and Ubuntu support neither
        if draw(st.booleans()):
            rule["ApproveAfterDays"] = draw(st.integers(0, 120) | st.sampled_from([0, 7, 14, 30, 90, 360]))
        else:
            released = draw(st.sampled_from(CATALOGS[operating_system])).release_date + timedelta(days=draw(st.integers(-1, 1)))
            rule["ApproveUntilDate"] = released.strftime("%Y-%m-%d")
    if draw(st.booleans()):
        rule["ComplianceLevel"] = draw(st.sampled_from(COMPLIANCE_LEVELS))
    if draw(st.booleans()):
        rule["EnableNonSecurity"] = draw(st.booleans())
    return rule


@st.composite
def one_wildcard(draw, name: str) -> str:
    """A name with at most one stretch of it replaced by `*` ("a single wild card in the above formats")."""
    if not draw(st.booleans()):
        return name
    start = draw(st.integers(0, len(name)))
    end = draw(st.integers(start, len(name)))
    return f"{name[:start]}*{name[end:]}"


@st.composite
def list_entries(draw, operating_system: str, approving: bool) -> str:
    """One ApprovedPatches or RejectedPatches entry in a format "Package name formats ..." documents for the OS."""
    patch: Patch = draw(st.sampled_from(CATALOGS[operating_system]))
    if operating_system in ("UBUNTU", "WINDOWS"):
        return draw(st.sampled_from([patch.id, "no-such-package" if operating_system == "UBUNTU" else "KB1000001"]))
    kinds = ["name", "name", "nothing"] + (["advisory", "cve"] if approving else [])
    kind = draw(st.sampled_from(kinds))
    if kind == "advisory" and patch.kb_id:
        return patch.kb_id
    if kind == "cve" and patch.cve_ids:
        return draw(st.sampled_from(patch.cve_ids))
    if kind == "nothing":
        return draw(st.sampled_from(["CVE-2020-0001", "ALAS2023-2020-001", "no-such-package", "1234567"]))
    return draw(one_wildcard(draw(st.sampled_from(rpm_names(patch)))))


@st.composite
def cases(draw) -> Case:
    operating_system = draw(st.sampled_from(OPERATING_SYSTEMS))
    baseline: dict = {
        "OperatingSystem": operating_system,
        "GlobalFilters": {"PatchFilters": draw(filter_lists(operating_system, 2))},
        "ApprovalRules": {"PatchRules": draw(st.lists(rules(operating_system), max_size=3))},
        "ApprovedPatches": draw(st.lists(list_entries(operating_system, approving=True), max_size=3)),
        "ApprovedPatchesComplianceLevel": draw(st.sampled_from(COMPLIANCE_LEVELS)),
        "ApprovedPatchesEnableNonSecurity": draw(st.booleans()),
        "RejectedPatches": draw(st.lists(list_entries(operating_system, approving=False), max_size=2)),
        "RejectedPatchesAction": draw(st.sampled_from(["ALLOW_AS_DEPENDENCY", "BLOCK"])),
    }
    delays = [rule["ApproveAfterDays"] for rule in baseline["ApprovalRules"]["PatchRules"] if "ApproveAfterDays" in rule]
    if delays and draw(st.booleans()):
        patch = draw(st.sampled_from(CATALOGS[operating_system]))
        nudge = draw(st.sampled_from([-60, 0, 60]))
        at = patch.release_date + timedelta(days=draw(st.sampled_from(delays)), seconds=nudge)
        if at >= CATALOG_REFERENCE_DATE:
            return Case(operating_system, baseline, at, nudge == 0)
    return Case(operating_system, baseline, CATALOG_REFERENCE_DATE + timedelta(minutes=draw(st.integers(0, 400 * 24 * 60))), False)


def verdict_kind(verdict) -> str:
    if verdict.rejected:
        return "rejected"
    if "ApprovedPatchesEnableNonSecurity is false" in verdict.why:
        return "ApprovedPatches refused: no security update"
    if verdict.why.startswith("ApprovedPatches names it"):
        return "approved by ApprovedPatches"
    return verdict.why


def verdicts(case: Case) -> tuple[list[str], Counter]:
    """The disagreements of the two evaluators on this case, and what kinds of verdict fleetsim gave."""
    disagreements, kinds = [], Counter()
    for patch in CATALOGS[case.operating_system]:
        ours = approval(case.baseline, patch, case.at)
        theirs = evaluate(case.baseline, PATCHFLOW_PATCHES[case.operating_system][patch.id], case.at)
        kinds[verdict_kind(ours)] += 1
        kinds[f"{case.operating_system} approved" if ours.approved else f"{case.operating_system} not approved"] += 1
        kinds[f"level {ours.compliance_level}"] += ours.approved
        kinds["approved on the ApproveAfterDays boundary"] += case.on_a_boundary and ours.approved and ours.why.startswith("approval rule")
        if (ours.approved, ours.rejected, ours.compliance_level) != (theirs.approved, theirs.rejected, theirs.compliance_level):
            disagreements.append(
                f"{patch.id} at {case.at:%Y-%m-%dT%H:%M:%SZ}: fleetsim {ours} / patchflow {theirs.approved, theirs.rejected, theirs.compliance_level, theirs.reason}"
            )
    return disagreements, kinds


def test_fleetsim_and_patchflow_agree_on_every_generated_baseline():
    seen: Counter = Counter()

    @DIFFERENTIAL
    @given(case=cases())
    def agree(case: Case) -> None:
        disagreements, kinds = verdicts(case)
        seen.update(kinds)
        assert not disagreements, "baseline " + json.dumps(case.baseline, sort_keys=True) + "\n" + "\n".join(disagreements)

    agree()
    # The generated cases reach every path of the decision, so agreement is not agreement on trivial cases.
    reached = {kind for kind, count in seen.items() if count}
    assert reached >= {
        "rejected", "approved by ApprovedPatches", "ApprovedPatches refused: no security update", "approval rule 1", "approval rule 2",
        "approval rule 3", "GlobalFilters leave it out", "no approval rule approves it", "approved on the ApproveAfterDays boundary",
        *(f"{name} approved" for name in OPERATING_SYSTEMS), *(f"{name} not approved" for name in OPERATING_SYSTEMS),
        *(f"level {level}" for level in COMPLIANCE_LEVELS),
    }, sorted(reached)
