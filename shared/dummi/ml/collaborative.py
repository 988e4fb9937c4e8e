"""Collaborative filtering, pluggable: each algorithm turns the weighted user x item matrix into two
item-side arrays that serving needs, whatever the algorithm:

    user vector  w = max(0, x @ projection)      (fold-in: x is the user's current weighted row)
    item scores  s = w @ item_factors.T

so a user is scored from its *current* interactions (no retrain needed for new events), and serving does
not care which algorithm produced the arrays. ``ALGORITHMS`` names them; the training manifest records the
choice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

logger = logging.getLogger(__name__)


@dataclass
class CFModel:
    algorithm: str
    item_factors: np.ndarray  # (n_items, k)
    projection: np.ndarray  # (n_items, k): maps a user's row to its factors
    params: dict[str, Any] = field(default_factory=dict)

    def user_factors(self, row: np.ndarray) -> np.ndarray:
        """Factors of one user (or several) from dense weighted row(s) over the items."""
        return np.maximum(np.asarray(row, dtype=np.float32) @ self.projection, 0.0)

    def scores(self, row: np.ndarray) -> np.ndarray:
        return self.user_factors(row) @ self.item_factors.T


class CFAlgorithm(Protocol):
    name: str

    def fit(self, matrix: Any) -> CFModel: ...


def _ridge_projection(item_factors: np.ndarray, reg: float) -> np.ndarray:
    """Least-squares fold-in: w = x H^T (H H^T + reg I)^-1, with H = item_factors.T (k x n_items)."""
    k = item_factors.shape[1]
    gram = item_factors.T @ item_factors + reg * np.eye(k, dtype=np.float64)
    return (item_factors @ np.linalg.inv(gram)).astype(np.float32)


class NMFAlgorithm:
    """The seed's CF: scikit-learn NMF with 50 latent factors on the weighted matrix."""

    name = "nmf"

    def __init__(
        self,
        n_components: int = 50,
        max_iter: int = 200,
        alpha_w: float = 0.0,
        alpha_h: float | str = "same",
        l1_ratio: float = 0.0,
        fold_in_reg: float = 0.1,
        random_state: int = 0,
    ) -> None:
        self.n_components = n_components
        self.max_iter = max_iter
        self.alpha_w = alpha_w
        self.alpha_h = alpha_h
        self.l1_ratio = l1_ratio
        self.fold_in_reg = fold_in_reg
        self.random_state = random_state

    def fit(self, matrix: Any) -> CFModel:
        import warnings

        from sklearn.decomposition import NMF
        from sklearn.exceptions import ConvergenceWarning

        n_users, n_items = matrix.shape
        # NMF cannot have more components than the smaller side of the matrix.
        k = max(1, min(self.n_components, n_users, n_items))
        model = NMF(
            n_components=k,
            init="nndsvda",
            solver="cd",
            max_iter=self.max_iter,
            alpha_W=self.alpha_w,
            alpha_H=self.alpha_h,
            l1_ratio=self.l1_ratio,
            random_state=self.random_state,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(matrix)
        item_factors = model.components_.T.astype(np.float32)  # (n_items, k)
        params = {
            "n_components": k,
            "max_iter": self.max_iter,
            "iterations_run": int(model.n_iter_),
            "reconstruction_err": float(model.reconstruction_err_),
            "alpha_W": self.alpha_w,
            "alpha_H": self.alpha_h,
            "fold_in_reg": self.fold_in_reg,
        }
        return CFModel(self.name, item_factors, _ridge_projection(item_factors, self.fold_in_reg), params)


ALGORITHMS: dict[str, type] = {"nmf": NMFAlgorithm}


def make_algorithm(name: str, **params: Any) -> CFAlgorithm:
    try:
        return ALGORITHMS[name](**params)
    except KeyError:
        raise ValueError(f"unknown CF algorithm {name!r}; known: {sorted(ALGORITHMS)}") from None
