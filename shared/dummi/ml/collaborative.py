"""Collaborative filtering, pluggable. Every algorithm turns the user x item matrix into a model that
scores a user from its *current* interactions (a sparse row: item positions and weights), so events
recorded after training change the next answer without a retrain:

* ``nmf`` (the seed's): scikit-learn NMF; a user is folded in by least squares onto the item factors,
  ``w = max(0, x P)``, and scored ``s = w H^T``.
* ``ease``: EASE (Steck, 2019), a closed-form item-item model, ``s = x B``; B is kept sparse (the
  strongest neighbours of each item), so scoring costs |x| x neighbours. Its training inverts an
  items x items matrix, so it is offered only up to ``EASE_MAX_ITEMS``.

Serving needs numpy only (no scikit-learn, no SciPy): models are plain arrays. ``ALGORITHMS`` names them;
training picks one by measured quality on a time-based holdout and records it in the manifest.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

logger = logging.getLogger(__name__)

EASE_MAX_ITEMS = 10_000
EASE_NEIGHBOURS = 2000  # per item; catalogs up to this size keep the full matrix


class CFModel(Protocol):
    algorithm: str
    kind: str
    params: dict[str, Any]

    def scores(self, items: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """Scores over all items for a user whose row has ``weights`` at positions ``items``."""
        ...

    def arrays(self) -> dict[str, np.ndarray]: ...


@dataclass
class FactorModel:
    algorithm: str
    item_factors: np.ndarray  # (n_items, k)
    projection: np.ndarray  # (n_items, k): fold-in
    params: dict[str, Any] = field(default_factory=dict)
    kind: str = "factors"

    def scores(self, items: np.ndarray, weights: np.ndarray) -> np.ndarray:
        user = np.maximum(weights.astype(np.float32) @ self.projection[items], 0.0)
        return self.item_factors @ user

    def arrays(self) -> dict[str, np.ndarray]:
        return {"item_factors": self.item_factors, "projection": self.projection}


@dataclass
class ItemItemModel:
    algorithm: str
    indptr: np.ndarray  # CSR over source items: row i holds i's neighbours j and B[i, j]
    indices: np.ndarray
    data: np.ndarray
    params: dict[str, Any] = field(default_factory=dict)
    kind: str = "item_item"

    @property
    def n_items(self) -> int:
        return len(self.indptr) - 1

    def scores(self, items: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """sum over the user's items i of weight_i x row i, gathered in one pass (no Python loop)."""
        items = np.asarray(items, dtype=np.int64)
        starts = self.indptr[items]
        lengths = self.indptr[items + 1] - starts
        total = int(lengths.sum())
        if total == 0:
            return np.zeros(self.n_items, dtype=np.float32)
        # positions of every neighbour entry of every item, concatenated
        ends = np.cumsum(lengths)
        flat = np.arange(total) + np.repeat(starts - (ends - lengths), lengths)
        values = self.data[flat] * np.repeat(np.asarray(weights, np.float32), lengths)
        return np.bincount(self.indices[flat], weights=values, minlength=self.n_items).astype(np.float32)

    def arrays(self) -> dict[str, np.ndarray]:
        return {"indptr": self.indptr, "indices": self.indices, "data": self.data}


def standardize(x: np.ndarray) -> np.ndarray:
    """Zero mean, unit variance (all zeros when constant): puts differently scaled scores on one scale."""
    if len(x) == 0:
        return x
    std = float(x.std())
    return (x - float(x.mean())) / std if std > 1e-9 else np.zeros_like(x)


@dataclass
class BlendModel:
    """Two models' standardized scores, the second weighted: EASE and item-kNN err in different ways."""

    algorithm: str
    first: CFModel
    second: CFModel
    weight: float
    params: dict[str, Any] = field(default_factory=dict)
    kind: str = "blend"

    def scores(self, items: np.ndarray, weights: np.ndarray) -> np.ndarray:
        return standardize(self.first.scores(items, weights)) + self.weight * standardize(
            self.second.scores(items, weights)
        )

    def arrays(self) -> dict[str, np.ndarray]:
        out = {f"a_{k}": v for k, v in self.first.arrays().items()}
        out.update({f"b_{k}": v for k, v in self.second.arrays().items()})
        return out


