"""Real-AWS mode never runs on default secrets: the start script every compose service runs, and the compose file.

Docker does not run here, so the script (python -m patchflow.aws.service_secrets) runs natively,
with the environment docker-compose.yaml gives the containers.
"""
from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from cryptography.fernet import Fernet

from patchflow.aws.service_secrets import Refused, resolve

PROJECT_ROOT = Path(__file__).resolve().parents[1]
COMPOSE = PROJECT_ROOT / "docker-compose.yaml"
NAMES = ("PATCHFLOW_ADMIN_PASSWORD", "PATCHFLOW_JWT_SECRET", "PATCHFLOW_FERNET_KEY")
AIRFLOW_SETTINGS = ("AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__CORE__FERNET_KEY", "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE")
SHOW_AIRFLOW_SETTINGS = f"import json, os; print(json.dumps({{k: os.environ.get(k) for k in {AIRFLOW_SETTINGS!r}}}))"
OWN_FERNET_KEY = Fernet.generate_key().decode()


def start(tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    """Start a stand-in for an Airflow service through the script, as the compose entrypoint does."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("PATCHFLOW_", "AIRFLOW__"))}
    base.update(
        PYTHONPATH=str(PROJECT_ROOT / "plugins"),
        AIRFLOW_HOME=str(tmp_path / "home"),
        PATCHFLOW_SECRETS_FILE=str(tmp_path / "secrets" / "airflow-secrets.json"),
    )
    base.update(env)
    return subprocess.run([sys.executable, "-m", "patchflow.aws.service_secrets", "--", sys.executable, "-c", SHOW_AIRFLOW_SETTINGS],
                          env=base, capture_output=True, text=True, timeout=60)


def secrets_file(tmp_path: Path) -> Path:
    return tmp_path / "secrets" / "airflow-secrets.json"


@pytest.mark.parametrize(
    ("env", "missing"),
    [
        pytest.param({"PATCHFLOW_ENV": "aws"}, "PATCHFLOW_ADMIN_PASSWORD, PATCHFLOW_JWT_SECRET, PATCHFLOW_FERNET_KEY", id="nothing-set"),
        pytest.param({"PATCHFLOW_ENV": "aws", "PATCHFLOW_ADMIN_PASSWORD": "a-long-own-password"}, "PATCHFLOW_JWT_SECRET, PATCHFLOW_FERNET_KEY",
                     id="password-only"),
        pytest.param({"PATCHFLOW_ENV": "aws", "PATCHFLOW_JWT_SECRET": "own-jwt-secret", "PATCHFLOW_FERNET_KEY": "", "PATCHFLOW_ADMIN_PASSWORD": "pw-of-mine"},
                     "PATCHFLOW_FERNET_KEY", id="empty-counts-as-missing"),
        pytest.param({}, "PATCHFLOW_ADMIN_PASSWORD, PATCHFLOW_JWT_SECRET, PATCHFLOW_FERNET_KEY", id="no-PATCHFLOW_ENV-is-not-the-simulator"),
    ],
)
def test_against_real_aws_a_missing_secret_refuses_the_start_naming_it(tmp_path, env, missing):
    finished = start(tmp_path, **env)
    assert (finished.returncode, finished.stdout) == (2, "")
    assert finished.stderr.splitlines() == [
        f"patchflow: refusing to start against real AWS without {missing}: set them, "
        f"or set PATCHFLOW_GENERATE_SECRETS=1 to generate them once into {secrets_file(tmp_path)}"
    ]
    assert not secrets_file(tmp_path).exists()


@pytest.mark.parametrize(
    ("env", "message"),
    [
        pytest.param({"PATCHFLOW_JWT_SECRET": "change-me-in-production"}, "PATCHFLOW_JWT_SECRET: expected a secret of your own, got a well-known default",
                     id="the-old-jwt-default"),
        pytest.param({"PATCHFLOW_ADMIN_PASSWORD": "admin"}, "PATCHFLOW_ADMIN_PASSWORD: expected a secret of your own, got a well-known default",
                     id="admin-admin"),
        pytest.param({"PATCHFLOW_FERNET_KEY": "not-a-key"},
                     "PATCHFLOW_FERNET_KEY: expected a Fernet key (32 bytes, url-safe base64, 44 characters), got a value of 9 characters",
                     id="fernet-key-malformed"),
    ],
)
def test_a_well_known_or_malformed_secret_refuses_the_start(tmp_path, env, message):
    own = {"PATCHFLOW_ADMIN_PASSWORD": "a-long-own-password", "PATCHFLOW_JWT_SECRET": "own-jwt-secret", "PATCHFLOW_FERNET_KEY": OWN_FERNET_KEY}
    finished = start(tmp_path, PATCHFLOW_ENV="aws", **{**own, **env})
    assert (finished.returncode, finished.stdout, finished.stderr.splitlines()) == (2, "", [f"patchflow: {message}"])


def test_secrets_set_in_the_environment_reach_airflow_and_nothing_is_written(tmp_path):
    finished = start(tmp_path, PATCHFLOW_ENV="aws", PATCHFLOW_ADMIN_PASSWORD="a-long-own-password", PATCHFLOW_JWT_SECRET="own-jwt-secret",
                     PATCHFLOW_FERNET_KEY=OWN_FERNET_KEY)
    assert (finished.returncode, finished.stderr) == (0, "")
    settings = json.loads(finished.stdout)
    assert (settings["AIRFLOW__API_AUTH__JWT_SECRET"], settings["AIRFLOW__CORE__FERNET_KEY"]) == ("own-jwt-secret", OWN_FERNET_KEY)
    assert json.loads(Path(settings["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"]).read_text()) == {"admin": "a-long-own-password"}
    assert not secrets_file(tmp_path).exists()


@pytest.mark.parametrize(
    "env",
    [pytest.param({"PATCHFLOW_ENV": "aws", "PATCHFLOW_GENERATE_SECRETS": "1"}, id="real-aws-when-asked"),
     pytest.param({"PATCHFLOW_ENV": "fleetsim"}, id="simulator")],
)
def test_generated_secrets_are_private_non_empty_and_stable_across_starts(tmp_path, env):
    first = start(tmp_path, **env)
    assert first.returncode == 0, first.stderr
    assert first.stderr.splitlines() == [
        f"patchflow: generated {', '.join(NAMES)} into {secrets_file(tmp_path)} (readable by its owner only)"
    ]
    stored = json.loads(secrets_file(tmp_path).read_text())
    assert sorted(stored) == sorted(NAMES) and all(len(value) >= 32 for value in stored.values())
    assert stat.S_IMODE(secrets_file(tmp_path).stat().st_mode) == 0o600
    Fernet(stored["PATCHFLOW_FERNET_KEY"].encode())  # a key Airflow's Fernet accepts
    settings = json.loads(first.stdout)
    assert (settings["AIRFLOW__API_AUTH__JWT_SECRET"], settings["AIRFLOW__CORE__FERNET_KEY"]) == (stored["PATCHFLOW_JWT_SECRET"], stored["PATCHFLOW_FERNET_KEY"])
    passwords = Path(settings["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"])
    assert json.loads(passwords.read_text()) == {"admin": stored["PATCHFLOW_ADMIN_PASSWORD"]}
    assert stat.S_IMODE(passwords.stat().st_mode) == 0o600

    second = start(tmp_path, **env)
    assert (second.returncode, second.stderr) == (0, "")
    assert json.loads(second.stdout) == settings
    assert json.loads(secrets_file(tmp_path).read_text()) == stored


def test_a_secret_set_later_wins_and_the_file_keeps_the_others(tmp_path):
    assert start(tmp_path, PATCHFLOW_ENV="aws", PATCHFLOW_GENERATE_SECRETS="1").returncode == 0
    stored = json.loads(secrets_file(tmp_path).read_text())
    later = start(tmp_path, PATCHFLOW_ENV="aws", PATCHFLOW_JWT_SECRET="rotated-jwt-secret")
    assert later.returncode == 0, later.stderr
    assert json.loads(later.stdout)["AIRFLOW__API_AUTH__JWT_SECRET"] == "rotated-jwt-secret"
    assert json.loads(later.stdout)["AIRFLOW__CORE__FERNET_KEY"] == stored["PATCHFLOW_FERNET_KEY"]


@pytest.mark.parametrize(
    ("env", "stored", "expected"),
    [
        pytest.param({"PATCHFLOW_ENV": "aws", "PATCHFLOW_FERNET_KEY": OWN_FERNET_KEY}, {"PATCHFLOW_ADMIN_PASSWORD": "p" * 20, "PATCHFLOW_JWT_SECRET": "j" * 20},
                     ({"PATCHFLOW_ADMIN_PASSWORD": "p" * 20, "PATCHFLOW_JWT_SECRET": "j" * 20, "PATCHFLOW_FERNET_KEY": OWN_FERNET_KEY}, []),
                     id="environment-and-file-together"),
        pytest.param({"PATCHFLOW_ENV": "fleetsim", "PATCHFLOW_ADMIN_PASSWORD": "admin"}, {},
                     ({"PATCHFLOW_ADMIN_PASSWORD": "admin", "PATCHFLOW_JWT_SECRET": "new PATCHFLOW_JWT_SECRET", "PATCHFLOW_FERNET_KEY": OWN_FERNET_KEY},
                      ["PATCHFLOW_JWT_SECRET", "PATCHFLOW_FERNET_KEY"]),
                     id="simulator-generates-and-allows-a-simple-password"),
    ],
)
def test_resolve(env, stored, expected):
    generate = lambda name: OWN_FERNET_KEY if name == "PATCHFLOW_FERNET_KEY" else f"new {name}"  # noqa: E731
    assert resolve(env, stored, "/secrets.json", generate=generate) == expected


def test_resolve_without_a_file_to_keep_generated_secrets_in_refuses():
    with pytest.raises(Refused) as raised:
        resolve({"PATCHFLOW_ENV": "fleetsim"}, {}, "")
    assert str(raised.value) == (
        "PATCHFLOW_SECRETS_FILE: expected a file to keep the generated PATCHFLOW_ADMIN_PASSWORD, PATCHFLOW_JWT_SECRET, PATCHFLOW_FERNET_KEY in, got nothing"
    )


# --------------------------------------------------------------------------- docker-compose.yaml

DEFAULTED = re.compile(r"\$\{(?P<name>[A-Z0-9_]+):-(?P<default>[^}]*)\}")


def with_defaults(text: str) -> str:
    """Compose's ${NAME:-default} with no NAME set in the shell."""
    return DEFAULTED.sub(lambda match: match["default"], text)


def compose() -> dict:
    return yaml.safe_load(with_defaults(COMPOSE.read_text(encoding="utf-8")))


def test_compose_publishes_every_port_on_loopback_by_default():
    published = {name: service.get("ports", []) for name, service in compose()["services"].items() if service.get("ports")}
    assert published == {"fleetsim": ["127.0.0.1:5000:5000"], "airflow-apiserver": ["127.0.0.1:8080:8080"]}


def test_every_airflow_service_starts_through_the_secrets_script_and_no_default_secret_is_left():
    services = compose()["services"]
    airflow = {name: s for name, s in services.items() if name.startswith("airflow-")}
    assert sorted(airflow) == ["airflow-apiserver", "airflow-dag-processor", "airflow-init", "airflow-scheduler", "airflow-triggerer", "airflow-worker"]
    for name, service in airflow.items():
        entrypoint = service["entrypoint"]
        assert entrypoint[entrypoint.index("-m") + 1:entrypoint.index("--", entrypoint.index("-m"))] == ["patchflow.aws.service_secrets"], name
        assert service["environment"]["PATCHFLOW_SECRETS_FILE"] == "/opt/airflow/secrets/airflow-secrets.json", name
        assert "airflow-secrets:/opt/airflow/secrets" in service["volumes"], name
        assert not set(AIRFLOW_SETTINGS) & set(service["environment"]), f"{name} sets an Airflow secret around the script"
    assert "change-me-in-production" not in COMPOSE.read_text(encoding="utf-8")


@pytest.mark.parametrize(("env_file", "mode"), [("compose/aws.env", "aws"), ("compose/fleetsim.env", "fleetsim")])
def test_each_compose_env_file_names_its_mode(env_file, mode):
    lines = (PROJECT_ROOT / env_file).read_text(encoding="utf-8").splitlines()
    assert [line for line in lines if line.startswith("PATCHFLOW_ENV=")] == [f"PATCHFLOW_ENV={mode}"]
