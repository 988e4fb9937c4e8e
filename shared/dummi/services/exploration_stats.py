"""What exploration learns from: how often each item was shown and clicked (the metrics job rebuilds the
counts), which items are young, and the CTR prior an item with few impressions starts from."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from dummi.ml.explore import YOUNG_DAYS, YOUNG_IMPRESSIONS
from dummi.ml.recommender import ExploreArms, HybridRecommender
from dummi.services.unit_of_work import UnitOfWork

# How often the per-item counts exploration learns from are re-read (the metrics job rebuilds them).
ARMS_REFRESH_SECONDS = 60.0
# The prior's centre when little has been shown yet: the global CTR, shrunk toward this with this weight.
PRIOR_CTR, PRIOR_IMPRESSIONS = 0.05, 1000.0

# (content_id, impressions, clicks) per item shown, and the ids of items younger than YOUNG_DAYS
Counts = tuple[list, list]


def prior_ctr(total_shown: float, total_clicks: float) -> float:
    """The global CTR, shrunk toward PRIOR_CTR as if PRIOR_IMPRESSIONS more had been shown at that rate."""
    return (total_clicks + PRIOR_CTR * PRIOR_IMPRESSIONS) / (total_shown + PRIOR_IMPRESSIONS)


def explore_arms(counts: Counts, recommender: HybridRecommender) -> ExploreArms:
    """The counts on the recommender's positions (items it does not hold are left out); young: shown fewer
    than YOUNG_IMPRESSIONS times, or created within YOUNG_DAYS."""
    shown, young_by_age = counts
    impressions = np.zeros(recommender.size)
    clicks = np.zeros(recommender.size)
    for cid, n, c in shown:
        pos = recommender.position.get(cid)
        if pos is not None:
            impressions[pos], clicks[pos] = n, c
    young = impressions < YOUNG_IMPRESSIONS
    for cid in young_by_age:
        pos = recommender.position.get(cid)
        if pos is not None:
            young[pos] = True
    return ExploreArms(young, impressions, clicks, prior_ctr(float(impressions.sum()), float(clicks.sum())))


class ExplorationStats:
    """The counts, re-read at most every ``refresh`` seconds; the arrays rebuilt when they or the recommender
    change."""

    def __init__(self, refresh: float = ARMS_REFRESH_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        self._refresh = refresh
        self._clock = clock
        self._counts: Counts | None = None
        self._checked: float | None = None
        self._arms: tuple[HybridRecommender, ExploreArms] | None = None

    def arms(self, work: UnitOfWork, recommender: HybridRecommender) -> ExploreArms:
        """Young items and their counts on this recommender's positions."""
        now = self._clock()
        if self._checked is None or now - self._checked >= self._refresh:
            counts = work.read(lambda repos: repos.recommendations.exploration_stats(YOUNG_DAYS))
            self._checked = now
            if counts != self._counts:
                self._counts, self._arms = counts, None
        cached = self._arms
        if cached is not None and cached[0].ids is recommender.ids:  # the same items (a take-down changes none)
            return cached[1]
        arms = explore_arms(self._counts, recommender)
        self._arms = (recommender, arms)
        return arms
