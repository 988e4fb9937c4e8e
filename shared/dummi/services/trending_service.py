"""Trending (``dummi.ml.trending``) as serving answers it: the per-item counts of one window are read at most
every ``REFRESH_SECONDS`` per process (the answer is fresh within a minute), then each request only picks the
items it may show from that ranked list. Closed hours come from the hourly rollup (``item_hourly_engagement``),
which the metrics job keeps and a refresh brings up to date first when the job is late."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from dummi.db.connection import Database
from dummi.db.trending_repository import TrendingRepository
from dummi.ml.trending import BASELINE_HOURS, MIN_RECENT, Trend, trends
from dummi.services.event_types_service import event_types

REFRESH_SECONDS = 30.0


def roll_up(db: Database) -> int | None:
    """Bring the hourly rollup up to this hour (the metrics job; a trending refresh when the job is late);
    the rows written, or None when another process is at it."""
    positive = sorted(event_types(db).positives())
    with db.transaction() as conn:
        return TrendingRepository(conn).roll_up(positive)


@dataclass(frozen=True)
class Ranked:
    trends: list[Trend]
    window_hours: float
    at: float  # time.monotonic() when read


class TrendingCache:
    """The ranked trends of each window, per process. A stale window is read again by one request while the
    others answer from the previous reading (never older than two refresh periods)."""

    def __init__(self, refresh: float = REFRESH_SECONDS) -> None:
        self._refresh = refresh
        self._ranked: dict[int, Ranked] = {}
        self._locks: dict[int, threading.Lock] = {}
        self._guard = threading.Lock()

    def get(self, db: Database, window_hours: int) -> Ranked:
        found = self._ranked.get(window_hours)
        if found is not None and time.monotonic() - found.at < self._refresh:
            return found
        with self._guard:
            lock = self._locks.setdefault(window_hours, threading.Lock())
        if found is not None and time.monotonic() - found.at < 2 * self._refresh:
            if not lock.acquire(blocking=False):
                return found  # another request is reading it: answer from the last reading meanwhile
        else:
            lock.acquire()
        try:
            again = self._ranked.get(window_hours)
            if again is not None and again is not found and time.monotonic() - again.at < self._refresh:
                return again
            ranked = read_trends(db, window_hours)
            self._ranked[window_hours] = ranked
            return ranked
        finally:
            lock.release()

    def clear(self) -> None:
        self._ranked.clear()


def read_trends(db: Database, window_hours: int) -> Ranked:
    """The ranked trends of a window now. ``db`` may route reads to a replica: the rollup's writes go to the
    primary (``dummi.db.replica``)."""
    positive = sorted(event_types(db).positives())
    with db.transaction() as conn:  # a no-op when the rollup holds the last closed hour already
        TrendingRepository(conn).roll_up(positive)
    counts = db.read(
        lambda conn: TrendingRepository(conn).window_counts(window_hours, BASELINE_HOURS, positive, MIN_RECENT)
    )
    return Ranked(trends(counts.rows, counts.window_hours), counts.window_hours, time.monotonic())


_cache = TrendingCache()


def get_trending_cache() -> TrendingCache:
    return _cache
