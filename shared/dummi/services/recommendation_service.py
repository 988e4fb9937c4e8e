"""Serving recommendations: the published model (``model_holder``: loaded once, re-checked every few seconds),
the catalog as it is now (``live_catalog``: content newer than the model, take-downs, refreshed every second),
experiment variants, exploration's counts (``exploration_stats``), the result cache, and one Postgres round trip
per request for the user. ``RecommendationEngine`` composes them: it is what the routes and jobs talk to."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from dummi.artifacts.loader import ModelCache
from dummi.config import get_settings
from dummi.db.connection import get_database
from dummi.db.replica import get_read_database
from dummi.domain.ranking import ItemGate
from dummi.errors import NotFoundError
from dummi.ml.embeddings import from_bytes
from dummi.ml.interactions import DEFAULT_EVENT_TYPES, EventTypes
from dummi.ml.model_bundle import ModelBundle
from dummi.ml.recommender import (
    HybridRecommender,
    RankRequest,
    Recommendation,
    UserEvent,
    UserState,
    explore_slots,
)
from dummi.services.event_types_service import EventTypesCache
from dummi.services.experiment_variants import ExperimentVariants
from dummi.services.experiments_service import ExperimentCache
from dummi.services.exploration_stats import ExplorationStats
from dummi.services.live_catalog import CATALOG_REFRESH_SECONDS, FRESH_REFRESH_SECONDS, LiveCatalog
from dummi.services.model_holder import ModelHolder
from dummi.services.result_cache import ResultCache, answer_key, decode, encode, get_result_cache
from dummi.services.unit_of_work import Source, UnitOfWork, work_of


@dataclass(frozen=True)
class Served:
    recommendations: list[Recommendation]
    model_version: str | None
    needs_interests: bool = False  # a newcomer without interests: worth asking (GET .../suggested-interests)
    experiment: str | None = None  # the experiment and variant the user was served by (None: the default)
    variant: str | None = None


class RecommendationEngine:
    """Process-wide state of the recommendations function (kept across invocations): the model holder, the live
    catalog, the experiments' variants, exploration's counts and the result cache, over the primary ``db``.

    The catalog's refreshes and exploration's counts may come from a read replica (``reads``,
    dummi.db.replica); the user's own state never does (a like changes the very next answer)."""

    def __init__(
        self,
        db: Source | UnitOfWork,
        models: ModelCache[ModelBundle] | ModelHolder,
        fresh_refresh: float = FRESH_REFRESH_SECONDS,
        experiments: ExperimentCache | None = None,
        catalog_refresh: float = CATALOG_REFRESH_SECONDS,
        reads: Source | UnitOfWork | None = None,
        cache: ResultCache | None = None,
        *,
        catalog: LiveCatalog | None = None,
        exploration: ExplorationStats | None = None,
    ):
        self._db = db
        self._reads = reads
        self.cache = cache  # ranked answers in Redis/Valkey (dummi.services.result_cache), or None
        self.models = models if isinstance(models, ModelHolder) else ModelHolder(models)
        self.catalog = catalog or LiveCatalog(catalog_refresh, fresh_refresh)
        self.variants = ExperimentVariants(experiments or ExperimentCache(db, refresh=fresh_refresh))
        self.exploration = exploration or ExplorationStats()
        # the weights a user's events are folded in with, re-read as often as the catalog's changes
        self.event_types = EventTypesCache(catalog_refresh)

    def recommender(self, db: Source | UnitOfWork | None = None) -> tuple[HybridRecommender, str | None]:
        """The recommender for the current model and the catalog as it is now, and the model's version."""
        model = self.models.get()
        return self.catalog.recommender(model, work_of(self._reads or db or self._db)), model.version

    def is_deleted(self, content_id: str) -> bool:
        return self.catalog.is_deleted(content_id)

    def user_state(self, db: Source | UnitOfWork, user_id: str) -> UserState | None:
        """The user as ranking reads it (one round trip to the primary); None for an unknown user."""
        raw = work_of(db).read(lambda repos: repos.recommendations.user_state(user_id))
        return None if raw is None else self.state_of(db, user_id, raw)

    def state_of(self, db: Source | UnitOfWork, user_id: str, raw: dict) -> UserState:
        """A user's (or a session's) state from what a repository read, its events weighed by today's types."""
        return state_of(user_id, raw, self.event_types.get(self._reads or db))

    def recommend(
        self,
        db: Source | UnitOfWork,
        user_id: str,
        request: RankRequest,
        state: UserState | None = None,
        *,
        unknown_as_newcomer: bool = False,
        serve_variant: tuple[str, str] | None = None,
        earlier: tuple[str, int] | None = None,
    ) -> Served:
        """The user's list. ``state``: the state of an anonymous session as read by the caller (``user_id``
        naming it; a session takes part in no experiment, whose figures are per user); ``unknown_as_newcomer``:
        an unknown user gets a newcomer's list (else NotFoundError); ``serve_variant``: (experiment, variant) to
        serve with, whoever the user (else the user's assignment); ``earlier``: (lineage, page) of a page
        token, whose earlier pages' items the list leaves out (read with the user's state, in its round trip)."""
        recommender, version = self.recommender(db)
        anonymous = state is not None
        if state is None:
            raw = work_of(db).read(lambda repos: repos.recommendations.user_state(user_id, earlier=earlier))
            state = None if raw is None else self.state_of(db, user_id, raw)
            if raw is not None and earlier is not None:
                request = request.leaving_out(raw["shown"])
        if state is None:
            if not unknown_as_newcomer:
                raise NotFoundError("user", user_id, field="user_id")
            state = self.state_of(db, user_id, {"events": [], "seen": []})
        chosen = None if anonymous else self.variants.choose(user_id, recommender, request, serve_variant)
        experiment = variant = None
        if chosen is not None:
            recommender, request = chosen.recommender, chosen.request
            experiment, variant = chosen.experiment, chosen.variant
        key = recommendations = None
        # a caller's gate is not part of the key, and a promoted list is not cached
        if self.cache is not None and request.gate is None and request.promotion is None:
            key = answer_key(version, f"{experiment}/{variant}", request, state)
            found = self.cache.get(key)
            recommendations = _from_cache(recommender, found, request)
            self.cache.count(found, served=recommendations is not None)
        if recommendations is None:
            arms = None
            if explore_slots(request) > 0:
                arms = self.exploration.arms(work_of(self._reads or db), recommender)
            recommendations = recommender.recommend(state, request, arms)
            if key is not None:
                self.cache.set(key, encode(recommendations))
        return Served(recommendations, version, recommender.needs_interests(state), experiment, variant)

    def popular(self, db: Source | UnitOfWork, n: int, category: str | None, filters: tuple = ()) -> Served:
        recommender, version = self.recommender(db)
        return Served(recommender.popular(n, category, filters=filters), version)

    def similar(
        self, db: Source | UnitOfWork, content_id: str, n: int, filters: tuple = (), gate: ItemGate | None = None
    ) -> Served:
        """``gate``: a caller's own mask over the items (asked with no user)."""
        recommender, version = self.recommender(db)
        mask = gate(recommender.catalog, recommender.position, None) if gate is not None else None
        if content_id in recommender.position and not self.is_deleted(content_id):
            return Served(recommender.similar(content_id, n, filters=filters, gate=mask), version)
        found = work_of(db).read(lambda repos: repos.recommendations.content_vector(content_id))
        if found is None:
            raise NotFoundError("content", content_id, field="content_id")
        title, blob = found
        if blob is None:  # not embedded yet: nothing to compare with
            return Served([], version)
        return Served(recommender.similar(content_id, n, vector=from_bytes(blob), filters=filters, gate=mask), version)


