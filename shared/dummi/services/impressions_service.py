"""Impressions and attribution: every answer is logged under a time-ordered id before it returns, and an
interaction is tied to the answer it came from (the id the client gives, else the latest answer to the same
user that listed the item within the attribution window, else none)."""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from dummi.db.impressions_repository import Attribution, Impression, ImpressionsRepository
from dummi.errors import ConflictError, NotFoundError
from dummi.progress import NullProgress, Progress
from dummi.services.unit_of_work import Source, UnitOfWork, work_of
from dummi.telemetry import count

if TYPE_CHECKING:  # the interactions function attributes events without numpy: no runtime import of ml
    from dummi.domain.ranking import Recommendation

logger = logging.getLogger(__name__)

DEFAULT_SURFACE = "api"
RETENTION_BATCH = 10_000


def new_recommendation_id(now: float | None = None) -> str:
    """A UUIDv7 (RFC 9562): 48 bits of Unix time in ms, then random bits; ids sort by time."""
    ms = int((time.time() if now is None else now) * 1000) & ((1 << 48) - 1)
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms << 80) | (0x7 << 76) | ((rand >> 68) & 0xFFF) << 64 | (0b10 << 62) | (rand & ((1 << 62) - 1))
    return str(uuid.UUID(int=value))


def id_time(recommendation_id: str) -> datetime | None:
    """When a UUIDv7 was made (None for other UUIDs)."""
    value = uuid.UUID(recommendation_id)
    if value.version != 7:
        return None
    return datetime.fromtimestamp((value.int >> 80) / 1000, UTC)


def log_answer(
    db: Source | UnitOfWork,
    recs: Sequence[Recommendation],
    *,
    user_id: str | None,
    surface: str,
    endpoint: str,
    model_version: str | None,
    experiment: str | None = None,
    variant: str | None = None,
    session_id: str | None = None,
    page: int | None = None,
    lineage: str | None = None,
) -> str | None:
    """Log the answer in one statement and give its id; None when it could not be written (the answer still
    goes out, unattributable; counted as ImpressionWriteFailures, which an alarm watches). A ``page`` of a
    lineage (``dummi.services.page_tokens``): page 1 starts its own lineage (its id)."""
    recommendation_id = new_recommendation_id()
    if page is not None and lineage is None:
        lineage = recommendation_id
    promoted = [k for k, r in enumerate(recs, start=1) if getattr(r, "promoted", None)]
    impression = Impression(
        recommendation_id=recommendation_id,
        user_id=user_id,
        surface=surface,
        endpoint=endpoint,
        model_version=model_version,
        experiment=experiment,
        variant=variant,
        created_at=None,
        item_ids=[r.content_id for r in recs],
        scores=[float(r.score) for r in recs],
        methods=[r.method for r in recs],
        propensities=[r.propensity for r in recs] if any(r.propensity is not None for r in recs) else None,
        explore=[r.explore_context for r in recs if r.explore_context is not None] or None,
        session_id=session_id,
        lineage=lineage,
        page=page,
        promotion=recs[promoted[0] - 1].promoted if promoted else None,
        promoted=promoted or None,
    )
    try:
        work_of(db).autocommit(lambda repos: repos.impressions.log(impression))
    except Exception:  # noqa: BLE001 - an answer is worth more than its log line
        logger.exception("impression not logged")
        count("ImpressionWriteFailures")
        return None
    return recommendation_id


def attribute(
    impressions: ImpressionsRepository,
    user_id: str | None,
    content_id: str,
    recommendation_id: str | None,
    *,
    window: timedelta,
    retention: timedelta,
    session_id: str | None = None,
) -> Attribution | None:
    """The answer an interaction of ``user_id`` (or, without one, of the session) with ``content_id`` came
    from, or None (unattributed).

    An explicit id must name an answer to this user (or to nobody: /popular, /similar; or to the event's
    session) that listed the item: otherwise a ConflictError. An id the log does not hold is a NotFoundError,
    unless it is older than the retention period (its answer was deleted): then the interaction is kept,
    unattributed."""
    repo = impressions
    if recommendation_id is not None:
        impression = repo.get(recommendation_id)
        if impression is None:
            made = id_time(recommendation_id)
            if made is not None and made < datetime.now(UTC) - retention:
                return None
            raise NotFoundError("recommendation", recommendation_id, field="recommendation_id")
        to_session = impression.user_id is None and impression.session_id is not None
        if to_session and impression.session_id != session_id:
            raise ConflictError(
                f"recommendation {recommendation_id!r} was an answer to another session", field="recommendation_id"
            )
        if impression.user_id is not None and impression.user_id != user_id:
            raise ConflictError(
                f"recommendation {recommendation_id!r} was an answer to another user", field="recommendation_id"
            )
        if content_id not in impression.item_ids:
            raise ConflictError(
                f"recommendation {recommendation_id!r} did not list content {content_id!r}", field="recommendation_id"
            )
        return Attribution(recommendation_id, impression.item_ids.index(content_id) + 1, "explicit")
    if window.total_seconds() <= 0:
        return None
    if user_id is None and session_id is None:
        return None
    return repo.latest_listing(user_id, content_id, window, session_id)


def delete_expired(db: Source | UnitOfWork, retention: timedelta, *, progress: Progress | None = None) -> int:
    """Delete impressions older than ``retention`` in batches (each its own short transaction, so that a
    large backlog never holds one long lock); how many were deleted."""
    progress = progress or NullProgress()
    cutoff = datetime.now(UTC) - retention
    total = 0
    progress.start("retention: deleting impressions older than the retention period")
    work = work_of(db)
    while True:
        with work.transaction() as repos:
            deleted = repos.impressions.delete_older_than(cutoff, RETENTION_BATCH)
        total += deleted
        progress.advance(deleted)
        if deleted < RETENTION_BATCH:
            break
    progress.finish(f"{total} impressions deleted")
    return total
