"""Airflow DAG for the rollout plan include/rollouts/multi-account.yaml (built by patchflow's DAG factory)."""
from patchflow.rollout.factory import dag_from_plan_file

dag = dag_from_plan_file("multi-account.yaml")
