"""``nmf`` (the original model): scikit-learn NMF; a user is folded in by least squares onto the item factors,
``w = max(0, x P)``, and scored ``s = w H^T``."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from dummi.ml.cf.models import FactorModel


def ridge_projection(item_factors: np.ndarray, reg: float) -> np.ndarray:
    """Least-squares fold-in: w = x H^T (H H^T + reg I)^-1, with H = item_factors.T (k x n_items)."""
    k = item_factors.shape[1]
    gram = item_factors.T.astype(np.float64) @ item_factors + reg * np.eye(k)
    return (item_factors @ np.linalg.inv(gram)).astype(np.float32)


class NMFAlgorithm:
    """The original CF: scikit-learn NMF with 50 latent factors on the weighted matrix."""

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

    def fit(self, matrix: Any) -> FactorModel:
        # scikit-learn: training only; the serving layer ships numpy and FAISS, not scikit-learn
        from sklearn.decomposition import NMF
        from sklearn.exceptions import ConvergenceWarning

        n_users, n_items = matrix.shape
        k = max(1, min(self.n_components, n_users, n_items))  # no more components than the matrix allows
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
        item_factors = model.components_.T.astype(np.float32)
        params = {
            "n_components": k,
            "max_iter": self.max_iter,
            "iterations_run": int(model.n_iter_),
            # NaN when the residual rounds below zero (scikit-learn takes its square root): JSON has no NaN
            "reconstruction_err": float(model.reconstruction_err_) if np.isfinite(model.reconstruction_err_) else None,
            "fold_in_reg": self.fold_in_reg,
        }
        return FactorModel(self.name, item_factors, ridge_projection(item_factors, self.fold_in_reg), params)
