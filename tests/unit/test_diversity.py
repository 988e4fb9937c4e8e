"""Diversity in the recommender: 0 is the ranked order (whatever the model's default), more raises the
category spread, the category cap holds, and a newcomer's quota of interest matches survives the re-rank."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from dummi.ml.metrics import category_spread
from dummi.ml.model_bundle import ModelBundle
from dummi.ml.recommender import HybridRecommender, RankRequest, UserEvent, UserState
from dummi.ml.vector_index import build_index

TOPICS, PER_TOPIC, DIM = 6, 15, 16


def _bundle(settings=None) -> ModelBundle:
    rng = np.random.default_rng(1)
    centers = rng.normal(size=(TOPICS, DIM))
    vectors = np.vstack([centers[t] + 0.2 * rng.normal(size=(PER_TOPIC, DIM)) for t in range(TOPICS)])
    # topic 0 leans toward topics 1 and 2: a topic-0 fan gets mostly topic 0, some 1 and 2 are close behind
    vectors[:PER_TOPIC] += 0.8 * centers[1] + 0.5 * centers[2]
    vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    ids = [f"i{k}" for k in range(TOPICS * PER_TOPIC)]
    categories = [f"t{k // PER_TOPIC}" for k in range(TOPICS * PER_TOPIC)]
    popularity = np.linspace(1.0, 0.1, len(ids)).astype(np.float32)
    return ModelBundle(
        np.array(ids, dtype=object), ids, categories, build_index(ids, vectors), popularity, None, settings or {}
    )


def _fan() -> UserState:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    liked = [f"i{k}" for k in range(6)]  # six topic-0 items: a warm user
    events = [UserEvent(c, "interaction", "like", None, at - timedelta(minutes=k)) for k, c in enumerate(liked)]
    return UserState("fan", [], None, events, set(liked))


def _ids(rec, user, **request) -> list[str]:
    return rec.ranked_ids(user, RankRequest(n=10, **request))


def test_diversity_zero_is_the_ranked_order_whatever_the_models_default():
    plain = _ids(HybridRecommender(_bundle()), _fan())
    assert _ids(HybridRecommender(_bundle()), _fan(), diversity=0.0) == plain
    with_default = HybridRecommender(_bundle({"diversity": 0.5}))
    assert _ids(with_default, _fan(), diversity=0.0) == plain
    assert _ids(with_default, _fan()) != plain  # no request value: the model's default applies


def test_more_diversity_spreads_the_list_over_categories():
    rec = HybridRecommender(_bundle())
    spread = {}
    for d in (0.0, 0.5, 0.9, 1.0):
        ids = _ids(rec, _fan(), diversity=d)
        assert len(ids) == 10 and len(set(ids)) == 10 and not set(ids) & _fan().seen
        spread[d] = category_spread([rec.categories[rec.position[c]] for c in ids])
    # here a topic's items are near-duplicates and the fan's topic leads by far: variety takes a high value
    assert spread[0.0] == 0.2 and spread[0.0] <= spread[0.5] < spread[0.9] <= spread[1.0]


@pytest.mark.parametrize("cap", [1, 2, 3])
def test_the_category_cap_holds(cap):
    rec = HybridRecommender(_bundle())
    ids = _ids(rec, _fan(), max_per_category=cap)
    counts = {}
    for c in ids:
        counts[rec.categories[rec.position[c]]] = counts.get(rec.categories[rec.position[c]], 0) + 1
    assert max(counts.values()) <= cap and len(ids) == min(10, cap * TOPICS)


def test_a_newcomers_matches_keep_their_quota_under_diversity():
    rec = HybridRecommender(_bundle({"match_boost": 0.0}))  # no lift: only the quota keeps matches in
    newcomer = UserState("new", ["t5"], None, [], set())
    for d in (0.0, 0.5, 1.0):
        ids = _ids(rec, newcomer, diversity=d)
        matches = sum(rec.categories[rec.position[c]] == "t5" for c in ids)
        assert matches >= math.ceil(0.7 * 10), (d, ids)
