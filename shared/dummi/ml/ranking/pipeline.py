"""One ranking, as declared steps: the user's profile -> the eligibility mask (built once) -> the scorer
(warm: candidate sources, then the blend; newcomers: every item) -> the calibration (each item's score,
fixed) -> the re-rankers (interest first and its quota, MMR diversity, a category cap), which only choose
and order. Explanations and exploration slots come after, in ``dummi.ml.recommender``."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dummi.domain.ranking import RankRequest
from dummi.ml.ranking.calibration import Calibration
from dummi.ml.ranking.eligibility import Eligibility
from dummi.ml.ranking.items import ItemSpace
from dummi.ml.ranking.profile import Profile, profile_of
from dummi.ml.ranking.rerankers import ordering, rerank
from dummi.ml.ranking.scorers import Cold, Warm, score_cold, score_warm
from dummi.ml.ranking.settings import Settings
from dummi.ml.ranking.types import UserState


@dataclass
class Ranked:
    top: np.ndarray  # the list's positions, in the order shown
    scored: Warm | Cold  # every candidate's relevance and what it is made of
    calibration: Calibration  # each item's score: calibration.score(scored.relevance[pos])
    profile: Profile
    eligible: Eligibility


def user_profile(items: ItemSpace, settings: Settings, user: UserState) -> Profile:
    """Items with a positive total, most recent first, weighted by type and recency (built once per model
    and weighting: training's trials ask again and again)."""
    key = (id(items.bundle.item_ids), items.size, settings.recency_half_life, settings.event_weighting)
    return profile_of(user, items.position, key, settings.recency_half_life, settings.event_weighting)


def is_newcomer(settings: Settings, user: UserState, profile: Profile) -> bool:
    """Fewer than ``cold_threshold`` distinct items, or none the user engaged with positively."""
    return len({e.content_id for e in user.events}) < settings.cold_threshold or len(profile.positions) == 0


def rank(items: ItemSpace, settings: Settings, user: UserState, request: RankRequest) -> Ranked:
    profile = user_profile(items, settings, user)
    eligible = Eligibility.of(items, user, request)
    matched = None
    if is_newcomer(settings, user, profile):
        scored: Warm | Cold = score_cold(items, settings, user, profile, request)
        matched, default = scored.matched, settings.newcomer_diversity
    else:
        scored = score_warm(items, settings, profile, request, eligible)
        default = settings.diversity
    calibration = Calibration.of(settings, scored.mode, scored.relevance)
    key = ordering(scored.relevance, eligible.mask(items.size), matched, settings.match_boost)
    diversity = float(default if request.diversity is None else request.diversity)
    top = rerank(items, key, request.n, diversity, request.max_per_category, matched)
    return Ranked(top, scored, calibration, profile, eligible)
