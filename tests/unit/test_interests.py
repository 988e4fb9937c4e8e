"""Interests: label matching, the varied suggestions, and a newcomer's list on a hand-made model (no I/O)."""

import math

import numpy as np
import pytest

from dummi.ml.interests import item_labels, label, suggest
from dummi.ml.model_bundle import ModelBundle, bundle_files, parse_bundle
from dummi.ml.recommender import FreshItems, HybridRecommender, RankRequest, UserState
from dummi.ml.vector_index import build_index


def test_labels_ignore_case_and_separators():
    assert label("Machine-Learning") == label("machine learning") == label(" machine__learning ") == "machine learning"
    assert item_labels("Cooking", ["Baking", "", "quick-meals"]) == {"cooking", "baking", "quick meals"}


def test_suggestions_cover_different_items_first_and_leave_out_the_users_own():
    items = [("db", ["sql"], 1.0)] * 6 + [("food", ["baking"], 1.0)] * 3 + [("food", [], 1.0)] * 2
    picked = suggest(items, n=4)
    assert [p.interest for p in picked] == ["db", "food", "sql", "baking"]  # sql repeats db: a second round
    assert (picked[0].items, picked[0].share) == (6, pytest.approx(6 / 11))
    assert [p.interest for p in suggest(items, exclude=["DB"], n=2)] == ["food", "baking"]
    # engagement decides, not item counts
    weighted = [("db", [], 0.1)] * 6 + [("food", [], 5.0)]
    assert suggest(weighted, n=1)[0].interest == "food"
    assert suggest([("a", [], 0.0)], n=3) == []  # nothing engaged: nothing to suggest


def test_suggestions_keep_the_catalogs_spelling():
    items = [("Machine-Learning", [], 1.0), ("machine learning", [], 1.0), ("Machine-Learning", [], 1.0)]
    (only,) = suggest(items, n=5)
    assert only.interest == "machine-learning" and only.items == 3


def _bundle(n_items: int, popularity: np.ndarray, categories: list[str], tags: list[list[str]]) -> ModelBundle:
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(n_items, 8)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = [f"i{k}" for k in range(n_items)]
    return ModelBundle(
        np.array(ids, dtype=object), ids, categories, build_index(ids, vectors), popularity, None, tags=tags
    )


def _newcomer(interests: list[str]) -> UserState:
    return UserState("u", interests, None, [], set())


def test_a_newcomers_matches_lead_and_fill_at_least_seventy_percent():
    n_items = 30
    popularity = np.linspace(1.0, 0.0, n_items).astype(np.float32)  # i0 is the most popular
    categories = ["big"] * 20 + ["niche"] * 10
    tags = [[] for _ in range(n_items)]
    tags[3] = ["Niche"]  # a popular item tagged with the interest matches too
    bundle = _bundle(n_items, popularity, categories, tags)
    for boost in (1000.0, 0.0):  # even with no lift, the quota holds
        rec = HybridRecommender(ModelBundle(**{**_fields(bundle), "settings": {"match_boost": boost}}))
        top = rec.recommend(_newcomer(["niche"]), RankRequest(n=10))
        matched = [r for r in top if r.content_id == "i3" or r.category == "niche"]
        assert len(matched) >= math.ceil(0.7 * 10)
        assert all(r.method == "interest" and r.reason == "matches your interest niche" for r in matched)
    rec = HybridRecommender(bundle)
    top = [r.content_id for r in rec.recommend(_newcomer(["niche"]), RankRequest(n=11))]
    assert top[0] == "i3" and set(top) == {"i3", *(f"i{k}" for k in range(20, 30))}  # by popularity within


def test_without_a_match_the_reason_says_so_and_new_items_count_as_popular():
    n_items = 10
    bundle = _bundle(n_items, np.linspace(1.0, 0.1, n_items).astype(np.float32), ["a"] * n_items, [[]] * n_items)
    rec = HybridRecommender(bundle)
    (first,) = rec.recommend(_newcomer(["pottery"]), RankRequest(n=1))
    assert first.method == "popular" and first.reason == "nothing matches your interests (pottery) yet; popular in a"
    fresh = FreshItems(["new"], ["New"], ["pottery"], [["wheel"]], np.ones((1, 8), np.float32) / np.sqrt(8))
    rec = HybridRecommender(bundle, fresh)
    assert rec.recommend(_newcomer(["pottery"]), RankRequest(n=1))[0].content_id == "new"
    assert rec.recommend(_newcomer(["Wheel"]), RankRequest(n=1))[0].reason == "matches your interest Wheel"
    assert rec.needs_interests(_newcomer([])) and not rec.needs_interests(_newcomer(["x"]))


def test_tags_travel_with_the_published_model():
    bundle = _bundle(3, np.ones(3, np.float32), ["a", "b", "c"], [["x"], [], ["y", "z"]])
    files, facts = bundle_files(bundle)
    parsed = parse_bundle({"model": facts}, files)
    assert parsed.tags == [["x"], [], ["y", "z"]]
    assert parsed.label_positions("y").tolist() == [2] and parsed.label_positions("q").tolist() == []


def _fields(bundle: ModelBundle) -> dict:
    return {
        "item_ids": bundle.item_ids,
        "titles": bundle.titles,
        "categories": bundle.categories,
        "index": bundle.index,
        "popularity": bundle.popularity,
        "cf": None,
        "tags": bundle.tags,
    }
