"""Scorers: every candidate's relevance, one number on one scale, with what it is made of.

* ``score_warm``: a user with a profile. The CF side (CF joined by the next-item signal) and content
  similarity, each standardized over the pool, blended by the CF share at the request's ``cf_weight``;
  popular items and close neighbours of skipped items pushed down (``dummi.ml.relevance``): terms that
  apply to every candidate alike, before ``score`` is calibrated.
* ``score_cold``: a newcomer, over every item: training's learned weights over the newcomer features, or,
  for a model without them, popularity lifted by co-likes, interests, profile similarity and what came
  next (the hand-set boosts). Which items match a stated interest is worked out here too; how far matches
  move up the order is a re-ranker's business (``dummi.ml.ranking.rerankers``), never the score's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dummi.domain.ranking import RankRequest
from dummi.ml.ranking.eligibility import Eligibility
from dummi.ml.ranking.items import ItemSpace
from dummi.ml.ranking.profile import Profile
from dummi.ml.ranking.settings import Settings
from dummi.ml.ranking.sources import Signals, next_items, pool, signals
from dummi.ml.ranking.types import UserState
from dummi.ml.relevance import newcomer_relevance, skip_closeness, skip_push, standardised, warm_blend

# The skip push-down looks at the user's latest this many skipped items (its cost is candidates x skipped).
MAX_SKIPPED = 50
EPSILON = 1e-9


@dataclass
class Warm:
    """A warm user's scored pool: relevance per item (-inf outside the pool) and the blend's two sides."""

    relevance: np.ndarray
    pool: np.ndarray  # the candidates, ascending
    cf: np.ndarray | None  # the CF side's share of each pool item's relevance (None: no CF)
    content: np.ndarray | None  # the content side's (None: no content)
    signals: Signals
    mode: str = "warm"


@dataclass
class Cold:
    """A newcomer's relevance over every item, with what its explanations and re-rankers read."""

    relevance: np.ndarray
    colike: np.ndarray  # the co-likes' lift of each item
    own: np.ndarray  # what each item owes to its closeness to the few items engaged with
    following: np.ndarray | None  # what it owes to having followed them (model items), or None
    matched: np.ndarray | None  # the items that match a stated interest (None: no interests)
    closeness: np.ndarray | None  # each item's cosine to the embedded interests, or None
    mode: str = "cold"

    @property
    def nothing_matched(self) -> bool:
        return self.matched is not None and not self.matched.any()


def effective_cf_weight(cf_weight: float, cf_share: float) -> float:
    """The request's cf_weight on the calibrated scale: 0 is content only, 1 is CF only, and the default
    0.5 is the share training found best on its holdout (``cf_share``); linear on each side of 0.5."""
    if cf_weight <= 0.5:
        return 2 * cf_weight * cf_share
    return cf_share + (cf_weight - 0.5) * 2 * (1 - cf_share)


def score_warm(
    items: ItemSpace, settings: Settings, profile: Profile, request: RankRequest, eligible: Eligibility
) -> Warm:
    s = signals(items, settings, profile, request)
    candidates = pool(items, settings, s, eligible)
    z_cf = np.zeros(len(candidates))
    known = candidates < items.n_model
    if s.cf_all is not None:
        # items newer than the model have no CF signal yet: they count as average, not as "disliked"
        z_cf[known] = standardised(s.cf_all[candidates[known]])
    if s.content_all is not None:
        z_content = standardised(s.content_all[candidates])
    elif s.vector is not None:
        z_content = standardised(items.vectors[candidates] @ s.vector)
    else:
        z_content = np.zeros(len(candidates))
    w = 1.0  # one side alone: that side, whole
    if s.cf_all is not None and s.vector is not None:
        w = effective_cf_weight(float(request.cf_weight), settings.cf_share)
    elif s.cf_all is None:
        w = 0.0
    # popularity too: an item newer than the model is unknown, not unpopular (a penalty would lift it)
    z_popularity = np.zeros(len(candidates))
    z_popularity[known] = standardised(np.log(items.popularity[candidates[known]].astype(np.float64) + 1e-3))
    relevance = warm_blend(z_cf, z_content, z_popularity, w, settings.popularity_penalty)
    if len(profile.skipped) and settings.skip_penalty > 0 and len(candidates):
        closeness = skip_closeness(
            items.vectors[candidates], items.vectors[profile.skipped[:MAX_SKIPPED]], settings.skip_similarity
        )
        relevance = skip_push(relevance, closeness, np.ones(len(candidates), bool), settings.skip_penalty)
    scores = np.full(items.size, -np.inf)
    scores[candidates] = relevance
    return Warm(
        scores,
        candidates,
        w * z_cf if s.cf_all is not None else None,
        (1 - w) * z_content if s.vector is not None else None,
        s,
    )


