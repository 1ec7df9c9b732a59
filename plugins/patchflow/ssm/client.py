"""boto3 clients configured for fleet-scale use: adaptive retries absorb throttling storms."""
from __future__ import annotations

import boto3
from botocore.config import Config

# Throttling is expected at fleet scale; adaptive mode rate-limits the client
# itself instead of failing the rollout after five quick retries.
RETRY_CONFIG = Config(retries={"max_attempts": 12, "mode": "adaptive"}, connect_timeout=10, read_timeout=30)


def aws_client(service: str, *, region_name: str | None = None, session: boto3.session.Session | None = None):
    """A client for `service`. The endpoint comes from AWS_ENDPOINT_URL (fleetsim) or the default chain."""
    session = session or boto3.session.Session()
    return session.client(service, region_name=region_name or session.region_name or "us-east-1", config=RETRY_CONFIG)
