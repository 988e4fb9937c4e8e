"""The holdout choice on a catalog: the CF candidates a catalog of its size allows, the simulated newcomers'
interests, and ``dummi.ml.tuning.choose`` run with the real recommender. Reads nothing itself, so a run, a
test or a benchmark can call it on a catalog of its own."""

from __future__ import annotations

from typing import Any

import numpy as np


def cf_candidates(n_items: int, factors: int, engine: str = "local") -> list[dict[str, Any]]:
    """The CF configurations the choice scores. Up to EASE_MAX_ITEMS, where an items x items matrix still
    fits, the item-item models (and their blend) beside NMF, on either engine (the Spark engine fits them on
    its driver). Beyond, the factorizations: NMF and ALS in process, ALS alone on Spark (MLlib's; an NMF of
    the matrices Spark is for would not fit one process)."""
    from dummi.ml.collaborative import EASE_MAX_ITEMS

    nmf = {"algorithm": "nmf", "n_components": factors}
    if n_items <= EASE_MAX_ITEMS:
        candidates: list[dict[str, Any]] = [nmf]
        candidates += [{"algorithm": "ease", "l2": l2} for l2 in (250.0, 500.0, 1000.0)]
        candidates += [{"algorithm": "itemknn"}]
        candidates += [{"algorithm": "ease+itemknn", "l2": 250.0, "weight": w} for w in (1.0, 2.5)]
        return candidates
    als = {"algorithm": "als", "n_components": factors}
    return [als] if engine == "spark" else [nmf, als]


def choose_recipe(events, catalog, interests, embedder, *, factors: int, baseline=None, engine: str = "local"):
    """The holdout choice (``dummi.ml.tuning.choose``) on a catalog ``(ids, titles, categories, tags, index,
    vectors)`` and the users' stored ``interests`` ({user: (names, vector)}); None with too few users to hold
    out."""
    from dummi.ml.collaborative import Fitter, fit_cooccurrence
    from dummi.ml.interactions import build_matrix, engagement_matrices, popularity
    from dummi.ml.interests import item_labels
    from dummi.ml.model_bundle import ModelBundle
    from dummi.ml.recommender import HybridRecommender, bundle_catalog
    from dummi.ml.sequence import fit_transitions
    from dummi.ml.tuning import MIN_USERS_TO_TUNE, MemoIndex, MemoScores, choose, split_holdout, user_states

    ids, titles, categories, tags, index, vectors = catalog
    holdout = split_holdout(events)
    if len(holdout.relevant) < MIN_USERS_TO_TUNE:
        return None
    interests = dict(interests)
    labels = [item_labels(c, t) for c, t in zip(categories, tags, strict=True)]
    interests.update(interests_at_signup(holdout, labels, ids, embedder))
    states = user_states(holdout.fit_events, interests, users=set(holdout.relevant))
    matrix = build_matrix(holdout.fit_events, ids).matrix
    fit_popularity = popularity(holdout.fit_events, ids)
    cooccurrence = fit_cooccurrence(*engagement_matrices(holdout.fit_events, ids))
    sequence = fit_transitions(holdout.fit_events, ids)
    fitter = Fitter(matrix)  # every candidate fitted once, sharing the Gram matrix and blend members
    item_ids = np.array(ids, dtype=object)
    memos: dict[int, MemoScores] = {}  # per fitted model (the fitter hands out one object per configuration)
    sequence = MemoScores(sequence) if sequence is not None else None
    index = MemoIndex(index)
    first: list[ModelBundle] = []  # what every trial's bundle derives alike from the catalog is derived once

    def memo(config):
        if not config:
            return None
        model = fitter.fit(config)
        return memos.setdefault(id(model), MemoScores(model))

    def build(config, settings):
        bundle = ModelBundle(
            item_ids,
            titles,
            categories,
            index,
            fit_popularity,
            memo(config),
            settings,
            vectors,
            cooccurrence,
            sequence,
            tags=tags,
        )
        if not first:
            bundle.label_positions("")  # builds the label map
            bundle_catalog(bundle)
            first.append(bundle)
        bundle.share_derived(first[0])
        return HybridRecommender(bundle)

    candidates = cf_candidates(len(ids), factors, engine)
    return choose(holdout, states, candidates, build, baseline=baseline, n_items=len(ids))


def interests_at_signup(holdout, labels: list[set[str]], ids: list[str], embedder) -> dict[str, tuple]:
    """Interests for the holdout's simulated newcomers, as their first items suggest them.

    A user's stored interests are what it says *today* (PUT /users changes them as tastes move), so for a
    user made a newcomer again they would leak what it went on to like. The labels (categories and tags)
    most frequent among the items it engaged with in its kept history stand in for what it would have
    declared at sign-up.
    """
    from collections import Counter

    from dummi.ml.text import interests_text

    labels_of = dict(zip(ids, labels, strict=True))
    kept: dict[str, Counter] = {u: Counter() for u in holdout.cold_users}
    for e in holdout.fit_events:
        if e.user_id in kept and e.event_type not in ("skip", "negative") and e.content_id in labels_of:
            kept[e.user_id].update(labels_of[e.content_id])
    # ties go by name: labels come from sets, whose order changes from one process to the next
    names = {u: sorted(counts, key=lambda x: (-counts[x], x))[:3] for u, counts in kept.items() if counts}
    users = sorted(names)
    vectors = embedder.encode([interests_text(names[u]) for u in users]) if users else []
    return {u: (names[u], v) for u, v in zip(users, vectors, strict=True)}