def model_from_arrays(algorithm: str, kind: str, arrays: dict[str, np.ndarray], params: dict) -> CFModel:
    if kind == "factors":
        return FactorModel(algorithm, arrays["item_factors"], arrays["projection"], params)
    if kind == "item_item":
        return ItemItemModel(algorithm, arrays["indptr"], arrays["indices"], arrays["data"], params)
    if kind == "blend":
        parts = []
        for prefix, member in (("a_", params["first"]), ("b_", params["second"])):
            sub = {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}
            parts.append(model_from_arrays(member["algorithm"], member["kind"], sub, member["params"]))
        return BlendModel(algorithm, parts[0], parts[1], float(params["weight"]), params)
    raise ValueError(f"unknown CF model kind {kind!r}")


class CFAlgorithm(Protocol):
    name: str

    def fit(self, matrix: Any) -> CFModel: ...


def _ridge_projection(item_factors: np.ndarray, reg: float) -> np.ndarray:
    """Least-squares fold-in: w = x H^T (H H^T + reg I)^-1, with H = item_factors.T (k x n_items)."""
    k = item_factors.shape[1]
    gram = item_factors.T.astype(np.float64) @ item_factors + reg * np.eye(k)
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

    def fit(self, matrix: Any) -> FactorModel:
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
            "reconstruction_err": float(model.reconstruction_err_),
            "fold_in_reg": self.fold_in_reg,
        }
        return FactorModel(self.name, item_factors, _ridge_projection(item_factors, self.fold_in_reg), params)


class EASEAlgorithm:
    """EASE on the binary matrix of positive interactions (weights made it worse on our holdout)."""

    name = "ease"

    def __init__(self, l2: float = 500.0, neighbours: int = EASE_NEIGHBOURS, binary: bool = True, **_: Any) -> None:
        self.l2 = l2
        self.neighbours = neighbours
        self.binary = binary

    def fit(self, matrix: Any) -> ItemItemModel:
        n_items = matrix.shape[1]
        if n_items > EASE_MAX_ITEMS:
            raise ValueError(f"EASE needs an {n_items}^2 inverse; it is offered up to {EASE_MAX_ITEMS} items")
        x = matrix.copy()
        if self.binary:
            x.data = np.ones_like(x.data)
        gram = (x.T @ x).toarray().astype(np.float64)
        gram[np.diag_indices(n_items)] += self.l2
        p = np.linalg.inv(gram)
        b = -p / np.diag(p)
        b[np.diag_indices(n_items)] = 0.0
        k = min(self.neighbours, max(n_items - 1, 1))
        indptr = np.arange(0, n_items * k + 1, k, dtype=np.int64)
        # the k largest weights of each row (B[i, j]: how much having i says about j)
        top = (
            np.argpartition(-b, kth=k - 1, axis=1)[:, :k] if k < n_items else np.tile(np.arange(n_items), (n_items, 1))
        )
        data = np.take_along_axis(b, top, axis=1).astype(np.float32)
        return ItemItemModel(
            self.name,
            indptr,
            top.astype(np.int32).ravel(),
            data.ravel(),
            {"l2": self.l2, "neighbours": k, "binary": self.binary},
        )


@dataclass
class CooccurrenceModel:
    """Newcomers: P(like j | engaged with i), shrunk toward popularity, combined over the user's few items.

    With p_j the popularity share of j, C_ij the users who engaged positively with i and liked j, and n_i
    the users who engaged with i: score_j = sum over the user's items i of log((C_ij + a p_j) / (n_i + a)).
    The newcomer's items include what it skipped (what it chose to look at says something too). Up to terms
    that do not depend on j this is |I| log p_j + sum_i log(1 + C_ij / (a p_j)): popularity, lifted where
    the user's items were co-liked with j. Only the strongest co-likes of each item are kept (sparse), which
    drops only small lifts. ``a`` (prior strength) is chosen on the holdout's simulated newcomers.
    """

    indptr: np.ndarray
    indices: np.ndarray
    counts: np.ndarray
    prior_strength: float = 50.0
    algorithm: str = "cooccurrence"
    kind: str = "cooccurrence"

    def lift(self, items: np.ndarray, shares: np.ndarray, prior_strength: float | None = None) -> np.ndarray:
        """sum_i log(1 + C_ij / (a p_j)) over the user's items; ``shares``: popularity share of every item
        (sums to 1, strictly positive). The full score is ``len(items) * log(shares) + lift``."""
        a = self.prior_strength if prior_strength is None else prior_strength
        out = np.zeros(len(shares))
        for i in items:
            lo, hi = self.indptr[i], self.indptr[i + 1]
            j = self.indices[lo:hi]
            out[j] += np.log1p(self.counts[lo:hi] / (a * shares[j]))
        return out

    def arrays(self) -> dict[str, np.ndarray]:
        return {"indptr": self.indptr, "indices": self.indices, "counts": self.counts}


