"""``ease``: EASE (Steck, 2019), a closed-form item-item model, ``s = x B``; B is kept sparse (the strongest
neighbours of each item), so scoring costs |x| x neighbours. Its training inverts an items x items matrix, so
it is offered only up to ``EASE_MAX_ITEMS``."""

from __future__ import annotations

from typing import Any

import numpy as np

from dummi.ml.cf.models import ItemItemModel
from dummi.ml.cf.neighbours import top_per_row

EASE_MAX_ITEMS = 10_000


EASE_NEIGHBOURS = 2000  # per item; catalogs up to this size keep the full matrix


class EASEAlgorithm:
    """EASE on the binary matrix of positive interactions (weights made it worse on our holdout)."""

    name = "ease"

    def __init__(self, l2: float = 500.0, neighbours: int = EASE_NEIGHBOURS, binary: bool = True, **_: Any) -> None:
        self.l2 = l2
        self.neighbours = neighbours
        self.binary = binary

    def fit(self, matrix: Any) -> ItemItemModel:
        return self.fit_gram(gram_matrix(matrix, binary=self.binary))

    def fit_gram(self, gram: np.ndarray) -> ItemItemModel:
        """From X^T X (float32, items x items; not changed), so that several l2 share one product.

        Items nobody engaged with (a zero row and column in the Gram matrix) get all-zero weights in closed
        form, so the inverse is taken over the engaged items only: exact, and on a long-tail catalog where
        a third of the items have no events it is 3-4 times cheaper."""
        n_items = gram.shape[0]
        if n_items > EASE_MAX_ITEMS:
            raise ValueError(f"EASE needs an {n_items}^2 inverse; it is offered up to {EASE_MAX_ITEMS} items")
        active = np.flatnonzero(np.diag(gram) > 0)
        a = gram.copy() if len(active) == n_items else gram[np.ix_(active, active)]
        a[np.diag_indices(len(active))] += self.l2
        p = _spd_inverse(a) if len(active) else a
        p /= -np.diag(p)[None, :]
        p[np.diag_indices(len(active))] = 0.0
        indptr, indices, data = top_per_row(p, self.neighbours)
        k = int(indptr[1] - indptr[0]) if len(active) else 0
        if len(active) < n_items:  # back to catalog positions: rows of the items nobody engaged with are empty
            lengths = np.zeros(n_items, np.int64)
            lengths[active] = k
            indptr = np.concatenate([[0], np.cumsum(lengths)])
            indices = active[indices].astype(np.int32)
        return ItemItemModel(self.name, indptr, indices, data, {"l2": self.l2, "neighbours": k, "binary": self.binary})


def gram_matrix(matrix: Any, *, binary: bool) -> np.ndarray:
    """X^T X as a dense float32 array (counts are exact in float32 up to 2^24)."""
    x = matrix.copy()
    if binary:
        x.data = np.ones_like(x.data)
    return (x.T @ x).toarray().astype(np.float32)


def _spd_inverse(a: np.ndarray) -> np.ndarray:
    """The inverse of a symmetric positive definite float32 matrix by Cholesky (half the work of LU; float32
    halves it again: on ml-100k's EASE the weights differ from float64 LU by < 4e-7), in ``a``'s memory."""
    # SciPy: training only; the serving layer ships numpy and FAISS, not SciPy
    from scipy.linalg import lapack

    factor, info = lapack.spotrf(a, lower=False, overwrite_a=True, clean=False)
    if info != 0:
        raise np.linalg.LinAlgError(f"Cholesky factorization failed (info {info})")
    inverse, info = lapack.spotri(factor, lower=False, overwrite_c=True)
    if info != 0:
        raise np.linalg.LinAlgError(f"inverse from the Cholesky factor failed (info {info})")
    _mirror_upper(inverse)
    return inverse


def _mirror_upper(m: np.ndarray, block: int = 1024) -> None:
    """Copy the upper triangle onto the lower one, in place, a block of rows at a time (no n^2 temporaries)."""
    n = m.shape[0]
    for r0 in range(0, n, block):
        r1 = min(n, r0 + block)
        m[r0:r1, :r0] = m[:r0, r0:r1].T
        square = m[r0:r1, r0:r1]
        lower = np.tril_indices(r1 - r0, -1)
        square[lower] = square.T[lower]
