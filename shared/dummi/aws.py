"""boto3 clients, created lazily once per process (never per invocation, never at import)."""

from __future__ import annotations

import threading
from typing import Any

_clients: dict[tuple[str, str | None], Any] = {}
_lock = threading.Lock()


def get_client(service: str, endpoint_url: str | None = None) -> Any:
    """A cached boto3 client. ``AWS_ENDPOINT_URL`` (moto server, LocalStack) is honoured by boto3 itself."""
    key = (service, endpoint_url)
    client = _clients.get(key)
    if client is None:
        with _lock:
            client = _clients.get(key)
            if client is None:
                import boto3

                client = boto3.session.Session().client(service, endpoint_url=endpoint_url)
                _clients[key] = client
    return client


def reset_clients() -> None:
    """Forget cached clients (tests that switch endpoints)."""
    with _lock:
        _clients.clear()
