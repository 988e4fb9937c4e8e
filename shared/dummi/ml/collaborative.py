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
            # NaN when the residual rounds below zero (scikit-learn takes its square root): JSON has no NaN
            "reconstruction_err": float(model.reconstruction_err_) if np.isfinite(model.reconstruction_err_) else None,
            "fold_in_reg": self.fold_in_reg,
        }
        return FactorModel(self.name, item_factors, _ridge_projection(item_factors, self.fold_in_reg), params)


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
        return FactorModel(self.name, items, _ridge_projection(items, fold_in_reg), params)

    def _half_step(self, rows: Any, other: np.ndarray, current: np.ndarray) -> np.ndarray:
        """New factors for every row of ``rows`` (a CSR matrix of weights) given the other side's factors."""
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
        indptr, indices, data = _top_per_row(p, self.neighbours)
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

    def lift_batch(self, engaged: Any, shares: np.ndarray, prior_strength: float | None = None) -> np.ndarray:
        """``lift`` for every row of ``engaged`` (a users x items binary scipy CSR: each user's items) at
        once, as one sparse product (training's trials)."""
        from scipy import sparse

        a = self.prior_strength if prior_strength is None else prior_strength
        n = len(shares)
        logs = np.log1p(self.counts / (a * shares[self.indices]))
        table = sparse.csr_matrix((logs, self.indices, self.indptr), shape=(n, n))
        return np.asarray((engaged.astype(np.float64) @ table).todense())

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


def _top_per_row(dense: np.ndarray, k: int, block: int = 512) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CSR arrays keeping the k largest entries of each row of a dense square matrix; when k leaves out at
    most one entry a row, every row is kept whole and in order (the model then scores with one product).
    Rows are partitioned a block at a time (cache-sized; 5x faster than one call at 10K items)."""
    n = dense.shape[0]
    if k >= n - 1:
        indices = np.tile(np.arange(n, dtype=np.int32), n)
        data = dense.astype(np.float32).ravel()
        width = n
    else:
        indices = np.empty((n, k), np.int32)
        data = np.empty((n, k), np.float32)
        for r0 in range(0, n, block):
            rows = dense[r0 : r0 + block]
            top = np.argpartition(rows, n - k, axis=1)[:, n - k :]
            indices[r0 : r0 + block] = top
            data[r0 : r0 + block] = np.take_along_axis(rows, top, axis=1)
        indices, data, width = indices.ravel(), data.ravel(), k
    indptr = np.arange(0, n * width + 1, max(width, 1), dtype=np.int64)[: n + 1]
    return indptr, indices, data


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
        indptr, indices, data = _top_per_row(sim, self.neighbours)
        return ItemItemModel(self.name, indptr, indices, data, {"neighbours": int(indptr[1] - indptr[0])})


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
