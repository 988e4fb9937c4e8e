"""Content items through their whole life: create, read, change, take down and delete.

Each use case is one transaction. A change of text clears the stored hash and queues the item for
embedding, as a new item is; serving sees every change (fields, take-downs, new vectors, deletes) through its
catalog-changes read within ``CATALOG_REFRESH_SECONDS`` (``dummi.services.catalog_view``)."""

from __future__ import annotations

from typing import Any

from dummi.db.connection import Database
from dummi.db.content_repository import ContentRepository
from dummi.db.records import ContentRecord
from dummi.errors import NotFoundError
from dummi.services.embedding_queue import EmbeddingQueue


def create_content(
    db: Database,
    queue: EmbeddingQueue,
    content_id: str,
    title: str,
    category: str,
    tags: list[str],
    description: str,
    **state: Any,
) -> tuple[ContentRecord, bool]:
    """Store the item, then ask for its embedding (so it is recommendable before the next retrain).
    ``state``: properties, hidden, available_from, available_until. Returns (item, created): a retry with
    identical fields finds the stored item (created False)."""
    with db.transaction() as conn:
        item, created = ContentRepository(conn).insert(content_id, title, category, tags, description, **state)
    if created:
        queue.enqueue("content", [item.content_id])
    return item, created


def update_content(db: Database, queue: EmbeddingQueue, content_id: str, changes: dict[str, Any]) -> ContentRecord:
    """Change some fields. The same change twice writes nothing the second time. An item whose text is
    waiting for its vector (changed now, or by a write that raced an embedding) is queued again."""
    with db.transaction() as conn:
        repo = ContentRepository(conn)
        item, changed = repo.update(content_id, changes)
        pending = changed and repo.needs_embedding(content_id)
    if pending:
        queue.enqueue("content", [content_id])
    return item


def delete_content(db: Database, content_id: str) -> None:
    """Remove the item, its vector, its interactions and feedback (users' histories lose them) and its
    exploration counts. Logged answers (impressions) that listed it keep their rows, and online metrics
    already computed keep their counts."""
    with db.transaction() as conn:
        if not ContentRepository(conn).delete(content_id):
            raise NotFoundError("content", content_id, field="content_id")


def get_content(db: Database, content_id: str) -> ContentRecord:
    return db.read(lambda conn: ContentRepository(conn).require(content_id))


def list_category(
    db: Database, category: str, *, limit: int, offset: int, include_hidden: bool = False
) -> tuple[list[ContentRecord], int]:
    return db.read(
        lambda conn: ContentRepository(conn).list_by_category(
            category, limit=limit, offset=offset, include_hidden=include_hidden
        )
    )
