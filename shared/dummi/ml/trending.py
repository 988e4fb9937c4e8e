"""Trending: items whose engagement in a recent window exceeds what their own past predicts.

For each item, ``recent`` is its positive events in the window (types with a positive weight, and positive
feedback) and ``expected`` what its rate over the baseline (the ``BASELINE_HOURS`` before the window) gives
for a window that long. The trend is

    trend = log((recent + PRIOR) / (expected + PRIOR))

The prior (3 events on both sides) keeps one or two events on a cold item from reading as a surge: 1 event
against 0 expected is log(4/3) = 0.29, while 30 against 3 expected is log(33/6) = 1.70, and an item that
always draws 1000 events a day and drew 1000 today has a trend of 0. An item needs ``MIN_RECENT`` events
in the window, and a trend above 0, to be listed. Ties go to the item with more recent events, then by id.

The answer's ``score`` is 1 - (expected + PRIOR) / (recent + PRIOR): 0..1, higher is stronger, in the same
order as the trend (the share of the window's engagement above what was expected).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from dummi.domain.ranking import Condition, Recommendation
from dummi.ml.catalog import Catalog

PRIOR = 3.0
MIN_RECENT = 2
BASELINE_HOURS = 7 * 24
MIN_WINDOW_HOURS, MAX_WINDOW_HOURS, DEFAULT_WINDOW_HOURS = 1, 48, 24


@dataclass(frozen=True)
class Trend:
    content_id: str
    recent: int  # positive events in the window
    expected: float  # what the item's baseline rate gives for the window
    trend: float  # log((recent + PRIOR) / (expected + PRIOR))

    @property
    def score(self) -> float:
        return 1.0 - (self.expected + PRIOR) / (self.recent + PRIOR)


def trends(
    counts: Iterable[tuple[str, int, int]],
    window_hours: float,
    *,
    baseline_hours: float = BASELINE_HOURS,
    prior: float = PRIOR,
    min_recent: int = MIN_RECENT,
) -> list[Trend]:
    """``counts``: (content_id, events in the window, events in the baseline) per item. The trending items,
    strongest first."""
    out = []
    for content_id, recent, baseline in counts:
        if recent < min_recent:
            continue
        expected = baseline / baseline_hours * window_hours
        trend = math.log((recent + prior) / (expected + prior))
        if trend > 0:
            out.append(Trend(content_id, int(recent), expected, trend))
    out.sort(key=lambda t: (-t.trend, -t.recent, t.content_id))
    return out


def trending(
    found: Sequence[Trend],
    position: dict[str, int],
    catalog: Catalog,
    n: int,
    *,
    now: float,
    category: str | None = None,
    filters: Sequence[Condition] = (),
    window: str = "",
) -> list[Recommendation]:
    """The first ``n`` of ``found`` that may be answered now: in the catalog, not hidden, deleted or outside
    their availability window, in ``category`` and meeting ``filters`` (as every other list)."""
    matching = catalog.matching(filters) if filters else None
    out: list[Recommendation] = []
    for t in found:
        pos = position.get(t.content_id)
        if pos is None or pos >= catalog.size or not catalog.is_available(pos, now):
            continue
        if category is not None and catalog.categories[pos] != category:
            continue
        if matching is not None and not matching[pos]:
            continue
        reason = f"trending in {catalog.categories[pos]}: {t.recent} events in {window}, {t.expected:.1f} expected"
        out.append(
            Recommendation(t.content_id, catalog.titles[pos], catalog.categories[pos], t.score, "trending", reason)
        )
        if len(out) == n:
            break
    return out
