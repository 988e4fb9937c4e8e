"""The relevance formulas serving and training's trials share (numpy only, no torch, no SciPy).

Serving ranks one user at a time (``dummi.ml.recommender``); training's choice ranks every holdout user at
once (``dummi.ml.choice.trials``). Both call these functions, on a 1-d array of one user's candidates or a
2-d array of users x candidates, so what the choice measures is what serves.

* A warm user's relevance: the CF side (CF joined by the next-item signal) and content similarity, each
  standardised over the user's candidates, blended by the CF share; popular items pushed down by
  ``popularity_penalty`` (z units of log-popularity); close neighbours of skipped items pushed down by
  ``skip_penalty`` (in units of the relevance's own spread): every term applies to every candidate alike,
  before ``score`` is calibrated.
* A newcomer's relevance, when training learned it (``newcomer_weights``): a weighted sum of standardised
  features (``NEWCOMER_FEATURES``), each computed over every item.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

# What a newcomer's learned relevance is made of, each standardised over the items. popularity: the log of
# the item's popularity share; colike: the co-occurrence model's score from the user's few items (popularity
# once per item, lifted by co-likes); cf, cf_first, cf_second: the CF model folded in from them (a blend's two
# members apart); next: what followed them; profile: content closeness to them; interest: closeness to the
# stated interests.
NEWCOMER_FEATURES = ("popularity", "colike", "cf", "cf_first", "cf_second", "next", "profile", "interest")


def standardised(x: np.ndarray) -> np.ndarray:
    """Zero mean, unit variance along the last axis (zeros where constant): one user's 1-d array or many
    users' 2-d array, the same arithmetic."""
    x = np.asarray(x, np.float64)
    if x.shape[-1] == 0:  # no candidates (an empty pool)
        return x
    centred = x - x.mean(axis=-1, keepdims=True)
    std = np.sqrt((centred * centred).sum(axis=-1, keepdims=True) / max(x.shape[-1], 1))
    return np.where(std > 1e-9, centred / np.where(std > 1e-9, std, 1.0), 0.0)


def standardised_masked(x: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """``standardised`` over the ``valid`` entries of each row (the rest 0): users' candidate pools of
    different sizes padded into one 2-d array."""
    count = np.maximum(valid.sum(axis=-1, keepdims=True), 1)
    held = np.where(valid, x, 0.0)
    mean = held.sum(axis=-1, keepdims=True) / count
    centred = np.where(valid, x - mean, 0.0)
    std = np.sqrt((centred * centred).sum(axis=-1, keepdims=True) / count)
    return np.where(std > 1e-9, centred / np.where(std > 1e-9, std, 1.0), 0.0)


def warm_blend(z_cf: np.ndarray, z_content: np.ndarray, z_log_popularity: np.ndarray, cf_share: float, penalty: float):
    """The blend of a warm user's standardised sides, less the popularity penalty."""
    out = cf_share * z_cf + (1.0 - cf_share) * z_content
    if penalty > 0:  # the long tail gets a chance: popular items are found without help
        out = out - penalty * z_log_popularity
    return out


def skip_closeness(candidates: np.ndarray, skipped: np.ndarray, threshold: float) -> np.ndarray:
    """How close each candidate (rows of unit vectors) is to the nearest skipped item: 0 at cosine
    ``threshold`` or below, 1 for the item itself, linear between."""
    if not len(skipped) or not len(candidates):
        return np.zeros(len(candidates))
    nearest = (np.asarray(candidates, np.float32) @ np.asarray(skipped, np.float32).T).max(axis=1)
    return np.clip((nearest.astype(np.float64) - threshold) / (1.0 - threshold), 0.0, 1.0)


def skip_push(relevance: np.ndarray, closeness: np.ndarray, valid: np.ndarray, penalty: float) -> np.ndarray:
    """``relevance`` less ``penalty`` x max(1, its spread over the valid candidates) x closeness, row by row."""
    count = np.maximum(valid.sum(axis=-1, keepdims=True), 1)
    mean = np.where(valid, relevance, 0.0).sum(axis=-1, keepdims=True) / count
    spread = np.sqrt((np.where(valid, relevance - mean, 0.0) ** 2).sum(axis=-1, keepdims=True) / count)
    return relevance - penalty * np.maximum(1.0, spread) * closeness


def newcomer_relevance(features: Mapping[str, np.ndarray | None], weights: Mapping[str, float], shape) -> np.ndarray:
    """sum over the learned features of weight x the feature standardised over the items (a feature the user
    has none of, e.g. no stated interests, counts 0 for every item)."""
    out = np.zeros(shape)
    for name, weight in weights.items():
        value = features.get(name)
        if value is not None and weight != 0.0:
            out += float(weight) * standardised(value)
    return out


def best_first(positions: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``positions`` ordered by their ``values``, higher first; equal values by position, lower first (so
    that a list never depends on the order an array happened to hold its candidates in)."""
    return positions[np.lexsort((positions, -values))]


def top_n(positions: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    """The n best of ``positions`` (ascending) by ``values`` (finite), best first; ties go to the lower
    position, also at the n-th place."""
    if n >= len(positions):
        return best_first(positions, values)
    if n <= 0:
        return positions[:0]
    kth = -np.partition(-values, n - 1)[n - 1]
    above = values > kth
    tied = np.flatnonzero(values == kth)[: n - int(above.sum())]  # positions ascending: the lowest first
    chosen = np.concatenate([np.flatnonzero(above), tied])
    return best_first(positions[chosen], values[chosen])


def top_n_rows(values: np.ndarray, n: int) -> np.ndarray:
    """``top_n`` of every row of a 2-d array (columns in position order; -inf: not a candidate): each row's
    column indices, best first, -1 where a row has fewer than n candidates."""
    rows, width = values.shape
    out = np.full((rows, n), -1, np.int64)
    k = min(n, width)
    if k == 0 or rows == 0:
        return out
    kth = -np.partition(-values, k - 1, axis=1)[:, k - 1 : k]
    above = values > kth
    tied = values == kth
    need = k - above.sum(axis=1, keepdims=True)
    chosen = (above | (tied & (np.cumsum(tied, axis=1) <= need))) & np.isfinite(values)
    columns = np.argsort(~chosen, axis=1, kind="stable")[:, :k]  # the chosen ones, in position order
    picked = np.take_along_axis(chosen, columns, axis=1)
    order = np.lexsort((columns, -np.where(picked, np.take_along_axis(values, columns, axis=1), -np.inf)), axis=1)
    columns = np.take_along_axis(columns, order, axis=1)
    out[:, :k] = np.where(np.take_along_axis(picked, order, axis=1), columns, -1)
    return out
