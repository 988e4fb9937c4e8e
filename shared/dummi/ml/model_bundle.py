"""What a model version holds, and its files. Training builds a ``ModelBundle``; the serving loader parses
the files back (numpy + faiss only: no torch, no scikit-learn)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dummi.ml.cf import CFModel, CooccurrenceModel, ItemItemModel, model_from_arrays
from dummi.ml.interests import label_index
from dummi.ml.vector_index import VectorIndex, from_npy, to_npy

INDEX_FILE = "index.faiss"
ITEMS_FILE = "items.json"
POPULARITY_FILE = "popularity.npy"
VECTORS_FILE = "vectors.npy"  # only beside an IVF-PQ index (the other kinds hold their vectors)
CF_PREFIX = "cf_"
COOC_PREFIX = "cooc_"
SEQ_PREFIX = "seq_"
ALT_PREFIX = "alt{}_"  # alternatives: alt1_, alt2_, ...
NEWCOMER_PREFIX = "new_"


@dataclass
class ModelBundle:
    item_ids: np.ndarray  # position -> content id (index, CF and popularity share these positions)
    titles: list[str]
    categories: list[str]
    index: VectorIndex
    popularity: np.ndarray  # (n_items,) in [0, 1]
    cf: CFModel | None  # None when there were no interactions to learn from
    settings: dict[str, Any] = field(default_factory=dict)  # ranking settings chosen on the holdout
    vectors: np.ndarray | None = field(default=None, repr=False)  # (n_items, 384); read from the index if None
    cooccurrence: CooccurrenceModel | None = None  # the newcomers' model
    sequence: ItemItemModel | None = None  # what users engage with next (dummi.ml.sequence)
    tags: list[list[str]] | None = None  # per item; None: no tags (models published before tags were kept)
    # other CF algorithms fitted on the same data, for experiments that name them (algorithm -> model)
    alternatives: dict[str, CFModel] = field(default_factory=dict)
    # per item, as training read it: {"properties": [...], "hidden": [...], "available_from": [ISO or None],
    # "available_until": [...]} (None: models published before items had them; nothing taken down)
    state: dict[str, list] | None = None
    # the CF model newcomers' learned relevance reads, where training chose one of their own (None: ``cf``)
    newcomer_cf: CFModel | None = None
    position: dict[str, int] = field(init=False, repr=False)
    _labels: dict[str, np.ndarray] | None = field(init=False, repr=False, default=None)
    _catalog: Any = field(init=False, repr=False, default=None)  # dummi.ml.recommender.bundle_catalog's

    def __post_init__(self) -> None:
        n = len(self.item_ids)
        if self.index.size != n or len(self.popularity) != n or len(self.titles) != n or len(self.categories) != n:
            raise ValueError("bundle parts disagree on the number of items")
        if self.cf is not None and len(self.cf.scores(np.empty(0, np.int64), np.empty(0, np.float32))) != n:
            raise ValueError("CF model does not match the items")
        for alternative in (*self.alternatives.values(), *([self.newcomer_cf] if self.newcomer_cf else [])):
            if len(alternative.scores(np.empty(0, np.int64), np.empty(0, np.float32))) != n:
                raise ValueError("CF model does not match the items")
        if self.sequence is not None and self.sequence.n_items != n:
            raise ValueError("sequence model does not match the items")
        if self.tags is None:
            self.tags = [[] for _ in range(n)]
        elif len(self.tags) != n:
            raise ValueError("bundle parts disagree on the number of items")
        if self.state is not None and any(len(v) != n for v in self.state.values()):
            raise ValueError("bundle parts disagree on the number of items")
        self.position = {cid: i for i, cid in enumerate(self.item_ids)}
        if self.vectors is None:
            self.vectors = self.index.stored_vectors()

    @property
    def size(self) -> int:
        return len(self.item_ids)

    def cf_for(self, algorithm: str | None) -> tuple[bool, CFModel | None]:
        """(available, model): the CF model of ``algorithm`` (None: the chosen one)."""
        if algorithm is None or (self.cf is not None and self.cf.algorithm == algorithm):
            return True, self.cf
        found = self.alternatives.get(algorithm)
        return found is not None, found

    def label_positions(self, key: str) -> np.ndarray:
        """Positions of the items whose category or one of whose tags is the label ``key``
        (``dummi.ml.interests.label``); the map is built on first use, once per model."""
        if self._labels is None:
            self._labels = {k: np.array(v, np.int64) for k, v in label_index(self.categories, self.tags).items()}
        return self._labels.get(key, np.empty(0, np.int64))

    def share_derived(self, other: ModelBundle) -> None:
        """Use ``other``'s label map and catalog state, derived from the same items (the holdout's trials
        differ in their models and settings only), instead of deriving them again."""
        self._labels, self._catalog = other._labels, other._catalog


def bundle_files(bundle: ModelBundle) -> tuple[dict[str, bytes], dict[str, Any]]:
    """(files, manifest facts) for publishing."""
    index_blob = bundle.index.serialize()
    items = {
        "ids": [str(i) for i in bundle.item_ids],
        "titles": bundle.titles,
        "categories": bundle.categories,
        "tags": bundle.tags,
        "index_kind": bundle.index.kind,
    }
    if bundle.state is not None:
        items["state"] = bundle.state
    if bundle.index.params:
        items["index_params"] = bundle.index.params
    files = {
        INDEX_FILE: index_blob,
        ITEMS_FILE: json.dumps(items).encode(),
        POPULARITY_FILE: to_npy(bundle.popularity.astype(np.float32)),
    }
    facts: dict[str, Any] = {"items": bundle.size, "index": bundle.index.kind, "cf": None, "settings": bundle.settings}
    if bundle.index.kind == "ivfpq":
        files[VECTORS_FILE] = to_npy(np.ascontiguousarray(bundle.vectors, dtype=np.float32))
        facts["index_params"] = bundle.index.params
    if bundle.cf is not None:
        arrays = bundle.cf.arrays()
        for name, array in arrays.items():
            files[f"{CF_PREFIX}{name}.npy"] = to_npy(array)
        facts["cf"] = {
            "algorithm": bundle.cf.algorithm,
            "kind": bundle.cf.kind,
            "arrays": sorted(arrays),
            "params": bundle.cf.params,
        }
    alternatives = []
    for k, (algorithm, model) in enumerate(sorted(bundle.alternatives.items()), start=1):
        arrays = model.arrays()
        prefix = ALT_PREFIX.format(k)
        for name, array in arrays.items():
            files[f"{prefix}{name}.npy"] = to_npy(array)
        alternatives.append(
            {
                "algorithm": algorithm,
                "kind": model.kind,
                "arrays": sorted(arrays),
                "params": model.params,
                "prefix": prefix,
            }
        )
    if alternatives:
        facts["alternatives"] = alternatives
    if bundle.newcomer_cf is not None:
        arrays = bundle.newcomer_cf.arrays()
        for name, array in arrays.items():
            files[f"{NEWCOMER_PREFIX}{name}.npy"] = to_npy(array)
        facts["newcomer_cf"] = {
            "algorithm": bundle.newcomer_cf.algorithm,
            "kind": bundle.newcomer_cf.kind,
            "arrays": sorted(arrays),
            "params": bundle.newcomer_cf.params,
        }
    if bundle.cooccurrence is not None:
        arrays = bundle.cooccurrence.arrays()
        for name, array in arrays.items():
            files[f"{COOC_PREFIX}{name}.npy"] = to_npy(array)
        facts["cooccurrence"] = {"prior_strength": bundle.cooccurrence.prior_strength, "arrays": sorted(arrays)}
    if bundle.sequence is not None:
        arrays = bundle.sequence.arrays()
        for name, array in arrays.items():
            files[f"{SEQ_PREFIX}{name}.npy"] = to_npy(array)
        facts["sequence"] = {"arrays": sorted(arrays), "params": bundle.sequence.params}
    return files, facts


def parse_bundle(manifest: dict[str, Any], files: dict[str, bytes]) -> ModelBundle:
    items = json.loads(files[ITEMS_FILE])
    index = VectorIndex.deserialize(
        files[INDEX_FILE],
        items["ids"],
        items["index_kind"],
        params=items.get("index_params"),
        vectors=from_npy(files[VECTORS_FILE]) if VECTORS_FILE in files else None,
    )
    cf = None
    model = manifest.get("model", {})
    cf_meta = model.get("cf")
    if cf_meta is not None:
        arrays = {name: from_npy(files[f"{CF_PREFIX}{name}.npy"]) for name in cf_meta["arrays"]}
        cf = model_from_arrays(cf_meta["algorithm"], cf_meta["kind"], arrays, cf_meta.get("params", {}))
    alternatives = {}
    for meta in model.get("alternatives", []):
        arrays = {name: from_npy(files[f"{meta['prefix']}{name}.npy"]) for name in meta["arrays"]}
        alternatives[meta["algorithm"]] = model_from_arrays(
            meta["algorithm"], meta["kind"], arrays, meta.get("params", {})
        )
    newcomer_cf = None
    meta = model.get("newcomer_cf")
    if meta is not None:
        arrays = {name: from_npy(files[f"{NEWCOMER_PREFIX}{name}.npy"]) for name in meta["arrays"]}
        newcomer_cf = model_from_arrays(meta["algorithm"], meta["kind"], arrays, meta.get("params", {}))
    cooccurrence = None
    co_meta = model.get("cooccurrence")
    if co_meta is not None:
        arrays = {name: from_npy(files[f"{COOC_PREFIX}{name}.npy"]) for name in co_meta["arrays"]}
        cooccurrence = CooccurrenceModel(
            arrays["indptr"], arrays["indices"], arrays["counts"], float(co_meta["prior_strength"])
        )
    sequence = None
    seq_meta = model.get("sequence")
    if seq_meta is not None:
        arrays = {name: from_npy(files[f"{SEQ_PREFIX}{name}.npy"]) for name in seq_meta["arrays"]}
        sequence = ItemItemModel(
            "transitions", arrays["indptr"], arrays["indices"], arrays["data"], seq_meta.get("params", {})
        )
    return ModelBundle(
        item_ids=index.ids,
        titles=list(items["titles"]),
        categories=list(items["categories"]),
        index=index,
        popularity=from_npy(files[POPULARITY_FILE]),
        cf=cf,
        settings=model.get("settings", {}),
        cooccurrence=cooccurrence,
        sequence=sequence,
        tags=items.get("tags"),
        alternatives=alternatives,
        state=items.get("state"),
        newcomer_cf=newcomer_cf,
    )
