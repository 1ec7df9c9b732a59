"""`python -m patchflow releases PLAN`: the plan's releases and where each stands; hold, lift a hold, or revoke one.

    patchflow releases weekly
    patchflow releases weekly --json
    patchflow releases weekly --hold r-0123456789abcdef --reason "CAB meets Friday"
    patchflow releases weekly --unhold r-0123456789abcdef
    patchflow releases weekly --revoke r-0123456789abcdef --reason "breaks nginx on AL2023" [--by ana]

A release is what the stage later stages pin to installed, kept in the plan's
ledger (patchflow.core.releases). A held release is not installed until the
hold is lifted; a revoked one is never installed again. Each decision is one
event in the ledger with who, when and why. Exit 0 when done, 1 when the
plan, the ledger or the release will not do, 2 on bad arguments.
"""
from __future__ import annotations

import getpass
import json
import sys
from datetime import datetime, timezone

from patchflow.aws.ledger import failure_line
from patchflow.cli.plan_argument import PLAN_HELP, UnknownPlan, resolve_plan
from patchflow.core.errors import InvalidInput
from patchflow.core.plan import RolloutPlan
from patchflow.core.releases import ReleaseEvent, ReleaseEventKind, Standing

PROG = "patchflow releases"
ACTIONS = {"hold": ReleaseEventKind.HELD, "unhold": ReleaseEventKind.RELEASED, "revoke": ReleaseEventKind.REVOKED}
KNOWN_IDS_SHOWN = 10


class BadArgument(Exception):
    """One line naming the argument, what was expected and what was found: exit 2."""


class Refused(Exception):
    """The whole line on what in the plan, its ledger or the release will not do: exit 1."""


def add_arguments(parser) -> None:
    parser.add_argument("plan", metavar="PLAN", help=PLAN_HELP)
    parser.add_argument("--hold", metavar="RELEASE", help="stop RELEASE from being installed until --unhold (needs --reason)")
    parser.add_argument("--unhold", metavar="RELEASE", help="lift the hold on RELEASE")
    parser.add_argument("--revoke", metavar="RELEASE", help="never install RELEASE again (needs --reason)")
    parser.add_argument("--reason", default=None, help="why; recorded in the ledger")
    parser.add_argument("--by", default=None, help="who decides (default: the login name)")
    parser.add_argument("--json", action="store_true", help="print the releases as JSON for scripts")


def current_time() -> datetime:
    return datetime.now(timezone.utc)


def login_name() -> str:
    return getpass.getuser()


def run(args) -> int:
    try:
        action = chosen_action(args)
        by = decider(args) if action else ""
        plan = resolve_plan(args.plan)
    except (BadArgument, UnknownPlan) as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 2
    except InvalidInput as exc:
        print(exc, file=sys.stderr)
        return 1
    from botocore.exceptions import BotoCoreError, ClientError

    from patchflow.aws.ledger import FileStore, open_store
    from patchflow.aws.release_store import ReleaseStore

    try:
        store = open_store(plan.ledger_uri)
        if isinstance(store, FileStore) and store.root.exists() and not store.root.is_dir():
            # A file where the folder should be reads as an empty folder; it is a mistake, not "no releases".
            raise Refused(f"{plan.ledger_uri}: expected a ledger folder, got a file")
        releases = ReleaseStore(store, plan.name)
        now = current_time()
        if action is None:
            print(json.dumps(as_json(plan, releases.standings()), indent=2) if args.json else listing(plan, releases.standings(), now))
            return 0
        name, release_id = action
        event, outcome = decision(plan, releases.standings(), name, release_id, by, (args.reason or "").strip(), now)
        if event is not None:
            releases.add_event(event)
        print(outcome)
        return 0
    except Refused as exc:
        print(exc, file=sys.stderr)
        return 1
    except InvalidInput as exc:
        print(exc, file=sys.stderr)
        return 1
    except (BotoCoreError, ClientError, OSError, ValueError, KeyError) as exc:  # unreachable, forbidden or corrupt
        print(f"{plan.ledger_uri}: expected a ledger patchflow can read and write, got {failure_line(exc)}", file=sys.stderr)
        return 1


# --------------------------------------------------------------------------- arguments


