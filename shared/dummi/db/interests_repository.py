"""All SQL about interest suggestions: the catalog's labels, and the list the last training stored."""

from __future__ import annotations

from dummi.db.connection import Connection
from dummi.ml.interests import SuggestedInterest

# Before any training, suggestions are worked out from this many of the newest items at most.
CATALOG_SAMPLE = 100_000


class InterestsRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def replace(self, suggestions: list[SuggestedInterest], source: str, model_version: str) -> None:
        """The stored list becomes ``suggestions`` (in order), in the caller's transaction."""
        self.conn.run("DELETE FROM interest_suggestions")
        if not suggestions:
            return
        self.conn.run(
            "INSERT INTO interest_suggestions (rank, interest, items, share, source, model_version)"
            " SELECT r, i, n, s, :source, :version FROM unnest("
            "   CAST(:ranks AS integer[]), CAST(:interests AS text[]), CAST(:items AS integer[]),"
            "   CAST(:shares AS double precision[])) AS t(r, i, n, s)",
            ranks=list(range(1, len(suggestions) + 1)),
            interests=[s.interest for s in suggestions],
            items=[s.items for s in suggestions],
            shares=[min(1.0, max(0.0, s.share)) for s in suggestions],
            source=source,
            version=model_version,
        )

    def stored(self) -> tuple[list[SuggestedInterest], str | None]:
        """The last training's list in order, and its source (None when no training stored one)."""
        rows = self.conn.run("SELECT interest, items, share, source FROM interest_suggestions ORDER BY rank")
        return [SuggestedInterest(r[0], int(r[1]), float(r[2])) for r in rows], (rows[0][3] if rows else None)

    def catalog_labels(self, limit: int = CATALOG_SAMPLE) -> list[tuple[str, list[str]]]:
        """(category, tags) of the newest ``limit`` items."""
        rows = self.conn.run(
            "SELECT category, tags FROM content ORDER BY created_at DESC, content_id LIMIT :limit", limit=limit
        )
        return [(r[0], list(r[1] or [])) for r in rows]
