"""The Airflow layer: operators, the waiting trigger, one TaskGroup per stage, one DAG per plan."""
