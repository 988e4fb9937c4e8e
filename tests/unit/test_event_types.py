"""``EventTypes``: the built-in four weigh as they always have, and a product's own types enter every reader of
weights (the matrix, popularity, co-likes, the holdout's targets, the profile)."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from dummi.domain.events import Event
from dummi.ml.choice.holdout import split_holdout
from dummi.ml.interactions import (
    DEFAULT_EVENT_TYPES,
    EventTypes,
    build_matrix,
    engagement_matrices,
    event_weight,
    popularity,
)
from dummi.ml.ranking.profile import profile_of
from dummi.ml.ranking.types import UserEvent, UserState

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _event(user: str, item: str, kind: str, minute: int = 0, duration: float | None = None) -> Event:
    feedback = kind in ("positive", "negative", "neutral")
    return Event(user, item, "feedback" if feedback else "interaction", kind, duration, T0 + timedelta(minutes=minute))


def test_the_built_in_types_weigh_as_the_seed_says():
    assert DEFAULT_EVENT_TYPES.weights == {"click": 2.0, "like": 5.0, "skip": -1.0, "view_time": 1.0}
    assert [event_weight("interaction", t, None) for t in ("like", "click", "view_time", "skip")] == [5, 2, 1, -1]
    assert event_weight("interaction", "view_time", 60) == 0.5 and event_weight("interaction", "view_time", 3600) == 3
    assert [event_weight("feedback", t, None) for t in ("positive", "negative", "neutral")] == [5, -1, 0]
    assert DEFAULT_EVENT_TYPES.likes() == {"like", "positive"}
    assert DEFAULT_EVENT_TYPES.clicks() == {"click"}
    assert DEFAULT_EVENT_TYPES.negatives() == {"skip", "negative"}
    assert DEFAULT_EVENT_TYPES.popularity_weights() == {
        "like": 1.0,
        "positive": 1.0,
        "click": 0.25,
        "view_time": 0.25,
        "skip": -0.25,
        "negative": -0.25,
    }


def test_the_key_follows_names_and_weights_not_their_order():
    a = EventTypes({"like": 5, "click": 2, "purchase": 8})
    b = EventTypes({"purchase": 8.0, "click": 2.0, "like": 5.0})
    assert a == b and a.key == b.key
    assert a.key != EventTypes({"like": 5, "click": 2, "purchase": 7}).key != DEFAULT_EVENT_TYPES.key
    assert pickle.loads(pickle.dumps(a)) == a  # a batch worker or a cache may get one by pickle
    with pytest.raises(TypeError):
        a.weights["like"] = 50  # read-only: a shared value nobody may change under the others


SHOP = EventTypes({**DEFAULT_EVENT_TYPES.weights, "purchase": 8.0, "add_to_cart": 3.0, "return": -4.0})


def test_a_custom_type_is_a_like_a_click_or_a_skip_by_its_weight():
    assert SHOP.likes() == {"like", "positive", "purchase"}
    assert SHOP.clicks() == {"click", "purchase", "add_to_cart"}
    assert SHOP.negatives() == {"skip", "negative", "return"}
    assert SHOP.popularity_weights()["add_to_cart"] == 0.25 and SHOP.popularity_weights()["return"] == -0.25
    assert SHOP.weight("interaction", "purchase", 9999) == 8.0  # only view_time scales with its duration
    assert SHOP.weight("interaction", "never_defined", None) == 0.0


def test_custom_weights_enter_the_matrix_popularity_and_co_likes():
    events = [
        _event("u1", "a", "purchase"),
        _event("u1", "b", "add_to_cart"),
        _event("u2", "a", "click"),
        _event("u2", "b", "return"),
        _event("u2", "c", "like"),
    ]
    m = build_matrix(events, ["a", "b", "c"], SHOP)
    dense = m.matrix.toarray()
    assert dense.tolist() == [[8.0, 3.0, 0.0], [2.0, 0.0, 5.0]]
    assert m.negatives == {(1, 1)}  # a negative custom type acts like a skip
    assert np.allclose(popularity(events, ["a", "b", "c"], types=SHOP), [1.0, 0.0, 0.8])
    engaged, liked = engagement_matrices(events, ["a", "b", "c"], types=SHOP)
    assert liked.toarray().tolist() == [[1, 0, 0], [0, 0, 1]]
    assert engaged.toarray().tolist() == [[1, 1, 0], [1, 0, 1]]
    # without the shop's types the same events weigh nothing (the built-in four only)
    assert build_matrix(events, ["a", "b", "c"]).matrix.toarray().tolist() == [[0, 0, 0], [2.0, 0, 5.0]]


def test_the_holdout_scores_on_custom_likes():
    events = [_event("u", f"i{k}", "click", k) for k in range(4)] + [_event("u", "i9", "purchase", 10)]
    assert split_holdout(events).relevant == {}
    assert split_holdout(events, types=SHOP).relevant == {"u": {"i9"}}


@pytest.mark.parametrize(("weight", "in_profile"), [(8.0, True), (-2.0, False)])
def test_the_fold_in_weighs_a_users_events_with_its_types(weight, in_profile):
    types = EventTypes({**DEFAULT_EVENT_TYPES.weights, "purchase": weight})
    state = UserState(
        "u",
        [],
        None,
        [UserEvent("a", "interaction", "purchase", None, T0), UserEvent("b", "interaction", "like", None, T0)],
        {"a", "b"},
        event_types=types,
    )
    profile = profile_of(state, {"a": 0, "b": 1}, ("test",), half_life=10.0, power=1.0)
    assert (0 in profile.positions.tolist()) is in_profile
    assert (0 in profile.skipped.tolist()) is not in_profile
