"""Record what users do: implicit interactions and explicit feedback, both stored with a server timestamp.

An event sent with the client's ``event_id`` is stored once; a retry gets the stored event back. Each event
is attributed to the answer it came from (``impressions_service.attribute``) in the same transaction."""

from __future__ import annotations

from datetime import timedelta

from dummi.config import get_settings
from dummi.db.connection import Connection, Database
from dummi.db.interactions_repository import InteractionsRepository
from dummi.db.records import InteractionRecord
from dummi.services.event_types_service import require_defined
from dummi.services.impressions_service import attribute

KIND_INTERACTION = "interaction"
KIND_FEEDBACK = "feedback"


def record_interaction(
    db: Database,
    user_id: str,
    content_id: str,
    interaction_type: str,
    duration_seconds: float | None,
    *,
    event_id: str | None = None,
    recommendation_id: str | None = None,
) -> InteractionRecord:
    with db.transaction() as conn:
        require_defined(conn, [interaction_type])  # 422 naming interaction_type; the type kept until commit
        return InteractionsRepository(conn).add(
            user_id,
            content_id,
            kind=KIND_INTERACTION,
            event_type=interaction_type,
            duration_seconds=duration_seconds,
            event_id=event_id,
            attribution=_attribution(conn, user_id, content_id, recommendation_id),
        )


def record_feedback(
    db: Database,
    user_id: str,
    content_id: str,
    feedback_type: str,
    *,
    event_id: str | None = None,
    recommendation_id: str | None = None,
) -> InteractionRecord:
    with db.transaction() as conn:
        return InteractionsRepository(conn).add(
            user_id,
            content_id,
            kind=KIND_FEEDBACK,
            event_type=feedback_type,
            event_id=event_id,
            attribution=_attribution(conn, user_id, content_id, recommendation_id),
        )


def _attribution(conn: Connection, user_id: str, content_id: str, recommendation_id: str | None):
    # (a retry of a stored event gets the stored row back, with the attribution it got the first time)
    settings = get_settings()
    return attribute(
        conn,
        user_id,
        content_id,
        recommendation_id,
        window=timedelta(minutes=settings.dummi_attribution_window_minutes),
        retention=timedelta(days=settings.dummi_impression_retention_days),
    )
