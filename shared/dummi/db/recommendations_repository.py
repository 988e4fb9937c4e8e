"""The recommender's reads: a user's whole state in one round trip (with a page token's earlier pages), an
item's vector, exploration counts (catalog changes: ``ContentRepository.changes_since``)."""

from __future__ import annotations

from typing import Any

from dummi.db.connection import Connection

# Recent events used for the profile; the seen set covers the user's whole history.
RECENT_EVENTS = 300

# A state read's extra column on a page token's request: every item listed on the pages of the lineage (its
# first page's recommendation_id) before :page, by the lineage index. Only on such requests: the subquery's
# planning would cost every other request too.
EARLIER_PAGES_COLUMN = (
    ", COALESCE((SELECT array_agg(DISTINCT x.item) FROM impressions i, unnest(i.item_ids) AS x(item)"
    "            WHERE i.lineage = CAST(:lineage AS uuid) AND i.page < :page), '{}')"
)


def earlier_pages_params(earlier: tuple[str, int] | None) -> tuple[str, dict[str, Any]]:
    """The column and parameters a state read adds for ``earlier`` = (lineage, page), or nothing."""
    if earlier is None:
        return "", {}
    return EARLIER_PAGES_COLUMN, {"lineage": earlier[0], "page": earlier[1]}


class RecommendationsRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def user_state(
        self, user_id: str, recent: int = RECENT_EVENTS, earlier: tuple[str, int] | None = None
    ) -> dict[str, Any] | None:
        """One query: the user's interests (and their embedding), its most recent events (newest first) and
        every content id it ever interacted with; with ``earlier`` = (lineage, page), also ``shown``: the
        items of the lineage's pages before that one. None if the user does not exist."""
        column, params = earlier_pages_params(earlier)
        rows = self.conn.run(
            "SELECT u.interests, u.interests_embedding,"
            " COALESCE((SELECT json_agg("
            "             json_build_array(e.content_id, e.kind, e.event_type, e.duration_seconds, e.created_at)"
            "             ORDER BY e.created_at DESC, e.interaction_id DESC)"
            "           FROM (SELECT content_id, kind, event_type, duration_seconds, created_at, interaction_id"
            "                 FROM interactions WHERE user_id = u.user_id"
            "                 ORDER BY created_at DESC, interaction_id DESC LIMIT :recent) e), '[]'),"
            " COALESCE((SELECT array_agg(DISTINCT i.content_id) FROM interactions i WHERE i.user_id = u.user_id),"
            "          '{}')" + column + " FROM users u WHERE u.user_id = :user_id",
            user_id=user_id,
            recent=recent,
            **params,
        )
        if not rows:
            return None
        interests, embedding, events, seen, *shown = rows[0]
        found = {"interests": list(interests or []), "embedding": embedding, "events": events, "seen": list(seen)}
        return found | ({"shown": list(shown[0])} if shown else {})

    def content_vector(self, content_id: str) -> tuple[str, bytes | None] | None:
        rows = self.conn.run(
            "SELECT title, embedding FROM content WHERE content_id = :content_id", content_id=content_id
        )
        return (rows[0][0], rows[0][1]) if rows else None

    def exploration_stats(self, young_days: float) -> tuple[list[tuple[str, int, int]], list[str]]:
        """(content_id, impressions, clicks) of every item shown (item_stats), and the ids of content created
        within ``young_days``."""
        shown = self.conn.run("SELECT content_id, impressions, clicks FROM item_stats")
        young = self.conn.run(
            "SELECT content_id FROM content WHERE created_at > now() - make_interval(days => :days)",
            days=int(young_days),
        )
        return [(r[0], int(r[1]), int(r[2])) for r in shown], [r[0] for r in young]
