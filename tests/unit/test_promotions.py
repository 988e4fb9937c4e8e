"""The promotions re-ranker: its slot count, its placement rule, and a whole list through the recommender
(share held, matching items, none twice, scores unchanged, exploration kept out of promoted slots)."""

from __future__ import annotations

import numpy as np
import pytest

from dummi.ml.ranking import promotions
from dummi.ml.recommender import HybridRecommender, Promotion, RankRequest, Recommendation
from tests.unit.test_diversity import _bundle, _fan
from tests.unit.test_explore import _arms

T3 = (("category", "in", ("t3",)),)  # topic 3: far from the fan's topic 0, never in its personal top 10


@pytest.mark.parametrize(
    ("share", "n", "k"), [(0.0, 10, 0), (0.01, 10, 1), (0.1, 10, 1), (0.3, 10, 3), (0.25, 10, 3), (1.0, 7, 7)]
)
def test_slots_are_the_ceiling_of_share_times_n(share, n, k):
    assert promotions.slots(Promotion("p", share), n) == k
    assert promotions.slots(None, n) == 0


def test_places_start_at_two_and_spread_evenly():
    assert promotions.places(1, 10) == [2]
    assert promotions.places(3, 10) == [2, 5, 8]
    assert promotions.places(5, 10) == [2, 3, 5, 7, 9]
    assert promotions.places(9, 10) == list(range(2, 11))
    assert promotions.places(10, 10) == list(range(1, 11))  # all promotion: the first slot too
    assert promotions.places(2, 3) == [2, 3] and promotions.places(0, 5) == []


def _rec(cid: str, score: float = 0.5) -> Recommendation:
    return Recommendation(cid, cid, "c", score, "hybrid", "r")


def test_place_puts_promoted_items_at_their_places_and_never_twice():
    personal = [_rec(f"p{k}") for k in range(10)]
    promoted = promotions.mark([_rec("p4"), _rec("x1"), _rec("x2")], "sale")
    out = promotions.place(personal, promoted, 10)
    assert [r.content_id for r in out] == ["p0", "p4", "p1", "p2", "x1", "p3", "p5", "x2", "p6", "p7"]
    assert [k + 1 for k, r in enumerate(out) if r.promoted] == [2, 5, 8]
    assert len({r.content_id for r in out}) == 10
    short = promotions.place(personal[:2], promoted[:1], 10)  # a short list: placed over its own length
    assert [r.content_id for r in short] == ["p0", "p4", "p1"]


def test_a_promotion_holds_its_share_with_the_best_matching_items_and_keeps_the_scores():
    rec, fan = HybridRecommender(_bundle()), _fan()
    plain = rec.recommend(fan, RankRequest(n=10, explore_slots=0))
    assert not any(rec.categories[rec.position[r.content_id]] == "t3" for r in plain)  # not personal
    request = RankRequest(n=10, explore_slots=0, promotion=Promotion("spring", 0.3, T3))
    out = rec.recommend(fan, request)
    promoted = [(k + 1, r) for k, r in enumerate(out) if r.promoted]
    assert [p for p, _ in promoted] == [2, 5, 8] and all(r.promoted == "spring" for _, r in promoted)
    assert all(rec.categories[rec.position[r.content_id]] == "t3" for _, r in promoted)
    assert len(out) == 10 and len({r.content_id for r in out}) == 10 and not {r.content_id for r in out} & fan.seen
    # the rest is the personal list in its order, its last three making room
    assert [r.content_id for r in out if not r.promoted] == [r.content_id for r in plain[:7]]
    # the best-scored matching items, best first, with the ranking's own scores
    ranked = rec.rank(fan, request)
    matches = np.flatnonzero(ranked.eligible.promoted)
    best = matches[np.argsort(-ranked.scored.relevance[matches], kind="stable")][:3]
    assert [r.content_id for _, r in promoted] == [str(rec.ids[p]) for p in best]
    for _, r in promoted:
        assert r.score == pytest.approx(ranked.calibration.score(ranked.scored.relevance[rec.position[r.content_id]]))
    scores = [r.score for _, r in promoted]
    assert scores == sorted(scores, reverse=True)


def test_fewer_slots_when_fewer_items_match_and_none_without_a_share():
    rec, fan = HybridRecommender(_bundle()), _fan()
    others = frozenset(f"i{k}" for k in range(47, 60))  # topic 3's items but two excluded by the caller
    out = rec.recommend(fan, RankRequest(n=10, explore_slots=0, exclude=others, promotion=Promotion("few", 0.5, T3)))
    assert sorted(r.content_id for r in out if r.promoted) == ["i45", "i46"] and len(out) == 10
    plain = rec.recommend(fan, RankRequest(n=10, explore_slots=0))
    zero = rec.recommend(fan, RankRequest(n=10, explore_slots=0, promotion=Promotion("none", 0.0, T3)))
    assert [r.content_id for r in zero] == [r.content_id for r in plain] and not any(r.promoted for r in zero)


