"""Bulk loading with COPY: rows go into temporary staging tables, then into the real tables in one
statement each, inside the caller's transaction (all or nothing)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Sequence
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


# how many skipped events an import names (by line); the rest are counted
MAX_SKIPPED_NAMED = 1_000
# a content line's fields besides its id, title and category: with ``--on-conflict update`` each changes a
# stored item only when the line gives it
OPTIONAL_CONTENT_FIELDS = ("tags", "description", "properties", "hidden", "available_from", "available_until")


def _given(table: str, field: str) -> str:
    """The staged value where the line gave the field, else the stored one (an UPDATE ... FROM import_* i)."""
    return f"CASE WHEN '{field}' = ANY(i.given) THEN i.{field} ELSE {table}.{field} END"


class ImportRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def _copy(self, table: str, columns: str, rows: Iterable[Sequence[object]]) -> None:
        self.conn.run(f"COPY {table} ({columns}) FROM STDIN WITH (FORMAT csv, NULL '\\N')", stream=_csv(rows))

    def import_users(self, rows: list[tuple], *, update: bool = False) -> tuple[int, int]:
        """(inserted, updated). Rows: (user_id, interests, skill_level, the optional fields the line gave).
        New users are inserted; existing ones are left as they are, or with ``update`` take the fields their
        line gave where they differ, as a PATCH does (a field the line leaves out is kept; changed interests
        are embedded again)."""
        self.conn.run(
            "CREATE TEMP TABLE import_users (user_id text, interests text[], skill_level text, given text[])"
            " ON COMMIT DROP"
        )
        self._copy(
            "import_users",
            "user_id, interests, skill_level, given",
            ((u, _pg_array(i), s, _pg_array(g)) for u, i, s, g in rows),
        )
        self.conn.run(
            "INSERT INTO users (user_id, interests, skill_level)"
            " SELECT user_id, interests, skill_level FROM import_users ON CONFLICT (user_id) DO NOTHING"
        )
        inserted, updated = self.conn.row_count, 0
        if update:  # after the insert: a row created by another writer meanwhile still takes the line's fields
            interests, skill = _given("users", "interests"), _given("users", "skill_level")
            self.conn.run(
                f"UPDATE users SET interests = {interests}, skill_level = {skill},"
                f" interests_hash = CASE WHEN users.interests = {interests} THEN users.interests_hash END,"
                " updated_at = now()"
                " FROM import_users i WHERE users.user_id = i.user_id"
                f"   AND (users.interests, users.skill_level) IS DISTINCT FROM ({interests}, {skill})"
            )
            updated = self.conn.row_count
        return inserted, updated

    def import_content(
        self, rows: list[tuple], *, update: bool = False, refuse: Callable[[list[int]], None] | None = None
    ) -> tuple[int, int]:
        """(inserted, updated). Rows: (content_id, title, category, tags, description, properties (JSON text),
        hidden, available_from, available_until, the optional fields the line gave, the file's line). With
        ``update``, stored items take the fields their line gave where they differ, as a PATCH does: a field
        the line leaves out is kept (a feed without ``hidden`` does not bring a taken-down item back). A line
        whose window ends before the start it keeps is handed to ``refuse`` (its line numbers: raise, or they
        are left out) rather than failing the statement. A changed text is embedded again; serving sees every
        change within seconds."""
        self.conn.run(
            "CREATE TEMP TABLE import_content (content_id text, title text, category text, tags text[],"
            " description text, properties jsonb, hidden boolean, available_from timestamptz,"
            " available_until timestamptz, given text[], line integer) ON COMMIT DROP"
        )
        self._copy(
            "import_content",
            "content_id, title, category, tags, description, properties, hidden, available_from, available_until,"
            " given, line",
            ((c, t, cat, _pg_array(tags), *rest, _pg_array(given), n) for c, t, cat, tags, *rest, given, n in rows),
        )
        self.conn.run(
            "INSERT INTO content (content_id, title, category, tags, description, properties, hidden,"
            " available_from, available_until)"
            " SELECT content_id, title, category, tags, description, properties, hidden, available_from,"
            " available_until FROM import_content ON CONFLICT (content_id) DO NOTHING"
        )
        inserted, updated = self.conn.row_count, 0
        if update:  # after the insert: a row created by another writer meanwhile still takes the line's fields
            new = {"title": "i.title", "category": "i.category"}
            new |= {f: _given("content", f) for f in OPTIONAL_CONTENT_FIELDS}
            window = f"{new['available_until']} <= {new['available_from']}"  # NULL (an open end) is no conflict
            bad = [
                int(r[0])
                for r in self.conn.run(
                    f"SELECT i.line FROM import_content i JOIN content ON content.content_id = i.content_id"
                    f" WHERE {window} ORDER BY i.line"
                )
            ]
            if bad:
                if refuse is not None:
                    refuse(bad)
                self.conn.run("DELETE FROM import_content WHERE line = ANY(CAST(:lines AS integer[]))", lines=bad)
            text_fields = ("title", "category", "tags", "description")
            text = "(" + ", ".join(f"content.{f}" for f in text_fields) + ")"
            new_text = "(" + ", ".join(new[f] for f in text_fields) + ")"
            every = "(" + ", ".join(f"content.{f}" for f in new) + ")"
            new_every = "(" + ", ".join(new.values()) + ")"
            self.conn.run(
                "UPDATE content SET " + ", ".join(f"{f} = {value}" for f, value in new.items()) + ","
                f" text_hash = CASE WHEN {text} IS DISTINCT FROM {new_text} THEN NULL ELSE content.text_hash END,"
                " updated_at = now(), changed_at = now(), changed_xid = pg_current_xact_id()"
                " FROM import_content i"
                f" WHERE content.content_id = i.content_id AND {every} IS DISTINCT FROM {new_every}"
            )
            updated = self.conn.row_count
        # ids created anew after a deletion are no longer deleted
        self.conn.run("DELETE FROM content_deletions d USING import_content i WHERE d.content_id = i.content_id")
        return inserted, updated

    def import_events(self, rows: list[tuple]) -> tuple[int, int, list[tuple[int, str, str]]]:
        """(inserted, skipped, the first skipped): rows are (user_id, content_id, kind, event_type, duration_seconds,
        created_at, the file's line); an event naming a user or content that does not exist is skipped, not
        fatal, and comes back as (line, field, id) in line order, the first ``MAX_SKIPPED_NAMED``."""
        self.conn.run(
            "CREATE TEMP TABLE import_events (user_id text, content_id text, kind text, event_type text,"
            " duration_seconds double precision, created_at timestamptz, line integer) ON COMMIT DROP"
        )
        self._copy("import_events", "user_id, content_id, kind, event_type, duration_seconds, created_at, line", rows)
        self.conn.run(
            "INSERT INTO interactions (user_id, content_id, kind, event_type, duration_seconds, created_at)"
            " SELECT e.user_id, e.content_id, e.kind, e.event_type, e.duration_seconds, COALESCE(e.created_at, now())"
            " FROM import_events e"
            " JOIN users u ON u.user_id = e.user_id JOIN content c ON c.content_id = e.content_id"
        )
        inserted = self.conn.row_count
        total = int(self.conn.run("SELECT count(*) FROM import_events")[0][0])
        if total == inserted:  # the usual case: no second pass over the events
            return inserted, 0, []
        skipped = self.conn.run(
            "SELECT e.line, CASE WHEN u.user_id IS NULL THEN 'user_id' ELSE 'content_id' END,"
            "       CASE WHEN u.user_id IS NULL THEN e.user_id ELSE e.content_id END"
            " FROM import_events e"
            " LEFT JOIN users u ON u.user_id = e.user_id LEFT JOIN content c ON c.content_id = e.content_id"
            " WHERE u.user_id IS NULL OR c.content_id IS NULL ORDER BY e.line LIMIT :most",
            most=MAX_SKIPPED_NAMED,
        )
        return inserted, total - inserted, [(int(r[0]), r[1], r[2]) for r in skipped]

    def imported_span(self) -> tuple[datetime, datetime]:
        """The earliest and the latest time of the events ``import_events`` read, in its transaction."""
        earliest, latest = self.conn.run(
            "SELECT min(COALESCE(created_at, now())), max(COALESCE(created_at, now())) FROM import_events"
        )[0]
        return earliest, latest
