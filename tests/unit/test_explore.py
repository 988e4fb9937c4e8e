"""Exploration: Thompson picks at allowed positions with true propensities, the off-policy estimate, and the
recommender's explore slots (young, matching, unseen items; method explore; none when switched off)."""

from __future__ import annotations

import numpy as np
import pytest

from dummi.ml.explore import FIRST_SLOT, choice_probabilities, posterior, snips, thompson
from dummi.ml.recommender import ExploreArms, HybridRecommender, RankRequest, explore_slots
from tests.unit.test_diversity import _bundle, _fan


def test_thompson_picks_distinct_arms_at_allowed_positions_with_their_propensities():
    rng = np.random.default_rng(0)
    impressions = np.array([0, 10, 200, 50, 5])
    clicks = np.array([0, 1, 20, 1, 0])
    for n in (3, 5, 10):
        for _ in range(50):
            picks = thompson(impressions, clicks, 0.05, 2, n, rng)
            assert len(picks) == min(2, n - FIRST_SLOT + 1)
            assert len({p.index for p in picks}) == len(picks) and len({p.position for p in picks}) == len(picks)
            assert all(FIRST_SLOT <= p.position <= n and 0 < p.propensity <= 1 for p in picks)
    assert thompson(impressions, clicks, 0.05, 1, 2, rng) == []  # no room from position 3 on
    (only,) = thompson(np.array([7]), np.array([1]), 0.05, 1, 10, rng)
    assert only.propensity == pytest.approx(1.0)


def test_propensities_are_the_posterior_chances_of_being_drawn_best():
    a, b = posterior(np.array([0, 30, 300, 1000]), np.array([0, 1, 15, 60]), 0.05)
    assert (a[0], b[0]) == pytest.approx((0.5, 9.5))  # the prior: centred on 5%, 10 pseudo-impressions
    exact = choice_probabilities(a, b)
    draws = np.random.default_rng(1).beta(a, b, size=(200_000, 4))
    monte_carlo = np.bincount(draws.argmax(axis=1), minlength=4) / len(draws)
    assert exact.sum() == pytest.approx(1.0) and exact == pytest.approx(monte_carlo, abs=0.005)
    taken = np.array([False, False, True, False])
    assert choice_probabilities(a, b, taken)[2] == 0.0


def test_snips_recovers_a_target_policy_from_a_logged_one():
    rng = np.random.default_rng(2)
    ctr = np.array([0.02, 0.10])
    chosen = rng.integers(0, 2, 20_000)  # logged: uniform over two arms
    rewards = rng.random(20_000) < ctr[chosen]
    estimate = snips(rewards, np.full(20_000, 0.5), (chosen == 1).astype(float))  # target: always arm 1
    assert estimate == pytest.approx(0.10, abs=0.01)


def _arms(rec: HybridRecommender, young_topics=(3, 4)) -> ExploreArms:
    young = np.array([int(c[1:]) in young_topics for c in rec.categories])
    return ExploreArms(young, np.zeros(rec.size), np.zeros(rec.size), 0.05)


def test_the_recommender_fills_an_explore_slot_with_a_young_unseen_item():
    rec = HybridRecommender(_bundle())
    fan, arms = _fan(), _arms(rec)
    ranked = rec.recommend(fan, RankRequest(n=10))
    for seed in range(20):
        recs = rec.recommend(fan, RankRequest(n=10), arms, np.random.default_rng(seed))
        explored = [(k + 1, r) for k, r in enumerate(recs) if r.method == "explore"]
        assert len(recs) == 10 and len(explored) == 1
        position, item = explored[0]
        assert position >= FIRST_SLOT and 0 < item.propensity <= 1 and item.reason.startswith("new to ")
        assert arms.young[rec.position[item.content_id]] and item.content_id not in fan.seen
        others = [r.content_id for r in recs if r.method != "explore"]
        assert others == [r.content_id for r in ranked[:9]]  # the ranked order, the last one making room
    assert all(r.method != "explore" for r in rec.recommend(fan, RankRequest(n=10, explore_slots=0), arms))
    assert all(r.propensity is None for r in ranked)


def test_default_slots():
    assert explore_slots(RankRequest(n=10)) == 1 and explore_slots(RankRequest(n=9)) == 0
    assert explore_slots(RankRequest(n=5, explore_slots=2)) == 2
