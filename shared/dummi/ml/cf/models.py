"""What serving scores with: the CF models a training run publishes, as plain numpy arrays (no scikit-learn,
no SciPy at serving). Every model scores a user from its *current* interactions (a sparse row: item
positions and weights), so events recorded after training change the next answer without a retrain."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np


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

    def scores_batch(self, profiles: Any) -> np.ndarray:
        """``scores`` for every row of ``profiles`` (a users x items scipy CSR of weights) at once: what the
        holdout's trials ask (training only; serving asks one user at a time)."""
        users = np.maximum((profiles @ self.projection).astype(np.float32), 0.0)
        return (users @ self.item_factors.T).astype(np.float64)

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

    _dense: np.ndarray | None = field(init=False, repr=False, default=None)
    _sparse: Any = field(init=False, repr=False, default=None)

    def __post_init__(self) -> None:
        # Every row holding every item in order (small catalogs): score with one matrix product.
        n = self.n_items
        if n and len(self.indices) == n * n and np.array_equal(self.indices.reshape(n, n)[:, 0], np.zeros(n)):
            if (self.indices.reshape(n, n) == np.arange(n, dtype=self.indices.dtype)).all():
                self._dense = self.data.reshape(n, n)

    @property
    def n_items(self) -> int:
        return len(self.indptr) - 1

    def scores(self, items: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """sum over the user's items i of weight_i x row i, gathered in one pass (no Python loop)."""
        items = np.asarray(items, dtype=np.int64)
        if self._dense is not None:
            return (np.asarray(weights, np.float32) @ self._dense[items]).astype(np.float32, copy=False)
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

    def scores_batch(self, profiles: Any) -> np.ndarray:
        """``scores`` for every row of ``profiles`` (a users x items scipy CSR of weights), as one sparse
        product (training's trials; serving asks one user at a time)."""
        return np.asarray((profiles.astype(np.float64) @ self.as_sparse()).todense())

    def as_sparse(self) -> Any:
        """The weights as a float64 scipy CSR matrix (made once; training only)."""
        if self._sparse is None:
            # SciPy: training only; the serving layer ships numpy and FAISS, not SciPy
            from scipy import sparse

            n = self.n_items
            self._sparse = sparse.csr_matrix((self.data.astype(np.float64), self.indices, self.indptr), shape=(n, n))
        return self._sparse

    def arrays(self) -> dict[str, np.ndarray]:
        return {"indptr": self.indptr, "indices": self.indices, "data": self.data}


def standardize(x: np.ndarray) -> np.ndarray:
    """Zero mean, unit variance (all zeros when constant): puts differently scaled scores on one scale."""
    if len(x) == 0:
        return x
    centred = x - x.mean()
    std = float(np.sqrt(np.dot(centred, centred) / len(x)))  # one product: a third of ndarray.std's time
    return centred / std if std > 1e-9 else np.zeros_like(x)


def standardize_rows(x: np.ndarray) -> np.ndarray:
    """``standardize`` of each row of a 2-d array (training's trials score many users at once)."""
    centred = x - x.mean(axis=1, keepdims=True)
    std = np.sqrt(np.einsum("ij,ij->i", centred, centred) / max(x.shape[1], 1))
    safe = np.where(std > 1e-9, std, 1.0)
    return np.where((std > 1e-9)[:, None], centred / safe[:, None], 0.0)


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

    def scores_batch(self, profiles: Any) -> np.ndarray:
        return standardize_rows(self.first.scores_batch(profiles)) + self.weight * standardize_rows(
            self.second.scores_batch(profiles)
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
