"""What a ranking is asked and what it answers: the request, the user as serving reads it, the items newer
than the model, what exploration knows, and one recommended item."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from dummi.domain.ranking import RankRequest
from dummi.ml.catalog import ItemFacts


def explore_slots(request: RankRequest) -> int:
    """The request's exploration slots: its own, or 1 of 10 from n = 10 up (none in shorter lists)."""
    if request.explore_slots is not None:
        return request.explore_slots
    return 1 if request.n >= 10 else 0


@dataclass(frozen=True)
class UserEvent:
    content_id: str
    kind: str
    event_type: str
    duration_seconds: float | None
    at: datetime


@dataclass
class UserState:
    user_id: str
    interests: list[str]
    interests_vector: np.ndarray | None
    events: list[UserEvent]  # most recent first (a bounded window)
    seen: set[str]  # every content id the user ever interacted with
    # profiles already built from these events, per (catalog, settings): training's trials ask again and again
    profiles: dict[tuple, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass
class FreshItems:
    """Content embedded after the model was trained."""

    ids: list[str] = field(default_factory=list)
    titles: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    tags: list[list[str]] = field(default_factory=list)
    vectors: np.ndarray = field(default_factory=lambda: np.empty((0, 384), np.float32))
    facts: list[ItemFacts] | None = None  # per item: properties and take-downs (None: none)


@dataclass(frozen=True)
class ExploreArms:
    """What exploration knows, on the recommender's positions (``dummi.ml.explore``)."""

    young: np.ndarray  # bool: created within 30 days, or shown fewer than 100 times
    impressions: np.ndarray  # attributed impressions per item
    clicks: np.ndarray  # attributed clicks per item
    global_ctr: float  # the prior's centre
