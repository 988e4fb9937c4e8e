"""What a client sends to create or change something (Create / Update models, filters, event bodies), with the
size bounds every way in enforces: the API's routes, `dummi import`, the sample data and batch options."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Literal
from uuid import UUID

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    StrictBool,
    StrictInt,
    StrictStr,
    StringConstraints,
    model_validator,
)
from pydantic_core import PydanticCustomError

MAX_ID_LENGTH = 128
MAX_TITLE_LENGTH = 300
MAX_CATEGORY_LENGTH = 100
MAX_DESCRIPTION_LENGTH = 5_000
MAX_TAG_LENGTH = 64
MAX_TAGS = 50
MAX_INTERESTS = 50
MAX_DURATION_SECONDS = 7 * 24 * 3600
# An event's own time (PutEvents' sentAt, an imported timestamp) may run this far ahead of the server's clock
# (a client's skew, as SigV4 allows); further is a wrong clock or date, not an event to count now.
MAX_CLOCK_AHEAD_SECONDS = 15 * 60
DEFAULT_HISTORY_LIMIT = 100
MAX_HISTORY_LIMIT = 1_000
DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
# An item's properties: a small flat object (what business rules filter on), not a document store.
MAX_PROPERTIES = 20
MAX_PROPERTY_VALUE_LENGTH = 256
MAX_PROPERTY_NUMBER = 1e15  # larger magnitudes lose integer precision as float64
PROPERTY_KEY_PATTERN = r"[A-Za-z_][A-Za-z0-9_]{0,63}"
MAX_FILTERS = 10
MAX_FILTER_VALUES = 100

# Ids travel in URL paths: letters, digits and . _ : @ - only (no spaces, no slashes).
Identifier = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_ID_LENGTH, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@-]*$"),
]
SessionId = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_ID_LENGTH, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@-]*$"),
    Field(
        description="an anonymous visitor's session (the client's id for it, e.g. from a cookie): events of a "
        "session without user_id are its own; naming both moves the session's events to the user once"
    ),
]


# -- rules across fields --------------------------------------------------------------------------
# A model validator's ValueError is reported at the model as a whole (``loc`` ["body"]); the rules below
# raise ``field_error`` instead, and every reader of validation errors (the API's 422, `dummi import`'s
# line errors, the Personalize drop-in's messages) takes the field from ``located``.
CROSS_FIELD = "invalid_combination"


def field_error(field: str, message: str) -> PydanticCustomError:
    """A rule across fields, broken: reported at ``field``, the one a client would change."""
    return PydanticCustomError(CROSS_FIELD, message, {"field": field})


def located(error: dict) -> tuple:
    """A pydantic error's ``loc``, down to the field a cross-field rule named."""
    ctx = error.get("ctx") or {}
    if error.get("type") == CROSS_FIELD and ctx.get("field"):
        return (*error["loc"], ctx["field"])
    return tuple(error["loc"])


def one_subject(model):
    """A request about a user, a session, or both: never neither."""
    if model.user_id is None and model.session_id is None:
        raise field_error("user_id", "user_id or session_id is required")
    return model


# Categories also appear in a path (/content/category/{category}): no slashes. Labels, titles and
# categories are stripped after the bounds are checked on the text as sent (what the spec's maxLength
# describes: a stripped length would admit 101 characters of which one is a leading space), so each pattern
# asks for one character that is not whitespace.
def _stripped(value: str) -> str:
    return value.strip()


Stripped = AfterValidator(_stripped)
Category = Annotated[
    str,
    StringConstraints(
        min_length=1,
        max_length=MAX_CATEGORY_LENGTH,
        pattern=r"^[^/\\\x00-\x1f]*[^\s/\\\x00-\x1f][^/\\\x00-\x1f]*$",
    ),
    Stripped,
]
Label = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_TAG_LENGTH, pattern=r"^[^\x00-\x1f]*[^\s\x00-\x1f][^\x00-\x1f]*$"),
    Stripped,
]
Title = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_TITLE_LENGTH, pattern=r"^[^\x00]*[^\s\x00][^\x00]*$"),
    Stripped,
]
Description = Annotated[str, StringConstraints(max_length=MAX_DESCRIPTION_LENGTH, pattern=r"^[^\x00]*$")]


