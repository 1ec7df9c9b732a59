"""The secrets every Airflow service of docker-compose.yaml starts with: never a default against real AWS.

    python -m patchflow.aws.service_secrets -- /entrypoint api-server

Three secrets: PATCHFLOW_ADMIN_PASSWORD (the UI's `admin`), PATCHFLOW_JWT_SECRET
(API and Execution API tokens) and PATCHFLOW_FERNET_KEY (connections and
variables at rest). A value comes from the environment, else from
PATCHFLOW_SECRETS_FILE. One still missing is generated into that file (mode
0600, written once, so every service and every restart share it) against the
simulator (PATCHFLOW_ENV=fleetsim), or when PATCHFLOW_GENERATE_SECRETS=1 is
set. Otherwise, against real AWS, the service refuses to start: a role that
can patch every production node must not sit behind a known password.
Then Airflow gets its settings and the command after `--` runs in this
process's place.
"""
from __future__ import annotations

import base64
import binascii
import json
import os
import secrets
import sys
from pathlib import Path
from typing import Callable, Mapping, Sequence

ADMIN_PASSWORD = "PATCHFLOW_ADMIN_PASSWORD"
JWT_SECRET = "PATCHFLOW_JWT_SECRET"
FERNET_KEY = "PATCHFLOW_FERNET_KEY"
SECRET_NAMES = (ADMIN_PASSWORD, JWT_SECRET, FERNET_KEY)
SIMULATOR = "fleetsim"
ADMIN_USER = "admin"
# Values that shipped as defaults somewhere, or that anyone would try first.
WELL_KNOWN = {ADMIN_PASSWORD: frozenset({"admin", "airflow", "password"}), JWT_SECRET: frozenset({"change-me-in-production", "secret"})}
REFUSED_EXIT = 2


class Refused(Exception):
    """The service must not start; the message is one line naming what to set."""


def against_simulator(env: Mapping[str, str]) -> bool:
    return env.get("PATCHFLOW_ENV", "") == SIMULATOR


def generation_allowed(env: Mapping[str, str]) -> bool:
    return against_simulator(env) or env.get("PATCHFLOW_GENERATE_SECRETS", "").strip().lower() in ("1", "true", "yes")


def new_secret(name: str) -> str:
    if name == FERNET_KEY:
        return base64.urlsafe_b64encode(os.urandom(32)).decode()
    return secrets.token_urlsafe(32)


def value_problem(name: str, value: str, *, simulator: bool) -> str | None:
    """What is wrong with a secret's value, without repeating the value."""
    if not simulator and value in WELL_KNOWN.get(name, ()):
        return f"{name}: expected a secret of your own, got a well-known default"
    if name == FERNET_KEY:
        try:
            decoded = base64.urlsafe_b64decode(value.encode())
        except (binascii.Error, ValueError):
            decoded = b""
        if len(value) != 44 or len(decoded) != 32:
            return f"{name}: expected a Fernet key (32 bytes, url-safe base64, 44 characters), got a value of {len(value)} characters"
    return None


def resolve(env: Mapping[str, str], stored: Mapping[str, str], secrets_file: str,
            generate: Callable[[str], str] = new_secret) -> tuple[dict[str, str], list[str]]:
    """(the three values, the names generated now) or Refused. Pure but for `generate`."""
    values = {name: env.get(name) or stored.get(name) or "" for name in SECRET_NAMES}
    missing = [name for name in SECRET_NAMES if not values[name]]
    if missing and not generation_allowed(env):
        raise Refused(
            f"refusing to start against real AWS without {', '.join(missing)}: set them, "
            f"or set PATCHFLOW_GENERATE_SECRETS=1 to generate them once into {secrets_file or 'PATCHFLOW_SECRETS_FILE'}"
        )
    if missing and not secrets_file:
        raise Refused(f"PATCHFLOW_SECRETS_FILE: expected a file to keep the generated {', '.join(missing)} in, got nothing")
    for name in missing:
        values[name] = generate(name)
    problems = [p for p in (value_problem(name, values[name], simulator=against_simulator(env)) for name in SECRET_NAMES) if p]
    if problems:
        raise Refused("; ".join(problems))
    return values, missing


def airflow_settings(values: Mapping[str, str], passwords_file: str) -> dict[str, str]:
    return {
        "AIRFLOW__API_AUTH__JWT_SECRET": values[JWT_SECRET],
        "AIRFLOW__CORE__FERNET_KEY": values[FERNET_KEY],
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": passwords_file,
    }


# --------------------------------------------------------------------------- the file


def read_stored(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise Refused(f"{path}: expected the JSON object of secrets this service wrote, got unreadable content ({exc})") from None
    if not isinstance(data, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in data.items()):
        raise Refused(f"{path}: expected a JSON object of names to text values, got {type(data).__name__}")
    return data


def write_private(path: Path, text: str, *, exclusive: bool, owner: int | None) -> bool:
    """Write `text` readable by its owner only; with `exclusive`, False if the file appeared meanwhile (another service won)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_name(f".{path.name}.{os.getpid()}")
    descriptor = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(scratch, 0o600)  # whatever the umask
    if owner is not None and os.geteuid() == 0:
        os.chown(scratch, owner, 0)
    try:
        if exclusive:
            os.link(scratch, path)
        else:
            os.replace(scratch, path)
    except FileExistsError:
        return False
    finally:
        scratch.unlink(missing_ok=True)
    return True


def prepare(env: Mapping[str, str]) -> dict[str, str]:
    """The environment the command runs with; generates and stores missing secrets where allowed."""
    secrets_file = env.get("PATCHFLOW_SECRETS_FILE", "")
    path = Path(secrets_file) if secrets_file else None
    owner = int(env["PATCHFLOW_SECRETS_OWNER"]) if env.get("PATCHFLOW_SECRETS_OWNER", "").isdigit() else None
    while True:
        stored = read_stored(path) if path else {}
        values, generated = resolve(env, stored, secrets_file)
        if not generated:
            break
        merged = {**stored, **{name: values[name] for name in generated}}
        if write_private(path, json.dumps(merged, indent=2, sort_keys=True) + "\n", exclusive=not path.exists(), owner=owner):
            print(f"patchflow: generated {', '.join(generated)} into {path} (readable by its owner only)", file=sys.stderr)
            break
    home = Path(env.get("AIRFLOW_HOME") or "/opt/airflow")
    passwords_file = home / "simple_auth_manager_passwords.json"
    write_private(passwords_file, json.dumps({ADMIN_USER: values[ADMIN_PASSWORD]}) + "\n", exclusive=False, owner=None)
    return {**env, **airflow_settings(values, str(passwords_file))}


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = argv[argv.index("--") + 1:] if "--" in argv else []
    if not command:
        print("usage: python -m patchflow.aws.service_secrets -- COMMAND [ARGS...]", file=sys.stderr)
        return REFUSED_EXIT
    try:
        env = prepare(dict(os.environ))
    except Refused as refused:
        print(f"patchflow: {refused}", file=sys.stderr)
        return REFUSED_EXIT
    os.execvpe(command[0], command, env)
    return 0  # not reached: exec replaced this process


if __name__ == "__main__":
    sys.exit(main())
