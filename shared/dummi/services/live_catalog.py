"""The recommender for the model in service and the catalog as it is now: content newer than the model,
take-downs, changed fields and vectors (``dummi.services.catalog_view``), re-read every ``catalog_refresh``
seconds and rebuilt only when something changed."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import numpy as np

from dummi.ml.model_bundle import ModelBundle
from dummi.ml.recommender import HybridRecommender
from dummi.ml.vector_index import build_index
from dummi.services.catalog_view import CatalogView
from dummi.services.model_holder import ServingModel
from dummi.services.unit_of_work import UnitOfWork

FRESH_REFRESH_SECONDS = 5.0
# Catalog changes (new content, take-downs, changed fields and vectors) are re-read this often: a hidden,
# expired or deleted item leaves every warm process's answers within this plus one request (promise: 5 s).
CATALOG_REFRESH_SECONDS = 1.0


def empty_bundle() -> ModelBundle:
    """What serves before training first publishes: no items of its own (content newer than it joins)."""
    index = build_index([], np.empty((0, 384), np.float32), kind="flat")
    return ModelBundle(np.array([], dtype=object), [], [], index, np.zeros(0, np.float32), None)


class LiveCatalog:
    """The serving recommender of one process, kept up to date with the model and the catalog's changes."""

    def __init__(
        self,
        catalog_refresh: float = CATALOG_REFRESH_SECONDS,
        fresh_refresh: float = FRESH_REFRESH_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._catalog_refresh = catalog_refresh
        self._fresh_refresh = fresh_refresh
        self._clock = clock
        self._lock = threading.Lock()
        self._view = CatalogView()
        self._version: str | None = "unset"  # the model version the recommender is built on
        self._checked: float | None = None  # when the catalog's changes were last read
        self._recommender: HybridRecommender | None = None
        # the recommender over the model's items and the fresh ones, before take-downs and changed fields
        self._base: HybridRecommender | None = None
        self._base_key: tuple | None = None
        self._base_built: float | None = None

    def recommender(self, model: ServingModel, work: UnitOfWork) -> HybridRecommender:
        """The recommender for ``model`` and the catalog as ``work`` reads it, re-read when a new model came in
        or ``catalog_refresh`` seconds have passed."""

        def stale() -> bool:
            return (
                self._recommender is None
                or model.version != self._version
                or self._checked is None
                or self._clock() - self._checked >= self._catalog_refresh
            )

        if stale():
            with self._lock:  # one thread reads the changes; the others wait for it, then find them read
                if stale():
                    self._refresh(work, model)
                    self._checked = self._clock()
        return self._recommender

    def is_deleted(self, content_id: str) -> bool:
        """Whether the item was deleted since the model's catalog read."""
        return self._view.is_deleted(content_id)

    def _refresh(self, work: UnitOfWork, model: ServingModel) -> None:
        bundle = model.bundle
        new_model = model.version != self._version
        if new_model:
            positions = bundle.position if bundle is not None else {}
            self._view = CatalogView(positions, model.items_xmin, previous=self._view)
        view = self._view
        changed = work.read(lambda repos: view.read(repos.content))
        key = (model.version, view.fresh_stamp)
        # New items join every fresh_refresh seconds (a rebuild over the catalog); take-downs and changed
        # fields of the items held apply at every read, into a copy of the current catalog.
        due = self._base_built is None or self._clock() - self._base_built >= self._fresh_refresh
        if not changed and self._recommender is not None and not new_model and (key == self._base_key or not due):
            return  # nothing new, and no new items due to join yet
        taken = view.take_changed()
        if self._base is None or self._recommender is None or new_model or (key != self._base_key and due):
            self._base, self._base_key = HybridRecommender(bundle or empty_bundle(), view.fresh_items()), key
            self._base_built = self._clock()
            catalog = self._base.catalog.with_facts(view.facts_on(self._base.position))
        else:  # the same items: only what changed since the last refresh is written into the catalog
            catalog = self._recommender.catalog.with_facts(view.facts_on(self._base.position, taken))
        self._recommender = self._base.with_catalog(catalog, view.overrides())
        self._version = model.version
