"""One meaning for ``score``: in every method it is the item's estimated relevance on 0..1, higher is better,
the same increasing function of the ranking's relevance whatever boosts ordered the list or a re-rank moved
it (re-ranks and caps reorder; they never rewrite a score)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from dummi.domain.events import Event
from dummi.ml.cf import Fitter
from dummi.ml.interactions import build_matrix, popularity
from dummi.ml.model_bundle import ModelBundle
from dummi.ml.recommender import (
    ExploreArms,
    HybridRecommender,
    RankRequest,
    UserEvent,
    UserState,
    calibration,
)
from dummi.ml.vector_index import build_index

TOPICS, PER_TOPIC, USERS = 6, 12, 60
AT = datetime(2026, 1, 1, tzinfo=UTC)


def _recommender(settings=None) -> HybridRecommender:
    rng = np.random.default_rng(3)
    n = TOPICS * PER_TOPIC
    ids = [f"i{k}" for k in range(n)]
    topic = np.arange(n) // PER_TOPIC
    centres = rng.normal(size=(TOPICS, 16))
    vectors = centres[topic] + 0.5 * rng.normal(size=(n, 16))
    vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    events = []
    for u in range(USERS):
        liked = rng.choice(np.flatnonzero(topic == u % TOPICS), 6, replace=False)
        others = rng.choice(n, 2, replace=False)
        for k, i in enumerate([*liked, *others]):
            events.append(Event(f"u{u}", ids[int(i)], "interaction", "like", None, AT + timedelta(minutes=k)))
    cf = Fitter(build_matrix(events, ids).matrix).fit({"algorithm": "ease", "l2": 10.0})
    categories = [f"t{t}" for t in topic]
    bundle = ModelBundle(
        np.array(ids, dtype=object),
        ids,
        categories,
        build_index(ids, vectors),
        popularity(events, ids),
        cf,
        settings or {},
        vectors,
        tags=[[] for _ in ids],
    )
    return HybridRecommender(bundle)


def _warm() -> UserState:
    liked = ["i0", "i1", "i2", "i3", "i13", "i14"]  # past the cold threshold (5)
    events = [UserEvent(c, "interaction", "like", None, AT - timedelta(minutes=k)) for k, c in enumerate(liked)]
    return UserState("warm", [], None, events, set(liked))


def _newcomer() -> UserState:
    return UserState("new", ["t4"], None, [], set())


def _scores_by_relevance(rec: HybridRecommender, user: UserState, recs) -> tuple[np.ndarray, np.ndarray]:
    """(each listed item's standardised relevance, its score)."""
    mode, positions, z = rec.standardised_relevance(user, rec.size)
    by_position = dict(zip(positions.tolist(), z.tolist(), strict=True))
    return np.array([by_position[rec.position[r.content_id]] for r in recs]), np.array([r.score for r in recs])


@pytest.mark.parametrize("user", [_warm(), _newcomer()], ids=["warm", "newcomer"])
@pytest.mark.parametrize("diversity", [0.0, 0.5, 1.0])
def test_recommendation_scores_are_a_bounded_increasing_function_of_relevance(user, diversity):
    rec = _recommender()
    recs = rec.recommend(user, RankRequest(n=20, diversity=diversity, explore_slots=0))
    assert len(recs) == 20
    z, scores = _scores_by_relevance(rec, user, recs)
    assert ((scores > 0) & (scores < 1)).all()
    order = np.argsort(z, kind="stable")
    assert (np.diff(scores[order]) >= -1e-12).all()  # more relevant: never a lower score
    a, b = calibration(rec.settings, "warm" if user.events else "cold")
    assert scores == pytest.approx(1 / (1 + np.exp(-(a * z + b))))


def test_a_newcomers_interest_lift_orders_the_list_but_never_enters_its_score():
    lifted = _recommender({"match_boost": 1000.0}).recommend(_newcomer(), RankRequest(n=10, explore_slots=0))
    plain = _recommender({"match_boost": 0.0}).recommend(_newcomer(), RankRequest(n=10, explore_slots=0))
    assert all(r.category == "t4" for r in lifted[:7])  # the lift leads with the interest
    assert max(r.score for r in lifted) < 1 and max(r.score for r in plain) < 1
    shared = {r.content_id: r.score for r in plain}
    for r in lifted:  # an item both lists hold has one score: its relevance's
        if r.content_id in shared:
            assert r.score == pytest.approx(shared[r.content_id])


def test_a_re_rank_moves_items_without_rewriting_their_scores():
    rec = _recommender()
    ranked = {
        r.content_id: r.score for r in rec.recommend(_warm(), RankRequest(n=rec.size, diversity=0.0, explore_slots=0))
    }
    for d in (0.5, 1.0):
        diverse = rec.recommend(_warm(), RankRequest(n=10, diversity=d, explore_slots=0))
        assert [r.content_id for r in diverse] != list(ranked)[:10]  # it moved something
        assert all(r.score == pytest.approx(ranked[r.content_id]) for r in diverse)
    capped = rec.recommend(_warm(), RankRequest(n=10, diversity=0.0, max_per_category=2, explore_slots=0))
    assert all(r.score == pytest.approx(ranked[r.content_id]) for r in capped)


def test_popular_and_similar_scores_fall_with_the_order_and_stay_within_zero_and_one():
    rec = _recommender()
    popular = rec.popular(30)
    scores = [r.score for r in popular]
    assert all(0 < s < 1 for s in scores) and scores == sorted(scores, reverse=True)
    counts = [rec.popularity[rec.position[r.content_id]] for r in popular]
    assert counts == sorted(counts, reverse=True)
    similar = rec.similar("i0", 30)
    scores = [r.score for r in similar]
    assert all(0 <= s <= 1 for s in scores) and scores == sorted(scores, reverse=True)
    assert similar[0].category == "t0" and scores[0] > scores[-1]


def test_an_explored_item_carries_the_rankings_relevance_not_its_click_estimate():
    rec = _recommender()
    young = np.zeros(rec.size, bool)
    young[PER_TOPIC * 3 : PER_TOPIC * 4] = True  # topic 3's items are new
    arms = ExploreArms(young, np.zeros(rec.size), np.zeros(rec.size), 0.05)
    user = _warm()
    recs = rec.recommend(user, RankRequest(n=10, diversity=0.0, explore_slots=1), arms, np.random.default_rng(0))
    explored = [r for r in recs if r.method == "explore"]
    assert len(explored) == 1 and 0 <= explored[0].score < 1
    assert 0 < explored[0].explore_context["posterior_ctr"] < 1
    z, scores = _scores_by_relevance(rec, user, explored)
    a, b = calibration(rec.settings, "warm")
    assert scores[0] == pytest.approx(1 / (1 + np.exp(-(a * z[0] + b))))
