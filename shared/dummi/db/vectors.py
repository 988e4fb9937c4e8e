"""Saving embeddings computed outside a transaction, for any table that keeps (vector, text hash, updated_at)."""

from __future__ import annotations

from dummi.db.connection import Connection
from dummi.db.records import EmbeddingResult

# (table, key column, vector column, hash column, more to set): fixed names, never user input. A content
# vector is a catalog change serving reads (``changed_at``).
CONTENT = (
    "content",
    "content_id",
    "embedding",
    "text_hash",
    ", embedded_at = now(), changed_at = now(), changed_xid = pg_current_xact_id()",
)
USER_INTERESTS = ("users", "user_id", "interests_embedding", "interests_hash", "")


def store_vectors(conn: Connection, target: tuple[str, str, str, str, str], items: list[EmbeddingResult]) -> int:
    """Save vectors for rows that did not change since they were read (``updated_at`` still matches), so a
    write that raced the embedding keeps its row pending for the next pass. Returns rows updated."""
    if not items:
        return 0
    table, key, vector, text_hash, more = target
    conn.run(
        f"UPDATE {table} r SET {vector} = v.e, {text_hash} = v.h{more}"
        " FROM unnest(CAST(:ids AS text[]), CAST(:embs AS bytea[]), CAST(:hashes AS text[]),"
        "             CAST(:stamps AS timestamptz[])) AS v(id, e, h, t)"
        f" WHERE r.{key} = v.id AND r.updated_at = v.t",
        ids=[i.key for i in items],
        embs=[i.vector for i in items],
        hashes=[i.text_hash for i in items],
        stamps=[i.read_at for i in items],
    )
    return conn.row_count
