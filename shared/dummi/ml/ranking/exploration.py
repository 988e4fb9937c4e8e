"""Exploration slots: after the list is ranked, young items that match the user take a few slots, chosen by
Thompson sampling over their click-through rates (``dummi.ml.explore``). An explored item carries the
ranking's score like every other (its CTR estimate goes to the logged decision), and the last ranked items
make room."""

from __future__ import annotations

import numpy as np

from dummi.domain.ranking import Recommendation
from dummi.ml.explore import FIRST_SLOT, posterior, thompson
from dummi.ml.ranking.calibration import Calibration
from dummi.ml.ranking.eligibility import Eligibility
from dummi.ml.ranking.items import ItemSpace
from dummi.ml.ranking.scorers import Cold, Warm
from dummi.ml.ranking.types import ExploreArms

# Exploration draws from at most this many young items that match the user, best match first.
EXPLORE_CANDIDATES = 50


def explore(
    items: ItemSpace,
    recs: list[Recommendation],
    top: np.ndarray,
    scored: Warm | Cold,
    eligible: Eligibility,
    arms: ExploreArms,
    slots: int,
    rng: np.random.Generator,
    calibration: Calibration,
) -> list[Recommendation]:
    if len(recs) < FIRST_SLOT:
        return recs
    candidates = candidates_for(items, top, scored, eligible, arms)
    picks = thompson(arms.impressions[candidates], arms.clicks[candidates], arms.global_ctr, slots, len(recs), rng)
    if not picks:
        return recs
    out = list(recs[: len(recs) - len(picks)])  # the last ranked items make room
    a, b = posterior(arms.impressions[candidates], arms.clicks[candidates], arms.global_ctr)
    context = {
        "candidates": [str(items.ids[c]) for c in candidates],
        "impressions": [int(x) for x in arms.impressions[candidates]],
        "clicks": [int(x) for x in arms.clicks[candidates]],
        "global_ctr": round(float(arms.global_ctr), 6),
    }
    for pick in sorted(picks, key=lambda p: p.position):
        pos = int(candidates[pick.index])
        shown = int(arms.impressions[pos])
        explored = Recommendation(
            str(items.ids[pos]),
            items.titles[pos],
            items.categories[pos],
            calibration.score(scored.relevance[pos]),  # the ranking's relevance, as for every item
            "explore",
            f"new to {items.categories[pos]}: shown {shown} times so far, we are finding out who likes it",
            pick.propensity,
            {
                **context,
                "posterior_ctr": round(float(a[pick.index] / (a[pick.index] + b[pick.index])), 6),
                "position": pick.position,
                "chosen": pick.index,
                "taken": list(pick.taken),
                "propensity": round(pick.propensity, 6),
            },
        )
        out.insert(pick.position - 1, explored)
    return out


def candidates_for(
    items: ItemSpace, top: np.ndarray, scored: Warm | Cold, eligible: Eligibility, arms: ExploreArms
) -> np.ndarray:
    """Young items that match the user, best match first, at most EXPLORE_CANDIDATES: for users with a
    profile, the young items of the ranking's candidate pool by content similarity; for newcomers, the young
    items matching their interests, or when nothing matches them, the young items closest to them (so an
    explored item never breaks the promise that a newcomer's interests lead the list)."""
    blocked = np.concatenate([top, eligible.blocked()])
    if isinstance(scored, Warm):
        pool = scored.pool
        if scored.content is not None and scored.content.any():
            closeness = scored.content  # the blend's content part: the profile cosine's order, unless weighted 0
        elif scored.signals.vector is not None:
            closeness = items.vectors[pool] @ scored.signals.vector
        elif scored.cf is not None:
            closeness = scored.cf
        else:
            return np.empty(0, np.int64)
        ranked = pool[np.argsort(-closeness, kind="stable")]
    elif scored.matched is not None and scored.matched.any():  # a newcomer: young matches lead its list
        ranked = np.flatnonzero(scored.matched & arms.young)
        ranked = ranked[np.argsort(-items.popularity[ranked], kind="stable")]
    elif scored.closeness is not None:  # with none, the young items closest to its interests
        young = np.flatnonzero(arms.young)
        m = min(len(young), 10 * EXPLORE_CANDIDATES)
        ranked = young[np.argpartition(-scored.closeness[young], m - 1)[:m]] if 0 < m < len(young) else young
        ranked = ranked[np.argsort(-scored.closeness[ranked], kind="stable")]
    else:
        return np.empty(0, np.int64)
    keep = arms.young[ranked] & ~np.isin(ranked, blocked)
    if eligible.allowed is not None:  # taken down, filtered out or in another category
        keep &= eligible.allowed[ranked]
    return ranked[keep][:EXPLORE_CANDIDATES]
