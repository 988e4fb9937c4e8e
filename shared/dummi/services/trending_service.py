"""Trending (``dummi.ml.trending``) as serving answers it: the ranked list of one window is made again at most
every ``REFRESH_SECONDS`` per process (the answer is fresh within a minute), and each request only picks the
items it may show from it. Closed hours come from the hourly rollup (``item_hourly_engagement``), which the
metrics job keeps and a refresh brings up to date first when the job is late: their counts (the window's
closed hours and the baseline) are read once per hour and window, and every refresh adds this hour's events."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from dummi.db.connection import Database
from dummi.db.trending_repository import TrendingRepository
from dummi.ml import trending as formula
from dummi.ml.trending import BASELINE_HOURS, DEFAULT_WINDOW_HOURS, MIN_RECENT, Trend, trends
from dummi.services.event_types_service import event_types
from dummi.services.recommendation_service import RecommendationEngine, Served

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


@dataclass(frozen=True)
class Rolled:
    """A window's counts from the rollup: its closed hours [start, until) and the baseline before start."""

    start: datetime
    until: datetime
    recent: dict[str, int]  # items with events in the closed hours
    baseline: dict[str, int]


class TrendingCache:
    """The ranked trends of each window, per process. A stale window is made again by one request while the
    others answer from the previous list (never older than two refresh periods)."""

    def __init__(self, refresh: float = REFRESH_SECONDS) -> None:
        self._refresh = refresh
        self._ranked: dict[int, Ranked] = {}
        self._rolled: dict[int, Rolled] = {}
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
            ranked, self._rolled[window_hours] = read_trends(db, window_hours, self._rolled.get(window_hours))
            self._ranked[window_hours] = ranked
            return ranked
        finally:
            lock.release()

    def clear(self) -> None:
        self._ranked.clear()
        self._rolled.clear()


def read_trends(db: Database, window_hours: int, rolled: Rolled | None = None) -> tuple[Ranked, Rolled]:
    """The ranked trends of a window now, and the rollup's counts they used (``rolled`` again while the hour
    and the watermark have not moved). ``db`` may route reads to a replica: the rollup's writes go to the
    primary (``dummi.db.replica``)."""
    positive = sorted(event_types(db).positives())
    with db.transaction() as conn:  # a no-op when the rollup holds the last closed hour and no hour is late
        TrendingRepository(conn).roll_up(positive)
    now, this_hour, watermark = db.read(lambda conn: TrendingRepository(conn).clock())
    start = this_hour - timedelta(hours=window_hours - 1)
    until = min(max(watermark or start, start), this_hour)  # closed hours the rollup holds, in the window
    if rolled is None or (rolled.start, rolled.until) != (start, until):
        rows = db.read(lambda conn: TrendingRepository(conn).rolled_counts(start, until, BASELINE_HOURS))
        rolled = Rolled(start, until, {c: r for c, r, _ in rows if r}, {c: b for c, _, b in rows if b})
    fresh = db.read(lambda conn: TrendingRepository(conn).counts_since(until, positive))
    counts = (
        (cid, rolled.recent.get(cid, 0) + fresh.get(cid, 0), rolled.baseline.get(cid, 0))
        for cid in rolled.recent.keys() | fresh.keys()
    )
    length = window_hours - 1 + (now - this_hour).total_seconds() / 3600.0
    return Ranked(trends(counts, length, min_recent=MIN_RECENT), length, time.monotonic()), rolled


def trending(
    db: Database,
    engine: RecommendationEngine,
    n: int,
    *,
    window_hours: int = DEFAULT_WINDOW_HOURS,
    category: str | None = None,
    filters: tuple = (),
) -> Served:
    """The first ``n`` trending items a request may be shown now (the catalog as serving holds it: take-downs,
    availability, ``category`` and ``filters`` as in every list)."""
    ranked = get_trending_cache().get(db, window_hours)
    recommender, version = engine.recommender(db)
    recs = formula.trending(
        ranked.trends,
        recommender.position,
        recommender.catalog,
        n,
        now=time.time(),
        category=category,
        filters=filters,
        window=f"{window_hours}h",
    )
    return Served(recs, version)


_cache = TrendingCache()


def get_trending_cache() -> TrendingCache:
    return _cache
