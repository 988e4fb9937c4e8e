"""Take-downs and business-rule filters in the recommender (``dummi.ml.catalog``): what a condition
matches, windows checked against the request's clock, and that a rare match still fills the list, because
the mask applies before the top n is cut (also through the approximate index)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from dummi.ml.catalog import Catalog, ItemFacts
from dummi.ml.cf import ItemItemModel
from dummi.ml.model_bundle import ModelBundle
from dummi.ml.recommender import HybridRecommender, RankRequest, UserEvent, UserState
from dummi.ml.vector_index import build_index

DIM = 16
AT = datetime(2026, 6, 1, tzinfo=UTC)


def _catalog() -> Catalog:
    props = [
        {"lang": "de", "price": 5, "in_stock": True},
        {"lang": "en", "price": 50.5, "in_stock": False},
        {"lang": "de", "price": "cheap"},  # a price that is not a number
        {"code": 1},
        {"code": True},
        {"code": "1"},
        {},
    ]
    n = len(props)
    return Catalog(
        [f"t{i}" for i in range(n)],
        ["a", "b", "a", "b", "a", "b", "a"],
        [["x"], ["y", "z"], [], ["z"], [], [], ["x", "y"]],
        props,
    )


@pytest.mark.parametrize(
    ("conditions", "expected"),
    [
        ([("properties.lang", "in", ("de",))], [0, 2]),
        ([("properties.lang", "not_in", ("de",))], [1, 3, 4, 5, 6]),  # no lang at all: not German either
        ([("properties.price", "lt", 10)], [0]),  # "cheap" is not a number
        ([("properties.price", "gte", 5)], [0, 1]),
        ([("properties.price", "gt", 50.5)], []),
        ([("properties.price", "lte", 50.5)], [0, 1]),
        ([("properties.in_stock", "in", (True,))], [0]),
        ([("properties.code", "in", (1,))], [3]),  # True is not 1, nor "1"
        ([("properties.code", "in", (True,))], [4]),
        ([("properties.code", "in", ("1",))], [5]),
        ([("tags", "in", ("z",))], [1, 3]),
        ([("tags", "not_in", ("x", "y"))], [2, 3, 4, 5]),
        ([("category", "in", ("a",)), ("tags", "in", ("x",))], [0, 6]),  # AND
        ([("category", "not_in", ("a", "b"))], []),
    ],
)
def test_conditions_match_by_value_and_type(conditions, expected):
    assert np.flatnonzero(_catalog().matching(conditions)).tolist() == expected


def test_take_downs_and_windows_are_checked_against_the_clock():
    now = AT.timestamp()
    base = _catalog()
    changed = base.with_facts(
        {
            1: ItemFacts("t1", "b", [], hidden=True),
            2: ItemFacts("t2", "a", [], end=now + 60),
            3: ItemFacts("t3", "b", [], start=now + 60),
            4: ItemFacts("t4", "a", [], deleted=True),
        }
    )
    assert base.available(now) is None  # nothing taken down: no mask to apply
    assert np.flatnonzero(changed.available(now)).tolist() == [0, 2, 5, 6]
    assert np.flatnonzero(changed.available(now + 60)).tolist() == [0, 3, 5, 6]
    assert base.available(now) is None and changed.categories == base.categories  # copies, not edits


def _recommender(n_items: int, kind: str, share: float, seed: int = 0) -> tuple[HybridRecommender, np.ndarray]:
    """n_items in 20 topics, CF neighbours within a topic; ``share`` of the items (spread at random) are in
    German. Returns the recommender and the German positions."""
    rng = np.random.default_rng(seed)
    topics = rng.integers(0, 20, n_items)
    centres = rng.normal(size=(20, DIM))
    vectors = centres[topics] + 0.3 * rng.normal(size=(n_items, DIM))
    vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    ids = [f"i{k}" for k in range(n_items)]
    german = np.sort(rng.choice(n_items, max(1, int(share * n_items)), replace=False))
    lang = np.full(n_items, "en", dtype=object)
    lang[german] = "de"
    by_topic = [np.flatnonzero(topics == t) for t in range(20)]
    indices = np.concatenate([rng.choice(by_topic[topics[i]], 20) for i in range(n_items)]).astype(np.int32)
    indptr = np.arange(0, 20 * n_items + 1, 20, dtype=np.int64)
    cf = ItemItemModel("item_knn", indptr, indices, rng.random(20 * n_items).astype(np.float32))
    state = {
        "properties": [{"lang": v} for v in lang],
        "hidden": [False] * n_items,
        "available_from": [None] * n_items,
        "available_until": [None] * n_items,
    }
    bundle = ModelBundle(
        np.array(ids, dtype=object),
        ids,
        [f"topic{t}" for t in topics],
        build_index(ids, vectors, kind=kind),
        rng.random(n_items).astype(np.float32),
        cf,
        {"diversity": 0.3},
        vectors=vectors,
        state=state,
    )
    return HybridRecommender(bundle), german


def _warm(rec: HybridRecommender, german: np.ndarray) -> UserState:
    english = np.setdiff1d(np.arange(rec.size), german)[:12].tolist()
    liked = [str(rec.ids[p]) for p in english]
    events = [UserEvent(c, "interaction", "like", None, AT - timedelta(minutes=k)) for k, c in enumerate(liked)]
    return UserState("fan", [], None, events, set(liked))


GERMAN = (("properties.lang", "in", ("de",)),)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("n_items", "kind", "share"), [(100_000, "flat", 0.01), (30_000, "hnsw", 0.01), (30_000, "hnsw", 0.8)]
)
def test_a_rare_or_common_match_still_fills_the_list(n_items, kind, share):
    rec, german = _recommender(n_items, kind, share)
    wanted = set(rec.ids[german].tolist())
    newcomer = UserState("new", ["topic3"], None, [], set())
    for user in (_warm(rec, german), newcomer):
        for diversity in (0.0, None):
            request = RankRequest(n=20, filters=GERMAN, diversity=diversity, explore_slots=0)
            found = [r.content_id for r in rec.recommend(user, request)]
            assert len(found) == 20 and set(found) <= wanted, (user.user_id, diversity)
    assert {r.content_id for r in rec.popular(20, filters=GERMAN)} <= wanted
    similar = rec.similar(str(rec.ids[0]), 20, filters=GERMAN)
    assert len(similar) == 20 and {r.content_id for r in similar} <= wanted - {str(rec.ids[0])}


def test_a_filter_keeps_the_best_of_what_matches():
    """Filtering is not a reranking of the unfiltered top: the warm user's filtered list holds the best of the
    German items by the unfiltered ranking (the relevance is standardised over the items that may be answered,
    so the order among close ones may differ)."""
    rec, german = _recommender(3_000, "flat", 0.05, seed=3)
    user = _warm(rec, german)
    wanted = set(rec.ids[german].tolist())
    full = [r.content_id for r in rec.recommend(user, RankRequest(n=3_000, diversity=0.0, explore_slots=0))]
    filtered = [
        r.content_id for r in rec.recommend(user, RankRequest(n=10, filters=GERMAN, diversity=0.0, explore_slots=0))
    ]
    best = [c for c in full if c in wanted]
    assert filtered[:3] == best[:3] and len(set(filtered) & set(best[:10])) >= 8 and set(filtered) <= set(best[:15])


def test_with_catalog_takes_items_down_and_replaces_changed_vectors():
    rec, german = _recommender(2_000, "flat", 0.05, seed=5)
    user = _warm(rec, german)
    top = [r.content_id for r in rec.recommend(user, RankRequest(n=5, diversity=0.0, explore_slots=0))]
    first = rec.position[top[0]]
    hidden = rec.with_catalog(rec.catalog.with_facts({first: ItemFacts("t", rec.categories[first], [], hidden=True)}))
    after = [r.content_id for r in hidden.recommend(user, RankRequest(n=5, diversity=0.0, explore_slots=0))]
    assert top[0] not in after and after[:4] == top[1:]
    assert top[0] not in [r.content_id for r in hidden.popular(2_000)]
    # a changed text: the item's new vector is its vector everywhere (similar, profiles, scores)
    target = rec.vectors[rec.position[top[1]]]
    moved = rec.with_catalog(rec.catalog, {first: target})
    assert np.allclose(moved.vectors[first], target) and np.allclose(moved.vectors[[first, 0]][0], target)
    assert np.allclose((moved.vectors @ target)[first], 1.0, atol=1e-5)
    assert moved.similar(top[1], 1)[0].content_id == top[0]
    assert not np.allclose(rec.vectors[first], target)  # the original is untouched
    assert math.isclose(rec.similar(top[1], 1)[0].score, moved.similar(top[1], 1)[0].score) is False
