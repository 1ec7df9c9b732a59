# The image every Airflow service in docker-compose.yaml runs: Airflow plus the pinned project set.
FROM apache/airflow:3.3.2-python3.11
COPY requirements.txt constraints.txt /opt/patchflow/
RUN pip install --no-cache-dir -r /opt/patchflow/requirements.txt -c /opt/patchflow/constraints.txt \
    apache-airflow-providers-celery==3.26.0 "psycopg2-binary" "redis"
ENV PYTHONPATH=/opt/airflow/plugins:/opt/airflow
