"""personalize-events: POST /personalize/events (PutEvents), /personalize/items (PutItems) and
/personalize/users (PutUsers), write scope. Each answers 200 with an empty body, as Personalize does."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response
from pydantic import ValidationError

from dummi.api.deps import DatabaseDep, EmbeddingQueueDep
from dummi.api.personalize.auth import signed
from dummi.api.personalize.errors import INVALID_INPUT, PersonalizeInputError, route_class
from dummi.api.personalize.schemas import (
    PutEventsRequest,
    PutItemsRequest,
    PutUsersRequest,
    describe,
    json_body,
    properties_of,
    shaped,
)
from dummi.domain.inputs import ContentCreate, UserCreate
from dummi.services.api_keys import Scope
from dummi.services.personalize import events
from dummi.services.personalize.event_types import get_event_types

router = APIRouter(
    prefix="/personalize",
    tags=["personalize"],
    dependencies=[signed(Scope.WRITE)],
    # PutEvents declares only InvalidInputException: an unknown item or a conflicting eventId is one
    route_class=route_class(conflict=INVALID_INPUT, missing=INVALID_INPUT),
    include_in_schema=False,
)
Body = Annotated[Any, Depends(json_body)]


@router.post("/events")
def put_events(body: Body, db: DatabaseDep) -> Response:
    request = shaped(PutEventsRequest, body)
    batch = [
        events.EventIn(
            event_type=e.eventType,
            item_id=e.itemId,
            sent_at=e.sentAt,
            event_value=e.eventValue,
            event_id=e.eventId,
            recommendation_id=e.recommendationId,
            impression=e.impression,
            properties=properties_of(e.properties, f"eventList.{i}") if e.properties else None,
        )
        for i, e in enumerate(request.eventList)
    ]
    events.put_events(db, get_event_types(), user_id=request.userId, session_id=request.sessionId, events=batch)
    return Response(status_code=200)


@router.post("/items")
def put_items(body: Body, db: DatabaseDep, queue: EmbeddingQueueDep) -> Response:
    request = shaped(PutItemsRequest, body)
    checked = []
    for i, item in enumerate(request.items):  # every item checked before any is written
        fields = events.item_fields(item.itemId, properties_of(item.properties, f"items.{i}"))
        try:
            checked.append(ContentCreate.model_validate(fields))
        except ValidationError as exc:
            raise PersonalizeInputError(f"items.{i} ({item.itemId}): {describe(exc)}") from None
    for content in checked:
        events.upsert_item(db, queue, content.model_dump(include={*events.ITEM_FIELDS}))
    return Response(status_code=200)


@router.post("/users")
def put_users(body: Body, db: DatabaseDep, queue: EmbeddingQueueDep) -> Response:
    request = shaped(PutUsersRequest, body)
    checked = []
    for i, user in enumerate(request.users):
        fields = events.user_fields(properties_of(user.properties, f"users.{i}"))
        try:
            valid = UserCreate.model_validate({"user_id": user.userId, **fields})
        except ValidationError as exc:
            raise PersonalizeInputError(f"users.{i} ({user.userId}): {describe(exc)}") from None
        checked.append((user.userId, {**fields, "interests": valid.interests}))
    for user_id, fields in checked:
        events.upsert_user(db, queue, user_id, fields)
    return Response(status_code=200)
