"""/users routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, Field

from dummi.api.auth import ADMIN, READ, WRITE
from dummi.api.deps import DatabaseDep, EmbeddingQueueDep, ReadDatabaseDep
from dummi.api.errors import create_responses, error_responses
from dummi.api.schemas import UserPublic
from dummi.domain.inputs import DEFAULT_HISTORY_LIMIT, MAX_HISTORY_LIMIT, MAX_ID_LENGTH, UserCreate, UserUpdate
from dummi.services import users_service
from dummi.services.users_service import UserWithHistory

router = APIRouter(prefix="/users", tags=["users"], responses=error_responses(401, 403))

UserIdPath = Annotated[str, Path(min_length=1, max_length=MAX_ID_LENGTH, description="the user's id")]
HistoryLimit = Annotated[
    int, Query(ge=0, le=MAX_HISTORY_LIMIT, description="how many history entries to return, newest first")
]


def _public(found: UserWithHistory) -> UserPublic:
    user = found.user
    return UserPublic(
        user_id=user.user_id,
        interests=user.interests,
        skill_level=user.skill_level,
        history=found.history,
        created_at=user.created_at,
        updated_at=user.updated_at,
    )


# API Gateway HTTP API routes cannot end in "/": the template declares the path without it and the
# gateway sends either form, so both are served here (no redirect round trip).
@router.post("", status_code=201, include_in_schema=False, dependencies=[WRITE])
@router.post(
    "/",
    status_code=201,
    dependencies=[WRITE],
    responses=create_responses(UserPublic, "user"),
)
def create_user(body: UserCreate, db: DatabaseDep, queue: EmbeddingQueueDep, response: Response) -> UserPublic:
    """Create a user (201). The same request again answers 200 with the stored user; the id with other
    fields is a 409."""
    found = users_service.create_user(
        db, queue, body.user_id, body.interests, body.skill_level.value, history_limit=DEFAULT_HISTORY_LIMIT
    )
    if not found.created:
        response.status_code = 200
    return _public(found)


@router.get("/{user_id}", dependencies=[READ], responses=error_responses(404, 503))
def get_user(
    user_id: UserIdPath, db: ReadDatabaseDep, history_limit: HistoryLimit = DEFAULT_HISTORY_LIMIT
) -> UserPublic:
    """A user with `history`: the content ids it interacted with, most recent first."""
    return _public(users_service.get_user(db, user_id, history_limit=history_limit))


class SuggestedInterestPublic(BaseModel):
    interest: str = Field(description="a category or tag, as the catalog spells it")
    items: int = Field(description="how many items have this category or tag")
    share: float = Field(
        description="share of all engagement (or, before any training, of all items) that these items hold"
    )


class SuggestedInterests(BaseModel):
    user_id: str
    suggestions: list[SuggestedInterestPublic] = Field(description="most worth asking first; varied")
    source: str = Field(description="engagement (from the last training) | catalog (before any training)")


@router.get("/{user_id}/suggested-interests", dependencies=[READ], responses=error_responses(404, 503))
def suggested_interests(
    user_id: UserIdPath,
    db: ReadDatabaseDep,
    n: Annotated[int, Query(ge=1, le=50, description="how many to suggest")] = 5,
) -> SuggestedInterests:
    """Interests worth asking this user about (to ask for more interest preferences):
    categories and tags that cover much of the catalog's engagement, each adding items the ones before it
    do not cover, without those the user already has. Set the chosen ones with PUT /users/{user_id}."""
    found = users_service.suggested_interests(db, user_id, n)
    return SuggestedInterests(
        user_id=user_id,
        suggestions=[
            SuggestedInterestPublic(interest=s.interest, items=s.items, share=round(s.share, 6))
            for s in found.suggestions
        ],
        source=found.source,
    )


@router.put("/{user_id}", dependencies=[WRITE], responses=error_responses(400, 404, 413, 503))
def update_user(
    user_id: UserIdPath,
    body: UserUpdate,
    db: DatabaseDep,
    queue: EmbeddingQueueDep,
    history_limit: HistoryLimit = DEFAULT_HISTORY_LIMIT,
) -> UserPublic:
    """Partial update: only the fields given change."""
    skill_level = body.skill_level.value if body.skill_level is not None else None
    return _public(
        users_service.update_user(
            db, queue, user_id, interests=body.interests, skill_level=skill_level, history_limit=history_limit
        )
    )


@router.delete("/{user_id}", status_code=204, dependencies=[ADMIN], responses=error_responses(404, 503))
def delete_user(user_id: UserIdPath, db: DatabaseDep) -> Response:
    """Erase the user (admin; GDPR article 17): in one transaction its profile, interests and their embedding,
    interactions, feedback and logged answers; aggregated online metrics keep their counts and no id. Then the
    id is 404 everywhere; created again it starts empty. The next training run publishes a model without the
    user and deletes every kept model version trained before the deletion."""
    users_service.delete_user(db, user_id)
    return Response(status_code=204)


class UserExport(BaseModel):
    profile: dict = Field(description="user_id, interests, skill_level, created_at, updated_at, interests_embedded")
    events: list[dict] = Field(description="every interaction and feedback event, oldest first, with attribution")
    impressions: list[dict] = Field(description="every answer logged for the user, with its recommendation_id")
    assignments: list[dict] = Field(description="experiments whose traffic holds the user, with the variant")
    exported_at: str


@router.get("/{user_id}/export", dependencies=[ADMIN], responses=error_responses(404, 503))
def export_user(user_id: UserIdPath, db: DatabaseDep) -> UserExport:
    """Everything stored about the user as one JSON document (admin; GDPR articles 15 and 20)."""
    return UserExport(**users_service.export_user(db, user_id))
