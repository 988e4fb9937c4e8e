"""Content items through their whole life: create, read, change, take down and delete.

Each use case is one transaction. A change of text clears the stored hash and queues the item for
embedding, as a new item is; serving sees every change (fields, take-downs, new vectors, deletes) through its
catalog-changes read within ``CATALOG_REFRESH_SECONDS`` (``dummi.services.live_catalog``).

Each takes a ``Database`` or a ``UnitOfWork`` (``dummi.services.unit_of_work``) and the embedding queue."""

from __future__ import annotations

from typing import Any

from dummi.db.records import ContentRecord
from dummi.errors import NotFoundError
from dummi.services.embedding_queue import EmbeddingQueue
from dummi.services.unit_of_work import Source, UnitOfWork, work_of


def create_content(
    db: Source | UnitOfWork,
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
    with work_of(db).transaction() as repos:
        item, created = repos.content.insert(content_id, title, category, tags, description, **state)
    if created:
        queue.enqueue("content", [item.content_id])
    return item, created


def update_content(
    db: Source | UnitOfWork, queue: EmbeddingQueue, content_id: str, changes: dict[str, Any]
) -> ContentRecord:
    """Change some fields. The same change twice writes nothing the second time. An item whose text is
    waiting for its vector (changed now, or by a write that raced an embedding) is queued again."""
    with work_of(db).transaction() as repos:
        repo = repos.content
        item, changed = repo.update(content_id, changes)
        pending = changed and repo.needs_embedding(content_id)
    if pending:
        queue.enqueue("content", [content_id])
    return item


def delete_content(db: Source | UnitOfWork, content_id: str) -> None:
    """Remove the item, its vector, its interactions and feedback (users' histories lose them) and its
    exploration counts. Logged answers (impressions) that listed it keep their rows, and online metrics
    already computed keep their counts."""
    with work_of(db).transaction() as repos:
        if not repos.content.delete(content_id):
            raise NotFoundError("content", content_id, field="content_id")


def get_content(db: Source | UnitOfWork, content_id: str) -> ContentRecord:
    return work_of(db).read(lambda repos: repos.content.require(content_id))


def list_category(
    db: Source | UnitOfWork, category: str, *, limit: int, offset: int, include_hidden: bool = False
) -> tuple[list[ContentRecord], int]:
    return work_of(db).read(
        lambda repos: repos.content.list_by_category(
            category, limit=limit, offset=offset, include_hidden=include_hidden
        )
    )
