# The image every Airflow service in docker-compose.yaml runs: Airflow plus the pinned project set.
FROM apache/airflow:3.3.2-python3.11
COPY requirements.txt constraints.txt /opt/patchflow/
# requirements.txt pins the Celery provider, celery[redis] and the PostgreSQL drivers too.
RUN pip install --no-cache-dir -r /opt/patchflow/requirements.txt -c /opt/patchflow/constraints.txt
# The project itself, for its `airflow.plugins` entry point (the Patch rollouts page) and commands;
# at run time the mounted plugins/ and fleetsim/ come first on PYTHONPATH, so edits need no rebuild.
COPY pyproject.toml README.md /opt/patchflow/
COPY plugins/patchflow /opt/patchflow/plugins/patchflow
COPY fleetsim /opt/patchflow/fleetsim
RUN pip install --no-cache-dir --no-deps /opt/patchflow
ENV PYTHONPATH=/opt/airflow/plugins:/opt/airflow
