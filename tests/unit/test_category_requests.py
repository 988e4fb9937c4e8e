"""A `category` request draws its candidates from that category, so a rare one still fills the list."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from dummi.ml.catalog import Catalog
from dummi.ml.cf import FactorModel
from dummi.ml.model_bundle import ModelBundle
from dummi.ml.recommender import HybridRecommender, RankRequest, UserEvent, UserState
from dummi.ml.vector_index import build_index


def _recommender(n: int = 6000, rare: int = 15) -> HybridRecommender:
    rng = np.random.default_rng(3)
    centers = rng.standard_normal((20, 384)).astype(np.float32)
    topic = rng.integers(0, 20, n)
    vectors = centers[topic] + 0.6 * rng.standard_normal((n, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    categories = [f"topic-{t}" for t in topic]
    for pos in rng.choice(np.flatnonzero(topic != 0), rare, replace=False):  # far from what the user likes
        categories[pos] = "rare"
    ids = [f"c{i}" for i in range(n)]
    factors = np.abs(rng.standard_normal((n, 16))).astype(np.float32)
    bundle = ModelBundle(
        np.array(ids, dtype=object),
        [f"Item {i}" for i in range(n)],
        categories,
        build_index(ids, vectors, kind="hnsw"),
        rng.random(n).astype(np.float32),
        FactorModel("nmf", factors, factors.copy()),
        {},
        vectors,
    )
    return HybridRecommender(bundle)


@pytest.mark.slow
def test_a_rare_category_fills_the_list_from_its_own_items():
    recommender = _recommender()
    liked = [p for p in range(recommender.size) if recommender.categories[p] == "topic-0"][:12]
    now = datetime.now(UTC)
    events = [UserEvent(f"c{p}", "interaction", "like", None, now - timedelta(minutes=k)) for k, p in enumerate(liked)]
    user = UserState("u", [], None, events, {f"c{p}" for p in liked})
    answer = recommender.recommend(user, RankRequest(n=10, category="rare", explore_slots=0))
    assert len(answer) == 10 and {r.category for r in answer} == {"rare"}
    popular = recommender.popular(10, category="rare")
    assert len(popular) == 10 and {r.category for r in popular} == {"rare"}


def test_the_category_index_answers_as_a_scan_of_the_labels_would():
    catalog = Catalog(["a", "b", "c", "d"], ["x", "y", "x", "z"], [[], [], [], []])
    assert catalog.in_category("x").tolist() == [True, False, True, False]
    assert catalog.in_category("none").tolist() == [False] * 4
    assert catalog.matching([("category", "not_in", ("x", "z"))]).tolist() == [False, True, False, False]
