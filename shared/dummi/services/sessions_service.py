"""Anonymous sessions: a visitor who is not signed in has a ``session_id`` (the client's, e.g. a cookie) and
no user. Its events are stored with the session and no user; POST /recommendations/ with the session and no
user answers from them (folded in like a newcomer's events: items that follow or resemble what the session
engaged with; a session with no events gets the newcomer's list), never offering the session's seen items.

When a request or an event names both a user and the session, the session's anonymous events become the
user's (once: the ones already merged are the user's). A session with no event for DUMMI_SESSION_IDLE_DAYS
(30) expires: the metrics job deletes its anonymous events; events a user took over stay the user's.
No numpy here: the interactions function merges sessions without it. Each function takes a ``Database`` or
a ``UnitOfWork`` (``dummi.services.unit_of_work``)."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from dummi.progress import NullProgress, Progress
from dummi.services.unit_of_work import Repositories, Source, UnitOfWork, work_of

logger = logging.getLogger(__name__)

EXPIRY_BATCH = 1_000  # sessions per transaction of the expiry


def merge_in(repos: Repositories, session_id: str | None, user_id: str | None) -> int:
    """In the caller's transaction: with both a session and a user, the session's anonymous events become
    the user's; how many (0 when there were none, or only one of the two was named)."""
    if session_id is None or user_id is None:
        return 0
    merged = repos.sessions.merge(session_id, user_id)
    if merged:
        logger.info("session merged into user", extra={"events": merged})
    return merged


def merge(db: Source | UnitOfWork, session_id: str | None, user_id: str | None) -> int:
    """``merge_in`` in a transaction of its own; a read first, so that the common case (nothing to merge)
    writes nothing."""
    if session_id is None or user_id is None:
        return 0
    work = work_of(db)
    if not work.read(lambda repos: repos.sessions.has_anonymous_events(session_id)):
        return 0
    with work.transaction() as repos:
        return merge_in(repos, session_id, user_id)


def session_events(db: Source | UnitOfWork, session_id: str, earlier: tuple[str, int] | None = None) -> dict[str, Any]:
    """The session's recent anonymous events (newest first) and every item it interacted with; with
    ``earlier`` = (lineage, page), also ``shown``, the items of that lineage's earlier pages (one read)."""
    return work_of(db).read(lambda repos: repos.sessions.session_state(session_id, earlier=earlier))


def delete_expired(db: Source | UnitOfWork, idle: timedelta, *, progress: Progress | None = None) -> int:
    """Delete the anonymous events of sessions idle longer than ``idle``, a batch of sessions per short
    transaction; how many events went."""
    progress = progress or NullProgress()
    progress.start("sessions: deleting the events of expired anonymous sessions")
    work = work_of(db)
    total = 0
    while True:
        with work.transaction() as repos:
            deleted = repos.sessions.delete_idle(idle.total_seconds(), EXPIRY_BATCH)
        total += deleted
        progress.advance(deleted)
        if deleted == 0:
            break
    progress.finish(f"{total} anonymous events deleted")
    return total
