"""boto3 clients, created lazily once per process (never per invocation, never at import)."""

from __future__ import annotations

import threading
from typing import Any

_clients: dict[tuple[str, str | None], Any] = {}
_lock = threading.Lock()

# botocore waits 60 s to connect and retries in legacy mode by default: an unreachable S3 would hold a
# request (serving re-checks the model pointer in-line) for minutes. Fail fast; serving keeps its model.
CONNECT_TIMEOUT_SECONDS = 3
READ_TIMEOUT_SECONDS = 30
MAX_ATTEMPTS = 3


def get_client(service: str, endpoint_url: str | None = None) -> Any:
    """A cached boto3 client. ``AWS_ENDPOINT_URL`` (moto server, LocalStack) is honoured by boto3 itself."""
    key = (service, endpoint_url)
    client = _clients.get(key)
    if client is None:
        with _lock:
            client = _clients.get(key)
            if client is None:
                # boto3 takes ~0.5 s to import: only a call that reaches AWS pays it, not every cold start
                import boto3
                from botocore.config import Config

                config = Config(
                    connect_timeout=CONNECT_TIMEOUT_SECONDS,
                    read_timeout=READ_TIMEOUT_SECONDS,
                    retries={"max_attempts": MAX_ATTEMPTS, "mode": "standard"},
                )
                client = boto3.session.Session().client(service, endpoint_url=endpoint_url, config=config)
                _clients[key] = client
    return client


def reset_clients() -> None:
    """Forget cached clients (tests that switch endpoints)."""
    with _lock:
        _clients.clear()
