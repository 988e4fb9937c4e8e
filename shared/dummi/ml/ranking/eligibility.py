"""What a request may be answered with, decided once per request: never what the user has seen, nor what
the caller excludes, nor what is taken down, filtered out or in another category."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from dummi.domain.ranking import RankRequest
from dummi.ml.ranking.items import ItemSpace
from dummi.ml.ranking.types import UserState


@dataclass(frozen=True)
class Eligibility:
    allowed: np.ndarray | None  # not taken down at the request's time, meeting its filters and category (None: all)
    seen: np.ndarray  # positions the user interacted with
    excluded: np.ndarray  # positions the caller excludes
    promoted: np.ndarray | None = None  # items a request's promotion may take a slot with (None: no promotion)
    promotion_slots: int = 0  # how many slots the promotion asks for

    @classmethod
    def of(cls, items: ItemSpace, user: UserState, request: RankRequest) -> Eligibility:
        position = items.position
        seen = np.fromiter((position[c] for c in user.seen if c in position), np.int64)
        excluded = np.fromiter((position[c] for c in request.exclude if c in position), np.int64)
        allowed = items.allowed(request)
        if request.gate is not None:
            gated = request.gate(items.catalog, position, user)
            allowed = gated if allowed is None else allowed & gated
        promoted = None
        promotion = request.promotion
        if promotion is not None and promotion.share > 0:
            matching = items.catalog.matching(promotion.filters)
            if promotion.gate is not None:
                gated = np.asarray(promotion.gate(items.catalog, position, user), bool)
                matching = gated if matching is None else matching & gated
            promoted = np.ones(items.size, bool) if matching is None else matching.copy()
            if allowed is not None:
                promoted &= allowed
            promoted[seen] = False
            promoted[excluded] = False
        slots = min(request.n, math.ceil(promotion.share * request.n - 1e-9)) if promoted is not None else 0
        return cls(allowed, seen, excluded, promoted, slots)

    def mask(self, size: int) -> np.ndarray:
        """True where an item may be listed."""
        out = np.ones(size, bool) if self.allowed is None else self.allowed.copy()
        out[self.seen] = False
        out[self.excluded] = False
        return out

    def blocked(self) -> np.ndarray:
        """Positions never listed whatever the filters: seen or excluded."""
        return np.concatenate([self.seen, self.excluded])
