"""Text that parses but can be neither stored nor answered is refused before any route sees it.

- **The URL**: a NUL or a byte that is not UTF-8 in the path or a query value, once its percent escapes are
  decoded (``/users/a%00b``, ``?category=%FF``), is the 400 ``malformed_request`` that `dummi run`'s HTTP
  server answers for the same bytes sent raw (``dummi.local_http``). In AWS the path arrives decoded already
  (Mangum gives no raw path): a NUL or a lone surrogate in it is refused the same way.
- **A JSON body** (every route but Personalize's, which answer in their own error shapes): ``NaN`` and
  ``Infinity`` (Python's json reads them; JSON has no such numbers, and no answer could hold one), a NUL
  (``\\u0000``: Postgres text cannot hold it) and a lone surrogate (``\\ud800``: not UTF-8) in any string or
  key are a 422 in FastAPI's shape, ``loc`` naming where. Most bodies hold no ``\\u`` escape and neither
  word, and are passed on after one byte search.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote_to_bytes

from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dummi.api.errors import MALFORMED_REQUEST, error_body
from dummi.api.limits import PERSONALIZE_PREFIX

_SUSPECT = (b"\\u", b"NaN", b"Infinity")


class _NonFinite:
    def __init__(self, word: str) -> None:
        self.word = word


def refuse_constant(word: str) -> Any:
    """``parse_constant`` for ``json.loads``: NaN, Infinity and -Infinity are not JSON."""
    raise ValueError(f"{word} is not a JSON number")


def url_is_clean(scope: Scope) -> bool:
    """No NUL and nothing but UTF-8 in the path and the query's names and values, escapes decoded."""
    raw_path = scope.get("raw_path")
    parts = [raw_path] if raw_path else []
    for pair in (scope.get("query_string") or b"").split(b"&"):
        parts.extend(pair.replace(b"+", b" ").split(b"=", 1))
    try:
        texts = [unquote_to_bytes(part).decode("utf-8") for part in parts]
    except UnicodeDecodeError:
        return False
    if not raw_path:
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
    if not any(s in body for s in _SUSPECT):
        return []
    try:
        document = json.loads(body, parse_constant=_NonFinite)
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
    """The checks above, as ASGI middleware inside the body-size limit (the body it reads is bounded)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if not url_is_clean(scope):
            await JSONResponse(MALFORMED_REQUEST, status_code=400)(scope, receive, send)
            return
        if scope.get("method") in ("GET", "HEAD") or scope.get("path", "").startswith(PERSONALIZE_PREFIX):
            await self.app(scope, receive, send)
            return
        chunks = []
        try:
            while True:
                message = await receive()
                if message["type"] != "http.request":  # the client went away: let the app see it
                    break
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    break
        except HTTPException as exc:  # the size limit, raised from its receive
            body = error_body(str(exc.detail), "payload_too_large")
            await JSONResponse(body, status_code=exc.status_code, headers={"Connection": "close"})(scope, receive, send)
            return
        body = b"".join(chunks)
        errors = body_errors(body)
        if errors:
            await JSONResponse({"detail": errors}, status_code=422)(scope, receive, send)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
