"""All SQL about content items."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from dummi.db.connection import Connection
from dummi.db.records import CatalogChange, ContentRecord, EmbeddingResult, EmbeddingSource
from dummi.db.vectors import CONTENT, store_vectors
from dummi.errors import ConflictError, InvalidRequestError, NotFoundError
from dummi.ml.text import content_text

_COLUMNS = (
    "content_id, title, category, tags, description, created_at, updated_at,"
    " properties, hidden, available_from, available_until"
)
# An item outside a take-down: not hidden and inside its availability window at the statement's time.
VISIBLE = (
    "NOT hidden AND (available_from IS NULL OR available_from <= now())"
    " AND (available_until IS NULL OR available_until > now())"
)
# The fields a caller sets (PATCH, import --on-conflict update); text fields change the embedding.
TEXT_FIELDS = ("title", "category", "tags", "description")
FIELDS = (*TEXT_FIELDS, "properties", "hidden", "available_from", "available_until")


def _record(row: list) -> ContentRecord:
    return ContentRecord(
        row[0], row[1], row[2], list(row[3] or []), row[4], row[5], row[6], dict(row[7] or {}), row[8], row[9], row[10]
    )


def _fields(item: ContentRecord) -> dict[str, Any]:
    return {name: getattr(item, name) for name in FIELDS}


class ContentRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def insert(
        self,
        content_id: str,
        title: str,
        category: str,
        tags: list[str],
        description: str,
        *,
        properties: dict[str, Any] | None = None,
        hidden: bool = False,
        available_from: datetime | None = None,
        available_until: datetime | None = None,
    ) -> tuple[ContentRecord, bool]:
        """Store a new item: (item, True). An item that exists with the same fields is a safe retry:
        (stored item, False); with other fields, ConflictError. An id deleted before starts anew."""
        properties = properties or {}
        rows = self.conn.run(
            f"INSERT INTO content (content_id, title, category, tags, description, properties, hidden,"
            f" available_from, available_until)"
            f" VALUES (:content_id, :title, :category, CAST(:tags AS text[]), :description,"
            f" CAST(:properties AS jsonb), :hidden, :available_from, :available_until)"
            f" ON CONFLICT (content_id) DO NOTHING RETURNING {_COLUMNS}",
            content_id=content_id,
            title=title,
            category=category,
            tags=tags,
            description=description,
            properties=json.dumps(properties),
            hidden=hidden,
            available_from=available_from,
            available_until=available_until,
        )
        if rows:
            self.conn.run("DELETE FROM content_deletions WHERE content_id = :id", id=content_id)
            return _record(rows[0]), True
        stored = self.get(content_id)
        wanted = {
            "title": title,
            "category": category,
            "tags": tags,
            "description": description,
            "properties": properties,
            "hidden": hidden,
            "available_from": available_from,
            "available_until": available_until,
        }
        if stored is None or _fields(stored) != wanted:
            raise ConflictError(f"content {content_id!r} already exists with other fields", field="content_id")
        return stored, False

    def get(self, content_id: str, *, lock: bool = False) -> ContentRecord | None:
        rows = self.conn.run(
            f"SELECT {_COLUMNS} FROM content WHERE content_id = :content_id{' FOR UPDATE' if lock else ''}",
            content_id=content_id,
        )
        return _record(rows[0]) if rows else None

    def require(self, content_id: str, *, lock: bool = False) -> ContentRecord:
        item = self.get(content_id, lock=lock)
        if item is None:
            raise NotFoundError("content", content_id, field="content_id")
        return item

    def update(self, content_id: str, changes: dict[str, Any]) -> tuple[ContentRecord, bool]:
        """Apply ``changes`` (a subset of FIELDS) to a stored item: (item, changed). Values equal to the stored
        ones change nothing (no write at all: the same PATCH twice is a no-op). A change of text clears the
        stored hash, so the item is embedded again; the old vector serves until the new one is stored."""
        stored = self.require(content_id, lock=True)
        merged = {**_fields(stored), **changes}
        if merged == _fields(stored):
            return stored, False
        if (
            merged["available_from"]
            and merged["available_until"]
            and merged["available_until"] <= merged["available_from"]
        ):
            raise InvalidRequestError("available_until must be after available_from", field="available_until")
        text_changed = any(merged[f] != getattr(stored, f) for f in TEXT_FIELDS)
        rows = self.conn.run(
            f"UPDATE content SET title = :title, category = :category, tags = CAST(:tags AS text[]),"
            f" description = :description, properties = CAST(:properties AS jsonb), hidden = :hidden,"
            f" available_from = :available_from, available_until = :available_until,"
            f" text_hash = CASE WHEN :text_changed THEN NULL ELSE text_hash END,"
            f" updated_at = now(), changed_at = now(), changed_xid = pg_current_xact_id()"
            f" WHERE content_id = :content_id RETURNING {_COLUMNS}",
            content_id=content_id,
            text_changed=text_changed,
            **{**merged, "properties": json.dumps(merged["properties"])},
        )
        return _record(rows[0]), True

    def needs_embedding(self, content_id: str) -> bool:
        rows = self.conn.run("SELECT text_hash IS NULL FROM content WHERE content_id = :id", id=content_id)
        return bool(rows and rows[0][0])

    def delete(self, content_id: str) -> bool:
        """Remove the item with its vector and its events (interactions cascade), its exploration counts and
        daily figures, and leave a tombstone for serving. False when there was no such item."""
        rows = self.conn.run("DELETE FROM content WHERE content_id = :id RETURNING content_id", id=content_id)
        if not rows:
            return False
        self.conn.run("DELETE FROM item_stats WHERE content_id = :id", id=content_id)
        self.conn.run("DELETE FROM item_daily_metrics WHERE content_id = :id", id=content_id)
        self.conn.run("DELETE FROM item_hourly_engagement WHERE content_id = :id", id=content_id)
        self.conn.run(
            "INSERT INTO content_deletions (content_id) VALUES (:id)"
            " ON CONFLICT (content_id) DO UPDATE SET deleted_at = now(), deleted_xid = pg_current_xact_id()",
            id=content_id,
        )
        return True

    def snapshot_xmin(self) -> str:
        """The oldest transaction still running (as text): every change by an older one is visible now."""
        return self.conn.run("SELECT CAST(pg_snapshot_xmin(pg_current_snapshot()) AS text)")[0][0]

    def is_ahead(self, xmin: str) -> bool:
        """Whether ``xmin`` is beyond this server's snapshot xmin: an id from another server (a model trained on
        the database a backup came from), which no change here can be compared with."""
        return bool(
            self.conn.run("SELECT CAST(:xmin AS xid8) > pg_snapshot_xmin(pg_current_snapshot())", xmin=xmin)[0][0]
        )

    def changes_since(self, xmin: str | None) -> tuple[str, list[CatalogChange]]:
        """(this read's snapshot xmin, every item changed or deleted by a transaction at or after ``xmin``):
        serving's catalog-changes read. Pass the previous read's xmin: a transaction the previous read could
        not see has an id at or above it, however late it commits. None: every item and every deletion."""
        rows = self.conn.run(
            "WITH s AS (SELECT CAST(pg_snapshot_xmin(pg_current_snapshot()) AS text) AS xmin)"
            " SELECT (SELECT xmin FROM s), c.content_id, c.changed_at, c.title, c.category, c.tags, c.properties,"
            " c.hidden, c.available_from, c.available_until, c.created_at, c.embedded_at"
            " FROM (SELECT 1) one LEFT JOIN content c"
            "   ON CAST(:xmin AS xid8) IS NULL OR c.changed_xid >= CAST(:xmin AS xid8)"
            " UNION ALL"
            " SELECT NULL, d.content_id, d.deleted_at, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL"
            " FROM content_deletions d WHERE CAST(:xmin AS xid8) IS NULL OR d.deleted_xid >= CAST(:xmin AS xid8)",
            xmin=xmin,
        )
        now_xmin = next(r[0] for r in rows if r[0] is not None)
        changes = [
            CatalogChange(
                r[1], False, r[2], r[3], r[4], list(r[5] or []), dict(r[6] or {}), r[7], r[8], r[9], r[10], r[11]
            )
            for r in rows
            if r[0] is not None and r[1] is not None
        ]
        present = {c.content_id for c in changes}
        changes += [CatalogChange(r[1], True, r[2]) for r in rows if r[0] is None and r[1] not in present]
        return now_xmin, changes

    def vectors(self, content_ids: list[str]) -> dict[str, bytes]:
        """The stored vectors of these items (embedded ones only)."""
        rows = self.conn.run(
            "SELECT content_id, embedding FROM content"
            " WHERE content_id = ANY(CAST(:ids AS text[])) AND embedding IS NOT NULL",
            ids=content_ids,
        )
        return {r[0]: r[1] for r in rows}

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

    def embedded_items(self) -> list[tuple[str, str, str, list[str], bytes, dict[str, Any]]]:
        """(content_id, title, category, tags, embedding, state) of every embedded item, in content_id order;
        state: properties, hidden and the availability window (ISO strings), as the model publishes them."""
        rows = self.conn.run(
            "SELECT content_id, title, category, tags, embedding, properties, hidden, available_from,"
            " available_until FROM content WHERE embedding IS NOT NULL ORDER BY content_id"
        )
        return [
            (
                r[0],
                r[1],
                r[2],
                list(r[3] or []),
                r[4],
                {
                    "properties": dict(r[5] or {}),
                    "hidden": bool(r[6]),
                    "available_from": r[7].isoformat() if r[7] else None,
                    "available_until": r[8].isoformat() if r[8] else None,
                },
            )
            for r in rows
        ]

    def count(self) -> int:
        return int(self.conn.run("SELECT count(*) FROM content")[0][0])

    def list_by_category(
        self, category: str, *, limit: int, offset: int, include_hidden: bool = False
    ) -> tuple[list[ContentRecord], int]:
        """One page of a category in content_id order, and the category's total count; items taken down
        (hidden or outside their window) only with ``include_hidden``."""
        where = "category = :category" + ("" if include_hidden else f" AND {VISIBLE}")
        rows = self.conn.run(
            f"SELECT {_COLUMNS}, count(*) OVER () FROM content WHERE {where}"
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
        total = self.conn.run(f"SELECT count(*) FROM content WHERE {where}", category=category)
        return [], int(total[0][0])
