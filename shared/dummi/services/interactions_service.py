"""Record what users do: implicit interactions and explicit feedback, both stored with a server timestamp.

An event sent with the client's ``event_id`` is stored once; a retry gets the stored event back."""

from __future__ import annotations

from dummi.db.connection import Database
from dummi.db.interactions_repository import InteractionsRepository
from dummi.db.records import InteractionRecord

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
) -> InteractionRecord:
    with db.transaction() as conn:
        return InteractionsRepository(conn).add(
            user_id,
            content_id,
            kind=KIND_INTERACTION,
            event_type=interaction_type,
            duration_seconds=duration_seconds,
            event_id=event_id,
        )


def record_feedback(
    db: Database, user_id: str, content_id: str, feedback_type: str, *, event_id: str | None = None
) -> InteractionRecord:
    with db.transaction() as conn:
        return InteractionsRepository(conn).add(
            user_id, content_id, kind=KIND_FEEDBACK, event_type=feedback_type, event_id=event_id
        )
