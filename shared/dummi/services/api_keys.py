"""API keys with scopes: create (shown once), list, revoke, and check a presented key.

A key looks like ``dk_<key id>_<secret>``: the key id (16 hex digits) is public and names the row; the
secret is 256 random bits. Only SHA-256 of the whole key is stored: the key has full entropy, so a slow
password hash would add latency and no safety. Checked keys are trusted in-process for
``DUMMI_AUTH_CACHE_SECONDS``, so a warm function pays no database round trip for auth; a revoke is seen
at once by the process that made it and within that time by every other.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

from dummi.config import get_settings
from dummi.db.api_keys_repository import ApiKeysRepository
from dummi.db.connection import Database
from dummi.db.records import ApiKeyRecord
from dummi.errors import ForbiddenError, InvalidRequestError, UnauthenticatedError

KEY_PREFIX = "dk_"
_KEY_FORMAT = re.compile(r"^dk_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$")
MAX_NAME_LENGTH = 100


class Scope(StrEnum):
    READ = "read"  # GET routes and POST /recommendations/
    WRITE = "write"  # users, content, interactions, feedback
    ADMIN = "admin"  # training and key management; includes read and write


@dataclass(frozen=True, slots=True)
class Principal:
    key_id: str
    scopes: frozenset[str]

    def allows(self, scope: Scope) -> bool:
        return scope.value in self.scopes or Scope.ADMIN.value in self.scopes


@dataclass(frozen=True, slots=True)
class NewKey:
    key: str  # the only time the secret exists outside the caller
    record: ApiKeyRecord


def hash_key(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8")).digest()


def parse_scopes(values: list[str]) -> list[str]:
    """``["read,write", "admin"]`` -> ``["admin", "read", "write"]``; InvalidRequestError names a bad one."""
    scopes = {part.strip() for value in values for part in value.split(",") if part.strip()}
    if not scopes:
        raise InvalidRequestError("give at least one scope: read, write or admin", field="scopes")
    unknown = sorted(scopes - {s.value for s in Scope})
    if unknown:
        raise InvalidRequestError(f"unknown scope {unknown[0]!r}: use read, write or admin", field="scopes")
    return sorted(scopes)


def create_key(db: Database, scopes: list[str], name: str = "") -> NewKey:
    scopes = parse_scopes(scopes)
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidRequestError(f"name is longer than {MAX_NAME_LENGTH} characters", field="name")
    if any(ord(c) < 0x20 for c in name):  # Postgres text cannot hold NUL; no control characters either
        raise InvalidRequestError("name has a control character", field="name")
    key_id = secrets.token_hex(8)
    key = f"{KEY_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
    with db.transaction() as conn:
        record = ApiKeysRepository(conn).insert(key_id, name, scopes, hash_key(key))
    return NewKey(key, record)


def list_keys(db: Database, *, include_revoked: bool = False) -> list[ApiKeyRecord]:
    return db.read(lambda conn: ApiKeysRepository(conn).list(include_revoked=include_revoked))


def revoke_key(db: Database, key_id: str) -> ApiKeyRecord:
    with db.transaction() as conn:
        record = ApiKeysRepository(conn).revoke(key_id)
    get_key_cache().forget(key_id)
    return record


class KeyCache:
    """Keys checked recently: hash -> (principal, expiry). Bounded, so a flood of keys cannot grow it."""

    def __init__(self, max_entries: int = 10_000) -> None:
        self._entries: OrderedDict[bytes, tuple[Principal, float]] = OrderedDict()
        self._max = max_entries
        self._lock = threading.Lock()

    def get(self, digest: bytes) -> Principal | None:
        with self._lock:
            found = self._entries.get(digest)
            if found is None:
                return None
            if found[1] < time.monotonic():
                del self._entries[digest]
                return None
            return found[0]

    def put(self, digest: bytes, principal: Principal, ttl: float) -> None:
        if ttl <= 0:
            return
        with self._lock:
            self._entries[digest] = (principal, time.monotonic() + ttl)
            self._entries.move_to_end(digest)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)

    def forget(self, key_id: str) -> None:
        with self._lock:
            for digest in [d for d, (p, _) in self._entries.items() if p.key_id == key_id]:
                del self._entries[digest]


@lru_cache(maxsize=1)
def get_key_cache() -> KeyCache:
    return KeyCache()


def _require(key: str | None) -> str:
    if not key:
        raise UnauthenticatedError("missing API key: send it in the X-API-Key header", field="X-API-Key")
    return key


def _check_scope(principal: Principal, scope: Scope) -> Principal:
    if not principal.allows(scope):
        raise ForbiddenError(f"this API key lacks the {scope.value!r} scope", field="X-API-Key")
    return principal


def authenticate(db: Database, key: str | None) -> Principal:
    """The principal a presented key stands for; UnauthenticatedError if missing, malformed, unknown or revoked."""
    digest = hash_key(_require(key))
    cache = get_key_cache()
    principal = cache.get(digest)
    if principal is not None:
        return principal
    match = _KEY_FORMAT.match(key)
    record = db.read(lambda conn: ApiKeysRepository(conn).get(match.group(1))) if match else None
    if record is None or record.revoked_at is not None or not hmac.compare_digest(record.key_hash, digest):
        raise UnauthenticatedError("unknown or revoked API key", field="X-API-Key")
    principal = Principal(record.key_id, frozenset(record.scopes))
    cache.put(digest, principal, get_settings().dummi_auth_cache_seconds)
    return principal


def cached_principal(key: str | None, scope: Scope) -> Principal | None:
    """The principal of a key checked recently, if the cache holds it, checked against ``scope``
    (raising like ``authorize``); None sends the caller to ``authorize``, which reads Postgres."""
    principal = get_key_cache().get(hash_key(_require(key)))
    return _check_scope(principal, scope) if principal is not None else None


def authorize(db: Database, key: str | None, scope: Scope) -> Principal:
    return _check_scope(authenticate(db, key), scope)
