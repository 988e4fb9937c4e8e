"""Errors in the shapes botocore parses, so that ``client.exceptions.X`` catches them.

botocore reads an error's code from the ``x-amzn-ErrorType`` header or the body's ``__type`` / ``code`` on a
rest-json service (personalize-runtime, personalize-events; the status is the shape's ``httpStatusCode``), and
from the body's ``__type`` on a json one (the personalize control plane answers 400). Every answer here sends
the header and ``{"__type": code, "message": ...}`` both.

The codes: a bad request (a body that is not JSON or fails its shape, a malformed filter expression naming its
position, an unknown event type) is ``InvalidInputException``; an unknown filter ARN or item is
``ResourceNotFoundException``; a filter name taken is ``ResourceAlreadyExistsException``; a refused signature
answers the code AWS answers (``dummi.api.sigv4``); a key without the route's scope ``AccessDeniedException``;
load shedding ``LimitExceededException`` with 429 (runtime and events model no such shape: botocore raises a
plain ``ClientError`` with that code and its retry handler treats 429 as throttling and retries).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException

from dummi.api.sigv4 import SignatureError
from dummi.domain.inputs import located
from dummi.errors import (
    ConflictError,
    DummiError,
    ForbiddenError,
    InvalidNextTokenError,
    InvalidRequestError,
    NotFoundError,
    UnauthenticatedError,
    UnavailableError,
)

logger = logging.getLogger(__name__)

INVALID_INPUT = "InvalidInputException"
NOT_FOUND = "ResourceNotFoundException"
ALREADY_EXISTS = "ResourceAlreadyExistsException"
LIMIT_EXCEEDED = "LimitExceededException"
ACCESS_DENIED = "AccessDeniedException"
UNRECOGNIZED_CLIENT = "UnrecognizedClientException"
INVALID_NEXT_TOKEN = "InvalidNextTokenException"
SERVICE_UNAVAILABLE = "ServiceUnavailableException"
INTERNAL = "InternalFailure"
THROTTLED_STATUS = 429
RETRY_AFTER_SECONDS = 1


class PersonalizeInputError(InvalidRequestError):
    """A body that does not fit the operation's shape."""


def aws_error(code: str, message: str, status: int, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(
        {"__type": code, "message": message},
        status_code=status,
        headers={"x-amzn-ErrorType": code, **(headers or {})},
        media_type="application/x-amz-json-1.1",
    )


def throttled() -> JSONResponse:
    return aws_error(
        LIMIT_EXCEEDED,
        "the server is at capacity; retry shortly",
        THROTTLED_STATUS,
        {"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for error in exc.errors()[:3]:
        where = ".".join(str(p) for p in located(error) if p not in ("body", "query"))
        parts.append(f"{where}: {error.get('msg')}" if where else str(error.get("msg")))
    return "; ".join(parts) or "invalid request"


def error_response(exc: Exception, *, json_protocol: bool, conflict: str, missing: str) -> JSONResponse:
    """``json_protocol``: the control plane (client errors answer 400); ``conflict`` / ``missing``: the codes a
    ConflictError and a NotFoundError take on this service."""
    client = 400
    if isinstance(exc, SignatureError):
        return aws_error(exc.aws_code, exc.message, exc.kind.status)
    if isinstance(exc, UnauthenticatedError):
        return aws_error(UNRECOGNIZED_CLIENT, exc.message, 403)
    if isinstance(exc, ForbiddenError):
        return aws_error(ACCESS_DENIED, exc.message, 403)
    if isinstance(exc, InvalidNextTokenError):
        return aws_error(INVALID_NEXT_TOKEN, exc.message, client)
    if isinstance(exc, NotFoundError):
        status = client if json_protocol or missing != NOT_FOUND else 404
        return aws_error(missing, exc.message, status)
    if isinstance(exc, ConflictError):
        return aws_error(
            conflict, exc.message, client if json_protocol or conflict != "ResourceInUseException" else 409
        )
    if isinstance(exc, UnavailableError):
        logger.warning("%s: %s", exc.code, exc.message)
        return aws_error(SERVICE_UNAVAILABLE, "the service is unavailable; retry shortly", 503, {"Retry-After": "5"})
    if isinstance(exc, DummiError):
        return aws_error(INVALID_INPUT, exc.message, client)
    if isinstance(exc, RequestValidationError):
        return aws_error(INVALID_INPUT, _validation_message(exc), client)
    if isinstance(exc, StarletteHTTPException):
        detail = exc.detail if isinstance(exc.detail, str) else "invalid request"
        return aws_error(INVALID_INPUT, detail, exc.status_code if exc.status_code == 413 else client)
    logger.exception("unhandled error on a Personalize route")
    return aws_error(INTERNAL, "internal server error", 500)


def route_class(
    *, json_protocol: bool = False, conflict: str = INVALID_INPUT, missing: str = NOT_FOUND
) -> type[APIRoute]:
    """An ``APIRoute`` whose every error (validation, auth, domain, unexpected) answers in AWS's shape."""

    class PersonalizeRoute(APIRoute):
        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handler = super().get_route_handler()

            async def answer(request: Request) -> Response:
                try:
                    return await handler(request)
                except Exception as exc:  # noqa: BLE001 - every error answers in the shape botocore parses
                    return error_response(exc, json_protocol=json_protocol, conflict=conflict, missing=missing)

            return answer

    return PersonalizeRoute
