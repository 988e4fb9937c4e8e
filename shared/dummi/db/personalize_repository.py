"""All SQL of the Personalize-compatible surface: filters, SigV4 credentials, PutEvents' extra fields and the
context kept with an answer (migration 0013)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pg8000.exceptions import DatabaseError

from dummi.db.connection import Connection
from dummi.db.errors import is_unique_violation
from dummi.errors import ConflictError, NotFoundError


@dataclass(frozen=True, slots=True)
class FilterRecord:
    filter_arn: str
    name: str
    dataset_group_arn: str
    filter_expression: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Sigv4KeyRecord:
    access_key_id: str
    name: str
    scopes: list[str]
    secret_sealed: str
    created_at: datetime
    revoked_at: datetime | None


_FILTER_COLUMNS = "filter_arn, name, dataset_group_arn, filter_expression, created_at, updated_at"
_KEY_COLUMNS = "access_key_id, name, scopes, secret_sealed, created_at, revoked_at"


class FiltersRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def insert(self, filter_arn: str, name: str, dataset_group_arn: str, expression: str) -> FilterRecord:
        """ConflictError when a filter of that name exists."""
        try:
            rows = self.conn.run(
                f"INSERT INTO personalize_filters (filter_arn, name, dataset_group_arn, filter_expression)"
                f" VALUES (:arn, :name, :group, :expression) RETURNING {_FILTER_COLUMNS}",
                arn=filter_arn,
                name=name,
                group=dataset_group_arn,
                expression=expression,
            )
        except DatabaseError as exc:
            if is_unique_violation(exc):
                raise ConflictError(f"a filter named {name!r} already exists", field="name") from None
            raise
        return FilterRecord(*rows[0])

    def get(self, filter_arn: str) -> FilterRecord | None:
        rows = self.conn.run(
            f"SELECT {_FILTER_COLUMNS} FROM personalize_filters WHERE filter_arn = :arn", arn=filter_arn
        )
        return FilterRecord(*rows[0]) if rows else None

    def page(self, dataset_group_arn: str | None, after: str | None, limit: int) -> list[FilterRecord]:
        """Filters ordered by ARN, those after ``after``; ``limit`` of them."""
        rows = self.conn.run(
            f"SELECT {_FILTER_COLUMNS} FROM personalize_filters"
            f" WHERE (CAST(:group AS text) IS NULL OR dataset_group_arn = :group)"
            f"   AND (CAST(:after AS text) IS NULL OR filter_arn > :after)"
            f" ORDER BY filter_arn LIMIT :limit",
            group=dataset_group_arn,
            after=after,
            limit=limit,
        )
        return [FilterRecord(*row) for row in rows]

    def delete(self, filter_arn: str) -> None:
        rows = self.conn.run("DELETE FROM personalize_filters WHERE filter_arn = :arn RETURNING 1", arn=filter_arn)
        if not rows:
            raise NotFoundError("filter", filter_arn, field="filterArn")


class Sigv4KeysRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def insert(self, access_key_id: str, name: str, scopes: list[str], secret_sealed: str) -> Sigv4KeyRecord:
        rows = self.conn.run(
            f"INSERT INTO sigv4_keys (access_key_id, name, scopes, secret_sealed)"
            f" VALUES (:key_id, :name, CAST(:scopes AS text[]), :sealed) RETURNING {_KEY_COLUMNS}",
            key_id=access_key_id,
            name=name,
            scopes=scopes,
            sealed=secret_sealed,
        )
        return _key(rows[0])

    def get(self, access_key_id: str) -> Sigv4KeyRecord | None:
        rows = self.conn.run(
            f"SELECT {_KEY_COLUMNS} FROM sigv4_keys WHERE access_key_id = :key_id", key_id=access_key_id
        )
        return _key(rows[0]) if rows else None

    def list(self, *, include_revoked: bool) -> list[Sigv4KeyRecord]:
        rows = self.conn.run(
            f"SELECT {_KEY_COLUMNS} FROM sigv4_keys WHERE CAST(:all AS boolean) OR revoked_at IS NULL"
            f" ORDER BY created_at, access_key_id",
            all=include_revoked,
        )
        return [_key(row) for row in rows]

    def revoke(self, access_key_id: str) -> Sigv4KeyRecord:
        rows = self.conn.run(
            f"UPDATE sigv4_keys SET revoked_at = COALESCE(revoked_at, now()) WHERE access_key_id = :key_id"
            f" RETURNING {_KEY_COLUMNS}",
            key_id=access_key_id,
        )
        if not rows:
            raise NotFoundError("SigV4 key", access_key_id, field="access_key_id")
        return _key(rows[0])

    def reseal(self, access_key_id: str, secret_sealed: str) -> None:
        self.conn.run(
            "UPDATE sigv4_keys SET secret_sealed = :sealed WHERE access_key_id = :key_id",
            key_id=access_key_id,
            sealed=secret_sealed,
        )


def _key(row: list) -> Sigv4KeyRecord:
    return Sigv4KeyRecord(row[0], row[1], list(row[2]), row[3], row[4], row[5])


class PersonalizeEventsRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def keep(
        self,
        interaction_id: int,
        *,
        session_id: str,
        event_type: str,
        event_value: float | None,
        impression: list[str] | None,
        properties: dict[str, Any] | None,
    ) -> None:
        """PutEvents' own fields beside the stored interaction (a retry of the same event keeps the first)."""
        self.conn.run(
            "INSERT INTO personalize_events (interaction_id, session_id, event_type, event_value, impression,"
            " properties) VALUES (:id, :session, :type, CAST(:value AS double precision), CAST(:impression AS"
            " text[]), CAST(:properties AS jsonb)) ON CONFLICT (interaction_id) DO NOTHING",
            id=interaction_id,
            session=session_id,
            type=event_type,
            value=event_value,
            impression=impression,
            properties=json.dumps(properties) if properties is not None else None,
        )

    def of_session(self, session_id: str) -> list[tuple[int, str, float | None]]:
        rows = self.conn.run(
            "SELECT interaction_id, event_type, event_value FROM personalize_events WHERE session_id = :session"
            " ORDER BY interaction_id",
            session=session_id,
        )
        return [tuple(row) for row in rows]

    def typed_history(self, user_id: str) -> list[tuple[str, str, str | None]]:
        """Every event of the user: (content id, Dummi's type, the eventType PutEvents sent or None)."""
        rows = self.conn.run(
            "SELECT i.content_id, i.event_type, p.event_type FROM interactions i"
            " LEFT JOIN personalize_events p ON p.interaction_id = i.interaction_id WHERE i.user_id = :user",
            user=user_id,
        )
        return [tuple(row) for row in rows]

    def keep_context(self, recommendation_id: str, context: dict[str, str]) -> None:
        self.conn.run(
            "INSERT INTO impression_contexts (recommendation_id, context) VALUES (CAST(:id AS uuid),"
            " CAST(:context AS jsonb)) ON CONFLICT (recommendation_id) DO NOTHING",
            id=recommendation_id,
            context=json.dumps(context),
        )

    def context_of(self, recommendation_id: str) -> dict[str, str] | None:
        rows = self.conn.run(
            "SELECT context FROM impression_contexts WHERE recommendation_id = CAST(:id AS uuid)", id=recommendation_id
        )
        return rows[0][0] if rows else None
