"""pg8000 connections: created lazily, reused across invocations, reconnected once when dropped.

In Lambda the pool holds one connection (one request at a time per container); the local server uses a
few, one per worker thread that is busy. Two ways in:

* ``db.transaction()``: BEGIN ... COMMIT, rolled back on any error; nothing half-written.
* ``db.read(fn)``: ``fn(conn)`` in autocommit mode, retried once on a fresh connection if the connection
  had dropped (safe, because reads change nothing).
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import TypeVar

import pg8000.native
from pg8000.exceptions import DatabaseError, InterfaceError

from dummi.config import Settings, get_settings
from dummi.db.urls import parse_database_url, resolve_database_url
from dummi.errors import DatabaseUnavailableError

logger = logging.getLogger(__name__)

Connection = pg8000.native.Connection

# pg8000 turns each ``:name`` query into a ``$n`` statement with a tokenizer written in Python, on every
# run: ~0.8 ms for the recommender's one (long) query, a tenth of a request's CPU. The result depends on
# the query text alone, and the queries here are a fixed set, so the conversion is cached.
if not hasattr(pg8000.native.to_statement, "cache_info"):
    pg8000.native.to_statement = lru_cache(maxsize=512)(pg8000.native.to_statement)
T = TypeVar("T")

# Errors that mean "this connection (or the server) is gone", as opposed to an SQL error.
CONNECTION_ERRORS: tuple[type[BaseException], ...] = (InterfaceError, OSError, socket.timeout, EOFError)
# SQLSTATEs that mean the server is shutting down, refusing connections, or out of a resource (its disk full,
# out of memory, an I/O error): the request may succeed later, so a 503 with Retry-After, never a 500.
UNAVAILABLE_SQLSTATES = {"57P01", "57P02", "57P03", "53100", "53200", "53300", "58030", "08000", "08003", "08006"}


def sqlstate(exc: BaseException) -> str | None:
    """The SQLSTATE code of a pg8000 DatabaseError, if any."""
    if isinstance(exc, DatabaseError) and exc.args and isinstance(exc.args[0], dict):
        return exc.args[0].get("C")
    return None


def is_connection_error(exc: BaseException) -> bool:
    return isinstance(exc, CONNECTION_ERRORS) or sqlstate(exc) in UNAVAILABLE_SQLSTATES


class Database:
    """A small pool of pg8000 connections to one database."""

    def __init__(
        self,
        url: str | Callable[[], str],
        *,
        pool_size: int = 1,
        connect_timeout: float = 5.0,
        statement_timeout_ms: int = 15_000,
        acquire_timeout: float = 10.0,
    ) -> None:
        self._url = url
        self._pool_size = pool_size
        self._connect_timeout = connect_timeout
        self._statement_timeout_ms = statement_timeout_ms
        self._acquire_timeout = acquire_timeout
        self._idle: list[Connection] = []
        self._open = 0
        self._cond = threading.Condition()

    # -- connections -------------------------------------------------------------------------------
    def url(self) -> str:
        return self._url() if callable(self._url) else self._url

    def connect(self) -> Connection:
        """Open a new connection (not pooled)."""
        try:
            params = parse_database_url(self.url())
            startup = {"statement_timeout": str(self._statement_timeout_ms), "TimeZone": "UTC"}
            conn = pg8000.native.Connection(
                **params.kwargs(),
                timeout=self._connect_timeout,
                application_name="dummi",
                startup_params=startup,
            )
        except Exception as exc:
            if is_connection_error(exc):
                raise DatabaseUnavailableError(f"cannot connect to Postgres: {exc}") from exc
            raise
        # pg8000 uses one socket timeout for connecting and for every read. Connecting keeps the short
        # one; reads wait longer than the server's statement_timeout (half as long again, at least 2 s
        # more), so a healthy slow query is cut by Postgres (a clear error) and only a hung or dead
        # server trips the socket timeout.
        sock = getattr(conn, "_usock", None)
        if sock is not None and self._statement_timeout_ms:
            seconds = self._statement_timeout_ms / 1000
            sock.settimeout(seconds + max(2.0, seconds / 2))
        return conn

    def _acquire(self) -> Connection:
        with self._cond:
            while not self._idle and self._open >= self._pool_size:
                if not self._cond.wait(timeout=self._acquire_timeout):
                    raise DatabaseUnavailableError("no database connection free in time")
            if self._idle:
                return self._idle.pop()
            self._open += 1
        try:
            conn = self.connect()
        except BaseException:
            with self._cond:
                self._open -= 1
                self._cond.notify()
            raise
        return conn

    def _release(self, conn: Connection, *, broken: bool = False) -> None:
        if broken:
            try:
                conn.close()
            except Exception:  # noqa: BLE001 - it is already broken
                pass
        with self._cond:
            if broken:
                self._open -= 1
            else:
                self._idle.append(conn)
            self._cond.notify()

    def close(self) -> None:
        """Close every idle connection (used on shutdown and by tests)."""
        with self._cond:
            idle, self._idle = self._idle, []
            self._open -= len(idle)
        for conn in idle:
            try:
                conn.close()
            except Exception:  # noqa: BLE001
                pass

    # -- units of work -----------------------------------------------------------------------------
    def _begin(self, conn: Connection, statement: str | None) -> Connection:
        """Run the first statement; on a dropped connection replace it once (nothing was done yet)."""
        if statement is None:
            return conn
        try:
            conn.run(statement)
            return conn
        except Exception as exc:
            if not is_connection_error(exc):
                self._release(conn)
                raise
            logger.warning("database connection dropped; reconnecting once")
            self._release(conn, broken=True)
            conn = self._acquire()
            try:
                conn.run(statement)
            except Exception as exc2:
                self._release(conn, broken=is_connection_error(exc2))
                raise DatabaseUnavailableError(f"Postgres is unavailable: {exc2}") from exc2
            return conn

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """BEGIN ... COMMIT on a pooled connection; ROLLBACK on any error."""
        conn = self._begin(self._acquire(), "BEGIN")
        try:
            yield conn
            conn.run("COMMIT")
        except BaseException as exc:
            broken = is_connection_error(exc)
            if not broken:
                try:
                    conn.run("ROLLBACK")
                except Exception:  # noqa: BLE001
                    broken = True
            self._release(conn, broken=broken)
            if broken and not isinstance(exc, DatabaseUnavailableError):
                raise DatabaseUnavailableError(f"Postgres is unavailable: {exc}") from exc
            raise
        else:
            self._release(conn)

    def ping(self) -> None:
        """One round trip to Postgres; raises DatabaseUnavailableError when it cannot be reached."""
        self.read(lambda conn: conn.run("SELECT 1"))

    def read(self, fn: Callable[[Connection], T]) -> T:
        """Run a read-only ``fn(conn)`` in autocommit mode, retrying once on a dropped connection."""
        return self.autocommit(fn)

    def autocommit(self, fn: Callable[[Connection], T]) -> T:
        """Run ``fn(conn)`` in autocommit mode (no BEGIN/COMMIT round trips), retrying once on a dropped
        connection: for reads, and for single statements that are safe to repeat (an idempotent INSERT)."""
        for attempt in (1, 2):
            conn = self._acquire()
            try:
                result = fn(conn)
            except BaseException as exc:
                broken = is_connection_error(exc)
                self._release(conn, broken=broken)
                if broken and attempt == 1:
                    logger.warning("database connection dropped; reconnecting once")
                    continue
                if broken:
                    raise DatabaseUnavailableError(f"Postgres is unavailable: {exc}") from exc
                raise
            self._release(conn)
            return result
        raise AssertionError("unreachable")  # pragma: no cover


def database_from_settings(settings: Settings, url: Callable[[], str] | None = None) -> Database:
    """A pool with the settings' sizes and timeouts, to the primary or to ``url`` (a read replica)."""
    return Database(
        url or (lambda: resolve_database_url(settings)),
        pool_size=settings.dummi_db_pool_size,
        connect_timeout=settings.dummi_db_connect_timeout,
        statement_timeout_ms=settings.dummi_db_statement_timeout_ms,
    )


@lru_cache(maxsize=1)
def get_database() -> Database:
    """The process-wide database (one per Lambda container), created on first use."""
    return database_from_settings(get_settings())
