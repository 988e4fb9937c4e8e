"""All SQL of the overview (GET /overview): how much there is, what happened on the last days, which model
serves. Every read is bounded: totals of large tables come from the planner's statistics, days from an index."""

from __future__ import annotations

from datetime import date, datetime

from dummi.db.connection import Connection

# Exact counts below this many rows; above, the planner's estimate (a count(*) of 100M events takes minutes).
EXACT_BELOW = 1_000_000


class OverviewRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def totals(self) -> tuple[dict[str, int], bool]:
        """(users, items, recommendable items, events) and whether any of them is an estimate."""
        estimate = (
            "(SELECT CASE WHEN reltuples >= :exact THEN CAST(reltuples AS bigint) ELSE (SELECT count(*) FROM {t})"
            " END FROM pg_class WHERE oid = '{t}'::regclass)"
        )
        rows = self.conn.run(
            f"SELECT {estimate.format(t='users')}, {estimate.format(t='content')},"
            f" {estimate.format(t='interactions')},"
            " (SELECT max(reltuples) >= :exact FROM pg_class"
            "  WHERE oid IN ('users'::regclass, 'content'::regclass, 'interactions'::regclass))",
            exact=EXACT_BELOW,
        )
        users, items, events, approximate = rows[0]
        hidden = self.conn.run(
            "SELECT count(*) FROM content WHERE hidden OR available_from > now() OR available_until <= now()"
        )[0][0]
        totals = {"users": int(users), "items": int(items), "events": int(events)}
        totals["recommendable_items"] = max(0, totals["items"] - int(hidden))
        return totals, bool(approximate)

    def events_by_day(self, start: datetime) -> dict[date, tuple[int, int]]:
        """{day (UTC): (events, distinct users)} for the events created since ``start``."""
        rows = self.conn.run(
            "SELECT CAST(created_at AT TIME ZONE 'UTC' AS date) AS day, count(*), count(DISTINCT user_id)"
            " FROM interactions WHERE created_at >= :start GROUP BY day",
            start=start,
        )
        return {r[0]: (int(r[1]), int(r[2])) for r in rows}

    def latest_model(self) -> tuple[str, datetime, str | None] | None:
        """(version, published at, run id) of the model published last: the one serving answers."""
        rows = self.conn.run(
            "SELECT version, created_at, CAST(run_id AS text) FROM model_versions ORDER BY created_at DESC LIMIT 1"
        )
        return (rows[0][0], rows[0][1], rows[0][2]) if rows else None
