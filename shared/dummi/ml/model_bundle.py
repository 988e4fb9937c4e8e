"""What a model version holds, and its files. Training builds a ``ModelBundle``; the serving loader parses
the files back (numpy + faiss only: no torch, no scikit-learn)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dummi.ml.collaborative import CFModel
from dummi.ml.vector_index import VectorIndex, from_npy, to_npy

INDEX_FILE = "index.faiss"
ITEMS_FILE = "items.json"
POPULARITY_FILE = "popularity.npy"
CF_FACTORS_FILE = "cf_item_factors.npy"
CF_PROJECTION_FILE = "cf_projection.npy"


@dataclass
class ModelBundle:
    item_ids: np.ndarray  # position -> content id (index, CF and popularity share these positions)
    titles: list[str]
    categories: list[str]
    index: VectorIndex
    popularity: np.ndarray  # (n_items,) in [0, 1]
    cf: CFModel | None  # None when there were no interactions to learn from
    position: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        n = len(self.item_ids)
        if self.index.size != n or len(self.popularity) != n or len(self.titles) != n or len(self.categories) != n:
            raise ValueError("bundle parts disagree on the number of items")
        if self.cf is not None and (self.cf.item_factors.shape[0] != n or self.cf.projection.shape[0] != n):
            raise ValueError("CF arrays do not match the items")
        self.position = {cid: i for i, cid in enumerate(self.item_ids)}

    @property
    def size(self) -> int:
        return len(self.item_ids)


def bundle_files(bundle: ModelBundle) -> tuple[dict[str, bytes], dict[str, Any]]:
    """(files, manifest facts) for publishing."""
    index_blob = bundle.index.serialize()
    items = {
        "ids": [str(i) for i in bundle.item_ids],
        "titles": bundle.titles,
        "categories": bundle.categories,
        "index_kind": bundle.index.kind,
    }
    files = {
        INDEX_FILE: index_blob,
        ITEMS_FILE: json.dumps(items).encode(),
        POPULARITY_FILE: to_npy(bundle.popularity.astype(np.float32)),
    }
    facts: dict[str, Any] = {"items": bundle.size, "index": bundle.index.kind, "cf": None}
    if bundle.cf is not None:
        files[CF_FACTORS_FILE] = to_npy(bundle.cf.item_factors.astype(np.float32))
        files[CF_PROJECTION_FILE] = to_npy(bundle.cf.projection.astype(np.float32))
        facts["cf"] = {"algorithm": bundle.cf.algorithm, "params": bundle.cf.params}
    return files, facts


def parse_bundle(manifest: dict[str, Any], files: dict[str, bytes]) -> ModelBundle:
    items = json.loads(files[ITEMS_FILE])
    index = VectorIndex.deserialize(files[INDEX_FILE], items["ids"], items["index_kind"])
    cf = None
    cf_meta = manifest.get("model", {}).get("cf")
    if cf_meta is not None:
        cf = CFModel(
            cf_meta["algorithm"],
            from_npy(files[CF_FACTORS_FILE]),
            from_npy(files[CF_PROJECTION_FILE]),
            cf_meta.get("params", {}),
        )
    return ModelBundle(
        item_ids=index.ids,
        titles=list(items["titles"]),
        categories=list(items["categories"]),
        index=index,
        popularity=from_npy(files[POPULARITY_FILE]),
        cf=cf,
    )
