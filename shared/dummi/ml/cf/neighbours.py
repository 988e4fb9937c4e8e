"""Keeping the strongest neighbours of each item: how the item-item models stay sparse."""

from __future__ import annotations

from typing import Any

import numpy as np


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


def top_per_row(dense: np.ndarray, k: int, block: int = 512) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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
