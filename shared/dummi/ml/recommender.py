"""The hybrid recommender: what serving and offline evaluation both run (numpy + FAISS, no torch).

Warm users (>= ``cold_threshold`` distinct items): collaborative-filtering scores from the user's
*current* interactions (folded in per request, recent ones weighted more), joined by what other users
engaged with next after the user's latest items (``dummi.ml.sequence``), and content-similarity scores
(a profile built from the embeddings of what the user engaged with, weighted by interaction type and
recency), each standardized over the candidates and blended by ``cf_weight``. Cold users: popularity,
lifted for items that match the user's embedded interests and the few items it engaged with. Skipped
items' close neighbours are pushed down; seen items never come back. Items published after the model
was trained ("fresh") are candidates at once through their stored embeddings.

Ranking settings (recency half-life, content scale, cold-start boosts) come with the model: training
chooses them on cuts of its events (``dummi.ml.choice``) and records them in the manifest.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from dummi.ml.catalog import Catalog, Condition, ItemFacts, allowed_mask, epoch
from dummi.ml.collaborative import CFModel
from dummi.ml.explore import FIRST_SLOT, posterior, thompson
from dummi.ml.interactions import INTERACTION_WEIGHTS, event_weight
from dummi.ml.interests import item_labels, label, label_index
from dummi.ml.model_bundle import ModelBundle
from dummi.ml.relevance import (
    best_first,
    newcomer_relevance,
    skip_closeness,
    skip_push,
    standardised,
    top_n,
    warm_blend,
)
from dummi.ml.rerank import diversify, pool_size

DEFAULT_SETTINGS: dict[str, Any] = {
    "cold_threshold": 5,  # the seed: fewer than 5 interactions is a cold-start user
    "recency_half_life": 10.0,  # in items: the 10th most recent item counts half as much as the latest
    "sequence_weight": 0.5,  # weight of "engaged with next" beside CF (z units; 0 turns it off)
    "sequence_half_life": 2.5,  # in sessions: the next-item signal follows the latest items closely
    "cf_share": 0.75,  # CF's share of the blend at the request's default cf_weight = 0.5 (tuned)
    "popularity_penalty": 0.0,  # warm users: how far popular items are pushed down (z units of log-popularity)
    "skip_penalty": 0.5,  # how far an item as close as a skipped one is pushed down (in z units)
    "skip_similarity": 0.6,  # cosine above which an item counts as a close neighbour of a skipped one
    "interest_boost": 0.5,  # cold start: weight of the interest match (z units)
    "profile_boost": 0.3,  # cold start: weight of similarity to the few items engaged with (z units)
    "prior_strength": 50.0,  # cold start: how strongly co-likes are shrunk toward popularity
    "sequence_boost": 0.1,  # cold start: weight of what others engaged with next after the user's items (z units)
    "match_boost": 1000.0,  # cold start: how far matches of a stated interest move up the order (never the score)
    "diversity": 0.0,  # warm users: default of the request's diversity (MMR re-rank; chosen on the holdout)
    "newcomer_diversity": 0.0,  # newcomers: the same, chosen on the holdout's simulated newcomers
    "event_weighting": 1.0,  # 1: a profile item counts as its events' weight (a like fully, a click 2/5); 0: alike
    "candidates": 500,  # per source (CF top, content top) before blending
}
# ``score`` is the item's estimated relevance on one scale, 0..1: sigmoid(a z + b), z the ranker's relevance
# standardised over the user's candidates, (a, b) per mode fitted by training on its holdout to the chance
# that a listed item is among the held-out likes (``dummi.ml.choice.steps.calibrate``). Until a training run
# has fitted them (no model, or too little data to hold out), these: a z-score of 3 reads as 0.5.
DEFAULT_CALIBRATION: dict[str, tuple[float, float]] = {"warm": (1.0, -3.0), "cold": (1.0, -3.0)}
# A newcomer's list: when at least n items match a stated interest, at least this share of the top n match.
MIN_MATCH_SHARE = 0.7
# Cosine between an item's embedding and the embedded interests from which the item matches them (besides
# an equal category or tag): where precision reaches ~0.9 on both calibration catalogs (the ml-100k genres:
# 0.90 for one interest, 0.98 for the users' lists of three; the sample catalog's labels: 0.89 and 1.00);
# above it recall falls fast. tests/benchmarks/calibrate_interest_match.py prints the whole curve.
INTEREST_MATCH_COSINE = 0.45
# Items newer than the model have no engagement yet; for newcomers they count as popular as this quantile
# of the engaged model items, so a new item that matches a stated interest is among the first matches.
FRESH_POPULARITY_QUANTILE = 0.9
EPSILON = 1e-9
LIKE_WEIGHT = INTERACTION_WEIGHTS["like"]  # a profile item's events count fully from a like's weight up
# The skip push-down looks at the user's latest this many skipped items (its cost is candidates x skipped).
MAX_SKIPPED = 50
# Exploration draws from at most this many young items that match the user, best match first.
EXPLORE_CANDIDATES = 50
# A filter matching at most this many items is scored exactly over them rather than through the approximate
# index (384-float products over 20K items take ~2 ms on one core: less than a wide index search).
EXACT_FILTERED_ITEMS = 20_000


@dataclass(frozen=True)
class UserEvent:
    content_id: str
    kind: str
    event_type: str
    duration_seconds: float | None
    at: datetime


@dataclass
class UserState:
    user_id: str
    interests: list[str]
    interests_vector: np.ndarray | None
    events: list[UserEvent]  # most recent first (a bounded window)
    seen: set[str]  # every content id the user ever interacted with
    # profiles already built from these events, per (catalog, settings): training's trials ask again and again
    profiles: dict[tuple, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass
class FreshItems:
    """Content embedded after the model was trained."""

    ids: list[str] = field(default_factory=list)
    titles: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    tags: list[list[str]] = field(default_factory=list)
    vectors: np.ndarray = field(default_factory=lambda: np.empty((0, 384), np.float32))
    facts: list[ItemFacts] | None = None  # per item: properties and take-downs (None: none)


@dataclass(frozen=True)
class RankRequest:
    n: int = 10
    use_cf: bool = True
    use_embeddings: bool = True
    cf_weight: float = 0.5
    category: str | None = None
    exclude: frozenset[str] = frozenset()
    diversity: float | None = None  # 0..1: MMR re-rank (None: the model's setting); 0 is the ranked order
    max_per_category: int | None = None  # a hard cap on items of one category in the list
    explore_slots: int | None = None  # slots for young items (None: 1 from n = 10 up, else 0)
    filters: tuple[Condition, ...] = ()  # business rules every listed item meets (``dummi.ml.catalog``)
    at: float | None = None  # the request's time, seconds since 1970 (None: now): availability windows


def explore_slots(request: RankRequest) -> int:
    """The request's exploration slots: its own, or 1 of 10 from n = 10 up (none in shorter lists)."""
    if request.explore_slots is not None:
        return request.explore_slots
    return 1 if request.n >= 10 else 0


