"""The AWS layer: every call to Systems Manager, EC2, S3, SNS and Secrets Manager, and the ledger. Knows nothing of Airflow."""
