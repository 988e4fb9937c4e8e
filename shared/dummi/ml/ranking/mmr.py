"""Re-rankers applied after ranking: they reorder (and pick from) the ranked candidates, never score them.

``diversify``: greedy maximal marginal relevance (Carbonell & Goldstein, 1998) over a pool of the best
candidates: each next item maximises lambda * relevance - (1 - lambda) * (its mean similarity to the items
already picked), lambda = 1 - (1 - RELEVANCE_FLOOR) * diversity; an optional cap on items per category is a
hard limit. ``diversity=0`` without a cap is exactly the ranked order.

Both terms are standardised within the pool: relevance over the candidates, and the similarity of two
items over the pool's pairs. On raw cosines the similarity term barely moves a list: the cosines of a
catalog's items span a narrow band (ml-100k: most pairs within 0.3-0.5) while standardised relevance spans
several units, so diversity 0.3 raised intra-list diversity by 0.4% on the training holdout; with the
similarity in the same units, by 4.0% (tests/benchmarks/plot_diversity_tradeoff.py). The similarity of two
items is the mean of their standardised embedding cosine and, when the pool's categories are given, their
standardised "same category" (1 or 0): embeddings alone can find the items of one category far apart (on
the sample catalog a list of 10 at diversity 1 spanned no more categories than at 0), and a list that
repeats a category does not look varied to the person reading it. The *mean* similarity to the list so far
(not the highest, as in the original MMR) is what intra-list diversity measures (the mean pairwise
distance), so each step of the knob buys more of it: with the highest, the sample catalog's one-category
fans saw intra-list diversity fall between diversity 0.75 and 1 for two users of four.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# The weight relevance keeps at diversity 1: among lists about as varied, the more relevant one. With none
# (lambda 0) the greedy pick ignores relevance and lands on less varied lists by chance (on the sample
# catalog 0.8852 -> 0.8846 intra-list diversity from diversity 0.75 to 1 for one fan; with 0.1 it rises).
RELEVANCE_FLOOR = 0.1


def pool_size(n: int) -> int:
    """Candidates a diversified list of n is picked from: at least max(4n, 50)."""
    return max(4 * n, 50)


def diversify(
    relevance: np.ndarray,
    vectors: np.ndarray,
    n: int,
    *,
    diversity: float,
    categories: Sequence[str] | None = None,
    max_per_category: int | None = None,
) -> np.ndarray:
    """Indices into the pool (``relevance``, ``vectors``, ``categories`` are the pool's, best first), in the
    order picked: n of them, fewer if the cap leaves fewer eligible."""
    m = len(relevance)
    n = min(n, m)
    if n <= 0:
        return np.empty(0, np.int64)
    capped = max_per_category is not None and categories is not None
    if diversity <= 0 and not capped:
        return np.arange(n)
    rel = np.asarray(relevance, np.float64)
    spread = rel.std()
    z = (rel - rel.mean()) / spread if spread > 0 else np.zeros(m)
    lam = 1.0 - (1.0 - RELEVANCE_FLOOR) * float(diversity)
    codes = np.unique(np.asarray(categories, dtype=object), return_inverse=True)[1] if categories is not None else None
    similarity = None
    if diversity > 0:
        v = np.asarray(vectors, np.float32)
        similarity = _over_pairs((v @ v.T).astype(np.float64))
        if codes is not None:
            similarity = 0.5 * (similarity + _over_pairs((codes[:, None] == codes[None, :]).astype(np.float64)))
    total = np.zeros(m)  # each candidate's summed similarity to the items picked so far
    eligible = np.ones(m, bool)
    per_category: dict[int, int] = {}
    picked: list[int] = []
    for _ in range(n):
        if not eligible.any():
            break
        if picked and diversity > 0:
            value = lam * z - (1 - lam) * total / len(picked)
        else:
            value = z.copy()
        value[~eligible] = -np.inf
        best = int(np.argmax(value))  # ties: the better-ranked (argmax takes the first)
        picked.append(best)
        eligible[best] = False
        if similarity is not None:
            total += similarity[best]
        if capped:
            c = int(codes[best])
            per_category[c] = per_category.get(c, 0) + 1
            if per_category[c] >= max_per_category:
                eligible &= codes != c
    return np.array(picked, np.int64)


def _over_pairs(gram: np.ndarray) -> np.ndarray:
    """A pool's pairwise similarities standardised over its pairs (zeros when every pair is alike)."""
    m = len(gram)
    pairs = gram[np.triu_indices(m, 1)]
    if m <= 2 or pairs.std() <= 0:
        return np.zeros_like(gram)
    return (gram - pairs.mean()) / pairs.std()
