"""``als``: implicit-feedback ALS, in numpy (the in-process twin of the Spark engine's MLlib ALS)."""

from __future__ import annotations

from typing import Any

import numpy as np

from dummi.ml.cf.models import FactorModel
from dummi.ml.cf.nmf import ridge_projection


class ALSAlgorithm:
    """Implicit-feedback ALS (Hu, Koren & Volinsky, 2008) as Spark MLlib fits it, in numpy: preference 1 on
    every positive cell with confidence 1 + alpha x weight, regularization ``reg`` times the row's count of
    positive cells (ALS-WR, as MLlib scales it), non-negative factors. Each half-step solves every user's
    (item's) normal equations at once with a few conjugate-gradient steps warm-started from the last
    factors (Takacs et al., 2011), so an iteration costs a few passes over the stored values and one k x k
    product per row: it scales to the matrices where the item-item models stop. Non-negativity is kept by
    clipping after each half-step (MLlib solves a non-negative least squares problem instead).

    It is the in-process twin of the Spark engine's MLlib ALS (``dummi.training.spark.als``): the same
    objective and settings, so a choice made in process on a sample carries over to Spark."""

    name = "als"

    def __init__(
        self,
        n_components: int = 50,
        alpha: float = 1.0,
        reg: float = 0.1,
        iterations: int = 15,
        cg_steps: int = 3,
        seed: int = 0,
        **_: Any,
    ) -> None:
        self.n_components = n_components
        self.alpha = alpha
        self.reg = reg
        self.iterations = iterations
        self.cg_steps = cg_steps
        self.seed = seed

    def fit(self, matrix: Any) -> FactorModel:
        # SciPy: training only; the serving layer ships numpy and FAISS, not SciPy
        from scipy import sparse

        m = sparse.csr_matrix(matrix, dtype=np.float32)
        m.eliminate_zeros()
        n_users, n_items = m.shape
        k = max(1, min(self.n_components, n_users, n_items))
        rng = np.random.default_rng(self.seed)
        users = np.abs(rng.standard_normal((n_users, k))).astype(np.float32) / np.sqrt(k)
        items = np.abs(rng.standard_normal((n_items, k))).astype(np.float32) / np.sqrt(k)
        by_user = m
        by_item = m.T.tocsr()
        for _ in range(self.iterations):
            users = self._half_step(by_user, items, users)
            items = self._half_step(by_item, users, items)
        counts = np.diff(by_user.indptr)
        fold_in_reg = self.reg * float(counts[counts > 0].mean()) if counts.any() else self.reg
        params = {
            "n_components": k,
            "alpha": self.alpha,
            "reg": self.reg,
            "iterations": self.iterations,
            "fold_in_reg": round(fold_in_reg, 6),
        }
        return FactorModel(self.name, items, ridge_projection(items, fold_in_reg), params)

    def _half_step(self, rows: Any, other: np.ndarray, current: np.ndarray) -> np.ndarray:
        """New factors for every row of ``rows`` (a CSR matrix of weights) given the other side's factors."""
        # SciPy: training only; the serving layer ships numpy and FAISS, not SciPy
        from scipy import sparse

        r, c = np.repeat(np.arange(rows.shape[0]), np.diff(rows.indptr)), rows.indices
        extra = (self.alpha * rows.data).astype(np.float32)  # confidence - 1 on the stored cells
        confidence = sparse.csr_matrix((1.0 + extra, rows.indices, rows.indptr), shape=rows.shape)
        reg = (self.reg * np.diff(rows.indptr)).astype(np.float32)[:, None]
        gram = other.T @ other

        def apply(x: np.ndarray) -> np.ndarray:  # A x for every row at once
            dots = np.einsum("ij,ij->i", x[r], other[c])
            weighted = sparse.csr_matrix((extra * dots, rows.indices, rows.indptr), shape=rows.shape)
            return x @ gram + weighted @ other + reg * x

        x = current.copy()
        residual = confidence @ other - apply(x)
        direction = residual.copy()
        rr = np.einsum("ij,ij->i", residual, residual)
        for _ in range(self.cg_steps):
            ad = apply(direction)
            step = rr / np.maximum(np.einsum("ij,ij->i", direction, ad), 1e-20)
            x += step[:, None] * direction
            residual -= step[:, None] * ad
            rr_new = np.einsum("ij,ij->i", residual, residual)
            direction = residual + (rr_new / np.maximum(rr, 1e-20))[:, None] * direction
            rr = rr_new
        np.maximum(x, 0.0, out=x)
        x[np.diff(rows.indptr) == 0] = 0.0  # rows with no values: no factors
        return x.astype(np.float32)
