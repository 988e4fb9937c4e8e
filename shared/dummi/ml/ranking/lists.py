"""Lists that are not personal: the items like a given one, and the most liked. Their ``score`` is on the
scale of every other answer: relevance standardised over the candidates through the calibrated sigmoid
(similar items: the cosine to the item, on the warm users' calibration; popular items: the log of the
popularity share, on the newcomers', the figure a newcomer with no history would be given)."""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np

from dummi.domain.ranking import Condition, Recommendation
from dummi.ml.catalog import allowed_mask
from dummi.ml.ranking.calibration import Calibration
from dummi.ml.ranking.items import ItemSpace
from dummi.ml.ranking.settings import Settings
from dummi.ml.ranking.sources import nearest

# Up to this many items every item's cosine is computed; beyond, the nearest through the index (plus the
# items newer than the model) and the scale from an evenly spread sample of this many items.
EXACT_SIMILAR_ITEMS = 50_000


def similar(
    items: ItemSpace,
    settings: Settings,
    content_id: str,
    n: int,
    vector: np.ndarray | None = None,
    filters: Sequence[Condition] = (),
    at: float | None = None,
) -> list[Recommendation]:
    pos = items.position.get(content_id)
    if vector is None:
        if pos is None:
            return []
        vector = items.vectors[pos]
    vector = vector.astype(np.float32)
    allowed = allowed_mask(items.catalog, at if at is not None else time.time(), filters)
    if items.size <= EXACT_SIMILAR_ITEMS:
        every = items.vectors @ vector
        candidates = np.arange(items.size) if allowed is None else np.flatnonzero(allowed)
        sims = every[candidates]
        scale = every
    else:
        found = nearest(items, vector, min(n + 1, items.n_model), allowed)
        fresh = np.arange(items.n_model, items.size)
        if allowed is not None:
            fresh = fresh[allowed[fresh]]
        candidates = np.unique(np.concatenate([found, fresh]))
        sims = items.vectors[candidates] @ vector
        sample = np.linspace(0, items.n_model - 1, EXACT_SIMILAR_ITEMS).astype(np.int64)
        scale = items.vectors[sample] @ vector
    keep = candidates != pos
    candidates, sims = candidates[keep], sims[keep]
    order = np.lexsort((candidates, -sims))[:n]  # ties: the lower position
    calibration = Calibration.of(settings, "warm", scale.astype(np.float64))
    title = items.titles[pos] if pos is not None else content_id
    return [
        Recommendation(
            str(items.ids[p]),
            items.titles[p],
            items.categories[p],
            calibration.score(float(sim)),
            "embedding",
            f"similar to {title}",
        )
        for p, sim in zip(candidates[order], sims[order], strict=True)
    ]


def popular(
    items: ItemSpace,
    settings: Settings,
    n: int,
    category: str | None = None,
    exclude: Sequence[str] = (),
    filters: Sequence[Condition] = (),
    at: float | None = None,
) -> list[Recommendation]:
    """The most liked items; ``score`` is the relevance a newcomer with no history and no interests would be
    given for each (the log of its popularity share, on the newcomers' calibrated scale)."""
    order = items.popularity.astype(np.float64, copy=True)
    relevance = np.log((order + 1e-4) / (order + 1e-4).sum())
    calibration = Calibration.of(settings, "cold", relevance)
    if category is not None:
        order[~items.catalog.in_category(category)] = -np.inf
    allowed = allowed_mask(items.catalog, at if at is not None else time.time(), filters)
    if allowed is not None:
        order[~allowed] = -np.inf
    for cid in exclude:
        p = items.position.get(cid)
        if p is not None:
            order[p] = -np.inf
    finite = np.flatnonzero(np.isfinite(order))
    top = finite[np.argsort(-order[finite], kind="stable")][:n]
    return [
        Recommendation(
            str(items.ids[p]),
            items.titles[p],
            items.categories[p],
            calibration.score(relevance[p]),
            "popular",
            f"popular in {items.categories[p]}",
        )
        for p in top
    ]
