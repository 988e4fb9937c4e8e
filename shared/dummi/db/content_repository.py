"""All SQL about content items."""

from __future__ import annotations

from datetime import datetime

from dummi.db.connection import Connection
from dummi.db.records import ContentRecord, EmbeddingResult, EmbeddingSource
from dummi.db.vectors import CONTENT, store_vectors
from dummi.errors import ConflictError, NotFoundError
from dummi.ml.text import content_text

_COLUMNS = "content_id, title, category, tags, description, created_at, updated_at"


def _record(row: list) -> ContentRecord:
    return ContentRecord(row[0], row[1], row[2], list(row[3] or []), row[4], row[5], row[6])


class ContentRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def insert(
        self, content_id: str, title: str, category: str, tags: list[str], description: str
    ) -> tuple[ContentRecord, bool]:
        """Store a new item: (item, True). An item that exists with the same fields is a safe retry:
        (stored item, False); with other fields, ConflictError."""
        rows = self.conn.run(
            f"INSERT INTO content (content_id, title, category, tags, description)"
            f" VALUES (:content_id, :title, :category, CAST(:tags AS text[]), :description)"
            f" ON CONFLICT (content_id) DO NOTHING RETURNING {_COLUMNS}",
            content_id=content_id,
            title=title,
            category=category,
            tags=tags,
            description=description,
        )
        if rows:
            return _record(rows[0]), True
        stored = self.get(content_id)
        fields = (title, category, tags, description)
        if stored is None or (stored.title, stored.category, stored.tags, stored.description) != fields:
            raise ConflictError(f"content {content_id!r} already exists with other fields", field="content_id")
        return stored, False

    def get(self, content_id: str) -> ContentRecord | None:
        rows = self.conn.run(f"SELECT {_COLUMNS} FROM content WHERE content_id = :content_id", content_id=content_id)
        return _record(rows[0]) if rows else None

    def require(self, content_id: str) -> ContentRecord:
        item = self.get(content_id)
        if item is None:
            raise NotFoundError("content", content_id, field="content_id")
        return item

    def embedding_sources(self, content_ids: list[str] | None = None, *, pending_only: bool) -> list[EmbeddingSource]:
        """The text to embed per item: pending ones (hash cleared) or every item, optionally among ids."""
        rows = self.conn.run(
            "SELECT content_id, title, category, tags, description, text_hash, updated_at FROM content"
            " WHERE (NOT CAST(:pending AS boolean) OR text_hash IS NULL)"
            "   AND (CAST(:ids AS text[]) IS NULL OR content_id = ANY(CAST(:ids AS text[])))"
            " ORDER BY content_id",
            pending=pending_only,
            ids=content_ids,
        )
        return [EmbeddingSource(r[0], content_text(r[1], r[2], r[3] or [], r[4]), r[5], r[6]) for r in rows]

    def store_embeddings(self, items: list[EmbeddingResult]) -> int:
        """Save vectors for rows whose row did not change since it was read."""
        return store_vectors(self.conn, CONTENT, items)

    def clock(self) -> datetime:
        """The database's current time (watermarks are taken on one clock)."""
        return self.conn.run("SELECT clock_timestamp()")[0][0]

    def embedded_items(self) -> list[tuple[str, str, str, list[str], bytes]]:
        """(content_id, title, category, tags, embedding) of every embedded item, in content_id order."""
        rows = self.conn.run(
            "SELECT content_id, title, category, tags, embedding FROM content WHERE embedding IS NOT NULL"
            " ORDER BY content_id"
        )
        return [(r[0], r[1], r[2], list(r[3] or []), r[4]) for r in rows]

    def count(self) -> int:
        return int(self.conn.run("SELECT count(*) FROM content")[0][0])

    def list_by_category(self, category: str, *, limit: int, offset: int) -> tuple[list[ContentRecord], int]:
        """One page of a category in content_id order, and the category's total count."""
        rows = self.conn.run(
            f"SELECT {_COLUMNS}, count(*) OVER () FROM content WHERE category = :category"
            f" ORDER BY content_id LIMIT :limit OFFSET :offset",
            category=category,
            limit=limit,
            offset=offset,
        )
        if rows:
            return [_record(row) for row in rows], int(rows[0][-1])
        if offset == 0:
            return [], 0
        # The page is past the end: still report the total.
        total = self.conn.run("SELECT count(*) FROM content WHERE category = :category", category=category)
        return [], int(total[0][0])
