"""patchflow: staged AWS Systems Manager Patch Manager rollouts on Apache Airflow."""
