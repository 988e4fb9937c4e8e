"""The next-item model: what it learns from order, what it ignores, and how the recommender uses it."""

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from dummi.domain.events import Event
from dummi.ml.cf import ItemItemModel
from dummi.ml.model_bundle import ModelBundle, bundle_files, parse_bundle
from dummi.ml.recommender import HybridRecommender, RankRequest, UserEvent, UserState
from dummi.ml.sequence import fit_transitions
from dummi.ml.vector_index import build_index

T0 = datetime(2026, 1, 1, tzinfo=UTC)
ITEMS = [f"i{k}" for k in range(8)]


def like(user, item, minute, event_type="like"):
    return Event(user, item, "interaction", event_type, None, T0 + timedelta(minutes=minute))


def row(model: ItemItemModel, item: str) -> dict[str, float]:
    i = ITEMS.index(item)
    lo, hi = model.indptr[i], model.indptr[i + 1]
    return {ITEMS[j]: float(v) for j, v in zip(model.indices[lo:hi], model.data[lo:hi], strict=True)}


def test_what_follows_an_item_is_learned_forward_only():
    # every user goes i0 -> i1 -> i2; some also i5 after i2
    events = [like(f"u{u}", f"i{k}", k) for u in range(20) for k in range(3)]
    events += [like(f"u{u}", "i5", 10) for u in range(5)]
    model = fit_transitions(events, ITEMS, window=1)
    assert set(row(model, "i0")) == {"i1"}
    assert set(row(model, "i1")) == {"i2"}
    assert set(row(model, "i2")) == {"i5"}
    assert row(model, "i5") == {}  # nothing followed it; and no backward i5 -> i2
    # shares are shrunk: 20 of 20 followers, not 1.0
    assert 0.5 < row(model, "i0")["i1"] < 1.0
    wide = fit_transitions(events, ITEMS, window=2)
    assert set(row(wide, "i0")) == {"i1", "i2"}


def test_events_at_the_same_time_carry_no_order():
    # stored always as i3 then i4, but at the same moment: neither direction may win
    events = [e for u in range(400) for e in (like(f"u{u}", "i3", 0), like(f"u{u}", "i4", 0))]
    model = fit_transitions(events, ITEMS, window=1)
    forward, backward = row(model, "i3")["i4"], row(model, "i4")["i3"]
    assert forward == pytest.approx(backward, rel=0.25)


def test_skips_and_unknown_items_are_not_part_of_a_sequence():
    events = []
    for u in range(10):
        events += [
            like(f"u{u}", "i0", 0),
            like(f"u{u}", "i6", 1, "skip"),
            like(f"u{u}", "gone", 2),
            like(f"u{u}", "i1", 3),
        ]
    model = fit_transitions(events, ITEMS, window=1)
    assert set(row(model, "i0")) == {"i1"}
    assert row(model, "i6") == {}


def _bundle(sequence, settings, cf_prefers="i4"):
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(len(ITEMS), 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    # CF: every item points a little at i2 and more at `cf_prefers`
    prefer = ITEMS.index(cf_prefers)
    indptr = np.arange(0, 2 * len(ITEMS) + 1, 2, dtype=np.int64)
    indices = np.array([j for _ in ITEMS for j in (2, prefer)], np.int32)
    data = np.array([v for _ in ITEMS for v in (0.1, 0.2)], np.float32)
    cf = ItemItemModel("itemknn", indptr, indices, data)
    popularity = np.linspace(1.0, 0.3, len(ITEMS)).astype(np.float32)  # i0 most popular
    return ModelBundle(
        np.array(ITEMS, dtype=object),
        ITEMS,
        ["c"] * len(ITEMS),
        build_index(ITEMS, vectors),
        popularity,
        cf,
        settings,
        vectors,
        None,
        sequence,
    )


def _state(items):
    events = [UserEvent(c, "interaction", "like", None, T0 + timedelta(minutes=k)) for k, c in enumerate(items)]
    return UserState("u", [], None, events[::-1], set(items))


def test_the_recommender_puts_what_follows_the_latest_item_first():
    # others went i1 -> i3 and i0 -> i5
    events = [like(f"u{u}", "i1", 0) for u in range(10)] + [like(f"u{u}", "i3", 1) for u in range(10)]
    events += [like(f"v{u}", "i0", 0) for u in range(10)] + [like(f"v{u}", "i5", 1) for u in range(10)]
    sequence = fit_transitions(events, ITEMS)
    request = RankRequest(n=3, use_embeddings=False)
    warm = _state(["i6", "i7", "i0", "i2", "i1"])  # 5 items: warm; the latest is i1
    settings = {"sequence_weight": 2.0}
    assert [r.content_id for r in HybridRecommender(_bundle(None, settings)).recommend(warm, request)][0] == "i4"
    with_next = HybridRecommender(_bundle(sequence, settings)).recommend(warm, request)
    assert with_next[0].content_id == "i3"  # follows the latest item
    assert with_next[0].reason == "often chosen after i1" and with_next[0].method == "cf"
    assert [r.content_id for r in with_next].index("i5") > 0  # follows an older one: less
    off = HybridRecommender(_bundle(sequence, {"sequence_weight": 0.0})).recommend(warm, request)
    assert off[0].content_id == "i4"

    newcomer = _state(["i1"])  # cold: popularity, lifted by what followed its item
    cold_settings = {"sequence_boost": 0.0}
    plain = [r.content_id for r in HybridRecommender(_bundle(sequence, cold_settings)).recommend(newcomer, request)]
    lifted = HybridRecommender(_bundle(sequence, {"sequence_boost": 5.0})).recommend(newcomer, request)
    assert plain[0] == "i0" and lifted[0].content_id == "i3"
    assert lifted[0].reason == "often chosen after i1"


def test_the_sequence_model_round_trips_through_the_artifact_files():
    events = [like(f"u{u}", f"i{k}", k) for u in range(5) for k in range(4)]
    bundle = _bundle(fit_transitions(events, ITEMS), {"sequence_weight": 0.25})
    files, facts = bundle_files(bundle)
    assert facts["sequence"]["params"]["window"] == 20
    loaded = parse_bundle({"model": facts}, files)
    for name, array in bundle.sequence.arrays().items():
        np.testing.assert_array_equal(loaded.sequence.arrays()[name], array)
    with pytest.raises(ValueError, match="sequence model"):
        _bundle(fit_transitions(events, ITEMS[:4]), {})
