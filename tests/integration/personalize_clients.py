"""boto3's own Personalize clients, unmodified, against Dummi by two roads:

- ``http``: a real uvicorn server (the full app, as ``dummi run`` serves it) on a loopback port; the clients
  only get ``endpoint_url=".../personalize"``.
- ``lambda``: the PersonalizeFunction's real handler. A botocore ``before-send`` hook (botocore's own extension
  point; the client is not changed) turns the request botocore signed into an API Gateway HTTP API v2 event,
  invokes the handler and hands botocore the answer, as API Gateway would.
"""

from __future__ import annotations

import base64
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import boto3
from botocore.awsrequest import AWSResponse
from botocore.config import Config

from tests.conftest import FakeLambdaContext, load_function_module

SERVICES = ("personalize-runtime", "personalize-events", "personalize")
ACCESS_KEY, SECRET_KEY = "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def http_server() -> Iterator[str]:
    """The full app on uvicorn in a thread; its base URL."""
    import uvicorn

    from dummi.api.app import create_full_app

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_full_app(), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def make_clients(
    base: str,
    access_key: str = ACCESS_KEY,
    secret_key: str = SECRET_KEY,
    retries: int = 1,
    validate: bool = True,
    signature: Any = None,
) -> dict[str, Any]:
    """``validate`` False turns botocore's own parameter checks off (to send what it would refuse);
    ``signature`` ``botocore.UNSIGNED`` sends no signature."""
    config = Config(
        retries={"total_max_attempts": retries, "mode": "standard"},
        connect_timeout=5,
        read_timeout=30,
        parameter_validation=validate,
        **({"signature_version": signature} if signature is not None else {}),
    )
    return {
        name: boto3.client(
            name,
            endpoint_url=f"{base}/personalize",
            region_name="us-east-1",
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            config=config,
        )
        for name in SERVICES
    }


class _Raw:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.body


def lambda_event(request: Any) -> dict[str, Any]:
    """An API Gateway HTTP API v2 event for a request botocore prepared (and signed)."""
    url = urlsplit(request.url)
    body = request.body or b""
    if isinstance(body, str):
        body = body.encode()
    elif hasattr(body, "read"):
        body = body.read()
    headers = {k.lower(): (v.decode() if isinstance(v, bytes) else v) for k, v in request.headers.items()}
    headers["host"] = url.netloc
    now = time.time()
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": url.path,
        "rawQueryString": url.query,
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "api-id",
            "domainName": url.hostname,
            "domainPrefix": "id",
            "http": {
                "method": request.method,
                "path": url.path,
                "protocol": "HTTP/1.1",
                "sourceIp": "192.168.0.1/32",
                "userAgent": headers.get("user-agent", ""),
            },
            "requestId": f"personalize-{now}",
            "routeKey": "$default",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "body": base64.b64encode(body).decode(),
        "isBase64Encoded": True,
    }


def lambda_clients(
    access_key: str = ACCESS_KEY, secret_key: str = SECRET_KEY, validate: bool = True, signature: Any = None
) -> dict[str, Any]:
    """Clients whose requests go to the PersonalizeFunction's handler instead of the network."""
    handler = load_function_module("functions/personalize").handler
    clients = make_clients(
        "https://id.execute-api.us-east-1.amazonaws.com", access_key, secret_key, validate=validate, signature=signature
    )

    def send(request: Any, **_: Any) -> AWSResponse:
        answer = handler(lambda_event(request), FakeLambdaContext())
        body = answer.get("body") or ""
        raw = base64.b64decode(body) if answer.get("isBase64Encoded") else body.encode()
        headers = dict(answer.get("headers") or {})
        return AWSResponse(request.url, answer["statusCode"], headers, _Raw(raw))

    for client in clients.values():
        client.meta.events.register("before-send", send)
    return clients
