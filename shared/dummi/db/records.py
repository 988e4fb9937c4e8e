"""Plain records the repositories return (no ORM)."""

from __future__ import annotations

from dataclasses import dataclass
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


@dataclass(frozen=True, slots=True)
class InteractionRecord:
    interaction_id: int
    user_id: str
    content_id: str
    kind: str
    event_type: str
    duration_seconds: float | None
    created_at: datetime