def chosen_action(args) -> tuple[str, str] | None:
    """('hold', release id) and so on, or None for the listing; every misuse is a BadArgument."""
    given = [(name, getattr(args, name)) for name in ACTIONS if getattr(args, name) is not None]
    if len(given) > 1:
        raise BadArgument(f"--{given[1][0]}: expected one of --hold, --unhold, --revoke at a time, got {' and '.join('--' + n for n, _ in given)}")
    if not given:
        for option in ("reason", "by"):
            if getattr(args, option) is not None:
                raise BadArgument(f"--{option}: expected --hold, --unhold or --revoke with it, got --{option} alone")
        return None
    name, release_id = given[0]
    if args.json:
        raise BadArgument(f"--json: expected no --{name} with it (--json is for the listing), got --json --{name}")
    if not release_id.strip():
        raise BadArgument(f"--{name}: expected a release id such as r-0123456789abcdef, got {release_id!r}")
    if name != "unhold" and not (args.reason or "").strip():
        why = "held" if name == "hold" else "revoked"
        raise BadArgument(f"--reason: expected why the release is {why}, got {'nothing' if args.reason is None else repr(args.reason)}")
    return name, release_id.strip()


def decider(args) -> str:
    if args.by is not None:
        if not args.by.strip():
            raise BadArgument(f"--by: expected a name, got {args.by!r}")
        return args.by.strip()
    try:
        return login_name()
    except (OSError, KeyError):  # no login name in some containers and services
        raise BadArgument("--by: expected a name (there is no login name to default to), got nothing") from None


# --------------------------------------------------------------------------- decisions


def decision(plan: RolloutPlan, standings: list[Standing], name: str, release_id: str, by: str, reason: str, now: datetime) -> tuple[ReleaseEvent | None, str]:
    """The event to record (None: nothing to record) and the line that says what happened; Refused when it may not happen."""
    standing = next((s for s in standings if s.release.id == release_id), None)
    if standing is None:
        raise Refused(f"{PROG}: --{name}: expected a release of plan {plan.name} ({known_ids(standings)}), got {release_id!r}")
    revocation = standing.revocation
    if revocation is not None:
        revoked = f"revoked {revocation.at:%a %d %b %H:%M %Z} by {revocation.by or 'someone unnamed'}: {revocation.reason or 'no reason given'}"
        if name == "revoke":
            return None, f"{release_id}: already {revoked}; nothing recorded"
        raise Refused(f"{PROG}: --{name}: expected a release that is not revoked, got {release_id} ({revoked})")
    if name == "unhold" and standing.hold is None:
        return None, f"{release_id}: not held; nothing recorded"
    event = ReleaseEvent(release_id, ACTIONS[name], now, by=by, reason=reason)
    because = f": {reason}" if reason else ""
    outcome = {
        "hold": f"{release_id}: held by {by}{because}; pinned stages will not install it until --unhold",
        "unhold": f"{release_id}: hold lifted by {by}{because}; pinned stages may install it again",
        "revoke": f"{release_id}: revoked by {by}{because}; it will never be installed again",
    }[name]
    return event, outcome


def known_ids(standings: list[Standing]) -> str:
    if not standings:
        return "it has none yet"
    shown = ", ".join(s.release.id for s in standings[:KNOWN_IDS_SHOWN])
    older = len(standings) - KNOWN_IDS_SHOWN
    return shown + (f" and {older} older" if older > 0 else "")


# --------------------------------------------------------------------------- output


def listing(plan: RolloutPlan, standings: list[Standing], now: datetime) -> str:
    if not standings:
        sources = sorted({stage.pin_to for stage in plan.stages if stage.pin_to})
        if not sources:
            how = "a stage makes one only when a later stage pins to it (pin_to), and no stage of this plan does"
        else:
            how = f"{' and '.join(sources)} makes one each time its gate passes in a run"
        return f"plan {plan.name}: no release in {plan.ledger_uri} yet; {how}"
    count = f"{len(standings)} release{'' if len(standings) == 1 else 's'}"
    lines = [f"plan {plan.name}: {count} in {plan.ledger_uri}, newest first"]
    for standing in standings:
        release = standing.release
        patches = f"{release.size} patch{'' if release.size == 1 else 'es'}"
        lines.append(f"  {standing.summary(plan.stage_names, now)}")
        lines.append(f"      {patches} from {release.source_stage} in run {release.source_run_id}; content {release.content_hash[:12]}")
    return "\n".join(lines)


def as_json(plan: RolloutPlan, standings: list[Standing]) -> dict:
    return {
        "plan": plan.name,
        "ledger": plan.ledger_uri,
        "releases": [
            {
                "release": s.release.to_json(),
                "passed": {stage: event.to_json() for stage, event in s.passed.items()},
                "blocked": {stage: event.to_json() for stage, event in s.blocked.items()},
                "hold": s.hold.to_json() if s.hold else None,
                "revocation": s.revocation.to_json() if s.revocation else None,
            }
            for s in standings
        ],
    }
