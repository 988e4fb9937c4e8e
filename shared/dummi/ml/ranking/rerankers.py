"""Re-rankers: they choose and order the list from the scored candidates and never change a score.

* the eligibility mask: what the user has seen, what the caller excludes, what is taken down or filtered;
* interest first (newcomers): matches of a stated interest move up the order by ``match_boost`` (1000:
  every match before every other item, a stable partition; 0: by relevance alone), and at least
  ceil(0.7 n) of the top n are matches when enough items match (the interest quota);
* MMR diversity and a category cap over the best max(4n, 50) (``dummi.ml.ranking.mmr``), the pool widening
  when the cap leaves the list short; newcomers keep their quota throughout.
Ties go to the lower position, so a list never depends on the order an array held its candidates in.
"""

from __future__ import annotations

import numpy as np

from dummi.ml.ranking.items import ItemSpace
from dummi.ml.ranking.mmr import diversify, pool_size
from dummi.ml.relevance import best_first, top_n

# A newcomer's list: when at least n items match a stated interest, at least this share of the top n match.
MIN_MATCH_SHARE = 0.7


def ordering(relevance: np.ndarray, eligible: np.ndarray, matched: np.ndarray | None, boost: float) -> np.ndarray:
    """What the list is ordered by: the relevance, matches of a stated interest moved up by ``boost``, and
    -inf where an item may not be listed. A key for ordering only: no score is read from it."""
    key = relevance if matched is None else relevance + boost * matched
    return np.where(eligible, key, -np.inf)


def select(key: np.ndarray, n: int, matched: np.ndarray | None) -> np.ndarray:
    """The top n positions by ``key`` (-inf: not eligible), best first, holding the interest quota."""
    finite = np.flatnonzero(np.isfinite(key))
    n = min(n, len(finite))
    if n == 0:
        return np.empty(0, np.int64)
    top = top_n(finite, key[finite], n)
    if matched is not None:
        chosen = with_matches(top, finite, key, matched, n)
        top = best_first(chosen, key[chosen])
    return top


def rerank(
    items: ItemSpace,
    key: np.ndarray,
    n: int,
    diversity: float,
    max_per_category: int | None,
    matched: np.ndarray | None,
) -> np.ndarray:
    """The list in the order shown: the top n by ``key``, or, with diversity or a category cap, MMR over the
    best max(4n, 50) (widened while the cap leaves the list short), newcomers' quota kept."""
    if diversity <= 0 and max_per_category is None:
        return select(key, n, matched)
    size = pool_size(n)
    while True:
        pool = select(key, size, matched)
        order = diversify(
            key[pool],
            items.vectors[pool],
            n,
            diversity=diversity,
            categories=[items.categories[p] for p in pool],
            max_per_category=max_per_category,
        )
        if len(order) >= n or len(pool) < size:
            break
        size *= 4
    top = pool[order]
    if matched is not None and max_per_category is None:
        top = quota_in_place(top, pool, key, matched, n)
    return top


def with_matches(top: np.ndarray, finite: np.ndarray, scores: np.ndarray, matched: np.ndarray, n: int) -> np.ndarray:
    """``top`` (n positions) with at least min(ceil(0.7 n), matching candidates) matching items: the
    lowest-scored others give way to the best-scored matches not yet in it."""
    need = min(int(np.ceil(MIN_MATCH_SHARE * n)), int(matched[finite].sum()))
    short = need - int(matched[top].sum())
    if short <= 0:
        return top
    others = top[~matched[top]]
    keep = best_first(others, scores[others])[: len(others) - short]
    outside = np.setdiff1d(finite[matched[finite]], top[matched[top]], assume_unique=True)
    add = top_n(outside, scores[outside], short)
    return np.concatenate([top[matched[top]], keep, add])


def quota_in_place(top: np.ndarray, pool: np.ndarray, scores: np.ndarray, matched: np.ndarray, n: int) -> np.ndarray:
    """A re-ranked list that keeps the newcomers' quota of matches: if it fell short, its last non-matching
    items give their places to the best-scored matches of the pool not yet in it."""
    need = min(int(np.ceil(MIN_MATCH_SHARE * n)), int(matched[pool].sum()))
    short = need - int(matched[top].sum())
    if short <= 0:
        return top
    spare = np.setdiff1d(pool[matched[pool]], top, assume_unique=True)
    spare = top_n(spare, scores[spare], short)
    out = top.copy()
    places = np.flatnonzero(~matched[out])[::-1][: len(spare)]
    out[np.sort(places)] = spare
    return out