def score_cold(items: ItemSpace, settings: Settings, user: UserState, profile: Profile, request: RankRequest) -> Cold:
    bundle = items.bundle
    shares = items.shares()
    # co-likes start from what the newcomer engaged with positively: "users who liked i also liked j" says
    # nothing for a user who skipped i
    model_items = profile.positions[profile.positions < items.n_model]
    colike = np.zeros(items.size)
    has_colike = request.use_cf and bundle.cooccurrence is not None and len(model_items) > 0
    if has_colike:
        colike[: items.n_model] = bundle.cooccurrence.lift(
            model_items, shares[: items.n_model], settings.prior_strength
        )
    # the co-occurrence model's score: popularity (once per item engaged with) lifted by those items' co-likes
    colike_score = len(model_items) * np.log(shares) + colike if has_colike else None
    closeness = None
    if request.use_embeddings and user.interests_vector is not None:
        closeness = items.vectors @ user.interests_vector.astype(np.float32)
    own = None
    if request.use_embeddings and len(profile.positions):
        vector = (profile.weights[:, None] * items.vectors[profile.positions]).sum(axis=0)
        own = items.vectors @ (vector / (np.linalg.norm(vector) + EPSILON))
    learned = settings.newcomer_weights
    if learned:
        features = newcomer_features(items, settings, profile, request, shares, colike_score)
        features.update(profile=own, interest=closeness)
        relevance = newcomer_relevance(features, learned, items.size)
        profile_weight = float(learned.get("profile", 0.0))
        following = None
        if features.get("next") is not None and learned.get("next", 0.0) > 0:  # for "often chosen after"
            following = float(learned["next"]) * standardised(features["next"][: items.n_model])
    else:
        profile_weight = settings.profile_boost
        relevance, following = _hand_set(items, settings, profile, request, shares, colike_score, own, closeness)
    return Cold(
        relevance,
        colike,
        profile_weight * standardised(own) if own is not None else np.zeros(items.size),
        following,
        items.matches(user.interests, closeness),
        closeness,
    )


def _hand_set(items, settings: Settings, profile, request, shares, colike_score, own, closeness):
    """(relevance, the next-item part) of the hand-set newcomer formula (a model trained before newcomers'
    weights were learned, or one whose learned weights did not beat a single source)."""
    base = colike_score if colike_score is not None else np.log(shares)
    interest = standardised(closeness) if closeness is not None else 0.0
    own_part = settings.profile_boost * standardised(own) if own is not None else 0.0
    relevance = base + settings.interest_boost * interest + own_part
    following = None
    if request.use_cf:
        in_model = profile.positions < items.n_model
        following = next_items(
            items, settings, profile.positions[in_model], profile.sessions[in_model], settings.sequence_boost
        )
        if following is not None:
            relevance[: items.n_model] += following
    return relevance, following


def newcomer_features(items: ItemSpace, settings: Settings, profile: Profile, request, shares, colike) -> dict:
    """The newcomer features that come from the user's few items (``dummi.ml.relevance``); profile and
    interest closeness are the caller's."""
    features: dict = {"popularity": np.log(shares), "colike": colike}
    in_model = profile.positions < items.n_model
    model_items, weights = profile.positions[in_model], profile.weights[in_model]
    cf = items.bundle.newcomer_cf or items.bundle.cf  # the newcomers' own CF model, where training ships one
    if request.use_cf and cf is not None and len(model_items):
        features["cf"] = items.padded(cf.scores(model_items, weights))
        if cf.kind == "blend":
            features["cf_first"] = items.padded(cf.first.scores(model_items, weights))
            features["cf_second"] = items.padded(cf.second.scores(model_items, weights))
    sequence = items.bundle.sequence
    if request.use_cf and sequence is not None and len(model_items):
        half_life = settings.sequence_half_life
        sessions = profile.sessions[in_model]
        recency = (0.5 ** (sessions / half_life) if half_life > 0 else np.ones(len(model_items))).astype(np.float32)
        features["next"] = items.padded(sequence.scores(model_items, recency))
    return features
