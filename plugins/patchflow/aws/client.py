"""boto3 clients configured for fleet-scale use: adaptive retries absorb throttling storms."""
from __future__ import annotations

import os
import threading

import boto3
from botocore.config import Config

# Throttling is expected at fleet scale; adaptive mode rate-limits the client
# itself instead of failing the rollout after five quick retries.
RETRY_CONFIG = Config(retries={"max_attempts": 12, "mode": "adaptive"}, connect_timeout=10, read_timeout=30)
# SendCommand is not idempotent: a retry after a lost answer (a read time-out, a 5xx after
# SSM accepted the call) is a second command patching the same nodes again. Its client
# never retries; commands.send_command_at_most_once looks for the first one before resending.
SEND_CONFIG = RETRY_CONFIG.merge(Config(retries={"total_max_attempts": 1, "mode": "standard"}))


_sessions = threading.local()


def shared_session() -> boto3.session.Session:
    """One boto3 session per thread and AWS environment, reused for every client made there.

    A new session parses every service model it touches again (a quarter of a second for S3);
    a triggerer or a worker that runs many tasks would spend its CPU on that. boto3 sessions are
    not thread-safe, hence one per thread; a changed AWS_* environment (another endpoint, other
    keys) gets a new one, so nothing read from the old environment is carried over.
    """
    environment = tuple(sorted((name, value) for name, value in os.environ.items() if name.startswith("AWS_")))
    if getattr(_sessions, "environment", None) != environment:
        _sessions.environment, _sessions.session = environment, boto3.session.Session()
    return _sessions.session


def aws_client(service: str, *, region_name: str | None = None, session: boto3.session.Session | None = None, config: Config = RETRY_CONFIG):
    """A client for `service`. The endpoint comes from AWS_ENDPOINT_URL (fleetsim) or the default chain."""
    session = session or shared_session()
    return session.client(service, region_name=region_name or session.region_name or "us-east-1", config=config)
