"""A warm user's candidate sources, each the best ``candidates`` of one signal among the allowed items:
collaborative filtering (joined by the next-item signal), content similarity to the profile (exactly over
every item on a flat index, through the approximate index otherwise), and the items newer than the model.
Their union, less what the user has seen, is the pool every candidate is scored in."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dummi.domain.ranking import RankRequest
from dummi.ml.ranking.eligibility import Eligibility
from dummi.ml.ranking.items import ItemSpace
from dummi.ml.ranking.profile import Profile
from dummi.ml.ranking.settings import Settings
from dummi.ml.relevance import standardised

# A filter matching at most this many items is scored exactly over them rather than through the approximate
# index (384-float products over 20K items take ~2 ms on one core: less than a wide index search).
EXACT_FILTERED_ITEMS = 20_000


@dataclass
class Signals:
    """What a warm user's sources and scorer read, computed once per request."""

    cf_all: np.ndarray | None  # CF over every item (fresh ones 0), joined by the next-item signal when it is on
    following: np.ndarray | None  # the next-item signal's part of it (weight x standardized), or None
    vector: np.ndarray | None  # the profile's content vector (unit length), or None
    content_all: np.ndarray | None  # every item's cosine to it (a flat index), or None


def signals(items: ItemSpace, settings: Settings, profile: Profile, request: RankRequest) -> Signals:
    bundle = items.bundle
    use_cf = request.use_cf and bundle.cf is not None
    use_content = request.use_embeddings or not use_cf  # both off: content alone is still a personal answer
    cf_all = following = None
    if use_cf:
        in_model = profile.positions < items.n_model
        model_items = profile.positions[in_model]
        cf_all = np.zeros(items.size, np.float64)
        cf_all[: items.n_model] = bundle.cf.scores(model_items, profile.weights[in_model])
        # joined by what others engaged with next after the user's latest items, both standardized
        following = next_items(items, settings, model_items, profile.sessions[in_model], settings.sequence_weight)
        if following is not None:
            cf_all[: items.n_model] = standardised(cf_all[: items.n_model]) + following
    vector = profile.vector(items.vectors) if use_content else None
    content_all = None
    if vector is not None and bundle.index.kind == "flat":
        # Exact index: one product over every item ranks them all and gives the pool's scores (cheaper than
        # a top-k search plus a gather of the pool's vectors).
        content_all = items.vectors @ vector
    return Signals(cf_all, following, vector, content_all)


def next_items(items: ItemSpace, settings: Settings, model_items, sessions, weight: float) -> np.ndarray | None:
    """``weight`` x standardized next-item scores over the model's items for a user's latest (model) items,
    or None (no model, no items, weight 0); they follow the latest items closely (their own, shorter recency
    half-life)."""
    sequence = items.bundle.sequence
    if sequence is None or not len(model_items) or weight <= 0:
        return None
    half_life = settings.sequence_half_life
    recency = (0.5 ** (sessions / half_life) if half_life > 0 else np.ones(len(model_items))).astype(np.float32)
    return weight * standardised(sequence.scores(model_items, recency))


def cf_candidates(items: ItemSpace, s: Signals, m: int, allowed: np.ndarray | None) -> np.ndarray:
    k = min(m, items.size - 1)
    pick = s.cf_all if allowed is None else np.where(allowed, s.cf_all, -np.inf)
    return np.argpartition(-pick, k)[:k] if k > 0 else np.arange(items.size)


def content_candidates(items: ItemSpace, s: Signals, m: int, allowed: np.ndarray | None) -> np.ndarray:
    k = min(m, items.n_model)
    if s.content_all is not None:
        model_part = s.content_all[: items.n_model]
        if allowed is not None:
            model_part = np.where(allowed[: items.n_model], model_part, -np.inf)
        return np.argpartition(-model_part, k - 1)[:k] if 0 < k < items.n_model else np.arange(k)
    return nearest(items, s.vector, k, allowed)


def nearest(items: ItemSpace, vector: np.ndarray, k: int, allowed: np.ndarray | None) -> np.ndarray:
    """Model positions of the k items nearest ``vector`` through the approximate index, among ``allowed``
    ones: a rare match is scored exactly over its items, a common one searched wider and then filtered.
    Items whose vector changed after training are candidates too (the index holds their old vectors)."""
    extra = items.vectors.override_positions
    index, n_model = items.bundle.index, items.n_model
    if allowed is None:
        _, found = index.search(vector, k)
        return np.concatenate([found[0][found[0] >= 0], extra])
    among = np.flatnonzero(allowed[:n_model])
    if len(among) <= EXACT_FILTERED_ITEMS and 2 * len(among) <= n_model:
        if len(among) <= k:
            return among
        sims = items.vectors[among] @ vector
        return among[np.argpartition(-sims, k - 1)[:k]]
    if not len(among):
        return among
    # most items allowed (a few taken down, a broad filter): the index, searched as much wider as the share
    # left out, finds k allowed ones
    wider = min(n_model, int(np.ceil(1.25 * k * n_model / len(among))) + 10)
    _, found = index.search(vector, wider)
    found = found[0][found[0] >= 0]
    extra = extra[allowed[extra]] if len(extra) else extra
    return np.concatenate([found[allowed[found]][:k], extra])


