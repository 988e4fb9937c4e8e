"""From interaction events to the weighted user x item matrix that collaborative filtering learns from.

Default weights: like 5, click 2, view_time 1, skip -1; explicit feedback counts as positive = like
(5), negative = skip (-1), neutral = 0.

* ``view_time`` uses ``duration_seconds``: weight = 1.0 x duration / 120 s, capped at 3 (a two-minute view is
  the default 1.0; a glance of a few seconds counts little; a long read counts up to a bit more than a click).
  A view without a duration counts 1.0.
* Repeated events add up, but a pair's total is capped at ``MAX_PAIR_WEIGHT`` (10 = two likes), so one user
  replaying an item cannot dominate it.
* Negative evidence cannot enter a non-negative factorization as a negative number: a pair's total is
  clipped at 0 (a skip after a like lowers the like; a skip alone leaves the cell empty, like an unseen
  item). Pairs whose total is negative are returned separately, so the recommender can push them (and
  their neighbours) down.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dummi.domain.events import Event

INTERACTION_WEIGHTS = {"like": 5.0, "click": 2.0, "view_time": 1.0, "skip": -1.0}
FEEDBACK_WEIGHTS = {"positive": 5.0, "negative": -1.0, "neutral": 0.0}
REFERENCE_VIEW_SECONDS = 120.0
MAX_VIEW_FACTOR = 3.0
MAX_PAIR_WEIGHT = 10.0


def event_weight(kind: str, event_type: str, duration_seconds: float | None) -> float:
    if kind == "feedback":
        return FEEDBACK_WEIGHTS[event_type]
    weight = INTERACTION_WEIGHTS[event_type]
    if event_type == "view_time" and duration_seconds is not None:
        weight *= min(float(duration_seconds) / REFERENCE_VIEW_SECONDS, MAX_VIEW_FACTOR)
    return weight


@dataclass
class InteractionMatrix:
    user_ids: np.ndarray  # row -> user id
    item_ids: np.ndarray  # column -> content id
    matrix: object  # scipy.sparse.csr_matrix, float32, values in (0, MAX_PAIR_WEIGHT]
    negatives: set[tuple[int, int]]  # (row, column) pairs with a negative total

    @property
    def shape(self) -> tuple[int, int]:
        return self.matrix.shape

    @property
    def nnz(self) -> int:
        return int(self.matrix.nnz)


def pair_totals(events: list[Event]) -> dict[tuple[str, str], float]:
    totals: dict[tuple[str, str], float] = {}
    for e in events:
        key = (e.user_id, e.content_id)
        totals[key] = totals.get(key, 0.0) + event_weight(e.kind, e.event_type, e.duration_seconds)
    return totals


def build_matrix(events: list[Event], item_ids: list[str]) -> InteractionMatrix:
    """Rows: users with at least one event on a known item, sorted by id. Columns: ``item_ids`` as given
    (the same order as the vector index)."""
    # SciPy: training only; the serving layer ships numpy and FAISS, not SciPy
    from scipy import sparse

    column = {cid: j for j, cid in enumerate(item_ids)}
    totals = {k: v for k, v in pair_totals(events).items() if k[1] in column}
    users = sorted({u for u, _ in totals})
    row = {uid: i for i, uid in enumerate(users)}
    rows, cols, vals = [], [], []
    negatives: set[tuple[int, int]] = set()
    for (uid, cid), total in totals.items():
        i, j = row[uid], column[cid]
        if total > 0:
            rows.append(i)
            cols.append(j)
            vals.append(min(total, MAX_PAIR_WEIGHT))
        elif total < 0:
            negatives.add((i, j))
    matrix = sparse.csr_matrix(
        (np.asarray(vals, dtype=np.float32), (np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64))),
        shape=(len(users), len(item_ids)),
        dtype=np.float32,
    )
    return InteractionMatrix(np.array(users, dtype=object), np.array(item_ids, dtype=object), matrix, negatives)


# Popularity counts likes: on our holdouts "how many liked it" predicts a newcomer's next likes better than
# the sum of all weights (clicks and views mostly say "many saw it"). Clicks and views add a little, skips
# take a little away.
POPULARITY_WEIGHTS = {"like": 1.0, "positive": 1.0, "click": 0.25, "view_time": 0.25, "skip": -0.25, "negative": -0.25}


def popularity(events: list[Event], item_ids: list[str], *, half_life_days: float | None = None) -> np.ndarray:
    """Per item: likes, plus a quarter per click or view, less a quarter per skip, floored at zero; each
    event optionally decayed by its age relative to the newest event. Scaled to [0, 1]."""
    column = {cid: j for j, cid in enumerate(item_ids)}
    scores = np.zeros(len(item_ids), dtype=np.float64)
    if not events:
        return scores.astype(np.float32)
    newest = max(e.at for e in events)
    for e in events:
        j = column.get(e.content_id)
        w = POPULARITY_WEIGHTS.get(e.event_type, 0.0)
        if j is None or w == 0:
            continue
        if half_life_days:
            w *= 0.5 ** ((newest - e.at).total_seconds() / 86400.0 / half_life_days)
        scores[j] += w
    scores = np.maximum(scores, 0.0)
    top = scores.max()
    return (scores / top if top > 0 else scores).astype(np.float32)


def engagement_matrices(events: list[Event], item_ids: list[str], user_ids: list[str] | None = None):
    """(engaged, liked): binary users x items matrices of positive engagement (likes, clicks, views,
    positive feedback) and of likes (like or positive feedback), rows in ``user_ids`` order (default: every
    user with an event, sorted). Skips are left out of both: "users who engaged with i" means users who
    engaged with it willingly."""
    # SciPy: training only; the serving layer ships numpy and FAISS, not SciPy
    from scipy import sparse

    column = {cid: j for j, cid in enumerate(item_ids)}
    users = user_ids if user_ids is not None else sorted({e.user_id for e in events})
    row = {u: i for i, u in enumerate(users)}
    engaged, liked = set(), set()
    for e in events:
        i, j = row.get(e.user_id), column.get(e.content_id)
        if i is None or j is None:
            continue
        if event_weight(e.kind, e.event_type, e.duration_seconds) > 0:
            engaged.add((i, j))
        if e.event_type in ("like", "positive"):
            liked.add((i, j))

    def binary(pairs):
        rows = np.fromiter((p[0] for p in pairs), np.int64, len(pairs))
        cols = np.fromiter((p[1] for p in pairs), np.int64, len(pairs))
        return sparse.csr_matrix((np.ones(len(pairs), np.float32), (rows, cols)), shape=(len(users), len(item_ids)))

    return binary(engaged), binary(liked)
