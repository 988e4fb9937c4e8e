"""The item space a ranking runs over: the model's items (in index order) followed by the items newer than
the model, their ids, positions, vectors, current catalog state (take-downs, changed fields), popularity and
labels. Built once per model and catalog state; nothing of the catalog is copied per request."""

from __future__ import annotations

import copy
import time

import numpy as np

from dummi.domain.ranking import RankRequest
from dummi.ml.catalog import Catalog, ItemFacts, allowed_mask, epoch
from dummi.ml.interests import label, label_index
from dummi.ml.model_bundle import ModelBundle
from dummi.ml.ranking.types import FreshItems

# Cosine between an item's embedding and the embedded interests from which the item matches them (besides
# an equal category or tag): where precision reaches ~0.9 on both calibration catalogs (the ml-100k genres:
# 0.90 for one interest, 0.98 for the users' lists of three; the sample catalog's labels: 0.89 and 1.00);
# above it recall falls fast. tests/benchmarks/calibrate_interest_match.py prints the whole curve.
INTEREST_MATCH_COSINE = 0.45
# Items newer than the model have no engagement yet; for newcomers they count as popular as this quantile
# of the engaged model items, so a new item that matches a stated interest is among the first matches.
FRESH_POPULARITY_QUANTILE = 0.9


class Vectors:
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


class ItemSpace:
    """Positions 0..n_model-1 are the model's items, the rest the fresh ones (content newer than the model)."""

    def __init__(self, bundle: ModelBundle, fresh: FreshItems | None = None) -> None:
        self.bundle = bundle
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
        self.vectors = Vectors(bundle.vectors, fresh_vectors)
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

    def with_catalog(self, catalog: Catalog, overrides: dict[int, np.ndarray] | None = None) -> ItemSpace:
        """The same items in another state (take-downs, changed fields) and, for model items whose text
        changed since training, their new vectors; nothing of the catalog is copied."""
        if catalog.size != self.size:
            raise ValueError("the catalog does not match the recommender's items")
        other = copy.copy(self)
        other.catalog = catalog
        if overrides or self.vectors.overrides:
            other.vectors = Vectors(self.vectors.model, self.vectors.fresh, overrides)
        return other

    def allowed(self, request: RankRequest) -> np.ndarray | None:
        """Mask of the items the request may be answered with (None: all): not taken down at the request's
        time, meeting its filters, and in its category."""
        conditions = request.filters
        if request.category is not None:
            conditions = (*conditions, ("category", "in", (request.category,)))
        return allowed_mask(self.catalog, request.at if request.at is not None else time.time(), conditions)

    def shares(self) -> np.ndarray:
        """Each item's popularity share (strictly positive, summing to 1); items newer than the model count
        as popular as FRESH_POPULARITY_QUANTILE of the engaged ones."""
        shares = self.popularity.astype(np.float64) + 1e-4
        if self.size > self.n_model:
            if self._fresh_prior is None:
                engaged = self.popularity[: self.n_model][self.popularity[: self.n_model] > 0]
                self._fresh_prior = float(np.quantile(engaged, FRESH_POPULARITY_QUANTILE)) if len(engaged) else 0.0
            shares[self.n_model :] += self._fresh_prior
        return shares / shares.sum()

    def padded(self, model_scores: np.ndarray) -> np.ndarray:
        """Scores over the model's items extended with 0 for the items newer than it."""
        if self.size == self.n_model:
            return np.asarray(model_scores, np.float64)
        out = np.zeros(self.size)
        out[: self.n_model] = model_scores
        return out

    def matches(self, interests: list[str], closeness: np.ndarray | None) -> np.ndarray | None:
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
