"""Text that parses but can be neither stored nor answered is refused before a route's own code runs.

- **The URL**: a NUL or a byte that is not UTF-8 in the path or a query value, once its percent escapes are
  decoded (``/users/a%00b``, ``?category=%FF``), is the 400 ``malformed_request`` that `dummi run`'s HTTP
  server answers for the same bytes sent raw (``dummi.local_http``). In AWS the path is read from the API
  Gateway event's ``rawPath`` (Mangum gives no raw path), still encoded as the client sent it.
- **A JSON body** of a route that takes one (every route but Personalize's, which answer in their own error
  shapes): ``NaN``, ``Infinity`` and a number too large for a float (``1e999``; Python's json reads all of
  them, JSON has no such numbers, and no answer could hold one), a NUL (``\\u0000``: Postgres text cannot hold
  it) and a lone surrogate (``\\ud800``: not UTF-8) in any string or key are a 422 in FastAPI's shape, ``loc``
  naming where (an app-wide dependency, as unknown query parameters are refused: after routing, so a path no
  route serves is still a 404, and a route that takes no body ignores one). A body without such an escape,
  word or exponent passes after one byte search.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote_to_bytes

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from dummi.api.errors import MALFORMED_REQUEST
from dummi.api.limits import PERSONALIZE_PREFIX

# what may make a body's text unstorable: a NUL or surrogate escape, the words, a large exponent or a long run
# of digits (a float's range ends near 1.8e308)
_SUSPECT = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])|NaN|Infinity|[eE][+]?[0-9]{3}|[0-9]{300}")


class _NonFinite:
    def __init__(self, word: str) -> None:
        self.word = word


def _number(text: str) -> float | _NonFinite:
    value = float(text)
    return value if math.isfinite(value) else _NonFinite(text)


def strict_json(text: str | bytes) -> Any:
    """``json.loads`` that takes JSON only: NaN, Infinity and -Infinity (Python's json reads them) and a number
    too large for a float (``1e999``, read as infinity) raise the ValueError that text which is not JSON does."""
    return json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)


def _refuse_constant(word: str) -> Any:
    raise ValueError(f"{word} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text[:40]} is too large a number")
    return value


def raw_path(scope: Scope) -> str | None:
    """The path as the client sent it (still percent-encoded): ASGI's ``raw_path`` (uvicorn), else the API
    Gateway event's ``rawPath`` (Mangum gives no raw_path); None when neither says."""
    raw = scope.get("raw_path")
    if raw:
        return raw.decode("latin-1").split("?", 1)[0]
    event = scope.get("aws.event")
    if isinstance(event, dict) and isinstance(event.get("rawPath"), str):
        return event["rawPath"]
    return None


def url_is_clean(scope: Scope) -> bool:
    """No NUL and nothing but UTF-8 in the path and the query's names and values, escapes decoded."""
    raw = raw_path(scope)
    # uvicorn's raw path as its bytes; API Gateway's rawPath (text) as UTF-8, a lone surrogate left to fail
    parts = [raw.encode("latin-1") if scope.get("raw_path") else raw.encode("utf-8", "surrogatepass")] if raw else []
    for pair in (scope.get("query_string") or b"").split(b"&"):
        parts.extend(pair.replace(b"+", b" ").split(b"=", 1))
    try:
        texts = [unquote_to_bytes(part).decode("utf-8") for part in parts]
    except UnicodeDecodeError:
        return False
    if not raw:  # only the decoded path: its NULs and lone surrogates
        texts.append(scope.get("path", ""))
    return all(_clean(text) for text in texts)


def _clean(text: str) -> bool:
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate
        return False
    return True


def body_errors(body: bytes) -> list[dict[str, Any]]:
    """FastAPI-shaped errors for a JSON body's non-finite numbers and unstorable strings (none: pass it on;
    a body that is not JSON is left to the route, which says so)."""
    if _SUSPECT.search(body) is None:
        return []
    try:
        document = json.loads(body, parse_constant=_NonFinite, parse_float=_number, parse_int=_number)
    except (ValueError, RecursionError):
        return []
    return list(_errors(document, ("body",)))


def text_errors(document: Any) -> list[dict[str, Any]]:
    """The same errors for a document already read (``loc`` from its root): Personalize's routes read their
    bodies and the ``properties`` JSON text inside them themselves."""
    return list(_errors(document, ()))


def _errors(value: Any, loc: tuple[str | int, ...]) -> Iterator[dict[str, Any]]:
    if isinstance(value, _NonFinite):
        yield {"type": "finite_number", "loc": list(loc), "msg": "Input should be a finite number", "input": value.word}
    elif isinstance(value, str):
        if not _clean(value):
            yield {
                "type": "string_unstorable",
                "loc": list(loc),
                "msg": "Input should be text without a NUL (\\u0000) or a lone surrogate (\\ud800-\\udfff)",
            }
    elif isinstance(value, dict):
        for key, item in value.items():
            if not _clean(key):
                yield {"type": "string_unstorable", "loc": list(loc), "msg": "A key holds a NUL or a lone surrogate"}
            else:
                yield from _errors(item, (*loc, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _errors(item, (*loc, index))


class TextGuard:
    """The URL check, as ASGI middleware: before routing, as uvicorn's own refusal of the same bytes sent raw."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not url_is_clean(scope):
            await JSONResponse(MALFORMED_REQUEST, status_code=400)(scope, receive, send)
            return
        await self.app(scope, receive, send)


async def refuse_unstorable_body(request: Request) -> None:
    """An app-wide dependency, run once the route is known and its body read (FastAPI reads it first, and
    answers a client gone meanwhile itself): the body checks above, for a route that takes a JSON body."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or route.body_field is None or route.path.startswith(PERSONALIZE_PREFIX):
        return
    errors = body_errors(await request.body())
    if errors:
        raise RequestValidationError(errors)
