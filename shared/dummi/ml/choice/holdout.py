"""The cuts of the training data the choice is made on (the evaluation's test split is never among them).

The product is judged by what users go on to like after the data it was trained on: the last 20% of a
warm user's events by time, and, for a newcomer, everything after its first 3 events. The choice cuts its
own data the same ways, each cut a ``Holdout`` (what the models are fitted on, and what is held out):

* the search cut (``split_holdout``): every user with at least 5 events holds out its last 20%;
* the confirmation cut (``confirmation_holdout``): the same protocol one step back in time, on what the
  search cut kept: its held-out likes are events the search never scored, so a decision taken on the
  search cut is tried on evidence it did not see (the winner's curse: the best of many trials on one cut
  looks better there than it is);
* the newcomer folds (``newcomer_folds``): the users with at least 10 events, split at random into folds;
  in each fold its users keep only their first 3 events (everyone else keeps all of theirs) and are scored
  on their later likes. Every such user is a simulated newcomer once (not a 15% sample), and a model fitted
  on one fold is tried on the other.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dummi.domain.events import Event
from dummi.ml.recommender import UserEvent, UserState

HOLDOUT_SHARE = 0.2
COLD_KEEP = 3
MIN_EVENTS_FOR_COLD = 10
MIN_EVENTS_FOR_HOLDOUT = 5
NEWCOMER_FOLDS = 2
LIKES = ("like", "positive")


@dataclass
class Holdout:
    fit_events: list[Event]
    relevant: dict[str, set[str]]  # held-out likes per user
    cold_users: set[str]  # users made newcomers (their first COLD_KEEP events kept)


def _by_user_in_time(events: list[Event], rng: np.random.Generator) -> dict[str, list[Event]]:
    """Each user's events by time. Ties in time are broken at random: the order a system happened to store
    simultaneous events in must not look like information (it made recency look far stronger than it is)."""
    by_user: dict[str, list[Event]] = {}
    for e in events:
        by_user.setdefault(e.user_id, []).append(e)
    return {
        user: sorted((by_user[user][i] for i in rng.permutation(len(by_user[user]))), key=lambda e: e.at)
        for user in sorted(by_user)
    }


def split_holdout(events: list[Event], *, seed: int = 0) -> Holdout:
    """The search cut: every user with at least MIN_EVENTS_FOR_HOLDOUT events holds out its last
    HOLDOUT_SHARE (at least one event); its held-out likes are what it is scored on."""
    fit: list[Event] = []
    relevant: dict[str, set[str]] = {}
    for user, evs in _by_user_in_time(events, np.random.default_rng(seed)).items():
        kept, held = evs, []
        if len(evs) >= MIN_EVENTS_FOR_HOLDOUT:
            n = max(1, round(len(evs) * HOLDOUT_SHARE))
            kept, held = evs[:-n], evs[-n:]
        fit.extend(kept)
        likes = {e.content_id for e in held if e.event_type in LIKES}
        if likes:
            relevant[user] = likes
    return Holdout(fit, relevant, set())


def confirmation_holdout(events: list[Event], *, search_seed: int = 0, seed: int = 1) -> Holdout:
    """The confirmation cut: the search cut's protocol (its ties broken by ``seed``) applied to what the
    search cut (``search_seed``) keeps, so that no event the search holds out is in it."""
    return split_holdout(split_holdout(events, seed=search_seed).fit_events, seed=seed)


def newcomer_folds(events: list[Event], *, folds: int = NEWCOMER_FOLDS, seed: int = 0) -> list[Holdout]:
    """One ``Holdout`` per fold: the fold's users (among those with at least MIN_EVENTS_FOR_COLD events)
    keep their first COLD_KEEP events and are scored on their later likes; everyone else keeps all."""
    rng = np.random.default_rng(seed)
    by_user = _by_user_in_time(events, rng)
    eligible = [u for u, evs in by_user.items() if len(evs) >= MIN_EVENTS_FOR_COLD]
    fold_of = dict(zip(eligible, rng.permutation(len(eligible)) % folds, strict=True))
    out = []
    for k in range(folds):
        fit: list[Event] = []
        relevant: dict[str, set[str]] = {}
        cold: set[str] = set()
        for user, evs in by_user.items():
            if fold_of.get(user) != k:
                fit.extend(evs)
                continue
            fit.extend(evs[:COLD_KEEP])
            cold.add(user)
            likes = {e.content_id for e in evs[COLD_KEEP:] if e.event_type in LIKES}
            if likes:
                relevant[user] = likes
        out.append(Holdout(fit, relevant, cold))
    return out


def user_states(
    events: list[Event], interests: dict[str, tuple[list[str], np.ndarray | None]], users: set[str] | None = None
) -> dict[str, UserState]:
    """What serving would read for each user, built from ``events``."""
    by_user: dict[str, list[Event]] = {}
    for e in events:
        if users is None or e.user_id in users:
            by_user.setdefault(e.user_id, []).append(e)
    states = {}
    for user in users if users is not None else by_user:
        evs = sorted(by_user.get(user, []), key=lambda e: e.at, reverse=True)
        names, vector = interests.get(user, ([], None))
        states[user] = UserState(
            user_id=user,
            interests=names,
            interests_vector=vector,
            events=[UserEvent(e.content_id, e.kind, e.event_type, e.duration_seconds, e.at) for e in evs],
            seen={e.content_id for e in evs},
        )
    return states
