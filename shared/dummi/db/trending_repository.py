"""All SQL about trending: the hourly engagement rollup and the per-item counts trending ranks by."""

from __future__ import annotations

from datetime import datetime, timedelta

from dummi.db.connection import Connection

ROLLUP_LOCK_ID = 0x7472656E64  # "trend": one process rolls up at a time; the others skip
KEEP_HOURS = 9 * 24  # a week of baseline before a window of up to 48 hours
# An event younger than this needs no mark (``mark_late``): the next rollup counts the hour before its
# watermark again, which holds it (an hour, less a margin for the writer's clock against Postgres's).
UNMARKED_LATENESS = timedelta(minutes=50)
_HOUR = "date_trunc('hour', {} AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'"
# per item and hour, its events (the caller adds the WHERE), replacing what the rollup held for that hour
_COUNTS = f"SELECT content_id, {_HOUR.format('created_at')}, count(*) FROM interactions"
_REPLACE = "ON CONFLICT (content_id, hour) DO UPDATE SET events = EXCLUDED.events"


class TrendingRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def roll_up(self, positive_types: list[str]) -> int | None:
        """Count every closed hour since the watermark (at most ``KEEP_HOURS`` back) into
        item_hourly_engagement, with the hour before the watermark again (an event whose transaction began
        before the last rollup and committed after it), move the watermark to this hour and drop hours past
        keeping; and count again every hour marked late (``mark_late``), even when the watermark is at this
        hour already. The rows written, or None when another process is rolling up now."""
        if not self.conn.run("SELECT pg_try_advisory_xact_lock(:id)", id=ROLLUP_LOCK_ID)[0][0]:
            return None
        this_hour, rolled = self.conn.run(
            f"SELECT {_HOUR.format('now()')}, (SELECT rolled_until FROM item_hourly_engagement_state)"
        )[0]
        # first the marks this rollup takes: each was committed with its event, so the counts below (later
        # statements, later snapshots) see that event; a mark committed after this waits for the next rollup.
        # Locked in hour order, as a writer's marks are written: a rollup and a writer never wait on each other.
        late = [
            r[0]
            for r in self.conn.run(
                "DELETE FROM item_hourly_engagement_stale"
                " WHERE hour IN (SELECT hour FROM item_hourly_engagement_stale ORDER BY hour FOR UPDATE)"
                " RETURNING hour"
            )
        ]
        written = 0
        if rolled is None or rolled < this_hour:
            self.conn.run(
                f"INSERT INTO item_hourly_engagement (content_id, hour, events) {_COUNTS}"
                " WHERE created_at >= GREATEST(CAST(:rolled AS timestamptz) - interval '1 hour',"
                "                              CAST(:until AS timestamptz) - make_interval(hours => :keep))"
                "   AND created_at < :until AND event_type = ANY(CAST(:kinds AS text[]))"
                f" GROUP BY 1, 2 {_REPLACE}",
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
            # the hours from the watermark's last on were just counted (and with no watermark, every hour kept)
            late = [h for h in late if rolled is not None and h < rolled - timedelta(hours=1)]
        if late:
            self.conn.run(
                f"INSERT INTO item_hourly_engagement (content_id, hour, events) {_COUNTS}"
                " JOIN unnest(CAST(:hours AS timestamptz[])) AS h(hour)"
                "   ON created_at >= h.hour AND created_at < h.hour + interval '1 hour'"
                " WHERE event_type = ANY(CAST(:kinds AS text[])) AND h.hour >= now() - make_interval(hours => :keep)"
                f" GROUP BY 1, 2 {_REPLACE}",
                hours=late,
                keep=KEEP_HOURS,
                kinds=positive_types,
            )
            written += self.conn.row_count
        return written

    def mark_late(self, earliest: datetime, latest: datetime) -> None:
        """Mark for counting again every hour from ``earliest``'s to ``latest``'s that the rollup has closed and
        still keeps: events were written there (in the caller's transaction) after the rollup counted it."""
        self.conn.run(
            "INSERT INTO item_hourly_engagement_stale (hour)"
            " SELECT generate_series("  # in hour order (see roll_up)
            f"     GREATEST({_HOUR.format('CAST(:earliest AS timestamptz)')},"
            "              s.rolled_until - make_interval(hours => :keep)),"
            f"     LEAST({_HOUR.format('CAST(:latest AS timestamptz)')}, s.rolled_until - interval '1 hour'),"
            "     interval '1 hour')"
            " FROM item_hourly_engagement_state s"
            # an update, not DO NOTHING: it locks a mark a rollup may be taking, which then waits for this
            # transaction and its events; with DO NOTHING the rollup could take the mark without them
            " ON CONFLICT (hour) DO UPDATE SET hour = EXCLUDED.hour",
            earliest=earliest,
            latest=latest,
            keep=KEEP_HOURS,
        )

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
