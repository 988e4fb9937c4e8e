"""The one place that maps domain errors to HTTP statuses and JSON bodies, and that states them in the spec.

One error shape for every 4xx, JSON, with ``detail``:

- 422 (the request breaks the schema, or a rule across fields the schema cannot state): FastAPI's validation
  array, ``{"detail": [{"loc": [...], "msg": ..., "type": ...}]}``, whether the schema or the service found
  the fault; ``loc`` names the field (``["body", "available_until"]``).
- every other 4xx (and 5xx): ``{"detail": "<a sentence>", "code": "<a word>", "field": <name or null>}``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from dummi.api.schemas import ErrorResponse
from dummi.domain.inputs import located
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


# The answer to a request the server cannot parse, before any route sees it (`dummi run`'s HTTP server, and
# the Lambda handler for an event that cannot be a request): the 400 every operation documents.
MALFORMED_REQUEST = error_body("malformed HTTP request: the server cannot parse it", "malformed_request")


def validation_body(message: str, code: str, field: str | None = None) -> dict:
    """A 422 the service raised, in the shape of the schema's own: ``field`` (``variants[0].overrides``)
    becomes ``loc`` (``["body", "variants", 0, "overrides"]``)."""
    return {"detail": [{"type": code, "loc": ["body", *_location(field)], "msg": message}]}


def _location(field: str | None) -> list[str | int]:
    if not field:
        return []
    parts: list[str | int] = []
    for name in field.split("."):
        base, *indexes = name.replace("]", "").split("[")
        parts.append(base)
        parts.extend(int(i) if i.isdigit() else i for i in indexes)
    return parts


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
    if status == 422:
        return JSONResponse(validation_body(exc.message, exc.code, exc.field), status_code=status)
    headers = {"WWW-Authenticate": 'ApiKey header="X-API-Key"'} if status == 401 else None
    return JSONResponse(error_body(exc.message, exc.code, exc.field), status_code=status, headers=headers)


async def _schema_error(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's 422, with a rule across fields (``dummi.domain.inputs.field_error``) located at its field."""
    assert isinstance(exc, RequestValidationError)
    errors = [{**e, "loc": located(e), **_answerable(e)} for e in exc.errors()]
    located_exc = RequestValidationError(errors, body=exc.body, endpoint_ctx=getattr(exc, "endpoint_ctx", None))
    return await request_validation_exception_handler(request, located_exc)


def _answerable(error: dict) -> dict:
    """The error's ``input`` as text when the answer cannot hold it (a NaN, a lone surrogate from a query
    string): the 422 is written instead of failing as a 500."""
    if "input" not in error:
        return {}
    try:
        # as the response is written: no NaN, and UTF-8 (a lone surrogate cannot be)
        json.dumps(jsonable_encoder(error["input"]), allow_nan=False, ensure_ascii=False).encode()
    except (TypeError, ValueError):
        return {"input": repr(error["input"])}
    return {}


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    """Starlette's own answers (no such route, method not allowed, unparsable body) in the same shape as ours."""
    assert isinstance(exc, StarletteHTTPException)
    codes = {400: "invalid_body", 404: "route_not_found", 405: "method_not_allowed", 413: "payload_too_large"}
    detail = exc.detail if isinstance(exc.detail, str) else "HTTP error"
    headers = dict(getattr(exc, "headers", None) or {})
    if exc.status_code == 405:
        # Starlette names only the first route that matched the path; a path may have several.
        headers["Allow"] = ", ".join(_allowed_methods(request))
    return JSONResponse(
        error_body(detail, codes.get(exc.status_code, "http_error")), status_code=exc.status_code, headers=headers
    )


def _allowed_methods(request: Request) -> list[str]:
    """The methods some route serves at this path (asked of the routes themselves, by probing)."""
    allowed = []
    for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
        probe = {**request.scope, "method": method}
        if any(route.matches(probe)[0] == Match.FULL for route in request.app.routes):
            allowed.append(method)
    return allowed


