"""What training, the choice and the next-item model read of a user's history: one event per row."""

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
