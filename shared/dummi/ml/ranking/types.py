"""What a ranking is asked and what it answers: the request, the user as serving reads it, the items newer
than the model, what exploration knows, and one recommended item."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from dummi.ml.catalog import Condition, ItemFacts


@dataclass(frozen=True)
class Promotion:
    """A share of a list's slots for items that match ``filters`` (``dummi.ml.ranking.promotions``)."""

    name: str
    share: float  # 0..1: ceil(share x n) slots
    filters: tuple[Condition, ...] = ()


@dataclass(frozen=True)
class RankRequest:
    n: int = 10
    use_cf: bool = True
    use_embeddings: bool = True
    cf_weight: float = 0.5
    category: str | None = None
    exclude: frozenset[str] = frozenset()
    diversity: float | None = None  # 0..1: MMR re-rank (None: the model's setting); 0 is the ranked order
    max_per_category: int | None = None  # a hard cap on items of one category in the list
    explore_slots: int | None = None  # slots for young items (None: 1 from n = 10 up, else 0)
    filters: tuple[Condition, ...] = ()  # business rules every listed item meets (``dummi.ml.catalog``)
    at: float | None = None  # the request's time, seconds since 1970 (None: now): availability windows
    promotion: Promotion | None = None  # a share of the slots for items matching its filters


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


@dataclass(frozen=True)
class Recommendation:
    content_id: str
    title: str
    category: str
    score: float
    method: str  # hybrid | cf | embedding | interest | popular | explore
    reason: str
    propensity: float | None = None  # explore: the probability the exploration policy had of choosing it
    explore_context: dict[str, Any] | None = None  # explore: the decision as made (for off-policy evaluation)
    promoted: str | None = None  # the promotion whose slot the item holds (None: a personal slot)
