"""What a request may be answered with, decided once per request: never what the user has seen, nor what
the caller excludes, nor what is taken down, filtered out or in another category."""

from __future__ import annotations

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

    @classmethod
    def of(cls, items: ItemSpace, user: UserState, request: RankRequest) -> Eligibility:
        position = items.position
        seen = np.fromiter((position[c] for c in user.seen if c in position), np.int64)
        excluded = np.fromiter((position[c] for c in request.exclude if c in position), np.int64)
        allowed = items.allowed(request)
        if request.gate is not None:
            gated = request.gate(items.catalog, position, user)
            allowed = gated if allowed is None else allowed & gated
        return cls(allowed, seen, excluded)

    def mask(self, size: int) -> np.ndarray:
        """True where an item may be listed."""
        out = np.ones(size, bool) if self.allowed is None else self.allowed.copy()
        out[self.seen] = False
        out[self.excluded] = False
        return out

    def blocked(self) -> np.ndarray:
        """Positions never listed whatever the filters: seen or excluded."""
        return np.concatenate([self.seen, self.excluded])
