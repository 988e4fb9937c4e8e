"""Bulk loading with COPY: rows go into temporary staging tables, then into the real tables in one
statement each, inside the caller's transaction (all or nothing)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import datetime

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

    def _inserted_updated(self, sql: str) -> tuple[int, int]:
        rows = self.conn.run(sql + " RETURNING (xmax = 0)")
        inserted = sum(1 for r in rows if r[0])
        return inserted, len(rows) - inserted

    def import_users(self, rows: list[tuple[str, list[str], str]], *, update: bool = False) -> tuple[int, int]:
        """(inserted, updated): new users are inserted; existing ones are left as they are, or with ``update``
        take the file's fields where they differ (changed interests are embedded again)."""
        self.conn.run(
            "CREATE TEMP TABLE import_users (user_id text, interests text[], skill_level text) ON COMMIT DROP"
        )
        self._copy("import_users", "user_id, interests, skill_level", ((u, _pg_array(i), s) for u, i, s in rows))
        conflict = "DO NOTHING"
        if update:
            conflict = (
                "DO UPDATE SET interests = EXCLUDED.interests, skill_level = EXCLUDED.skill_level,"
                " interests_hash = CASE WHEN users.interests = EXCLUDED.interests THEN users.interests_hash END,"
                " updated_at = now()"
                " WHERE (users.interests, users.skill_level)"
                "   IS DISTINCT FROM (EXCLUDED.interests, EXCLUDED.skill_level)"
            )
        return self._inserted_updated(
            "INSERT INTO users (user_id, interests, skill_level)"
            f" SELECT user_id, interests, skill_level FROM import_users ON CONFLICT (user_id) {conflict}"
        )

    def import_content(self, rows: list[tuple], *, update: bool = False) -> tuple[int, int]:
        """(inserted, updated). Rows: (content_id, title, category, tags, description, properties (JSON text),
        hidden, available_from, available_until). With ``update``, stored items whose fields differ take the
        file's (a changed text is embedded again; serving sees every change within seconds)."""
        self.conn.run(
            "CREATE TEMP TABLE import_content (content_id text, title text, category text, tags text[],"
            " description text, properties jsonb, hidden boolean, available_from timestamptz,"
            " available_until timestamptz) ON COMMIT DROP"
        )
        self._copy(
            "import_content",
            "content_id, title, category, tags, description, properties, hidden, available_from, available_until",
            ((c, t, cat, _pg_array(tags), *rest) for c, t, cat, tags, *rest in rows),
        )
        conflict = "DO NOTHING"
        if update:
            text = "(content.title, content.category, content.tags, content.description)"
            new_text = "(EXCLUDED.title, EXCLUDED.category, EXCLUDED.tags, EXCLUDED.description)"
            state = "(content.properties, content.hidden, content.available_from, content.available_until)"
            new_state = "(EXCLUDED.properties, EXCLUDED.hidden, EXCLUDED.available_from, EXCLUDED.available_until)"
            conflict = (
                "DO UPDATE SET title = EXCLUDED.title, category = EXCLUDED.category, tags = EXCLUDED.tags,"
                " description = EXCLUDED.description, properties = EXCLUDED.properties, hidden = EXCLUDED.hidden,"
                " available_from = EXCLUDED.available_from, available_until = EXCLUDED.available_until,"
                f" text_hash = CASE WHEN {text} IS DISTINCT FROM {new_text} THEN NULL ELSE content.text_hash END,"
                " updated_at = now(), changed_at = now(), changed_xid = pg_current_xact_id()"
                f" WHERE ({text}, {state}) IS DISTINCT FROM ({new_text}, {new_state})"
            )
        inserted, updated = self._inserted_updated(
            "INSERT INTO content (content_id, title, category, tags, description, properties, hidden,"
            " available_from, available_until)"
            " SELECT content_id, title, category, tags, description, properties, hidden, available_from,"
            f" available_until FROM import_content ON CONFLICT (content_id) {conflict}"
        )
        # ids created anew after a deletion are no longer deleted
        self.conn.run("DELETE FROM content_deletions d USING import_content i WHERE d.content_id = i.content_id")
        return inserted, updated

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

    def imported_span(self) -> tuple[datetime, datetime]:
        """The earliest and the latest time of the events ``import_events`` read, in its transaction."""
        earliest, latest = self.conn.run(
            "SELECT min(COALESCE(created_at, now())), max(COALESCE(created_at, now())) FROM import_events"
        )[0]
        return earliest, latest
