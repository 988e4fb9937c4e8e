"""Every online formula against figures worked out by hand on a small fixture (three items, two answers on
one surface, one on another)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from dummi.ml.metrics import category_spread, intra_list_diversity, self_information
from dummi.services.online_metrics_service import ALL_METHODS, Aggregate, ItemInfo, figures

AT = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
E1, E2 = np.array([1.0, 0.0, 0.0], np.float32), np.array([0.0, 1.0, 0.0], np.float32)
BOTH = (E1 + E2) / math.sqrt(2)


@pytest.fixture
def rows():
    items = {
        "a": ItemInfo("X", AT - timedelta(days=2), E1),
        "b": ItemInfo("X", AT - timedelta(days=30), E2),
        "c": ItemInfo("Y", AT - timedelta(days=1), BOTH),
    }
    popularity = {"a": 2, "b": 1}  # of 4 users; nobody used c
    agg = Aggregate(items, popularity, 4, 10, clicked={("r1", "a"), ("r3", "c")}, liked={("r1", "c")})
    agg.add("r1", "u1", "api", None, None, "v1", AT, ["a", "b", "c"], ["cf", "cf", "embedding"])
    agg.add("r2", "u2", "api", None, None, "v1", AT, ["b", "a"], ["cf", "popular"])
    agg.add("r3", "u1", "home", "exp", "B", "v1", AT, ["c"], ["embedding"])
    return {(r["surface"], r["method"]): r for r in agg.rows()}


def test_list_metrics():
    assert intra_list_diversity(np.vstack([E1, E2, BOTH])) == pytest.approx(1 - (2 / math.sqrt(2)) / 3)
    assert intra_list_diversity(np.vstack([E1, E1])) == pytest.approx(0.0)
    assert intra_list_diversity(np.vstack([E1])) is None
    assert category_spread(["X", "X", "Y"]) == pytest.approx(2 / 3) and category_spread([]) is None
    assert self_information(0.5, 4) == pytest.approx(1.0)
    assert self_information(0.0, 4) == pytest.approx(math.log2(5))  # floored at 1 / (users + 1)


def test_whole_lists(rows):
    whole = rows[("api", ALL_METHODS)]
    assert (whole["day"].isoformat(), whole["experiment"], whole["variant"], whole["model_version"]) == (
        "2026-11-20",
        "",
        "",
        "v1",
    )
    assert (whole["lists"], whole["impressions"], whole["users"], whole["clicks"], whole["likes"]) == (2, 5, 2, 1, 1)
    f = figures(whole)
    assert f["ctr"] == pytest.approx(1 / 5)
    assert f["like_rate"] == pytest.approx(1 / 5)
    assert f["ctr_per_user"] == pytest.approx((1 / 3 + 0 / 2) / 2, abs=1e-6)  # u2 never clicked and still counts
    assert f["ctr_by_position"] == {"1": pytest.approx(1 / 2), "2": 0.0, "3": 0.0}
    assert f["coverage"] == pytest.approx(3 / 10)
    r1 = 1 - (2 / math.sqrt(2)) / 3
    assert f["intra_list_diversity"] == pytest.approx((r1 + 1.0) / 2, abs=1e-6)
    assert f["category_spread"] == pytest.approx((2 / 3 + 1 / 2) / 2, abs=1e-6)
    assert f["novelty"] == pytest.approx((1 + 2 + math.log2(5) + 2 + 1) / 5, abs=1e-6)
    assert f["young_share"] == pytest.approx(3 / 5)  # a (2 days) twice and c (1 day); b is 30 days old


def test_per_method_rows(rows):
    cf = rows[("api", "cf")]
    assert (cf["lists"], cf["impressions"], cf["clicks"], cf["users"]) == (2, 3, 1, 2)
    assert figures(cf)["ctr_per_user"] == pytest.approx((1 / 2 + 0) / 2)
    assert figures(cf)["category_spread"] is None  # a list-level figure: only on the whole lists
    embedding = rows[("api", "embedding")]
    assert (embedding["impressions"], embedding["clicks"], embedding["likes"]) == (1, 0, 1)
    assert rows[("api", "popular")]["by_position"] == {"2": [1, 0]}


def test_surfaces_and_variants_are_apart(rows):
    home = rows[("home", ALL_METHODS)]
    assert (home["experiment"], home["variant"], home["impressions"], home["clicks"]) == ("exp", "B", 1, 1)
    assert figures(home)["intra_list_diversity"] is None and home["diversity_lists"] == 0
    assert figures(home)["ctr_per_user"] == 1.0


def test_item_rows_count_each_item_per_day_across_surfaces_and_variants():
    items = {cid: ItemInfo("X", AT - timedelta(days=30), None) for cid in "abc"}
    agg = Aggregate(items, {}, 4, 10, clicked={("r1", "a"), ("r3", "a")}, liked={("r1", "b")})
    agg.add("r1", "u1", "api", None, None, "v1", AT, ["a", "b"], ["cf", "cf"])
    agg.add("r2", "u2", "home", "exp", "B", "v1", AT, ["a", "c"], ["cf", "popular"])
    agg.add("r3", "u1", "api", None, None, "v1", AT + timedelta(days=1), ["a"], ["cf"])
    day = AT.date()
    assert agg.item_rows() == [
        ("a", day, 2, 1, 0),  # shown in r1 and r2 (two surfaces, one in a variant), clicked in r1
        ("a", day + timedelta(days=1), 1, 1, 0),
        ("b", day, 1, 0, 1),
        ("c", day, 1, 0, 0),
    ]
