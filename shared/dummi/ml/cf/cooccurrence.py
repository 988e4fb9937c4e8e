"""The newcomers' co-likes: P(like j | engaged with i), shrunk toward popularity."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from dummi.ml.cf.neighbours import top_per_sparse_row


@dataclass
class CooccurrenceModel:
    """Newcomers: P(like j | engaged with i), shrunk toward popularity, combined over the user's few items.

    With p_j the popularity share of j, C_ij the users who engaged positively with i and liked j, and n_i
    the users who engaged with i: score_j = sum over the user's items i of log((C_ij + a p_j) / (n_i + a)).
    The newcomer's items are those it engaged with positively, as the counts' i are: a skip says nothing of
    what the users who liked i liked next (a skipped item is held down by the skip instead). Up to terms
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
        # SciPy: training only; the serving layer ships numpy and FAISS, not SciPy
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
