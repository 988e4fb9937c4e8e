"""All SQL about users."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dummi.db.connection import Connection
from dummi.db.records import EmbeddingResult, EmbeddingSource, UserRecord
from dummi.db.vectors import USER_INTERESTS, store_vectors
from dummi.errors import ConflictError, NotFoundError
from dummi.ml.text import interests_text

_COLUMNS = "user_id, interests, skill_level, created_at, updated_at"


def _record(row: list) -> UserRecord:
    return UserRecord(row[0], list(row[1] or []), row[2], row[3], row[4])


class UsersRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def insert(self, user_id: str, interests: list[str], skill_level: str) -> tuple[UserRecord, bool]:
        """Store a new user: (user, True). A user that exists with the same fields is a safe retry:
        (stored user, False); with other fields, ConflictError."""
        rows = self.conn.run(
            f"INSERT INTO users (user_id, interests, skill_level)"
            f" VALUES (:user_id, CAST(:interests AS text[]), :skill_level)"
            f" ON CONFLICT (user_id) DO NOTHING RETURNING {_COLUMNS}",
            user_id=user_id,
            interests=interests,
            skill_level=skill_level,
        )
        if rows:
            return _record(rows[0]), True
        stored = self.get(user_id)
        if stored is None or (stored.interests, stored.skill_level) != (interests, skill_level):
            raise ConflictError(f"user {user_id!r} already exists with other fields", field="user_id")
        return stored, False

    def get(self, user_id: str) -> UserRecord | None:
        rows = self.conn.run(f"SELECT {_COLUMNS} FROM users WHERE user_id = :user_id", user_id=user_id)
        return _record(rows[0]) if rows else None

    def require(self, user_id: str) -> UserRecord:
        user = self.get(user_id)
        if user is None:
            raise NotFoundError("user", user_id, field="user_id")
        return user

    def update(self, user_id: str, *, interests: list[str] | None = None, skill_level: str | None = None) -> UserRecord:
        """Change the given fields (None = keep)."""
        rows = self.conn.run(
            f"UPDATE users SET"
            f" interests = COALESCE(CAST(:interests AS text[]), interests),"
            f" skill_level = COALESCE(CAST(:skill_level AS text), skill_level),"
            # changed interests must be embedded again
            f" interests_hash = CASE WHEN CAST(:interests AS text[]) IS NULL OR CAST(:interests AS text[]) = interests"
            f"   THEN interests_hash ELSE NULL END,"
            f" updated_at = now()"
            f" WHERE user_id = :user_id RETURNING {_COLUMNS}",
            user_id=user_id,
            interests=interests,
            skill_level=skill_level,
        )
        if not rows:
            raise NotFoundError("user", user_id, field="user_id")
        return _record(rows[0])

    def pending_interests(self, user_ids: list[str] | None = None) -> list[EmbeddingSource]:
        """Users whose interests were never embedded or changed since (all of them, or among ``user_ids``)."""
        rows = self.conn.run(
            "SELECT user_id, interests, interests_hash, updated_at FROM users"
            " WHERE interests_hash IS NULL AND (CAST(:ids AS text[]) IS NULL OR user_id = ANY(CAST(:ids AS text[])))"
            " ORDER BY user_id",
            ids=user_ids,
        )
        return [EmbeddingSource(r[0], interests_text(r[1] or []), r[2], r[3]) for r in rows]

    def all_interests(self) -> list[EmbeddingSource]:
        rows = self.conn.run("SELECT user_id, interests, interests_hash, updated_at FROM users ORDER BY user_id")
        return [EmbeddingSource(r[0], interests_text(r[1] or []), r[2], r[3]) for r in rows]

    def store_interest_embeddings(self, items: list[EmbeddingResult]) -> int:
        """Save vectors for users whose row did not change since it was read."""
        return store_vectors(self.conn, USER_INTERESTS, items)

    def interest_vectors(self) -> dict[str, tuple[list[str], bytes | None]]:
        """Every user's interests and their stored embedding (training's holdout uses them)."""
        rows = self.conn.run("SELECT user_id, interests, interests_embedding FROM users")
        return {r[0]: (list(r[1] or []), r[2]) for r in rows}

    def delete(self, user_id: str) -> bool:
        """Remove everything stored about the user: its answers (impressions), interactions and feedback,
        then the row itself (interests and their embedding). The row is locked first, so an event or an
        answer being written for the user waits and then finds no user (no orphan row). False: no such user."""
        if not self.conn.run("SELECT 1 FROM users WHERE user_id = :id FOR UPDATE", id=user_id):
            return False
        self.conn.run("DELETE FROM impressions WHERE user_id = :id", id=user_id)
        self.conn.run("DELETE FROM interactions WHERE user_id = :id", id=user_id)
        self.conn.run("DELETE FROM users WHERE user_id = :id", id=user_id)
        # when a user was last deleted (never who): training then replaces models trained before it
        self.conn.run(
            "INSERT INTO app_state (key, value, updated_at) VALUES ('users_deleted_at', to_jsonb(now()), now())"
            " ON CONFLICT (key) DO UPDATE SET value = to_jsonb(now()), updated_at = now()"
        )
        return True

    def last_deletion(self) -> datetime | None:
        """When a user was last deleted (None: never)."""
        rows = self.conn.run("SELECT updated_at FROM app_state WHERE key = 'users_deleted_at'")
        return rows[0][0] if rows else None

    def export(self, user_id: str) -> dict[str, Any] | None:
        """The user's row and every event, as stored (None: no such user)."""
        rows = self.conn.run(
            "SELECT user_id, interests, skill_level, created_at, updated_at, interests_embedding IS NOT NULL"
            " FROM users WHERE user_id = :id",
            id=user_id,
        )
        if not rows:
            return None
        r = rows[0]
        events = self.conn.run(
            "SELECT interaction_id, content_id, kind, event_type, duration_seconds, created_at, event_id,"
            " CAST(recommendation_id AS text), position, attribution FROM interactions WHERE user_id = :id"
            " ORDER BY created_at, interaction_id",
            id=user_id,
        )
        return {
            "profile": {
                "user_id": r[0],
                "interests": list(r[1] or []),
                "skill_level": r[2],
                "created_at": r[3].isoformat(),
                "updated_at": r[4].isoformat(),
                "interests_embedded": bool(r[5]),
            },
            "events": [
                {
                    "interaction_id": e[0],
                    "content_id": e[1],
                    "kind": e[2],
                    "type": e[3],
                    "duration_seconds": e[4],
                    "timestamp": e[5].isoformat(),
                    "event_id": e[6],
                    "recommendation_id": e[7],
                    "position": e[8],
                    "attribution": e[9],
                }
                for e in events
            ],
        }

    def history(self, user_id: str, limit: int) -> list[str]:
        """Distinct content ids the user interacted with, most recent interaction first."""
        rows = self.conn.run(
            "SELECT content_id FROM interactions WHERE user_id = :user_id"
            " GROUP BY content_id ORDER BY max(created_at) DESC, max(interaction_id) DESC LIMIT :limit",
            user_id=user_id,
            limit=limit,
        )
        return [row[0] for row in rows]
