"""A bound on request bodies: anything larger than ``DUMMI_MAX_BODY_BYTES`` is a 413, read no further.

A declared Content-Length is checked before the app runs; a body sent without one (chunked) is counted
as it arrives and cut off at the limit. The 413 has the same JSON shape as every other error.
"""

from __future__ import annotations

from fastapi import HTTPException
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dummi.api.errors import error_body
from dummi.api.personalize.errors import throttled

TOO_LARGE = 413


def _too_large_detail(max_bytes: int) -> str:
    return f"request body is larger than {max_bytes} bytes"


class BodySizeLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            body = error_body(_too_large_detail(self.max_bytes), "payload_too_large")
            await JSONResponse(body, status_code=TOO_LARGE, headers={"Connection": "close"})(scope, receive, send)
            return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # FastAPI lets its own HTTPException through body parsing; the error handler shapes it.
                    raise HTTPException(status_code=TOO_LARGE, detail=_too_large_detail(self.max_bytes))
            return message

        await self.app(scope, limited, send)


OVERLOADED = 503
PERSONALIZE_PREFIX = "/personalize"


class LoadShedding:
    """At most ``max_in_flight`` requests are handled (or wait for a handler thread) in this process; the
    next is answered 503 with ``Retry-After`` at once, so that past capacity a client hears "busy" in a
    millisecond instead of queueing for seconds behind everyone else (and retries, or goes elsewhere).
    /health is never shed (an orchestrator would take a busy server for a dead one)."""

    def __init__(self, app: ASGIApp, max_in_flight: int, retry_after_seconds: int = 1) -> None:
        self.app = app
        self.max_in_flight = max_in_flight
        self.retry_after = str(retry_after_seconds)
        self.in_flight = 0
        self.shed = 0  # how many were turned away (the health route reports it)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") == "/health":
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.max_in_flight:
            self.shed += 1
            if scope.get("path", "").startswith(PERSONALIZE_PREFIX):  # boto3's clients: a throttle they retry
                await throttled()(scope, receive, send)
                return
            body = error_body("the server is at capacity; retry shortly", "overloaded")
            await JSONResponse(body, status_code=OVERLOADED, headers={"Retry-After": self.retry_after})(
                scope, receive, send
            )
            return
        self.in_flight += 1  # one event loop: no lock needed
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1
