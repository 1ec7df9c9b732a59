"""One stage of a rollout run as the Patch rollouts page shows it: its gate and health verdicts, counts and waves.

Pure, like patchflow.ui.model (which builds the rest of a run's card from these rows).
"""
from __future__ import annotations

from urllib.parse import quote

from patchflow.core.links import PAGE_PREFIX, console_command_url
from patchflow.core.report_attention import ATTENTION_COLUMNS
from patchflow.core.report_health import health_verdict
from patchflow.core.report_instances import COMMANDS_SHOWN, INSTANCES_CSV, capped
from patchflow.core.report_page import AttentionDigest, attention_digest
from patchflow.core.report_patches import list_heading
from patchflow.core.report_records import SCOPE_KEYS, Report, ScopeSummary, Stage, StageState, Verdict, Wave
from patchflow.core.report import latest_tries
from patchflow.ui.run_state_model import wave_counts

# A run's card lists this many of the nodes that need attention; the rest are in its instances.csv. page.json keeps
# the first report_instances.ATTENTION_SHOWN of them, so a card read from it lists the same ones.
PAGE_ATTENTION_SHOWN = 10


def short_id(value: str | None, length: int = 8) -> str:
    return (value or "")[:length]


def shown_state(stage: Stage, dry_run: bool) -> str:
    """The stage's state; a dry run's passing stage is `scanned`, also in report.json written before dry runs said so."""
    return StageState.SCANNED.value if dry_run and stage.state is StageState.PROMOTED else stage.state.value


def stage_row(stage: Stage, *, patch_group: str, pinned_to: str | None, region: str | None, dry_run: bool = False) -> dict:
    """A stage's row in a run's table; `patch_group` and `pinned_to` as the run (or, for older runs, the plan) says;
    a dry run's stage says what its scans found to install."""
    verdict = stage.verdict
    gate = "ERROR" if stage.state is StageState.FAILED else gate_word(verdict)
    reasons = list(verdict.reasons or ()) if verdict else []
    if stage.error:
        reasons.append(stage.error)
    waves = latest_tries(stage.waves)
    # Without a gate verdict the counts are the waves' own, each retried wave counted once.
    counts = stage.counts if verdict is not None else wave_counts(waves)
    return {
        "name": stage.name,
        "patch_group": patch_group,
        "state": shown_state(stage, dry_run),
        "gate": gate,
        "reasons": reasons,
        "health": health_cell(stage),
        "targets": counts.get("targets", stage.targets),
        "succeeded": counts.get("succeeded", 0),
        "failed": counts.get("failed", 0) + counts.get("timed_out", 0),
        "unreachable": counts.get("unreachable", 0) + counts.get("not_dispatched", 0),
        "offline": list(stage.offline),
        "pinned_to": pinned_to,
        # A stage with targets shows its waves under the account and Region each ran in.
        "waves": [wave_row(w, region) for w in waves if not any(_ran_in(w, scope) for scope in stage.scopes)],
        "scopes": [scope_row(scope, [w for w in waves if _ran_in(w, scope)], region) for scope in stage.scopes],
        "would_install": list_heading("would install", stage.would_install) if stage.would_install is not None else None,
        "waits": [],  # what the stage waits for while the run goes on (patchflow.ui.run_state_model.stage_waits)
    }


def not_reached_row(name: str, patch_group: str) -> dict:
    """The row of a stage the run recorded nothing of (stage_row's keys)."""
    return {
        "name": name, "patch_group": patch_group, "state": "not started", "gate": "-", "reasons": [], "health": None, "targets": 0, "succeeded": 0,
        "failed": 0, "unreachable": 0, "offline": [], "pinned_to": None, "waves": [], "scopes": [], "would_install": None, "waits": [],
    }


def gate_word(verdict: Verdict | None) -> str:
    if verdict is None:
        return "-"
    return "PASS" if verdict.passed else "BLOCK"


def where_name(account: str | None, account_alias: str | None, region: str | None) -> str:
    """`prod (333333333333), eu-west-1`: the account by alias and id (or id alone) and the Region, as a row names them."""
    who = f"{account_alias} ({account})" if account_alias and account else account_alias or account or "own account"
    return f"{who}, {region}" if region else who


def _ran_in(wave: Wave, scope: ScopeSummary) -> bool:
    return bool(wave.where) and all(wave.where.get(key) == getattr(scope, key) for key in SCOPE_KEYS)


def scope_row(scope: ScopeSummary, waves: list[Wave], region: str | None) -> dict:
    """One account and Region of a stage with targets: its targets, its own gate verdict and the waves sent there."""
    return {
        "account": scope.account,
        "account_alias": scope.account_alias,
        "region": scope.region,
        "where": where_name(scope.account, scope.account_alias, scope.region),
        "targets": scope.targets,
        "gate": gate_word(scope.verdict),
        "reasons": list(scope.verdict.reasons or ()) if scope.verdict else [],
        "waves": [wave_row(w, region) for w in waves],
    }


def health_cell(stage: Stage) -> dict | None:
    """The stage's health verdict beside its gate verdict; None for a stage without a health gate (or not reached)."""
    verdict = health_verdict(stage.health)
    if verdict is None:
        return None
    return {"verdict": "PASS" if verdict.passed else "BLOCK", "text": f"health: {verdict.text}", "reason": verdict.reason}


def wave_row(wave: Wave, region: str | None) -> dict:
    """A wave's line; its commands link to the console in the Region the wave ran in (the page's own for a stage without targets)."""
    region = wave.where.get("region") or region
    passed = wave.verdict.passed
    # A big wave sends a command per 50 nodes: the first few link to the console, instances.csv names every node's.
    commands = capped(wave.command_ids, COMMANDS_SHOWN)
    return {
        "label": "Scan" if wave.operation == "Scan" else f"{wave.operation or 'Install'} wave {wave.wave}",
        "targets": wave.targets,
        "verdict": "-" if passed is None else ("PASS" if passed else "BLOCK"),
        "reasons": list(wave.verdict.reasons or []),
        "commands": [
            {"id": c, "short": short_id(c), "url": console_command_url(region or "", c)} for c in commands.shown
        ],
        "more_commands": commands.more,
    }


def instances_url(base_url: str | None, dag_id: str, run_id: str) -> str:
    """The run's instances.csv, served by the page's app beside the run's report.html (which links it relatively)."""
    return f"{(base_url or '').rstrip('/')}{PAGE_PREFIX}/runs/{quote(dag_id, safe='')}/{quote(run_id, safe='')}/{INSTANCES_CSV}"


def attention_view(report: Report, digest: AttentionDigest | None = None) -> dict | None:
    """The run's nodes that need attention, the first PAGE_ATTENTION_SHOWN of them as rows; None when every node succeeded.
    `digest` is the run's page.json's (its report keeps only the first rows); without one, it is made from the report's rows."""
    listed = (digest or attention_digest(report)).first(PAGE_ATTENTION_SHOWN)
    if not listed.total:
        return None
    return {"heading": listed.heading, "rows": [dict(zip(ATTENTION_COLUMNS, entry.cells())) for entry in listed.rows], "more": listed.more}
