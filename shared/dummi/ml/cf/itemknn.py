"""``itemknn``: item-kNN, cosine similarity of items over the weighted matrix."""

from __future__ import annotations

from typing import Any

import numpy as np

from dummi.ml.cf.ease import EASE_MAX_ITEMS, EASE_NEIGHBOURS
from dummi.ml.cf.models import ItemItemModel
from dummi.ml.cf.neighbours import top_per_row


class ItemKNNAlgorithm:
    """Item-kNN: cosine similarity of items over the weighted matrix, strongest neighbours kept."""

    name = "itemknn"

    def __init__(self, neighbours: int = EASE_NEIGHBOURS, **_: Any) -> None:
        self.neighbours = neighbours

    def fit(self, matrix: Any) -> ItemItemModel:
        n_items = matrix.shape[1]
        if n_items > EASE_MAX_ITEMS:
            raise ValueError(f"item-kNN keeps a dense {n_items}^2 similarity; offered up to {EASE_MAX_ITEMS} items")
        norms = (np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=0)).ravel()) + 1e-9).astype(np.float32)
        sim = (matrix.T @ matrix).toarray().astype(np.float32, copy=False)  # float32 and in place: 4 x less memory
        sim /= norms[:, None]
        sim /= norms[None, :]
        np.fill_diagonal(sim, 0.0)
        indptr, indices, data = top_per_row(sim, self.neighbours)
        return ItemItemModel(self.name, indptr, indices, data, {"neighbours": int(indptr[1] - indptr[0])})
