"""Array helpers of the trials: a bounded memo, each row's top n (ties to the lower position, as serving
breaks them), the newcomers' interest quota row by row, and NDCG@10."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from dummi.ml.ranking.rerankers import with_matches
from dummi.ml.relevance import best_first, top_n_rows

K = 10
_DISCOUNTS = 1.0 / np.log2(np.arange(2, 2 + 1000))
MEMO_BYTES = 1_500_000_000


class Memo:
    """Least recently used arrays, bounded in bytes."""

    def __init__(self, budget: int = MEMO_BYTES) -> None:
        self.budget, self.used, self.items = budget, 0, OrderedDict()

    def get(self, key, make):
        if key in self.items:
            self.items.move_to_end(key)
            return self.items[key]
        value = make()
        size = sum(getattr(v, "nbytes", 0) for v in (value if isinstance(value, tuple) else (value,)))
        self.items[key] = value
        self.used += size
        while self.used > self.budget and len(self.items) > 1:
            _, old = self.items.popitem(last=False)
            self.used -= sum(getattr(v, "nbytes", 0) for v in (old if isinstance(old, tuple) else (old,)))
        return value


def rows_where(mask: np.ndarray, values: np.ndarray) -> np.ndarray:
    return np.where(mask[:, None], values, 0.0)


def pad(a: np.ndarray, width: int, fill) -> np.ndarray:
    if a.shape[1] == width:
        return a
    out = np.full((a.shape[0], width), fill, dtype=a.dtype)
    out[:, : a.shape[1]] = a
    return out


def top_rows(relevance: np.ndarray, idx: np.ndarray, n: int) -> np.ndarray:
    """Each row's n best positions (from ``idx``, ascending in each row) by ``relevance`` (-inf: not a
    candidate), best first, ties to the lower position (``dummi.ml.relevance.top_n``)."""
    columns = top_n_rows(relevance, n)
    return np.where(columns >= 0, np.take_along_axis(idx, np.maximum(columns, 0), axis=1), -1)


def top_with_matches(order_by: np.ndarray, matched: np.ndarray, has_interests: np.ndarray, n: int) -> np.ndarray:
    """Each row's top n by ``order_by`` (-inf: seen) holding the newcomers' quota of interest matches
    (``dummi.ml.ranking.rerankers.with_matches``), best first."""
    top = top_n_rows(order_by, n)
    for k in np.flatnonzero(has_interests):
        row, m = order_by[k], matched[k]
        finite = np.flatnonzero(np.isfinite(row))
        current = top[k][top[k] >= 0]
        chosen = with_matches(current, finite, row, m, min(n, len(finite)))
        if chosen is not current:
            top[k] = pad(best_first(chosen, row[chosen])[None, :], n, -1)[0]
    return top


def ndcg(listed: np.ndarray, relevant: np.ndarray) -> float:
    if not len(relevant):
        return 0.0
    top = listed[:K]
    hits = np.isin(top[top >= 0], relevant)
    dcg = float(_DISCOUNTS[: len(hits)][hits].sum())
    ideal = float(_DISCOUNTS[: min(len(relevant), K)].sum())
    return dcg / ideal
