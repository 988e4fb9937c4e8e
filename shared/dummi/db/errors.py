"""Translate Postgres errors into domain errors in one place."""

from __future__ import annotations

from dummi.db.connection import sqlstate

UNIQUE_VIOLATION = "23505"
FOREIGN_KEY_VIOLATION = "23503"


def is_unique_violation(exc: BaseException) -> bool:
    return sqlstate(exc) == UNIQUE_VIOLATION


def is_foreign_key_violation(exc: BaseException) -> bool:
    return sqlstate(exc) == FOREIGN_KEY_VIOLATION