class SkillLevel(StrEnum):
    beginner = "beginner"
    intermediate = "intermediate"
    advanced = "advanced"
    expert = "expert"


# An event type's name: a built-in one (click, like, skip, view_time) or one defined with PUT /event-types/{name};
# whether it is defined is checked against the database (an unknown one is a 422 naming interaction_type).
EVENT_TYPE_PATTERN = r"^[a-z0-9_]{1,40}$"
EventTypeName = Annotated[
    str,
    StringConstraints(min_length=1, max_length=40, pattern=EVENT_TYPE_PATTERN),
    Field(
        description="click, like, skip, view_time (with duration_seconds) or a type defined with "
        "PUT /event-types/{name}",
        examples=["click"],
    ),
]


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


# -- content ---------------------------------------------------------------------------------------
PropertyKey = Annotated[str, StringConstraints(pattern=f"^{PROPERTY_KEY_PATTERN}$")]
_BOUNDS = {"ge": -MAX_PROPERTY_NUMBER, "le": MAX_PROPERTY_NUMBER}
PropertyNumber = (
    Annotated[StrictInt, Field(**_BOUNDS)] | Annotated[float, Strict(), Field(allow_inf_nan=False, **_BOUNDS)]
)
PropertyText = Annotated[StrictStr, StringConstraints(max_length=MAX_PROPERTY_VALUE_LENGTH, pattern=r"^[^\x00]*$")]
PropertyValue = StrictBool | PropertyText | PropertyNumber
Properties = Annotated[
    dict[PropertyKey, PropertyValue],
    Field(
        max_length=MAX_PROPERTIES,
        description=f"up to {MAX_PROPERTIES} values (string of at most {MAX_PROPERTY_VALUE_LENGTH} characters, "
        "number or boolean) that filters can name as properties.<key> (lang, in_stock, price, ...)",
    ),
]


def ahead_of_now(when: datetime) -> bool:
    """An event's own time further ahead of the server's clock than ``MAX_CLOCK_AHEAD_SECONDS`` (a time without
    a zone read as UTC)."""
    zoned = when if when.tzinfo else when.replace(tzinfo=UTC)
    return zoned > datetime.now(UTC) + timedelta(seconds=MAX_CLOCK_AHEAD_SECONDS)


def text_time(value: object) -> object:
    """A time is written as text (RFC 3339): 0 or 1.5 is not one, whatever pydantic's lax mode would say."""
    if not isinstance(value, str | datetime):
        raise ValueError("Input should be an RFC 3339 date-time string with an offset")
    return value


def in_utc(value: datetime) -> datetime:
    """The time in UTC, as it is stored: 0001-01-01T00:00:00+14:00 is before the first UTC day (a 422, where
    the database driver would fail on it)."""
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("the time is out of range in UTC") from None


# RFC 3339 with an offset (a string: a number is not a time), kept in UTC
Instant = Annotated[AwareDatetime, BeforeValidator(text_time), AfterValidator(in_utc)]
AVAILABLE_FROM = "not recommended before this time (RFC 3339); null: no start"
AVAILABLE_UNTIL = "not recommended from this time on (RFC 3339), after available_from (else a 422); null: no end"
HIDDEN = "taken down: readable by id, never in an answer (recommendations, popular, similar, category pages)"


def _window(available_from: datetime | None, available_until: datetime | None) -> None:
    if available_from is not None and available_until is not None and available_until <= available_from:
        raise field_error("available_until", "available_until must be after available_from")


class ContentCreate(StrictModel):
    content_id: Identifier
    title: Title
    category: Category
    tags: Annotated[list[Label], Field(max_length=MAX_TAGS)] = []
    description: Description = ""
    properties: Properties = {}
    hidden: StrictBool = Field(default=False, description=HIDDEN)
    available_from: Instant | None = Field(default=None, description=AVAILABLE_FROM)
    available_until: Instant | None = Field(default=None, description=AVAILABLE_UNTIL)

    @model_validator(mode="after")
    def _dedupe(self) -> ContentCreate:
        self.tags = _unique(self.tags)
        _window(self.available_from, self.available_until)
        return self


