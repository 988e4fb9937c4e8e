"""/event-types routes: the interaction types a product may send and their weights (read with a read key, as the
console does; defined, changed and deleted with an admin key)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, Field

from dummi.api.auth import ADMIN, READ
from dummi.api.deps import DatabaseDep
from dummi.api.errors import error_responses
from dummi.api.schemas import model_response
from dummi.domain.events import EventTypeRecord
from dummi.domain.inputs import StrictFloat, StrictModel
from dummi.services import event_types_service
from dummi.services.event_types_service import MAX_DESCRIPTION_LENGTH, MAX_WEIGHT, NAME_PATTERN

router = APIRouter(prefix="/event-types", tags=["event types"], responses=error_responses(401, 403))

TypeName = Annotated[
    str,
    Path(
        min_length=1,
        max_length=40,
        pattern=NAME_PATTERN,
        description="lowercase a-z, 0-9 and _ (1 to 40); positive, negative and neutral are feedback's",
    ),
]


class EventTypePut(StrictModel):
    weight: StrictFloat = Field(
        ge=-MAX_WEIGHT,
        le=MAX_WEIGHT,
        description="what one event of this type adds to a user's interest in the item (like 5, click 2, "
        "view_time 1 per 120 s, skip -1); a negative weight acts like a skip",
    )
    description: str | None = Field(
        default=None,
        max_length=MAX_DESCRIPTION_LENGTH,
        pattern=r"^[^\x00]*$",
        description="what the event means (kept as it is when left out)",
    )


class EventTypePublic(BaseModel):
    name: str
    weight: float
    description: str
    builtin: bool = Field(description="one of the built-in four: its weight may change, it cannot be deleted")
    created_at: datetime
    updated_at: datetime


def _public(record: EventTypeRecord) -> EventTypePublic:
    return EventTypePublic(
        name=record.name,
        weight=record.weight,
        description=record.description,
        builtin=record.builtin,
        created_at=record.created_at,
        updated_at=record.updated_at,
    )


@router.get("", dependencies=[READ], responses=error_responses(503))
def list_event_types(db: DatabaseDep) -> list[EventTypePublic]:
    """Every event type, the built-in ones first, with its weight."""
    return [_public(r) for r in event_types_service.list_types(db)]


@router.put(
    "/{name}",
    dependencies=[ADMIN],
    response_model=EventTypePublic,
    responses={201: {"model": EventTypePublic, "description": "the type was defined now"}}
    | error_responses(400, 413, 503),
)
def put_event_type(name: TypeName, body: EventTypePut, db: DatabaseDep) -> Response:
    """Define an event type with its weight (201), or change a type's weight and description (200). Training
    reads the weights at its next run; serving folds a user's events in with them within seconds."""
    record, created = event_types_service.put_type(db, name, body.weight, body.description)
    return model_response(_public(record), 201 if created else 200)


@router.delete("/{name}", dependencies=[ADMIN], responses=error_responses(404, 409, 503))
def delete_event_type(name: TypeName, db: DatabaseDep) -> EventTypePublic:
    """Delete a custom type no stored event uses; 409 for a built-in type or one in use."""
    return _public(event_types_service.delete_type(db, name))
