"""Small key/value facts about this database (``app_state``)."""

from __future__ import annotations

import json
from typing import Any

from dummi.db.connection import Connection


class StateRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def get(self, key: str) -> Any | None:
        rows = self.conn.run("SELECT value FROM app_state WHERE key = :key", key=key)
        return rows[0][0] if rows else None

    def set_once(self, key: str, value: Any) -> bool:
        """Set ``key`` unless it is set already; True if this call set it."""
        rows = self.conn.run(
            "INSERT INTO app_state (key, value) VALUES (:key, CAST(:value AS jsonb))"
            " ON CONFLICT (key) DO NOTHING RETURNING key",
            key=key,
            value=json.dumps(value),
        )
        return bool(rows)

    def holds_data(self) -> bool:
        """Whether any user or item is stored (a project in use, or one restored from a backup)."""
        return bool(self.conn.run("SELECT EXISTS (SELECT 1 FROM users) OR EXISTS (SELECT 1 FROM content)")[0][0])

    def claim(self, key: str, every_seconds: float) -> bool:
        """True for the one caller that finds ``key`` last claimed ``every_seconds`` ago or longer (or never),
        which claims it now: several processes on one schedule run a job once per period."""
        rows = self.conn.run(
            "INSERT INTO app_state (key, value, updated_at) VALUES (:key, 'null', now())"
            " ON CONFLICT (key) DO UPDATE SET updated_at = now()"
            "   WHERE app_state.updated_at <= now() - make_interval(secs => :every)"
            " RETURNING key",
            key=key,
            every=every_seconds,
        )
        return bool(rows)