def fresh_candidates(items: ItemSpace, s: Signals, m: int) -> np.ndarray:
    """Items newer than the model compete in every warm pool; past a fifth of the pool, those closest to the
    user's profile (or, with content off, the newest) do."""
    fresh = np.arange(items.n_model, items.size)
    limit = max(1, m // 5)
    if len(fresh) <= limit:
        return fresh
    if s.vector is None:
        return fresh[-limit:]
    scores = s.content_all[items.n_model :] if s.content_all is not None else items.vectors.fresh @ s.vector
    return items.n_model + np.argpartition(-scores, limit - 1)[:limit]


def pool(items: ItemSpace, settings: Settings, s: Signals, eligible: Eligibility) -> np.ndarray:
    """The union of the sources' candidates among the allowed items, less what the user has seen (scores
    are standardized over real candidates), ascending."""
    m, allowed = settings.candidates, eligible.allowed
    found: list[np.ndarray] = []
    cf = content = None
    if s.cf_all is not None:
        cf = cf_candidates(items, s, m, allowed)
        found.append(cf)
    if s.vector is not None:
        content = content_candidates(items, s, m, allowed)
        found.append(content)
    found.append(fresh_candidates(items, s, m))
    if eligible.promoted is not None:  # a promotion's matches compete too, drawn by the same signals
        found.extend(promotion_candidates(items, s, eligible.promoted, eligible.promotion_slots, cf, content))
    in_pool = np.zeros(items.size, bool)  # a mask: sorted and unique without a sort
    in_pool[np.concatenate(found)] = True
    in_pool[eligible.seen] = False
    if allowed is not None:
        in_pool &= allowed
    return np.flatnonzero(in_pool)


def promotion_candidates(
    items: ItemSpace,
    s: Signals,
    promoted: np.ndarray,
    slots: int,
    cf: np.ndarray | None,
    content: np.ndarray | None,
) -> list[np.ndarray]:
    """A promotion's best matching items by each signal, where the personal candidates of that signal hold
    fewer than promotion_candidates_wanted(slots) of them: a promoted slot takes the best-scored match, and matches
    need not be near the user's taste (a campaign far from it finds none among the personal candidates)."""
    need = promotion_candidates_wanted(slots)
    if not promoted.any():
        return []
    found = []
    if cf is not None and int(promoted[cf].sum()) < need:
        found.append(cf_candidates(items, s, need, promoted))
    if content is not None and int(promoted[content].sum()) < need:
        found.append(promotion_nearest(items, s, need, promoted))
    fresh = np.flatnonzero(promoted[items.n_model :]) + items.n_model
    found.append(fresh[:need])
    return [f[promoted[f]] for f in found]


def promotion_candidates_wanted(slots: int) -> int:
    """How many of a promotion's items each signal offers: four per slot, at least 20."""
    return max(20, 4 * slots)


def promotion_nearest(items: ItemSpace, s: Signals, k: int, promoted: np.ndarray) -> np.ndarray:
    """k of a promotion's items nearest the profile: every item's cosine on a flat index; else through the
    approximate index, searched as much wider as the share the promotion leaves out, and exactly over the
    matches when that finds fewer than k (a campaign far from the user's taste)."""
    if s.content_all is not None:
        return content_candidates(items, s, k, promoted)
    n_model = items.n_model
    matching = int(promoted[:n_model].sum())
    if matching > 2 * k:
        wider = int(np.ceil(1.25 * k * n_model / matching)) + 10
        if wider <= MAX_PROMOTION_SEARCH:
            _, found = items.bundle.index.search(s.vector, min(n_model, wider))
            found = found[0][found[0] >= 0]
            found = found[promoted[found]][:k]
            if len(found) >= k:
                extra = items.vectors.override_positions
                return np.concatenate([found, extra[promoted[extra]] if len(extra) else extra])
    return nearest(items, s.vector, k, promoted)


# The widest index search a promotion's content candidates take (a rarer promotion is scored exactly over its
# matches: a gather of its vectors).
MAX_PROMOTION_SEARCH = 2_000
