"""All SQL about anonymous sessions: a session's events as serving reads them (with a page token's earlier
pages), its merge into a user, and the expiry of idle sessions."""

from __future__ import annotations

from typing import Any

from dummi.db.connection import Connection
from dummi.db.recommendations_repository import RECENT_EVENTS, earlier_pages_params


class SessionsRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def session_state(
        self, session_id: str, recent: int = RECENT_EVENTS, earlier: tuple[str, int] | None = None
    ) -> dict[str, Any]:
        """One query: the session's most recent anonymous events (newest first) and every content id it
        interacted with (empty for a session with no events); with ``earlier`` = (lineage, page), also
        ``shown``: the items of the lineage's pages before that one."""
        column, params = earlier_pages_params(earlier)
        events, seen, *shown = self.conn.run(
            "SELECT COALESCE((SELECT json_agg("
            "             json_build_array(e.content_id, e.kind, e.event_type, e.duration_seconds, e.created_at)"
            "             ORDER BY e.created_at DESC, e.interaction_id DESC)"
            "           FROM (SELECT content_id, kind, event_type, duration_seconds, created_at, interaction_id"
            "                 FROM interactions WHERE session_id = :session_id AND user_id IS NULL"
            "                 ORDER BY created_at DESC, interaction_id DESC LIMIT :recent) e), '[]'),"
            " COALESCE((SELECT array_agg(DISTINCT i.content_id) FROM interactions i"
            "           WHERE i.session_id = :session_id AND i.user_id IS NULL), '{}')" + column,
            session_id=session_id,
            recent=recent,
            **params,
        )[0]
        return {"events": events, "seen": list(seen)} | ({"shown": list(shown[0])} if shown else {})

    def merge(self, session_id: str, user_id: str) -> int:
        """The session's anonymous events become the user's (in the caller's transaction); how many. Events
        already merged are the user's: a second merge finds none. Nothing when the user does not exist."""
        rows = self.conn.run(
            "UPDATE interactions SET user_id = :user_id"
            " WHERE session_id = :session_id AND user_id IS NULL"
            "   AND EXISTS (SELECT 1 FROM users WHERE user_id = :user_id)"
            " RETURNING 1",
            session_id=session_id,
            user_id=user_id,
        )
        return len(rows)

    def has_anonymous_events(self, session_id: str) -> bool:
        return bool(
            self.conn.run(
                "SELECT EXISTS (SELECT 1 FROM interactions WHERE session_id = :session_id AND user_id IS NULL)",
                session_id=session_id,
            )[0][0]
        )

    def delete_idle(self, idle_seconds: float, batch: int) -> int:
        """Delete the anonymous events of at most ``batch`` sessions whose latest event (anonymous or not) is
        older than ``idle_seconds``; how many events went."""
        rows = self.conn.run(
            "WITH idle AS (SELECT session_id FROM interactions WHERE session_id IS NOT NULL"
            "              GROUP BY session_id"
            "              HAVING max(created_at) < now() - make_interval(secs => :idle)"
            "                 AND bool_or(user_id IS NULL)"
            "              LIMIT :batch)"
            " DELETE FROM interactions i USING idle"
            " WHERE i.session_id = idle.session_id AND i.user_id IS NULL RETURNING 1",
            idle=float(idle_seconds),
            batch=batch,
        )
        return len(rows)
