"""The services the end-to-end run needs besides Airflow: PostgreSQL and Redis, installed when missing, started on loopback.

PostgreSQL and Redis come from Debian's packages (installed with apt-get only
when missing, and only as root); the Python modules from requirements.txt.
What is missing is decided by pure functions (`missing_*`), tested without
installing anything.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Callable

from patchflow.harness.processes import Processes, SetupError, step, tail, wait_for
from patchflow.core.yamlfile import PROJECT_ROOT


def missing_debian_packages(executor: str, find_binary: Callable[[str], str | None]) -> list[str]:
    """Debian packages to install so the topology can start (PostgreSQL always, Redis for Celery)."""
    wanted = [("postgresql", "initdb"), ("postgresql", "postgres")]
    if executor == "celery":
        wanted.append(("redis-server", "redis-server"))
    return sorted({package for package, binary in wanted if find_binary(binary) is None})


def missing_python_modules(executor: str, importable: Callable[[str], bool]) -> list[str]:
    modules = ["psycopg2"]
    if executor == "celery":
        modules += ["airflow.providers.celery", "redis", "celery"]
    return [m for m in modules if not importable(m)]


def find_binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0)
    return str(candidates[-1]) if candidates else None


def importable(module: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def ensure_installed(executor: str, allow_install: bool) -> None:
    packages = missing_debian_packages(executor, find_binary)
    if packages:
        if not allow_install:
            raise SetupError(f"missing Debian packages {', '.join(packages)} and --no-install was given")
        if os.geteuid() != 0:
            raise SetupError(f"missing Debian packages {', '.join(packages)}; install them as root: apt-get install {' '.join(packages)}")
        apt_install(packages)
    modules = missing_python_modules(executor, importable)
    if modules:
        if not allow_install:
            raise SetupError(f"missing Python modules {', '.join(modules)} and --no-install was given")
        step(f"installing the pinned Python set ({', '.join(modules)} missing)")
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "-r", "requirements.txt", "-c", "constraints.txt"], cwd=PROJECT_ROOT, check=True
        )
        import importlib

        importlib.invalidate_caches()


def apt_install(packages: list[str]) -> None:
    step(f"installing {', '.join(packages)} from Debian's packages")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    # Only the binaries are wanted: keep the packages' own services (a cluster on :5432, redis on :6379) from starting.
    policy = Path("/usr/sbin/policy-rc.d")
    added_policy = not policy.exists()
    if added_policy:
        policy.write_text("#!/bin/sh\nexit 101\n")
        policy.chmod(0o755)
    try:
        subprocess.run(["apt-get", "update", "-qq"], env=env, check=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages], env=env, check=True, stdout=subprocess.DEVNULL)
    finally:
        if added_policy:
            policy.unlink(missing_ok=True)


def start_postgres(processes: Processes, work: Path, port: int) -> None:
    initdb, postgres = find_binary("initdb"), find_binary("postgres")
    data, sockets = work / "pgdata", work / "pgsock"
    sockets.mkdir()
    user = None
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root: run it as the postgres user its package created
        import pwd

        try:
            pw = pwd.getpwnam("postgres")
        except KeyError:
            raise SetupError("running as root, and there is no 'postgres' user to run PostgreSQL as (is the postgresql package installed?)") from None
        user = "postgres"
        os.chown(sockets, pw.pw_uid, pw.pw_gid)
        data.mkdir()
        os.chown(data, pw.pw_uid, pw.pw_gid)
    with (processes.log_dir / "initdb.log").open("ab") as log:
        finished = subprocess.run(
            [initdb, "-D", str(data), "-U", "airflow", "--auth=trust", "-E", "UTF8", "--no-sync"],
            stdout=log, stderr=subprocess.STDOUT, user=user, cwd=work, stdin=subprocess.DEVNULL,
        )
    if finished.returncode:
        raise SetupError(f"initdb failed (exit {finished.returncode}):\n{tail(processes.log_dir / 'initdb.log')}")
    processes.start(
        "postgres",
        [postgres, "-D", str(data), "-p", str(port), "-h", "127.0.0.1", "-k", str(sockets),
         "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off", "-c", "max_connections=200"],
        {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"},
        user=user, cwd=work,
    )

    def create_database() -> bool:
        import psycopg2

        connection = psycopg2.connect(host="127.0.0.1", port=port, user="airflow", dbname="postgres", connect_timeout=3)
        try:
            connection.autocommit = True
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1 FROM pg_database WHERE datname = 'airflow'")
                if not cursor.fetchone():
                    cursor.execute("CREATE DATABASE airflow")
        finally:
            connection.close()
        return True

    wait_for("PostgreSQL", create_database, 60, processes)


def start_redis(processes: Processes, work: Path, port: int) -> None:
    (work / "redis").mkdir()
    processes.start(
        "redis",
        [find_binary("redis-server"), "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(work / "redis")],
        {"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
        cwd=work,
    )

    def ping() -> bool:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")

    wait_for("Redis", ping, 30, processes, 0.2)
