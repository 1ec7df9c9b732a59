# The image every Airflow service in docker-compose.yaml runs: Airflow plus the pinned project set.
FROM apache/airflow:3.3.2-python3.11
COPY requirements.txt constraints.txt /opt/patchflow/
# requirements.txt pins the Celery provider, celery[redis] and the PostgreSQL drivers too.
RUN pip install --no-cache-dir -r /opt/patchflow/requirements.txt -c /opt/patchflow/constraints.txt
ENV PYTHONPATH=/opt/airflow/plugins:/opt/airflow
