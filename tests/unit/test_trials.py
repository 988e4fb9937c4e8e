"""What the choice measures is what serves: the trials' lists for every held-out user, scored all at once,
are the lists ``HybridRecommender`` answers one user at a time, for warm users and newcomers, with the
diversity re-rank, and the calibration is fitted on the very relevance ``score`` reads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from dummi.domain.events import Event
from dummi.ml.cf import Fitter, fit_cooccurrence
from dummi.ml.choice.holdout import newcomer_folds, split_holdout, user_states
from dummi.ml.interactions import build_matrix, engagement_matrices, popularity
from dummi.ml.model_bundle import ModelBundle
from dummi.ml.recommender import HybridRecommender, RankRequest
from dummi.ml.sequence import fit_transitions
from dummi.ml.vector_index import build_index
from dummi.training.choice import trials_on

N_ITEMS, N_USERS, CATEGORIES = 120, 90, 6
AT = datetime(2026, 1, 1, tzinfo=UTC)


def _catalog():
    """Users with a taste for one category, likes, clicks and skips over time, stated interests for some."""
    rng = np.random.default_rng(7)
    ids = [f"i{k}" for k in range(N_ITEMS)]
    category = np.arange(N_ITEMS) % CATEGORIES
    centres = rng.normal(size=(CATEGORIES, 16))
    vectors = np.pad(centres[category] + 0.7 * rng.normal(size=(N_ITEMS, 16)), ((0, 0), (0, 384 - 16)))
    vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    weight = 1.0 / np.arange(1, N_ITEMS + 1) ** 0.8
    events, interests = [], {}
    for u in range(N_USERS):
        taste = u % CATEGORIES
        p = weight * np.where(category == taste, 4.0, 1.0)
        items = rng.choice(N_ITEMS, int(rng.integers(6, 30)), replace=False, p=p / p.sum())
        for k, i in enumerate(items):
            kind = "like" if category[i] == taste or rng.random() < 0.3 else ("click" if rng.random() < 0.6 else "skip")
            at = AT + timedelta(hours=u, minutes=int(k // 3))  # some events share a moment (one session)
            events.append(Event(f"u{u}", ids[int(i)], "interaction", kind, None, at))
        if u % 3 == 0:
            interests[f"u{u}"] = ([f"c{taste}"], centres[taste] / np.linalg.norm(centres[taste]))
    interests = {u: (names, np.pad(v, (0, 384 - 16)).astype(np.float32)) for u, (names, v) in interests.items()}
    categories = [f"c{c}" for c in category]
    tags = [[f"t{k % 4}"] for k in range(N_ITEMS)]
    return events, ids, categories, tags, vectors, interests


CATALOG = _catalog()
RECIPES = [
    ({"algorithm": "ease", "l2": 50.0}, {}),
    (
        {"algorithm": "ease+itemknn", "l2": 50.0, "weight": 1.0},
        {"popularity_penalty": 0.5, "skip_penalty": 1.0, "cf_share": 0.65, "recency_half_life": 5.0},
    ),
    ({"algorithm": "nmf", "n_components": 8}, {"recency_half_life": 0.0, "event_weighting": 0.0, "sequence_weight": 0}),
    (
        {"algorithm": "itemknn"},
        {"newcomer_weights": {"popularity": 1.0, "colike": 0.3, "cf": 0.2, "next": 0.1, "interest": 0.2}},
    ),
    (
        {"algorithm": "ease", "l2": 50.0},
        {
            "newcomer_cf": {"algorithm": "ease+itemknn", "l2": 50.0, "weight": 1.0},
            "newcomer_weights": {"popularity": 1.0, "cf_first": -0.2, "cf_second": 0.4, "profile": 0.1},
            "match_boost": 0.0,
        },
    ),
]


def _serving(holdout, config, settings):
    """The recommender serving would build from the models of this cut (the newcomers' CF model too)."""
    events, ids, categories, tags, vectors, _ = CATALOG
    fit = holdout.fit_events
    fitter = Fitter(build_matrix(fit, ids).matrix)
    newcomer = settings.get("newcomer_cf")
    bundle = ModelBundle(
        np.array(ids, dtype=object),
        list(ids),
        categories,
        build_index(ids, vectors),
        popularity(fit, ids),
        fitter.fit(config),
        settings,
        vectors,
        fit_cooccurrence(*engagement_matrices(fit, ids)),
        fit_transitions(fit, ids),
        tags=tags,
        newcomer_cf=fitter.fit(newcomer) if newcomer else None,
    )
    return HybridRecommender(bundle)


def _trials(holdout):
    events, ids, categories, tags, vectors, interests = CATALOG
    from dummi.ml.interests import label_index

    by_label = {k: np.array(v, np.int64) for k, v in label_index(categories, tags).items()}
    items = (ids, categories, vectors, lambda key: by_label.get(key, np.empty(0, np.int64)))
    return trials_on(holdout, items, interests)


@pytest.fixture(scope="module", params=["search cut", "newcomer fold"])
def cut(request):
    events = CATALOG[0]
    holdout = split_holdout(events) if request.param == "search cut" else newcomer_folds(events)[0]
    return holdout, _trials(holdout), user_states(holdout.fit_events, CATALOG[5], users=set(holdout.relevant))


@pytest.mark.parametrize("config, settings", RECIPES, ids=lambda x: str(x)[:40])
def test_trials_list_what_serving_lists_for_every_held_out_user(cut, config, settings):
    holdout, trials, states = cut
    assert len(trials.users) >= 20
    result = trials.run(config, settings)
    recommender = _serving(holdout, config, settings)
    ids = CATALOG[1]
    for k, user in enumerate(trials.users):
        served = recommender.ranked_ids(states[user], RankRequest(explore_slots=0, diversity=0.0))
        assert [ids[p] for p in result.lists[k] if p >= 0] == served, user


@pytest.mark.slow
@pytest.mark.parametrize("diversity", [0.3, 1.0])
def test_the_diversity_re_rank_in_trials_is_servings(cut, diversity):
    holdout, trials, states = cut
    config, settings = RECIPES[1]
    result = trials.run_diversified(config, settings, diversity)
    recommender = _serving(holdout, config, settings)
    ids = CATALOG[1]
    for k, user in enumerate(trials.users):
        served = recommender.ranked_ids(states[user], RankRequest(explore_slots=0, diversity=diversity))
        assert [ids[p] for p in result.lists[k] if p >= 0] == served, user


def test_calibration_is_fitted_on_the_relevance_score_reads(cut):
    holdout, trials, states = cut
    config, settings = RECIPES[3]
    rows = trials.calibration_rows(config, settings, 20)
    recommender = _serving(holdout, config, settings)
    expected = {"warm": [], "cold": []}
    for user in trials.users:
        mode, positions, z = recommender.standardised_relevance(states[user], 20)
        expected[mode].append(z)
    for mode in ("warm", "cold"):
        want = np.concatenate(expected[mode]) if expected[mode] else np.empty(0)
        # equal up to float32 rounding: the content cosines are float32 products summed in another order
        np.testing.assert_allclose(rows[mode][0], want, rtol=1e-5, atol=1e-6)