def fit_cooccurrence(engaged: Any, liked: Any, *, keep: int = 200, prior_strength: float = 50.0) -> CooccurrenceModel:
    """``engaged``: binary users x items (any interaction); ``liked``: binary users x items (likes)."""
    co = (engaged.T @ liked).tocsr()  # items x items: engaged with i and liked j
    co.setdiag(0)
    co.eliminate_zeros()
    return CooccurrenceModel(*top_per_sparse_row(co.tocsr(), keep), prior_strength)


def top_per_sparse_row(matrix: Any, keep: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CSR arrays (indptr int64, indices int32, data float32) keeping the ``keep`` largest entries of each
    row of a scipy CSR matrix."""
    indptr, indices, data = [0], [], []
    for i in range(matrix.shape[0]):
        lo, hi = matrix.indptr[i], matrix.indptr[i + 1]
        cols, vals = matrix.indices[lo:hi], matrix.data[lo:hi]
        if len(vals) > keep:
            top = np.argpartition(-vals, keep - 1)[:keep]
            cols, vals = cols[top], vals[top]
        indices.append(cols)
        data.append(vals)
        indptr.append(indptr[-1] + len(cols))
    return (
        np.asarray(indptr, np.int64),
        np.concatenate(indices).astype(np.int32) if indices else np.zeros(0, np.int32),
        np.concatenate(data).astype(np.float32) if data else np.zeros(0, np.float32),
    )


def _top_per_row(dense: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CSR arrays keeping the k largest entries of each row of a dense square matrix."""
    n = dense.shape[0]
    k = min(k, max(n - 1, 1))
    top = np.argpartition(-dense, kth=k - 1, axis=1)[:, :k] if k < n else np.tile(np.arange(n), (n, 1))
    data = np.take_along_axis(dense, top, axis=1).astype(np.float32)
    indptr = np.arange(0, n * top.shape[1] + 1, top.shape[1], dtype=np.int64)
    return indptr, top.astype(np.int32).ravel(), data.ravel()


class ItemKNNAlgorithm:
    """Item-kNN: cosine similarity of items over the weighted matrix, strongest neighbours kept."""

    name = "itemknn"

    def __init__(self, neighbours: int = EASE_NEIGHBOURS, **_: Any) -> None:
        self.neighbours = neighbours

    def fit(self, matrix: Any) -> ItemItemModel:
        n_items = matrix.shape[1]
        if n_items > EASE_MAX_ITEMS:
            raise ValueError(f"item-kNN keeps a dense {n_items}^2 similarity; offered up to {EASE_MAX_ITEMS} items")
        norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=0)).ravel()) + 1e-9
        sim = (matrix.T @ matrix).toarray().astype(np.float64) / np.outer(norms, norms)
        np.fill_diagonal(sim, 0.0)
        indptr, indices, data = _top_per_row(sim, self.neighbours)
        return ItemItemModel(self.name, indptr, indices, data, {"neighbours": int(indptr[1] - indptr[0])})


class EASEKNNAlgorithm:
    """EASE blended with item-kNN (standardized scores, item-kNN weighted)."""

    name = "ease+itemknn"

    def __init__(self, l2: float = 250.0, weight: float = 1.0, **_: Any) -> None:
        self.l2 = l2
        self.weight = weight

    def fit(self, matrix: Any) -> BlendModel:
        first = EASEAlgorithm(l2=self.l2).fit(matrix)
        second = ItemKNNAlgorithm().fit(matrix)
        params = {
            "weight": self.weight,
            "first": {"algorithm": first.algorithm, "kind": first.kind, "params": first.params},
            "second": {"algorithm": second.algorithm, "kind": second.kind, "params": second.params},
        }
        return BlendModel(self.name, first, second, self.weight, params)


ALGORITHMS: dict[str, type] = {
    "nmf": NMFAlgorithm,
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
