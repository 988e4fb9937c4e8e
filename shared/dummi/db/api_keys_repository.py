"""All SQL about API keys (hashes only; the key itself is never stored)."""

from __future__ import annotations

from dummi.db.connection import Connection
from dummi.db.records import ApiKeyRecord
from dummi.errors import NotFoundError

_COLUMNS = "key_id, name, scopes, key_hash, created_at, revoked_at"


def _record(row: list) -> ApiKeyRecord:
    return ApiKeyRecord(row[0], row[1], list(row[2]), bytes(row[3]), row[4], row[5])


class ApiKeysRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def insert(self, key_id: str, name: str, scopes: list[str], key_hash: bytes) -> ApiKeyRecord:
        rows = self.conn.run(
            f"INSERT INTO api_keys (key_id, name, scopes, key_hash)"
            f" VALUES (:key_id, :name, CAST(:scopes AS text[]), :key_hash) RETURNING {_COLUMNS}",
            key_id=key_id,
            name=name,
            scopes=scopes,
            key_hash=key_hash,
        )
        return _record(rows[0])

    def get(self, key_id: str) -> ApiKeyRecord | None:
        rows = self.conn.run(f"SELECT {_COLUMNS} FROM api_keys WHERE key_id = :key_id", key_id=key_id)
        return _record(rows[0]) if rows else None

    def list(self, *, include_revoked: bool) -> list[ApiKeyRecord]:
        rows = self.conn.run(
            f"SELECT {_COLUMNS} FROM api_keys WHERE CAST(:all AS boolean) OR revoked_at IS NULL"
            f" ORDER BY created_at, key_id",
            all=include_revoked,
        )
        return [_record(row) for row in rows]

    def revoke(self, key_id: str) -> ApiKeyRecord:
        """Mark the key revoked (a second revoke keeps the first time)."""
        rows = self.conn.run(
            f"UPDATE api_keys SET revoked_at = COALESCE(revoked_at, now()) WHERE key_id = :key_id RETURNING {_COLUMNS}",
            key_id=key_id,
        )
        if not rows:
            raise NotFoundError("API key", key_id, field="key_id")
        return _record(rows[0])
