"""Serving recommendations: the published model (loaded once, re-checked every few seconds), content newer
than the model (refreshed every few seconds), and one Postgres round trip per request for the user."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

import numpy as np

from dummi.artifacts.loader import ModelCache
from dummi.db.connection import Database
from dummi.db.recommendations_repository import RecommendationsRepository
from dummi.errors import NotFoundError
from dummi.experiments.overrides import Overrides
from dummi.ml.embeddings import from_bytes
from dummi.ml.explore import YOUNG_DAYS, YOUNG_IMPRESSIONS
from dummi.ml.model_bundle import ModelBundle, parse_bundle
from dummi.ml.recommender import (
    ExploreArms,
    HybridRecommender,
    RankRequest,
    Recommendation,
    UserEvent,
    UserState,
    explore_slots,
)
from dummi.ml.vector_index import build_index
from dummi.services.catalog_view import CatalogView
from dummi.services.experiments_service import ExperimentCache
from dummi.services.result_cache import ResultCache, answer_key, decode, encode

FRESH_REFRESH_SECONDS = 5.0
# Catalog changes (new content, take-downs, changed fields and vectors) are re-read this often: a hidden,
# expired or deleted item leaves every warm process's answers within this plus one request (promise: 5 s).
CATALOG_REFRESH_SECONDS = 1.0
# How often the per-item counts exploration learns from are re-read (the metrics job rebuilds them).
ARMS_REFRESH_SECONDS = 60.0
# The prior's centre when little has been shown yet: the global CTR, shrunk toward this with this weight.
PRIOR_CTR, PRIOR_IMPRESSIONS = 0.05, 1000.0


@dataclass(frozen=True)
class Served:
    recommendations: list[Recommendation]
    model_version: str | None
    needs_interests: bool = False  # a newcomer without interests: worth asking (GET .../suggested-interests)
    experiment: str | None = None  # the experiment and variant the user was served by (None: the default)
    variant: str | None = None


def _empty_bundle() -> ModelBundle:
    index = build_index([], np.empty((0, 384), np.float32), kind="flat")
    return ModelBundle(np.array([], dtype=object), [], [], index, np.zeros(0, np.float32), None)


class RecommendationEngine:
    """Process-wide state of the recommendations function (kept across invocations)."""

    def __init__(
        self,
        db: Database,
        models: ModelCache[ModelBundle],
        fresh_refresh: float = FRESH_REFRESH_SECONDS,
        experiments: ExperimentCache | None = None,
        catalog_refresh: float = CATALOG_REFRESH_SECONDS,
        reads: Database | None = None,
        cache: ResultCache | None = None,
    ):
        self._db = db
        # The catalog's refreshes and exploration's counts may come from a read replica (dummi.db.replica); the
        # user's own state never does (a like changes the very next answer).
        self._reads = reads
        self.cache = cache  # ranked answers in Redis/Valkey (dummi.services.result_cache), or None
        self._models = models
        self._experiments = experiments or ExperimentCache(db, refresh=fresh_refresh)
        self._variants: dict[tuple[str, str], tuple[HybridRecommender, HybridRecommender]] = {}
        self._arms: tuple[HybridRecommender, ExploreArms] | None = None
        self._arms_rows: tuple[list, list] | None = None
        self._arms_checked: float | None = None
        self._catalog_refresh = catalog_refresh
        self._fresh_refresh = fresh_refresh
        self._base_built = 0.0
        self._lock = threading.Lock()
        self._recommender: HybridRecommender | None = None
        self._view = CatalogView()
        self._checked: float | None = None
        self._version: str | None = "unset"
        self._base: HybridRecommender | None = None
        self._base_key: tuple | None = None

    def recommender(self, db: Database | None = None) -> tuple[HybridRecommender, str | None]:
        """The recommender for the current model and the catalog as it is now: content newer than the model,
        take-downs, changed fields and vectors (re-read every ``catalog_refresh`` seconds, rebuilt only when
        something changed)."""
        loaded = self._models.get()
        version = loaded.version if loaded else None

        def stale() -> bool:
            return (
                self._recommender is None
                or version != self._version
                or self._checked is None
                or time.monotonic() - self._checked >= self._catalog_refresh
            )

        if stale():
            with self._lock:  # one thread reads the changes; the others wait for it, then find them read
                if stale():
                    self._refresh(self._reads or db or self._db, loaded, version)
                    self._checked = time.monotonic()
        return self._recommender, version

    def is_deleted(self, content_id: str) -> bool:
        return self._view.is_deleted(content_id)

    def _refresh(self, db: Database, loaded, version: str | None) -> None:
        bundle: ModelBundle | None = loaded.model if loaded else None
        new_model = version != self._version
        if new_model:
            xmin = loaded.manifest.get("items_xmin") if loaded is not None else None
            self._view = CatalogView(bundle.position if bundle is not None else {}, xmin, previous=self._view)
        view = self._view
        changed = db.read(view.read)
        key = (version, view.fresh_stamp)
        # New items join every fresh_refresh seconds (a rebuild over the catalog); take-downs and changed
        # fields of the items held apply at every read, into a copy of the current catalog.
        due = time.monotonic() - self._base_built >= self._fresh_refresh
        if not changed and self._recommender is not None and not new_model and (key == self._base_key or not due):
            return  # nothing new, and no new items due to join yet
        taken = view.take_changed()
        if self._base is None or self._recommender is None or new_model or (key != self._base_key and due):
            self._base, self._base_key = HybridRecommender(bundle or _empty_bundle(), view.fresh_items()), key
            self._base_built = time.monotonic()
            catalog = self._base.catalog.with_facts(view.facts_on(self._base.position))
        else:  # the same items: only what changed since the last refresh is written into the catalog
            catalog = self._recommender.catalog.with_facts(view.facts_on(self._base.position, taken))
        self._recommender = self._base.with_catalog(catalog, view.overrides())
        self._version = version

    def recommend(self, db: Database, user_id: str, request: RankRequest, state: UserState | None = None) -> Served:
        """The user's list; with ``state``, the list of that state as read by the caller (an anonymous
        session's, ``user_id`` naming it: a session takes part in no experiment, whose figures are per user)."""
        recommender, version = self.recommender(db)
        anonymous = state is not None
        if state is None:
            raw = db.read(lambda conn: RecommendationsRepository(conn).user_state(user_id))
            if raw is None:
                raise NotFoundError("user", user_id, field="user_id")
            state = state_of(user_id, raw)
        experiment = variant = None
        found = None if anonymous else self._experiments.assignment(user_id)
        if found is not None:
            assignment, overrides = found
            chosen = self._variant(recommender, assignment.experiment, assignment.variant.name, overrides)
            if chosen is not None:  # None: the model lacks the variant's algorithm (the next training adds it)
                recommender, request = chosen, overrides.apply(request)
                experiment, variant = assignment.experiment, assignment.variant.name
        key = recommendations = None
        if self.cache is not None and request.promotion is None:  # a promoted list is not cached
            key = answer_key(version, f"{experiment}/{variant}", request, state)
            found = self.cache.get(key)
            recommendations = _from_cache(recommender, found, request)
            self.cache.count(found, served=recommendations is not None)
        if recommendations is None:
            arms = self._explore_arms(self._reads or db, recommender) if explore_slots(request) > 0 else None
            recommendations = recommender.recommend(state, request, arms)
            if key is not None:
                self.cache.set(key, encode(recommendations))
        return Served(recommendations, version, recommender.needs_interests(state), experiment, variant)

    def _explore_arms(self, db: Database, recommender: HybridRecommender) -> ExploreArms:
        """Young items and their counts on this recommender's positions; the counts are re-read at most every
        ARMS_REFRESH_SECONDS, the arrays rebuilt when they or the recommender change."""
        now = time.monotonic()
        if self._arms_checked is None or now - self._arms_checked >= ARMS_REFRESH_SECONDS:
            rows = db.read(lambda conn: RecommendationsRepository(conn).exploration_stats(YOUNG_DAYS))
            self._arms_checked = now
            if rows != self._arms_rows:
                self._arms_rows, self._arms = rows, None
        cached = self._arms
        if cached is not None and cached[0].ids is recommender.ids:  # the same items (a take-down changes none)
            return cached[1]
        shown, young_by_age = self._arms_rows
        impressions = np.zeros(recommender.size)
        clicks = np.zeros(recommender.size)
        for cid, n, c in shown:
            pos = recommender.position.get(cid)
            if pos is not None:
                impressions[pos], clicks[pos] = n, c
        young = impressions < YOUNG_IMPRESSIONS
        for cid in young_by_age:
            pos = recommender.position.get(cid)
            if pos is not None:
                young[pos] = True
        total_shown, total_clicks = float(impressions.sum()), float(clicks.sum())
        global_ctr = (total_clicks + PRIOR_CTR * PRIOR_IMPRESSIONS) / (total_shown + PRIOR_IMPRESSIONS)
        arms = ExploreArms(young, impressions, clicks, global_ctr)
        self._arms = (recommender, arms)
        return arms

    def _variant(self, base: HybridRecommender, experiment: str, variant: str, overrides: Overrides):
        """The recommender of one experiment variant for the current model (built once per model), or None
        when the model lacks a CF algorithm one of the experiment's variants names: then nobody in that
        experiment gets a variant, so that its arms stay comparable (the next training publishes it)."""
        for e in self._experiments.experiments():
            if e.name == experiment and any(
                not base.bundle.cf_for(v.overrides.get("algorithm"))[0] for v in e.variants
            ):
                return None
        if not overrides.changes_model:
            return base
        built_on, found = self._variants.get((experiment, variant), (None, None))
        if built_on is not base:  # none yet, or built for an earlier model
            found = base.variant(overrides.settings, base.bundle.cf_for(overrides.algorithm)[1])
            self._variants[(experiment, variant)] = (base, found)
        return found

    def popular(self, db: Database, n: int, category: str | None, filters: tuple = ()) -> Served:
        recommender, version = self.recommender(db)
        return Served(recommender.popular(n, category, filters=filters), version)

    def similar(self, db: Database, content_id: str, n: int, filters: tuple = ()) -> Served:
        recommender, version = self.recommender(db)
        if content_id in recommender.position and not self.is_deleted(content_id):
            return Served(recommender.similar(content_id, n, filters=filters), version)
        found = db.read(lambda conn: RecommendationsRepository(conn).content_vector(content_id))
        if found is None:
            raise NotFoundError("content", content_id, field="content_id")
        title, blob = found
        if blob is None:  # not embedded yet: nothing to compare with
            return Served([], version)
        return Served(recommender.similar(content_id, n, vector=from_bytes(blob), filters=filters), version)


def state_of(user_id: str, raw: dict) -> UserState:
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
    from dummi.artifacts.store import get_artifact_store
    from dummi.config import get_settings
    from dummi.db.connection import get_database
    from dummi.db.replica import get_read_database
    from dummi.services.result_cache import get_result_cache

    settings = get_settings()
    models = ModelCache(get_artifact_store, parse_bundle, check_interval=settings.dummi_model_check_seconds)
    # new content shows up as soon as a newer model would: `make run` checks every 3 s, AWS every 5 s
    fresh_refresh = min(FRESH_REFRESH_SECONDS, float(settings.dummi_model_check_seconds))
    catalog_refresh = min(CATALOG_REFRESH_SECONDS, float(settings.dummi_model_check_seconds))
    return RecommendationEngine(
        get_database(),
        models,
        fresh_refresh=fresh_refresh,
        catalog_refresh=catalog_refresh,
        reads=get_read_database(),
        cache=get_result_cache(),
    )