def test_an_item_the_user_saw_or_the_caller_excludes_is_never_promoted():
    rec, fan = HybridRecommender(_bundle()), _fan()
    topic0 = (("category", "in", ("t0",)),)  # the fan's own topic: its six liked items match too
    out = rec.recommend(
        fan, RankRequest(n=10, explore_slots=0, exclude=frozenset({"i6"}), promotion=Promotion("own", 0.5, topic0))
    )
    ids = [r.content_id for r in out]
    assert len(ids) == 10 == len(set(ids)) and not set(ids) & (fan.seen | {"i6"})
    assert sum(r.promoted is not None for r in out) == 5


def test_a_promotion_with_a_gate_promotes_only_what_the_gate_and_its_filters_let_through():
    rec, fan = HybridRecommender(_bundle()), _fan()
    t3 = {f"i{k}" for k in range(45, 60)}  # topic 3's items (T3)
    only = {"i50", "i52", "i55"}
    calls = []

    def gate(catalog, position, user):
        calls.append(user.user_id)
        mask = np.zeros(catalog.size, bool)
        mask[[position[c] for c in only | {"i20"}]] = True  # i20: topic 1, kept out by the filters below
        return mask

    out = rec.recommend(fan, RankRequest(n=10, explore_slots=0, promotion=Promotion("gated", 0.5, T3, gate)))
    assert sorted(r.content_id for r in out if r.promoted) == sorted(only) and calls == [fan.user_id]
    assert len(out) == 10 == len({r.content_id for r in out})
    # without filters the gate alone says what matches; the personal list is not gated
    plain = rec.recommend(fan, RankRequest(n=10, explore_slots=0))
    wide = rec.recommend(fan, RankRequest(n=10, explore_slots=0, promotion=Promotion("gated", 0.5, (), gate)))
    assert {r.content_id for r in wide if r.promoted} == only | {"i20"}  # 5 slots, 4 matches
    assert {r.content_id for r in wide if not r.promoted} <= {r.content_id for r in plain}
    assert not t3 & {r.content_id for r in plain}


def test_exploration_keeps_the_promoted_slots():
    rec, fan = HybridRecommender(_bundle()), _fan()
    arms = _arms(rec, young_topics=(4,))
    request = RankRequest(n=10, promotion=Promotion("spring", 0.3, T3))
    for seed in range(10):
        out = rec.recommend(fan, request, arms, np.random.default_rng(seed))
        assert [k + 1 for k, r in enumerate(out) if r.promoted] == [2, 5, 8]
        explored = [(k + 1, r) for k, r in enumerate(out) if r.method == "explore"]
        assert len(explored) == 1 and len({r.content_id for r in out}) == 10
        position, item = explored[0]
        assert item.explore_context["position"] == position  # the decision names where the item is shown


def test_an_approximate_index_still_fills_the_slots_of_a_promotion_far_from_the_users_taste():
    from dummi.ml.model_bundle import ModelBundle
    from dummi.ml.vector_index import build_index

    rng = np.random.default_rng(3)
    topics, per_topic = 20, 100  # the fan's nearest items are all of its own topic
    centers = rng.normal(size=(topics, 16))
    vectors = np.vstack([centers[t] + 0.1 * rng.normal(size=(per_topic, 16)) for t in range(topics)])
    vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    ids = [f"i{k}" for k in range(topics * per_topic)]
    categories = [f"t{k // per_topic}" for k in range(topics * per_topic)]
    index = build_index(ids, vectors, kind="hnsw")
    popularity = np.full(len(ids), 0.5, np.float32)
    settings = {"candidates": 50}  # the personal pool: the fan's own topic only
    rec = HybridRecommender(
        ModelBundle(np.array(ids, dtype=object), ids, categories, index, popularity, None, settings)
    )
    far = tuple(f"t{t}" for t in range(10, 20))  # half the catalog, none of it near the fan
    out = rec.recommend(
        _fan(), RankRequest(n=10, explore_slots=0, promotion=Promotion("far", 0.3, (("category", "in", far),)))
    )
    promoted = [r for r in out if r.promoted]
    assert len(promoted) == 3 and all(r.category in far for r in promoted)
    assert [r.category for r in out if not r.promoted] == ["t0"] * 7
