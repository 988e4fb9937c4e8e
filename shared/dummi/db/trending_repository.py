"""All SQL about trending: the hourly engagement rollup and the per-item counts trending ranks by."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from dummi.db.connection import Connection

ROLLUP_LOCK_ID = 0x7472656E64  # "trend": one process rolls up at a time; the others skip
KEEP_HOURS = 9 * 24  # a week of baseline before a window of up to 48 hours
_HOUR = "date_trunc('hour', {} AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'"


@dataclass(frozen=True)
class WindowCounts:
    rows: list[tuple[str, int, int]]  # (content_id, events in the window, events in the baseline)
    window_hours: float  # the window's length: whole hours before this one, and this one so far


class TrendingRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def roll_up(self, positive_types: list[str]) -> int | None:
        """Add every closed hour since the watermark (at most ``KEEP_HOURS`` back) to item_hourly_engagement,
        move the watermark to this hour and drop hours past keeping; the rows written, or None when another
        process is rolling up now."""
        if not self.conn.run("SELECT pg_try_advisory_xact_lock(:id)", id=ROLLUP_LOCK_ID)[0][0]:
            return None
        this_hour, rolled = self.conn.run(
            f"SELECT {_HOUR.format('now()')}, (SELECT rolled_until FROM item_hourly_engagement_state)"
        )[0]
        if rolled is not None and rolled >= this_hour:
            return 0
        self.conn.run(
            "INSERT INTO item_hourly_engagement (content_id, hour, events)"
            f" SELECT content_id, {_HOUR.format('created_at')}, count(*) FROM interactions"
            " WHERE created_at >= GREATEST(CAST(:rolled AS timestamptz), CAST(:until AS timestamptz)"
            "   - make_interval(hours => :keep))"
            "   AND created_at < :until AND event_type = ANY(CAST(:kinds AS text[]))"
            " GROUP BY 1, 2"
            " ON CONFLICT (content_id, hour) DO UPDATE SET events = EXCLUDED.events",
            rolled=rolled,
            until=this_hour,
            keep=KEEP_HOURS,
            kinds=positive_types,
        )
        written = self.conn.row_count
        self.conn.run(
            "INSERT INTO item_hourly_engagement_state (id, rolled_until) VALUES (true, :until)"
            " ON CONFLICT (id) DO UPDATE SET rolled_until = EXCLUDED.rolled_until",
            until=this_hour,
        )
        self.conn.run(
            "DELETE FROM item_hourly_engagement"
            " WHERE hour < CAST(:until AS timestamptz) - make_interval(hours => :keep)",
            until=this_hour,
            keep=KEEP_HOURS,
        )
        return written

    def window_counts(
        self, window_hours: int, baseline_hours: int, positive_types: list[str], min_recent: int
    ) -> WindowCounts:
        """Per item with at least ``min_recent`` positive events in the window (this hour so far and the
        ``window_hours - 1`` before it): those events and the item's events in the ``baseline_hours`` before
        the window. Closed hours come from the rollup; what it does not hold yet from the events."""
        now, this_hour, rolled = self.conn.run(
            f"SELECT now(), {_HOUR.format('now()')}, (SELECT rolled_until FROM item_hourly_engagement_state)"
        )[0]
        rows = self.conn.run(
            "WITH recent AS ("
            "   SELECT content_id, sum(n) AS recent FROM ("
            "     SELECT content_id, events AS n FROM item_hourly_engagement"
            "     WHERE hour >= :start AND hour < CAST(:rolled AS timestamptz)"
            "     UNION ALL"
            "     SELECT content_id, count(*) FROM interactions"
            "     WHERE created_at >= GREATEST(CAST(:start AS timestamptz), CAST(:rolled AS timestamptz))"
            "       AND event_type = ANY(CAST(:kinds AS text[]))"
            "     GROUP BY content_id) x"
            "   GROUP BY content_id HAVING sum(n) >= :min_recent)"
            " SELECT r.content_id, r.recent::bigint, COALESCE((SELECT sum(h.events) FROM item_hourly_engagement h"
            "   WHERE h.content_id = r.content_id AND h.hour >= CAST(:start AS timestamptz)"
            "     - make_interval(hours => :baseline) AND h.hour < :start), 0)::bigint"
            " FROM recent r",
            start=this_hour - timedelta(hours=window_hours - 1),
            rolled=rolled if rolled is not None else this_hour - timedelta(hours=window_hours - 1),
            kinds=positive_types,
            min_recent=min_recent,
            baseline=baseline_hours,
        )
        length = window_hours - 1 + (now - this_hour).total_seconds() / 3600.0
        return WindowCounts([(r[0], int(r[1]), int(r[2])) for r in rows], length)
