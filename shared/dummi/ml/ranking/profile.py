"""The user's profile as the ranking reads it: the items it engaged with positively, most recent first,
weighted by their events and by recency (in sessions: items seen at the same moment are equally recent),
and the items it skipped."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dummi.ml.interactions import LIKE_WEIGHT
from dummi.ml.ranking.types import UserState

# a profile item's events count fully from a like's default weight (LIKE_WEIGHT) up


@dataclass
class Profile:
    positions: np.ndarray  # items with a positive total, most recent first (model items, then fresh ones)
    weights: np.ndarray  # recency weights
    sessions: np.ndarray  # how many sessions ago each of those was engaged with (0: the latest)
    skipped: np.ndarray  # positions with a negative total

    def vector(self, vectors) -> np.ndarray | None:
        """The weighted sum of the profile items' vectors, unit length (None: no items, or they cancel)."""
        if not len(self.positions):
            return None
        summed = (self.weights[:, None] * vectors[self.positions]).sum(axis=0)
        norm = float(np.linalg.norm(summed))
        return summed / norm if norm > 1e-9 else None


def profile_of(user: UserState, position: dict[str, int], key: tuple, half_life: float, power: float) -> Profile:
    """``user``'s profile on these positions, built once per (``key``: the items, the weighting)."""
    found = user.profiles.get(key)
    if found is None:
        found = user.profiles[key] = _build(user, position, half_life, power)
    return found


def _build(user: UserState, position: dict[str, int], half_life: float, power: float) -> Profile:
    totals: dict[str, float] = {}
    order: list[str] = []
    weight = user.event_types.weight
    for e in user.events:  # newest first
        if e.content_id not in totals:
            order.append(e.content_id)
            totals[e.content_id] = 0.0
        totals[e.content_id] += weight(e.kind, e.event_type, e.duration_seconds)
    latest = {}
    for e in user.events:
        latest.setdefault(e.content_id, e.at)
    positions, weights, sessions, skipped = [], [], [], []
    session, previous = -1, None
    for cid in order:
        pos = position.get(cid)
        if pos is None:
            continue
        total = totals[cid]
        if total > 0:
            if latest[cid] != previous:
                session, previous = session + 1, latest[cid]
            positions.append(pos)
            sessions.append(session)
            recency = 0.5 ** (session / half_life) if half_life > 0 else 1.0
            weights.append(recency * (min(total, LIKE_WEIGHT) / LIKE_WEIGHT) ** power if power else recency)
        elif total < 0:
            skipped.append(pos)
    return Profile(
        np.array(positions, np.int64),
        np.array(weights, np.float32),
        np.array(sessions, np.float32),
        np.array(skipped, np.int64),
    )
