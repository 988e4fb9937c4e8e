"""The algorithms by name (what training chooses among and ``DUMMI_CF_ALGORITHM`` pins), and the fitter that
fits configurations on one matrix sharing what they have in common."""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from dummi.ml.cf.als import ALSAlgorithm
from dummi.ml.cf.blend import EASEKNNAlgorithm
from dummi.ml.cf.ease import EASEAlgorithm, gram_matrix
from dummi.ml.cf.itemknn import ItemKNNAlgorithm
from dummi.ml.cf.models import CFModel
from dummi.ml.cf.nmf import NMFAlgorithm


class CFAlgorithm(Protocol):
    name: str

    def fit(self, matrix: Any) -> CFModel: ...


ALGORITHMS: dict[str, type] = {
    "nmf": NMFAlgorithm,
    "als": ALSAlgorithm,
    "ease": EASEAlgorithm,
    "itemknn": ItemKNNAlgorithm,
    "ease+itemknn": EASEKNNAlgorithm,
}


def make_algorithm(name: str, **params: Any) -> CFAlgorithm:
    try:
        cls = ALGORITHMS[name]
    except KeyError:
        raise ValueError(f"unknown CF algorithm {name!r}; known: {sorted(ALGORITHMS)}") from None
    return cls(**params)


class Fitter:
    """Fits configurations (``{"algorithm": name, **options}``) on one matrix, sharing what they have in
    common: EASE's Gram matrix across every l2, and a blend's members (an EASE + item-kNN blend reuses the
    EASE and item-kNN fits of the same matrix). Each configuration is fitted once."""

    def __init__(self, matrix: Any) -> None:
        self.matrix = matrix
        self._models: dict[str, CFModel] = {}
        self._gram: np.ndarray | None = None

    def fit(self, config: dict[str, Any]) -> CFModel:
        key = repr(sorted(config.items()))
        if key not in self._models:
            name = config["algorithm"]
            options = {k: v for k, v in config.items() if k != "algorithm"}
            algorithm = make_algorithm(name, **options)
            if isinstance(algorithm, EASEAlgorithm) and algorithm.binary:
                if self._gram is None:
                    self._gram = gram_matrix(self.matrix, binary=True)
                model = algorithm.fit_gram(self._gram)
            elif isinstance(algorithm, EASEKNNAlgorithm):
                model = algorithm.combine(
                    self.fit({"algorithm": "ease", "l2": algorithm.l2}), self.fit({"algorithm": "itemknn"})
                )
            else:
                model = algorithm.fit(self.matrix)
            self._models[key] = model
        return self._models[key]
