"""Request and response schemas (Create / Update / Public), with the size bounds the API enforces."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated
from uuid import UUID

from fastapi import Response
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, Strict, StringConstraints, model_validator

MAX_ID_LENGTH = 128
MAX_TITLE_LENGTH = 300
MAX_CATEGORY_LENGTH = 100
MAX_DESCRIPTION_LENGTH = 5_000
MAX_TAG_LENGTH = 64
MAX_TAGS = 50
MAX_INTERESTS = 50
MAX_DURATION_SECONDS = 7 * 24 * 3600
DEFAULT_HISTORY_LIMIT = 100
MAX_HISTORY_LIMIT = 1_000
DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100

# Ids travel in URL paths: letters, digits and . _ : @ - only (no spaces, no slashes).
Identifier = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_ID_LENGTH, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@-]*$"),
]
# Categories also appear in a path (/content/category/{category}): no slashes. Labels, titles and
# categories are stripped, so each pattern asks for one character that is not whitespace.
Category = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        min_length=1,
        max_length=MAX_CATEGORY_LENGTH,
        pattern=r"^[^/\\\x00-\x1f]*[^\s/\\\x00-\x1f][^/\\\x00-\x1f]*$",
    ),
]
Label = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        min_length=1,
        max_length=MAX_TAG_LENGTH,
        pattern=r"^[^\x00-\x1f]*[^\s\x00-\x1f][^\x00-\x1f]*$",
    ),
]
Title = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=MAX_TITLE_LENGTH, pattern=r"^[^\x00]*[^\s\x00][^\x00]*$"
    ),
]
Description = Annotated[str, StringConstraints(max_length=MAX_DESCRIPTION_LENGTH, pattern=r"^[^\x00]*$")]


class SkillLevel(StrEnum):
    beginner = "beginner"
    intermediate = "intermediate"
    advanced = "advanced"
    expert = "expert"


class InteractionType(StrEnum):
    click = "click"
    like = "like"
    skip = "skip"
    view_time = "view_time"


class FeedbackType(StrEnum):
    positive = "positive"
    negative = "negative"
    neutral = "neutral"


class StrictModel(BaseModel):
    # Unknown fields are an error, so a misspelt field is reported rather than silently dropped. Fields
    # that take a number or a boolean use Strict types: "5" or 0 for true is a 422, not a guess.
    model_config = ConfigDict(extra="forbid")


# An int is a fine float (1 for 1.0); a string or a boolean is not.
StrictFloat = Annotated[float, Strict(), Field(allow_inf_nan=False)]


def number_only(value: object) -> object:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("Input should be a whole number")
    return value


# A whole number: 8 or 8.0 (JSON Schema's integer), never "8" or true.
WholeNumber = Annotated[int, BeforeValidator(number_only)]


def bounded_whole(low: int, high: int, description: str = ""):
    """A WholeNumber within [low, high] whose schema says so also when it is optional (``... | None``)."""
    return Annotated[int, Field(ge=low, le=high, description=description or None), BeforeValidator(number_only)]


def _unique(values: list[str]) -> list[str]:
    """Drop repeats, keeping the first occurrence's order."""
    return list(dict.fromkeys(values))


def _no_default(schema: dict) -> None:
    schema.pop("default", None)


# -- users -----------------------------------------------------------------------------------------
class UserCreate(StrictModel):
    user_id: Identifier
    interests: Annotated[list[Label], Field(max_length=MAX_INTERESTS)] = []
    skill_level: SkillLevel = SkillLevel.beginner

    @model_validator(mode="after")
    def _dedupe(self) -> UserCreate:
        self.interests = _unique(self.interests)
        return self


class UserUpdate(StrictModel):
    """Partial update: only the fields present change; at least one must be given (null is not a value)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"minProperties": 1})

    # Absent means "keep"; the schema shows no default, since null is not an accepted value.
    interests: Annotated[list[Label], Field(max_length=MAX_INTERESTS, json_schema_extra=_no_default)] = None  # type: ignore[assignment]
    skill_level: Annotated[SkillLevel, Field(json_schema_extra=_no_default)] = None  # type: ignore[assignment]

    @model_validator(mode="after")
    def _not_empty(self) -> UserUpdate:
        if self.interests is None and self.skill_level is None:
            raise ValueError("give at least one of: interests, skill_level")
        if self.interests is not None:
            self.interests = _unique(self.interests)
        return self


class UserPublic(BaseModel):
    user_id: str
    interests: list[str]
    skill_level: str
    history: list[str] = Field(description="content ids the user interacted with, most recent first")
    created_at: datetime
    updated_at: datetime


# -- content ---------------------------------------------------------------------------------------
class ContentCreate(StrictModel):
    content_id: Identifier
    title: Title
    category: Category
    tags: Annotated[list[Label], Field(max_length=MAX_TAGS)] = []
    description: Description = ""

    @model_validator(mode="after")
    def _dedupe(self) -> ContentCreate:
        self.tags = _unique(self.tags)
        return self


class ContentPublic(BaseModel):
    content_id: str
    title: str
    category: str
    tags: list[str]
    description: str
    created_at: datetime
    updated_at: datetime


class ContentPage(BaseModel):
    category: str
    items: list[ContentPublic]
    total: int = Field(description="items in the category")
    limit: int
    offset: int


# -- interactions and feedback ---------------------------------------------------------------------
EventId = Annotated[
    Identifier,
    Field(
        description="the client's own id for this event (a UUID, say): sending the same event again stores it "
        "once and answers as the first time; the same id with other fields is a 409"
    ),
]


RecommendationId = Annotated[
    UUID,
    Field(
        description="the recommendation_id of the answer that listed this item: the event is attributed to it "
        "(409 if that answer did not list the item or went to another user). Without it, the event is "
        "attributed to the latest answer that listed the item to this user within the attribution window"
    ),
]


class Attributed(BaseModel):
    recommendation_id: str | None = Field(default=None, description="the answer the event is attributed to")
    position: int | None = Field(default=None, description="the item's 1-based position in that answer")
    attribution: str | None = Field(default=None, description="explicit | window; null: unattributed")


class InteractionCreate(StrictModel):
    user_id: Identifier
    content_id: Identifier
    interaction_type: InteractionType
    duration_seconds: Annotated[StrictFloat, Field(ge=0, le=MAX_DURATION_SECONDS)] | None = None
    event_id: EventId | None = None
    recommendation_id: RecommendationId | None = None


class InteractionPublic(Attributed):
    interaction_id: int
    user_id: str
    content_id: str
    interaction_type: InteractionType
    duration_seconds: float | None
    timestamp: datetime
    event_id: str | None = None


class FeedbackCreate(StrictModel):
    user_id: Identifier
    content_id: Identifier
    feedback_type: FeedbackType
    event_id: EventId | None = None
    recommendation_id: RecommendationId | None = None


class FeedbackPublic(Attributed):
    interaction_id: int
    user_id: str
    content_id: str
    feedback_type: FeedbackType
    timestamp: datetime
    event_id: str | None = None


# -- service ---------------------------------------------------------------------------------------
class Health(BaseModel):
    status: str = Field(description="ok, or degraded when the database cannot be reached")
    database: str
    version: str


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
