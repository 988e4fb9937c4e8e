"""The API's answers (Public models, the health and error bodies); what a client sends lives in
``dummi.domain.inputs``, shared with import, the sample data and batch."""

from __future__ import annotations

from datetime import datetime

from fastapi import Response
from pydantic import BaseModel, Field

from dummi.domain.inputs import HIDDEN, FeedbackType


# -- users -----------------------------------------------------------------------------------------
class UserPublic(BaseModel):
    user_id: str
    interests: list[str]
    skill_level: str
    history: list[str] = Field(description="content ids the user interacted with, most recent first")
    created_at: datetime
    updated_at: datetime


# -- content ---------------------------------------------------------------------------------------
class ContentPublic(BaseModel):
    content_id: str
    title: str
    category: str
    tags: list[str]
    description: str
    properties: dict[str, bool | int | float | str] = Field(default={}, description="the item's properties")
    hidden: bool = Field(default=False, description=HIDDEN)
    available_from: datetime | None = None
    available_until: datetime | None = None
    created_at: datetime
    updated_at: datetime


class ContentPage(BaseModel):
    category: str
    items: list[ContentPublic]
    total: int = Field(description="items in the category")
    limit: int
    offset: int


# -- interactions and feedback ---------------------------------------------------------------------
class Attributed(BaseModel):
    recommendation_id: str | None = Field(default=None, description="the answer the event is attributed to")
    position: int | None = Field(default=None, description="the item's 1-based position in that answer")
    attribution: str | None = Field(default=None, description="explicit | window; null: unattributed")


class InteractionPublic(Attributed):
    interaction_id: int
    user_id: str | None = Field(description="null: an anonymous session's event")
    session_id: str | None = None
    content_id: str
    interaction_type: str
    duration_seconds: float | None
    timestamp: datetime
    event_id: str | None = None


class FeedbackPublic(Attributed):
    interaction_id: int
    user_id: str | None = Field(description="null: an anonymous session's event")
    session_id: str | None = None
    content_id: str
    feedback_type: FeedbackType
    timestamp: datetime
    event_id: str | None = None


# -- service ---------------------------------------------------------------------------------------
class Health(BaseModel):
    status: str = Field(
        description="ok; or degraded when the database cannot be reached (a 503) or the result cache cannot (a 200:"
        " every route answers, computing what the cache would have held)"
    )
    database: str
    cache: str | None = Field(
        default=None,
        description="the result cache (DUMMI_RESULT_CACHE_URL): ok or unavailable; null where this process has none",
    )
    version: str
    auth: bool = Field(default=False, description="true: every other route needs an X-API-Key (DUMMI_AUTH=on)")
    reason: str | None = Field(
        default=None,
        description="why the status is degraded (e.g. the embedded Postgres of `dummi run` is being restarted, or"
        " the result cache's server cannot be reached); null when ok",
    )


class ErrorResponse(BaseModel):
    """The body of every 4xx/5xx that is not a schema violation (those use FastAPI's 422 format)."""

    detail: str
    code: str
    field: str | None = None


def model_response(model: BaseModel, status_code: int = 200) -> Response:
    """``model`` as the JSON answer, as it is. For the hot routes: FastAPI would dump a returned model and
    validate it again against the response model, on a thread-pool hop for a ``def`` route (~0.5 ms of a
    request under load). Those routes keep ``response_model=`` so the spec is unchanged."""
    return Response(model.model_dump_json(), status_code=status_code, media_type="application/json")
