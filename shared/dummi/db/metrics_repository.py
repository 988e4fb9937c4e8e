"""All SQL of the online metrics: what the job reads (a day's answers, the events attributed to them, the
shown items, their popularity) and the rows it stores and the API reads."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from dummi.db.connection import Connection

ROW_COLUMNS = (
    "day",
    "surface",
    "experiment",
    "variant",
    "method",
    "model_version",
    "lists",
    "impressions",
    "users",
    "clicks",
    "likes",
    "user_ctr_sum",
    "items_shown",
    "catalog_size",
    "diversity_sum",
    "diversity_lists",
    "spread_sum",
    "novelty_sum",
    "young_impressions",
    "by_position",
)
_TYPES = (
    "date[]", "text[]", "text[]", "text[]", "text[]", "text[]", "integer[]", "integer[]", "integer[]", "integer[]",
    "integer[]", "double precision[]", "integer[]", "integer[]", "double precision[]", "integer[]",
    "double precision[]", "double precision[]", "integer[]", "text[]",
)  # fmt: skip


class MetricsRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def answers(self, start: datetime, end: datetime, after: str | None, limit: int) -> list[tuple]:
        """(recommendation_id, user_id, surface, experiment, variant, model_version, created_at, item_ids,
        methods) of answers created in [start, end), in id order after ``after`` (keyset pages)."""
        return self.conn.run(
            "SELECT CAST(recommendation_id AS text), user_id, surface, experiment, variant, model_version,"
            " created_at, item_ids, methods FROM impressions"
            " WHERE created_at >= :start AND created_at < :end"
            "   AND (CAST(:after AS uuid) IS NULL OR recommendation_id > CAST(:after AS uuid))"
            " ORDER BY recommendation_id LIMIT :limit",
            start=start,
            end=end,
            after=after,
            limit=limit,
        )

    def attributed_events(self, start: datetime, end: datetime) -> list[tuple[str, str, str]]:
        """(recommendation_id, content_id, event_type) of events attributed to answers created in [start, end)."""
        rows = self.conn.run(
            "SELECT DISTINCT CAST(e.recommendation_id AS text), e.content_id, e.event_type"
            " FROM interactions e JOIN impressions i ON i.recommendation_id = e.recommendation_id"
            " WHERE i.created_at >= :start AND i.created_at < :end",
            start=start,
            end=end,
        )
        return [(r[0], r[1], r[2]) for r in rows]

    def items(self, content_ids: list[str]) -> dict[str, tuple[str, datetime, bytes | None]]:
        """content_id -> (category, created_at, embedding) of the items that still exist."""
        rows = self.conn.run(
            "SELECT content_id, category, created_at, embedding FROM content"
            " WHERE content_id = ANY(CAST(:ids AS text[]))",
            ids=content_ids,
        )
        return {r[0]: (r[1], r[2], r[3]) for r in rows}

    def popularity(self, content_ids: list[str]) -> tuple[dict[str, int], int]:
        """(content_id -> users who interacted with it, all users)."""
        rows = self.conn.run(
            "SELECT content_id, count(DISTINCT user_id) FROM interactions"
            " WHERE content_id = ANY(CAST(:ids AS text[])) GROUP BY content_id",
            ids=content_ids,
        )
        users = int(self.conn.run("SELECT count(*) FROM users")[0][0])
        return {r[0]: int(r[1]) for r in rows}, users

    def catalog_size(self) -> int:
        return int(self.conn.run("SELECT count(*) FROM content")[0][0])

    def replace_days(self, days: list[date], rows: list[dict[str, Any]]) -> None:
        """The stored rows of ``days`` become ``rows`` (in the caller's transaction)."""
        self.conn.run("DELETE FROM online_metrics WHERE day = ANY(CAST(:days AS date[]))", days=days)
        if not rows:
            return
        columns = {c: [r[c] for r in rows] for c in ROW_COLUMNS}
        columns["by_position"] = [json.dumps(p) for p in columns["by_position"]]
        unnest = ", ".join(f"CAST(:{c} AS {t})" for c, t in zip(ROW_COLUMNS, _TYPES, strict=True))
        names = ", ".join(ROW_COLUMNS)
        select = ", ".join(f"t.{c}" if c != "by_position" else "CAST(t.by_position AS jsonb)" for c in ROW_COLUMNS)
        self.conn.run(
            f"INSERT INTO online_metrics ({names}) SELECT {select} FROM unnest({unnest}) AS t({names})", **columns
        )

    def replace_item_days(self, days: list[date], rows: list[tuple[str, date, int, int, int]]) -> None:
        """The per-item rows (content_id, day, impressions, clicks, likes) of ``days`` become ``rows``."""
        self.conn.run("DELETE FROM item_daily_metrics WHERE day = ANY(CAST(:days AS date[]))", days=days)
        if not rows:
            return
        ids, when, shown, clicks, likes = (list(c) for c in zip(*rows, strict=True))
        self.conn.run(
            "INSERT INTO item_daily_metrics (content_id, day, impressions, clicks, likes)"
            " SELECT * FROM unnest(CAST(:ids AS text[]), CAST(:days AS date[]), CAST(:shown AS integer[]),"
            " CAST(:clicks AS integer[]), CAST(:likes AS integer[]))",
            ids=ids,
            days=when,
            shown=shown,
            clicks=clicks,
            likes=likes,
        )

    def item_days(self, content_id: str, start: date, end: date) -> list[tuple[date, int, int, int]]:
        """(day, impressions, clicks, likes) of one item with start <= day <= end, oldest first."""
        rows = self.conn.run(
            "SELECT day, impressions, clicks, likes FROM item_daily_metrics"
            " WHERE content_id = :id AND day >= :start AND day <= :end ORDER BY day",
            id=content_id,
            start=start,
            end=end,
        )
        return [(r[0], int(r[1]), int(r[2]), int(r[3])) for r in rows]

    def rebuild_item_stats(self, click_types: list[str]) -> int:
        """item_stats becomes every shown item's impressions and attributed clicks (once per answer and item)
        over the impressions kept; in the caller's transaction. How many items."""
        self.conn.run("DELETE FROM item_stats")
        rows = self.conn.run(
            "INSERT INTO item_stats (content_id, impressions, clicks)"
            " SELECT s.item, count(*), count(c.content_id)"
            " FROM (SELECT i.recommendation_id, u.item FROM impressions i, unnest(i.item_ids) AS u(item)) s"
            " LEFT JOIN (SELECT DISTINCT recommendation_id, content_id FROM interactions"
            "            WHERE recommendation_id IS NOT NULL AND event_type = ANY(CAST(:clicks AS text[]))) c"
            "   ON c.recommendation_id = s.recommendation_id AND c.content_id = s.item"
            " GROUP BY s.item RETURNING 1",
            clicks=click_types,
        )
        return len(rows)

    def latest_day(self) -> date | None:
        return self.conn.run("SELECT max(day) FROM online_metrics")[0][0]

    def first_answer_day(self) -> date | None:
        return self.conn.run("SELECT CAST(min(created_at) AT TIME ZONE 'UTC' AS date) FROM impressions")[0][0]

    def rows(self, start: date, end: date) -> list[dict[str, Any]]:
        """Stored rows with start <= day <= end."""
        rows = self.conn.run(
            f"SELECT {', '.join(ROW_COLUMNS)} FROM online_metrics WHERE day >= :start AND day <= :end"
            " ORDER BY day, surface, experiment, variant, method, model_version",
            start=start,
            end=end,
        )
        out = []
        for r in rows:
            row = dict(zip(ROW_COLUMNS, r, strict=True))
            if isinstance(row["by_position"], str):
                row["by_position"] = json.loads(row["by_position"])
            out.append(row)
        return out