async def reject_unknown_query(request: Request) -> None:
    """An app-wide dependency: a query parameter the route does not declare is a 422, as an unknown
    body field is (a misspelt ``limt=5`` is reported, not silently ignored), and so is one given twice
    (every query parameter here takes one value)."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or not request.query_params:
        return
    allowed = _declared_query(route)
    errors = []
    for name in dict.fromkeys(request.query_params):
        if name not in allowed:
            errors.append({"type": "extra_forbidden", "loc": ("query", name), "msg": "Extra inputs are not permitted"})
        elif len(request.query_params.getlist(name)) > 1:
            errors.append({"type": "repeated", "loc": ("query", name), "msg": "Give this parameter once"})
    if errors:
        raise RequestValidationError(errors)


# By id(route), holding the route itself: an id could otherwise be reused by a later app's route.
_query_names: dict[int, tuple[APIRoute, frozenset[str]]] = {}


def _query_params(dependant: Dependant) -> Iterator[Any]:
    yield from dependant.query_params
    for sub in dependant.dependencies:
        yield from _query_params(sub)


def _declared_query(route: APIRoute) -> frozenset[str]:
    cached = _query_names.get(id(route))
    if cached is not None and cached[0] is route:
        return cached[1]
    names = frozenset(param.alias for param in _query_params(route.dependant))
    _query_names[id(route)] = (route, names)
    return names


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unhandled error on %s %s", request.method, request.url.path)
    return JSONResponse(error_body("internal server error", "internal"), status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DummiError, _domain_error)
    app.add_exception_handler(RequestValidationError, _schema_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)


# What every operation may answer, whatever its route declares: a request the server cannot parse (before
# any route is chosen) is a 400, and an unknown or repeated query parameter a 422 (reject_unknown_query).
MALFORMED = (
    "a malformed request: not HTTP the server can parse (a NUL or a non-UTF-8 byte in the URL, a URL over"
    " 64 KiB), or a body that is not JSON (or not UTF-8)"
)
INVALID = (
    "the request breaks the schema, or a rule across its fields that the schema cannot state (named in the"
    " operation's description): `detail[].loc` names the field"
)
ERROR_SCHEMA = {"$ref": "#/components/schemas/ErrorResponse"}
VALIDATION_SCHEMA = {"$ref": "#/components/schemas/HTTPValidationError"}


def document_errors(spec: dict[str, Any]) -> dict[str, Any]:
    """State the error shape in ``spec`` (FastAPI's document of the app), for every operation: a 400 and a
    422 each may answer, in the one shape each has (the module's docstring)."""
    from dummi.api.schemas import ErrorResponse

    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault("ErrorResponse", ErrorResponse.model_json_schema())
    schemas["ValidationError"] = {
        "title": "ValidationError",
        "type": "object",
        "required": ["loc", "msg", "type"],
        "properties": {
            "loc": {
                "title": "Location",
                "type": "array",
                "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
            },
            "msg": {"title": "Message", "type": "string"},
            "type": {"title": "Error Type", "type": "string"},
            "input": {"title": "Input"},
            "ctx": {"title": "Context", "type": "object"},
        },
    }
    schemas["HTTPValidationError"] = {
        "title": "HTTPValidationError",
        "description": "The body of every 422: what is wrong, and where (`loc`).",
        "type": "object",
        "required": ["detail"],
        "properties": {
            "detail": {"title": "Detail", "type": "array", "items": {"$ref": "#/components/schemas/ValidationError"}}
        },
    }
    for operations in spec.get("paths", {}).values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if parameter.get("in") in ("path", "query"):
                    _no_nul(parameter.get("schema"))
            responses = operation.setdefault("responses", {})
            responses.setdefault("400", {"description": MALFORMED})
            responses["400"]["content"] = {"application/json": {"schema": ERROR_SCHEMA}}
            responses["422"] = {"description": INVALID, "content": {"application/json": {"schema": VALIDATION_SCHEMA}}}
    return spec


# A NUL in the URL, sent raw or percent-encoded, is the 400 before any route (dummi.api.text_guard): every
# free-text path or query parameter says so in its schema.
NO_NUL = r"^[^\x00]*$"


def _no_nul(schema: Any) -> None:
    if not isinstance(schema, dict):
        return
    for alternative in schema.get("anyOf", []):
        _no_nul(alternative)
    if schema.get("type") == "string" and not {"pattern", "format", "enum", "const"} & set(schema):
        schema["pattern"] = NO_NUL


# OpenAPI descriptions of the error answers, for the routes' ``responses=``.
def error_responses(*statuses: int) -> dict[int | str, dict]:
    descriptions = {
        400: MALFORMED,
        401: "no API key, or an unknown or revoked one (when DUMMI_AUTH=on)",
        403: "the API key lacks the scope this route needs",
        404: "not found",
        409: "already exists",
        413: "request body too large",
        503: "database unavailable, retry later",
    }
    return {status: {"model": ErrorResponse, "description": descriptions[status]} for status in statuses}


def create_responses(model: type, noun: str) -> dict[int | str, dict]:
    """The answers of a create route that treats an identical repeat as a safe retry (200)."""
    retry = {200: {"model": model, "description": f"the {noun} already exists with these fields (a safe retry)"}}
    return retry | error_responses(400, 409, 413, 503)
