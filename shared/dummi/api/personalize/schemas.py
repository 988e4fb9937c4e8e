"""The three services' request shapes as botocore's models declare them (field names, bounds), and the body
reader every Personalize route uses: the body is read as JSON whatever its Content-Type (the control plane sends
``application/x-amz-json-1.1``, which FastAPI does not parse), and a body that does not fit is an
``InvalidInputException`` naming the field. Fields a newer botocore may add are ignored, never refused."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

from fastapi import Request
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, ValidationError

from dummi.api.personalize.errors import PersonalizeInputError
from dummi.api.text_guard import strict_json, text_errors
from dummi.domain.inputs import located

MAX_ARN = 256
# Ids that Dummi's own routes can reach as well (the ids of its paths): letters, digits, . _ : @ -
Id = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@-]*$")]
Arn = Annotated[str, StringConstraints(max_length=MAX_ARN, pattern=r"^[^\x00]*$")]
Text = Annotated[str, StringConstraints(min_length=1, max_length=256, pattern=r"^[^\x00]*$")]
FilterValues = Annotated[
    dict[
        Annotated[str, StringConstraints(min_length=1, max_length=50, pattern=r"^[A-Za-z0-9_]+$")],
        Annotated[str, StringConstraints(max_length=1000, pattern=r"^[^\x00]*$")],
    ],
    Field(max_length=25),
]
Context = Annotated[
    dict[
        Annotated[str, StringConstraints(min_length=1, max_length=150, pattern=r"^[^\x00]*$")],
        Annotated[str, StringConstraints(max_length=1000, pattern=r"^[^\x00]*$")],
    ],
    Field(max_length=150),
]


MetadataColumns = Annotated[
    dict[
        Annotated[str, StringConstraints(min_length=1, max_length=256, pattern=r"^[^\x00]*$")],
        Annotated[
            list[Annotated[str, StringConstraints(min_length=1, max_length=150, pattern=r"^[A-Za-z0-9_]+$")]],
            Field(max_length=99),
        ],
    ],
    Field(max_length=1),
]


def _strict_int(value: object) -> object:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("Input should be a whole number")
    if isinstance(value, float) and (not math.isfinite(value) or not value.is_integer()):
        raise ValueError("Input should be a whole number")
    return int(value)


WholeNumber = Annotated[int, BeforeValidator(_strict_int)]


def _instant(value: object) -> object:
    """A timestamp as botocore sends it in a JSON body: seconds since 1970 (or, from another client, ISO 8601)."""
    if isinstance(value, bool):
        raise ValueError("Input should be a time: seconds since 1970")
    if isinstance(value, int | float):
        if not -62_135_596_800 <= value <= 253_402_300_799:
            raise ValueError("the time is out of range")
        return datetime.fromtimestamp(value, UTC)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError("Input should be a time: seconds since 1970 or ISO 8601") from None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    raise ValueError("Input should be a time: seconds since 1970")


Instant = Annotated[datetime, BeforeValidator(_instant)]


class Shape(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


# -- personalize-runtime --------------------------------------------------------------------------------
class Promotion(Shape):
    name: Annotated[str, StringConstraints(min_length=1, max_length=63, pattern=r"^[a-zA-Z0-9][a-zA-Z0-9_-]*$")]
    percentPromotedItems: Annotated[WholeNumber, Field(ge=1, le=100)]
    filterArn: Arn
    filterValues: FilterValues = {}


class GetRecommendationsRequest(Shape):
    campaignArn: Arn | None = None
    recommenderArn: Arn | None = None
    itemId: Id | None = None
    userId: Id | None = None
    numResults: Annotated[WholeNumber, Field(ge=0, le=500)] | None = None
    context: Context = {}
    filterArn: Arn | None = None
    filterValues: FilterValues = {}
    promotions: Annotated[list[Promotion], Field(max_length=1)] = []
    metadataColumns: MetadataColumns = {}


class GetPersonalizedRankingRequest(Shape):
    campaignArn: Arn
    inputList: Annotated[list[Id], Field(min_length=1, max_length=500)]
    userId: Id
    context: Context = {}
    filterArn: Arn | None = None
    filterValues: FilterValues = {}
    metadataColumns: MetadataColumns = {}


# -- personalize-events ---------------------------------------------------------------------------------
JsonText = Annotated[str, StringConstraints(min_length=1, pattern=r"^[^\x00]*$")]


class Event(Shape):
    eventId: Text | None = None
    eventType: Text
    eventValue: Annotated[float, Field(allow_inf_nan=False)] | None = None
    itemId: Id
    properties: Annotated[JsonText, StringConstraints(max_length=1024)] | None = None
    sentAt: Instant
    recommendationId: Annotated[str, StringConstraints(min_length=1, max_length=40)] | None = None
    impression: Annotated[list[Id], Field(min_length=1, max_length=25)] | None = None


class PutEventsRequest(Shape):
    trackingId: Text
    userId: Id | None = None
    sessionId: Text
    eventList: Annotated[list[Event], Field(min_length=1, max_length=10)]


class Item(Shape):
    itemId: Id
    properties: Annotated[JsonText, StringConstraints(max_length=32000)] | None = None


class PutItemsRequest(Shape):
    datasetArn: Arn
    items: Annotated[list[Item], Field(min_length=1, max_length=10)]


class User(Shape):
    userId: Id
    properties: Annotated[JsonText, StringConstraints(max_length=24000)] | None = None


class PutUsersRequest(Shape):
    datasetArn: Arn
    users: Annotated[list[User], Field(min_length=1, max_length=10)]


# -- personalize (the filter operations) ---------------------------------------------------------------
class CreateFilterRequest(Shape):
    name: Annotated[str, StringConstraints(min_length=1, max_length=63)]
    datasetGroupArn: Arn
    filterExpression: Annotated[str, StringConstraints(min_length=1, max_length=2500, pattern=r"^[^\x00]*$")]


class FilterArnRequest(Shape):
    filterArn: Arn


class ListFiltersRequest(Shape):
    datasetGroupArn: Arn | None = None
    nextToken: Annotated[str, StringConstraints(max_length=1500)] | None = None
    maxResults: Annotated[WholeNumber, Field(ge=1, le=100)] | None = None


# -- reading a body ---------------------------------------------------------------------------------------
S = TypeVar("S", bound=BaseModel)


async def json_body(request: Request) -> Any:
    """The body as JSON (an empty body is ``{}``); a body that is not JSON is an InvalidInputException."""
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        document = strict_json(raw)
    except ValueError as exc:  # not UTF-8, not JSON, or NaN / Infinity (which Python's json reads)
        raise PersonalizeInputError(f"the body is not JSON: {exc}") from None
    _refuse_unstorable(document, "")
    return document


def _refuse_unstorable(document: Any, where: str) -> None:
    """A NUL or a lone surrogate in a string is refused (Postgres text holds neither), named by its place."""
    for error in text_errors(document)[:1]:
        place = ".".join(str(p) for p in (where, *error["loc"]) if p != "")
        raise PersonalizeInputError(f"{place}: {error['msg']}" if place else error["msg"])


def shaped(model: type[S], body: Any) -> S:
    if not isinstance(body, dict):
        raise PersonalizeInputError("the body must be a JSON object")
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise PersonalizeInputError(describe(exc)) from None


def describe(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors(include_url=False)[:3]:
        where = ".".join(str(p) for p in located(error))
        parts.append(f"{where}: {error['msg']}" if where else error["msg"])
    return "; ".join(parts)


def properties_of(text: str | None, where: str) -> dict[str, Any]:
    """A ``properties`` JSON string as an object (Personalize sends the record's fields as JSON text)."""
    if text is None:
        return {}
    try:
        value = strict_json(text)
    except ValueError as exc:
        raise PersonalizeInputError(f"{where}.properties is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise PersonalizeInputError(f"{where}.properties must be a JSON object")
    _refuse_unstorable(value, f"{where}.properties")
    return value
