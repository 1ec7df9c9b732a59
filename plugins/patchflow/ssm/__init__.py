"""The boto3 layer: everything that talks to Systems Manager and EC2. Knows nothing of Airflow."""
