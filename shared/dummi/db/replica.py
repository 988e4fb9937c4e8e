"""Reads on a read replica (``DATABASE_READ_URL`` / ``DATABASE_READ_SECRET_ARN``), with the primary behind it.

:class:`ReadRouted` is a :class:`~dummi.db.connection.Database` for code that reads: ``read`` runs on the
replica while it answers and on the primary when it does not (down, or cancelling a query that conflicts
with its replay); everything that writes (``transaction``, ``autocommit``) goes to the primary. A replica
that failed is left alone for ``retry_seconds``, so an outage costs one connect timeout, not one a request.

What may read a replica: data a client can see a little late without harm (an item's page, a user's
profile, experiment results, the catalog serving refreshes every second). What may not: auth (a revoked
key must stop at once), writes, and the user's own latest events when recommending (a like changes the
very next answer), which read the primary through the plain ``Database``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from functools import lru_cache
from typing import TypeVar

from dummi.config import get_settings
from dummi.db.connection import Connection, Database, database_from_settings, get_database, sqlstate
from dummi.db.urls import resolve_read_url
from dummi.errors import DatabaseUnavailableError

logger = logging.getLogger(__name__)
T = TypeVar("T")

RETRY_SECONDS = 5.0
# 40001: "canceling statement due to conflict with recovery" (hot standby); 57P01..57P03: shutting down,
# cannot connect now (starting up, or a standby that is not yet consistent).
_REPLICA_FAULTS = {"40001", "57P01", "57P02", "57P03"}


class ReadRouted:
    def __init__(self, primary: Database, replica: Database, retry_seconds: float = RETRY_SECONDS) -> None:
        self.primary, self.replica = primary, replica
        self._retry_seconds = retry_seconds
        self._down_until = 0.0
        self._lock = threading.Lock()
        self.replica_reads = self.primary_reads = 0  # what served the reads (tests, the health route)

    @property
    def replica_up(self) -> bool:
        return time.monotonic() >= self._down_until

    def read(self, fn: Callable[[Connection], T]) -> T:
        if self.replica_up:
            try:
                result = self.replica.read(fn)
                self.replica_reads += 1
                return result
            except Exception as exc:
                if not (isinstance(exc, DatabaseUnavailableError) or sqlstate(exc) in _REPLICA_FAULTS):
                    raise
                with self._lock:
                    self._down_until = time.monotonic() + self._retry_seconds
                logger.warning("read replica failed (%s); reading the primary for %.0fs", exc, self._retry_seconds)
        self.primary_reads += 1
        return self.primary.read(fn)

    def transaction(self) -> AbstractContextManager[Connection]:
        return self.primary.transaction()

    def autocommit(self, fn: Callable[[Connection], T]) -> T:
        return self.primary.autocommit(fn)

    def ping(self) -> None:
        self.primary.ping()

    def url(self) -> str:
        return self.primary.url()

    def close(self) -> None:
        self.primary.close()
        self.replica.close()


@lru_cache(maxsize=1)
def get_read_database() -> Database | ReadRouted:
    """Where read-only work reads: the replica routed over the primary, or the primary when none is set."""
    settings = get_settings()
    if not (settings.database_read_url or settings.database_read_secret_arn):
        return get_database()
    return ReadRouted(get_database(), database_from_settings(settings, url=lambda: resolve_read_url(settings)))
