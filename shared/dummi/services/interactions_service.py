"""Record what users do: implicit interactions and explicit feedback, both stored with a server timestamp.

An event sent with the client's ``event_id`` is stored once; a retry gets the stored event back. Each event
is attributed to the answer it came from (``impressions_service.attribute``) in the same transaction. Each takes a
``Database`` or a ``UnitOfWork`` (``dummi.services.unit_of_work``)."""

from __future__ import annotations

from datetime import timedelta

from dummi.config import get_settings
from dummi.db.impressions_repository import Attribution
from dummi.db.records import InteractionRecord
from dummi.services import sessions_service
from dummi.services.event_types_service import require_defined
from dummi.services.impressions_service import attribute
from dummi.services.unit_of_work import Repositories, Source, UnitOfWork, work_of

KIND_INTERACTION = "interaction"
KIND_FEEDBACK = "feedback"


def record_interaction(
    db: Source | UnitOfWork,
    user_id: str | None,
    content_id: str,
    interaction_type: str,
    duration_seconds: float | None,
    *,
    event_id: str | None = None,
    recommendation_id: str | None = None,
    session_id: str | None = None,
) -> InteractionRecord:
    """One event of a user, of an anonymous session (no user), or of a user in a session (the session's
    earlier anonymous events join the user's history first, in the same transaction)."""
    with work_of(db).transaction() as repos:
        require_defined(repos, [interaction_type])  # 422 naming interaction_type; the type kept until commit
        sessions_service.merge_in(repos, session_id, user_id)
        return repos.interactions.add(
            user_id,
            content_id,
            kind=KIND_INTERACTION,
            event_type=interaction_type,
            duration_seconds=duration_seconds,
            event_id=event_id,
            attribution=_attribution(repos, user_id, content_id, recommendation_id, session_id),
            session_id=session_id,
        )


def record_feedback(
    db: Source | UnitOfWork,
    user_id: str | None,
    content_id: str,
    feedback_type: str,
    *,
    event_id: str | None = None,
    recommendation_id: str | None = None,
    session_id: str | None = None,
) -> InteractionRecord:
    with work_of(db).transaction() as repos:
        sessions_service.merge_in(repos, session_id, user_id)
        return repos.interactions.add(
            user_id,
            content_id,
            kind=KIND_FEEDBACK,
            event_type=feedback_type,
            event_id=event_id,
            attribution=_attribution(repos, user_id, content_id, recommendation_id, session_id),
            session_id=session_id,
        )


def _attribution(
    repos: Repositories, user_id: str | None, content_id: str, recommendation_id: str | None, session_id: str | None
) -> Attribution | None:
    # (a retry of a stored event gets the stored row back, with the attribution it got the first time)
    settings = get_settings()
    return attribute(
        repos.impressions,
        user_id,
        content_id,
        recommendation_id,
        window=timedelta(minutes=settings.dummi_attribution_window_minutes),
        retention=timedelta(days=settings.dummi_impression_retention_days),
        session_id=session_id,
    )