@dataclass(frozen=True)
class ExploreArms:
    """What exploration knows, on the recommender's positions (``dummi.ml.explore``)."""

    young: np.ndarray  # bool: created within 30 days, or shown fewer than 100 times
    impressions: np.ndarray  # attributed impressions per item
    clicks: np.ndarray  # attributed clicks per item
    global_ctr: float  # the prior's centre


@dataclass(frozen=True)
class Recommendation:
    content_id: str
    title: str
    category: str
    score: float
    method: str  # hybrid | cf | embedding | interest | popular | explore
    reason: str
    propensity: float | None = None  # explore: the probability the exploration policy had of choosing it
    explore_context: dict[str, Any] | None = None  # explore: the decision as made (for off-policy evaluation)


@dataclass
class _Profile:
    positions: np.ndarray  # items with a positive total, most recent first (model items, then fresh ones)
    weights: np.ndarray  # recency weights
    sessions: np.ndarray  # how many sessions ago each of those was engaged with (0: the latest)
    skipped: np.ndarray  # positions with a negative total
    engaged: np.ndarray  # every position the user interacted with


class _Vectors:
    """Row access and products over model vectors followed by fresh vectors, without concatenating them;
    model items whose text changed after training are read from ``overrides`` (position -> new vector)."""

    def __init__(self, model: np.ndarray, fresh: np.ndarray, overrides: dict[int, np.ndarray] | None = None) -> None:
        self.model, self.fresh, self.n_model = model, fresh, len(model)
        self.overrides = overrides or {}
        self.override_positions = np.array(sorted(self.overrides), np.int64)
        self._override_rows = (
            np.vstack([self.overrides[p] for p in self.override_positions]).astype(np.float32)
            if self.overrides
            else None
        )

    def __len__(self) -> int:
        return self.n_model + len(self.fresh)

    def __getitem__(self, positions) -> np.ndarray:
        if isinstance(positions, (int, np.integer)):
            p = int(positions)
            if p in self.overrides:
                return self.overrides[p]
            return self.model[p] if p < self.n_model else self.fresh[p - self.n_model]
        positions = np.asarray(positions, dtype=np.int64)
        if not len(self.fresh) or not len(positions) or int(positions.max()) < self.n_model:
            out = self.model[positions]
        else:
            out = np.empty((len(positions), self.model.shape[1]), np.float32)
            in_model = positions < self.n_model
            out[in_model] = self.model[positions[in_model]]
            out[~in_model] = self.fresh[positions[~in_model] - self.n_model]
        if self._override_rows is not None and len(positions):
            hit = np.isin(positions, self.override_positions)
            if hit.any():
                out[hit] = self._override_rows[np.searchsorted(self.override_positions, positions[hit])]
        return out

    def __matmul__(self, vector: np.ndarray) -> np.ndarray:
        out = self.model @ vector if not len(self.fresh) else np.concatenate([self.model @ vector, self.fresh @ vector])
        if self._override_rows is not None:
            out[self.override_positions] = self._override_rows @ vector
        return out


def effective_cf_weight(cf_weight: float, cf_share: float) -> float:
    """The request's cf_weight on the calibrated scale: 0 is content only, 1 is CF only, and the default
    0.5 is the share training found best on its holdout (``cf_share``); linear on each side of 0.5."""
    if cf_weight <= 0.5:
        return 2 * cf_weight * cf_share
    return cf_share + (cf_weight - 0.5) * 2 * (1 - cf_share)


