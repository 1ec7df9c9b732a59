"""The functional core: plans, baselines, schedules, gates, manifests and the report as pure functions over plain data.

Nothing here imports Airflow or boto3 (tests/patchflow/core/test_boundary.py proves it), so every rule is tested
table-driven without a fleet, and the same code runs in DAG parsing, the command line and the UI.
"""
