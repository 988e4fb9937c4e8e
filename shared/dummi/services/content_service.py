"""Create and read content items."""

from __future__ import annotations

from dummi.db.connection import Database
from dummi.db.content_repository import ContentRepository
from dummi.db.records import ContentRecord
from dummi.services.embedding_queue import EmbeddingQueue


def create_content(
    db: Database,
    queue: EmbeddingQueue,
    content_id: str,
    title: str,
    category: str,
    tags: list[str],
    description: str,
) -> tuple[ContentRecord, bool]:
    """Store the item, then ask for its embedding (so it is recommendable before the next retrain).
    Returns (item, created): a retry with identical fields finds the stored item (created False)."""
    with db.transaction() as conn:
        item, created = ContentRepository(conn).insert(content_id, title, category, tags, description)
    if created:
        queue.enqueue("content", [item.content_id])
    return item, created


def get_content(db: Database, content_id: str) -> ContentRecord:
    return db.read(lambda conn: ContentRepository(conn).require(content_id))


def list_category(db: Database, category: str, *, limit: int, offset: int) -> tuple[list[ContentRecord], int]:
    return db.read(lambda conn: ContentRepository(conn).list_by_category(category, limit=limit, offset=offset))
