"""All SQL about content items."""

from __future__ import annotations

from dummi.db.connection import Connection
from dummi.db.records import ContentRecord
from dummi.errors import ConflictError, NotFoundError

_COLUMNS = "content_id, title, category, tags, description, created_at, updated_at"


def _record(row: list) -> ContentRecord:
    return ContentRecord(row[0], row[1], row[2], list(row[3] or []), row[4], row[5], row[6])


class ContentRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def insert(self, content_id: str, title: str, category: str, tags: list[str], description: str) -> ContentRecord:
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
        if not rows:
            raise ConflictError(f"content {content_id!r} already exists", field="content_id")
        return _record(rows[0])

    def get(self, content_id: str) -> ContentRecord | None:
        rows = self.conn.run(f"SELECT {_COLUMNS} FROM content WHERE content_id = :content_id", content_id=content_id)
        return _record(rows[0]) if rows else None

    def require(self, content_id: str) -> ContentRecord:
        item = self.get(content_id)
        if item is None:
            raise NotFoundError("content", content_id, field="content_id")
        return item

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
