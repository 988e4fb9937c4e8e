"""The choice on a catalog: the CF candidates a catalog of its size allows, the cuts with their fitted models,
the simulated newcomers' interests, and ``dummi.ml.choice.choose`` run on them. Reads nothing itself, so a run, a
test or a benchmark can call it on a catalog of its own."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from dummi.db.interactions_repository import SESSION_USER_PREFIX
from dummi.ml import cf
from dummi.ml.cf import Fitter, fit_cooccurrence
from dummi.ml.choice import MIN_USERS_TO_TUNE, choose
from dummi.ml.choice.holdout import confirmation_holdout, newcomer_folds, split_holdout, user_states
from dummi.ml.choice.steps import Cuts
from dummi.ml.choice.trials import TrialItems, Trials
from dummi.ml.interactions import DEFAULT_EVENT_TYPES, EventTypes, build_matrix, engagement_matrices, popularity
from dummi.ml.interests import item_labels, label_index
from dummi.ml.sequence import fit_transitions
from dummi.ml.text import interests_text


def cf_candidates(n_items: int, factors: int, engine: str = "local") -> list[dict[str, Any]]:
    """The CF configurations the choice scores. Up to EASE_MAX_ITEMS, where an items x items matrix still
    fits, the item-item models (and their blend) beside NMF, on either engine (the Spark engine fits them on
    its driver). Beyond, the factorizations: NMF and ALS in process, ALS alone on Spark (MLlib's; an NMF of
    the matrices Spark is for would not fit one process)."""
    nmf = {"algorithm": "nmf", "n_components": factors}
    if n_items <= cf.EASE_MAX_ITEMS:  # read at the call: a test lowers it
        candidates: list[dict[str, Any]] = [nmf]
        candidates += [{"algorithm": "ease", "l2": l2} for l2 in (250.0, 500.0, 1000.0)]
        candidates += [{"algorithm": "itemknn"}]
        candidates += [{"algorithm": "ease+itemknn", "l2": 250.0, "weight": w} for w in (1.0, 2.5)]
        return candidates
    als = {"algorithm": "als", "n_components": factors}
    return [als] if engine == "spark" else [nmf, als]


def choose_recipe(
    events,
    catalog,
    interests,
    embedder,
    *,
    factors: int,
    baseline=None,
    engine: str = "local",
    types: EventTypes | None = None,
):
    """The choice (``dummi.ml.choice.choose``) on a catalog ``(ids, titles, categories, tags, index, vectors)``
    and the users' stored ``interests`` ({user: (names, vector)}), events weighed by ``types`` (None: the
    built-in ones); None with too few users to hold out."""
    types = types or DEFAULT_EVENT_TYPES
    ids, titles, categories, tags, index, vectors = catalog
    search = split_holdout(events, types=types)
    if len(search.relevant) < MIN_USERS_TO_TUNE:
        return None
    labels = [item_labels(c, t) for c, t in zip(categories, tags, strict=True)]
    by_label = {k: np.array(v, np.int64) for k, v in label_index(categories, tags).items()}
    empty = np.empty(0, np.int64)
    items = (ids, categories, vectors, lambda key: by_label.get(key, empty))
    folds = newcomer_folds(events, types=types)
    signup = {}
    for fold in folds:
        signup.update(interests_at_signup(fold, labels, ids, embedder, types))
    cuts = Cuts(
        search=trials_on(search, items, interests, types),
        confirm=trials_on(confirmation_holdout(events, types=types), items, interests, types),
        newcomers=[trials_on(fold, items, {**interests, **signup}, types) for fold in folds],
        candidates=cf_candidates(len(ids), factors, engine),
    )
    return choose(cuts, baseline=baseline)


def trials_on(holdout, items, interests, types: EventTypes | None = None):
    """The ``Trials`` of one cut: the models fitted on what it keeps, its scored users as serving reads them
    (events weighed by ``types``; None: the built-in ones)."""
    types = types or DEFAULT_EVENT_TYPES
    ids, categories, vectors, labels = items
    fit = holdout.fit_events
    fitter = Fitter(build_matrix(fit, ids, types).matrix)  # each configuration fitted once, sharing EASE's Gram matrix
    trial_items = TrialItems(
        vectors=np.asarray(vectors, np.float32),
        categories=list(categories),
        popularity=popularity(fit, ids, types=types),
        labels=labels,
        sequence=fit_transitions(fit, ids, types=types),
        cooccurrence=fit_cooccurrence(*engagement_matrices(fit, ids, types=types)),
        cf=fitter.fit,
    )
    states = user_states(fit, interests, users=set(holdout.relevant), types=types)
    return Trials(trial_items, states, holdout.relevant, {cid: i for i, cid in enumerate(ids)})


def interests_at_signup(
    holdout, labels: list[set[str]], ids: list[str], embedder, types: EventTypes | None = None
) -> dict[str, tuple]:
    """Interests for the holdout's simulated newcomers, as their first items suggest them.

    A user's stored interests are what it says *today* (PUT /users changes them as tastes move), so for a
    user made a newcomer again they would leak what it went on to like. The labels (categories and tags)
    most frequent among the items it engaged with in its kept history stand in for what it would have
    declared at sign-up. An anonymous session (``SESSION_USER_PREFIX``) declares none: it is simulated
    without interests, as it is served.
    """
    negatives = (types or DEFAULT_EVENT_TYPES).negatives()
    labels_of = dict(zip(ids, labels, strict=True))
    kept: dict[str, Counter] = {u: Counter() for u in holdout.cold_users if not u.startswith(SESSION_USER_PREFIX)}
    for e in holdout.fit_events:
        if e.user_id in kept and e.event_type not in negatives and e.content_id in labels_of:
            kept[e.user_id].update(labels_of[e.content_id])
    # ties go by name: labels come from sets, whose order changes from one process to the next
    names = {u: sorted(counts, key=lambda x: (-counts[x], x))[:3] for u, counts in kept.items() if counts}
    users = sorted(names)
    vectors = embedder.encode([interests_text(names[u]) for u in users]) if users else []
    return {u: (names[u], v) for u, v in zip(users, vectors, strict=True)}
