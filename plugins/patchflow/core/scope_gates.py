"""A stage in several accounts or Regions is judged twice over: all its scopes together, and each on its own.

Together, a few failures spread thinly over many Regions could pass while one Region is
broken; each on its own, a small Region could pass with a failure that matters across the
fleet. The stage passes only when every judgement passes, and every reason names where it holds.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from patchflow.core.gates import GateThresholds, GateVerdict, InstanceResult, evaluate_gate


@dataclass(frozen=True)
class ScopeResults:
    label: str  # how reasons name the scope, e.g. "account prod (333333333333), Region eu-west-1"
    where: dict  # patchflow.core.scopes.Scope.to_json()
    results: tuple[InstanceResult, ...]


def evaluate_scopes(scopes: Sequence[ScopeResults], thresholds: GateThresholds, expected_targets: int | None = None) -> dict:
    """The stage verdict as JSON: GateVerdict's fields for all scopes together, plus `scopes`, each scope's own verdict."""
    together = evaluate_gate([result for scope in scopes for result in scope.results], thresholds)
    each = [(scope, evaluate_gate(scope.results, thresholds, expected_targets=expected_targets)) for scope in scopes]
    passed = together.passed and all(verdict.passed for _, verdict in each)
    everywhere = f"all {len(scopes)} accounts and Regions together"
    reasons = [f"{everywhere}: {reason}" for reason in together.reasons if not (passed is False and together.passed)]
    for scope, verdict in each:
        if passed or not verdict.passed:
            reasons.extend(f"{scope.label}: {reason}" for reason in verdict.reasons)
    whole = GateVerdict(passed, tuple(reasons), together.counts, together.thresholds).to_json()
    whole["scopes"] = [{**scope.where, **verdict.to_json()} for scope, verdict in each]
    return whole