def state_of(user_id: str, raw: dict, event_types: EventTypes = DEFAULT_EVENT_TYPES) -> UserState:
    """A user's (or a session's) state from what the repository read: interests, their vector, events."""
    embedding = raw.get("embedding")
    return UserState(
        user_id=user_id,
        interests=raw.get("interests", []),
        interests_vector=from_bytes(embedding) if embedding is not None else None,
        events=[
            UserEvent(cid, kind, etype, duration, datetime.fromisoformat(at))
            for cid, kind, etype, duration, at in raw["events"]
        ],
        seen=set(raw["seen"]),
        event_types=event_types,
    )


def _from_cache(recommender: HybridRecommender, found: bytes | None, request: RankRequest) -> list | None:
    """A cached answer as it may be served now, or None (a miss): every item still in the catalog, available
    at this moment and in the request's category and filters; titles and categories as they are now."""
    if found is None:
        return None
    catalog, now = recommender.catalog, time.time() if request.at is None else request.at
    matching = catalog.matching(request.filters) if request.filters else None
    out = []
    for content_id, score, method, reason, propensity, context in decode(found):
        pos = recommender.position.get(content_id)
        if pos is None or pos >= catalog.size or not catalog.is_available(pos, now):
            return None
        if request.category is not None and catalog.categories[pos] != request.category:
            return None
        if matching is not None and not matching[pos]:
            return None
        title, category = catalog.titles[pos], catalog.categories[pos]
        out.append(Recommendation(content_id, title, category, score, method, reason, propensity, context))
    return out


@lru_cache(maxsize=1)
def get_engine() -> RecommendationEngine:
    settings = get_settings()
    # new content shows up as soon as a newer model would: `make run` checks every 3 s, AWS every 5 s
    fresh_refresh = min(FRESH_REFRESH_SECONDS, float(settings.dummi_model_check_seconds))
    catalog_refresh = min(CATALOG_REFRESH_SECONDS, float(settings.dummi_model_check_seconds))
    return RecommendationEngine(
        get_database(),
        ModelHolder.from_settings(settings),
        fresh_refresh=fresh_refresh,
        catalog_refresh=catalog_refresh,
        reads=get_read_database(),
        cache=get_result_cache(),
    )
