"""The hybrid recommender: what serving and offline evaluation both run, one model and one catalog state
(numpy + FAISS, no torch). A thin facade over the ranking pipeline (``dummi.ml.ranking``).

Warm users (>= ``cold_threshold`` distinct items): collaborative-filtering scores from the user's
*current* interactions (folded in per request, recent ones weighted more), joined by what other users
engaged with next after the user's latest items (``dummi.ml.sequence``), and content-similarity scores
(a profile built from the embeddings of what the user engaged with, weighted by interaction type and
recency), each standardized over the candidates and blended by ``cf_weight``. Newcomers: training's
learned weights over popularity, co-likes, the CF fold-in and closeness to their items and interests,
their stated interests first. Skipped items' close neighbours are pushed down; seen items never come back.
Items published after the model was trained ("fresh") are candidates at once through their stored
embeddings. Ranking settings come with the model: training chooses them (``dummi.ml.choice``).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import numpy as np

from dummi.domain.ranking import Condition, Promotion, RankRequest, Recommendation
from dummi.ml.catalog import Catalog
from dummi.ml.cf import CFModel
from dummi.ml.model_bundle import ModelBundle
from dummi.ml.ranking import lists, promotions
from dummi.ml.ranking.calibration import DEFAULT_CALIBRATION, calibration
from dummi.ml.ranking.explain import explain
from dummi.ml.ranking.exploration import explore
from dummi.ml.ranking.items import INTEREST_MATCH_COSINE, ItemSpace, bundle_catalog
from dummi.ml.ranking.pipeline import Ranked, is_newcomer, rank, user_profile
from dummi.ml.ranking.profile import LIKE_WEIGHT, Profile
from dummi.ml.ranking.rerankers import MIN_MATCH_SHARE
from dummi.ml.ranking.scorers import MAX_SKIPPED, effective_cf_weight
from dummi.ml.ranking.settings import DEFAULT_SETTINGS, Settings
from dummi.ml.ranking.types import (
    ExploreArms,
    FreshItems,
    UserEvent,
    UserState,
    explore_slots,
)
from dummi.ml.relevance import best_first

__all__ = [
    "DEFAULT_CALIBRATION",
    "DEFAULT_SETTINGS",
    "INTEREST_MATCH_COSINE",
    "LIKE_WEIGHT",
    "MAX_SKIPPED",
    "MIN_MATCH_SHARE",
    "ExploreArms",
    "FreshItems",
    "HybridRecommender",
    "Promotion",
    "RankRequest",
    "Recommendation",
    "Settings",
    "UserEvent",
    "UserState",
    "bundle_catalog",
    "calibration",
    "effective_cf_weight",
    "explore_slots",
]


class HybridRecommender:
    def __init__(self, bundle: ModelBundle, fresh: FreshItems | None = None) -> None:
        self.bundle = bundle
        self.items = ItemSpace(bundle, fresh)
        self.settings = Settings.of({**DEFAULT_SETTINGS, **bundle.settings})

    # -- the item space ---------------------------------------------------------------------------------
    @property
    def ids(self) -> np.ndarray:
        return self.items.ids

    @property
    def position(self) -> dict[str, int]:
        return self.items.position

    @property
    def size(self) -> int:
        return self.items.size

    @property
    def n_model(self) -> int:
        return self.items.n_model

    @property
    def catalog(self) -> Catalog:
        return self.items.catalog

    @property
    def vectors(self):
        return self.items.vectors

    @property
    def popularity(self) -> np.ndarray:
        return self.items.popularity

    @property
    def titles(self) -> list[str]:
        return self.items.titles

    @property
    def categories(self) -> list[str]:
        return self.items.categories

    @property
    def tags(self) -> list[list[str]]:
        return self.items.tags

    def with_catalog(self, catalog: Catalog, overrides: dict[int, np.ndarray] | None = None) -> HybridRecommender:
        """This recommender over another state of the same items (take-downs, changed fields) and, for model
        items whose text changed since training, their new vectors; nothing of the catalog is copied."""
        other = copy.copy(self)
        other.items = self.items.with_catalog(catalog, overrides)
        return other

    def variant(self, settings: dict[str, Any], cf: CFModel | None) -> HybridRecommender:
        """This recommender with some ranking settings and the CF model replaced (an experiment's variant);
        everything else (items, vectors, maps) is shared, so a variant costs no copy of the catalog."""
        other = copy.copy(self)
        other.settings = self.settings.merged(settings)
        if cf is not self.bundle.cf:
            other.bundle = copy.copy(self.bundle)
            other.bundle.cf = cf
            other.items = copy.copy(self.items)
            other.items.bundle = other.bundle
        return other

    def allowed(self, request: RankRequest) -> np.ndarray | None:
        return self.items.allowed(request)

    def profile(self, user: UserState) -> Profile:
        return user_profile(self.items, self.settings, user)

    def needs_interests(self, user: UserState) -> bool:
        """A newcomer (fewer than ``cold_threshold`` distinct items) that stated no interests."""
        distinct = len({e.content_id for e in user.events})
        return not user.interests and distinct < self.settings.cold_threshold

    def is_newcomer(self, user: UserState) -> bool:
        return is_newcomer(self.settings, user, self.profile(user))

    # -- lists --------------------------------------------------------------------------------------------
    def rank(self, user: UserState, request: RankRequest) -> Ranked:
        return rank(self.items, self.settings, user, request)

    def recommend(
        self,
        user: UserState,
        request: RankRequest,
        arms: ExploreArms | None = None,
        rng: np.random.Generator | None = None,
    ) -> list[Recommendation]:
        """The list: ranked (and re-ranked), explained, then, with ``arms``, its exploration slots filled by
        Thompson sampling over young items that match the user (``dummi.ml.ranking.exploration``)."""
        ranked = self.rank(user, request)
        scored, calibration_ = ranked.scored, ranked.calibration

        def explained(positions) -> list[Recommendation]:
            return [
                explain(self.items, int(p), calibration_.score(scored.relevance[p]), scored, user, ranked.profile)
                for p in positions
            ]

        top = ranked.top
        k = promotions.slots(request.promotion, request.n)
        chosen = promotions.picks(scored.relevance, ranked.eligible.promoted, k)
        if len(chosen):  # the personal list gives up the promoted items and the last places
            top = top[~np.isin(top, chosen)][: max(0, request.n - len(chosen))]
        recs = explained(top)
        slots = explore_slots(request)
        if arms is not None and slots > 0:
            rng = rng or np.random.default_rng()
            shown = np.concatenate([top, chosen]) if len(chosen) else top
            recs = explore(self.items, recs, shown, scored, ranked.eligible, arms, slots, rng, calibration_)
        if not len(chosen):
            return recs
        promoted = promotions.mark(explained(chosen), request.promotion.name)
        return promotions.renumber_explored(promotions.place(recs, promoted, request.n))

    def ranked_ids(self, user: UserState, request: RankRequest) -> list[str]:
        """The ids ``recommend`` answers, in its order, without the explanations."""
        return [str(self.items.ids[p]) for p in self.rank(user, request).top]

    def standardised_relevance(self, user: UserState, k: int) -> tuple[str, np.ndarray, np.ndarray]:
        """(the mode, the user's best k positions by relevance, their relevance standardised as ``score``
        standardises it): what training fits the calibration on."""
        ranked = self.rank(user, RankRequest(n=k, diversity=0.0, explore_slots=0))
        relevance = ranked.scored.relevance
        top = best_first(ranked.top, relevance[ranked.top])
        return ranked.scored.mode, top, ranked.calibration.z(relevance[top])

    def similar(
        self,
        content_id: str,
        n: int,
        vector: np.ndarray | None = None,
        filters: Sequence[Condition] = (),
        at: float | None = None,
        gate: np.ndarray | None = None,
    ) -> list[Recommendation]:
        return lists.similar(self.items, self.settings, content_id, n, vector, filters, at, gate)

    def popular(
        self,
        n: int,
        category: str | None = None,
        exclude: Sequence[str] = (),
        filters: Sequence[Condition] = (),
        at: float | None = None,
    ) -> list[Recommendation]:
        return lists.popular(self.items, self.settings, n, category, exclude, filters, at)
