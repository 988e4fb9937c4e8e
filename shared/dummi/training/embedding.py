"""Keep stored embeddings in step with the text they were made from (the embed stage's work, which the write
path's embedding queue runs too: it lives here, below the services, so training never imports a service).

Content text and users' interests are embedded right after they are written (the embedding queue) and by
every training run (the backstop). Either way only rows whose text hash differs from the stored one are
embedded, and a vector is stored only if the row did not change while it was being embedded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from dummi.db.connection import Connection, Database
from dummi.db.content_repository import ContentRepository
from dummi.db.records import EmbeddingResult, EmbeddingSource
from dummi.db.users_repository import UsersRepository
from dummi.ml.embeddings import Embedder, Progress, to_bytes
from dummi.ml.text import text_hash

DEFAULT_WRITE_BATCH = 512


@dataclass(frozen=True)
class EmbedResult:
    examined: int  # rows read
    embedded: int  # rows whose text changed and were embedded
    stored: int  # vectors saved (a row changed meanwhile is left for the next pass)


def _embed(
    db: Database,
    embedder: Embedder,
    read: Callable[[Connection], list[EmbeddingSource]],
    store: Callable[[Connection, list[EmbeddingResult]], int],
    *,
    batch_size: int,
    progress: Progress | None,
    on_plan: Callable[[int], None] | None = None,
) -> EmbedResult:
    sources = db.read(read)
    todo = [s for s in sources if text_hash(s.text) != s.stored_hash]
    if on_plan is not None:
        on_plan(len(todo))
    stored = 0
    for start in range(0, len(todo), batch_size):
        chunk = todo[start : start + batch_size]
        texts = [s.text for s in chunk]
        non_empty = [i for i, t in enumerate(texts) if t]
        vectors = embedder.encode([texts[i] for i in non_empty]) if non_empty else []
        by_row = dict(zip(non_empty, vectors, strict=True))
        results = [
            EmbeddingResult(s.key, to_bytes(by_row[i]) if i in by_row else None, text_hash(s.text), s.read_at)
            for i, s in enumerate(chunk)
        ]
        with db.transaction() as conn:  # each batch is saved as it is done: a crash loses one batch at most
            stored += store(conn, results)
        if progress is not None:
            progress(len(chunk))
    return EmbedResult(examined=len(sources), embedded=len(todo), stored=stored)


def embed_content(
    db: Database,
    embedder: Embedder,
    *,
    content_ids: list[str] | None = None,
    pending_only: bool = True,
    batch_size: int = DEFAULT_WRITE_BATCH,
    progress: Progress | None = None,
    on_plan: Callable[[int], None] | None = None,
) -> EmbedResult:
    """Embed content whose text changed. ``pending_only`` reads only rows whose hash was cleared by a write;
    without it every row's text is hashed and compared (what training does)."""
    return _embed(
        db,
        embedder,
        lambda conn: ContentRepository(conn).embedding_sources(content_ids, pending_only=pending_only),
        lambda conn, results: ContentRepository(conn).store_embeddings(results),
        batch_size=batch_size,
        progress=progress,
        on_plan=on_plan,
    )


def embed_user_interests(
    db: Database,
    embedder: Embedder,
    *,
    user_ids: list[str] | None = None,
    pending_only: bool = True,
    batch_size: int = DEFAULT_WRITE_BATCH,
    progress: Progress | None = None,
) -> EmbedResult:
    """Embed users' interests (for cold-start matching) whose text changed; empty interests store no vector."""

    def read(conn: Connection) -> list[EmbeddingSource]:
        users = UsersRepository(conn)
        return users.pending_interests(user_ids) if pending_only else users.all_interests()

    return _embed(
        db,
        embedder,
        read,
        lambda conn, results: UsersRepository(conn).store_interest_embeddings(results),
        batch_size=batch_size,
        progress=progress,
    )
