"""What the end-to-end run installs when it is missing: Debian packages for PostgreSQL and Redis, Python modules."""
from __future__ import annotations

from patchflow.harness.services import missing_debian_packages, missing_python_modules


def test_missing_debian_packages_names_packages_not_binaries():
    none_found = lambda binary: None  # noqa: E731
    assert missing_debian_packages("celery", none_found) == ["postgresql", "redis-server"]
    assert missing_debian_packages("local", none_found) == ["postgresql"]
    assert missing_debian_packages("celery", lambda binary: f"/usr/bin/{binary}") == []


def test_missing_python_modules_needs_the_celery_provider_only_for_celery():
    assert missing_python_modules("celery", lambda module: False) == ["psycopg2", "airflow.providers.celery", "redis", "celery"]
    assert missing_python_modules("local", lambda module: module != "psycopg2") == ["psycopg2"]

