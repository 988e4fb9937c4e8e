"""The trending formula (``dummi.ml.trending``): a rise against an item's own baseline, with a prior."""

from __future__ import annotations

import math

import numpy as np

from dummi.ml.catalog import Catalog
from dummi.ml.trending import PRIOR, trending, trends


def test_one_click_on_a_cold_item_is_no_trend():
    assert trends([("cold", 1, 0)], window_hours=24) == []


def test_a_burst_beats_a_steady_favourite():
    # "steady" draws 1000 events a day and drew 1000 today; "old" drew 7 in a week and 30 today
    found = trends([("steady", 1000, 7000), ("old", 30, 7), ("pair", 2, 0)], window_hours=24)
    assert [t.content_id for t in found] == ["old", "pair"]
    old = found[0]
    assert math.isclose(old.expected, 1.0) and math.isclose(old.trend, math.log((30 + PRIOR) / (1 + PRIOR)))
    assert 0 < found[1].score < old.score < 1


def test_ties_go_to_more_events_then_by_id():
    found = trends([("b", 4, 0), ("a", 4, 0), ("c", 9, 0)], window_hours=1)
    assert [t.content_id for t in found] == ["c", "a", "b"]


def test_the_list_leaves_out_what_may_not_be_shown():
    found = trends([(cid, 10 - k, 0) for k, cid in enumerate("abcd")], window_hours=24)
    blocked = np.array([False, True, False, False])
    end = np.array([math.inf, math.inf, 0.0, math.inf])  # c expired at the epoch
    catalog = Catalog(["A", "B", "C", "D"], ["x", "x", "x", "y"], [[], [], [], []], blocked=blocked, end=end)
    position = {"a": 0, "b": 1, "c": 2, "d": 3}
    listed = trending(found, position, catalog, 10, now=1000.0, window="24h")
    assert [r.content_id for r in listed] == ["a", "d"] and listed[0].method == "trending"
    assert [r.content_id for r in trending(found, position, catalog, 10, now=1000.0, category="y")] == ["d"]
    assert [r.content_id for r in trending(found, position, catalog, 1, now=1000.0)] == ["a"]
    assert trending(found, {}, catalog, 10, now=1000.0) == []  # not in the catalog: never listed


def test_the_cache_reads_a_window_again_once_its_counts_are_older_than_the_refresh(monkeypatch):
    import time

    from dummi.services import trending_service

    reads = []

    def read(db, window_hours, rolled):
        reads.append(window_hours)
        return trending_service.Ranked([], float(window_hours), time.monotonic()), rolled

    monkeypatch.setattr(trending_service, "read_trends", read)
    cache = trending_service.TrendingCache(refresh=0.2)
    first = cache.get(None, 24)
    assert cache.get(None, 24) is first and reads == [24]  # fresh: no read
    cache.get(None, 6)
    assert reads == [24, 6]  # each window has its own counts
    time.sleep(0.25)
    assert cache.get(None, 24) is not first and reads == [24, 6, 24]  # stale: read again
