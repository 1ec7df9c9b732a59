"""boto3 clients configured for fleet-scale use: adaptive retries absorb throttling storms."""
from __future__ import annotations

import boto3
from botocore.config import Config

# Throttling is expected at fleet scale; adaptive mode rate-limits the client
# itself instead of failing the rollout after five quick retries.
RETRY_CONFIG = Config(retries={"max_attempts": 12, "mode": "adaptive"}, connect_timeout=10, read_timeout=30)
# SendCommand is not idempotent: a retry after a lost answer (a read time-out, a 5xx after
# SSM accepted the call) is a second command patching the same nodes again. Its client
# never retries; commands.send_command_at_most_once looks for the first one before resending.
SEND_CONFIG = RETRY_CONFIG.merge(Config(retries={"total_max_attempts": 1, "mode": "standard"}))


def aws_client(service: str, *, region_name: str | None = None, session: boto3.session.Session | None = None, config: Config = RETRY_CONFIG):
    """A client for `service`. The endpoint comes from AWS_ENDPOINT_URL (fleetsim) or the default chain."""
    session = session or boto3.session.Session()
    return session.client(service, region_name=region_name or session.region_name or "us-east-1", config=config)
