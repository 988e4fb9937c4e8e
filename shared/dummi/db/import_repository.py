"""Bulk loading with COPY: rows go into temporary staging tables, then into the real tables in one
statement each, inside the caller's transaction (all or nothing)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

from dummi.db.connection import Connection


def _pg_array(values: Sequence[str]) -> str:
    """A text[] literal for COPY csv: {"a","b"} with quotes and backslashes escaped."""
    return "{" + ",".join('"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values) + "}"


def _csv(rows: Iterable[Sequence[object]]) -> io.BytesIO:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    for row in rows:
        writer.writerow(["\\N" if v is None else v for v in row])
    return io.BytesIO(text.getvalue().encode("utf-8"))


class ImportRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def _copy(self, table: str, columns: str, rows: Iterable[Sequence[object]]) -> None:
        self.conn.run(f"COPY {table} ({columns}) FROM STDIN WITH (FORMAT csv, NULL '\\N')", stream=_csv(rows))

    def import_users(self, rows: list[tuple[str, list[str], str]]) -> int:
        """Insert users that do not exist yet; returns how many were inserted."""
        self.conn.run(
            "CREATE TEMP TABLE import_users (user_id text, interests text[], skill_level text) ON COMMIT DROP"
        )
        self._copy("import_users", "user_id, interests, skill_level", ((u, _pg_array(i), s) for u, i, s in rows))
        self.conn.run(
            "INSERT INTO users (user_id, interests, skill_level)"
            " SELECT user_id, interests, skill_level FROM import_users ON CONFLICT (user_id) DO NOTHING"
        )
        return self.conn.row_count

    def import_content(self, rows: list[tuple[str, str, str, list[str], str]]) -> int:
        self.conn.run(
            "CREATE TEMP TABLE import_content (content_id text, title text, category text, tags text[],"
            " description text) ON COMMIT DROP"
        )
        self._copy(
            "import_content",
            "content_id, title, category, tags, description",
            ((c, t, cat, _pg_array(tags), d) for c, t, cat, tags, d in rows),
        )
        self.conn.run(
            "INSERT INTO content (content_id, title, category, tags, description)"
            " SELECT content_id, title, category, tags, description FROM import_content"
            " ON CONFLICT (content_id) DO NOTHING"
        )
        return self.conn.row_count

    def import_events(self, rows: list[tuple[str, str, str, str, float | None, str | None]]) -> tuple[int, int]:
        """(inserted, skipped): events naming an unknown user or content are skipped, not fatal."""
        self.conn.run(
            "CREATE TEMP TABLE import_events (user_id text, content_id text, kind text, event_type text,"
            " duration_seconds double precision, created_at timestamptz) ON COMMIT DROP"
        )
        self._copy("import_events", "user_id, content_id, kind, event_type, duration_seconds, created_at", rows)
        self.conn.run(
            "INSERT INTO interactions (user_id, content_id, kind, event_type, duration_seconds, created_at)"
            " SELECT e.user_id, e.content_id, e.kind, e.event_type, e.duration_seconds, COALESCE(e.created_at, now())"
            " FROM import_events e"
            " JOIN users u ON u.user_id = e.user_id JOIN content c ON c.content_id = e.content_id"
        )
        inserted = self.conn.row_count
        total = int(self.conn.run("SELECT count(*) FROM import_events")[0][0])
        return inserted, total - inserted
