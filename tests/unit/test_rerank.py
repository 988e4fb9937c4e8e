"""The diversity re-rank (greedy MMR) on fixtures whose answer is known."""

from __future__ import annotations

import numpy as np

from dummi.ml.metrics import category_spread, intra_list_diversity
from dummi.ml.ranking.mmr import diversify, pool_size

# three near-duplicates of topic A, ranked first, then B and C items
A = np.array([1.0, 0.0, 0.0])
B = np.array([0.0, 1.0, 0.0])
C = np.array([0.0, 0.0, 1.0])


def _pool():
    vectors = np.vstack([A, A * 0.99 + B * 0.14, A * 0.99 + C * 0.14, B, C, B * 0.7 + C * 0.7]).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    relevance = np.array([5.0, 4.9, 4.8, 4.6, 4.5, 2.0])
    categories = ["a", "a", "a", "b", "c", "bc"]
    return relevance, vectors, categories


def test_diversity_zero_is_the_ranked_order():
    relevance, vectors, categories = _pool()
    assert diversify(relevance, vectors, 4, diversity=0.0).tolist() == [0, 1, 2, 3]
    assert diversify(relevance, vectors, 10, diversity=0.0).tolist() == [0, 1, 2, 3, 4, 5]


def test_higher_diversity_spreads_the_list():
    relevance, vectors, categories = _pool()
    lists = {d: diversify(relevance, vectors, 3, diversity=d).tolist() for d in (0.0, 0.3, 0.7)}
    assert lists[0.0] == [0, 1, 2]
    assert lists[0.7][0] == 0 and set(lists[0.7]) == {0, 3, 4}  # the best A, then B and C
    ild = {d: intra_list_diversity(vectors[ix]) for d, ix in lists.items()}
    spread = {d: category_spread([categories[i] for i in ix]) for d, ix in lists.items()}
    assert ild[0.0] < ild[0.3] <= ild[0.7] and spread[0.0] < spread[0.7] == 1.0


def test_the_category_cap_is_a_hard_limit():
    relevance, vectors, categories = _pool()
    picked = diversify(relevance, vectors, 5, diversity=0.0, categories=categories, max_per_category=1)
    assert picked.tolist() == [0, 3, 4, 5]  # one of each category; only four categories exist
    picked = diversify(relevance, vectors, 4, diversity=0.0, categories=categories, max_per_category=2)
    assert picked.tolist() == [0, 1, 3, 4]
    assert [categories[i] for i in picked].count("a") == 2


def test_the_pool_is_at_least_fifty_or_four_times_the_list():
    assert (pool_size(5), pool_size(10), pool_size(30)) == (50, 50, 120)
