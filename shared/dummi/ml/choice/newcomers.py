"""The newcomers' learned relevance: weights over the newcomer features, learned per catalog.

A newcomer has 1-4 items. What predicts its later likes is mostly popularity, lifted by what users who
engaged with those few items went on to like (co-likes), what the CF model folds in from them, what tends
to follow them, and closeness to them and to the stated interests. How much each counts differs from one
catalog to the next (a catalog whose newcomers follow the crowd, one where their first items say a lot),
so instead of a grid over hand-set boosts, each run learns the weights: a logistic regression of "the
newcomer went on to like the item" on the standardised features of every item it had not seen, over the
simulated newcomers of one fold (``dummi.ml.choice.holdout.newcomer_folds``). With dozens of held-out
likes per newcomer and a handful of weights, the fit rests on tens of thousands of positives: far less
noisy than a grid scored on a few hundred users' top 10.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dummi.ml.choice.trials import Trials
from dummi.ml.relevance import NEWCOMER_FEATURES, standardised

# The regression sees at most this many (user, item) rows: every positive and a uniform sample of the rest
# (sampling the negatives shifts the intercept only, which no ranking reads).
MAX_ROWS = 1_500_000
# L2 strength (scikit-learn's C): the features are standardised, so one value suits every catalog.
REGULARISATION = 1.0


def features_present(config: dict[str, Any] | None, trials: Trials) -> list[str]:
    """The features this catalog's models provide (a blend's members apart; no next-item model, no next)."""
    names = ["popularity", "colike", "profile", "interest"]
    if trials.items.cooccurrence is None:
        names.remove("colike")
    if config:
        names.append("cf")
        if "+" in config["algorithm"]:
            names += ["cf_first", "cf_second"]
    if trials.items.sequence is not None:
        names.append("next")
    return [n for n in NEWCOMER_FEATURES if n in names]


def learn_weights(
    trials: Trials, config: dict[str, Any] | None, settings: dict[str, Any], names: list[str], *, seed: int = 0
) -> dict[str, float]:
    """Weights of ``names`` learned on ``trials``' newcomers (all of its scored users), rounded."""
    # scikit-learn: training only; the serving layer ships numpy and FAISS, not scikit-learn
    from sklearn.linear_model import LogisticRegression

    rows = np.arange(len(trials.users))
    raw = trials.cold_features(config, settings, rows)
    unseen = np.ones(raw["popularity"].shape, bool)
    unseen[trials.engaged[rows].nonzero()] = False
    labels = np.zeros(unseen.shape, bool)
    for k in rows:
        labels[k, trials.relevant[k]] = True
    r, c = np.nonzero(unseen)
    keep = _sample(labels[r, c], np.random.default_rng(seed))
    r, c = r[keep], c[keep]
    x = np.column_stack([standardised(raw[name])[r, c] for name in names])
    y = labels[r, c]
    if y.sum() == 0 or y.all():
        return {"popularity": 1.0}
    model = LogisticRegression(C=REGULARISATION, max_iter=2000).fit(x, y)
    return {name: round(float(w), 4) for name, w in zip(names, model.coef_[0], strict=True)}


def _sample(positive: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Indices of every positive row and of at most MAX_ROWS - positives of the others, at random."""
    pos, neg = np.flatnonzero(positive), np.flatnonzero(~positive)
    room = max(MAX_ROWS - len(pos), 0)
    if len(neg) > room:
        neg = np.sort(rng.choice(neg, room, replace=False))
    return np.concatenate([pos, neg])
