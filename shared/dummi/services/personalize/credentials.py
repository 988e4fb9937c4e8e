"""SigV4 credentials for Personalize's clients: an access key id and a secret access key, scoped like API keys.

The secret is shown once (``dummi keys create --sigv4``, ``POST /sigv4-keys``) and stored sealed by the secret
box (AES-GCM under ``DUMMI_SECRETS_KEY``, bound to its access key id), because checking a signature needs the
secret itself, not a hash. A secret opened for a check is kept in-process for ``DUMMI_AUTH_CACHE_SECONDS``
(a revoke takes that long to reach every process, as for API keys)."""

from __future__ import annotations

import secrets
import string
import threading
import time
from dataclasses import dataclass
from functools import lru_cache

from dummi.config import get_settings
from dummi.db.connection import Database
from dummi.db.personalize_repository import Sigv4KeyRecord, Sigv4KeysRepository
from dummi.errors import InvalidRequestError, UnavailableError
from dummi.services.api_keys import MAX_NAME_LENGTH, Principal, parse_scopes
from dummi.services.secret_box import SecretBox, SecretBoxError

ACCESS_KEY_PREFIX = "DK"
_ALPHABET = string.ascii_uppercase + string.digits


@dataclass(frozen=True, slots=True)
class NewSigv4Key:
    access_key_id: str
    secret_access_key: str  # the only time the secret exists outside the sealed column
    record: Sigv4KeyRecord


def _box() -> SecretBox:
    try:
        return SecretBox.from_env()
    except SecretBoxError as exc:  # the deployment's configuration, not the request: 503, said plainly
        raise UnavailableError(f"SigV4 credentials need a key to seal secrets with: {exc}") from None


def create_sigv4_key(db: Database, scopes: list[str], name: str = "", box: SecretBox | None = None) -> NewSigv4Key:
    scopes = parse_scopes(scopes)
    if len(name) > MAX_NAME_LENGTH or any(ord(c) < 0x20 for c in name):
        raise InvalidRequestError(f"name: at most {MAX_NAME_LENGTH} characters, no control character", field="name")
    box = box or _box()  # MissingKeyError before anything is stored
    access_key_id = ACCESS_KEY_PREFIX + "".join(secrets.choice(_ALPHABET) for _ in range(18))
    secret = secrets.token_urlsafe(30)  # 40 characters, as AWS's secret access keys
    sealed = box.seal(secret, context=access_key_id)
    with db.transaction() as conn:
        record = Sigv4KeysRepository(conn).insert(access_key_id, name, scopes, sealed)
    return NewSigv4Key(access_key_id, secret, record)


def list_sigv4_keys(db: Database, *, include_revoked: bool = False) -> list[Sigv4KeyRecord]:
    return db.read(lambda conn: Sigv4KeysRepository(conn).list(include_revoked=include_revoked))


def revoke_sigv4_key(db: Database, access_key_id: str) -> Sigv4KeyRecord:
    with db.transaction() as conn:
        record = Sigv4KeysRepository(conn).revoke(access_key_id)
    get_secret_cache().forget(access_key_id)
    return record


@dataclass(frozen=True, slots=True)
class Resealed:
    resealed: int  # sealed again with the current key
    current: int  # sealed with it already
    key_id: str  # the current key: the first of DUMMI_SECRETS_KEY


def reseal_sigv4_keys(db: Database, box: SecretBox | None = None) -> Resealed:
    """Seal every stored secret (revoked ones too) with the current key of ``DUMMI_SECRETS_KEY``, after a new
    key was put first: then the old keys can be dropped. One transaction: a secret that does not open (sealed
    with a key no longer listed, or altered) leaves every secret as it was, and the error names its access key."""
    box = box or _box()
    resealed = current = 0
    with db.transaction() as conn:
        repo = Sigv4KeysRepository(conn)
        for record in repo.list(include_revoked=True):
            try:  # every secret opened, those sealed with the current key too: the result is checked, not assumed
                stale = box.needs_rotation(record.secret_sealed)
                secret = box.open(record.secret_sealed, context=record.access_key_id)
            except SecretBoxError as exc:  # the configuration, not a request: nothing was changed
                raise UnavailableError(
                    f"the secret of {record.access_key_id} cannot be opened ({exc}); nothing was re-sealed"
                ) from None
            if stale:
                repo.reseal(record.access_key_id, box.seal(secret, context=record.access_key_id))
                resealed += 1
            else:
                current += 1
    return Resealed(resealed, current, box.current)


class SecretCache:
    """access key id -> (secret, principal, expiry): a warm process checks a signature without a round trip."""

    def __init__(self) -> None:
        self._entries: dict[str, tuple[str, Principal, float]] = {}
        self._lock = threading.Lock()

    def get(self, access_key_id: str) -> tuple[str, Principal] | None:
        found = self._entries.get(access_key_id)
        if found is None or found[2] < time.monotonic():
            return None
        return found[0], found[1]

    def put(self, access_key_id: str, secret: str, principal: Principal, ttl: float) -> None:
        if ttl <= 0:
            return
        with self._lock:
            if len(self._entries) > 10_000:
                self._entries.clear()
            self._entries[access_key_id] = (secret, principal, time.monotonic() + ttl)

    def forget(self, access_key_id: str) -> None:
        with self._lock:
            self._entries.pop(access_key_id, None)


@lru_cache(maxsize=1)
def get_secret_cache() -> SecretCache:
    return SecretCache()


def lookup(db: Database, access_key_id: str) -> tuple[str, Principal] | None:
    """The secret and principal of a live access key (None: unknown or revoked)."""
    cache = get_secret_cache()
    found = cache.get(access_key_id)
    if found is not None:
        return found
    record = db.read(lambda conn: Sigv4KeysRepository(conn).get(access_key_id))
    if record is None or record.revoked_at is not None:
        return None
    secret = _box().open(record.secret_sealed, context=record.access_key_id)
    principal = Principal(f"sigv4:{record.access_key_id}", frozenset(record.scopes))
    cache.put(access_key_id, secret, principal, get_settings().dummi_auth_cache_seconds)
    return secret, principal
