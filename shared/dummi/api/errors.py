"""The one place that maps domain errors to HTTP statuses and JSON bodies."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from dummi.errors import (
    ConflictError,
    DatabaseUnavailableError,
    DummiError,
    ForbiddenError,
    InvalidRequestError,
    NotFoundError,
    UnauthenticatedError,
    UnavailableError,
)

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5
STATUS_BY_ERROR: dict[type[DummiError], int] = {
    UnauthenticatedError: 401,
    ForbiddenError: 403,
    NotFoundError: 404,
    ConflictError: 409,
    InvalidRequestError: 422,
    UnavailableError: 503,
}


def status_for(exc: DummiError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[cls]
    return 400


def error_body(detail: str, code: str, field: str | None = None) -> dict:
    return {"detail": detail, "code": code, "field": field}


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DummiError)
    status = status_for(exc)
    if isinstance(exc, UnavailableError):
        logger.warning("%s: %s", exc.code, exc.message)
        headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
        # A database error may carry connection details; the client gets a plain sentence.
        detail = (
            "the database is unavailable; retry shortly" if isinstance(exc, DatabaseUnavailableError) else exc.message
        )
        return JSONResponse(error_body(detail, exc.code), status_code=status, headers=headers)
    headers = {"WWW-Authenticate": 'ApiKey header="X-API-Key"'} if status == 401 else None
    return JSONResponse(error_body(exc.message, exc.code, exc.field), status_code=status, headers=headers)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    """Starlette's own answers (no such route, method not allowed) in the same shape as ours."""
    assert isinstance(exc, StarletteHTTPException)
    codes = {404: "route_not_found", 405: "method_not_allowed", 413: "payload_too_large"}
    detail = exc.detail if isinstance(exc.detail, str) else "HTTP error"
    return JSONResponse(
        error_body(detail, codes.get(exc.status_code, "http_error")),
        status_code=exc.status_code,
        headers=getattr(exc, "headers", None),
    )


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unhandled error on %s %s", request.method, request.url.path)
    return JSONResponse(error_body("internal server error", "internal"), status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DummiError, _domain_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)


# OpenAPI descriptions of the error answers, for the routes' ``responses=``.
def error_responses(*statuses: int) -> dict[int | str, dict]:
    from dummi.api.schemas import ErrorResponse

    descriptions = {
        401: "no API key, or an unknown or revoked one (when DUMMI_AUTH=on)",
        403: "the API key lacks the scope this route needs",
        404: "not found",
        409: "already exists",
        413: "request body too large",
        503: "database unavailable, retry later",
    }
    return {status: {"model": ErrorResponse, "description": descriptions[status]} for status in statuses}
