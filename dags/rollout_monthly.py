"""Airflow DAG for the rollout plan include/rollouts/monthly.yaml (built by patchflow's DAG factory)."""
from patchflow.rollout.factory import dag_from_plan_file

dag = dag_from_plan_file("monthly.yaml")
