"""Test-wide environment: a throwaway AIRFLOW_HOME and fake AWS credentials.

Set before anything imports airflow or boto3, so no test can reach a real
account or a developer's own Airflow metadata database.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]

_airflow_home = tempfile.mkdtemp(prefix="patchflow-airflow-home-")
os.environ.update(
    {
        "AIRFLOW_HOME": _airflow_home,
        "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(PROJECT_ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "True",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
)
for leaked in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
    os.environ.pop(leaked, None)


def pytest_collection_modifyitems(items):
    # Longest first: with the test processes taking one file at a time, the minutes-long
    # end-to-end files must not be the last ones handed out. xdist keeps this order only with
    # --no-loadscope-reorder (as `make test` runs it); by default it hands out the files with
    # the most tests first, which puts the few-test, minutes-long files last.
    def weight(item) -> int:
        if item.get_closest_marker("distributed"):
            return 0
        if item.get_closest_marker("airflow"):
            return 1
        return 2

    items.sort(key=weight)
