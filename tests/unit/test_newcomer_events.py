"""What a newcomer's few events do to its list: an item it liked lifts what that item's fans also liked; an
item it skipped lifts nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from dummi.domain.events import Event
from dummi.ml.cf import Fitter, fit_cooccurrence
from dummi.ml.interactions import build_matrix, engagement_matrices, popularity
from dummi.ml.model_bundle import ModelBundle
from dummi.ml.recommender import HybridRecommender, RankRequest, UserEvent, UserState
from dummi.ml.vector_index import build_index

AT = datetime(2026, 1, 1, tzinfo=UTC)
COOKING = [f"cooking-{k}" for k in range(10)]
SPORT = [f"sport-{k}" for k in range(10)]
OTHER = [f"other-{k}" for k in range(20)]


def _recommender() -> HybridRecommender:
    """Cooking fans like cooking, sport fans like sport, everyone likes a few of the others: the three groups
    about equally popular, so only a newcomer's co-likes set cooking or sport apart."""
    rng = np.random.default_rng(5)
    ids = COOKING + SPORT + OTHER
    events = []
    for u in range(80):
        group = COOKING if u % 2 == 0 else SPORT
        liked = [*rng.choice(group, 5, replace=False), *rng.choice(OTHER, 5, replace=False)]
        for k, item in enumerate(liked):
            events.append(Event(f"u{u}", str(item), "interaction", "like", None, AT + timedelta(minutes=k)))
    vectors = np.eye(len(ids), 16, dtype=np.float32) + 0.01  # content plays no part (use_embeddings off)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    bundle = ModelBundle(
        np.array(ids, dtype=object),
        ids,
        ["cooking"] * 10 + ["sport"] * 10 + ["other"] * 20,
        build_index(ids, vectors),
        popularity(events, ids),
        Fitter(build_matrix(events, ids).matrix).fit({"algorithm": "ease", "l2": 10.0}),
        {},
        vectors,
        fit_cooccurrence(*engagement_matrices(events, ids)),
    )
    return HybridRecommender(bundle)


def _listed(rec: HybridRecommender, *events: tuple[str, str]) -> list[str]:
    user = UserState(
        "new",
        [],
        None,
        [UserEvent(cid, "interaction", kind, None, AT - timedelta(minutes=k)) for k, (cid, kind) in enumerate(events)],
        {cid for cid, _ in events},
    )
    ranked = rec.recommend(user, RankRequest(n=10, explore_slots=0, use_embeddings=False))
    return [r.content_id for r in ranked]


def test_a_liked_item_lifts_its_fans_likes_and_a_skipped_one_lifts_nothing():
    rec = _recommender()
    liked_sport = _listed(rec, ("sport-0", "like"))
    assert sum(c.startswith("sport") for c in liked_sport) >= 7  # what sport fans liked leads
    assert not any(c.startswith("cooking") for c in liked_sport)
    skipped_cooking = _listed(rec, ("cooking-0", "skip"), ("sport-0", "like"))
    # the skip of a cooking item brings no cooking in: the list is the one the like alone earns
    assert not any(c.startswith("cooking") for c in skipped_cooking)
    assert skipped_cooking == [c for c in liked_sport if c != "cooking-0"][: len(skipped_cooking)]