class ContentUpdate(StrictModel):
    """Partial update: only the fields present change; at least one must be given. ``properties`` replaces
    the whole object; null clears an availability bound (and is not a value for the other fields)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"minProperties": 1})

    title: Annotated[Title, Field(json_schema_extra=_no_default)] = None  # type: ignore[assignment]
    category: Annotated[Category, Field(json_schema_extra=_no_default)] = None  # type: ignore[assignment]
    tags: Annotated[list[Label], Field(max_length=MAX_TAGS, json_schema_extra=_no_default)] = None  # type: ignore[assignment]
    description: Annotated[Description, Field(json_schema_extra=_no_default)] = None  # type: ignore[assignment]
    properties: Annotated[Properties, Field(json_schema_extra=_no_default)] = None  # type: ignore[assignment]
    hidden: Annotated[StrictBool, Field(description=HIDDEN, json_schema_extra=_no_default)] = None  # type: ignore[assignment]
    available_from: Instant | None = Field(default=None, description=AVAILABLE_FROM)
    available_until: Instant | None = Field(default=None, description=AVAILABLE_UNTIL)

    @model_validator(mode="after")
    def _not_empty(self) -> ContentUpdate:
        given = self.model_fields_set
        if not given:
            raise ValueError("give at least one field to change")
        for name in given - {"available_from", "available_until"}:
            if getattr(self, name) is None:
                raise field_error(name, f"{name}: null is not a value (leave the field out to keep it)")
        if self.tags is not None:
            self.tags = _unique(self.tags)
        _window(self.available_from, self.available_until)
        return self

    def changes(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in self.model_fields_set}


PROPERTY_FIELD = rf"^properties\.{PROPERTY_KEY_PATTERN}$"
FilterScalar = StrictBool | PropertyText | PropertyNumber
FilterValues = Annotated[list[FilterScalar], Field(min_length=1, max_length=MAX_FILTER_VALUES)]
LabelValues = Annotated[list[PropertyText], Field(min_length=1, max_length=MAX_FILTER_VALUES)]


class LabelCondition(StrictModel):
    """The item's category, or any of its tags, is (not) one of the values."""

    field: Literal["category", "tags"]
    op: Literal["in", "not_in"]
    value: LabelValues


class PropertyCondition(StrictModel):
    """The item's property is (not) one of the values; a value's type counts (true is not 1, nor "1")."""

    field: Annotated[str, StringConstraints(pattern=PROPERTY_FIELD), Field(description="properties.<key>")]
    op: Literal["in", "not_in"]
    value: FilterValues


class RangeCondition(StrictModel):
    """The item's property is a number below / above the value (an item without that number fails)."""

    field: Annotated[str, StringConstraints(pattern=PROPERTY_FIELD), Field(description="properties.<key>")]
    op: Literal["lt", "lte", "gt", "gte"]
    value: PropertyNumber


# One business rule on the items an answer may hold; a request's conditions all hold (AND). Three shapes, so
# that the schema itself says which op takes which value on which field.
FilterCondition = LabelCondition | PropertyCondition | RangeCondition
Filters = Annotated[
    list[FilterCondition],
    Field(
        max_length=MAX_FILTERS,
        description='conditions every item of the answer meets (AND), e.g. [{"field": "properties.lang", '
        '"op": "in", "value": ["de"]}]; applied before the top n is cut',
    ),
]


def conditions(filters: list[FilterCondition]) -> tuple:
    """The schema's conditions as the recommender takes them: (field, op, value) with lists as tuples."""
    return tuple((f.field, f.op, tuple(f.value) if isinstance(f.value, list) else f.value) for f in filters)


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


class InteractionCreate(StrictModel):
    user_id: Identifier | None = None
    session_id: SessionId | None = None
    content_id: Identifier
    interaction_type: EventTypeName
    duration_seconds: Annotated[StrictFloat, Field(ge=0, le=MAX_DURATION_SECONDS)] | None = None
    event_id: EventId | None = None
    recommendation_id: RecommendationId | None = None

    @model_validator(mode="after")
    def check_subject(self):
        return one_subject(self)


class FeedbackCreate(StrictModel):
    user_id: Identifier | None = None
    session_id: SessionId | None = None
    content_id: Identifier
    feedback_type: FeedbackType
    event_id: EventId | None = None
    recommendation_id: RecommendationId | None = None

    @model_validator(mode="after")
    def check_subject(self):
        return one_subject(self)
