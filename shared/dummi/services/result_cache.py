"""An optional cache of ranked answers in Redis or Valkey (``DUMMI_RESULT_CACHE_URL``; off when unset).

What a cached answer is keyed by, so that it is never stale in a way that matters:

* the model version, the experiment variant and every request field that changes the ranking;
* a digest of the user's state as read for this very request from the primary (interests, their vector,
  recent events, everything seen): a new event, a changed interest or a deleted event is a new key. The
  request still reads the user (one round trip, as uncached); a hit saves the ranking, not the read.

A hit is checked against the catalog as serving holds it now (re-read every second): an item hidden,
expired, deleted or no longer in the request's category or filters makes the hit a miss, so a take-down is
in no answer from the cache after the same second it takes to leave an uncached one. Titles and categories
come from the catalog at the time of serving, not from the cache.

The cache is never in the way: every call is bounded by a short socket timeout (``timeout``), and after a
failure the cache is skipped for ``retry_seconds`` (answers are computed as without it).
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from dataclasses import asdict
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from dummi.config import get_settings
from dummi.domain.ranking import RankRequest, Recommendation

if TYPE_CHECKING:  # /health reads the cache's state in functions that serve no ranking
    from dummi.ml.recommender import UserState

logger = logging.getLogger(__name__)

TTL_SECONDS = 300
TIMEOUT_SECONDS = 0.05
RETRY_SECONDS = 5.0
KEY_PREFIX = "dummi:rec:v1:"


def answer_key(version: str | None, variant: str | None, request: RankRequest, state: UserState) -> str:
    """The cache key of one ranking: everything its answer depends on but the catalog (checked on a hit)."""
    fields = asdict(request)
    fields.pop("at", None)
    fields["exclude"] = sorted(fields["exclude"])
    user = [
        state.user_id,
        sorted(state.interests),
        hashlib.sha256(state.interests_vector.tobytes()).hexdigest() if state.interests_vector is not None else None,
        [(e.content_id, e.kind, e.event_type, e.duration_seconds, e.at.isoformat()) for e in state.events],
        sorted(state.seen),
        state.event_types.key,
    ]
    raw = json.dumps([version, variant, fields, user], default=str, separators=(",", ":"))
    return KEY_PREFIX + hashlib.sha256(raw.encode()).hexdigest()


def encode(recommendations: list[Recommendation]) -> bytes:
    return json.dumps(
        [[r.content_id, r.score, r.method, r.reason, r.propensity, r.explore_context] for r in recommendations],
        separators=(",", ":"),
    ).encode()


def decode(data: bytes) -> list[tuple[str, float, str, str, float | None, dict[str, Any] | None]]:
    return [tuple(row) for row in json.loads(data)]


class ResultCache:
    """A Redis/Valkey client that fails fast and steps aside while the server is unwell."""

    def __init__(
        self,
        url: str,
        *,
        ttl: int = TTL_SECONDS,
        timeout: float = TIMEOUT_SECONDS,
        retry_seconds: float = RETRY_SECONDS,
    ) -> None:
        # redis: the cache extra, only when a result cache is configured
        import redis

        self.ttl, self._retry_seconds = ttl, retry_seconds
        self._client = redis.Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout, retry_on_timeout=False
        )
        self._down_until = 0.0
        self._lock = threading.Lock()
        # served from the cache; computed (nothing cached, or the cache skipped); cached but no longer servable
        # (an item taken down or out of the request's filters since); calls that failed
        self.hits = self.misses = self.rejected = self.errors = 0

    def _failed(self, exc: Exception) -> None:
        with self._lock:
            self.errors += 1
            self._down_until = time.monotonic() + self._retry_seconds
        logger.warning("result cache unavailable (%s); skipped for %.0fs", exc, self._retry_seconds)

    def get(self, key: str) -> bytes | None:
        if time.monotonic() < self._down_until:
            return None
        try:
            return self._client.get(key)
        except Exception as exc:  # any client error: answer without the cache
            self._failed(exc)
            return None

    def reachable(self) -> bool:
        """Whether the server answers now (one ping, bounded like every call). A ping that fails trips
        nothing: answers step aside only when one of their own calls fails."""
        try:
            return bool(self._client.ping())
        except Exception:  # noqa: BLE001 - any client error: not reachable
            return False

    def count(self, found: bytes | None, served: bool) -> None:
        if served:
            self.hits += 1
        else:
            self.misses += 1
            self.rejected += found is not None

    def set(self, key: str, value: bytes) -> None:
        if time.monotonic() < self._down_until:
            return
        try:
            self._client.set(key, value, ex=self.ttl)
        except Exception as exc:
            self._failed(exc)


@lru_cache(maxsize=1)
def get_result_cache() -> ResultCache | None:
    settings = get_settings()
    if not settings.dummi_result_cache_url:
        return None
    return ResultCache(settings.dummi_result_cache_url, ttl=settings.dummi_result_cache_ttl_seconds)