class HybridRecommender:
    def __init__(self, bundle: ModelBundle, fresh: FreshItems | None = None) -> None:
        self.bundle = bundle
        self.settings = {**DEFAULT_SETTINGS, **bundle.settings}
        fresh = fresh or FreshItems()
        known = bundle.position
        keep = [i for i, cid in enumerate(fresh.ids) if cid not in known]
        self.n_model = bundle.size
        self.ids = np.concatenate([bundle.item_ids, np.array([fresh.ids[i] for i in keep], dtype=object)])
        fresh_tags = [fresh.tags[i] if i < len(fresh.tags) else [] for i in keep]
        fresh_facts = [
            fresh.facts[i] if fresh.facts is not None else ItemFacts(fresh.titles[i], fresh.categories[i], [])
            for i in keep
        ]
        fresh_facts = [
            ItemFacts(fresh.titles[i], fresh.categories[i], tags, f.properties, f.hidden, f.start, f.end, f.deleted)
            for i, tags, f in zip(keep, fresh_tags, fresh_facts, strict=True)
        ]
        # the items' current state (take-downs, what filters read): the model's own, then the fresh items'
        self.catalog = bundle_catalog(bundle).extended(fresh_facts)
        # label -> positions of fresh items (the model's own: bundle.label_positions)
        self.fresh_labels = label_index(self.categories[bundle.size :], self.tags[bundle.size :], bundle.size)
        self._fresh_prior: float | None = None
        fresh_vectors = fresh.vectors[keep] if keep else np.empty((0, bundle.vectors.shape[1]), np.float32)
        # Model vectors are the index's own memory; fresh ones are few. Kept apart, so new content never
        # costs a copy of the whole catalog.
        self.vectors = _Vectors(bundle.vectors, fresh_vectors)
        self.popularity = np.concatenate([bundle.popularity, np.zeros(len(keep), np.float32)])
        self.position = bundle.position  # the model's own map; extended only when fresh items exist
        if keep:
            self.position = {
                **bundle.position,
                **{cid: self.n_model + k for k, cid in enumerate(self.ids[self.n_model :])},
            }

    @property
    def size(self) -> int:
        return len(self.ids)

    # The catalog's current fields (a category changed after training is the new one at once).
    @property
    def titles(self) -> list[str]:
        return self.catalog.titles

    @property
    def categories(self) -> list[str]:
        return self.catalog.categories

    @property
    def tags(self) -> list[list[str]]:
        return self.catalog.tags

    def with_catalog(self, catalog: Catalog, overrides: dict[int, np.ndarray] | None = None) -> HybridRecommender:
        """This recommender over another state of the same items (take-downs, changed fields) and, for model
        items whose text changed since training, their new vectors; nothing of the catalog is copied."""
        if catalog.size != self.size:
            raise ValueError("the catalog does not match the recommender's items")
        other = copy.copy(self)
        other.catalog = catalog
        if overrides or self.vectors.overrides:
            other.vectors = _Vectors(self.vectors.model, self.vectors.fresh, overrides)
        return other

    def allowed(self, request: RankRequest) -> np.ndarray | None:
        """Mask of the items the request may be answered with (None: all): not taken down at the request's
        time, meeting its filters, and in its category. The candidates are drawn from these, so a rare
        category (0.1% of a million items) is scored exactly over its own items rather than hoped for among
        the best of all (``_nearest``)."""
        conditions = request.filters
        if request.category is not None:
            conditions = (*conditions, ("category", "in", (request.category,)))
        return allowed_mask(self.catalog, request.at if request.at is not None else time.time(), conditions)

    def variant(self, settings: dict[str, Any], cf: CFModel | None) -> HybridRecommender:
        """This recommender with some ranking settings and the CF model replaced (an experiment's variant);
        everything else (items, vectors, maps) is shared, so a variant costs no copy of the catalog."""
        other = copy.copy(self)
        other.settings = {**self.settings, **settings}
        if cf is not self.bundle.cf:
            other.bundle = copy.copy(self.bundle)
            other.bundle.cf = cf
        return other

    # -- the user's profile -------------------------------------------------------------------------
    def profile(self, user: UserState) -> _Profile:
        """Items with a positive total, most recent first, weighted by type and recency."""
        half_life = float(self.settings["recency_half_life"])
        power = float(self.settings["event_weighting"])
        key = (id(self.bundle.item_ids), self.size, half_life, power)
        found = user.profiles.get(key)
        if found is None:
            found = user.profiles[key] = self._profile(user, half_life, power)
        return found

    def _profile(self, user: UserState, half_life: float, power: float) -> _Profile:
        totals: dict[str, float] = {}
        order: list[str] = []
        for e in user.events:  # newest first
            if e.content_id not in totals:
                order.append(e.content_id)
                totals[e.content_id] = 0.0
            totals[e.content_id] += event_weight(e.kind, e.event_type, e.duration_seconds)
        # Recency counts sessions, not events: items seen at the same moment are equally recent.
        latest = {}
        for e in user.events:
            latest.setdefault(e.content_id, e.at)
        positions, weights, sessions, skipped, engaged = [], [], [], [], []
        session, previous = -1, None
        for cid in order:
            pos = self.position.get(cid)
            if pos is None:
                continue
            engaged.append(pos)
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
        return _Profile(
            np.array(positions, np.int64),
            np.array(weights, np.float32),
            np.array(sessions, np.float32),
            np.array(skipped, np.int64),
            np.array(engaged, np.int64),
        )

    # -- ranking --------------------------------------------------------------------------------------
    def recommend(
        self,
        user: UserState,
        request: RankRequest,
        arms: ExploreArms | None = None,
        rng: np.random.Generator | None = None,
    ) -> list[Recommendation]:
        """The list: ranked (and re-ranked for diversity), then, with ``arms``, its exploration slots filled
        by Thompson sampling over young items that match the user (``dummi.ml.explore``)."""
        top, relevance, parts, profile = self._rank(user, request)
        score = self._scorer(relevance, parts)
        recs = [self._explain(int(p), score(p), parts, user, profile) for p in top]
        slots = explore_slots(request)
        if arms is None or slots <= 0 or len(recs) < FIRST_SLOT:
            return recs
        return self._explore(recs, top, parts, user, request, arms, slots, rng or np.random.default_rng(), score)

    def _scorer(self, relevance: np.ndarray, parts: dict[str, Any]):
        """pos -> the item's ``score``: its relevance on the calibrated 0..1 scale (``DEFAULT_CALIBRATION``);
        0 for an item the ranking left out (never for a listed one)."""
        a, b = calibration(self.settings, parts["mode"])
        mean, spread = parts["relevance_stats"]

        def score(pos: int) -> float:
            value = float(relevance[pos])
            return _sigmoid(a * (value - mean) / spread + b) if np.isfinite(value) else 0.0

        return score

    def _explore(
        self, recs, top, parts, user, request, arms: ExploreArms, slots: int, rng, score
    ) -> list[Recommendation]:
        candidates = self._explore_candidates(top, parts, user, request, arms)
        picks = thompson(arms.impressions[candidates], arms.clicks[candidates], arms.global_ctr, slots, len(recs), rng)
        if not picks:
            return recs
        out = list(recs[: len(recs) - len(picks)])  # the last ranked items make room
        a, b = posterior(arms.impressions[candidates], arms.clicks[candidates], arms.global_ctr)
        context = {
            "candidates": [str(self.ids[c]) for c in candidates],
            "impressions": [int(x) for x in arms.impressions[candidates]],
            "clicks": [int(x) for x in arms.clicks[candidates]],
            "global_ctr": round(float(arms.global_ctr), 6),
        }
        for pick in sorted(picks, key=lambda p: p.position):
            pos = int(candidates[pick.index])
            shown = int(arms.impressions[pos])
            reason = f"new to {self.categories[pos]}: shown {shown} times so far, we are finding out who likes it"
            explored = Recommendation(
                str(self.ids[pos]),
                self.titles[pos],
                self.categories[pos],
                score(pos),  # the ranking's relevance, as for every item (its CTR estimate is logged below)
                "explore",
                reason,
                pick.propensity,
                {
                    **context,
                    "posterior_ctr": round(float(a[pick.index] / (a[pick.index] + b[pick.index])), 6),
                    "position": pick.position,
                    "chosen": pick.index,
                    "taken": list(pick.taken),
                    "propensity": round(pick.propensity, 6),
                },
            )
            out.insert(pick.position - 1, explored)
        return out

    def _explore_candidates(self, top, parts, user: UserState, request: RankRequest, arms: ExploreArms) -> np.ndarray:
        """Young items that match the user, best match first, at most EXPLORE_CANDIDATES: for users with a
        profile, the young items of the ranking's candidate pool by content similarity; for newcomers, the
        young items matching their interests, or when nothing matches them, the young items closest to them
        (so an explored item never breaks the promise that a newcomer's interests lead the list)."""
        blocked = np.concatenate(
            [
                top,
                np.fromiter(
                    (self.position[c] for c in user.seen | set(request.exclude) if c in self.position), np.int64
                ),
            ]
        )
        if parts["mode"] == "warm":
            pool = parts["pool"]
            content = parts["content"]  # the blend's content part: the profile cosine's order, unless weighted 0
            if content is not None and content.any():
                closeness = content
            elif parts["vector"] is not None:
                closeness = self.vectors[pool] @ parts["vector"]
            elif parts["cf"] is not None:
                closeness = parts["cf"]
            else:
                return np.empty(0, np.int64)
            ranked = pool[np.argsort(-closeness, kind="stable")]
        else:  # a newcomer: young matches of its interests (they lead its list); with none, the closest
            matched = parts.get("matched")
            closeness = parts.get("closeness")  # to the interests, worked out by the ranking already
            if matched is not None and matched.any():
                ranked = np.flatnonzero(matched & arms.young)
                ranked = ranked[np.argsort(-self.popularity[ranked], kind="stable")]
            elif closeness is not None:
                young = np.flatnonzero(arms.young)
                m = min(len(young), 10 * EXPLORE_CANDIDATES)
                ranked = young[np.argpartition(-closeness[young], m - 1)[:m]] if 0 < m < len(young) else young
                ranked = ranked[np.argsort(-closeness[ranked], kind="stable")]
            else:
                return np.empty(0, np.int64)
        keep = arms.young[ranked] & ~np.isin(ranked, blocked)
        if parts.get("allowed") is not None:  # taken down, filtered out or in another category
            keep &= parts["allowed"][ranked]
        return ranked[keep][:EXPLORE_CANDIDATES]

    def standardised_relevance(self, user: UserState, k: int) -> tuple[str, np.ndarray, np.ndarray]:
        """(the mode, the user's best k positions by relevance, their relevance standardised as ``score``
        standardises it): what training fits the calibration on."""
        top, relevance, parts, _ = self._rank(user, RankRequest(n=k, diversity=0.0, explore_slots=0))
        top = best_first(top, relevance[top])
        mean, spread = parts["relevance_stats"]
        return parts["mode"], top, (relevance[top] - mean) / spread

    def ranked_ids(self, user: UserState, request: RankRequest) -> list[str]:
        """The ids ``recommend`` answers, in its order, without the explanations (training's holdout)."""
        top, _, _, _ = self._rank(user, request)
        return [str(self.ids[p]) for p in top]

    def _rank(self, user: UserState, request: RankRequest) -> tuple[np.ndarray, np.ndarray, dict[str, Any], _Profile]:
        """(the list's positions in the order shown, every item's relevance, the parts, the profile).

        Relevance is computed once; what follows only reorders and picks: a newcomer's interest matches move
        up by ``match_boost`` (``parts["lift"]``), the best max(4n, 50) are re-ranked for diversity
        (``dummi.ml.rerank``; a category cap that leaves the list short widens the pool), and the newcomers'
        quota of interest matches holds throughout."""
        profile = self.profile(user)
        distinct = len({e.content_id for e in user.events})
        allowed = self.allowed(request)
        if distinct < int(self.settings["cold_threshold"]) or len(profile.positions) == 0:
            relevance, parts = self._cold_scores(user, profile, request)
        else:
            seen = np.fromiter((self.position[c] for c in user.seen if c in self.position), np.int64)
            relevance, parts = self._warm_scores(profile, request, seen, allowed)
        parts["allowed"] = allowed
        parts["relevance_stats"] = _stats(relevance)
        lift = parts.get("lift")
        order_by = relevance if lift is None else relevance + lift
        default = self.settings["diversity" if parts["mode"] == "warm" else "newcomer_diversity"]
        diversity = float(default if request.diversity is None else request.diversity)
        if diversity <= 0 and request.max_per_category is None:
            top, order_by = self._top(order_by, parts, user, profile, request, request.n)
        else:
            size = pool_size(request.n)
            while True:
                pool, ranked = self._top(order_by, parts, user, profile, request, size)
                order = diversify(
                    ranked[pool],
                    self.vectors[pool],
                    request.n,
                    diversity=diversity,
                    categories=[self.categories[p] for p in pool],
                    max_per_category=request.max_per_category,
                )
                if len(order) >= request.n or len(pool) < size:
                    break
                size *= 4
            top, order_by = pool[order], ranked
            if parts.get("matched") is not None and request.max_per_category is None:
                top = _quota_in_place(top, pool, order_by, parts["matched"], request.n)
        # what the user has seen and the pushes of skipped items' neighbours are the ranking's too
        return top, (order_by if lift is None else order_by - lift), parts, profile

    def _warm_scores(
        self, profile: _Profile, request: RankRequest, seen: np.ndarray, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        s = self.settings
        m = int(s["candidates"])
        use_cf = request.use_cf and self.bundle.cf is not None
        use_content = request.use_embeddings
        if not (use_cf or use_content):
            use_content = True  # both off: content similarity alone is still a personal answer
        candidates: list[np.ndarray] = []
        cf_all = following = None
        if use_cf:
            in_model = profile.positions < self.n_model
            model_items = profile.positions[in_model]
            cf_all = np.zeros(self.size, np.float64)
            cf_all[: self.n_model] = self.bundle.cf.scores(model_items, profile.weights[in_model])
            # joined by what others engaged with next after the user's latest items, both standardized
            following = self._following(model_items, profile.sessions[in_model], float(s["sequence_weight"]))
            if following is not None:
                cf_all[: self.n_model] = standardised(cf_all[: self.n_model]) + following
            k = min(m, self.size - 1)
            pick = cf_all if allowed is None else np.where(allowed, cf_all, -np.inf)
            candidates.append(np.argpartition(-pick, k)[:k] if k > 0 else np.arange(self.size))
        vector = content_all = None
        if use_content:
            vector = (profile.weights[:, None] * self.vectors[profile.positions]).sum(axis=0)
            norm = float(np.linalg.norm(vector))
            vector = vector / norm if norm > EPSILON else None
        if vector is not None:
            k = min(m, self.n_model)
            if self.bundle.index.kind == "flat":
                # Exact index: one product over every item ranks them all and gives the pool's scores
                # (cheaper than a top-k search plus a gather of the pool's vectors).
                content_all = self.vectors @ vector
                model_part = content_all[: self.n_model]
                if allowed is not None:
                    model_part = np.where(allowed[: self.n_model], model_part, -np.inf)
                candidates.append(np.argpartition(-model_part, k - 1)[:k] if 0 < k < self.n_model else np.arange(k))
            else:
                candidates.append(self._nearest(vector, k, allowed))
        candidates.append(self._fresh_candidates(content_all, vector, m))
        in_pool = np.zeros(self.size, bool)  # a mask: sorted and unique without a sort
        in_pool[np.concatenate(candidates)] = True
        in_pool[seen] = False  # scores are standardized over real candidates
        if allowed is not None:
            in_pool &= allowed
        pool = np.flatnonzero(in_pool)
        z_cf = np.zeros(len(pool))
        if cf_all is not None:
            # items newer than the model have no CF signal yet: they count as average, not as "disliked"
            known = pool < self.n_model
            z_cf[known] = standardised(cf_all[pool[known]])
        if content_all is not None:
            z_content = standardised(content_all[pool])
        elif vector is not None:
            z_content = standardised(self.vectors[pool] @ vector)
        else:
            z_content = np.zeros(len(pool))
        w = 1.0  # one side alone: that side, whole
        if cf_all is not None and vector is not None:
            w = effective_cf_weight(float(request.cf_weight), float(s["cf_share"]))
        elif cf_all is None:
            w = 0.0
        # popularity too: an item newer than the model is unknown, not unpopular (a penalty would lift it)
        z_popularity = np.zeros(len(pool))
        known = pool < self.n_model
        z_popularity[known] = standardised(np.log(self.popularity[pool[known]].astype(np.float64) + 1e-3))
        relevance = warm_blend(z_cf, z_content, z_popularity, w, float(s["popularity_penalty"]))
        skip = float(s["skip_penalty"])
        if len(profile.skipped) and skip > 0 and len(pool):
            closeness = skip_closeness(
                self.vectors[pool], self.vectors[profile.skipped[:MAX_SKIPPED]], float(s["skip_similarity"])
            )
            relevance = skip_push(relevance, closeness, np.ones(len(pool), bool), skip)
        scores = np.full(self.size, -np.inf)
        scores[pool] = relevance
        cf_part, content_part = w * z_cf, (1 - w) * z_content
        return scores, {
            "pool": pool,
            "cf": cf_part if cf_all is not None else None,  # the blend's two sides, for the explanations
            "content": content_part if vector is not None else None,
            "vector": vector,
            "following": following,
            "cf_all": cf_all,
            "mode": "warm",
        }

    def _nearest(self, vector: np.ndarray, k: int, allowed: np.ndarray | None) -> np.ndarray:
        """Model positions of the k items nearest ``vector`` through the approximate index, among ``allowed``
        ones: a rare match is scored exactly over its items, a common one searched wider and then filtered.
        Items whose vector changed after training are candidates too (the index holds their old vectors)."""
        extra = self.vectors.override_positions
        if allowed is None:
            _, found = self.bundle.index.search(vector, k)
            return np.concatenate([found[0][found[0] >= 0], extra])
        among = np.flatnonzero(allowed[: self.n_model])
        if len(among) <= EXACT_FILTERED_ITEMS and 2 * len(among) <= self.n_model:
            if len(among) <= k:
                return among
            sims = self.vectors[among] @ vector
            return among[np.argpartition(-sims, k - 1)[:k]]
        if not len(among):
            return among
        # most items allowed (a few taken down, a broad filter): the index, searched as much wider as the
        # share left out, finds k allowed ones
        wider = min(self.n_model, int(np.ceil(1.25 * k * self.n_model / len(among))) + 10)
        _, found = self.bundle.index.search(vector, wider)
        found = found[0][found[0] >= 0]
        extra = extra[allowed[extra]] if len(extra) else extra
        return np.concatenate([found[allowed[found]][:k], extra])

    def _following(self, items: np.ndarray, sessions: np.ndarray, weight: float) -> np.ndarray | None:
        """``weight`` x standardized next-item scores over the model's items for a user's latest (model)
        items, or None (no model, no items, weight 0); they follow the latest items closely (their own,
        shorter recency half-life)."""
        sequence = self.bundle.sequence
        if sequence is None or not len(items) or weight <= 0:
            return None
        half_life = float(self.settings["sequence_half_life"])
        recency = (0.5 ** (sessions / half_life) if half_life > 0 else np.ones(len(items))).astype(np.float32)
        return weight * standardised(sequence.scores(items, recency))

    def _fresh_candidates(self, content_all: np.ndarray | None, vector: np.ndarray | None, m: int) -> np.ndarray:
        """Items newer than the model compete in every warm pool; past a fifth of the pool, those closest to
        the user's profile (or, with content off, the newest) do."""
        fresh = np.arange(self.n_model, self.size)
        limit = max(1, m // 5)
        if len(fresh) <= limit:
            return fresh
        if vector is None:
            return fresh[-limit:]
        scores = content_all[self.n_model :] if content_all is not None else self.vectors.fresh @ vector
        return self.n_model + np.argpartition(-scores, limit - 1)[:limit]

    def _cold_scores(
        self, user: UserState, profile: _Profile, request: RankRequest
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """A newcomer's relevance over every item: training's learned weights over the newcomer features
        (``dummi.ml.relevance``), or, for a model without them, popularity lifted by co-likes, interests,
        profile similarity and what came next (the hand-set boosts)."""
        s = self.settings
        shares = self._shares()
        model_items = profile.engaged[profile.engaged < self.n_model]
        colike = np.zeros(self.size)
        has_colike = request.use_cf and self.bundle.cooccurrence is not None and len(model_items) > 0
        if has_colike:
            colike[: self.n_model] = self.bundle.cooccurrence.lift(
                model_items, shares[: self.n_model], float(s["prior_strength"])
            )
        closeness = None
        if request.use_embeddings and user.interests_vector is not None:
            closeness = self.vectors @ user.interests_vector.astype(np.float32)
        own = None
        if request.use_embeddings and len(profile.positions):
            vector = (profile.weights[:, None] * self.vectors[profile.positions]).sum(axis=0)
            own = self.vectors @ (vector / (np.linalg.norm(vector) + EPSILON))
        in_model = profile.positions < self.n_model
        following = None
        learned = s.get("newcomer_weights")
        if learned:
            colike_score = len(model_items) * np.log(shares) + colike if has_colike else None
            features = self._newcomer_features(profile, request, shares, colike_score)
            features.update(profile=own, interest=closeness)
            scores = newcomer_relevance(features, learned, self.size)
            profile_weight = float(learned.get("profile", 0.0))
            if features.get("next") is not None and learned.get("next", 0.0) > 0:  # for "often chosen after"
                following = float(learned["next"]) * standardised(features["next"][: self.n_model])
        else:
            profile_weight = float(s["profile_boost"])
            base = np.log(shares)
            if has_colike:
                base = len(model_items) * base + colike
            interest = standardised(closeness) if closeness is not None else 0.0
            own_part = profile_weight * standardised(own) if own is not None else 0.0
            scores = base + float(s["interest_boost"]) * interest + own_part
            if request.use_cf:
                following = self._following(
                    profile.positions[in_model], profile.sessions[in_model], float(s["sequence_boost"])
                )
                if following is not None:
                    scores[: self.n_model] += following
        matched = self._matches(user.interests, closeness)
        parts = {
            "lift": float(s["match_boost"]) * matched if matched is not None else None,
            "colike": colike,
            # what each item owes to its closeness to the few items engaged with (its explanation)
            "own": profile_weight * standardised(own) if own is not None else np.zeros(self.size),
            "following": following,
            "mode": "cold",
            "matched": matched,
            "closeness": closeness,
            "nothing_matched": matched is not None and not matched.any(),  # once, not per explained item
        }
        return scores, parts

    def _shares(self) -> np.ndarray:
        """Each item's popularity share (strictly positive, summing to 1); items newer than the model count
        as popular as FRESH_POPULARITY_QUANTILE of the engaged ones."""
        shares = self.popularity.astype(np.float64) + 1e-4
        if self.size > self.n_model:
            if self._fresh_prior is None:
                engaged = self.popularity[: self.n_model][self.popularity[: self.n_model] > 0]
                self._fresh_prior = float(np.quantile(engaged, FRESH_POPULARITY_QUANTILE)) if len(engaged) else 0.0
            shares[self.n_model :] += self._fresh_prior
        return shares / shares.sum()

    def _newcomer_features(self, profile: _Profile, request: RankRequest, shares, colike) -> dict[str, Any]:
        """The newcomer features that come from the user's few items (``dummi.ml.relevance``); profile and
        interest closeness are the caller's."""
        features: dict[str, Any] = {"popularity": np.log(shares), "colike": colike}
        in_model = profile.positions < self.n_model
        items, weights = profile.positions[in_model], profile.weights[in_model]
        cf = self.bundle.newcomer_cf or self.bundle.cf  # the newcomers' own CF model, where training ships one
        if request.use_cf and cf is not None and len(items):
            features["cf"] = self._padded(cf.scores(items, weights))
            if cf.kind == "blend":
                features["cf_first"] = self._padded(cf.first.scores(items, weights))
                features["cf_second"] = self._padded(cf.second.scores(items, weights))
        sequence = self.bundle.sequence
        if request.use_cf and sequence is not None and len(items):
            half_life = float(self.settings["sequence_half_life"])
            recency = (
                0.5 ** (profile.sessions[in_model] / half_life) if half_life > 0 else np.ones(len(items))
            ).astype(np.float32)
            features["next"] = self._padded(sequence.scores(items, recency))
        return features

    def _padded(self, model_scores: np.ndarray) -> np.ndarray:
        """Scores over the model's items extended with 0 for the items newer than it."""
        if self.size == self.n_model:
            return np.asarray(model_scores, np.float64)
        out = np.zeros(self.size)
        out[: self.n_model] = model_scores
        return out

    def _matches(self, interests: list[str], closeness: np.ndarray | None) -> np.ndarray | None:
        """Mask of the items that match a stated interest (category or a tag equal to it, or an embedding
        close to the embedded interests); None for a user without interests."""
        if not interests:
            return None
        matched = np.zeros(self.size, bool)
        for interest in interests:
            key = label(interest)
            matched[self.bundle.label_positions(key)] = True
            matched[self.fresh_labels.get(key, [])] = True
        if closeness is not None:
            matched |= closeness >= INTEREST_MATCH_COSINE
        return matched

    def needs_interests(self, user: UserState) -> bool:
        """A newcomer (fewer than ``cold_threshold`` distinct items) that stated no interests."""
        distinct = len({e.content_id for e in user.events})
        return not user.interests and distinct < int(self.settings["cold_threshold"])

    def _top(
        self,
        scores: np.ndarray,
        parts: dict[str, Any],
        user: UserState,
        profile: _Profile,
        request: RankRequest,
        n: int,
    ) -> tuple[np.ndarray, np.ndarray]:
        """(the top n positions, best first; the final scores)."""
        scores = scores.astype(np.float64, copy=True)
        # never what the user has seen, nor what the caller excludes, nor what is taken down or filtered out
        for cid in user.seen | set(request.exclude):
            pos = self.position.get(cid)
            if pos is not None:
                scores[pos] = -np.inf
        allowed = parts.get("allowed")  # taken down, filtered out or in another category
        if allowed is not None:
            scores[~allowed] = -np.inf
        finite = np.flatnonzero(np.isfinite(scores))
        n = min(n, len(finite))
        if n == 0:
            return np.empty(0, np.int64), scores
        top = top_n(finite, scores[finite], n)
        matched = parts.get("matched")
        if matched is not None:
            top = best_first(*_both(_with_matches(top, finite, scores, matched, n), scores))
        return top, scores

    # -- explanations ---------------------------------------------------------------------------------
    def _explain(self, pos: int, score: float, parts: dict, user: UserState, profile: _Profile) -> Recommendation:
        cid, title, category = str(self.ids[pos]), self.titles[pos], self.categories[pos]
        if parts["mode"] == "cold":
            i = int(pos)
            matched = parts["matched"]
            if matched is not None and matched[i]:
                labels = item_labels(category, self.tags[i])
                interest = next((x for x in user.interests if label(x) in labels), None)
                if interest is not None:
                    return Recommendation(cid, title, category, score, "interest", f"matches your interest {interest}")
                interest = _matching_interest(user.interests, title, category)
                return Recommendation(cid, title, category, score, "interest", f"close to your interest {interest}")
            if parts["own"][i] > 0.25 and len(profile.positions):
                liked = self.titles[int(profile.positions[0])]
                return Recommendation(cid, title, category, score, "embedding", f"similar to {liked}")
            if parts["colike"][i] > 1.0:  # co-liked at more than e x its popular share
                return Recommendation(cid, title, category, score, "cf", "liked by people with similar taste")
            after = self._chosen_after(pos, parts, profile)
            if after is not None:
                return Recommendation(cid, title, category, score, "cf", f"often chosen after {after}")
            if parts["nothing_matched"]:
                stated = ", ".join(user.interests)
                reason = f"nothing matches your interests ({stated}) yet; popular in {category}"
                return Recommendation(cid, title, category, score, "popular", reason)
            return Recommendation(cid, title, category, score, "popular", f"popular in {category}")
        where = np.searchsorted(parts["pool"], pos)
        cf = parts["cf"][where] if parts["cf"] is not None else None
        content = parts["content"][where] if parts["content"] is not None else None
        if cf is not None and content is not None:
            method = "hybrid"
        elif cf is not None:
            method = "cf"
        else:
            method = "embedding"
        if content is not None and (cf is None or content >= cf):
            sims = self.vectors[profile.positions] @ self.vectors[pos]
            liked = self.titles[int(profile.positions[int(np.argmax(sims))])]
            return Recommendation(cid, title, category, score, method, f"similar to {liked}")
        after = self._chosen_after(pos, parts, profile)
        if after is not None:
            return Recommendation(cid, title, category, score, method, f"often chosen after {after}")
        return Recommendation(cid, title, category, score, method, "liked by people with similar taste")

    def _chosen_after(self, pos: int, parts: dict, profile: _Profile, latest: int = 5) -> str | None:
        """The title of the user's recent item that others most often went on from to ``pos``, when the
        next-item signal lifted ``pos`` by a full z unit or more and, for warm users, is most of its CF-side
        score; else None."""
        following = parts.get("following")
        if following is None or pos >= self.n_model:
            return None
        cf_all = parts.get("cf_all")
        rest = float(cf_all[pos] - following[pos]) if cf_all is not None else 0.0
        if following[pos] < max(1.0, rest):
            return None
        sequence = self.bundle.sequence
        best, best_share = None, 0.0
        for item in profile.positions[:latest]:
            if item >= self.n_model:
                continue
            lo, hi = sequence.indptr[item], sequence.indptr[item + 1]
            hit = np.flatnonzero(sequence.indices[lo:hi] == pos)
            if len(hit) and sequence.data[lo + hit[0]] > best_share:
                best, best_share = int(item), float(sequence.data[lo + hit[0]])
        return self.titles[best] if best is not None else None

    # -- item-to-item and popularity --------------------------------------------------------------------
    def similar(
        self,
        content_id: str,
        n: int,
        vector: np.ndarray | None = None,
        filters: Sequence[Condition] = (),
        at: float | None = None,
    ) -> list[Recommendation]:
        pos = self.position.get(content_id)
        if vector is None:
            if pos is None:
                return []
            vector = self.vectors[pos]
        vector = vector.astype(np.float32)
        allowed = allowed_mask(self.catalog, at if at is not None else time.time(), filters)
        if self.size <= 50_000:
            sims = self.vectors @ vector
            candidates = np.arange(self.size) if allowed is None else np.flatnonzero(allowed)
            pairs = list(zip(candidates.tolist(), sims[candidates].tolist(), strict=True))
        else:
            found = self._nearest(vector, min(n + 1, self.n_model), allowed)
            fresh = np.arange(self.n_model, self.size)
            if allowed is not None:
                fresh = fresh[allowed[fresh]]
            candidates = np.unique(np.concatenate([found, fresh]))
            pairs = list(zip(candidates.tolist(), (self.vectors[candidates] @ vector).tolist(), strict=True))
        pairs = [(p, sc) for p, sc in pairs if p != pos]
        pairs.sort(key=lambda x: -x[1])
        title = self.titles[pos] if pos is not None else content_id
        # the score of an item-to-item list: its cosine to the item, on 0..1 ((1 + cosine) / 2)
        return [
            Recommendation(
                str(self.ids[p]),
                self.titles[p],
                self.categories[p],
                min(1.0, max(0.0, (1.0 + sc) / 2)),
                "embedding",
                f"similar to {title}",
            )
            for p, sc in pairs[:n]
        ]

    def popular(
        self,
        n: int,
        category: str | None = None,
        exclude: Sequence[str] = (),
        filters: Sequence[Condition] = (),
        at: float | None = None,
    ) -> list[Recommendation]:
        """The most liked items; ``score`` is the relevance a newcomer with no history and no interests
        would be given for each (the log of its popularity share, on the newcomers' calibrated scale)."""
        order = self.popularity.astype(np.float64, copy=True)
        relevance = np.log((order + 1e-4) / (order + 1e-4).sum())
        score = self._scorer(relevance, {"mode": "cold", "relevance_stats": _stats(relevance)})
        if category is not None:
            order[~self.catalog.in_category(category)] = -np.inf
        allowed = allowed_mask(self.catalog, at if at is not None else time.time(), filters)
        if allowed is not None:
            order[~allowed] = -np.inf
        for cid in exclude:
            pos = self.position.get(cid)
            if pos is not None:
                order[pos] = -np.inf
        finite = np.flatnonzero(np.isfinite(order))
        top = finite[np.argsort(-order[finite], kind="stable")][:n]
        return [
            Recommendation(
                str(self.ids[p]),
                self.titles[p],
                self.categories[p],
                score(int(p)),
                "popular",
                f"popular in {self.categories[p]}",
            )
            for p in top
        ]


def calibration(settings: dict[str, Any], mode: str) -> tuple[float, float]:
    """(a, b) of the mode's score calibration: the model's own, else DEFAULT_CALIBRATION."""
    fitted = (settings.get("calibration") or {}).get(mode)
    a, b = fitted if fitted is not None else DEFAULT_CALIBRATION[mode]
    return float(a), float(b)


def _stats(relevance: np.ndarray) -> tuple[float, float]:
    """Mean and standard deviation (1 when constant) of the finite relevance values: the scale ``score``
    standardises them on."""
    finite = relevance[np.isfinite(relevance)]
    if not len(finite):
        return 0.0, 1.0
    spread = float(finite.std())
    return float(finite.mean()), spread if spread > EPSILON else 1.0


def _sigmoid(x: float) -> float:
    return float(0.5 * (1.0 + np.tanh(0.5 * x)))  # 1 / (1 + e^-x), without overflow


def _both(positions: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return positions, scores[positions]


def _with_matches(top: np.ndarray, finite: np.ndarray, scores: np.ndarray, matched: np.ndarray, n: int) -> np.ndarray:
    """``top`` (n positions) with at least min(ceil(0.7 n), matching candidates) matching items: the
    lowest-scored others give way to the best-scored matches not yet in it."""
    need = min(int(np.ceil(MIN_MATCH_SHARE * n)), int(matched[finite].sum()))
    short = need - int(matched[top].sum())
    if short <= 0:
        return top
    others = top[~matched[top]]
    keep = best_first(others, scores[others])[: len(others) - short]
    outside = np.setdiff1d(finite[matched[finite]], top[matched[top]], assume_unique=True)
    add = top_n(outside, scores[outside], short)
    return np.concatenate([top[matched[top]], keep, add])


def _quota_in_place(top: np.ndarray, pool: np.ndarray, scores: np.ndarray, matched: np.ndarray, n: int) -> np.ndarray:
    """A re-ranked list that keeps the newcomers' quota of matches: if it fell short, its last non-matching
    items give their places to the best-scored matches of the pool not yet in it."""
    need = min(int(np.ceil(MIN_MATCH_SHARE * n)), int(matched[pool].sum()))
    short = need - int(matched[top].sum())
    if short <= 0:
        return top
    spare = np.setdiff1d(pool[matched[pool]], top, assume_unique=True)
    spare = top_n(spare, scores[spare], short)
    out = top.copy()
    places = np.flatnonzero(~matched[out])[::-1][: len(spare)]
    out[np.sort(places)] = spare
    return out


def _matching_interest(interests: list[str], title: str, category: str) -> str:
    """The interest named in the item's title or category, else the user's first."""
    text = f"{title} {category}".lower().replace("-", " ")
    for interest in interests:
        if interest.lower().replace("-", " ") in text:
            return interest
    return interests[0]


def bundle_catalog(bundle: ModelBundle) -> Catalog:
    """The model's items' state as training read it (properties, hidden, availability windows); built once
    per model (catalogs are never edited in place)."""
    found = bundle._catalog
    if found is None:
        found = _bundle_catalog(bundle)
        bundle._catalog = found
    return found


def _bundle_catalog(bundle: ModelBundle) -> Catalog:
    state = bundle.state
    if state is None:
        return Catalog(bundle.titles, bundle.categories, bundle.tags)
    return Catalog(
        bundle.titles,
        bundle.categories,
        bundle.tags,
        state["properties"],
        np.array(state["hidden"], bool),
        np.array([epoch(v, -np.inf) for v in state["available_from"]], np.float64),
        np.array([epoch(v, np.inf) for v in state["available_until"]], np.float64),
    )
