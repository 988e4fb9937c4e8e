"""All SQL about trending: the hourly engagement rollup and the per-item counts trending ranks by."""

from __future__ import annotations

from datetime import datetime

from dummi.db.connection import Connection

ROLLUP_LOCK_ID = 0x7472656E64  # "trend": one process rolls up at a time; the others skip
KEEP_HOURS = 9 * 24  # a week of baseline before a window of up to 48 hours
_HOUR = "date_trunc('hour', {} AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'"


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

    def clock(self) -> tuple[datetime, datetime, datetime | None]:
        """(now, the start of this hour, the rollup's watermark: every hour before it is rolled up)."""
        now, this_hour, rolled = self.conn.run(
            f"SELECT now(), {_HOUR.format('now()')}, (SELECT rolled_until FROM item_hourly_engagement_state)"
        )[0]
        return now, this_hour, rolled

    def rolled_counts(self, start: datetime, until: datetime, baseline_hours: int) -> list[tuple[str, int, int]]:
        """Per item, from the rollup: (content_id, events in the hours from ``start`` to ``until``, events in the
        ``baseline_hours`` before ``start``). One pass over the rollup's rows of those hours."""
        rows = self.conn.run(
            "SELECT content_id, COALESCE(sum(events) FILTER (WHERE hour >= :start), 0)::bigint,"
            "       COALESCE(sum(events) FILTER (WHERE hour < :start), 0)::bigint"
            " FROM item_hourly_engagement"
            " WHERE hour >= CAST(:start AS timestamptz) - make_interval(hours => :baseline) AND hour < :until"
            " GROUP BY content_id",
            start=start,
            until=until,
            baseline=baseline_hours,
        )
        return [(r[0], int(r[1]), int(r[2])) for r in rows]

    def counts_since(self, since: datetime, positive_types: list[str]) -> dict[str, int]:
        """Per item, its positive events from ``since`` on, read from the interactions (the hour the rollup does
        not hold yet: a range of the created_at index)."""
        rows = self.conn.run(
            "SELECT content_id, count(*) FROM interactions"
            " WHERE created_at >= :since AND event_type = ANY(CAST(:kinds AS text[])) GROUP BY content_id",
            since=since,
            kinds=positive_types,
        )
        return {r[0]: int(r[1]) for r in rows}
