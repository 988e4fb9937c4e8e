"""``ease+itemknn``: EASE and item-kNN err in different ways; their standardized scores, item-kNN weighted."""

from __future__ import annotations

from typing import Any

from dummi.ml.cf.ease import EASEAlgorithm
from dummi.ml.cf.itemknn import ItemKNNAlgorithm
from dummi.ml.cf.models import BlendModel, ItemItemModel


class EASEKNNAlgorithm:
    """EASE blended with item-kNN (standardized scores, item-kNN weighted)."""

    name = "ease+itemknn"

    def __init__(self, l2: float = 250.0, weight: float = 1.0, **_: Any) -> None:
        self.l2 = l2
        self.weight = weight

    def fit(self, matrix: Any) -> BlendModel:
        return self.combine(EASEAlgorithm(l2=self.l2).fit(matrix), ItemKNNAlgorithm().fit(matrix))

    def combine(self, first: ItemItemModel, second: ItemItemModel) -> BlendModel:
        params = {
            "weight": self.weight,
            "first": {"algorithm": first.algorithm, "kind": first.kind, "params": first.params},
            "second": {"algorithm": second.algorithm, "kind": second.kind, "params": second.params},
        }
        return BlendModel(self.name, first, second, self.weight, params)
