"""Page tokens: the next page of a list, without an item of the earlier pages.

A token is ``base64url(payload) "." base64url(HMAC-SHA256(secret, payload))``; the payload is compact JSON
holding the subject it was issued to (``user:<id>`` or ``session:<id>``), the lineage (the first page's
recommendation_id), the page it asks for and its expiry (Unix seconds, PAGE_TOKEN_TTL_SECONDS after it was
issued: 30 minutes). It is opaque to clients and cannot be forged or moved to another user or session: a bad
signature, a broken token, an expired one or one issued to someone else is an InvalidRequestError naming
``page_token`` (a 422).

The secret is DUMMI_PAGE_TOKEN_SECRET when set (at least 32 characters), otherwise 32 random bytes made once
and kept in Postgres (``service_secrets``), so that every process, and every Lambda instance, agrees.
No numpy here: the tokens are checked on the request path before anything is ranked.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import threading
import time
import uuid
from dataclasses import dataclass

from dummi.errors import InvalidRequestError
from dummi.services.unit_of_work import Source, UnitOfWork, work_of

PAGE_TOKEN_TTL_SECONDS = 30 * 60
SECRET_NAME = "page_tokens"
FIELD = "page_token"
MAX_PAGE = 10_000

_lock = threading.Lock()
_secrets: dict[str, bytes] = {}  # database url -> the stored secret, read once per process


@dataclass(frozen=True)
class PageToken:
    subject: str  # user:<id> | session:<id>
    lineage: str  # the first page's recommendation_id
    page: int  # the page this token asks for (2, 3, ...)
    expires: int  # Unix seconds


def subject_of(user_id: str | None, session_id: str | None) -> str:
    return f"user:{user_id}" if user_id is not None else f"session:{session_id}"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signature(secret: bytes, payload: bytes) -> bytes:
    return hmac.new(secret, payload, hashlib.sha256).digest()


def issue(secret: bytes, token: PageToken) -> str:
    payload = json.dumps(
        {"s": token.subject, "l": token.lineage, "p": token.page, "e": token.expires}, separators=(",", ":")
    ).encode()
    return f"{_b64(payload)}.{_b64(_signature(secret, payload))}"


def next_token(secret: bytes, subject: str, lineage: str, page: int, now: float | None = None) -> str:
    """The token of page ``page`` of a lineage, valid for PAGE_TOKEN_TTL_SECONDS from ``now``."""
    expires = int((time.time() if now is None else now) + PAGE_TOKEN_TTL_SECONDS)
    return issue(secret, PageToken(subject, lineage, page, expires))


def read(secret: bytes, text: str, subjects: set[str], now: float | None = None) -> PageToken:
    """The token's contents once its signature, expiry and subject are checked (``subjects``: whom the
    request is for); an InvalidRequestError naming page_token otherwise."""
    try:
        encoded, signature = text.split(".")
        payload = _unb64(encoded)
        if not hmac.compare_digest(_unb64(signature), _signature(secret, payload)):
            raise ValueError("signature")
        fields = json.loads(payload)
        token = PageToken(str(fields["s"]), str(uuid.UUID(fields["l"])), int(fields["p"]), int(fields["e"]))
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError):
        raise InvalidRequestError("page_token is not a token this service issued", field=FIELD) from None
    if not 2 <= token.page <= MAX_PAGE:
        raise InvalidRequestError("page_token is not a token this service issued", field=FIELD)
    if token.expires < (time.time() if now is None else now):
        raise InvalidRequestError(
            f"page_token expired (tokens are valid for {PAGE_TOKEN_TTL_SECONDS // 60} minutes): ask for the first"
            " page again",
            field=FIELD,
        )
    if token.subject not in subjects:
        raise InvalidRequestError("page_token was issued to another user or session", field=FIELD)
    return token


def secret(db: Source | UnitOfWork) -> bytes:
    """The signing key: DUMMI_PAGE_TOKEN_SECRET, else the one kept in Postgres (made by the first process
    that needs it), read once per process."""
    from dummi.config import get_settings

    configured = get_settings().dummi_page_token_secret
    if configured:
        return configured.encode()
    work = work_of(db)
    url = getattr(work.db, "url", None)
    key = url() if callable(url) else str(id(work.db))
    found = _secrets.get(key)
    if found is None:
        with _lock:
            found = _secrets.get(key)
            if found is None:
                with work.transaction() as repos:
                    found = repos.service_secrets.get_or_create(SECRET_NAME, os.urandom(32))
                _secrets[key] = found
    return found
