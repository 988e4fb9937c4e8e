"""All SQL about promotions' figures: promoted items shown and clicked per promotion, day and surface."""

from __future__ import annotations

from datetime import date, datetime

from dummi.db.connection import Connection


class PromotionsRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def replace_days(self, days: list[date], start: datetime, end: datetime, click_types: list[str]) -> int:
        """The rows of ``days`` become the promoted impressions of answers created in [start, end) and their
        attributed clicks (once per answer and item), in the caller's transaction; how many rows."""
        self.conn.run("DELETE FROM promotion_daily_metrics WHERE day = ANY(CAST(:days AS date[]))", days=days)
        rows = self.conn.run(
            "INSERT INTO promotion_daily_metrics (promotion, day, surface, impressions, clicks)"
            " SELECT s.promotion, s.day, s.surface, count(*), count(*) FILTER (WHERE EXISTS ("
            "          SELECT 1 FROM interactions e WHERE e.recommendation_id = s.recommendation_id"
            "            AND e.content_id = s.item AND e.event_type = ANY(CAST(:clicks AS text[]))))"
            " FROM (SELECT i.recommendation_id, i.promotion, i.surface, i.item_ids[p.position] AS item,"
            "              CAST(i.created_at AT TIME ZONE 'UTC' AS date) AS day"
            "       FROM impressions i, unnest(i.promoted) AS p(position)"
            "       WHERE i.promoted IS NOT NULL AND i.created_at >= :start AND i.created_at < :end) s"
            " GROUP BY s.promotion, s.day, s.surface RETURNING 1",
            start=start,
            end=end,
            clicks=click_types,
        )
        return len(rows)

    def by_name(self, start: date, end: date, limit: int) -> list[tuple[str, int, int]]:
        """(promotion, impressions, clicks) summed over start <= day <= end, most shown first."""
        rows = self.conn.run(
            "SELECT promotion, sum(impressions), sum(clicks) FROM promotion_daily_metrics"
            " WHERE day >= :start AND day <= :end GROUP BY promotion"
            " ORDER BY sum(impressions) DESC, promotion LIMIT :limit",
            start=start,
            end=end,
            limit=limit,
        )
        return [(r[0], int(r[1]), int(r[2])) for r in rows]
