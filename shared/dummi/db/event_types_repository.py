"""All SQL about event types: the interaction types a product may send and their weights."""

from __future__ import annotations

from dummi.db.connection import Connection
from dummi.domain.events import EventTypeRecord
from dummi.errors import ConflictError, NotFoundError

_COLUMNS = "name, weight, description, builtin, created_at, updated_at"
# Every event of these types is a built-in one: the partial index on interactions holds the others only,
# so that "does any event use this custom type" is an index probe (a query must repeat this list to use it).
_BUILTIN_AND_FEEDBACK = "('like', 'click', 'view_time', 'skip', 'positive', 'negative', 'neutral')"


def _record(row: list) -> EventTypeRecord:
    return EventTypeRecord(row[0], float(row[1]), row[2], bool(row[3]), row[4], row[5])


class EventTypesRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def weights(self) -> dict[str, float]:
        return {name: float(weight) for name, weight in self.conn.run("SELECT name, weight FROM event_types")}

    def list(self) -> list[EventTypeRecord]:
        """Built-in types first, then the product's own, each by name."""
        rows = self.conn.run(f"SELECT {_COLUMNS} FROM event_types ORDER BY builtin DESC, name")
        return [_record(row) for row in rows]

    def get(self, name: str) -> EventTypeRecord | None:
        rows = self.conn.run(f"SELECT {_COLUMNS} FROM event_types WHERE name = :name", name=name)
        return _record(rows[0]) if rows else None

    def put(self, name: str, weight: float, description: str | None) -> tuple[EventTypeRecord, bool]:
        """Create the type or change its weight (and its description, when given); (the row, created)."""
        rows = self.conn.run(
            "INSERT INTO event_types AS t (name, weight, description)"
            " VALUES (:name, :weight, COALESCE(:description, ''))"
            " ON CONFLICT (name) DO UPDATE SET weight = EXCLUDED.weight,"
            "   description = COALESCE(:description, t.description),"
            "   updated_at = CASE WHEN (t.weight, t.description) IS DISTINCT FROM"
            "     (EXCLUDED.weight, COALESCE(:description, t.description)) THEN now() ELSE t.updated_at END"
            f" RETURNING {_COLUMNS}, (xmax = 0)",
            name=name,
            weight=weight,
            description=description,
        )
        return _record(rows[0]), bool(rows[0][6])

    def lock_for_use(self, names: list[str]) -> set[str]:
        """The defined ones among ``names``, each locked (key share) until the transaction ends, so that none is
        deleted before an event naming it is written (a foreign key's lock, taken by hand: the column holds
        feedback types too)."""
        rows = self.conn.run(
            "SELECT name FROM event_types WHERE name = ANY(CAST(:names AS text[])) ORDER BY name FOR KEY SHARE",
            names=list(names),
        )
        return {row[0] for row in rows}

    def delete(self, name: str) -> EventTypeRecord:
        """Delete a custom type no event uses (404 unknown, 409 built-in or in use)."""
        rows = self.conn.run(f"SELECT {_COLUMNS} FROM event_types WHERE name = :name FOR UPDATE", name=name)
        if not rows:
            raise NotFoundError("event type", name, field="name")
        found = _record(rows[0])
        if found.builtin:
            raise ConflictError(
                f"event type {name!r} is built in: change its weight, it cannot be deleted", field="name"
            )
        # a new statement, so a new snapshot: events written by a transaction that held the key-share lock
        # until just now are seen
        used = self.conn.run(
            "SELECT EXISTS (SELECT 1 FROM interactions WHERE event_type = :name"
            f" AND event_type NOT IN {_BUILTIN_AND_FEEDBACK} AND kind = 'interaction')",
            name=name,
        )[0][0]
        if used:
            raise ConflictError(f"event type {name!r} is used by stored events: it cannot be deleted", field="name")
        self.conn.run("DELETE FROM event_types WHERE name = :name", name=name)
        return found
