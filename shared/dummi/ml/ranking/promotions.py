"""Promotions: a share of a list's slots for the items a campaign names, the rest personal.

A request's promotion (a name, a share 0..1 and filters in the request's filter syntax) takes
ceil(share x n) slots, fewer when fewer items match (eligible ones: never seen, excluded, taken down or out
of the request's own filters). They hold the best-scored matching items, by the ranking's own relevance, best
first; the personal list fills the other slots in its order, without the promoted items (no item twice).

Placement: with k promoted slots in a list of L items, slot i (0-based) is at position
2 + floor(i x (L - 1) / k) (1-based): from the second position on, spread evenly, so the first item is always
the personal list's best (a list that is all promotion, k = L, starts with one). A re-ranker: it chooses and
places, and never changes a score. Exploration slots are drawn within the personal slots afterwards, so a
promoted slot keeps its place.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from dummi.domain.ranking import Promotion, Recommendation
from dummi.ml.relevance import top_n


def slots(promotion: Promotion | None, n: int) -> int:
    """How many of n slots a promotion asks for: ceil(share x n) (0 without a promotion)."""
    if promotion is None or promotion.share <= 0:
        return 0
    return min(n, math.ceil(promotion.share * n - 1e-9))


def picks(relevance: np.ndarray, promoted: np.ndarray | None, k: int) -> np.ndarray:
    """The k best-scored positions among ``promoted`` (fewer when fewer match with a finite relevance),
    best first."""
    if promoted is None or k <= 0:
        return np.empty(0, np.int64)
    candidates = np.flatnonzero(promoted & np.isfinite(relevance))
    return top_n(candidates, relevance[candidates], k)


def places(k: int, length: int) -> list[int]:
    """The 1-based positions of k promoted slots in a list of ``length`` items: from 2 on, spread evenly
    (every position when k >= length)."""
    if k <= 0 or length <= 0:
        return []
    if k >= length:
        return list(range(1, length + 1))
    return [2 + (i * (length - 1)) // k for i in range(k)]


def place(personal: list[Recommendation], promoted: list[Recommendation], n: int) -> list[Recommendation]:
    """The list: ``promoted`` (best first) at their places, ``personal`` (without them) in order in the
    other slots; at most n items."""
    taken = {r.content_id for r in promoted}
    rest = [r for r in personal if r.content_id not in taken]
    length = min(n, len(promoted) + len(rest))
    promoted = promoted[:length]
    at = set(places(len(promoted), length))
    out: list[Recommendation] = []
    it_promoted, it_rest = iter(promoted), iter(rest)
    for position in range(1, length + 1):
        out.append(next(it_promoted) if position in at else next(it_rest))
    return out


def mark(recs: list[Recommendation], name: str) -> list[Recommendation]:
    return [replace(r, promoted=name) for r in recs]


def renumber_explored(recs: list[Recommendation]) -> list[Recommendation]:
    """Exploration decisions name their item's position in the list: after placement, the final one."""
    out = []
    for position, r in enumerate(recs, start=1):
        if r.explore_context is not None and r.explore_context.get("position") != position:
            r = replace(r, explore_context={**r.explore_context, "position": position})
        out.append(r)
    return out
