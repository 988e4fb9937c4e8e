"""The engine's options the Personalize surface uses, on fake repositories: an unknown user served as a
newcomer when asked, a caller's gate shaping the list (and related items) inside ranking, and a variant served
by name whoever the user is."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from dummi.errors import NotFoundError
from dummi.experiments.assignment import Experiment, Variant
from dummi.ml.recommender import RankRequest
from tests.unit.test_services_recommendation import _publish, serving  # noqa: F401 - the fixture


def _only(*ids: str):
    calls = []

    def gate(catalog, position, user):
        calls.append(user)
        mask = np.zeros(catalog.size, bool)
        mask[[position[i] for i in ids]] = True
        return mask

    gate.calls = calls
    return gate


def test_an_unknown_user_gets_a_newcomers_list_when_asked(serving):  # noqa: F811
    engine, work, store, *_ = serving
    _publish(store, "v1", ["a", "b", "c"])
    with pytest.raises(NotFoundError):
        engine.recommend(work, "nobody", RankRequest(n=3, explore_slots=0))
    served = engine.recommend(work, "nobody", RankRequest(n=3, explore_slots=0), unknown_as_newcomer=True)
    assert [r.content_id for r in served.recommendations] == ["a", "b", "c"]  # the most popular first


def test_a_gate_shapes_the_list_inside_ranking_and_related_items(serving):  # noqa: F811
    engine, work, store, *_ = serving
    _publish(store, "v1", ["a", "b", "c", "d"])
    gate = _only("b", "d")
    served = engine.recommend(work, "alice", RankRequest(n=4, explore_slots=0, gate=gate))
    assert [r.content_id for r in served.recommendations] == ["b", "d"]
    assert gate.calls[0].user_id == "alice"  # the user as ranking read it
    related = engine.similar(work, "a", 4, gate=_only("c"))
    assert [r.content_id for r in related.recommendations] == ["c"]


def test_a_variant_named_by_the_caller_serves_whoever_the_user_is(serving):  # noqa: F811
    engine, work, store, clock, *_, experiments = serving
    _publish(store, "v1", ["a", "b", "c"])
    started = datetime.now(UTC) - timedelta(days=1)
    variants = (Variant("control", 1.0), Variant("one-each", 1.0, {"max_per_category": 1}))
    experiments.experiments.append(Experiment("caps", "salt", variants, 100.0, started))
    for variant in ("control", "one-each"):
        served = engine.recommend(work, "alice", RankRequest(n=3, explore_slots=0), serve_variant=("caps", variant))
        assert (served.experiment, served.variant) == ("caps", variant)
    assert (
        len(
            engine.recommend(
                work, "alice", RankRequest(n=3, explore_slots=0), serve_variant=("caps", "one-each")
            ).recommendations
        )
        == 1
    )
    served = engine.recommend(work, "alice", RankRequest(n=3, explore_slots=0), serve_variant=("caps", "nope"))
    assert (served.experiment, served.variant) == (None, None)  # no such variant: the default
