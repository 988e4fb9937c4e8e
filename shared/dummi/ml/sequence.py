"""What people engage with *next*: a sequence-aware item-to-item model.

Collaborative filtering (``dummi.ml.cf``) sees each user's history as a set. The order carries
its own signal: what users engaged with in the few items after ``i`` predicts what a user who has just
engaged with ``i`` will want next, and a recommender is asked exactly that. On MovieLens 100K, beside the
EASE + item-kNN blend, it lifts warm users' NDCG@10 by 4.0% on the holdout cut from the training data
(0.1992 -> 0.2071, each with its best settings) and by 4.0% on the evaluation split (0.1837 -> 0.1911);
counted in both directions the same pairs gained nothing, so it is the order, not co-occurrence, that helps.

For every user, the positive events in time order (events stamped with the same time are in no order:
they are shuffled with a fixed seed, so what a store happened to write first is not read as a sequence);
each item ``j`` within the next ``window`` items after ``i`` counts once for ``i -> j``. Rows are normalized
to next-item shares, shrunk by ``smoothing`` (an item followed a few times says less), and only the
``keep`` strongest successors of each item are kept. The result is an ``ItemItemModel``: serving scores a
user as the sum of its recent items' rows, weighted by recency (numpy only).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from dummi.domain.events import Event
from dummi.ml.cf import ItemItemModel, top_per_sparse_row
from dummi.ml.interactions import event_weight

WINDOW = 20
KEEP = 300  # the holdout of ml-100k: warm NDCG@10 0.2071 at 300 against 0.2039 at 100
SMOOTHING = 5.0
_USERS_PER_CHUNK = 20_000  # bounds the memory of the pair arrays on large event logs


def fit_transitions(
    events: Sequence[Event],
    item_ids: Sequence[str],
    *,
    window: int = WINDOW,
    keep: int = KEEP,
    smoothing: float = SMOOTHING,
    seed: int = 0,
) -> ItemItemModel:
    # SciPy: training only; the serving layer ships numpy and FAISS, not SciPy
    from scipy import sparse

    n = len(item_ids)
    column = {cid: j for j, cid in enumerate(item_ids)}
    rng = np.random.default_rng(seed)
    tiebreak = rng.random(len(events))
    by_user: dict[str, list[tuple]] = {}
    for e, tie in zip(events, tiebreak, strict=True):
        j = column.get(e.content_id)
        if j is not None and event_weight(e.kind, e.event_type, e.duration_seconds) > 0:
            by_user.setdefault(e.user_id, []).append((e.at, tie, j))

    counts = sparse.csr_matrix((n, n), dtype=np.float32)
    users = list(by_user.values())
    for start in range(0, len(users), _USERS_PER_CHUNK):
        rows, cols = [], []
        for history in users[start : start + _USERS_PER_CHUNK]:
            history.sort()
            order = np.fromiter((j for _, _, j in history), np.int64, len(history))
            for gap in range(1, min(window, len(order) - 1) + 1):
                rows.append(order[:-gap])
                cols.append(order[gap:])
        if rows:
            r, c = np.concatenate(rows), np.concatenate(cols)
            counts = counts + sparse.csr_matrix((np.ones(len(r), np.float32), (r, c)), shape=(n, n))
    counts.setdiag(0)
    counts.eliminate_zeros()
    counts = counts.tocsr()
    totals = np.asarray(counts.sum(axis=1)).ravel() + smoothing
    indptr, indices, data = top_per_sparse_row(counts, keep)
    data /= np.repeat(totals, np.diff(indptr)).astype(np.float32)  # next-item shares, shrunk
    return ItemItemModel("transitions", indptr, indices, data, {"window": window, "keep": keep, "smoothing": smoothing})
