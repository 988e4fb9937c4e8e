"""Experiments' pure parts: assignment (stable, ramp-safe, split by weight), overrides (checked, applied)
and statistics (delta method by hand, always-valid interval wider than the fixed one, SRM)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from dummi.experiments.assignment import BUCKETS, Experiment, Variant, assign, bucket, in_traffic, variant_of
from dummi.experiments.overrides import check
from dummi.experiments.statistics import (
    UserSums,
    always_valid_half_width,
    chi2_sf,
    lift,
    ratio,
    sample_ratio_mismatch,
)
from dummi.ml.recommender import RankRequest

NOW = datetime(2026, 11, 28, tzinfo=UTC)


def _experiment(traffic=100.0, weights=(1.0, 1.0), name="exp", salt="s1", **kw) -> Experiment:
    variants = tuple(Variant(f"v{i}", w) for i, w in enumerate(weights))
    return Experiment(name, salt, variants, traffic, NOW - timedelta(days=1), **kw)


USERS = [f"user-{i}" for i in range(20_000)]


def test_a_user_keeps_their_variant_and_the_split_follows_the_weights():
    e = _experiment(weights=(1.0, 3.0))
    first = {u: variant_of(e, u).name for u in USERS}
    assert first == {u: variant_of(_experiment(weights=(1.0, 3.0)), u).name for u in USERS}  # any process
    share = sum(v == "v1" for v in first.values()) / len(USERS)
    assert share == pytest.approx(0.75, abs=0.015)
    # another salt or experiment name gives an independent split
    other = {u: variant_of(_experiment(weights=(1.0, 3.0), salt="s2"), u).name for u in USERS}
    agree = sum(first[u] == other[u] for u in USERS) / len(USERS)
    assert agree == pytest.approx(0.75**2 + 0.25**2, abs=0.02)


def test_raising_the_traffic_keeps_everyone_in_their_variant():
    low, high = _experiment(traffic=10.0), _experiment(traffic=50.0)
    inside_low = [u for u in USERS if in_traffic(low, u)]
    assert len(inside_low) / len(USERS) == pytest.approx(0.10, abs=0.01)
    assert all(in_traffic(high, u) for u in inside_low)
    assert all(assign([high], u, NOW).variant == assign([low], u, NOW).variant for u in inside_low)
    assert sum(in_traffic(high, u) for u in USERS) / len(USERS) == pytest.approx(0.5, abs=0.015)
    assert all(0 <= bucket(low, u) < BUCKETS for u in USERS[:100])


def test_only_running_experiments_assign_and_the_oldest_comes_first():
    stopped = _experiment(name="a", stopped_at=NOW - timedelta(hours=1))
    later = Experiment("b", "s", (Variant("x", 1), Variant("y", 1)), 100.0, NOW + timedelta(days=1))
    ended = _experiment(name="c", ends_at=NOW - timedelta(minutes=1))
    running = _experiment(name="d")
    assert all(assign([e], "u1", NOW) is None for e in (stopped, later, ended))
    assert assign([stopped, later, ended, running], "u1", NOW).experiment == "d"
    assert assign([_experiment(name="e"), running], "u1", NOW).experiment == "e"


def test_overrides_are_checked_and_replace_the_request():
    o = check({"algorithm": "nmf", "cf_weight": 0.2, "use_cf": False, "recency_half_life": 5, "cold_threshold": 3})
    assert o.algorithm == "nmf" and o.settings == {"recency_half_life": 5.0, "cold_threshold": 3}
    applied = o.apply(RankRequest(n=7, cf_weight=0.9))
    assert (applied.n, applied.cf_weight, applied.use_cf) == (7, 0.2, False)
    assert o.changes_model and not check({"cf_weight": 1}).changes_model
    for bad, word in [
        ({"algorithm": "svd"}, "algorithm"),
        ({"cf_weight": 1.5}, "cf_weight"),
        ({"cf_weight": "0.5"}, "cf_weight"),
        ({"use_cf": 1}, "use_cf"),
        ({"cold_threshold": 2.5}, "whole"),
        ({"skip_penalty": -1}, "skip_penalty"),
        ({"n": 5}, "cannot be overridden"),
    ]:
        with pytest.raises(ValueError, match=word):
            check(bad)


def test_the_delta_method_variance_by_hand():
    clicks, shown = [1, 0, 3, 2], [10, 5, 20, 10]
    s = UserSums.of(clicks, shown)
    r = 6 / 45
    mean_x, mean_n = 1.5, 11.25
    var_x = sum((x - mean_x) ** 2 for x in clicks) / 3
    var_n = sum((n - mean_n) ** 2 for n in shown) / 3
    cov = sum((x - mean_x) * (n - mean_n) for x, n in zip(clicks, shown, strict=True)) / 3
    expected = (var_x - 2 * r * cov + r * r * var_n) / (4 * mean_n**2)
    est = ratio(s)
    assert est.ctr == pytest.approx(r) and est.variance == pytest.approx(expected)
    low, high = est.interval()
    assert (low + high) / 2 == pytest.approx(r) and high - low == pytest.approx(2 * 1.959964 * math.sqrt(expected))
    assert ratio(UserSums()).ctr is None and ratio(UserSums.of([1], [4])).variance is None
    # few clicks on many users: the normal interval would reach below 0, a CTR cannot
    assert ratio(UserSums.of([1, 0, 0, 0], [10, 10, 10, 10])).interval()[0] == 0.0


def test_the_always_valid_interval_is_wider_than_the_fixed_one_and_shrinks_with_data():
    control = ratio(UserSums.of([1, 0, 2, 1] * 500, [10, 10, 10, 10] * 500))
    better = ratio(UserSums.of([2, 1, 2, 1] * 500, [10, 10, 10, 10] * 500))
    found = lift(control, better)
    assert found.relative == pytest.approx(0.5)
    assert found.interval[0] < found.fixed_interval[0] < found.relative < found.fixed_interval[1] < found.interval[1]
    assert found.significant
    assert always_valid_half_width(1e-4) < always_valid_half_width(1e-3)
    assert lift(control, ratio(UserSums.of([0, 0], [5, 5]))) is None  # no clicks: no log-lift yet


def test_sample_ratio_mismatch():
    stat, p = sample_ratio_mismatch([5000, 5000], [1, 1])
    assert (stat, p) == (0.0, 1.0)
    stat, p = sample_ratio_mismatch([5000, 4000], [1, 1])
    assert stat == pytest.approx(2 * 500**2 / 4500) and p < 1e-20  # expected 4,500 each
    assert sample_ratio_mismatch([2500, 7500], [1, 3])[1] == pytest.approx(1.0)
    assert chi2_sf(3.841458820694124, 1) == pytest.approx(0.05, rel=1e-6)
    assert chi2_sf(7.814727903251178, 3) == pytest.approx(0.05, rel=1e-6)
