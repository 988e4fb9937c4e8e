"""GET /console and GET /console/{path}: the operator console, a static page application shipped inside the
package (``dummi/console``), served with strict security headers. It holds no figures of its own: every
number it shows comes from the JSON routes beside it, with the operator's key."""

from __future__ import annotations

import hashlib
import mimetypes
from functools import lru_cache
from importlib import resources
from pathlib import PurePosixPath
from typing import Annotated

from fastapi import APIRouter, Header, Path, Request, Response

from dummi.errors import NotFoundError

router = APIRouter(tags=["console"], include_in_schema=False)

# No inline script or style, nothing from elsewhere, no framing, no referrer; forms go nowhere (the key form is
# handled by script, so that a key can never end up in a URL).
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    "Cache-Control": "no-cache",
}
TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".md": "text/plain; charset=utf-8",
}
BASE_MARK = "__DUMMI_BASE__"


@lru_cache(maxsize=64)
def _asset(name: str) -> tuple[bytes, str] | None:
    """A file of the console folder and its ETag; None for anything else (no path leaves the folder)."""
    parts = PurePosixPath(name).parts
    if not parts or any(p in ("", ".", "..") or p.startswith(".") for p in parts):
        return None
    found = resources.files("dummi.console").joinpath(*parts)
    if not found.is_file():
        return None
    body = found.read_bytes()
    return body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def _send(body: bytes, etag: str, media_type: str, if_none_match: str | None) -> Response:
    headers = {**SECURITY_HEADERS, "ETag": etag}
    if if_none_match == etag:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=media_type, headers=headers)


@router.get("/console")
def console_page(request: Request, if_none_match: Annotated[str | None, Header()] = None) -> Response:
    return _serve("index.html", request, if_none_match)


@router.get("/console/{name:path}")
def console_file(
    request: Request,
    name: Annotated[str, Path(max_length=200)],
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    return _serve(name or "index.html", request, if_none_match)


def _serve(name: str, request: Request, if_none_match: str | None) -> Response:
    """The page (at /console, /console/ or /console/index.html) and its files. The page's links are made
    absolute from the root path the app is served under (an API Gateway stage, a proxy's prefix)."""
    found = _asset(name)
    if found is None:
        raise NotFoundError("console file", name, field="path")
    body, etag = found
    if name == "index.html":
        base = request.scope.get("root_path", "").rstrip("/")
        body = body.replace(BASE_MARK.encode(), base.encode())
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    media_type = TYPES.get(PurePosixPath(name).suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"
    headers = {**SECURITY_HEADERS, "ETag": etag}
    if if_none_match == etag:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=media_type, headers=headers)
