"""What training, the choice and the next-item model read of a user's history: one event per row; and the
event types those events name, with their weights."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Event:
    """One interaction or feedback event, as training reads it."""

    user_id: str
    content_id: str
    kind: str
    event_type: str
    duration_seconds: float | None
    at: datetime


@dataclass(frozen=True, slots=True)
class EventTypeRecord:
    """One event type as stored: its weight, what it means, whether it is one of the built-in four."""

    name: str
    weight: float
    description: str
    builtin: bool
    created_at: datetime
    updated_at: datetime
