"""POST /recommendations/interact and POST /recommendations/feedback."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Response

from dummi.api.auth import WRITE
from dummi.api.deps import DatabaseDep
from dummi.api.errors import error_responses
from dummi.api.schemas import FeedbackPublic, InteractionPublic, model_response
from dummi.domain.inputs import FeedbackCreate, InteractionCreate
from dummi.services import interactions_service

router = APIRouter(
    prefix="/recommendations",
    tags=["interactions"],
    dependencies=[WRITE],
    responses=error_responses(400, 401, 403, 413),
)


@router.post("/interact", status_code=201, response_model=InteractionPublic, responses=error_responses(404, 409, 503))
def record_interaction(body: InteractionCreate, db: DatabaseDep) -> Response:
    """Record a click, like, skip, view_time (with duration_seconds) or a type defined with PUT /event-types/{name},
    of a user, of an anonymous session (session_id, no user_id) or of a user in a session (the session's earlier
    events become the user's); 422 names an unknown interaction_type; 404 an unknown user, content or
    recommendation_id; 409 a recommendation_id whose answer did not list the content."""
    event = interactions_service.record_interaction(
        db,
        body.user_id,
        body.content_id,
        body.interaction_type,
        body.duration_seconds,
        event_id=body.event_id,
        recommendation_id=_text(body.recommendation_id),
        session_id=body.session_id,
    )
    public = InteractionPublic(
        interaction_id=event.interaction_id,
        user_id=event.user_id,
        session_id=event.session_id,
        content_id=event.content_id,
        interaction_type=event.event_type,
        duration_seconds=event.duration_seconds,
        timestamp=event.created_at,
        event_id=event.event_id,
        recommendation_id=event.recommendation_id,
        position=event.position,
        attribution=event.attribution,
    )
    return model_response(public, 201)


@router.post("/feedback", status_code=201, response_model=FeedbackPublic, responses=error_responses(404, 409, 503))
def record_feedback(body: FeedbackCreate, db: DatabaseDep) -> Response:
    """Record explicit feedback: positive, negative or neutral (attributed as interactions are)."""
    event = interactions_service.record_feedback(
        db,
        body.user_id,
        body.content_id,
        body.feedback_type.value,
        event_id=body.event_id,
        recommendation_id=_text(body.recommendation_id),
        session_id=body.session_id,
    )
    public = FeedbackPublic(
        interaction_id=event.interaction_id,
        user_id=event.user_id,
        session_id=event.session_id,
        content_id=event.content_id,
        feedback_type=event.event_type,
        timestamp=event.created_at,
        event_id=event.event_id,
        recommendation_id=event.recommendation_id,
        position=event.position,
        attribution=event.attribution,
    )
    return model_response(public, 201)


def _text(value: UUID | None) -> str | None:
    return str(value) if value is not None else None
