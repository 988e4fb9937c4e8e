"""Anonymous sessions: a visitor who is not signed in has a ``session_id`` (the client's, e.g. a cookie) and
no user. Its events are stored with the session and no user; POST /recommendations/ with the session and no
user answers from them (folded in like a newcomer's events: items that follow or resemble what the session
engaged with; a session with no events gets the newcomer's list), never offering the session's seen items.

When a request or an event names both a user and the session, the session's anonymous events become the
user's (once: the ones already merged are the user's). A session with no event for DUMMI_SESSION_IDLE_DAYS
(30) expires: the metrics job deletes its anonymous events; events a user took over stay the user's.
No numpy here: the interactions function merges sessions without it."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from dummi.db.connection import Connection, Database
from dummi.db.sessions_repository import SessionsRepository
from dummi.progress import NullProgress, Progress

logger = logging.getLogger(__name__)

EXPIRY_BATCH = 1_000  # sessions per transaction of the expiry


def merge_in(conn: Connection, session_id: str | None, user_id: str | None) -> int:
    """In the caller's transaction: with both a session and a user, the session's anonymous events become
    the user's; how many (0 when there were none, or only one of the two was named)."""
    if session_id is None or user_id is None:
        return 0
    merged = SessionsRepository(conn).merge(session_id, user_id)
    if merged:
        logger.info("session merged into user", extra={"events": merged})
    return merged


def merge(db: Database, session_id: str | None, user_id: str | None) -> int:
    """``merge_in`` in a transaction of its own; a read first, so that the common case (nothing to merge)
    writes nothing."""
    if session_id is None or user_id is None:
        return 0
    if not db.read(lambda conn: SessionsRepository(conn).has_anonymous_events(session_id)):
        return 0
    with db.transaction() as conn:
        return merge_in(conn, session_id, user_id)


def session_events(db: Database, session_id: str) -> dict[str, Any]:
    """The session's recent anonymous events (newest first) and every item it interacted with."""
    return db.read(lambda conn: SessionsRepository(conn).session_state(session_id))


def earlier_pages(db: Database, lineage: str, page: int) -> list[str]:
    """Every item shown on a lineage's pages before ``page``."""
    return db.read(lambda conn: SessionsRepository(conn).earlier_pages(lineage, page))


def delete_expired(db: Database, idle: timedelta, *, progress: Progress | None = None) -> int:
    """Delete the anonymous events of sessions idle longer than ``idle``, a batch of sessions per short
    transaction; how many events went."""
    progress = progress or NullProgress()
    progress.start("sessions: deleting the events of expired anonymous sessions")
    total = 0
    while True:
        with db.transaction() as conn:
            deleted = SessionsRepository(conn).delete_idle(idle.total_seconds(), EXPIRY_BATCH)
        total += deleted
        progress.advance(deleted)
        if deleted == 0:
            break
    progress.finish(f"{total} anonymous events deleted")
    return total
