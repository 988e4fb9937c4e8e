"""Plain records the repositories return (no ORM)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class UserRecord:
    user_id: str
    interests: list[str]
    skill_level: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class ContentRecord:
    content_id: str
    title: str
    category: str
    tags: list[str]
    description: str
    created_at: datetime
    updated_at: datetime
    properties: dict = field(default_factory=dict)
    hidden: bool = False
    available_from: datetime | None = None
    available_until: datetime | None = None


@dataclass(frozen=True, slots=True)
class CatalogChange:
    """One item as serving must now see it (``deleted``: gone, the other fields empty)."""

    content_id: str
    deleted: bool
    changed_at: datetime
    title: str = ""
    category: str = ""
    tags: list[str] = field(default_factory=list)
    properties: dict = field(default_factory=dict)
    hidden: bool = False
    available_from: datetime | None = None
    available_until: datetime | None = None
    created_at: datetime | None = None
    embedded_at: datetime | None = None  # when its stored vector was written (None: never)


@dataclass(frozen=True, slots=True)
class InteractionRecord:
    interaction_id: int
    user_id: str | None  # None: an anonymous session's event
    content_id: str
    kind: str
    event_type: str
    duration_seconds: float | None
    created_at: datetime
    event_id: str | None = None
    recommendation_id: str | None = None  # the answer it is attributed to (None: unattributed)
    position: int | None = None  # the item's 1-based position in that answer
    attribution: str | None = None  # explicit | window
    session_id: str | None = None  # the visitor's session, when the event named one


@dataclass(frozen=True, slots=True)
class EmbeddingSource:
    """A row's text to embed, the hash of what was embedded last, and when the row was read."""

    key: str
    text: str
    stored_hash: str | None
    read_at: datetime


@dataclass(frozen=True, slots=True)
class EmbeddingResult:
    key: str
    vector: bytes
    text_hash: str
    read_at: datetime


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    """An API key as stored: never the key itself, only its SHA-256."""

    key_id: str
    name: str
    scopes: list[str]
    key_hash: bytes
    created_at: datetime
    revoked_at: datetime | None
